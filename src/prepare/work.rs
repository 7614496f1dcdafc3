//! What one row of an export comes to on its own, apart from the rows around it: read problems,
//! the fingerprint and the known-row shortcut, mapping and validation, the key and where its user
//! is among the known users. It depends on nothing order-dependent, so the threads of
//! [`super::pipeline`] run it on many rows at once; the duplicate-key check, which depends on
//! every earlier row, is [`super::Rows`]' own, applied in file order.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use serde_json::Value;

use super::pipeline::Panic;
use super::{KnownRows, Position, PreparedRow, RowResult, ROW_FIELD};
use crate::input::{Cell, Column, Record};
use crate::ledger::{SourceHash, SourceHasher};
use crate::mapping::Mapper;
use crate::payload::Payload;
use crate::provider::RowRules;
use crate::validate::{self, Context, FieldError, Schema};

/// How a target turns one record into a row; shared by every thread that prepares rows.
pub(super) struct Prep {
    pub(super) mapper: Mapper,
    pub(super) schema: &'static Schema,
    pub(super) extra_required: Vec<String>,
    /// Fields a row takes from the target's options when it has none (GNOSS `community_id`).
    pub(super) option_fields: Payload,
    pub(super) key_field: String,
    pub(super) remote_id: Option<Column>,
    /// Set by [`super::Rows::fingerprint`] for a CSV export: the hasher and the columns it reads.
    pub(super) fingerprints: Option<(SourceHasher, Vec<Column>)>,
    /// The users a sync knows, whose rows skip mapping when their fingerprint is known.
    pub(super) known: Option<Arc<dyn KnownRows>>,
    /// What the target itself declares a row must be (SCIM's `/Schemas`), found out when a
    /// sync connects; checked after the provider's schema.
    pub(super) target_rules: Option<Arc<dyn RowRules>>,
    /// Test builds only: the line whose row panics (see [`injected_panic_line`]).
    #[cfg(debug_assertions)]
    pub(super) panic_at: Option<u64>,
}

/// Test builds only: the input line whose row panics as it is prepared, so that tests can break
/// a run inside. Read once per process; release builds never read it.
#[cfg(debug_assertions)]
pub(super) fn injected_panic_line() -> Option<u64> {
    static LINE: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    // USERSYNC_TEST_PANIC_AT_LINE=N: the row on input line N panics as it is prepared.
    *LINE.get_or_init(|| {
        std::env::var("USERSYNC_TEST_PANIC_AT_LINE")
            .ok()
            .and_then(|v| v.trim().parse().ok())
    })
}

/// One thread's means to prepare rows: the shared [`Prep`] and its own fingerprint buffers.
pub(super) struct Worker {
    prep: Arc<Prep>,
    hasher: Option<SourceHasher>,
    /// The fingerprints of a batch's rows (`None` for a row that has none).
    hashes: Vec<Option<SourceHash>>,
}

impl Worker {
    pub(super) fn new(prep: Arc<Prep>) -> Worker {
        let hasher = prep.fingerprints.as_ref().map(|(h, _)| h.clone());
        Worker {
            prep,
            hasher,
            hashes: Vec::new(),
        }
    }

    /// The rows of `records` into `rows`, in order, everything but the duplicate check; stops
    /// at the first panic, the rows before it prepared, and returns it. A row whose fingerprint
    /// is a known user's comes out [`RowResult::Known`] at that user's position, not mapped:
    /// whether it really is known (its user not seen earlier in the file) is decided in file
    /// order. The fingerprints of all the rows are looked up together (see
    /// [`KnownRows::find_many`]).
    pub(super) fn prepare(
        &mut self,
        records: &[Record],
        rows: &mut Vec<PreparedRow>,
    ) -> Option<Panic> {
        rows.clear();
        self.hashes.clear();
        let mut broke = None;
        for record in records {
            match panic::catch_unwind(AssertUnwindSafe(|| self.fingerprint(record))) {
                Ok(hash) => self.hashes.push(hash),
                Err(panic) => {
                    broke = Some(panic);
                    break;
                }
            }
        }
        let prep = Arc::clone(&self.prep);
        let mut found = Vec::new();
        match &prep.known {
            Some(known) => known.find_many(&self.hashes, &mut found),
            None => found.resize(self.hashes.len(), None),
        }
        for ((record, hash), found) in records.iter().zip(&self.hashes).zip(found) {
            let row = || prep.prepare(record, *hash, found);
            match panic::catch_unwind(AssertUnwindSafe(row)) {
                Ok(row) => rows.push(row),
                Err(panic) => return Some(panic),
            }
        }
        broke
    }

    /// The fingerprint of a row read cleanly, when the rows are fingerprinted.
    fn fingerprint(&mut self, record: &Record) -> Option<SourceHash> {
        let (hasher, (_, columns)) = (self.hasher.as_mut()?, self.prep.fingerprints.as_ref()?);
        if record.problem().is_some() {
            return None;
        }
        Some(hasher.hash(columns.iter().map(|c| match record.get(c) {
            Cell::Text(s) => s.as_bytes(),
            // A CSV row read cleanly has every column.
            Cell::Missing | Cell::Json(_) => &[],
        })))
    }
}

impl Prep {
    /// The row of `record`, fingerprinted `source_hash`, found among the known users at
    /// `found` (see [`Worker::prepare`]).
    fn prepare(
        &self,
        record: &Record,
        source_hash: Option<SourceHash>,
        found: Option<(usize, &str)>,
    ) -> PreparedRow {
        let line = record.line;
        #[cfg(debug_assertions)]
        if self.panic_at == Some(line) {
            panic!("injected by USERSYNC_TEST_PANIC_AT_LINE on line {line}");
        }
        if let Some(problem) = record.problem() {
            return PreparedRow::new(
                line,
                None,
                Err(vec![FieldError::new(
                    ROW_FIELD,
                    problem.code,
                    problem.message.clone(),
                )]),
            );
        }
        if let Some((index, key)) = found {
            return PreparedRow {
                position: Position::At(index),
                source_hash,
                ..PreparedRow::new(line, Some(key.to_owned()), RowResult::Known)
            };
        }
        self.map(record, source_hash)
    }

    /// Maps and validates `record` (fingerprinted `source_hash`), and looks its user up among
    /// the known users.
    pub(super) fn map(&self, record: &Record, source_hash: Option<SourceHash>) -> PreparedRow {
        let mut errors = Vec::new();
        let mut payload = self.mapper.map(record, &mut errors);
        for (name, value) in self.option_fields.iter() {
            if !payload.contains_key(name) {
                payload.insert(name.to_owned(), value.clone());
            }
        }
        let remote_id = self
            .remote_id
            .as_ref()
            .map(|c| record.get(c).to_text().trim().to_owned())
            .filter(|s| !s.is_empty());
        // A full payload: the fields required on create are required here too.
        let ctx = Context {
            extra_required: &self.extra_required,
            partial: false,
        };
        let mut rule_errors = validate::validate(self.schema, &mut payload, &ctx);
        // A field that could not be mapped is absent: do not also call it "required".
        rule_errors.retain(|e| !errors.iter().any(|m| m.field == e.field));
        errors.append(&mut rule_errors);
        if let Some(rules) = &self.target_rules {
            for error in rules.check(&payload) {
                if !errors.iter().any(|e| e.field == error.field) {
                    errors.push(error);
                }
            }
        }
        let key = payload.get(&self.key_field).and_then(key_text);
        let position = match (&key, &self.known) {
            (Some(k), Some(known)) => known.position(k).map_or(Position::Absent, Position::At),
            _ => Position::NotLookedUp,
        };
        let result = if errors.is_empty() {
            RowResult::Valid(payload)
        } else {
            RowResult::Invalid(errors)
        };
        PreparedRow {
            remote_id,
            source_hash,
            position,
            ..PreparedRow::new(record.line, key, result)
        }
    }
}

/// A key value as text (`"E1"`, `42`, `true`); `None` for null, and for a list or an object
/// (a hostile JSONL value, which validation rejects anyway: it names no user).
fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::Null | Value::Array(_) | Value::Object(_) => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}
