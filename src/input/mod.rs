//! Streaming readers for HR exports: CSV, JSONL and spreadsheets (`.xlsx`, `.xlsm`, `.xls`,
//! `.ods`) in, one [`Record`] at a time out.
//!
//! Memory stays constant whatever the file size: a reader keeps one record buffer and refills it
//! for every row ([`InputReader::read`] lends the current record). Every record carries the
//! physical line where it starts (the CSV header is line 1; a sheet's rows keep their own
//! numbers), which is what every error and report shows. A sheet gives the same records as a
//! CSV: its header's names, and each row as text. A row that cannot be read cleanly (wrong number
//! of fields, bytes invalid for the encoding, a JSONL line that is not an object, an error cell)
//! is still returned, carrying its [`RowProblem`], so that the caller reports it and goes on;
//! only problems with the file as a whole (cannot open, empty, bad header, unknown sheet, a
//! workbook past the limits) are fatal [`InputError`]s.

mod cell_text;
mod csv_source;
mod detect;
mod encoding;
mod jsonl_source;
mod newlines;
mod sheet_source;
mod workbook_limits;

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::Value;

pub use detect::detect_delimiter;
pub use encoding::Encoding;

/// The longest JSONL line or CSV row accepted; a longer one is a row error (`line_too_long`,
/// `row_too_long`), not unbounded memory.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// [`MAX_LINE_BYTES`] in whole megabytes, for messages.
const MAX_LINE_MB: usize = MAX_LINE_BYTES / (1024 * 1024);

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Delimited text (`,` `;` tab `|`).
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// An Excel workbook (`.xlsx`, `.xlsm`).
    Xlsx,
    /// An Excel 97-2003 workbook.
    Xls,
    /// An OpenDocument spreadsheet (LibreOffice).
    Ods,
}

impl Format {
    /// The format a file name suggests (`.csv`, `.tsv`, `.txt` -> CSV; `.jsonl`, `.ndjson` ->
    /// JSONL; `.xlsx`, `.xlsm`, `.xls`, `.ods` -> those workbooks).
    pub fn from_extension(path: &Path) -> Option<Format> {
        path.extension()?.to_str()?.parse().ok()
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "csv" | "tsv" | "txt" => Ok(Format::Csv),
            "jsonl" | "ndjson" => Ok(Format::Jsonl),
            "xlsx" | "xlsm" => Ok(Format::Xlsx),
            "xls" => Ok(Format::Xls),
            "ods" => Ok(Format::Ods),
            other => Err(format!(
                "unknown format `{other}`: expected csv, jsonl, xlsx, xls or ods"
            )),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Xlsx => "xlsx",
            Format::Xls => "xls",
            Format::Ods => "ods",
        })
    }
}

/// Parses a delimiter as given on the command line or in the config: one ASCII character, or
/// `tab` / `\t`.
pub fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 && s.is_ascii() && s != "\"" && s != "\n" && s != "\r" => {
            Ok(s.as_bytes()[0])
        }
        _ => Err(format!(
            "invalid delimiter `{s}`: expected one ASCII character such as , ; | or tab"
        )),
    }
}

/// How to read an export. `None` means "decide from the file" (extension, header line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputOptions {
    pub format: Option<Format>,
    pub delimiter: Option<u8>,
    pub encoding: Encoding,
    /// The sheet of a workbook: a name, or a position counted from 1; `None` = the first
    /// worksheet. Other formats ignore it.
    pub sheet: Option<String>,
}

/// A problem with the file as a whole: nothing can be read from it.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot open {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {} near line {line}", path.display())]
    Read {
        path: PathBuf,
        line: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot tell the format of {} from its extension: use --format csv, jsonl, xlsx, xls or ods", path.display())]
    UnknownFormat { path: PathBuf },
    #[error("{} has no sheet `{sheet}`; its sheets are: {} (choose one with --sheet NAME or a number from 1)", path.display(), sheets.join(", "))]
    UnknownSheet {
        path: PathBuf,
        sheet: String,
        sheets: Vec<String>,
    },
    /// A workbook that cannot be read (broken, encrypted, past the limits).
    #[error("cannot read the workbook {}: {message}", path.display())]
    Workbook { path: PathBuf, message: String },
    #[error("{} is empty: a CSV export needs a header line", path.display())]
    Empty { path: PathBuf },
    #[error("{} has a bad header line: {message}", path.display())]
    Header { path: PathBuf, message: String },
}

impl InputError {
    /// Whether the command line or the config must change (a format to name, a sheet to
    /// choose) rather than the file.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            InputError::UnknownFormat { .. } | InputError::UnknownSheet { .. }
        )
    }
}

/// Checks a header's names, trimmed: none empty, none repeated. `label(i)` names the `i`th
/// column in messages (`3` for a CSV, `C` for a sheet).
fn check_header(
    path: &Path,
    names: Vec<String>,
    label: impl Fn(usize) -> String,
) -> Result<Vec<String>, InputError> {
    let header_err = |message: String| InputError::Header {
        path: path.to_owned(),
        message,
    };
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            return Err(header_err(format!("column {} has no name", label(i))));
        }
        if let Some(first) = names[..i].iter().position(|n| n == name) {
            return Err(header_err(format!(
                "column `{name}` appears twice (columns {} and {})",
                label(first),
                label(i)
            )));
        }
    }
    Ok(names)
}

/// Why one row could not be read cleanly. The row is reported and the file goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// A stable code: `wrong_field_count`, `invalid_encoding`, `row_too_long`, `invalid_json`,
    /// `not_an_object`, `line_too_long`, `cell_error`.
    pub code: &'static str,
    /// The column concerned, when there is one.
    pub column: Option<String>,
    pub message: String,
}

impl RowProblem {
    /// A CSV or sheet row whose text passed [`MAX_LINE_BYTES`]: none of its values are kept.
    fn row_too_long() -> RowProblem {
        RowProblem {
            code: "row_too_long",
            column: None,
            message: format!("the row is longer than {MAX_LINE_MB} MB; its values were not read"),
        }
    }
}

/// Where a column lives in a record, resolved once against the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// A CSV field index.
    Index(usize),
    /// A JSONL object key.
    Key(String),
}

/// The columns of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Header {
    /// The header names of a CSV or a sheet, in file order.
    Csv(Vec<String>),
    /// JSONL has no header: every object names its own keys.
    Jsonl,
}

impl Header {
    /// Where column `name` is, or `None` when a CSV header does not have it.
    pub fn resolve(&self, name: &str) -> Option<Column> {
        match self {
            Header::Csv(names) => names.iter().position(|n| n == name).map(Column::Index),
            Header::Jsonl => Some(Column::Key(name.to_owned())),
        }
    }

    /// The CSV header names (`None` for JSONL).
    pub fn names(&self) -> Option<&[String]> {
        match self {
            Header::Csv(names) => Some(names),
            Header::Jsonl => None,
        }
    }
}

/// One value of a record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// The record has no such column (short CSV row, absent JSONL key).
    Missing,
    /// A CSV field, or a JSONL string.
    Text(&'a str),
    /// A JSONL value that is not a string (number, boolean, null, array, object).
    Json(&'a Value),
}

impl<'a> Cell<'a> {
    /// The cell as text: JSON values other than strings as their JSON text, missing as empty.
    pub fn to_text(self) -> Cow<'a, str> {
        match self {
            Cell::Missing => Cow::Borrowed(""),
            Cell::Text(s) => Cow::Borrowed(s),
            Cell::Json(Value::Null) => Cow::Borrowed(""),
            Cell::Json(v) => Cow::Owned(v.to_string()),
        }
    }
}

#[derive(Debug, Clone)]
enum Values {
    Csv(csv::StringRecord),
    Json(serde_json::Map<String, Value>),
}

/// One row of an export, as read. Lent by [`InputReader::read`] until the next call.
#[derive(Debug, Clone)]
pub struct Record {
    /// The physical line where the row starts (the CSV header is line 1).
    pub line: u64,
    values: Values,
    problem: Option<RowProblem>,
}

impl Record {
    /// A CSV-style record (tests, tools): `fields` in header order.
    pub fn from_fields<'a>(line: u64, fields: impl IntoIterator<Item = &'a str>) -> Record {
        Record {
            line,
            values: Values::Csv(fields.into_iter().collect()),
            problem: None,
        }
    }

    /// A JSONL-style record (tests, tools).
    pub fn from_object(line: u64, object: serde_json::Map<String, Value>) -> Record {
        Record {
            line,
            values: Values::Json(object),
            problem: None,
        }
    }

    /// A record holding no row yet, to read rows into ([`InputReader::read_into`]).
    pub fn empty() -> Record {
        Record {
            line: 0,
            values: Values::Csv(csv::StringRecord::new()),
            problem: None,
        }
    }

    /// About how many bytes of text the record holds (0 for JSONL, whose objects say little
    /// of it without a walk).
    pub fn text_bytes(&self) -> usize {
        match &self.values {
            Values::Csv(rec) => rec.as_slice().len() + 8 * rec.len(),
            Values::Json(_) => 0,
        }
    }

    /// The value in `column`.
    pub fn get(&self, column: &Column) -> Cell<'_> {
        match (&self.values, column) {
            (Values::Csv(rec), Column::Index(i)) => rec.get(*i).map_or(Cell::Missing, Cell::Text),
            (Values::Json(map), Column::Key(k)) => match map.get(k) {
                None => Cell::Missing,
                Some(Value::String(s)) => Cell::Text(s),
                Some(v) => Cell::Json(v),
            },
            _ => Cell::Missing,
        }
    }

    /// Why the row could not be read cleanly, if it could not. Its values may then be partial.
    pub fn problem(&self) -> Option<&RowProblem> {
        self.problem.as_ref()
    }

    /// The CSV fields in file order (`None` for JSONL).
    pub fn csv_fields(&self) -> Option<impl Iterator<Item = &str>> {
        match &self.values {
            Values::Csv(rec) => Some(rec.iter()),
            Values::Json(_) => None,
        }
    }
}

/// The reader of the file's format.
enum FormatReader {
    Csv(csv_source::CsvSource),
    Jsonl(jsonl_source::JsonlSource),
    Sheet(sheet_source::SheetSource),
}

impl FormatReader {
    /// Reads the next row into `record`; false at the end of the file.
    fn read_into(&mut self, record: &mut Record) -> Result<bool, InputError> {
        match self {
            FormatReader::Csv(src) => src.read_into(record),
            FormatReader::Jsonl(src) => src.read_into(record),
            FormatReader::Sheet(src) => src.read_into(record),
        }
    }
}

/// A streaming reader over one export file.
pub struct InputReader {
    path: PathBuf,
    format: Format,
    header: Header,
    source: FormatReader,
    record: Record,
}

/// Opens `path` for streaming. Fails when the format cannot be told, the file cannot be opened,
/// or (CSV) its header line is missing or unusable.
pub fn open(path: &Path, options: &InputOptions) -> Result<InputReader, InputError> {
    let format = options
        .format
        .or_else(|| Format::from_extension(path))
        .ok_or_else(|| InputError::UnknownFormat {
            path: path.to_owned(),
        })?;
    let (source, header, values) = match format {
        Format::Csv => {
            let (src, names) = csv_source::CsvSource::open(path, options)?;
            (
                FormatReader::Csv(src),
                Header::Csv(names),
                Values::Csv(csv::StringRecord::new()),
            )
        }
        Format::Jsonl => (
            FormatReader::Jsonl(jsonl_source::JsonlSource::open(path, options.encoding)?),
            Header::Jsonl,
            Values::Json(serde_json::Map::new()),
        ),
        Format::Xlsx | Format::Xls | Format::Ods => {
            let (src, names) =
                sheet_source::SheetSource::open(path, format, options.sheet.as_deref())?;
            (
                FormatReader::Sheet(src),
                Header::Csv(names),
                Values::Csv(csv::StringRecord::new()),
            )
        }
    };
    tracing::debug!(path = %path.display(), %format, encoding = %options.encoding, sheet = ?options.sheet, "input opened");
    Ok(InputReader {
        path: path.to_owned(),
        format,
        header,
        source,
        record: Record {
            line: 0,
            values,
            problem: None,
        },
    })
}

/// How many rows the export at `path` holds: records, not lines (a quoted cell may hold
/// newlines; blank JSONL lines are no rows), each of which a sync gives one outcome. Rows with
/// a problem count; an unreadable file is an error.
pub fn count_rows(path: &Path, options: &InputOptions) -> Result<u64, InputError> {
    let mut reader = open(path, options)?;
    let mut rows = 0;
    while reader.read()?.is_some() {
        rows += 1;
    }
    Ok(rows)
}

impl InputReader {
    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format being read.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The columns of the file.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Reads the next row into the reader's buffer and lends it; `None` at the end of the file.
    pub fn read(&mut self) -> Result<Option<&Record>, InputError> {
        let more = self.source.read_into(&mut self.record)?;
        Ok(more.then_some(&self.record))
    }

    /// Reads the next row into `record`, a buffer of the caller's (reused: its memory is
    /// refilled rather than allocated again); false at the end of the file.
    pub fn read_into(&mut self, record: &mut Record) -> Result<bool, InputError> {
        self.source.read_into(record)
    }

    /// About how many bytes of the file have been read so far (for estimates); 0 for a
    /// workbook, whose packed bytes say little of its rows.
    pub fn bytes_read(&self) -> u64 {
        match &self.source {
            FormatReader::Csv(src) => src.bytes_read(),
            FormatReader::Jsonl(src) => src.bytes_read(),
            FormatReader::Sheet(_) => 0,
        }
    }

    /// The row last returned by [`InputReader::read`].
    pub fn current(&self) -> &Record {
        &self.record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_extensions() {
        assert_eq!(
            Format::from_extension(Path::new("a/b.CSV")),
            Some(Format::Csv)
        );
        assert_eq!(
            Format::from_extension(Path::new("x.jsonl")),
            Some(Format::Jsonl)
        );
        assert_eq!(
            Format::from_extension(Path::new("Plantilla.XLSX")),
            Some(Format::Xlsx)
        );
        assert_eq!(
            Format::from_extension(Path::new("x.xlsm")),
            Some(Format::Xlsx)
        );
        assert_eq!(
            Format::from_extension(Path::new("x.xls")),
            Some(Format::Xls)
        );
        assert_eq!(
            Format::from_extension(Path::new("x.ods")),
            Some(Format::Ods)
        );
        assert_eq!(
            Format::from_extension(Path::new("x.txt")),
            Some(Format::Csv)
        );
        assert_eq!(Format::from_extension(Path::new("x.pdf")), None);
    }

    #[test]
    fn encodings_and_delimiters_parse() {
        assert_eq!("UTF-8".parse::<Encoding>(), Ok(Encoding::UTF_8));
        assert_eq!("cp1252".parse::<Encoding>(), Ok(Encoding::WINDOWS_1252));
        assert!("ebcdic".parse::<Encoding>().is_err());
        assert_eq!(parse_delimiter(";"), Ok(b';'));
        assert_eq!(parse_delimiter("tab"), Ok(b'\t'));
        assert!(parse_delimiter(";;").is_err());
        assert!(parse_delimiter("\"").is_err());
    }

    #[test]
    fn rows_are_counted_as_records_not_lines() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("x.csv");
        // A quoted newline, a ragged row (a row error, still a row), CRLF, no final newline.
        std::fs::write(&csv, "id;note\r\n1;\"two\r\nlines\"\r\n2\r\n3;x").unwrap();
        assert_eq!(count_rows(&csv, &InputOptions::default()).unwrap(), 3);
        let jsonl = dir.path().join("x.jsonl");
        std::fs::write(&jsonl, "{\"id\":1}\n\n{\"id\":2}\nnot json\n").unwrap();
        assert_eq!(count_rows(&jsonl, &InputOptions::default()).unwrap(), 3);
        assert!(count_rows(&dir.path().join("gone.csv"), &InputOptions::default()).is_err());
    }

    #[test]
    fn json_cells_render_as_text() {
        let v = serde_json::json!([1, 2]);
        assert_eq!(Cell::Json(&v).to_text(), "[1,2]");
        assert_eq!(Cell::Json(&Value::Null).to_text(), "");
        assert_eq!(Cell::Text("a").to_text(), "a");
    }
}
