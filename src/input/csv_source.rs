//! CSV through the csv crate: one reused record buffer, UTF-8 rows validated in place, other
//! encodings decoded to UTF-8 as a stream first (see [`super::encoding`]), and ragged rows,
//! undecodable bytes and rows longer than [`MAX_LINE_BYTES`] turned into row problems.
//!
//! The csv crate holds a whole record in memory while it parses it, so one huge row (a
//! 50 MB cell) costs about its size once; it is then dropped, not kept for the rest of the
//! file, and never copied further.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use csv::{ByteRecord, StringRecord};

use super::encoding::{transcoder, Utf8Source};
use super::newlines::CrlfToLf;
use super::{
    check_header, detect_delimiter, Encoding, InputError, InputOptions, Record, RowProblem, Values,
    MAX_LINE_BYTES,
};

/// How much of the file start is read to guess the delimiter.
const DETECT_BYTES: u64 = 64 * 1024;

pub(super) struct CsvSource {
    path: PathBuf,
    reader: csv::Reader<CrlfToLf<Utf8Source>>,
    /// The file's encoding; anything but UTF-8 reaches the csv reader decoded.
    encoding: Encoding,
    /// The header names: every row must have as many fields.
    names: Vec<String>,
    /// Lines and bytes before the header that the csv reader never saw (Excel's `sep=` line),
    /// so that lines and positions stay the file's own.
    skipped_lines: u64,
    skipped_bytes: u64,
}

impl CsvSource {
    /// Opens the file, settles its encoding and delimiter and reads the header line.
    pub(super) fn open(
        path: &Path,
        options: &InputOptions,
    ) -> Result<(CsvSource, Vec<String>), InputError> {
        let open_err = |source| InputError::Open {
            path: path.to_owned(),
            source,
        };
        let mut file = File::open(path).map_err(open_err)?;
        let mut head = Vec::new();
        (&mut file)
            .take(DETECT_BYTES)
            .read_to_end(&mut head)
            .map_err(open_err)?;
        let encoding = Encoding::of_file(&head, options.encoding);
        // The start of the file as UTF-8 text, for Excel's `sep=` line and the delimiter guess.
        let head: Cow<'_, [u8]> = if encoding.is_utf8() {
            Cow::Borrowed(&head)
        } else {
            let (text, _) = encoding.get().decode_with_bom_removal(&head);
            Cow::Owned(text.into_owned().into_bytes())
        };
        let excel_hint = excel_separator_line(&head);
        let skipped_bytes = excel_hint.map_or(0, |(_, len)| len);
        let source = if encoding.is_utf8() {
            file.seek(SeekFrom::Start(skipped_bytes as u64))
                .map_err(open_err)?;
            Utf8Source::Raw(file)
        } else {
            file.seek(SeekFrom::Start(0)).map_err(open_err)?;
            let mut decoded = transcoder(file, encoding);
            io::copy(
                &mut (&mut decoded).take(skipped_bytes as u64),
                &mut io::sink(),
            )
            .map_err(open_err)?;
            Utf8Source::Decoded(Box::new(decoded))
        };
        // The flag or the config, else Excel's own line, else a guess from the header line.
        let delimiter = options
            .delimiter
            .or(excel_hint.map(|(d, _)| d))
            .unwrap_or_else(|| detect_delimiter(&head[skipped_bytes..]));
        tracing::debug!(
            delimiter = %char::from(delimiter).escape_default(),
            %encoding,
            excel_sep_line = excel_hint.is_some(),
            "csv delimiter"
        );
        let skipped_lines = u64::from(excel_hint.is_some());
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(true)
            .from_reader(CrlfToLf::new(source));
        let raw_header = reader
            .byte_headers()
            .map_err(|e| InputError::Read {
                path: path.to_owned(),
                line: 1 + skipped_lines,
                source: io::Error::from(e),
            })?
            .clone();
        let names = decode_header(path, &raw_header)?;
        let source = CsvSource {
            path: path.to_owned(),
            reader,
            encoding,
            names: names.clone(),
            skipped_lines,
            skipped_bytes: skipped_bytes as u64,
        };
        Ok((source, names))
    }

    /// Reads the next row into `record`; false at the end of the file.
    pub(super) fn read_into(&mut self, record: &mut Record) -> Result<bool, InputError> {
        // Take the record's buffer out so it can be refilled without allocating.
        let mut text =
            match std::mem::replace(&mut record.values, Values::Json(serde_json::Map::new())) {
                Values::Csv(text) => text,
                Values::Json(_) => StringRecord::new(),
            };
        record.problem = None;
        let more = self.read_utf8(&mut text, record)?;
        if more && text.as_slice().len() > MAX_LINE_BYTES {
            // Keep none of it: a fresh buffer gives the memory back, and nothing downstream
            // (mapping, messages, the rejects file) copies a huge value.
            text = StringRecord::new();
            record.problem = Some(RowProblem::row_too_long());
        } else if more && text.len() != self.names.len() {
            record.problem = Some(RowProblem {
                code: "wrong_field_count",
                column: None,
                message: format!(
                    "the row has {} fields but the header has {}",
                    text.len(),
                    self.names.len()
                ),
            });
        } else if more && record.problem.is_none() && !self.encoding.is_utf8() {
            // The decoder replaced bytes that mean nothing in the encoding with U+FFFD.
            if let Some(field) = text.iter().position(|f| f.contains('\u{FFFD}')) {
                let column = self.names.get(field).cloned();
                record.problem = Some(RowProblem {
                    code: "invalid_encoding",
                    message: format!(
                        "column `{}` holds bytes that are not valid {}",
                        column.as_deref().unwrap_or("?"),
                        self.encoding
                    ),
                    column,
                });
            }
        }
        record.values = Values::Csv(text);
        Ok(more)
    }

    pub(super) fn bytes_read(&self) -> u64 {
        self.skipped_bytes + self.reader.position().byte()
    }

    fn read_error(&self, e: csv::Error) -> InputError {
        InputError::Read {
            path: self.path.clone(),
            line: self.skipped_lines + self.reader.position().line(),
            source: io::Error::from(e),
        }
    }

    fn read_utf8(
        &mut self,
        text: &mut StringRecord,
        record: &mut Record,
    ) -> Result<bool, InputError> {
        let mut raw = std::mem::take(text).into_byte_record();
        let more = match self.reader.read_byte_record(&mut raw) {
            Ok(more) => more,
            Err(e) => {
                *text = StringRecord::from_byte_record_lossy(raw);
                return Err(self.read_error(e));
            }
        };
        record.line = self.skipped_lines + raw.position().map_or(0, |p| p.line());
        *text = match StringRecord::from_byte_record(raw) {
            Ok(t) => t,
            Err(e) => {
                let field = e.utf8_error().field();
                let column = self.names.get(field).cloned();
                record.problem = Some(RowProblem {
                    code: "invalid_encoding",
                    message: format!(
                        "column `{}` is not valid UTF-8; if the file comes from Excel, try --encoding windows-1252",
                        column.as_deref().unwrap_or("?")
                    ),
                    column,
                });
                StringRecord::from_byte_record_lossy(e.into_byte_record())
            }
        };
        Ok(more)
    }
}

/// Excel's delimiter line: a file that starts (after a UTF-8 BOM, if any) with `sep=;` and a line
/// end tells Excel its delimiter, and some HR systems write it for Excel's sake. Returns that
/// delimiter and the bytes up to the header line (BOM and line end included); `None` for any
/// other first line.
fn excel_separator_line(head: &[u8]) -> Option<(u8, usize)> {
    let bom = if head.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    };
    let line = &head[bom..];
    if !line.get(..4)?.eq_ignore_ascii_case(b"sep=") {
        return None;
    }
    let delimiter = *line.get(4)?;
    if matches!(delimiter, b'\r' | b'\n' | b'"') || !delimiter.is_ascii() {
        return None;
    }
    let end = match &line[5..] {
        [b'\r', b'\n', ..] => 2,
        [b'\n', ..] | [b'\r', ..] => 1,
        _ => return None,
    };
    Some((delimiter, bom + 5 + end))
}

/// Decodes (UTF-8: other encodings were decoded before) and checks the header names.
fn decode_header(path: &Path, raw: &ByteRecord) -> Result<Vec<String>, InputError> {
    if raw.is_empty() {
        return Err(InputError::Empty {
            path: path.to_owned(),
        });
    }
    let mut names = Vec::with_capacity(raw.len());
    for (i, field) in raw.iter().enumerate() {
        let name = std::str::from_utf8(field).map_err(|_| InputError::Header {
            path: path.to_owned(),
            message: format!(
                "column {} is not valid UTF-8; if the file comes from Excel, try --encoding windows-1252",
                i + 1
            ),
        })?;
        names.push(name.trim().to_owned());
    }
    check_header(path, names, |i| (i + 1).to_string())
}

#[cfg(test)]
mod tests {
    use super::excel_separator_line;

    #[test]
    fn excel_sep_lines_give_the_delimiter_and_the_bytes_to_skip() {
        assert_eq!(
            excel_separator_line(b"sep=;\r\nid;email\r\n"),
            Some((b';', 7))
        );
        assert_eq!(excel_separator_line(b"SEP=,\nid,email\n"), Some((b',', 6)));
        assert_eq!(
            excel_separator_line(b"\xef\xbb\xbfsep=\t\nid\temail"),
            Some((b'\t', 9))
        );
        assert_eq!(excel_separator_line(b"sep=|\rid|email"), Some((b'|', 6)));
    }

    #[test]
    fn anything_else_is_a_header() {
        for head in [
            &b"id;email\n"[..],
            b"sep=;",
            b"sep=;x\n",
            b"sep=\nid\n",
            b"separator;id\n",
            b"sep",
            b"",
        ] {
            assert_eq!(excel_separator_line(head), None, "{head:?}");
        }
    }
}
