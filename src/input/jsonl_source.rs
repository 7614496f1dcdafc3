//! JSONL: one JSON object per line, read line by line with a bounded, reused buffer.
//!
//! Blank lines are skipped; a line that is not a JSON object, is not valid in the encoding, or is
//! longer than [`MAX_LINE_BYTES`](super::MAX_LINE_BYTES) is a row problem. Nested values (GNOSS
//! `extra_data`, Abitmedia `companies`) are kept as they are.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::encoding::{transcoder, Utf8Source};
use super::{Encoding, InputError, Record, RowProblem, Values, MAX_LINE_BYTES};

/// What reading one physical line gave.
enum LineRead {
    Eof,
    /// The line is in the buffer (without its line ending).
    Line,
    /// The line was longer than the limit; it was skipped, not stored.
    TooLong,
}

pub(super) struct JsonlSource {
    path: PathBuf,
    reader: BufReader<Utf8Source>,
    /// The file's encoding; anything but UTF-8 is read decoded.
    encoding: Encoding,
    buf: Vec<u8>,
    /// The number of the line last read.
    line: u64,
    /// Bytes consumed so far.
    consumed: u64,
    max_line: usize,
}

impl JsonlSource {
    pub(super) fn open(path: &Path, encoding: Encoding) -> Result<JsonlSource, InputError> {
        let open_err = |source| InputError::Open {
            path: path.to_owned(),
            source,
        };
        let mut file = File::open(path).map_err(open_err)?;
        let mut bom = Vec::new();
        (&mut file)
            .take(4)
            .read_to_end(&mut bom)
            .map_err(open_err)?;
        file.seek(SeekFrom::Start(0)).map_err(open_err)?;
        let encoding = Encoding::of_file(&bom, encoding);
        let source = if encoding.is_utf8() {
            Utf8Source::Raw(file)
        } else {
            Utf8Source::Decoded(Box::new(transcoder(file, encoding)))
        };
        Ok(JsonlSource {
            path: path.to_owned(),
            reader: BufReader::with_capacity(64 * 1024, source),
            encoding,
            buf: Vec::new(),
            line: 0,
            consumed: 0,
            max_line: MAX_LINE_BYTES,
        })
    }

    /// Reads the next non-blank line into `record`; false at the end of the file.
    pub(super) fn read_into(&mut self, record: &mut Record) -> Result<bool, InputError> {
        loop {
            let read = self.read_line().map_err(|source| InputError::Read {
                path: self.path.clone(),
                line: self.line + 1,
                source,
            })?;
            self.line += 1;
            record.line = self.line;
            record.problem = None;
            match read {
                LineRead::Eof => return Ok(false),
                LineRead::TooLong => {
                    record.values = Values::Json(serde_json::Map::new());
                    record.problem = Some(RowProblem {
                        code: "line_too_long",
                        column: None,
                        message: format!(
                            "the line is longer than {} MB",
                            self.max_line / (1024 * 1024)
                        ),
                    });
                    return Ok(true);
                }
                LineRead::Line => {}
            }
            let mut bytes = self.buf.as_slice();
            if self.line == 1 {
                bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
            }
            if bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let (values, problem) = parse_object(bytes, self.encoding);
            record.values = Values::Json(values);
            record.problem = problem;
            return Ok(true);
        }
    }

    pub(super) fn bytes_read(&self) -> u64 {
        self.consumed
    }

    /// Reads one physical line into `buf`, keeping at most `max_line` bytes.
    fn read_line(&mut self) -> io::Result<LineRead> {
        self.buf.clear();
        let mut any = false;
        let mut too_long = false;
        loop {
            let available = self.reader.fill_buf()?;
            if available.is_empty() {
                return Ok(match (any, too_long) {
                    (false, _) => LineRead::Eof,
                    (true, true) => LineRead::TooLong,
                    (true, false) => LineRead::Line,
                });
            }
            any = true;
            let newline = available.iter().position(|&b| b == b'\n');
            let chunk = &available[..newline.map_or(available.len(), |i| i + 1)];
            if !too_long {
                if self.buf.len() + chunk.len() > self.max_line + 2 {
                    too_long = true;
                    self.buf = Vec::new();
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            let used = chunk.len();
            self.reader.consume(used);
            self.consumed += used as u64;
            if newline.is_some() {
                if too_long {
                    return Ok(LineRead::TooLong);
                }
                while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
                    self.buf.pop();
                }
                return Ok(LineRead::Line);
            }
        }
    }
}

/// Parses one line as a JSON object.
fn parse_object(
    bytes: &[u8],
    encoding: Encoding,
) -> (serde_json::Map<String, Value>, Option<RowProblem>) {
    let problem = |code, message| {
        (
            serde_json::Map::new(),
            Some(RowProblem {
                code,
                column: None,
                message,
            }),
        )
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(t) if encoding.is_utf8() || !t.contains('\u{FFFD}') => t,
        Ok(_) => {
            return problem(
                "invalid_encoding",
                format!("the line holds bytes that are not valid {encoding}"),
            )
        }
        Err(_) => {
            return problem(
                "invalid_encoding",
                "the line is not valid UTF-8; if the file comes from Excel, try --encoding windows-1252"
                    .to_owned(),
            )
        }
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => (map, None),
        Ok(other) => problem(
            "not_an_object",
            format!(
                "the line is a JSON {}, not an object",
                match other {
                    Value::Array(_) => "array",
                    Value::String(_) => "string",
                    Value::Number(_) => "number",
                    Value::Bool(_) => "boolean",
                    _ => "null",
                }
            ),
        ),
        Err(e) => problem("invalid_json", format!("the line is not valid JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn source(content: &[u8], max_line: usize) -> (tempfile::NamedTempFile, JsonlSource) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content).unwrap();
        let mut src = JsonlSource::open(f.path(), Encoding::UTF_8).unwrap();
        src.max_line = max_line;
        (f, src)
    }

    fn read_all(src: &mut JsonlSource) -> Vec<(u64, Option<&'static str>, usize)> {
        let mut record = Record {
            line: 0,
            values: Values::Json(serde_json::Map::new()),
            problem: None,
        };
        let mut out = Vec::new();
        while src.read_into(&mut record).unwrap() {
            let n = match &record.values {
                Values::Json(m) => m.len(),
                Values::Csv(_) => 99,
            };
            out.push((record.line, record.problem.as_ref().map(|p| p.code), n));
        }
        out
    }

    #[test]
    fn skips_blank_lines_and_keeps_line_numbers() {
        let (_f, mut src) = source(
            b"\xef\xbb\xbf{\"a\":1}\r\n\n  \n{\"a\":1,\"b\":[1,{\"c\":2}]}",
            1000,
        );
        assert_eq!(read_all(&mut src), vec![(1, None, 1), (4, None, 2)]);
    }

    #[test]
    fn non_objects_and_broken_lines_are_row_problems() {
        let (_f, mut src) = source(b"[1,2]\n42\n{\"a\":\n{\"ok\":true}\n", 1000);
        assert_eq!(
            read_all(&mut src),
            vec![
                (1, Some("not_an_object"), 0),
                (2, Some("not_an_object"), 0),
                (3, Some("invalid_json"), 0),
                (4, None, 1)
            ]
        );
    }

    #[test]
    fn an_overlong_line_is_skipped_not_stored() {
        let long = format!("{{\"a\":\"{}\"}}\n{{\"b\":1}}\n", "x".repeat(200_000));
        let (_f, mut src) = source(long.as_bytes(), 1000);
        assert_eq!(
            read_all(&mut src),
            vec![(1, Some("line_too_long"), 0), (2, None, 1)]
        );
        assert!(src.buf.capacity() < 10_000);
    }

    #[test]
    fn invalid_utf8_names_the_encoding_flag() {
        let (_f, mut src) = source(b"{\"a\":\"caf\xe9\"}\n", 1000);
        let mut record = Record {
            line: 0,
            values: Values::Json(serde_json::Map::new()),
            problem: None,
        };
        assert!(src.read_into(&mut record).unwrap());
        let p = record.problem.unwrap();
        assert_eq!(p.code, "invalid_encoding");
        assert!(p.message.contains("--encoding windows-1252"));
    }
}
