//! The per-field hashes of the payload a user was last synced with (`synced_users.field_hashes`):
//! enough to tell which fields a new payload changes or empties, without keeping any value.
//!
//! Stored as a BLOB: one format byte ([`FORMAT`]), then the [postcard] encoding of the sorted
//! `(name, hash)` pairs: a varint count, and per field a varint length, the name's bytes and the
//! first 16 bytes of its keyed hash. For the fifteen fields of a MeetingLawyers user that is
//! about 430 bytes, where the JSON object written before (`{"email":"3f9a…",…}`, hashes in hex)
//! took 730: the column is most of a `synced_users` row, which is written once per synced user,
//! and every byte of it is written twice more (the WAL, then its checkpoint). Older ledgers
//! hold that JSON (TEXT); it is still read, and a row takes the new form when it is next written.
//! Sixteen bytes are plenty for telling a changed value from an unchanged one (two values share
//! them with a chance of 2^-128).
//!
//! In the `sqlite3` shell, `hex(field_hashes)` shows its bytes, each name as its ASCII codes, and
//! `instr(field_hashes, CAST('email' AS BLOB)) > 0` tells whether a field is there.

use rusqlite::types::ValueRef;
use serde::ser::{Serialize, Serializer};

use super::hash::ShortHash;
use crate::payload::{FieldName, Fields};

/// Field name -> the first 16 bytes of its keyed hash, names sorted and unique.
pub type FieldHashes = Fields<ShortHash>;

/// The first byte of the column's BLOB: the version of the encoding after it.
const FORMAT: u8 = 1;

/// The pairs as postcard encodes them: a sequence of `(name, [u8; 16])` tuples.
struct Pairs<'a>(&'a FieldHashes);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter())
    }
}

impl FieldHashes {
    /// The column's value: [`FORMAT`], then the postcard encoding of the pairs.
    pub fn to_blob(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(3 + self.iter().map(|(n, _)| n.len() + 18).sum::<usize>());
        out.push(FORMAT);
        // Writing into a `Vec` cannot fail, and every name and hash is serialisable.
        match postcard::to_extend(&Pairs(self), out) {
            Ok(out) => out,
            Err(e) => unreachable!("postcard cannot fail writing into a Vec: {e}"),
        }
    }

    /// Reads the column: the BLOB this build writes, or an older ledger's JSON text. `None`
    /// when it is neither.
    pub fn from_column(value: ValueRef<'_>) -> Option<FieldHashes> {
        match value {
            ValueRef::Blob([FORMAT, rest @ ..]) => {
                let pairs: Vec<(String, ShortHash)> = match postcard::take_from_bytes(rest) {
                    Ok((pairs, [])) => pairs,
                    _ => return None,
                };
                let entries: Vec<(FieldName, ShortHash)> = pairs
                    .into_iter()
                    .map(|(name, hash)| (FieldName::Owned(name), hash))
                    .collect();
                Some(FieldHashes::from_sorted(entries))
            }
            ValueRef::Text(json) => FieldHashes::from_json(std::str::from_utf8(json).ok()?),
            _ => None,
        }
    }

    /// Reads the JSON text of older ledgers: `{"name":"hex",...}`. Hashes of 32 bytes (the
    /// oldest ledgers) keep their first 16.
    fn from_json(json: &str) -> Option<FieldHashes> {
        let map: std::collections::BTreeMap<String, String> = serde_json::from_str(json).ok()?;
        let entries = map
            .into_iter()
            .map(|(name, hex_hash)| {
                let mut hash = ShortHash::default();
                match hex_hash.len() {
                    32 => hex::decode_to_slice(&hex_hash, &mut hash).ok()?,
                    64 => {
                        let mut full = [0u8; 32];
                        hex::decode_to_slice(&hex_hash, &mut full).ok()?;
                        hash.copy_from_slice(&full[..16]);
                    }
                    _ => return None,
                }
                Some((FieldName::Owned(name), hash))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(FieldHashes::from_sorted(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes the BLOB by the format's description alone (a format byte, a count, then each
    /// name's length, its bytes and 16 bytes of hash), not through postcard, so that a change
    /// of encoding fails here.
    fn decode_by_hand(blob: &[u8]) -> Vec<(String, [u8; 16])> {
        assert_eq!(blob[0], 1, "format byte");
        // Every count and length in these tests is below 128: a varint of one byte.
        let count = usize::from(blob[1]);
        let mut at = 2;
        let mut pairs = Vec::new();
        for _ in 0..count {
            let len = usize::from(blob[at]);
            assert!(len < 128);
            let name = String::from_utf8(blob[at + 1..at + 1 + len].to_vec()).unwrap();
            at += 1 + len;
            pairs.push((name, blob[at..at + 16].try_into().unwrap()));
            at += 16;
        }
        assert_eq!(at, blob.len(), "nothing after the last hash");
        pairs
    }

    fn sample() -> FieldHashes {
        FieldHashes::from_sorted(vec![
            ("we\"ird\\name".into(), [0xff; 16]),
            ("email".into(), [0xab; 16]),
            ("first_name".into(), [0x01; 16]),
        ])
    }

    #[test]
    fn the_blob_is_the_format_byte_then_each_name_and_its_16_bytes() {
        let blob = sample().to_blob();
        assert_eq!(
            decode_by_hand(&blob),
            [
                ("email".to_string(), [0xab; 16]),
                ("first_name".to_string(), [0x01; 16]),
                ("we\"ird\\name".to_string(), [0xff; 16]),
            ]
        );
        assert_eq!(
            blob.len(),
            1 + 1 + (1 + 5 + 16) + (1 + 10 + 16) + (1 + 11 + 16)
        );
        assert_eq!(
            FieldHashes::from_column(ValueRef::Blob(&blob)),
            Some(sample())
        );
        assert_eq!(FieldHashes::default().to_blob(), [1, 0]);
        assert_eq!(
            FieldHashes::from_column(ValueRef::Blob(&[1, 0])),
            Some(FieldHashes::default())
        );
    }

    #[test]
    fn a_damaged_or_unknown_blob_is_refused() {
        let blob = sample().to_blob();
        assert_eq!(
            FieldHashes::from_column(ValueRef::Blob(&blob[..blob.len() - 1])),
            None
        );
        let mut longer = blob.clone();
        longer.push(0);
        assert_eq!(FieldHashes::from_column(ValueRef::Blob(&longer)), None);
        let mut other_format = blob;
        other_format[0] = 2;
        assert_eq!(
            FieldHashes::from_column(ValueRef::Blob(&other_format)),
            None
        );
        assert_eq!(FieldHashes::from_column(ValueRef::Blob(&[])), None);
        assert_eq!(FieldHashes::from_column(ValueRef::Integer(1)), None);
    }

    #[test]
    fn an_older_ledgers_json_is_still_read() {
        let json = format!(
            r#"{{"email":"{}","first_name":"{}","we\"ird\\name":"{}"}}"#,
            "ab".repeat(16),
            "01".repeat(16),
            "ff".repeat(16)
        );
        assert_eq!(
            FieldHashes::from_column(ValueRef::Text(json.as_bytes())),
            Some(sample())
        );
        // The oldest kept all 32 bytes: read as their first 16.
        let old = format!(r#"{{"email":"{}{}"}}"#, "ab".repeat(16), "cd".repeat(16));
        let read = FieldHashes::from_column(ValueRef::Text(old.as_bytes())).unwrap();
        assert_eq!(read.get("email"), Some(&[0xab; 16]));
        assert_eq!(read.keys().collect::<Vec<_>>(), ["email"]);
        assert_eq!(
            FieldHashes::from_column(ValueRef::Text(br#"{"email":"abc"}"#)),
            None
        );
        assert_eq!(FieldHashes::from_column(ValueRef::Text(b"[1]")), None);
    }
}
