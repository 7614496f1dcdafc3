//! The read stage: the export's reader thread takes the rows from `prepare` (whose own threads
//! parse, map and validate them), checks their keys in file order while the pass diffs them, and
//! hands them over in batches. A panic on any of `prepare`'s threads is raised again on this
//! one, so it is this thread's breakage.
//!
//! A thread that dies closes its channel just as one that finished does, so the end of the
//! export is said explicitly, with an end marker: rows that stop without it are a breakage
//! (the thread panicked), never the end of the file. Taking a reader's death for the end of the
//! export would make every user after it a leaver.

use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;

use super::breakdown::panic_message;
use crate::input::InputError;
use crate::prepare::PreparedRow;

/// Rows read ahead by the reader thread, handed over together.
const READ_BATCH: usize = 256;
/// Batches the reader thread may be ahead by.
const READ_AHEAD: usize = 8;

/// What the reader thread hands over.
enum Chunk {
    Rows(Vec<Result<PreparedRow, InputError>>),
    /// The rows are over: the export's end, or after its first fatal error.
    End,
}

/// Why the rows stopped before the export's end.
#[derive(Debug)]
pub(super) enum ReadFault {
    /// The export could not be read further (see [`crate::prepare::Rows`]).
    Input(InputError),
    /// The reader thread broke (it panicked, or could not be started): says what broke.
    Broken(String),
}

/// The rows of an export, read on a thread of their own; ends with an `Err` if they stopped
/// before the export's end. Dropping it stops the thread at its next batch.
pub(super) struct ReadAhead {
    rx: Receiver<Chunk>,
    thread: Thread,
    batch: std::vec::IntoIter<Result<PreparedRow, InputError>>,
    /// Set once the end marker came, or the fault was said.
    over: bool,
}

/// What became of the reader thread.
enum Thread {
    Running(JoinHandle<()>),
    /// It could not be started, and why.
    NotStarted(String),
    /// Joined: its fault was said.
    Gone,
}

/// Takes `rows` on a thread of their own (the export's half of the work).
pub(super) fn read_ahead<I>(rows: I, input: &Path) -> ReadAhead
where
    I: Iterator<Item = Result<PreparedRow, InputError>> + Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(READ_AHEAD);
    let reader = move || {
        let mut batch = Vec::with_capacity(READ_BATCH);
        for row in rows {
            let fatal = row.is_err();
            batch.push(row);
            if batch.len() == READ_BATCH || fatal {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(READ_BATCH));
                if tx.send(Chunk::Rows(full)).is_err() {
                    return;
                }
                if fatal {
                    break;
                }
            }
        }
        if !batch.is_empty() && tx.send(Chunk::Rows(batch)).is_err() {
            return;
        }
        let _ = tx.send(Chunk::End);
    };
    let thread = match std::thread::Builder::new()
        .name("usersync-reader".into())
        .spawn(reader)
    {
        Ok(thread) => Thread::Running(thread),
        // The closure, and with it the sender, is gone: the rows end at once, as a breakage.
        Err(e) => Thread::NotStarted(format!(
            "the reader thread of {} could not be started: {e}",
            input.display()
        )),
    };
    ReadAhead {
        rx,
        thread,
        batch: Vec::new().into_iter(),
        over: false,
    }
}

impl ReadAhead {
    /// Why the rows stopped without their end marker: what became of the thread.
    fn fault(&mut self) -> String {
        match std::mem::replace(&mut self.thread, Thread::Gone) {
            Thread::Running(thread) => match thread.join() {
                Err(panic) => format!(
                    "the export reader thread panicked: {}",
                    panic_message(panic.as_ref())
                ),
                Ok(()) => "the export reader thread stopped before the end of the export".into(),
            },
            Thread::NotStarted(why) => why,
            Thread::Gone => "the export reader thread is gone".into(),
        }
    }
}

impl Iterator for ReadAhead {
    type Item = Result<PreparedRow, ReadFault>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(row) = self.batch.next() {
                return Some(row.map_err(ReadFault::Input));
            }
            if self.over {
                return None;
            }
            match self.rx.recv() {
                Ok(Chunk::Rows(batch)) => self.batch = batch.into_iter(),
                Ok(Chunk::End) => self.over = true,
                Err(_) => {
                    self.over = true;
                    return Some(Err(ReadFault::Broken(self.fault())));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(line: u64) -> Result<PreparedRow, InputError> {
        Ok(PreparedRow::new(
            line,
            Some(format!("u{line}")),
            Err(Vec::new()),
        ))
    }

    /// The lines read, and how the rows ended (`None`: at the export's end).
    fn read(
        rows: impl Iterator<Item = Result<PreparedRow, InputError>> + Send + 'static,
    ) -> (Vec<u64>, Option<String>) {
        let mut lines = Vec::new();
        for row in read_ahead(rows, Path::new("in.csv")) {
            match row {
                Ok(row) => lines.push(row.line),
                Err(ReadFault::Broken(why)) => return (lines, Some(why)),
                Err(ReadFault::Input(e)) => return (lines, Some(format!("input: {e}"))),
            }
        }
        (lines, None)
    }

    #[test]
    fn every_row_comes_out_then_the_end() {
        let (lines, end) = read((1..=600).map(row));
        assert_eq!(lines, (1..=600).collect::<Vec<_>>());
        assert_eq!(end, None);
    }

    #[test]
    fn a_reader_that_panics_is_not_the_end_of_the_export() {
        let rows = (1..=600).map(|line| {
            if line == 580 {
                panic!("boom on {line}");
            }
            row(line)
        });
        let (lines, end) = read(rows);
        // The rows of the batch the thread held when it died never come out.
        assert_eq!(lines, (1..=512).collect::<Vec<_>>());
        assert_eq!(
            end.as_deref(),
            Some("the export reader thread panicked: boom on 580")
        );
    }

    #[test]
    fn a_fatal_input_error_ends_the_rows() {
        let rows = (1..=5).map(|line| {
            if line == 3 {
                Err(InputError::Read {
                    path: "in.csv".into(),
                    line,
                    source: std::io::Error::other("gone"),
                })
            } else {
                row(line)
            }
        });
        let (lines, end) = read(rows);
        assert_eq!(lines, [1, 2]);
        assert!(end.unwrap().starts_with("input: "));
    }
}
