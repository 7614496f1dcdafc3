//! Spreadsheets (`.xlsx`, `.xlsm`, `.xls`, `.ods`) through calamine, turned into the same records
//! a CSV gives: the header's names, then every row as text fields in header order, on the line
//! that is the sheet's own row number (the header is usually row 1, as a CSV's line 1).
//!
//! `.xlsx` is streamed cell by cell; `.xls` and `.ods` have no streaming reader in calamine and
//! load the sheet as a range (bounded by [`super::workbook_limits`]). calamine's cell reader
//! borrows the workbook it reads, so the reading runs on a thread of its own that owns both and
//! hands rows over a small bounded channel: memory stays that of a few rows, and dropping the
//! reader stops the thread at its next row.
//!
//! The header is the first row with a value; its columns run from its first to its last named
//! cell. Rows with no value are skipped (blank lines are in a CSV), so trailing empty rows are no
//! rows. A row is still returned with a [`RowProblem`] when a cell holds an error (`#N/A`:
//! `cell_error`, naming the column), when it has a value outside the header's columns
//! (`wrong_field_count`), or when its text passes [`MAX_LINE_BYTES`] (`row_too_long`).

use std::borrow::Cow;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use calamine::{CellErrorType, Data, Ods, Reader, SheetType, Xls, Xlsx};
use csv::StringRecord;

use super::cell_text::data_text;
use super::workbook_limits::{self, MAX_SHEETS};
use super::{
    check_header, Format, InputError, Record, RowProblem, Values, MAX_LINE_BYTES, MAX_LINE_MB,
};

/// Rows read ahead of the consumer.
const ROWS_AHEAD: usize = 64;

/// What the reading thread sends.
enum Message {
    Header(Vec<String>),
    Row {
        line: u64,
        fields: StringRecord,
        problem: Option<RowProblem>,
    },
    /// The sheet was read to its end.
    End,
    Fatal(InputError),
}

pub(super) struct SheetSource {
    path: PathBuf,
    rows: Receiver<Message>,
    done: bool,
}

impl SheetSource {
    /// Opens the workbook, chooses the sheet (`sheet`: a name or a 1-based position; the first
    /// worksheet when `None`) and reads its header.
    pub(super) fn open(
        path: &Path,
        format: Format,
        sheet: Option<&str>,
    ) -> Result<(SheetSource, Vec<String>), InputError> {
        let (tx, rx) = sync_channel(ROWS_AHEAD);
        let (owned_path, sheet) = (path.to_owned(), sheet.map(str::to_owned));
        std::thread::Builder::new()
            .name("usersync-sheet".to_owned())
            .spawn(move || {
                let end = match produce(&owned_path, format, sheet.as_deref(), &tx) {
                    Ok(()) => Message::End,
                    Err(Stop::Fatal(e)) => Message::Fatal(e),
                    Err(Stop::Dropped) => return,
                };
                let _ = tx.send(end);
            })
            .map_err(|source| InputError::Open {
                path: path.to_owned(),
                source,
            })?;
        let mut source = SheetSource {
            path: path.to_owned(),
            rows: rx,
            done: false,
        };
        match source.rows.recv() {
            Ok(Message::Header(names)) => Ok((source, names)),
            Ok(Message::Fatal(e)) => Err(e),
            Ok(Message::End) => Err(empty_sheet(path)),
            Ok(Message::Row { .. }) | Err(_) => {
                source.done = true;
                Err(source.stopped())
            }
        }
    }

    /// Reads the next row into `record`; false at the end of the sheet.
    pub(super) fn read_into(&mut self, record: &mut Record) -> Result<bool, InputError> {
        if self.done {
            return Ok(false);
        }
        match self.rows.recv() {
            Ok(Message::Row {
                line,
                fields,
                problem,
            }) => {
                record.line = line;
                record.values = Values::Csv(fields);
                record.problem = problem;
                Ok(true)
            }
            Ok(Message::End) => {
                self.done = true;
                Ok(false)
            }
            Ok(Message::Fatal(e)) => {
                self.done = true;
                Err(e)
            }
            // The thread ended without saying why (it panicked): never take that for the end
            // of the sheet, which a sync would read as every later user gone.
            Ok(Message::Header(_)) | Err(_) => {
                self.done = true;
                Err(self.stopped())
            }
        }
    }

    fn stopped(&self) -> InputError {
        InputError::Workbook {
            path: self.path.clone(),
            message: "the spreadsheet reader stopped unexpectedly".to_owned(),
        }
    }
}

/// Why the reading thread stops early.
enum Stop {
    Fatal(InputError),
    /// The reader was dropped: nobody wants the rest.
    Dropped,
}

impl From<InputError> for Stop {
    fn from(e: InputError) -> Stop {
        Stop::Fatal(e)
    }
}

/// Reads the sheet and sends its header and rows.
fn produce(
    path: &Path,
    format: Format,
    sheet: Option<&str>,
    tx: &SyncSender<Message>,
) -> Result<(), Stop> {
    let fail = |message: String| {
        Stop::Fatal(InputError::Workbook {
            path: path.to_owned(),
            message,
        })
    };
    let open = || {
        File::open(path).map(BufReader::new).map_err(|source| {
            Stop::Fatal(InputError::Open {
                path: path.to_owned(),
                source,
            })
        })
    };
    let mut rows = Rows::new(path, tx);
    match format {
        Format::Xlsx => {
            workbook_limits::check_xlsx(path)?;
            let mut book = Xlsx::new(open()?).map_err(|e| fail(e.to_string()))?;
            let name = choose_sheet(path, &book, sheet)?;
            let mut cells = book
                .worksheet_cells_reader(&name)
                .map_err(|e| fail(format!("sheet `{name}`: {e}")))?;
            while let Some(cell) = cells
                .next_cell()
                .map_err(|e| fail(format!("sheet `{name}`: {e}")))?
            {
                let (row, col) = cell.get_position();
                rows.cell(row, col, data_text(cell.get_value()))?;
            }
        }
        Format::Xls | Format::Ods => {
            let range = if format == Format::Xls {
                workbook_limits::check_xls(path)?;
                let mut book = Xls::new(open()?).map_err(|e| fail(e.to_string()))?;
                let name = choose_sheet(path, &book, sheet)?;
                book.worksheet_range(&name)
                    .map_err(|e| fail(format!("sheet `{name}`: {e}")))?
            } else {
                workbook_limits::check_ods(path)?;
                let mut book = Ods::new(open()?).map_err(|e| fail(e.to_string()))?;
                let name = choose_sheet(path, &book, sheet)?;
                book.worksheet_range(&name)
                    .map_err(|e| fail(format!("sheet `{name}`: {e}")))?
            };
            let (row0, col0) = range.start().unwrap_or((0, 0));
            for (i, cells) in range.rows().enumerate() {
                for (j, cell) in cells.iter().enumerate() {
                    if !matches!(cell, Data::Empty) {
                        rows.cell(row0 + i as u32, col0 + j as u32, data_text(cell))?;
                    }
                }
            }
        }
        Format::Csv | Format::Jsonl => unreachable!("not a workbook"),
    }
    rows.finish()
}

/// The sheet to read: `wanted` as a name (exactly, else ignoring case), else as a 1-based
/// position; the first worksheet when `None`.
fn choose_sheet<RS, R>(path: &Path, book: &R, wanted: Option<&str>) -> Result<String, InputError>
where
    RS: std::io::Read + std::io::Seek,
    R: Reader<RS>,
{
    let sheets = book.sheets_metadata();
    let workbook_err = |message: String| InputError::Workbook {
        path: path.to_owned(),
        message,
    };
    if sheets.len() > MAX_SHEETS {
        return Err(workbook_err(format!(
            "it has {} sheets; usersync reads workbooks of at most {MAX_SHEETS}",
            sheets.len()
        )));
    }
    let Some(wanted) = wanted else {
        return sheets
            .iter()
            .find(|s| s.typ == SheetType::WorkSheet)
            .or(sheets.first())
            .map(|s| s.name.clone())
            .ok_or_else(|| workbook_err("it has no sheets".to_owned()));
    };
    if let Some(s) = sheets.iter().find(|s| s.name == wanted) {
        return Ok(s.name.clone());
    }
    let folded: Vec<_> = sheets
        .iter()
        .filter(|s| s.name.to_lowercase() == wanted.to_lowercase())
        .collect();
    if let [only] = folded[..] {
        return Ok(only.name.clone());
    }
    match wanted.trim().parse::<usize>() {
        Ok(n @ 1..) if n <= sheets.len() => Ok(sheets[n - 1].name.clone()),
        _ => Err(InputError::UnknownSheet {
            path: path.to_owned(),
            sheet: wanted.to_owned(),
            sheets: sheets.iter().map(|s| s.name.clone()).collect(),
        }),
    }
}

fn empty_sheet(path: &Path) -> InputError {
    InputError::Workbook {
        path: path.to_owned(),
        message: "its sheet is empty: the sheet's first row with a value is its header".to_owned(),
    }
}

/// The column letters of a 0-based column index: 0 -> `A`, 27 -> `AB`.
pub(super) fn column_letters(col: u32) -> String {
    let mut n = col + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

/// The header's place in the sheet.
struct Columns {
    first: u32,
    names: Vec<String>,
}

/// Cells in, rows out: gathers the cells of one sheet row and sends it when the next begins.
struct Rows<'a> {
    path: &'a Path,
    tx: &'a SyncSender<Message>,
    header: Option<Columns>,
    row: Option<u32>,
    /// The current row's cells that hold something: (column, text or error).
    cells: Vec<(u32, Result<String, CellErrorType>)>,
    /// The current row's text so far; past [`MAX_LINE_BYTES`] the row is too long and its cells
    /// are dropped.
    bytes: usize,
}

impl<'a> Rows<'a> {
    fn new(path: &'a Path, tx: &'a SyncSender<Message>) -> Rows<'a> {
        Rows {
            path,
            tx,
            header: None,
            row: None,
            cells: Vec::new(),
            bytes: 0,
        }
    }

    /// One cell, in sheet order (rows top to bottom).
    fn cell(
        &mut self,
        row: u32,
        col: u32,
        value: Result<Cow<'_, str>, CellErrorType>,
    ) -> Result<(), Stop> {
        match self.row {
            Some(current) if row < current => {
                return Err(Stop::Fatal(InputError::Workbook {
                    path: self.path.to_owned(),
                    message: format!("its cells are out of order at row {}", row + 1),
                }))
            }
            Some(current) if row == current => {}
            _ => {
                self.flush()?;
                self.row = Some(row);
            }
        }
        if let Ok(text) = &value {
            self.bytes += text.len();
        }
        if self.bytes > MAX_LINE_BYTES {
            // Keep none of the row's text, as for a CSV row this long.
            self.cells = Vec::new();
            return Ok(());
        }
        match value {
            Ok(text) if text.is_empty() => {}
            Ok(text) => self.cells.push((col, Ok(text.into_owned()))),
            Err(e) => self.cells.push((col, Err(e))),
        }
        Ok(())
    }

    /// Sends the last row and ends.
    fn finish(mut self) -> Result<(), Stop> {
        self.flush()?;
        if self.header.is_none() {
            return Err(Stop::Fatal(empty_sheet(self.path)));
        }
        Ok(())
    }

    /// Sends the row gathered so far, if it holds anything.
    fn flush(&mut self) -> Result<(), Stop> {
        let Some(row) = self.row else {
            return Ok(());
        };
        let cells = std::mem::take(&mut self.cells);
        let too_long = std::mem::take(&mut self.bytes) > MAX_LINE_BYTES;
        if cells.is_empty() && !too_long {
            return Ok(());
        }
        let line = u64::from(row) + 1;
        let Some(columns) = &self.header else {
            let header = self.header_from(&cells, too_long)?;
            self.send(Message::Header(header.names.clone()))?;
            self.header = Some(header);
            return Ok(());
        };
        if too_long {
            return self.send(Message::Row {
                line,
                fields: StringRecord::new(),
                problem: Some(RowProblem::row_too_long()),
            });
        }
        let width = columns.names.len();
        let mut fields = vec![String::new(); width];
        let mut problem = None;
        for (col, value) in cells {
            let index = col
                .checked_sub(columns.first)
                .map(|i| i as usize)
                .filter(|&i| i < width);
            match (index, value) {
                (Some(i), Ok(text)) => fields[i] = text,
                (Some(i), Err(error)) => {
                    fields[i] = error.to_string();
                    // Only the row's first problem is reported: word it only then.
                    problem.get_or_insert_with(|| RowProblem {
                        code: "cell_error",
                        message: format!(
                            "column `{}` (cell {}{line}) holds the spreadsheet error {error}",
                            columns.names[i],
                            column_letters(col)
                        ),
                        column: Some(columns.names[i].clone()),
                    });
                }
                (None, _) => {
                    problem.get_or_insert_with(|| RowProblem {
                        code: "wrong_field_count",
                        column: None,
                        message: format!(
                            "the row has a value in column {}, outside the header's columns {} to {}",
                            column_letters(col),
                            column_letters(columns.first),
                            column_letters(columns.first + width as u32 - 1)
                        ),
                    });
                }
            }
        }
        self.send(Message::Row {
            line,
            fields: fields.iter().map(String::as_str).collect(),
            problem,
        })
    }

    /// The header from its row's cells: from the first to the last cell with a name.
    fn header_from(
        &self,
        cells: &[(u32, Result<String, CellErrorType>)],
        too_long: bool,
    ) -> Result<Columns, InputError> {
        let header_err = |message: String| InputError::Header {
            path: self.path.to_owned(),
            message,
        };
        if too_long {
            return Err(header_err(format!("it is longer than {MAX_LINE_MB} MB")));
        }
        // Blank cells around the names (a space left in a cell) are no columns.
        let named = || {
            cells
                .iter()
                .filter(|(_, v)| v.as_ref().map_or(true, |t| !t.trim().is_empty()))
                .map(|(c, _)| *c)
        };
        let first = named().min().unwrap_or(0);
        let last = named().max().unwrap_or(0);
        let mut names = vec![String::new(); (last - first + 1) as usize];
        for (col, value) in cells.iter().filter(|(c, _)| (first..=last).contains(c)) {
            match value {
                Ok(text) => names[(col - first) as usize] = text.trim().to_owned(),
                Err(e) => {
                    return Err(header_err(format!(
                        "column {} holds the spreadsheet error {e}",
                        column_letters(*col)
                    )))
                }
            }
        }
        let names = check_header(self.path, names, |i| column_letters(first + i as u32))?;
        Ok(Columns { first, names })
    }

    fn send(&self, message: Message) -> Result<(), Stop> {
        self.tx.send(message).map_err(|_| Stop::Dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::column_letters;

    #[test]
    fn columns_are_named_by_their_letters() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(27), "AB");
        assert_eq!(column_letters(16_383), "XFD");
    }
}
