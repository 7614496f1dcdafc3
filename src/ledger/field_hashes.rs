//! The per-field hashes of the payload a user was last synced with (`synced_users.field_hashes`):
//! enough to tell which fields a new payload changes or empties, without keeping any value.
//!
//! Stored as a JSON object, field name -> hex of the first 16 bytes of the field's keyed hash
//! (`{"email":"3f9a…","first_name":"c01d…"}`), names sorted, so the column stays readable with
//! the `sqlite3` shell and its `json_each`. Rows written before migration 03 kept all 32 bytes
//! (64 hex digits); they are read as their first 16 bytes, so no row is rewritten. Sixteen
//! bytes are plenty for telling a changed value from an unchanged one (two values share them
//! with a chance of 2^-128), and they make each `synced_users` row, which is written once per
//! synced user, about a third smaller (BENCHMARKS.md).

use super::hash::ShortHash;
use crate::payload::{FieldName, Fields};

/// Field name -> the first 16 bytes of its keyed hash, names sorted and unique.
pub type FieldHashes = Fields<ShortHash>;

impl FieldHashes {
    /// The column's text: `{"name":"32 hex digits",...}`, exactly what `serde_json` writes for
    /// that map, written straight into one buffer (building the map cost a tenth of the
    /// writer's time).
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(2 + self.len() * 56);
        out.push('{');
        for (i, (name, hash)) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_string(&mut out, name);
            out.push_str(":\"");
            let mut hex = [0u8; 32];
            // 16 bytes always fit in 32 hex digits, which are ASCII.
            if hex::encode_to_slice(hash, &mut hex).is_ok() {
                out.extend(hex.iter().map(|&b| char::from(b)));
            }
            out.push('"');
        }
        out.push('}');
        out
    }

    /// Reads the column's text; hashes of 32 bytes (older ledgers) keep their first 16. `None`
    /// when it is not such an object.
    pub fn from_json(json: &str) -> Option<FieldHashes> {
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

/// Appends `s` as a JSON string, quoted and escaped as `serde_json` does.
fn push_json_string(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        // Field names with quotes or control characters are rare: let serde_json escape them.
        out.push_str(&serde_json::Value::from(s).to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_is_what_serde_json_writes_and_reads_back() {
        let hashes = FieldHashes::from_sorted(vec![
            ("we\"ird\\name".into(), [0xff; 16]),
            ("email".into(), [0xab; 16]),
            ("first_name".into(), [0x01; 16]),
        ]);
        let expected: serde_json::Map<String, serde_json::Value> = [
            ("email", "ab".repeat(16)),
            ("first_name", "01".repeat(16)),
            ("we\"ird\\name", "ff".repeat(16)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into()))
        .collect();
        let json = hashes.to_json();
        assert_eq!(json, serde_json::Value::Object(expected).to_string());
        assert_eq!(FieldHashes::from_json(&json), Some(hashes));
        assert_eq!(FieldHashes::default().to_json(), "{}");
    }

    #[test]
    fn an_older_ledgers_32_byte_hashes_are_read_as_their_first_16_bytes() {
        let old = format!(r#"{{"email":"{}{}"}}"#, "ab".repeat(16), "cd".repeat(16));
        let read = FieldHashes::from_json(&old).unwrap();
        assert_eq!(read.get("email"), Some(&[0xab; 16]));
        assert_eq!(read.keys().collect::<Vec<_>>(), ["email"]);
        assert_eq!(FieldHashes::from_json(r#"{"email":"abc"}"#), None);
        assert_eq!(FieldHashes::from_json("[1]"), None);
    }
}
