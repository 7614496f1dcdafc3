//! The mock's users, in memory: what every provider's routes read and change.
//!
//! Users are kept by the provider's own id (MeetingLawyers: the integrator's `user_id`; GNOSS: a
//! GUID it hands out; Faveo and Abitmedia: integers from 1). Unique fields (e.g. `email`) are
//! indexed so that a duplicate is a conflict, as the real APIs answer, even with tens of
//! thousands of users. Every change is counted per user and kept in a short per-user history,
//! so that tests can assert "no user was created twice" and "exactly these fields arrived".
//!
//! [`Store::export`] and [`Store::import`] copy the users out and back in, so that the
//! in-process mock of `base_url = "mock"` can keep them between runs like a real provider.

use std::collections::{BTreeMap, HashMap};

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::payload::Payload;

/// At most this many requests are kept in one user's history (the oldest are dropped).
pub const HISTORY_LIMIT: usize = 64;

/// Mixed into the seed so that GUIDs do not follow the fault generator's sequence.
const GUID_SEED_SALT: u64 = 0x6775_6964;

/// How a new user's id is chosen.
#[derive(Debug, Clone)]
pub enum IdKind {
    /// The client names the user (MeetingLawyers `user_id`).
    Given(String),
    /// The next integer, from 1 (Faveo, Abitmedia).
    Integer,
    /// A fresh GUID (GNOSS), from the store's seeded generator.
    Guid,
}

/// What a request did to a user, for the per-user counts (`create`, `update`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Create,
    /// A full update: every field sent.
    Update,
    /// A partial update: only some fields sent.
    Patch,
    Deactivate,
    Reactivate,
}

impl Change {
    /// The name used in counts and histories.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Create => "create",
            Change::Update => "update",
            Change::Patch => "patch",
            Change::Deactivate => "deactivate",
            Change::Reactivate => "reactivate",
        }
    }

    /// What an update that carries the user's status did, by its effect on the user's access:
    /// a deactivation when it turned access off, a reactivation when it turned it on, else
    /// `otherwise`. For the routes that (de)activate through an update (MeetingLawyers,
    /// Abitmedia).
    pub fn by_access(was_active: bool, now_active: bool, otherwise: Change) -> Change {
        match (was_active, now_active) {
            (true, false) => Change::Deactivate,
            (false, true) => Change::Reactivate,
            _ => otherwise,
        }
    }
}

/// One request that changed a user, as the mock received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub change: Change,
    pub method: String,
    /// The path and query, without the leading slash.
    pub path: String,
    /// The names of the fields in the request body, sorted.
    pub fields: Vec<String>,
}

impl RequestRecord {
    /// A record of `method path` carrying `body`.
    pub fn new(change: Change, method: &http::Method, path: &str, body: &Payload) -> Self {
        RequestRecord {
            change,
            method: method.to_string(),
            path: path.trim_start_matches('/').to_string(),
            fields: body.keys().map(str::to_owned).collect(),
        }
    }
}

/// One stored user, as `GET /__mock/users` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredUser {
    /// The provider's id for the user.
    pub id: String,
    pub active: bool,
    /// The user's current fields.
    pub fields: Payload,
    /// How many requests of each kind changed this user (`{"create":1,"update":2}`).
    pub counts: BTreeMap<String, u32>,
    /// The field names of the last request that changed this user.
    pub last_fields: Vec<String>,
    /// The requests that changed this user, oldest first (at most [`HISTORY_LIMIT`]).
    pub history: Vec<RequestRecord>,
}

impl StoredUser {
    /// How many times this user was changed by requests of kind `change`.
    pub fn count(&self, change: Change) -> u32 {
        self.counts.get(change.as_str()).copied().unwrap_or(0)
    }

    fn record(&mut self, request: RequestRecord) {
        *self
            .counts
            .entry(request.change.as_str().to_string())
            .or_default() += 1;
        self.last_fields = request.fields.clone();
        if self.history.len() == HISTORY_LIMIT {
            self.history.remove(0);
        }
        self.history.push(request);
    }
}

/// Why the store refused a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// No user has this id.
    NotFound,
    /// A unique field's value (or the given id) already belongs to another user.
    Conflict { field: String },
}

/// The users of one mock server.
pub struct Store {
    users: HashMap<String, StoredUser>,
    /// Ids in creation order, so listings are stable.
    order: Vec<String>,
    /// (field, normalised value) -> id, for every unique field.
    unique: HashMap<(String, String), String>,
    /// The fields whose values must be unique across users.
    unique_fields: &'static [&'static str],
    /// (field, normalised value) -> ids, for the fields searched by value often (SCIM's
    /// `externalId`), so a search by one of them does not read every user.
    index: HashMap<(String, String), Vec<String>>,
    indexed_fields: &'static [&'static str],
    next_integer: u64,
    rng: StdRng,
}

/// How a unique value is compared: trimmed, case-insensitive; empty values are not indexed.
fn unique_value(value: &serde_json::Value) -> Option<String> {
    let text = match value {
        serde_json::Value::String(s) => s.trim().to_lowercase(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

impl Store {
    /// An empty store. `unique_fields` are the provider's unique fields (e.g. `["email"]`);
    /// `seed` makes the generated GUIDs reproducible.
    pub fn new(unique_fields: &'static [&'static str], seed: u64) -> Self {
        Store {
            users: HashMap::new(),
            order: Vec::new(),
            unique: HashMap::new(),
            unique_fields,
            index: HashMap::new(),
            indexed_fields: &[],
            next_integer: 1,
            rng: StdRng::seed_from_u64(seed ^ GUID_SEED_SALT),
        }
    }

    /// Sets the unique fields (a provider's mock does this once, when it builds its routes).
    pub fn set_unique_fields(&mut self, fields: &'static [&'static str]) {
        self.unique_fields = fields;
        self.unique.clear();
        for id in &self.order {
            if let Some(user) = self.users.get(id) {
                for (field, value) in unique_pairs(fields, &user.fields) {
                    self.unique.insert((field, value), id.clone());
                }
            }
        }
    }

    /// Sets the fields searched by value without being unique, and indexes them.
    pub fn set_indexed_fields(&mut self, fields: &'static [&'static str]) {
        self.indexed_fields = fields;
        self.reindex();
    }

    fn reindex(&mut self) {
        self.index.clear();
        for id in &self.order {
            if let Some(user) = self.users.get(id) {
                for key in unique_pairs(self.indexed_fields, &user.fields) {
                    self.index.entry(key).or_default().push(id.clone());
                }
            }
        }
    }

    /// Takes `id` out of the index under `fields`. Borrows the index alone, so that the fields
    /// can be read from the stored user in place.
    fn unindex(
        index: &mut HashMap<(String, String), Vec<String>>,
        indexed_fields: &[&str],
        id: &str,
        fields: &Payload,
    ) {
        for key in unique_pairs(indexed_fields, fields) {
            if let Some(ids) = index.get_mut(&key) {
                ids.retain(|other| other != id);
            }
        }
    }

    fn add_to_index(&mut self, id: &str, fields: &Payload) {
        for key in unique_pairs(self.indexed_fields, fields) {
            self.index.entry(key).or_default().push(id.to_owned());
        }
    }

    /// The users whose indexed or unique `field` may hold `value` (compared trimmed and without
    /// regard to case: the caller compares exactly); `None` when `field` is neither.
    pub fn candidates(&self, field: &str, value: &str) -> Option<Vec<&StoredUser>> {
        // An empty value is not indexed: the caller reads every user.
        let key = (
            field.to_string(),
            unique_value(&serde_json::Value::String(value.to_string()))?,
        );
        if self.indexed_fields.contains(&field) {
            let ids = self.index.get(&key).map(Vec::as_slice).unwrap_or_default();
            return Some(ids.iter().filter_map(|id| self.users.get(id)).collect());
        }
        if self.unique_fields.contains(&field) {
            return Some(
                self.unique
                    .get(&key)
                    .and_then(|id| self.users.get(id))
                    .into_iter()
                    .collect(),
            );
        }
        None
    }

    /// The user with this id.
    pub fn get(&self, id: &str) -> Option<&StoredUser> {
        self.users.get(id)
    }

    /// The user whose unique `field` has `value` (compared as unique values are).
    pub fn find_by(&self, field: &str, value: &str) -> Option<&StoredUser> {
        let value = unique_value(&serde_json::Value::String(value.to_string()))?;
        let id = self.unique.get(&(field.to_string(), value))?;
        self.users.get(id)
    }

    /// Every user, in creation order.
    pub fn users(&self) -> Vec<StoredUser> {
        self.order
            .iter()
            .filter_map(|id| self.users.get(id).cloned())
            .collect()
    }

    /// Every user, in creation order, read in place (for a search over all of them).
    pub fn iter(&self) -> impl Iterator<Item = &StoredUser> {
        self.order.iter().filter_map(|id| self.users.get(id))
    }

    /// How many users are stored.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no user is stored.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn first_conflict(&self, fields: &Payload, own_id: Option<&str>) -> Option<String> {
        unique_pairs(self.unique_fields, fields)
            .into_iter()
            .find(|key| {
                self.unique
                    .get(key)
                    .is_some_and(|holder| Some(holder.as_str()) != own_id)
            })
            .map(|(field, _)| field)
    }

    fn new_id(&mut self, kind: IdKind) -> String {
        match kind {
            IdKind::Given(id) => id,
            IdKind::Integer => {
                let id = self.next_integer;
                self.next_integer += 1;
                id.to_string()
            }
            IdKind::Guid => self.next_guid(),
        }
    }

    /// A fresh GUID from the store's seeded generator (lower-case, hyphenated).
    pub fn next_guid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.rng.fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// Creates a user with `fields`. A taken id (`id` as the field name) or unique value is a
    /// conflict and changes nothing.
    pub fn create(
        &mut self,
        id: IdKind,
        fields: Payload,
        active: bool,
        request: RequestRecord,
    ) -> Result<StoredUser, StoreError> {
        if let IdKind::Given(given) = &id {
            if self.users.contains_key(given) {
                return Err(StoreError::Conflict { field: "id".into() });
            }
        }
        if let Some(field) = self.first_conflict(&fields, None) {
            return Err(StoreError::Conflict { field });
        }
        let id = self.new_id(id);
        for key in unique_pairs(self.unique_fields, &fields) {
            self.unique.insert(key, id.clone());
        }
        let mut user = StoredUser {
            id: id.clone(),
            active,
            fields,
            counts: BTreeMap::new(),
            last_fields: Vec::new(),
            history: Vec::new(),
        };
        user.record(request);
        self.add_to_index(&id, &user.fields);
        self.order.push(id.clone());
        self.users.insert(id, user.clone());
        Ok(user)
    }

    /// Changes the user `id` with `apply` (which may edit its fields and `active` flag), unless
    /// the result takes another user's unique value: then nothing changes.
    pub fn update(
        &mut self,
        id: &str,
        request: RequestRecord,
        apply: impl FnOnce(&mut StoredUser),
    ) -> Result<StoredUser, StoreError> {
        let current = self.users.get(id).ok_or(StoreError::NotFound)?;
        let mut next = current.clone();
        apply(&mut next);
        next.id = id.to_string();
        if let Some(field) = self.first_conflict(&next.fields, Some(id)) {
            return Err(StoreError::Conflict { field });
        }
        for key in unique_pairs(self.unique_fields, &current.fields) {
            self.unique.remove(&key);
        }
        for key in unique_pairs(self.unique_fields, &next.fields) {
            self.unique.insert(key, id.to_string());
        }
        next.record(request);
        Self::unindex(&mut self.index, self.indexed_fields, id, &current.fields);
        self.add_to_index(id, &next.fields);
        self.users.insert(id.to_string(), next.clone());
        Ok(next)
    }

    /// Every user, in creation order, to be given back to [`Store::import`] later.
    pub fn export(&self) -> Vec<StoredUser> {
        self.users()
    }

    /// Replaces every user with `users` (as [`Store::export`] gave them): their fields, access,
    /// counts and histories. Integer ids continue after the largest one imported; unique values
    /// are indexed again (a later duplicate of an earlier user's value is not indexed).
    pub fn import(&mut self, users: Vec<StoredUser>) {
        self.users.clear();
        self.order.clear();
        self.unique.clear();
        self.next_integer = 1;
        for user in users {
            if self.users.contains_key(&user.id) {
                continue;
            }
            if let Ok(n) = user.id.parse::<u64>() {
                self.next_integer = self.next_integer.max(n.saturating_add(1));
            }
            for key in unique_pairs(self.unique_fields, &user.fields) {
                self.unique.entry(key).or_insert_with(|| user.id.clone());
            }
            self.order.push(user.id.clone());
            self.users.insert(user.id.clone(), user);
        }
        self.reindex();
    }

    /// Removes the user `id` (GNOSS `delete-user`).
    pub fn delete(&mut self, id: &str) -> Result<StoredUser, StoreError> {
        let user = self.users.remove(id).ok_or(StoreError::NotFound)?;
        for key in unique_pairs(self.unique_fields, &user.fields) {
            self.unique.remove(&key);
        }
        Self::unindex(&mut self.index, self.indexed_fields, id, &user.fields);
        self.order.retain(|other| other != id);
        Ok(user)
    }
}

fn unique_pairs(unique_fields: &[&str], fields: &Payload) -> Vec<(String, String)> {
    unique_fields
        .iter()
        .filter_map(|field| {
            let value = unique_value(fields.get(field)?)?;
            Some((field.to_string(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(value: serde_json::Value) -> Payload {
        value.as_object().unwrap().clone().into()
    }

    #[test]
    fn indexed_fields_find_their_users_through_changes() {
        let mut store = Store::new(&["email"], 1);
        store.set_indexed_fields(&["externalId"]);
        let body = payload(json!({"email": "a@x.es", "externalId": "E1"}));
        let ana = add(&mut store, IdKind::Integer, &body).unwrap();
        let body = payload(json!({"email": "b@x.es", "externalId": "e1"}));
        add(&mut store, IdKind::Integer, &body).unwrap();
        let ids = |store: &Store, value: &str| -> Vec<String> {
            let found = store.candidates("externalId", value).unwrap();
            found.into_iter().map(|u| u.id.clone()).collect()
        };
        assert_eq!(
            ids(&store, " E1 "),
            ["1", "2"],
            "trimmed, without regard to case"
        );
        store
            .update(&ana.id, record(Change::Update, &Payload::new()), |u| {
                u.fields.insert("externalId", json!("E9"));
            })
            .unwrap();
        assert_eq!(ids(&store, "E1"), ["2"]);
        assert_eq!(ids(&store, "E9"), ["1"]);
        store.delete("2").unwrap();
        assert!(ids(&store, "E1").is_empty());
        assert_eq!(
            ids(&store, "a@x.es").len(),
            0,
            "another field's values are not mixed in"
        );
        assert_eq!(store.candidates("email", "A@x.es").unwrap()[0].id, "1");
        assert!(
            store.candidates("name", "x").is_none(),
            "not indexed: read every user"
        );
        assert!(store.candidates("externalId", "  ").is_none());
        store.import(store.export());
        assert_eq!(ids(&store, "E9"), ["1"], "indexed again after an import");
    }

    /// Creates an active user with `body`, recorded as its create request.
    fn add(store: &mut Store, id: IdKind, body: &Payload) -> Result<StoredUser, StoreError> {
        store.create(id, body.clone(), true, record(Change::Create, body))
    }

    fn record(change: Change, body: &Payload) -> RequestRecord {
        RequestRecord::new(change, &http::Method::POST, "/users", body)
    }

    #[test]
    fn a_status_update_is_named_by_its_effect_on_access() {
        assert_eq!(
            Change::by_access(true, false, Change::Update),
            Change::Deactivate
        );
        assert_eq!(
            Change::by_access(false, true, Change::Patch),
            Change::Reactivate
        );
        assert_eq!(Change::by_access(true, true, Change::Patch), Change::Patch);
        assert_eq!(
            Change::by_access(false, false, Change::Update),
            Change::Update
        );
    }

    #[test]
    fn creates_count_and_conflict_on_unique_values() {
        let mut store = Store::new(&["email"], 1);
        let body = payload(json!({"email": "Ana@Example.com", "name": "Ana"}));
        let ana = add(&mut store, IdKind::Integer, &body).unwrap();
        assert_eq!(ana.id, "1");
        assert_eq!(ana.count(Change::Create), 1);
        assert_eq!(ana.last_fields, vec!["email", "name"]);
        let dup = payload(json!({"email": " ana@example.com"}));
        assert_eq!(
            add(&mut store, IdKind::Integer, &dup),
            Err(StoreError::Conflict {
                field: "email".into()
            })
        );
        assert_eq!(store.len(), 1);
        assert_eq!(store.find_by("email", "ANA@example.com").unwrap().id, "1");
    }

    #[test]
    fn an_exported_store_imports_whole() {
        let mut store = Store::new(&["email"], 1);
        for email in ["a@x.es", "b@x.es"] {
            let body = payload(json!({ "email": email }));
            add(&mut store, IdKind::Integer, &body).unwrap();
        }
        let json = serde_json::to_string(&store.export()).unwrap();
        let mut again = Store::new(&["email"], 2);
        again.import(serde_json::from_str(&json).unwrap());
        assert_eq!(again.users(), store.users());
        assert_eq!(again.find_by("email", "B@x.es").unwrap().id, "2");
        let dup = payload(json!({"email": "a@x.es"}));
        assert!(add(&mut again, IdKind::Integer, &dup).is_err());
        let next = payload(json!({"email": "c@x.es"}));
        let c = add(&mut again, IdKind::Integer, &next).unwrap();
        assert_eq!(c.id, "3", "integer ids go on after the imported ones");
    }

    #[test]
    fn given_ids_conflict_and_guids_are_seeded() {
        let mut store = Store::new(&[], 7);
        let body = Payload::new();
        add(&mut store, IdKind::Given("u1".into()), &body).unwrap();
        assert!(matches!(
            add(&mut store, IdKind::Given("u1".into()), &body),
            Err(StoreError::Conflict { .. })
        ));
        let a = add(&mut store, IdKind::Guid, &body).unwrap();
        let mut again = Store::new(&[], 7);
        let b = add(&mut again, IdKind::Guid, &body).unwrap();
        assert_eq!(a.id, b.id);
        assert!(uuid::Uuid::parse_str(&a.id).is_ok());
    }

    #[test]
    fn updates_move_unique_values_and_refuse_taken_ones() {
        let mut store = Store::new(&["email"], 1);
        for email in ["a@x.es", "b@x.es"] {
            let body = payload(json!({ "email": email }));
            add(&mut store, IdKind::Integer, &body).unwrap();
        }
        let body = payload(json!({"email": "b@x.es"}));
        assert_eq!(
            store
                .update("1", record(Change::Patch, &body), |u| {
                    u.fields.insert("email", json!("b@x.es"));
                })
                .unwrap_err(),
            StoreError::Conflict {
                field: "email".into()
            }
        );
        let body = payload(json!({"email": "c@x.es"}));
        let user = store
            .update("1", record(Change::Patch, &body), |u| {
                u.fields.insert("email", json!("c@x.es"));
                u.active = false;
            })
            .unwrap();
        assert!(!user.active);
        assert_eq!(user.count(Change::Patch), 1);
        assert_eq!(user.history.len(), 2);
        assert!(store.find_by("email", "a@x.es").is_none());
        assert_eq!(store.find_by("email", "c@x.es").unwrap().id, "1");
        assert_eq!(
            store.update("9", record(Change::Patch, &body), |_| {}),
            Err(StoreError::NotFound)
        );
        store.delete("1").unwrap();
        assert!(store.find_by("email", "c@x.es").is_none());
        assert_eq!(store.users().len(), 1);
    }
}
