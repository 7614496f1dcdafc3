//! The canonical user payload: the JSON object a provider receives for one user.
//!
//! `serde_json::Map` is a `BTreeMap` here (no `preserve_order`), so keys are always sorted and a
//! payload serialises to one canonical byte string: the basis of the ledger's hashes and diffs.

/// Provider field name -> JSON value, keys sorted.
pub type Payload = serde_json::Map<String, serde_json::Value>;
