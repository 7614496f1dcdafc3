//! Limits that keep a hostile workbook (a zip bomb, a huge shared-strings table, thousands of
//! parts or sheets) to one clear error in bounded memory, checked before calamine reads it.
//!
//! `.xlsx` and `.ods` are zip archives. calamine reads some parts whole (the shared strings, the
//! styles, the workbook, an `.ods` file's `content.xml`) and streams an `.xlsx` worksheet, whose
//! largest single XML token it also holds whole. The zip crate (9.9 and later) refuses an entry
//! that inflates past the size its central directory declares, so the declared sizes, read here
//! with the zip crate before anything is inflated, bound what calamine can be made to hold. An
//! `.xls` is loaded whole, so its file size is what is bounded. An `.ods` is loaded whole too, every
//! sheet expanded to a rectangle of cells, and its repeated rows and columns let a few hundred
//! bytes ask for billions: its `content.xml` is read once here, with quick-xml, to count them. The
//! limits are far above an HR
//! export's (a 100,000-person `.xlsx` is a few MB); past them the message says to save the sheet
//! as CSV, which has no such limits.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use quick_xml::events::{BytesStart, Event};

use super::InputError;

/// The most zip entries (parts) a workbook may have.
pub(super) const MAX_ENTRIES: usize = 10_000;
/// The most sheets a workbook may have.
pub(super) const MAX_SHEETS: usize = 1_000;
/// The largest part read whole (shared strings, styles, `content.xml`), unpacked.
const MAX_WHOLE_PART: u64 = 128 << 20;
/// The largest `.xlsx` worksheet, unpacked (streamed, but one cell's text is held whole).
const MAX_SHEET_PART: u64 = 256 << 20;
/// The largest `.xls` file.
const MAX_XLS_FILE: u64 = 128 << 20;
/// How many times larger than it is stored a part may unpack (XML compresses about 10:1; zip
/// bombs 1000:1), for parts above [`RATIO_FLOOR`] bytes.
const MAX_RATIO: u64 = 200;
const RATIO_FLOOR: u64 = 1 << 20;
/// The most cells the sheets of an `.ods` may unpack to (calamine keeps each with its formula
/// text, about 56 bytes).
const MAX_ODS_CELLS: u64 = 5_000_000;
/// calamine's own caps on an `.ods` sheet.
const ODS_MAX_ROWS: u64 = 1_048_576;
const ODS_MAX_COLUMNS: u64 = 16_384;
/// The shortest shared string entry (`<si/>`), to bound the count a table declares.
const MIN_SHARED_STRING_BYTES: u64 = 5;

fn refuse(path: &Path, message: String) -> InputError {
    InputError::Workbook {
        path: path.to_owned(),
        message: format!("{message}; save the sheet as CSV (UTF-8) to read it"),
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{} MB", bytes.div_ceil(1 << 20))
}

/// Checks an `.xlsx` / `.xlsm` archive's parts, and the count of shared strings it declares
/// (calamine reserves room for them before reading one).
pub(super) fn check_xlsx(path: &Path) -> Result<(), InputError> {
    let mut archive = check_zip(path, |name| {
        if name.starts_with("xl/worksheets/") {
            MAX_SHEET_PART
        } else {
            MAX_WHOLE_PART
        }
    })?;
    let Some(index) = archive.index_for_name("xl/sharedStrings.xml") else {
        return Ok(());
    };
    let bad_zip = |e: zip::result::ZipError| InputError::Workbook {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let mut part = archive.by_index(index).map_err(bad_zip)?;
    let size = part.size();
    let mut head = Vec::with_capacity(4096);
    // A short read (a broken part) leaves the check to calamine, which reports it.
    let _ = (&mut part).take(4096).read_to_end(&mut head);
    if let Some(count) = declared_unique_count(&head) {
        if count > size / MIN_SHARED_STRING_BYTES + 1 {
            return Err(refuse(
                path,
                format!(
                    "its shared strings table declares {count} strings in {size} bytes, more \
                     than it can hold"
                ),
            ));
        }
    }
    Ok(())
}

/// Checks an `.ods` archive's parts, and the count of cells its sheets unpack to.
pub(super) fn check_ods(path: &Path) -> Result<(), InputError> {
    let mut archive = check_zip(path, |_| MAX_WHOLE_PART)?;
    let Some(index) = archive.index_for_name("content.xml") else {
        return Ok(());
    };
    let part = archive.by_index(index).map_err(|e| InputError::Workbook {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let cells = ods_cells(BufReader::new(part));
    if cells > MAX_ODS_CELLS {
        return Err(refuse(
            path,
            format!(
                "its sheets unpack to {cells} cells (rows and columns repeated); the limit is \
                 {MAX_ODS_CELLS}"
            ),
        ));
    }
    Ok(())
}

/// The cells calamine would keep for the sheets of `content.xml`: per sheet, the rows from the
/// first with a value to the last, times the widest row up to its last value, repeats counted.
/// A part that does not parse counts what was read (calamine reports the rest).
fn ods_cells(content: impl BufRead) -> u64 {
    let mut xml = quick_xml::Reader::from_reader(content);
    let mut buf = Vec::new();
    let repeat = |e: &BytesStart<'_>, name: &str| -> u64 {
        e.try_get_attribute(name)
            .ok()
            .flatten()
            .and_then(|a| a.value.trim().parse().ok())
            .unwrap_or(1)
            .max(1)
    };
    let mut total: u64 = 0;
    // The current sheet: its rows so far (from the first with a value), empty rows not yet
    // followed by one with a value, its widest row.
    let (mut rows, mut blank_rows, mut width) = (0u64, 0u64, 0u64);
    // The current row: its repeat count, its cells so far, its width up to its last value.
    let (mut row_repeat, mut row_cells, mut row_width) = (1u64, 0u64, 0u64);
    loop {
        buf.clear();
        let (e, has_children) = match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => (e, true),
            Ok(Event::Empty(e)) => (e, false),
            Ok(Event::End(e)) => {
                match e.name().as_ref() {
                    "table:table-row" => {
                        if row_width > 0 {
                            let before = if rows > 0 { blank_rows } else { 0 };
                            rows = rows.saturating_add(before).saturating_add(row_repeat);
                            blank_rows = 0;
                            width = width.max(row_width);
                        } else {
                            blank_rows = blank_rows.saturating_add(row_repeat);
                        }
                    }
                    "table:table" => {
                        let cells = rows.min(ODS_MAX_ROWS) * width.min(ODS_MAX_COLUMNS);
                        total = total.saturating_add(cells);
                        (rows, blank_rows, width) = (0, 0, 0);
                    }
                    _ => {}
                }
                continue;
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => continue,
        };
        match e.name().as_ref() {
            "table:table-row" => {
                row_repeat = repeat(&e, "table:number-rows-repeated");
                (row_cells, row_width) = (0, 0);
                if !has_children {
                    blank_rows = blank_rows.saturating_add(row_repeat);
                }
            }
            "table:table-cell" | "table:covered-table-cell" => {
                row_cells = row_cells.saturating_add(repeat(&e, "table:number-columns-repeated"));
                let valued = matches!(e.try_get_attribute("office:value-type"), Ok(Some(_)));
                if has_children || valued {
                    row_width = row_cells;
                }
            }
            _ => {}
        }
    }
    total
}

/// Checks an `.xls` file's size.
pub(super) fn check_xls(path: &Path) -> Result<(), InputError> {
    let size = std::fs::metadata(path)
        .map_err(|source| InputError::Open {
            path: path.to_owned(),
            source,
        })?
        .len();
    if size > MAX_XLS_FILE {
        return Err(refuse(
            path,
            format!(
                "it is {} (an .xls is read whole; the limit is {})",
                megabytes(size),
                megabytes(MAX_XLS_FILE)
            ),
        ));
    }
    Ok(())
}

/// Reads the archive's central directory (nothing is inflated) and checks the count of entries
/// and each entry's unpacked size against `limit(name)` and its packing ratio.
fn check_zip(
    path: &Path,
    limit: impl Fn(&str) -> u64,
) -> Result<zip::ZipArchive<BufReader<File>>, InputError> {
    let file = File::open(path).map_err(|source| InputError::Open {
        path: path.to_owned(),
        source,
    })?;
    let mut archive =
        zip::ZipArchive::new(BufReader::new(file)).map_err(|e| InputError::Workbook {
            path: path.to_owned(),
            message: format!("it is not a readable workbook (zip archive): {e}"),
        })?;
    if archive.len() > MAX_ENTRIES {
        return Err(refuse(
            path,
            format!(
                "it has {} parts; usersync reads workbooks of at most {MAX_ENTRIES}",
                archive.len()
            ),
        ));
    }
    for i in 0..archive.len() {
        let Ok(entry) = archive.by_index_raw(i) else {
            // calamine reports a broken entry if it needs it.
            continue;
        };
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        let (size, packed) = (entry.size(), entry.compressed_size());
        let most = limit(&name);
        if size > most {
            return Err(refuse(
                path,
                format!(
                    "its part `{name}` unpacks to {} (the limit is {})",
                    megabytes(size),
                    megabytes(most)
                ),
            ));
        }
        if size > RATIO_FLOOR && size / packed.max(1) > MAX_RATIO {
            return Err(refuse(
                path,
                format!(
                    "its part `{name}` unpacks {} times larger than it is stored (a zip bomb?)",
                    size / packed.max(1)
                ),
            ));
        }
    }
    Ok(archive)
}

/// The `uniqueCount` attribute of the `<sst>` element at the start of a shared strings part.
fn declared_unique_count(head: &[u8]) -> Option<u64> {
    let start = head.windows(4).position(|w| w == b"sst ")?;
    let tag = &head[start..];
    let tag = &tag[..tag.iter().position(|&b| b == b'>').unwrap_or(tag.len())];
    let at = tag.windows(11).position(|w| w == b"uniqueCount")?;
    let rest = &tag[at + 11..];
    let rest = rest.strip_prefix(b"=")?;
    let quote = *rest.first()?;
    let digits: Vec<u8> = rest[1..]
        .iter()
        .take_while(|&&b| b != quote)
        .copied()
        .collect();
    std::str::from_utf8(&digits).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::{declared_unique_count, ods_cells};

    #[test]
    fn the_cells_of_an_ods_count_repeats_up_to_the_last_value() {
        let content = r#"<office:document-content><office:body><office:spreadsheet>
            <table:table table:name="A">
              <table:table-row table:number-rows-repeated="2"><table:table-cell table:number-columns-repeated="9"/></table:table-row>
              <table:table-row><table:table-cell><text:p>id</text:p></table:table-cell><table:table-cell table:number-columns-repeated="2" office:value-type="float" office:value="1"/><table:table-cell table:number-columns-repeated="1000"/></table:table-row>
              <table:table-row table:number-rows-repeated="4"/>
              <table:table-row table:number-rows-repeated="10"><table:table-cell><text:p>x</text:p></table:table-cell></table:table-row>
              <table:table-row table:number-rows-repeated="1048000"><table:table-cell table:number-columns-repeated="16000"/></table:table-row>
            </table:table>
            <table:table table:name="B"><table:table-row><table:table-cell office:value-type="string"><text:p>y</text:p></table:table-cell></table:table-row></table:table>
            </office:spreadsheet></office:body></office:document-content>"#;
        // Sheet A: rows 3 to 17 (15 rows, the empty ones between counted) of 3 columns; B: 1.
        assert_eq!(ods_cells(content.as_bytes()), 15 * 3 + 1);
    }

    #[test]
    fn the_declared_count_of_shared_strings_is_found() {
        let head = br#"<?xml version="1.0"?><sst xmlns="x" count="9" uniqueCount="7"><si>"#;
        assert_eq!(declared_unique_count(head), Some(7));
        assert_eq!(
            declared_unique_count(b"<x:sst uniqueCount='123456789012'>"),
            Some(123_456_789_012)
        );
        assert_eq!(declared_unique_count(b"<sst count=\"3\">"), None);
        assert_eq!(declared_unique_count(b"<sst uniqueCount=\"-1\">"), None);
    }
}
