//! One export, one target -> a stream of validated rows: what `validate`, `plan` and `sync` all
//! consume.
//!
//! [`Rows`] opens the file, compiles the target's mapping against its header, then for every
//! record maps it, validates it with the provider's schema, and checks that its user key was not
//! already seen (the first occurrence is kept; every later one is rejected with `duplicate_key`).
//! A row that could not be read cleanly (ragged, bad bytes, not a JSON object) comes out as a
//! rejected row on the pseudo-field `_row`. Only file-level problems stop the stream.
//!
//! A sync also fingerprints every CSV row ([`Rows::fingerprint`]): a keyed hash of the raw cells
//! the mapping reads, and of the mapping. A row whose fingerprint is that of a user's last synced
//! row comes out at once as [`RowResult::Known`], without being mapped or validated: it can only
//! become the payload that was synced. This is what makes a nightly re-sync of an unchanged export cheap.

mod keys;
mod known;

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::config::Target;
use crate::input::{self, Cell, Column, Header, InputError, InputOptions, InputReader, Record};
use crate::ledger::{PayloadHasher, SourceHash, SourceHasher};
use crate::mapping::{Mapper, MappingError};
use crate::payload::Payload;
use crate::provider::RowRules;
use crate::validate::{self, Context, FieldError, Schema};
use keys::KeySet;
use known::{known_row, KnownUsers};
pub use known::{KnownRows, Position};

/// The pseudo-field that row-level input problems are reported on.
pub const ROW_FIELD: &str = "_row";

/// One row of the export, mapped and validated for a target.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedRow {
    /// The physical line where the row starts.
    pub line: u64,
    /// The value of the target's key field, when the row has one.
    pub key: Option<String>,
    /// What the row's cells came to.
    pub result: RowResult,
    /// The provider's id for the user, from the target's `remote_id_column`.
    pub remote_id: Option<String>,
    /// The row's fingerprint, when [`Rows::fingerprint`] asked for it (CSV rows read cleanly).
    pub source_hash: Option<SourceHash>,
    /// Where the row's user is among the known users, when [`Rows::fingerprint`] was given some
    /// (the duplicate check looks it up): the planner need not look it up again.
    pub position: Position,
}

/// What a row's cells came to.
#[derive(Debug, Clone, PartialEq)]
pub enum RowResult {
    /// Mapped and valid: the canonical payload.
    Valid(Payload),
    /// Mapped, with every problem of the row.
    Invalid(Vec<FieldError>),
    /// Neither mapped nor validated: the row's mapped cells are, byte for byte and under the
    /// same mapping, those its user was last synced from ([`Rows::fingerprint`]), so it can only
    /// become the payload that was synced. The row's `key` is that user's, at `position`.
    Known,
}

impl RowResult {
    /// Whether the row was mapped and is valid.
    pub fn is_valid(&self) -> bool {
        matches!(self, RowResult::Valid(_))
    }

    /// The payload of a valid row.
    pub fn payload(&self) -> Option<&Payload> {
        match self {
            RowResult::Valid(payload) => Some(payload),
            _ => None,
        }
    }

    /// The problems of an invalid row.
    pub fn errors(&self) -> Option<&[FieldError]> {
        match self {
            RowResult::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

impl From<Result<Payload, Vec<FieldError>>> for RowResult {
    fn from(result: Result<Payload, Vec<FieldError>>) -> Self {
        match result {
            Ok(payload) => RowResult::Valid(payload),
            Err(errors) => RowResult::Invalid(errors),
        }
    }
}

impl PreparedRow {
    /// A row of `line` with this key and result, and nothing else known about it.
    pub fn new(line: u64, key: Option<String>, result: impl Into<RowResult>) -> Self {
        PreparedRow {
            line,
            key,
            result: result.into(),
            remote_id: None,
            source_hash: None,
            position: Position::NotLookedUp,
        }
    }
}

/// Why an export cannot be prepared at all.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Input(#[from] InputError),
    /// The config names a column the file does not have.
    #[error(transparent)]
    Mapping(#[from] MappingError),
}

/// After this many rows with a key, the key set is sized for the whole file.
const SIZING_ROWS: u64 = 256;
/// The most keys reserved up front (about 1 GB of export); beyond, the set grows as it goes.
const MAX_RESERVED_KEYS: u64 = 10_000_000;

/// The prepared rows of one export for one target. Iterating yields every row in file order;
/// an `Err` is fatal (the file could not be read further) and ends the stream.
pub struct Rows {
    reader: InputReader,
    mapper: Mapper,
    schema: &'static Schema,
    extra_required: Vec<String>,
    /// Fields a row takes from the target's options when it has none (GNOSS `community_id`).
    option_fields: Payload,
    key_field: String,
    remote_id: Option<Column>,
    /// Every key seen so far, with the line it was first seen on.
    seen: KeySet,
    /// The size of the file, to size `seen` once from the first rows.
    file_len: u64,
    /// Rows with a key so far.
    keyed_rows: u64,
    /// Set once enough rows were read to size `seen`: the length of a key.
    size_key_set: Option<usize>,
    /// Set by [`Rows::fingerprint`] for a CSV export: the hasher and the columns it reads.
    fingerprints: Option<(SourceHasher, Vec<Column>)>,
    known: Option<KnownUsers>,
    /// What the target itself declares a row must be (SCIM's `/Schemas`), found out when a
    /// sync connects; checked after the provider's schema.
    target_rules: Option<Arc<dyn RowRules>>,
    done: bool,
    /// Test builds only: the line whose row panics (see [`injected_panic_line`]).
    #[cfg(debug_assertions)]
    panic_at: Option<u64>,
}

/// Test builds only: the input line whose mapping panics, so that tests can break a run
/// inside. Read once per process; release builds never read it.
#[cfg(debug_assertions)]
fn injected_panic_line() -> Option<u64> {
    static LINE: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    // USERSYNC_TEST_PANIC_AT_LINE=N: the row on input line N panics as it is prepared.
    *LINE.get_or_init(|| {
        std::env::var("USERSYNC_TEST_PANIC_AT_LINE")
            .ok()
            .and_then(|v| v.trim().parse().ok())
    })
}

impl Rows {
    /// Opens `path` and compiles `target`'s mapping against its header.
    pub fn open(
        path: &Path,
        target: &Target,
        options: &InputOptions,
    ) -> Result<Rows, PrepareError> {
        let reader = input::open(path, options)?;
        let mapper = Mapper::compile(target, reader.header(), path)?;
        let remote_id = match &target.remote_id_column {
            None => None,
            Some(name) => Some(reader.header().resolve(name).ok_or_else(|| MappingError {
                file: path.to_owned(),
                column: name.clone(),
                key: target.key_path("remote_id_column"),
                columns: crate::mapping::list_columns(reader.header()),
            })?),
        };
        Ok(Rows {
            reader,
            mapper,
            schema: target.provider.schema(),
            // A row without the key cannot be synced: `validate` says so as the sync would.
            extra_required: target
                .required
                .iter()
                .chain((!target.required.contains(&target.key)).then_some(&target.key))
                .cloned()
                .collect(),
            option_fields: target.provider.option_fields(&target.options),
            key_field: target.key.clone(),
            remote_id,
            seen: KeySet::default(),
            file_len: std::fs::metadata(path).map_or(0, |m| m.len()),
            keyed_rows: 0,
            size_key_set: None,
            fingerprints: None,
            known: None,
            target_rules: None,
            done: false,
            #[cfg(debug_assertions)]
            panic_at: injected_panic_line(),
        })
    }

    /// Fingerprints every CSV row from now on with the ledger's `hasher`: the cells of the
    /// columns `target`'s mapping reads (so an unmapped column, or the columns' order, does not
    /// matter), under that mapping. With `known`, a row whose fingerprint it holds skips
    /// mapping and validation (see [`PreparedRow::known`]). JSONL rows get no fingerprint.
    pub fn fingerprint(
        &mut self,
        hasher: &PayloadHasher,
        target: &Target,
        known: Option<Arc<dyn KnownRows>>,
    ) {
        let mut names = self.mapper.columns();
        names.extend(target.remote_id_column.as_deref());
        names.sort_unstable();
        names.dedup();
        // Everything besides the row's cells that decides its payload: this build's rules, the
        // provider and the mapping, and which columns are read.
        let context = format!(
            "{}\0{}\0{}\0{:?}\0{:?}\0{:?}\0{:?}\0{:?}",
            env!("CARGO_PKG_VERSION"),
            target.provider.name(),
            target.key,
            target.fields,
            target.required,
            target.remote_id_column,
            names,
            self.option_fields,
        );
        let header = self.reader.header();
        let columns = names.iter().map(|n| header.resolve(n));
        // A CSV header has every mapped column (`Rows::open` checked it); JSONL has no header.
        self.fingerprints = match (header.names(), columns.collect::<Option<Vec<Column>>>()) {
            (Some(_), Some(columns)) => Some((hasher.source_hasher(context.as_bytes()), columns)),
            _ => None,
        };
        self.known = known.filter(|k| !k.is_empty()).map(|users| KnownUsers {
            first_lines: vec![0; users.len()],
            users,
        });
    }

    /// Checks every row from now on against `rules` too (what the target declares).
    pub fn check_target_rules(&mut self, rules: Option<Arc<dyn RowRules>>) {
        self.target_rules = rules;
    }

    /// The export's columns.
    pub fn header(&self) -> &Header {
        self.reader.header()
    }

    /// The columns that describe a row of this export in a report (the rejects file): the CSV
    /// header, or for JSONL the columns the mapping reads.
    pub fn source_columns(&self) -> Vec<String> {
        match self.reader.header().names() {
            Some(names) => names.to_vec(),
            None => self
                .mapper
                .columns()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        }
    }

    /// The raw record of the row last returned (its original columns, for `--rejects`).
    pub fn record(&self) -> &Record {
        self.reader.current()
    }

    /// Reserves room for the keys of the rest of the file, estimated from the bytes read so far,
    /// so that the set is not rebuilt again and again as it grows.
    fn size_key_set(&mut self, key_len: usize) {
        let read = self.reader.bytes_read();
        if read == 0 || self.file_len <= read {
            return;
        }
        let expected = (self.file_len as f64 / read as f64 * self.keyed_rows as f64) as u64;
        let more = expected
            .min(MAX_RESERVED_KEYS)
            .saturating_sub(self.seen.len() as u64);
        tracing::trace!(expected, "sizing the key set");
        self.seen
            .reserve(usize::try_from(more).unwrap_or(0), key_len);
    }

    /// Counts a row with a key, and once [`SIZING_ROWS`] were, sizes the key set for the whole
    /// file (at the next row: the reader is busy with this one).
    fn count_key(&mut self, key_len: usize) {
        self.keyed_rows += 1;
        if self.keyed_rows == SIZING_ROWS {
            self.size_key_set = Some(key_len);
        }
    }

    fn prepare(&mut self) -> Result<Option<PreparedRow>, InputError> {
        if let Some(key_len) = self.size_key_set.take() {
            self.size_key_set(key_len);
        }
        let Some(record) = self.reader.read()? else {
            return Ok(None);
        };
        let line = record.line;
        #[cfg(debug_assertions)]
        if self.panic_at == Some(line) {
            panic!("injected by USERSYNC_TEST_PANIC_AT_LINE on line {line}");
        }
        if let Some(problem) = record.problem() {
            return Ok(Some(PreparedRow::new(
                line,
                None,
                Err(vec![FieldError::new(
                    ROW_FIELD,
                    problem.code,
                    problem.message.clone(),
                )]),
            )));
        }
        let source_hash = self.fingerprints.as_mut().map(|(hasher, columns)| {
            hasher.hash(columns.iter().map(|c| match record.get(c) {
                Cell::Text(s) => s.as_bytes(),
                // A CSV row read cleanly has every column.
                Cell::Missing | Cell::Json(_) => &[],
            }))
        });
        if let (Some(hash), Some(known)) = (source_hash, &mut self.known) {
            if let Some(row) = known_row(known, line, hash) {
                return Ok(Some(row));
            }
        }
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
        let mut position = Position::NotLookedUp;
        if let Some(k) = &key {
            if let Some(known) = &self.known {
                position = known
                    .users
                    .position(k)
                    .map_or(Position::Absent, Position::At);
            }
            let first = match (position, &mut self.known) {
                (Position::At(at), Some(known)) => known.first_line_or_insert(at, line),
                _ => {
                    let first = self.seen.first_line_or_insert(k, line);
                    self.count_key(k.len());
                    first
                }
            };
            if let Some(first) = first {
                errors.push(FieldError::new(
                    &self.key_field,
                    "duplicate_key",
                    format!("`{k}` is also on line {first}, which is kept"),
                ));
            }
        }
        let result = if errors.is_empty() {
            RowResult::Valid(payload)
        } else {
            RowResult::Invalid(errors)
        };
        Ok(Some(PreparedRow {
            remote_id,
            source_hash,
            position,
            ..PreparedRow::new(line, key, result)
        }))
    }
}

impl Iterator for Rows {
    type Item = Result<PreparedRow, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.prepare() {
            Ok(Some(row)) => Some(Ok(row)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn rows(config: &str, csv: &str) -> (tempfile::TempDir, Rows) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.csv");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(csv.as_bytes())
            .unwrap();
        let config = crate::config::from_str(config, &dir.path().join("u.toml")).unwrap();
        let target = config.target(None).unwrap();
        let rows = Rows::open(&path, target, &InputOptions::default()).unwrap();
        (dir, rows)
    }

    const CONFIG: &str = r#"
        [targets.t]
        provider = "meetinglawyers"
        base_url = "mock"
        key = "user_id"
        remote_id_column = "ml"
        fields = { user_id = "id", status = { value = 2 }, gender = { column = "sex", map = { M = 0, F = 1 } } }
    "#;

    #[test]
    fn later_duplicates_are_rejected_on_the_key() {
        let (_d, rows) = rows(CONFIG, "id,sex,ml\nE1,M,\nE2,F,77\nE1,F,\n");
        let rows: Vec<PreparedRow> = rows.map(Result::unwrap).collect();
        assert_eq!(rows.len(), 3);
        assert!(rows[0].result.is_valid());
        assert_eq!(rows[1].remote_id.as_deref(), Some("77"));
        assert_eq!(rows[2].line, 4);
        let errors = rows[2].result.errors().unwrap();
        assert_eq!(errors[0].field, "user_id");
        assert_eq!(errors[0].code, "duplicate_key");
        assert_eq!(errors[0].message, "`E1` is also on line 2, which is kept");
    }

    #[test]
    fn rule_errors_are_not_repeated_for_fields_that_failed_to_map() {
        let (_d, rows) = rows(CONFIG, "id,sex,ml\nE1,X,\n,M,\n");
        let rows: Vec<PreparedRow> = rows.map(Result::unwrap).collect();
        let codes = |r: &PreparedRow| -> Vec<(String, String)> {
            r.result
                .errors()
                .unwrap()
                .iter()
                .map(|e| (e.field.clone(), e.code.clone()))
                .collect()
        };
        assert_eq!(
            codes(&rows[0]),
            [("gender".into(), "unmapped_value".into())]
        );
        assert_eq!(rows[1].key, None);
        assert_eq!(codes(&rows[1]), [("user_id".into(), "required".into())]);
    }

    #[test]
    fn ragged_rows_are_rejected_and_the_raw_record_stays_reachable() {
        let (_d, mut rows) = rows(CONFIG, "id,sex,ml\nE1,M\nE2,F,1\n");
        let first = rows.next().unwrap().unwrap();
        let errors = first.result.errors().unwrap().to_vec();
        assert_eq!(
            (errors[0].field.as_str(), errors[0].code.as_str()),
            (ROW_FIELD, "wrong_field_count")
        );
        let raw: Vec<&str> = rows.record().csv_fields().unwrap().collect();
        assert_eq!(raw, ["E1", "M"]);
        assert!(rows.next().unwrap().unwrap().result.is_valid());
        assert!(rows.next().is_none());
        assert_eq!(rows.source_columns(), ["id", "sex", "ml"]);
    }

    /// Users known by fingerprint, as a snapshot would hold them.
    struct Snapshot(Vec<(SourceHash, String)>);

    impl KnownRows for Snapshot {
        fn find(&self, source: &SourceHash) -> Option<(usize, &str)> {
            let i = self.0.iter().position(|(h, _)| h == source)?;
            Some((i, self.0[i].1.as_str()))
        }
        fn position(&self, key: &str) -> Option<usize> {
            self.0.iter().position(|(_, k)| k == key)
        }
        fn len(&self) -> usize {
            self.0.len()
        }
    }

    #[test]
    fn rows_known_by_their_fingerprint_skip_mapping_and_keep_duplicates_exact() {
        let csv = "id,sex,ml\nE1,M,\nE2,F,\nE1,M,\nE2,X,\n";
        let hasher = PayloadHasher::new(&[3; 32]);
        // A first read remembers the fingerprints, as a sync records them.
        let (_d, mut first) = rows(CONFIG, csv);
        let config = crate::config::from_str(CONFIG, Path::new("u.toml")).unwrap();
        let target = config.target(None).unwrap();
        first.fingerprint(&hasher, target, None);
        let first: Vec<PreparedRow> = first.map(Result::unwrap).collect();
        assert!(first
            .iter()
            .all(|r| r.result != RowResult::Known && r.source_hash.is_some()));
        assert_eq!(first[0].source_hash, first[2].source_hash, "the same bytes");
        assert_ne!(first[1].source_hash, first[3].source_hash);

        // E1's row is known; E2's was synced from other bytes.
        let known = Snapshot(vec![
            (first[0].source_hash.unwrap(), "E1".into()),
            ([9; 16], "E2".into()),
        ]);
        let (_d, mut again) = rows(CONFIG, csv);
        again.fingerprint(&hasher, target, Some(Arc::new(known)));
        let again: Vec<PreparedRow> = again.map(Result::unwrap).collect();
        assert_eq!(again[0].result, RowResult::Known);
        assert_eq!(again[0].position, Position::At(0));
        assert_eq!(again[0].key.as_deref(), Some("E1"));
        assert_ne!(
            again[1].result,
            RowResult::Known,
            "a row with other bytes is mapped"
        );
        assert_eq!(
            again[1].position,
            Position::At(1),
            "looked up once, for the planner too"
        );
        assert!(again[1].result.payload().unwrap().contains_key("gender"));
        // Duplicates of a known row, and of a mapped one, are still rejected on the key.
        for (row, first_line) in [(&again[2], 2), (&again[3], 3)] {
            assert_ne!(row.result, RowResult::Known);
            let errors = row.result.errors().unwrap();
            let dup = errors.iter().find(|e| e.code == "duplicate_key").unwrap();
            assert_eq!(
                dup.message,
                format!(
                    "`{}` is also on line {first_line}, which is kept",
                    row.key.as_deref().unwrap()
                )
            );
        }
    }

    /// A provider whose schema makes the key optional (SCIM's `externalId`) still needs it in
    /// every row: `validate` rejects the row as a sync would.
    #[test]
    fn the_key_is_required_whatever_the_schema_says() {
        const SCIM: &str = r#"
            [targets.t]
            provider = "scim"
            base_url = "mock"
            key = "externalId"
            fields = { externalId = "id", userName = "mail" }
        "#;
        let (_d, rows) = rows(SCIM, "id,mail\n,a@b.es\nE2,c@d.es\n");
        let rows: Vec<PreparedRow> = rows.map(Result::unwrap).collect();
        let errors = rows[0].result.errors().expect("rejected");
        assert_eq!(
            (errors[0].field.as_str(), errors[0].code.as_str()),
            ("externalId", "required")
        );
        assert!(rows[1].result.is_valid());
    }

    #[test]
    fn a_missing_remote_id_column_is_a_mapping_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.csv");
        std::fs::write(&path, "id,sex\n").unwrap();
        let config = crate::config::from_str(CONFIG, &dir.path().join("u.toml")).unwrap();
        let err = Rows::open(
            &path,
            config.target(None).unwrap(),
            &InputOptions::default(),
        )
        .err()
        .unwrap();
        assert!(
            matches!(err, PrepareError::Mapping(ref m) if m.key == "targets.t.remote_id_column")
        );
    }
}
