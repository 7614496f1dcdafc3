//! Which character encoding an export is in, and the reader that turns any of them into UTF-8.
//!
//! Every label `encoding_rs` knows is accepted (`iso-8859-15`, `windows-1250`, `utf-16le`, ...).
//! A file's byte order mark wins over the flag: Excel's "Unicode text" save is UTF-16 LE with a
//! BOM, and nobody should have to say so. UTF-8 files are never transcoded: the readers take
//! their bytes as they are (the fast path); every other encoding is decoded to UTF-8 as a stream,
//! with `encoding_rs_io`, before the CSV or JSONL reader sees it.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::str::FromStr;

use encoding_rs_io::{DecodeReaderBytes, DecodeReaderBytesBuilder};

/// The character encoding of an export: any encoding of the WHATWG Encoding Standard.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Encoding(&'static encoding_rs::Encoding);

impl Encoding {
    pub const UTF_8: Encoding = Encoding(encoding_rs::UTF_8);
    /// Common in Spanish Excel exports ("CSV (delimitado por comas)"); `latin1` and
    /// `iso-8859-1` name it too, as the WHATWG standard says.
    pub const WINDOWS_1252: Encoding = Encoding(encoding_rs::WINDOWS_1252);

    /// The encoding a label names (`utf-8`, `cp1252`, `ISO-8859-15`, `utf_16le`, ...).
    pub fn for_label(label: &str) -> Option<Encoding> {
        let label = label.trim();
        let found = encoding_rs::Encoding::for_label(label.as_bytes())
            .or_else(|| encoding_rs::Encoding::for_label(label.replace('_', "-").as_bytes()))?;
        // The "replacement" encoding stands for labels (ISO-2022-KR, HZ) no decoder reads.
        (found != encoding_rs::REPLACEMENT).then_some(Encoding(found))
    }

    /// Whether this is UTF-8, read without transcoding.
    pub fn is_utf8(self) -> bool {
        self.0 == encoding_rs::UTF_8
    }

    /// The `encoding_rs` encoding.
    pub fn get(self) -> &'static encoding_rs::Encoding {
        self.0
    }

    /// The encoding a file starting with `head` is read in: the one its byte order mark
    /// announces, else `given`.
    pub(super) fn of_file(head: &[u8], given: Encoding) -> Encoding {
        encoding_rs::Encoding::for_bom(head).map_or(given, |(e, _)| Encoding(e))
    }
}

impl Default for Encoding {
    fn default() -> Self {
        Encoding::UTF_8
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.name().to_ascii_lowercase())
    }
}

impl fmt::Debug for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Encoding({})", self.0.name())
    }
}

impl FromStr for Encoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Encoding::for_label(s).ok_or_else(|| {
            format!(
                "unknown encoding `{s}`: expected an encoding label such as utf-8, windows-1252, \
                 iso-8859-15, windows-1250 or utf-16le"
            )
        })
    }
}

/// `file` decoded from `encoding` to UTF-8 as it is read, its BOM (if any) left out. Bytes not
/// valid in the encoding become U+FFFD, which the readers report as `invalid_encoding`.
pub(super) fn transcoder(file: File, encoding: Encoding) -> DecodeReaderBytes<File, Vec<u8>> {
    DecodeReaderBytesBuilder::new()
        .encoding(Some(encoding.get()))
        .strip_bom(true)
        .build(file)
}

/// The file as the readers see it: its own bytes (UTF-8), or decoded to UTF-8.
pub(super) enum Utf8Source {
    Raw(File),
    Decoded(Box<DecodeReaderBytes<File, Vec<u8>>>),
}

impl Read for Utf8Source {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Utf8Source::Raw(f) => f.read(buf),
            Utf8Source::Decoded(d) => d.read(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_whatwg_label_parses_and_others_do_not() {
        assert_eq!("UTF-8".parse::<Encoding>(), Ok(Encoding::UTF_8));
        assert_eq!("utf8".parse::<Encoding>(), Ok(Encoding::UTF_8));
        assert_eq!("cp1252".parse::<Encoding>(), Ok(Encoding::WINDOWS_1252));
        assert_eq!("latin1".parse::<Encoding>(), Ok(Encoding::WINDOWS_1252));
        assert_eq!(
            "windows_1252".parse::<Encoding>(),
            Ok(Encoding::WINDOWS_1252)
        );
        let latin9: Encoding = "iso-8859-15".parse().unwrap();
        assert_eq!(latin9.get(), encoding_rs::ISO_8859_15);
        assert_eq!(latin9.to_string(), "iso-8859-15");
        let utf16: Encoding = "utf-16le".parse().unwrap();
        assert_eq!(utf16.get(), encoding_rs::UTF_16LE);
        let err = "ebcdic".parse::<Encoding>().unwrap_err();
        assert!(err.contains("unknown encoding `ebcdic`"), "{err}");
        assert!("iso-2022-kr".parse::<Encoding>().is_err());
    }

    #[test]
    fn a_bom_wins_over_the_given_encoding() {
        let given = Encoding::WINDOWS_1252;
        assert_eq!(
            Encoding::of_file(b"\xff\xfei\x00d\x00", given).get(),
            encoding_rs::UTF_16LE
        );
        assert_eq!(
            Encoding::of_file(b"\xfe\xff\x00i", given).get(),
            encoding_rs::UTF_16BE
        );
        assert_eq!(Encoding::of_file(b"\xef\xbb\xbfid", given), Encoding::UTF_8);
        assert_eq!(Encoding::of_file(b"id,email", given), given);
    }
}
