//! The hold stage: how a run walks its rows, and when their requests may leave.
//!
//! An export is read once. Rows that need no request (unchanged, rejected) are handed on at
//! once, in batches, so the ledger records them while the file is read. Rows that need a
//! request are held back: leavers and the broken-export guards can only be decided once the
//! whole file was seen, and both must be decided before the first request leaves, leavers
//! first. At the end of the pass the guards are checked (`guard.rs`); then the leavers'
//! deactivations come out, then the held requests. So the nightly case (almost everything
//! unchanged) reads the file once.
//!
//! At most [`HOLD_LIMIT`] requests are held (`Pass::hold_limit`). When more rows need one (a
//! big change), the rest are only noted, and a second pass reads the file again for the
//! requests after the last one held. A run stopped, refused or cut short by an unreadable file
//! before its requests left records them `not_attempted`; so does one whose reader or pass
//! broke (panicked), which then ends the run as broken (`breakdown.rs`): rows that stop without
//! the reader's end marker are never taken for the end of the export, nor their users for
//! leavers.
//!
//! A first sync (the ledger knows no user of the target) holds nothing: the guards compare the
//! export with the users the ledger knows, so they cannot refuse it, and nobody can leave. Its
//! requests leave as their rows are read, the way a second pass sends them, in one read of the
//! file, unless the caller wants them counted first (`Pass::count_first`).
//!
//! The rows of a `retry` come from the ledger and need no guard: they come out as they are
//! read (deactivations first, by their negative lines).

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::breakdown::{not_sent_because, panic_message};
use super::diff::{self, deactivation, not_attempted, Differ, Fate, Request};
use super::guard::{GuardRefusal, Guards};
use super::read::{read_ahead, ReadFault};
use super::scan::Scan;
use crate::input::InputOptions;
use crate::ledger::{LedgerError, RowOutcome, RunId, StoredOutcome, GUARD_REFUSED};
use crate::prepare::{self, KnownRows, Rows};
use crate::provider::Operation;

use super::scan::FileStamp;

/// At most this many requests are held back during the pass over an export.
pub const HOLD_LIMIT: usize = 10_000;

/// How many rows a re-read takes between two checks that the export has not changed.
pub const STAMP_EVERY: u64 = 1024;

/// The fatal message for an export that changed while a sync read it.
pub fn changed_message(path: &Path, what: &str, line: u64) -> String {
    format!(
        "the export {} changed while it was being read ({what}); rows after line {line} were \
         not sent. Run the sync again once the file is complete",
        path.display()
    )
}

/// Why a request read before Ctrl-C was not sent.
const INTERRUPTED: &str = "the run was interrupted first";

/// Outcomes handed on together.
const DONE_BATCH: usize = 512;

/// What the pass hands on: rows' fates, decided before any request.
#[derive(Debug)]
pub enum PassItem {
    /// Outcomes that need no request (rejected by validation, unchanged), in a batch; or
    /// rows recorded `not_attempted` because the run stopped before sending them.
    Done(Vec<RowOutcome>),
    /// Requests to send, each carrying what the ledger needs once it is answered; one at a time
    /// unless the pass was told to gather them ([`Pass::send_batch`]).
    Send(Vec<Request>),
    /// A guard refused the run: nothing was sent (the last item).
    Refused(GuardRefusal),
    /// The rows could not be read further (the last item).
    Fatal(String),
    /// A thread of the pass (the export's reader, the pass itself) broke: says what broke (the
    /// last item). The run fails closed (see `breakdown.rs`).
    Broken(String),
}

/// The rows a pass walks.
pub enum PassInput {
    /// An export file, and its first read when the caller already opened it (to check its
    /// header before anything else): the pass reads on from there instead of opening it again.
    Export {
        input: PathBuf,
        options: InputOptions,
        opened: Option<Box<Opened>>,
    },
    /// The rows of `run` that a `retry` re-sends, with the payloads the ledger kept for them
    /// (see [`crate::ledger::Ledger::each_retryable`]), streamed from the ledger.
    Kept { run: RunId, include_rejected: bool },
}

/// An export opened (its header read and checked against the mapping), and its stamp from
/// before it was opened (see [`FileStamp`]).
pub struct Opened {
    rows: Rows,
    stamp: FileStamp,
}

impl Opened {
    /// Opens the export for `target`: a mapping that does not fit its header is an error here,
    /// before anything else is done.
    pub fn open(
        input: &Path,
        target: &crate::config::Target,
        options: &InputOptions,
    ) -> anyhow::Result<Opened> {
        // Stamped before it is opened, so that a file replaced in between is seen as changed;
        // a file that cannot be opened says so in the reader's own words.
        let stamp = FileStamp::of(input);
        let rows = Rows::open(input, target, options)?;
        let stamp =
            stamp.map_err(|e| anyhow::anyhow!("could not read {}: {e}", input.display()))?;
        Ok(Opened { rows, stamp })
    }
}

/// One pass over a run's rows; moved onto its own thread.
pub struct Pass {
    /// Decides each row.
    pub differ: Differ,
    pub input: PassInput,
    /// Leavers and guards (used for an export; a retry has neither).
    pub guards: Guards,
    /// Set on Ctrl-C: stop reading.
    pub stop_reading: Arc<AtomicBool>,
    /// How many requests the pass over an export holds back before it reads the file a second
    /// time for the rest ([`HOLD_LIMIT`]).
    pub hold_limit: usize,
    /// Requests handed on together (1: each at once, in file order with the outcomes; a sync,
    /// whose send stage commits the intents of many requests in one transaction, gathers them).
    pub send_batch: usize,
    /// The caller wants the number of requests before the first one is handed on (`sync -v`'s
    /// estimate, `plan`): hold them during the pass even when the ledger knows no user of the
    /// target, where nothing else needs them held (see the module).
    pub count_first: bool,
    /// The export as the caller opened it, for the first read.
    opened: RefCell<Option<Box<Opened>>>,
}

/// Hands items to the listener, gathering outcomes into batches, and requests too when told to.
struct Emitter<'f, F: FnMut(PassItem) -> bool> {
    send: &'f mut F,
    done: Vec<RowOutcome>,
    /// Requests gathered, when `send_batch` is more than one.
    sends: Vec<Request>,
    send_batch: usize,
    /// False once the listener has gone.
    open: bool,
}

impl<'f, F: FnMut(PassItem) -> bool> Emitter<'f, F> {
    fn new(send: &'f mut F, send_batch: usize) -> Self {
        Emitter {
            send,
            done: Vec::with_capacity(DONE_BATCH),
            sends: Vec::new(),
            send_batch: send_batch.max(1),
            open: true,
        }
    }

    /// Hands on one request: at once (after the outcomes before it, so that the listener sees
    /// the rows in order), or gathered with others.
    fn request(&mut self, request: Request) -> bool {
        if self.send_batch == 1 {
            return self.item(PassItem::Send(vec![request]));
        }
        self.sends.push(request);
        if self.sends.len() >= self.send_batch {
            self.flush_sends()
        } else {
            self.open
        }
    }

    fn flush_sends(&mut self) -> bool {
        if self.open && !self.sends.is_empty() {
            let batch = std::mem::replace(&mut self.sends, Vec::with_capacity(self.send_batch));
            self.open = (self.send)(PassItem::Send(batch));
        }
        self.open
    }

    /// The requests gathered and not handed on (the pass broke before it could).
    fn take_sends(&mut self) -> Vec<Request> {
        std::mem::take(&mut self.sends)
    }

    fn done(&mut self, outcome: RowOutcome) -> bool {
        self.done.push(outcome);
        if self.done.len() >= DONE_BATCH {
            self.flush()
        } else {
            self.open
        }
    }

    fn flush(&mut self) -> bool {
        if self.open && !self.done.is_empty() {
            let batch = std::mem::replace(&mut self.done, Vec::with_capacity(DONE_BATCH));
            self.open = (self.send)(PassItem::Done(batch));
        }
        self.flush_sends()
    }

    fn item(&mut self, item: PassItem) -> bool {
        if self.flush() {
            self.open = (self.send)(item);
        }
        self.open
    }

    /// Hands on one row's fate: its outcome (batched) or its request.
    fn step(&mut self, fate: Fate) -> bool {
        match fate {
            Fate::Done(outcome) => self.done(outcome),
            Fate::Send(request) => self.request(*request),
        }
    }

    /// Records held requests as never sent, with `code` and `why`.
    fn not_sent(&mut self, held: Vec<Request>, code: &str, why: &str) -> bool {
        for p in held {
            if !self.done(not_attempted(p, code, why)) {
                return false;
            }
        }
        self.flush()
    }
}

/// How the first pass ended early.
enum Cut {
    /// The listener has gone.
    Gone,
    /// Ctrl-C.
    Stopped,
    /// The file could not be read further.
    Fatal(String),
    /// The reader thread broke: says what broke.
    Broken(String),
}

impl Cut {
    /// The last item for the listener, when the pass ended on a problem it must hear of.
    fn into_item(self) -> Option<PassItem> {
        match self {
            Cut::Fatal(message) => Some(PassItem::Fatal(message)),
            Cut::Broken(what) => Some(PassItem::Broken(what)),
            Cut::Gone | Cut::Stopped => None,
        }
    }
}

impl From<ReadFault> for Cut {
    fn from(fault: ReadFault) -> Self {
        match fault {
            ReadFault::Input(e) => Cut::Fatal(e.to_string()),
            ReadFault::Broken(what) => Cut::Broken(what),
        }
    }
}

/// The requests held back during the first pass.
#[derive(Default)]
struct Held {
    requests: Vec<Request>,
    /// The line of the last row held: once full, later requests wait for the second pass.
    last_line: Option<i64>,
    full: bool,
    /// Requests of the rows found once full (the second pass sends them).
    later: u64,
    /// Of those, the updates (for `max_changes`).
    later_updates: u64,
}

impl Pass {
    /// A pass holding at most [`HOLD_LIMIT`] requests, not counting them first.
    pub fn new(
        differ: Differ,
        mut input: PassInput,
        guards: Guards,
        stop_reading: Arc<AtomicBool>,
    ) -> Pass {
        let opened = match &mut input {
            PassInput::Export { opened, .. } => opened.take(),
            PassInput::Kept { .. } => None,
        };
        Pass {
            differ,
            input,
            guards,
            stop_reading,
            hold_limit: HOLD_LIMIT,
            send_batch: 1,
            count_first: false,
            opened: RefCell::new(opened),
        }
    }

    /// Runs the pass, handing every item to `send`. Returns when the rows are done, the reader
    /// is told to stop, or `send` returns false (nobody listens any more).
    pub fn run(self, send: impl FnMut(PassItem) -> bool) {
        self.run_counting(send, |_, _| {});
    }

    /// [`Pass::run`], telling `requests` how many requests an export holds (leavers
    /// included) and how many of them are leavers, once its pass is done and the guards let
    /// the run go on, before the first request is handed on. Not called for a `retry`, for a
    /// first sync that sends as it reads (see the module), nor for a run cut short before that.
    pub fn run_counting(
        self,
        mut send: impl FnMut(PassItem) -> bool,
        requests: impl FnOnce(u64, u64),
    ) {
        let mut emit = Emitter::new(&mut send, self.send_batch);
        let mut held = Held::default();
        // A pass that breaks has not decided everything: the requests it held are recorded
        // not sent, and the listener told, as for a reader that breaks.
        let pass = std::panic::catch_unwind(AssertUnwindSafe(|| match &self.input {
            PassInput::Export { input, options, .. } => {
                self.run_file(input, options, &mut emit, &mut held, requests)
            }
            PassInput::Kept {
                run,
                include_rejected,
            } => self.run_kept(*run, *include_rejected, &mut emit),
        }));
        if let Err(panic) = pass {
            let what = format!("the planner panicked: {}", panic_message(panic.as_ref()));
            let mut held = std::mem::take(&mut held.requests);
            held.extend(emit.take_sends());
            if emit.not_sent(held, "not_attempted", &not_sent_because(&what)) {
                emit.item(PassItem::Broken(what));
            }
            return;
        }
        emit.flush();
    }

    fn stopped(&self) -> bool {
        self.stop_reading.load(Ordering::Relaxed)
    }

    fn run_file<F: FnMut(PassItem) -> bool>(
        &self,
        input: &Path,
        options: &InputOptions,
        emit: &mut Emitter<'_, F>,
        held: &mut Held,
        requests: impl FnOnce(u64, u64),
    ) {
        let mut scan = Scan::new(&self.differ.snapshot);
        let stamped = match self.opened.borrow().as_ref() {
            Some(opened) => Ok(opened.stamp),
            None => FileStamp::of(input),
        };
        let stamp = match stamped {
            Ok(stamp) => stamp,
            Err(e) => {
                emit.item(PassItem::Fatal(format!(
                    "could not read {}: {e}",
                    input.display()
                )));
                return;
            }
        };
        if self.differ.snapshot.is_empty() && !self.count_first {
            self.send_rest(input, options, &stamp, None, emit);
            return;
        }
        let mut first = self.first_pass(input, options, &mut scan, held, emit);
        if first.is_ok() {
            // Nothing has been sent yet: a file that changed under the first pass sends nothing.
            if let Some(what) = stamp.changed(input) {
                first = Err(Cut::Fatal(changed_message(input, &what, 0)));
            }
        }
        match first {
            Ok(()) => {}
            Err(Cut::Gone) => return,
            Err(Cut::Stopped) => {
                emit.not_sent(
                    std::mem::take(&mut held.requests),
                    "not_attempted",
                    INTERRUPTED,
                );
                return;
            }
            Err(Cut::Fatal(message)) => {
                let why = format!("not sent: the export could not be read to its end ({message})");
                if emit.not_sent(std::mem::take(&mut held.requests), "not_attempted", &why) {
                    emit.item(PassItem::Fatal(message));
                }
                return;
            }
            Err(Cut::Broken(what)) => {
                let why = not_sent_because(&what);
                if emit.not_sent(std::mem::take(&mut held.requests), "not_attempted", &why) {
                    emit.item(PassItem::Broken(what));
                }
                return;
            }
        }

        let mut leavers: Vec<Request> = Vec::new();
        // Leavers the target protects are not deactivated: their outcomes say so.
        let mut left_alone = Vec::new();
        if self.guards.deactivate_missing {
            for (n, u) in scan.leavers(&self.differ.snapshot).enumerate() {
                let line = -(n as i64) - 1;
                match self.differ.forbidden(u.key, Operation::Deactivate) {
                    Some(note) => left_alone.push(diff::left_alone(line, u.key.to_owned(), note)),
                    None => {
                        let remote_id = u.remote_id.map(str::to_owned);
                        leavers.push(deactivation(line, u.key, &remote_id));
                    }
                }
            }
        }
        for outcome in left_alone {
            if !emit.done(outcome) {
                return;
            }
        }
        if !self.differ.snapshot.is_empty() {
            let updates = held
                .requests
                .iter()
                .filter(|r| matches!(r.op, Operation::Update | Operation::Patch))
                .count() as u64
                + held.later_updates;
            let guarded = self.guards.check(
                scan.users,
                self.differ.snapshot.active_len() as u64,
                leavers.len() as u64,
                updates,
            );
            if let Err(refusal) = guarded {
                let why = format!("not sent: {refusal}");
                if !emit.not_sent(std::mem::take(&mut held.requests), GUARD_REFUSED, &why) {
                    return;
                }
                if held.full {
                    let mut rest = Vec::new();
                    let after = held.last_line;
                    let reread = self.send_pass(input, options, &stamp, after, |step| {
                        match step {
                            Fate::Done(outcome) => return emit.done(outcome),
                            Fate::Send(p) => rest.push(*p),
                        }
                        if rest.len() >= DONE_BATCH {
                            emit.not_sent(std::mem::take(&mut rest), GUARD_REFUSED, &why)
                        } else {
                            true
                        }
                    });
                    if !emit.not_sent(rest, GUARD_REFUSED, &why) {
                        return;
                    }
                    if let Err(cut) = reread {
                        if let Some(item) = cut.into_item() {
                            emit.item(item);
                        }
                        return;
                    }
                }
                emit.item(PassItem::Refused(refusal));
                return;
            }
        }

        let leaving = leavers.len() as u64;
        let held_requests: u64 = held.requests.iter().map(Request::requests).sum();
        requests(leaving + held_requests + held.later, leaving);
        for job in leavers
            .into_iter()
            .chain(std::mem::take(&mut held.requests))
        {
            if !emit.request(job) {
                return;
            }
        }
        if held.full {
            self.send_rest(input, options, &stamp, held.last_line, emit);
        }
    }

    /// Sends the requests after line `after` as [`Pass::send_pass`] reads them, then says
    /// why it stopped if the export could not be read to its end, or its reader broke.
    fn send_rest<F: FnMut(PassItem) -> bool>(
        &self,
        input: &Path,
        options: &InputOptions,
        stamp: &FileStamp,
        after: Option<i64>,
        emit: &mut Emitter<'_, F>,
    ) {
        let sent = self.send_pass(input, options, stamp, after, |step| emit.step(step));
        if let Some(item) = sent.err().and_then(Cut::into_item) {
            emit.item(item);
        }
    }

    /// Opens the export (the first time, takes it as the caller opened it), its rows
    /// fingerprinted; without `--full`, the rows the snapshot knows by their fingerprint skip
    /// mapping and validation.
    fn open_rows(&self, input: &Path, options: &InputOptions) -> Result<Rows, Cut> {
        let differ = &self.differ;
        let opened = self.opened.borrow_mut().take();
        let rows = match opened {
            Some(opened) => opened.rows,
            None => {
                Rows::open(input, &differ.target, options).map_err(|e| Cut::Fatal(e.to_string()))?
            }
        };
        // The pass and the ledger writer keep a core beside the threads preparing the rows: on
        // a nightly re-sync the writer is as busy as they are.
        let workers = prepare::default_workers().saturating_sub(1);
        let mut rows = rows.with_workers(workers);
        let known = (!differ.full).then(|| Arc::clone(&differ.snapshot) as Arc<dyn KnownRows>);
        rows.fingerprint(&differ.hasher, &differ.target, known);
        rows.check_target_rules(differ.target_rules.clone());
        Ok(rows)
    }

    /// Reads the export once: outcomes out at once, requests held, every row noted. The rows
    /// are read, mapped and validated on threads of their own, so that this one only diffs.
    fn first_pass<F: FnMut(PassItem) -> bool>(
        &self,
        input: &Path,
        options: &InputOptions,
        scan: &mut Scan,
        held: &mut Held,
        emit: &mut Emitter<'_, F>,
    ) -> Result<(), Cut> {
        let rows = self.open_rows(input, options)?;
        for row in read_ahead(rows, input) {
            if self.stopped() {
                return Err(Cut::Stopped);
            }
            let mut row = row?;
            row.position = scan.note(&row, &self.differ.snapshot);
            let line = row.line as i64;
            match self.differ.row(row) {
                Fate::Done(outcome) => {
                    if !emit.done(outcome) {
                        return Err(Cut::Gone);
                    }
                }
                Fate::Send(request) if held.full => {
                    held.later += request.requests();
                    if matches!(request.op, Operation::Update | Operation::Patch) {
                        held.later_updates += 1;
                    }
                }
                Fate::Send(request) => {
                    held.requests.push(*request);
                    held.last_line = Some(line);
                    held.full = held.requests.len() >= self.hold_limit;
                }
            }
        }
        Ok(())
    }

    /// Reads the export for the requests after line `after`, handing each to `each` (which
    /// returns false when nobody listens any more). With `after`, this is a second pass and
    /// the first recorded every row that needs no request; without, it is the only pass (a
    /// first sync): every row from the first, and their outcomes too.
    ///
    /// The export must still be the file the pass started on: it is checked every
    /// [`STAMP_EVERY`] rows and at the end, and each request is handed on only once the next
    /// row was read cleanly, so a row cut short by a file shrinking under the reader is never
    /// sent. Stopped by Ctrl-C, the request held back is handed on `not_attempted`.
    fn send_pass(
        &self,
        input: &Path,
        options: &InputOptions,
        stamp: &FileStamp,
        after: Option<i64>,
        mut each: impl FnMut(Fate) -> bool,
    ) -> Result<(), Cut> {
        let outcomes = after.is_none();
        let after = after.unwrap_or(i64::MIN);
        let rows = self.open_rows(input, options)?;
        let (mut read, mut sent_line) = (0u64, 0u64);
        let changed = |sent_line: u64| {
            stamp
                .changed(input)
                .map(|what| Cut::Fatal(changed_message(input, &what, sent_line)))
        };
        let mut last: Option<Box<Request>> = None;
        for row in read_ahead(rows, input) {
            if self.stopped() {
                if let Some(held) = last {
                    each(Fate::Done(not_attempted(
                        *held,
                        "not_attempted",
                        INTERRUPTED,
                    )));
                }
                return Err(Cut::Stopped);
            }
            read += 1;
            if read.is_multiple_of(STAMP_EVERY) {
                if let Some(cut) = changed(sent_line) {
                    return Err(cut);
                }
            }
            let row = match row {
                Ok(row) => row,
                Err(fault) => {
                    let cut = Cut::from(fault);
                    // A request read whole before the reader broke has its outcome; the row
                    // before a file cut short may be cut short too, and is not a row.
                    if let (Cut::Broken(what), Some(held)) = (&cut, last.take()) {
                        let why = not_sent_because(what);
                        each(Fate::Done(not_attempted(*held, "not_attempted", &why)));
                    }
                    return Err(cut);
                }
            };
            if (row.line as i64) <= after {
                continue;
            }
            match self.differ.row(row) {
                Fate::Send(request) => {
                    if let Some(previous) = last.replace(request) {
                        sent_line = previous.line.max(0) as u64;
                        if !each(Fate::Send(previous)) {
                            return Err(Cut::Gone);
                        }
                    }
                }
                Fate::Done(outcome) if outcomes => {
                    if !each(Fate::Done(outcome)) {
                        return Err(Cut::Gone);
                    }
                }
                Fate::Done(_) => {}
            }
        }
        if let Some(cut) = changed(sent_line) {
            return Err(cut);
        }
        if let Some(previous) = last {
            if !each(Fate::Send(previous)) {
                return Err(Cut::Gone);
            }
        }
        Ok(())
    }

    /// The rows of an earlier run, from the payloads the ledger kept: decided again against
    /// today's snapshot (a create whose user now exists becomes an update, and so on).
    fn run_kept<F: FnMut(PassItem) -> bool>(
        &self,
        run: RunId,
        include_rejected: bool,
        emit: &mut Emitter<'_, F>,
    ) {
        /// Why the stream stopped early.
        enum Stop {
            Listener,
            Ledger(LedgerError),
        }
        impl From<LedgerError> for Stop {
            fn from(e: LedgerError) -> Self {
                Stop::Ledger(e)
            }
        }
        let streamed = self.differ.ledger.each_retryable(
            run,
            &self.differ.target.name,
            include_rejected,
            |kept: StoredOutcome| {
                if self.stopped() {
                    return Err(Stop::Listener);
                }
                let open = match self.differ.kept(kept) {
                    Fate::Done(outcome) => emit.done(outcome),
                    Fate::Send(request) => emit.request(*request),
                };
                if open {
                    Ok(())
                } else {
                    Err(Stop::Listener)
                }
            },
        );
        if let Err(Stop::Ledger(e)) = streamed {
            emit.item(PassItem::Fatal(e.to_string()));
        }
    }
}

#[cfg(test)]
mod tests;
