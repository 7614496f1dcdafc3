//! The threads behind [`super::Rows`]: one thread parses the export into batches of owned
//! records, a few workers prepare the rows of whole batches at once ([`super::work`]), and the
//! thread iterating the rows takes the batches back in file order, by their sequence numbers.
//!
//! Memory stays flat: a fixed pool of batches circulates (the parser waits for a free one), each
//! cut at [`BATCH_ROWS`] rows or [`BATCH_BYTES`] of text, and their records are refilled rather
//! than allocated again. A batch holding a huge row goes out alone, once every other batch is
//! back, so that a file of huge rows is held one at a time, as a single thread would.
//!
//! A panic on any thread fails closed: it is caught with the row it happened on, the rows before
//! it come out, and the panic is raised again on the iterating thread with its own message, as
//! if that thread had read the row itself. The end of the export is always said explicitly,
//! never taken from a closed channel.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};

use super::work::Worker;
use super::PreparedRow;
use crate::input::{InputError, InputReader, Record};

/// Rows per batch: enough that handing a batch over costs nothing per row.
pub(super) const BATCH_ROWS: usize = 1024;
/// A batch is cut once its rows hold this much text.
const BATCH_BYTES: usize = 1 << 20;
/// A batch past this much text holds a huge row: it goes out alone (see the module).
const HUGE_BATCH_BYTES: usize = 4 << 20;

/// What a thread's panic carries.
pub(super) type Panic = Box<dyn Any + Send + 'static>;

/// How the parser's part of a batch ended.
pub(super) enum End {
    /// More batches follow.
    More,
    /// The export's end.
    Eof,
    /// The file could not be read further (after this batch's rows).
    Fatal(InputError),
    /// The parser panicked reading the row after this batch's rows.
    Panic(Panic),
}

/// Rows of the export in flight between the threads.
pub(super) struct Batch {
    /// Its place in the file: batches are handed back in this order.
    pub(super) seq: u64,
    /// The records read; only the first `len` are this batch's rows (the rest are kept to be
    /// refilled).
    pub(super) records: Vec<Record>,
    pub(super) len: usize,
    /// About how much text its rows hold.
    bytes: usize,
    /// Bytes of the file read once its last row was.
    pub(super) bytes_read: u64,
    /// The prepared rows, one per record, until a worker's panic (then in `panic`).
    pub(super) rows: Vec<PreparedRow>,
    pub(super) panic: Option<Panic>,
    pub(super) end: End,
}

impl Batch {
    /// An empty batch.
    pub(super) fn new() -> Batch {
        Batch {
            seq: 0,
            records: Vec::new(),
            len: 0,
            bytes: 0,
            bytes_read: 0,
            rows: Vec::new(),
            panic: None,
            end: End::More,
        }
    }

    /// Readies a batch that came back for new rows, keeping its records to refill unless they
    /// held a lot of text.
    pub(super) fn clear(&mut self) {
        if self.bytes > BATCH_BYTES {
            self.records = Vec::new();
        } else {
            self.records.truncate(self.len);
        }
        self.len = 0;
        self.bytes = 0;
        self.rows.clear();
        self.panic = None;
        self.end = End::More;
    }

    /// Reads rows into the batch until it is full or the rows end.
    pub(super) fn fill(&mut self, reader: &mut InputReader) {
        let mut read = reader.bytes_read();
        while self.len < BATCH_ROWS && self.bytes < BATCH_BYTES {
            if self.len == self.records.len() {
                self.records.push(Record::empty());
            }
            let record = &mut self.records[self.len];
            match panic::catch_unwind(AssertUnwindSafe(|| reader.read_into(record))) {
                Ok(Ok(true)) => {
                    let now = reader.bytes_read();
                    let bytes = (now.saturating_sub(read) as usize).max(record.text_bytes());
                    read = now;
                    self.bytes += bytes;
                    self.len += 1;
                }
                Ok(Ok(false)) => {
                    self.end = End::Eof;
                    break;
                }
                Ok(Err(e)) => {
                    self.end = End::Fatal(e);
                    break;
                }
                Err(panic) => {
                    self.end = End::Panic(panic);
                    break;
                }
            }
        }
        self.bytes_read = read;
    }

    /// Prepares every row of the batch; stops at a panic, keeping it.
    pub(super) fn work(&mut self, worker: &mut Worker) {
        self.panic = worker.prepare(&self.records[..self.len], &mut self.rows);
    }

    fn is_last(&self) -> bool {
        !matches!(self.end, End::More)
    }
}

/// The iterating thread's end of the threads: batches in file order, and the pool they go
/// back to. Dropping it stops the threads at their next batch.
pub(super) struct Pipeline {
    done: Receiver<Batch>,
    free: Sender<Batch>,
    /// Batches that came back before an earlier one.
    early: Vec<Batch>,
    next: u64,
    stop: Arc<AtomicBool>,
}

/// Starts a parser thread reading `reader`, and `workers` threads preparing its rows. Gives the
/// reader back if no worker or no parser could be started: the caller then does both itself.
pub(super) fn start(
    reader: InputReader,
    workers: Vec<Worker>,
) -> Result<Pipeline, Box<InputReader>> {
    let pool = 2 * workers.len() + 2;
    let (free_tx, free_rx) = mpsc::channel();
    for _ in 0..pool {
        let _ = free_tx.send(Batch::new());
    }
    let (work_tx, work_rx) = mpsc::channel::<Batch>();
    let (done_tx, done_rx) = mpsc::channel();
    let work_rx = Arc::new(Mutex::new(work_rx));
    let mut started = 0;
    for (n, mut worker) in workers.into_iter().enumerate() {
        let (work_rx, done_tx) = (Arc::clone(&work_rx), done_tx.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("usersync-rows-{}", n + 1))
            .spawn(move || prepare_batches(&mut worker, &work_rx, &done_tx));
        match spawned {
            Ok(_) => started += 1,
            Err(e) => tracing::debug!(error = %e, "a row worker could not be started"),
        }
    }
    if started == 0 {
        return Err(Box::new(reader));
    }
    let stop = Arc::new(AtomicBool::new(false));
    // Handed over through a slot, so that it comes back if the thread cannot be started.
    let slot = Arc::new(Mutex::new(Some(reader)));
    let parser = {
        let (slot, stop) = (Arc::clone(&slot), Arc::clone(&stop));
        move || {
            let reader = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(mut reader) = reader {
                parse_batches(&mut reader, pool, &free_rx, &work_tx, &stop);
            }
        }
    };
    let spawned = std::thread::Builder::new()
        .name("usersync-parse".into())
        .spawn(parser);
    if let Err(e) = spawned {
        tracing::debug!(error = %e, "the export's parser thread could not be started");
        let reader = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        // Not started, so the closure gave up the reader without taking it.
        return Err(Box::new(
            reader.expect("a parser thread that never ran left the reader"),
        ));
    }
    Ok(Pipeline {
        done: done_rx,
        free: free_tx,
        early: Vec::new(),
        next: 0,
        stop,
    })
}

/// The parser thread: fills free batches with rows and hands them to the workers, until the
/// rows end or nobody waits for them. `pool` batches circulate.
fn parse_batches(
    reader: &mut InputReader,
    pool: usize,
    free: &Receiver<Batch>,
    work: &Sender<Batch>,
    stop: &AtomicBool,
) {
    // Free batches taken back while waiting for all of them (see below).
    let mut spare: Vec<Batch> = Vec::new();
    for seq in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let mut batch = match spare.pop() {
            Some(batch) => batch,
            None => match free.recv() {
                Ok(batch) => batch,
                Err(_) => return,
            },
        };
        batch.seq = seq;
        batch.fill(reader);
        if batch.bytes > HUGE_BATCH_BYTES {
            // Alone in flight: wait until every other batch is back.
            while spare.len() + 1 < pool {
                match free.recv() {
                    Ok(back) => spare.push(back),
                    Err(_) => return,
                }
            }
        }
        let last = batch.is_last();
        if work.send(batch).is_err() || last {
            return;
        }
    }
}

/// A worker thread: prepares batches until the parser is done.
fn prepare_batches(worker: &mut Worker, work: &Mutex<Receiver<Batch>>, done: &Sender<Batch>) {
    loop {
        let batch = work.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(mut batch) = batch else { return };
        batch.work(worker);
        if done.send(batch).is_err() {
            return;
        }
    }
}

impl Pipeline {
    /// The next batch in file order, its rows prepared. Panics if the threads stopped without
    /// saying why (they catch every panic of their own, so this is a thread gone some other way).
    pub(super) fn next_batch(&mut self) -> Batch {
        loop {
            if let Some(i) = self.early.iter().position(|b| b.seq == self.next) {
                self.next += 1;
                return self.early.swap_remove(i);
            }
            match self.done.recv() {
                Ok(batch) => self.early.push(batch),
                Err(_) => panic!("the threads preparing the export's rows stopped unexpectedly"),
            }
        }
    }

    /// Gives a batch whose rows are all out back to the pool.
    pub(super) fn recycle(&mut self, mut batch: Batch) {
        batch.clear();
        let _ = self.free.send(batch);
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
