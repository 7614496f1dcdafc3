//! Keyed hashes of payloads and fields: how the ledger remembers what it sent without keeping it.
//!
//! Every hash is an HMAC-SHA256 keyed with the 32 random bytes created with the ledger
//! (`meta.hmac_key`), so a stolen ledger does not let anyone confirm a guessed value (an email,
//! a DNI) against its hash, and two ledgers hash the same payload differently. The input is the
//! canonical `serde_json` serialisation (keys sorted: a [`Payload`] keeps its fields in name
//! order), written straight into the MAC without an intermediate buffer.

use std::fmt;
use std::io;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::field_hashes::FieldHashes;
use crate::payload::Payload;

type HmacSha256 = Hmac<Sha256>;

/// One 32-byte keyed hash.
pub type Hash = [u8; 32];

/// Domain separation: a payload hash and a field hash can never be equal by construction.
const PAYLOAD_TAG: &[u8] = b"usersync payload v1\0";
const FIELD_TAG: &[u8] = b"usersync field v1\0";
const SOURCE_TAG: &[u8] = b"usersync source v1\0";

/// The first 16 bytes of a [`Hash`]: what the in-memory snapshot keeps of each payload hash
/// (half the memory; two different payloads still share one with a chance of 2^-128).
pub type ShortHash = [u8; 16];

/// The first 16 bytes of `hash`.
pub fn short(hash: &Hash) -> ShortHash {
    let mut out = [0u8; 16];
    out.copy_from_slice(&hash[..16]);
    out
}

/// The fingerprint of one export row: the first 16 bytes of a keyed hash of the raw cells the
/// mapping reads, under a context (the target's mapping, the columns read, this build). Two rows with the
/// same fingerprint map and validate to the same payload; see [`SourceHasher`].
pub type SourceHash = ShortHash;

/// Computes the ledger's keyed hashes. Cheap to clone (the keyed state is copied, never
/// re-derived); `Debug` never shows the key.
#[derive(Clone)]
pub struct PayloadHasher {
    keyed: HmacSha256,
}

impl PayloadHasher {
    /// A hasher keyed with `key` (the ledger's secret).
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        // HMAC accepts keys of any length; `new_from_slice` cannot fail here.
        let keyed = match HmacSha256::new_from_slice(key) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        PayloadHasher { keyed }
    }

    /// The hash of a whole canonical payload, with the canonical JSON it hashed (what a sync
    /// records in the request's intent, so the payload is serialised once).
    pub fn hash_payload_json(&self, payload: &Payload) -> (Hash, String) {
        // Serialising a payload cannot fail: its keys are strings.
        let json = serde_json::to_string(payload).unwrap_or_else(|e| {
            tracing::error!(error = %e, "could not serialise a payload for hashing");
            String::new()
        });
        let mut mac = self.keyed.clone();
        mac.update(PAYLOAD_TAG);
        mac.update(json.as_bytes());
        (mac.finalize().into_bytes().into(), json)
    }

    /// The hash of a whole canonical payload.
    pub fn hash_payload(&self, payload: &Payload) -> Hash {
        self.hash_payload_json(payload).0
    }

    /// The hash of one field's value, its first 16 bytes (see [`FieldHashes`]). The field
    /// name is part of the input, so the same value in two fields hashes differently.
    pub fn hash_field(&self, name: &str, value: &Value) -> ShortHash {
        let mut mac = self.keyed.clone();
        mac.update(FIELD_TAG);
        mac.update(&(name.len() as u64).to_le_bytes());
        mac.update(name.as_bytes());
        write_json(&mut mac, value);
        let full: Hash = mac.finalize().into_bytes().into();
        short(&full)
    }

    /// Every field's hash, by name.
    /// A hasher of the raw rows of one file, for one target: `context` is everything besides a
    /// row's own fields that decides what payload the row becomes (the header, the mapping,
    /// the build), hashed in once.
    pub fn source_hasher(&self, context: &[u8]) -> SourceHasher {
        let mut keyed = self.keyed.clone();
        keyed.update(SOURCE_TAG);
        keyed.update(&(context.len() as u64).to_le_bytes());
        keyed.update(context);
        SourceHasher {
            keyed,
            buffer: Vec::new(),
        }
    }

    pub fn hash_fields(&self, payload: &Payload) -> FieldHashes {
        FieldHashes::from_sorted(
            payload
                .entries()
                .map(|(name, value)| (name.clone(), self.hash_field(name, value)))
                .collect(),
        )
    }
}

/// Fingerprints the raw rows of one file (see [`PayloadHasher::source_hasher`]). An unchanged
/// row of a nightly export is recognised by its fingerprint alone, without being mapped,
/// validated or serialised: the shortcut that keeps a re-sync of a million unchanged rows fast.
#[derive(Clone)]
pub struct SourceHasher {
    keyed: HmacSha256,
    /// The row's fields, each after its length, fed to the MAC in one go.
    buffer: Vec<u8>,
}

impl SourceHasher {
    /// The fingerprint of a row made of `fields`, in file order. Each field is length-prefixed,
    /// so no two different rows share their input (`a,bc` and `ab,c` differ).
    pub fn hash<'a>(&mut self, fields: impl IntoIterator<Item = &'a [u8]>) -> SourceHash {
        self.buffer.clear();
        for field in fields {
            self.buffer
                .extend_from_slice(&(field.len() as u64).to_le_bytes());
            self.buffer.extend_from_slice(field);
        }
        let mut mac = self.keyed.clone();
        mac.update(&self.buffer);
        if self.buffer.capacity() > 1 << 20 {
            // Do not keep a huge row's buffer for the rest of the run.
            self.buffer = Vec::new();
        }
        let full: Hash = mac.finalize().into_bytes().into();
        short(&full)
    }
}

impl fmt::Debug for SourceHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SourceHasher([redacted])")
    }
}

impl fmt::Debug for PayloadHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PayloadHasher([redacted])")
    }
}

thread_local! {
    /// The serialisation buffer of [`write_json`], one per thread, reused from row to row.
    static JSON: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Feeds the canonical JSON of `value` into the MAC in one piece: serialised first into a
/// buffer reused across calls (the serialiser writes a payload in dozens of tiny pieces, and
/// the MAC is fastest fed in one).
fn write_json<T: serde::Serialize + ?Sized>(mac: &mut HmacSha256, value: &T) {
    JSON.with(|buffer| {
        let Ok(mut buffer) = buffer.try_borrow_mut() else {
            // Re-entered (cannot happen: serialising never hashes): go without the buffer.
            return write_unbuffered(mac, value);
        };
        buffer.clear();
        // Serialising a JSON value into a Vec cannot fail: map keys are strings.
        if let Err(e) = serde_json::to_writer(&mut *buffer, value) {
            tracing::error!(error = %e, "could not serialise a payload for hashing");
        }
        mac.update(&buffer);
        if buffer.capacity() > 1 << 20 {
            // Do not keep a huge row's buffer for the rest of the run.
            *buffer = Vec::new();
        }
    })
}

fn write_unbuffered<T: serde::Serialize + ?Sized>(mac: &mut HmacSha256, value: &T) {
    struct MacWriter<'a>(&'a mut HmacSha256);
    impl io::Write for MacWriter<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    if let Err(e) = serde_json::to_writer(MacWriter(mac), value) {
        tracing::error!(error = %e, "could not serialise a payload for hashing");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_json_hashed_is_the_payloads_canonical_json_and_hashes_the_same() {
        let hasher = PayloadHasher::new(&[7; 32]);
        let p = payload(json!({"name": "Núñez \"N\"", "age": 42, "tags": ["a", null]}));
        let (hash, json) = hasher.hash_payload_json(&p);
        assert_eq!(hash, hasher.hash_payload(&p));
        assert_eq!(json, r#"{"age":42,"name":"Núñez \"N\"","tags":["a",null]}"#);
    }

    fn payload(v: Value) -> Payload {
        match v {
            Value::Object(map) => map.into(),
            _ => Payload::new(),
        }
    }

    #[test]
    fn same_payload_same_hash_whatever_the_insertion_order() {
        let h = PayloadHasher::new(&[7; 32]);
        let mut a = Payload::new();
        a.insert("b", json!(1));
        a.insert("a", json!("x"));
        let b = payload(json!({"a": "x", "b": 1}));
        assert_eq!(h.hash_payload(&a), h.hash_payload(&b));
    }

    #[test]
    fn a_changed_value_changes_the_hash() {
        let h = PayloadHasher::new(&[7; 32]);
        let a = payload(json!({"email": "ana@example.com"}));
        let b = payload(json!({"email": "ana@example.org"}));
        assert_ne!(h.hash_payload(&a), h.hash_payload(&b));
    }

    #[test]
    fn the_hash_is_the_hmac_of_the_canonical_json_however_long() {
        let h = PayloadHasher::new(&[7; 32]);
        let long = "x".repeat(2_000);
        let p = payload(json!({"a": "é\"\n", "b": long, "c": [1, 2, {"d": null}]}));
        let mut mac = HmacSha256::new_from_slice(&[7; 32]).unwrap();
        mac.update(PAYLOAD_TAG);
        mac.update(serde_json::to_string(&p).unwrap().as_bytes());
        let expected: Hash = mac.finalize().into_bytes().into();
        assert_eq!(h.hash_payload(&p), expected);
    }

    #[test]
    fn field_name_is_part_of_the_field_hash() {
        let h = PayloadHasher::new(&[7; 32]);
        assert_ne!(
            h.hash_field("first_name", &json!("Ana")),
            h.hash_field("last_name", &json!("Ana"))
        );
    }

    #[test]
    fn a_source_hash_depends_on_every_field_boundary_and_the_context() {
        let h = PayloadHasher::new(&[7; 32]);
        let mut row = h.source_hasher(b"header");
        let a = row.hash([&b"a"[..], b"bc"]);
        assert_eq!(a, row.hash([&b"a"[..], b"bc"]), "the same row twice");
        assert_ne!(a, row.hash([&b"ab"[..], b"c"]));
        assert_ne!(a, row.hash([&b"a"[..], b"bc", b""]));
        assert_ne!(a, h.source_hasher(b"other header").hash([&b"a"[..], b"bc"]));
        let other_key = PayloadHasher::new(&[8; 32]).source_hasher(b"header");
        assert_ne!(a, other_key.clone().hash([&b"a"[..], b"bc"]));
        assert_eq!(format!("{row:?}"), "SourceHasher([redacted])");
    }

    #[test]
    fn the_key_matters_and_is_not_shown() {
        let a = PayloadHasher::new(&[1; 32]);
        let b = PayloadHasher::new(&[2; 32]);
        let p = payload(json!({"email": "ana@example.com"}));
        assert_ne!(a.hash_payload(&p), b.hash_payload(&p));
        assert_eq!(format!("{a:?}"), "PayloadHasher([redacted])");
    }
}
