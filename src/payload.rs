//! The canonical user payload: the JSON object a provider receives for one user.
//!
//! Its fields are kept sorted by name (byte order, as `serde_json::Map` without
//! `preserve_order` sorts them), so a payload serialises to one canonical byte string: the basis
//! of the ledger's hashes and diffs. It is a sorted vector rather than a `BTreeMap<String, _>`
//! because one is built, checked, hashed and sent for every row of the export: field names that
//! come from a provider's schema are borrowed (`&'static str`) instead of allocated per row,
//! and a mapper that produces its fields in order builds the payload without a single
//! comparison (see [`Payload::from_sorted`]).

use std::borrow::Cow;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A field's name: borrowed from a provider's schema, or owned (a wildcard field such as
/// `custom_3`, a payload read back from the ledger, a request body the mock received).
pub type FieldName = Cow<'static, str>;

/// Field name -> `V`, names sorted and unique: a [`Payload`], or the ledger's per-field hashes
/// ([`FieldHashes`](crate::ledger::FieldHashes)).
#[derive(Clone, PartialEq, Eq)]
pub struct Fields<V> {
    entries: Vec<(FieldName, V)>,
}

/// Provider field name -> JSON value, names sorted and unique.
pub type Payload = Fields<Value>;

impl<V> Default for Fields<V> {
    fn default() -> Self {
        Fields {
            entries: Vec::new(),
        }
    }
}

/// Whether `entries` are sorted by name without repeats.
fn sorted_unique<V>(entries: &[(FieldName, V)]) -> bool {
    entries.windows(2).all(|w| w[0].0 < w[1].0)
}

impl<V> Fields<V> {
    /// An empty payload.
    pub fn new() -> Self {
        Fields::default()
    }

    /// An empty payload with room for `n` fields.
    pub fn with_capacity(n: usize) -> Self {
        Fields {
            entries: Vec::with_capacity(n),
        }
    }

    /// A payload of `entries`, which the caller produced sorted by name without repeats (the
    /// mapper does: its fields are sorted once per file). Out-of-order entries are sorted, so a
    /// wrong caller costs time, never correctness.
    pub fn from_sorted(entries: Vec<(FieldName, V)>) -> Self {
        let mut payload = Fields { entries };
        if !sorted_unique(&payload.entries) {
            payload.normalise();
        }
        payload
    }

    /// A payload of `entries` that are sorted by name without repeats because their source
    /// is: a [`Mapper`](crate::mapping::Mapper) checks its field order once per file, then
    /// builds every row's payload with this, without comparing names again. Wrong input gives
    /// wrong lookups (never undefined behaviour); debug builds check it.
    pub(crate) fn from_sorted_unchecked(entries: Vec<(FieldName, V)>) -> Self {
        debug_assert!(sorted_unique(&entries));
        Fields { entries }
    }

    /// Sorts by name; of repeated names the last one wins, as with repeated inserts.
    fn normalise(&mut self) {
        // A stable sort keeps repeats in insertion order; then keep the last of each run.
        self.entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(FieldName, V)> = Vec::with_capacity(self.entries.len());
        for entry in self.entries.drain(..) {
            match out.last_mut() {
                Some(last) if last.0 == entry.0 => *last = entry,
                _ => out.push(entry),
            }
        }
        self.entries = out;
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(n, _)| n.as_ref().cmp(name))
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the payload has no field.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of field `name`.
    pub fn get(&self, name: &str) -> Option<&V> {
        self.find(name).ok().map(|i| &self.entries[i].1)
    }

    /// The value of field `name`, to change it.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut V> {
        self.find(name).ok().map(|i| &mut self.entries[i].1)
    }

    /// Whether the payload has field `name`.
    pub fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    /// Sets field `name`, returning its previous value.
    pub fn insert(&mut self, name: impl Into<FieldName>, value: V) -> Option<V> {
        let name = name.into();
        match self.find(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (name, value));
                None
            }
        }
    }

    /// Removes field `name`, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<V> {
        self.find(name).ok().map(|i| self.entries.remove(i).1)
    }

    /// Keeps only the fields for which `keep` says so.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &mut V) -> bool) {
        self.entries.retain_mut(|(name, value)| keep(name, value));
    }

    /// The fields in name order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&str, &V)> + ExactSizeIterator {
        self.entries.iter().map(|(n, v)| (n.as_ref(), v))
    }

    /// The fields in name order, values mutable.
    pub fn iter_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = (&str, &mut V)> + ExactSizeIterator {
        self.entries.iter_mut().map(|(n, v)| (&**n, v))
    }

    /// The fields in name order, names as stored (borrowed from a schema, or owned).
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = (&FieldName, &V)> + ExactSizeIterator {
        self.entries.iter().map(|(n, v)| (n, v))
    }

    /// The field names in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.entries.iter().map(|(n, _)| n.as_ref())
    }

    /// The values in name order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }
}

impl Payload {
    /// The payload as a JSON object.
    pub fn into_object(self) -> serde_json::Map<String, Value> {
        self.entries
            .into_iter()
            .map(|(n, v)| (n.into_owned(), v))
            .collect()
    }
}

impl<V: fmt::Debug> fmt::Debug for Fields<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// `payload["name"]`: the field's value, JSON null when the payload has no such field (as
/// indexing a `serde_json::Value` does; never a panic).
impl std::ops::Index<&str> for Payload {
    type Output = Value;

    fn index(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(name).unwrap_or(&NULL)
    }
}

impl<V> IntoIterator for Fields<V> {
    type Item = (FieldName, V);
    type IntoIter = std::vec::IntoIter<(FieldName, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<K: Into<FieldName>, V> FromIterator<(K, V)> for Fields<V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Fields::from_sorted(iter.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl<K: Into<FieldName>, V> Extend<(K, V)> for Fields<V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        // Appended, then sorted once: inserting one by one would be quadratic in a large body.
        self.entries
            .extend(iter.into_iter().map(|(k, v)| (k.into(), v)));
        if !sorted_unique(&self.entries) {
            self.normalise();
        }
    }
}

impl From<serde_json::Map<String, Value>> for Payload {
    fn from(object: serde_json::Map<String, Value>) -> Self {
        // The map is sorted already (no `preserve_order`); `from_sorted` checks it.
        Payload::from_sorted(object.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl From<Payload> for Value {
    fn from(payload: Payload) -> Self {
        Value::Object(payload.into_object())
    }
}

impl<V: Serialize> Serialize for Fields<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (name, value) in &self.entries {
            map.serialize_entry(name.as_ref(), value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PayloadVisitor;

        impl<'de> Visitor<'de> for PayloadVisitor {
            type Value = Payload;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Payload, A::Error> {
                let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0).min(256));
                while let Some((name, value)) = access.next_entry::<String, Value>()? {
                    entries.push((FieldName::Owned(name), value));
                }
                Ok(Payload::from_sorted(entries))
            }
        }

        deserializer.deserialize_map(PayloadVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> serde_json::Map<String, Value> {
        match v {
            Value::Object(o) => o,
            _ => unreachable!("an object literal"),
        }
    }

    #[test]
    fn serialises_exactly_as_a_sorted_json_object() {
        // The ledger's hashes of payloads synced before this type existed must still match.
        let o = object(
            json!({"zeta": 1, "Alpha": "x", "alpha": [1, 2], "é": null, "a_b": {"k": true}}),
        );
        let expected = serde_json::to_string(&o).unwrap();
        let mut built = Payload::new();
        for (k, v) in o.clone() {
            built.insert(k, v);
        }
        assert_eq!(serde_json::to_string(&built).unwrap(), expected);
        assert_eq!(serde_json::to_string(&Payload::from(o)).unwrap(), expected);
    }

    #[test]
    fn inserts_replace_and_out_of_order_input_is_sorted() {
        let p: Payload = [("b", json!(1)), ("a", json!(2)), ("b", json!(3))]
            .into_iter()
            .collect();
        assert_eq!(p.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            p.get("b"),
            Some(&json!(3)),
            "the last of a repeated name wins"
        );
        let mut p = p;
        assert_eq!(p.insert("a", json!(9)), Some(json!(2)));
        assert_eq!(p.insert(String::from("c"), json!(0)), None);
        assert_eq!(p.remove("b"), Some(json!(3)));
        assert_eq!(Value::from(p), json!({"a": 9, "c": 0}));
    }

    #[test]
    fn extending_keeps_the_order_and_the_last_value_of_a_name() {
        let mut p: Payload = [("b", json!(1))].into_iter().collect();
        p.extend([("a", json!(2)), ("b", json!(3)), ("c", json!(4))]);
        assert_eq!(Value::from(p), json!({"a": 2, "b": 3, "c": 4}));
    }

    #[test]
    fn round_trips_through_json() {
        let p: Payload = serde_json::from_str(r#"{"b": [1], "a": {"x": "y"}, "a": 2}"#).unwrap();
        assert_eq!(p.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(p.get("a"), Some(&json!(2)));
        assert!(serde_json::from_str::<Payload>("[1]").is_err());
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Payload>(&text).unwrap(), p);
    }
}
