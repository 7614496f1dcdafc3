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
//!
//! The work is spread over the machine's cores ([`pipeline`]): one thread parses the file into
//! batches of records, a few workers fingerprint, map and validate whole batches ([`work`]), and
//! the thread iterating [`Rows`] takes the batches back in file order and makes the one check
//! that depends on the rows before, the duplicate key ([`keys`], [`known`]). Rows, errors and
//! line numbers are exactly those of reading the file row by row on one thread.

mod keys;
mod known;
mod pipeline;
mod work;

use std::path::Path;
use std::sync::Arc;

use crate::config::Target;
use crate::input::{self, Column, Header, InputError, InputOptions, InputReader, Record};
use crate::ledger::{PayloadHasher, SourceHash};
use crate::mapping::{Mapper, MappingError};
use crate::payload::Payload;
use crate::provider::RowRules;
use crate::validate::FieldError;
use keys::KeySet;
use known::KnownUsers;
pub use known::{KnownRows, Position};
use pipeline::{Batch, End, Pipeline};
use work::{Prep, Worker};

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
/// The most threads that map and validate rows, whatever the machine.
const MAX_WORKERS: usize = 4;

/// How many threads map and validate rows unless told otherwise: one per core, at most
/// [`MAX_WORKERS`]; none on a single core, where threads would only take turns.
pub fn default_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores > 1 {
        cores.min(MAX_WORKERS)
    } else {
        0
    }
}

/// The prepared rows of one export for one target. Iterating yields every row in file order;
/// an `Err` is fatal (the file could not be read further) and ends the stream.
///
/// The rows are parsed on a thread of their own and mapped and validated by a few more
/// ([`pipeline`]), in batches; the duplicate-key check, which depends on every earlier row, is
/// made here in file order as the batches come back. A panic on any of those threads is raised
/// again on the thread iterating the rows, after the rows before it.
pub struct Rows {
    header: Header,
    /// The reader, until the first row is asked for.
    reader: Option<InputReader>,
    /// How each row is prepared; shared with the threads once they start.
    prep: Arc<Prep>,
    /// Threads that prepare rows (0: the iterating thread does it all).
    workers: usize,
    feed: Feed,
    /// The batch whose rows are coming out, its rows reversed (the next one last).
    current: Option<Batch>,
    /// Where the row last returned is in `current`.
    cursor: usize,
    /// Every key seen so far, with the line it was first seen on.
    seen: KeySet,
    /// The size of the file, to size `seen` once from the first rows.
    file_len: u64,
    /// Rows with a key so far.
    keyed_rows: u64,
    /// Set once `seen` was sized.
    sized: bool,
    known: Option<KnownUsers>,
    /// What `record` lends before any row was read.
    no_record: Record,
    done: bool,
}

/// Where the batches of rows come from.
enum Feed {
    /// Not started: the first row starts it.
    Idle,
    /// The iterating thread reads and prepares them itself.
    Inline(Box<InputReader>, Box<Worker>),
    /// Threads do (see [`pipeline`]).
    Threads(Pipeline),
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
        let prep = Prep {
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
            fingerprints: None,
            known: None,
            target_rules: None,
            #[cfg(debug_assertions)]
            panic_at: work::injected_panic_line(),
        };
        Ok(Rows {
            header: reader.header().clone(),
            reader: Some(reader),
            prep: Arc::new(prep),
            workers: default_workers(),
            feed: Feed::Idle,
            current: None,
            cursor: 0,
            seen: KeySet::default(),
            file_len: std::fs::metadata(path).map_or(0, |m| m.len()),
            keyed_rows: 0,
            sized: false,
            known: None,
            no_record: Record::empty(),
            done: false,
        })
    }

    /// Sets how many threads map and validate the rows (0: the thread iterating the rows does
    /// everything itself; by default [`default_workers`]). The rows are the same whatever the
    /// number. Must be called before the first row is read.
    pub fn with_workers(mut self, workers: usize) -> Rows {
        self.workers = workers.min(64);
        self
    }

    /// The settings of the rows, before the first row is read (the threads share them from then).
    fn prep_mut(&mut self) -> &mut Prep {
        Arc::get_mut(&mut self.prep).expect("rows are configured before the first is read")
    }

    /// Fingerprints every CSV row from now on with the ledger's `hasher`: the cells of the
    /// columns `target`'s mapping reads (so an unmapped column, or the columns' order, does not
    /// matter), under that mapping. With `known`, a row whose fingerprint it holds skips
    /// mapping and validation (see [`RowResult::Known`]). JSONL rows get no fingerprint. Must be
    /// called before the first row is read.
    pub fn fingerprint(
        &mut self,
        hasher: &PayloadHasher,
        target: &Target,
        known: Option<Arc<dyn KnownRows>>,
    ) {
        let header = self.header.clone();
        let prep = self.prep_mut();
        let mut names = prep.mapper.columns();
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
            prep.option_fields,
        );
        let columns = names.iter().map(|n| header.resolve(n));
        // A CSV header has every mapped column (`Rows::open` checked it); JSONL has no header.
        prep.fingerprints = match (header.names(), columns.collect::<Option<Vec<Column>>>()) {
            (Some(_), Some(columns)) => Some((hasher.source_hasher(context.as_bytes()), columns)),
            _ => None,
        };
        let known = known.filter(|k| !k.is_empty());
        prep.known = known.clone();
        self.known = known.map(|users| KnownUsers::new(users.len()));
    }

    /// Checks every row from now on against `rules` too (what the target declares). Must be
    /// called before the first row is read.
    pub fn check_target_rules(&mut self, rules: Option<Arc<dyn RowRules>>) {
        self.prep_mut().target_rules = rules;
    }

    /// The export's columns.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The columns that describe a row of this export in a report (the rejects file): the CSV
    /// header, or for JSONL the columns the mapping reads.
    pub fn source_columns(&self) -> Vec<String> {
        match self.header.names() {
            Some(names) => names.to_vec(),
            None => self
                .prep
                .mapper
                .columns()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        }
    }

    /// The raw record of the row last returned (its original columns, for `--rejects`).
    pub fn record(&self) -> &Record {
        match &self.current {
            Some(batch) if self.cursor > 0 => &batch.records[self.cursor - 1],
            _ => &self.no_record,
        }
    }

    /// Starts reading: threads, unless there are to be none or none can be started.
    fn start(&mut self) -> &mut Feed {
        if let (Feed::Idle, Some(reader)) = (&self.feed, self.reader.take()) {
            let workers = (0..self.workers)
                .map(|_| Worker::new(Arc::clone(&self.prep)))
                .collect::<Vec<_>>();
            self.feed = match workers.is_empty() {
                true => Feed::Inline(
                    Box::new(reader),
                    Box::new(Worker::new(Arc::clone(&self.prep))),
                ),
                false => match pipeline::start(reader, workers) {
                    Ok(threads) => Feed::Threads(threads),
                    Err(reader) => {
                        Feed::Inline(reader, Box::new(Worker::new(Arc::clone(&self.prep))))
                    }
                },
            };
        }
        &mut self.feed
    }

    /// Takes the next batch of rows in file order and checks their keys, giving the batch whose
    /// rows are all out back first.
    fn next_batch(&mut self) -> Batch {
        let used = self.current.take();
        let mut batch = match self.start() {
            Feed::Threads(threads) => {
                if let Some(used) = used {
                    threads.recycle(used);
                }
                threads.next_batch()
            }
            Feed::Inline(reader, worker) => {
                let mut batch = used.unwrap_or_else(Batch::new);
                batch.clear();
                batch.fill(reader);
                batch.work(worker);
                batch
            }
            Feed::Idle => unreachable!("the rows were started"),
        };
        let mut rows = std::mem::take(&mut batch.rows);
        for (row, record) in rows.iter_mut().zip(&batch.records) {
            self.check_key(row, record);
        }
        rows.reverse();
        batch.rows = rows;
        if !self.sized && self.keyed_rows >= SIZING_ROWS {
            self.sized = true;
            self.size_key_set(batch.bytes_read);
        }
        batch
    }

    /// Reserves room for the keys of the rest of the file, estimated from the keys in the
    /// `read` bytes read so far, so that the set is not rebuilt again and again as it grows.
    fn size_key_set(&mut self, read: u64) {
        if read == 0 || self.file_len <= read {
            return;
        }
        let expected = (self.file_len as f64 / read as f64 * self.keyed_rows as f64) as u64;
        let more = expected
            .min(MAX_RESERVED_KEYS)
            .saturating_sub(self.seen.len() as u64);
        tracing::trace!(expected, "sizing the key set");
        let key_len = self.seen.mean_key_len();
        self.seen
            .reserve(usize::try_from(more).unwrap_or(0), key_len);
    }

    /// What depends on the rows before: a known row whose user was seen earlier in the file is
    /// mapped after all, and a key seen earlier makes the row a duplicate (the first one is kept).
    fn check_key(&mut self, row: &mut PreparedRow, record: &Record) {
        let line = row.line;
        if let (RowResult::Known, Position::At(at)) = (&row.result, row.position) {
            let known = self.known.as_mut().filter(|k| k.has(at));
            if known.is_some_and(|k| k.first_line_or_insert(at, line).is_none()) {
                return;
            }
            // Seen earlier in this file: the full path, to be rejected as a duplicate there.
            *row = self.prep.map(record, row.source_hash);
        }
        let Some(k) = &row.key else { return };
        let first = match (row.position, &mut self.known) {
            (Position::At(at), Some(known)) => known.first_line_or_insert(at, line),
            _ => {
                self.keyed_rows += 1;
                self.seen.first_line_or_insert(k, line)
            }
        };
        if let Some(first) = first {
            let duplicate = FieldError::new(
                &self.prep.key_field,
                "duplicate_key",
                format!("`{k}` is also on line {first}, which is kept"),
            );
            match &mut row.result {
                RowResult::Invalid(errors) => errors.push(duplicate),
                _ => row.result = RowResult::Invalid(vec![duplicate]),
            }
        }
    }
}

impl Iterator for Rows {
    type Item = Result<PreparedRow, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            if let Some(batch) = &mut self.current {
                if let Some(row) = batch.rows.pop() {
                    self.cursor += 1;
                    return Some(Ok(row));
                }
                if let Some(panic) = batch.panic.take() {
                    self.done = true;
                    std::panic::resume_unwind(panic);
                }
                match std::mem::replace(&mut batch.end, End::More) {
                    End::More => {}
                    End::Eof => self.done = true,
                    End::Fatal(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                    End::Panic(panic) => {
                        self.done = true;
                        std::panic::resume_unwind(panic);
                    }
                }
                if self.done {
                    return None;
                }
            }
            let batch = self.next_batch();
            self.current = Some(batch);
            self.cursor = 0;
        }
    }
}

#[cfg(test)]
mod tests;
