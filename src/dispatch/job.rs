//! One job's life: attempts until a final outcome, and exactly one [`JobResult`] whatever happens.
//!
//! The rules, in the order they apply to an answer:
//! - synced or rejected: final;
//! - conflict on a create: where the conflict does not name the user's id and the provider can
//!   be asked (GNOSS), the user is looked up first ([`Operation::Lookup`]) and the update goes
//!   to the user found (GNOSS's GUID, recorded as the remote id); a lookup that finds no one
//!   ends the row `conflict`. Otherwise the same payload is sent again as an update of the row's
//!   user. A conflict on anything else is final;
//! - a create whose answer was lost (timeout, dropped connection) is not sent blindly again where
//!   the provider can be asked: the user is looked up; found, the create is followed by an update
//!   instead; not found, the create is sent again;
//! - a create of a user the ledger does not know, at a provider that may hold them already
//!   (SCIM), looks the user up first: found, the user is adopted (their id recorded) and
//!   updated; found more than once, the lookup's rejection is the row's; not found, created;
//! - a request built from what the provider holds (Abitmedia's deactivation, which sends the
//!   whole record back; SCIM's changes to typed entries, which depend on whether the entry
//!   exists) looks the user up first and is built from the record found;
//! - a request conditional on the version read (`If-Match`) answered "changed meanwhile"
//!   (412): the user is read again and the request rebuilt from what they hold now, once; a
//!   second 412 ends the row `conflict`;
//! - any answer but a passing problem or refused credentials to a reactivation (a returning
//!   leaver's first request, `job.reactivate`): the update is sent next. A refused reactivation
//!   becomes the row's note and does not stop the update: an unblock of a user who is not
//!   blocked may well be refused, and a user the provider does not know makes the update fail
//!   on its own;
//! - credentials refused: if the session can log in again, this attempt is repeated once; otherwise
//!   the whole run is aborted;
//! - a passing problem (429, 5xx, timeout, dropped connection, login unreachable): retried after a
//!   jittered backoff (or the provider's `Retry-After`) up to `max_retries` times.
//!
//! When the run stops, a job that has not sent anything is `NotAttempted`; one that has is `Failed`
//! with its last failure; one whose request is abandoned in flight is `Failed` `interrupted`.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::sync::watch;

use super::attempt::{Answer, AnswerKind, Prepared};
use super::backoff::retry_delay;
use super::control::{reached, Control, Destination, Phase};
use super::{AbortReason, FailureCode, FinalOutcome, Job, JobResult};
use crate::ledger::RowNote;
use crate::notes;
use crate::payload::Payload;
use crate::provider::{AuthError, BuildError, Operation, Outcome, Provider, UserRef};

/// Runs `job` to its final result.
pub(super) async fn process(ctl: Arc<Control>, job: Job) -> JobResult {
    let target = &ctl.target;
    let correlate =
        job.op == Operation::Create && target.provider.correlates_before_create(&target.options);
    let (first, lookup) = if job.reactivate {
        (Operation::Reactivate, None)
    } else if correlate {
        (Operation::Lookup, Some(LookupFor::Correlate))
    } else if target
        .provider
        .reads_first(&target.options, job.op, &job.payload)
    {
        (Operation::Lookup, Some(LookupFor::Read(job.op)))
    } else {
        (job.op, None)
    };
    let mut progress = Progress::new(first);
    progress.lookup = lookup;
    let mut phase = ctl.phase_rx();
    let run = AssertUnwindSafe(drive(&ctl, &job, &mut progress, &mut phase));
    let mut outcome = match run.catch_unwind().await {
        Ok(outcome) => outcome,
        Err(_) => {
            tracing::error!(line = job.line, op = %progress.op, "the provider adapter panicked");
            FinalOutcome::Failed {
                status: progress.last_status,
                code: FailureCode::Internal,
                detail: "the provider adapter panicked".into(),
            }
        }
    };
    if progress.op == Operation::Reactivate {
        // The job ended before its update: the row is the update's, its failure the reactivation's.
        progress.op = job.op;
        if let FinalOutcome::Failed { detail, .. } = &mut outcome {
            *detail = format!("while giving the user access back (reactivate): {detail}");
        }
    }
    if progress.op == Operation::Lookup {
        // The row is the operation the lookup served.
        progress.op = job.op;
        if let FinalOutcome::Failed { detail, .. } = &mut outcome {
            *detail = format!("while looking the user up at the provider: {detail}");
        }
    }
    JobResult {
        op_sent: progress.op,
        outcome,
        attempts: progress.attempts,
        latency: progress
            .first_sent
            .map(|at| at.elapsed())
            .unwrap_or(Duration::ZERO),
        last_status: progress.last_status,
        notes: progress.notes,
        job,
    }
}

/// What a job has done so far.
struct Progress {
    /// The operation being sent (a create becomes an update after a conflict).
    op: Operation,
    attempts: u32,
    first_sent: Option<Instant>,
    last_status: Option<u16>,
    /// The last attempt's failure while the job waits to send again.
    pending: Option<Failure>,
    /// Whether a refused request was already repeated after logging in again.
    logged_in_again: bool,
    /// For the row's outcome (see `crate::notes`).
    notes: Vec<RowNote>,
    /// What the lookup under way (`op` is `Lookup`) is for.
    lookup: Option<LookupFor>,
    /// The provider's id for the user, found by a lookup: the requests after it go to that
    /// user, and the row's outcome records it.
    found_remote_id: Option<String>,
    /// Whether the user was read again after a 412 already.
    reread: bool,
}

/// Why a job looks its user up.
enum LookupFor {
    /// A user the ledger does not know may be at the provider already: found, they are adopted
    /// (updated); not found, created.
    Correlate,
    /// A create met a conflict: the user exists; find which one to update.
    Adopt(Failure),
    /// A create's answer was lost: find out whether it reached the provider.
    Recover,
    /// This operation's request is built from the record the provider holds (a deactivation
    /// that sends the record back; a change whose request depends on what the user has). Also
    /// when the user changed at the provider since they were read (412, `Progress::reread`):
    /// they are read again and the operation rebuilt from what they hold now.
    Read(Operation),
}

/// Why an attempt did not succeed.
struct Failure {
    status: Option<u16>,
    code: FailureCode,
    detail: String,
}

impl Failure {
    /// The final outcome of a job that ended on this failure, with a note on why it ended here.
    fn into_outcome(self, note: &str) -> FinalOutcome {
        let detail = if note.is_empty() {
            self.detail
        } else {
            format!("{}; {note}", self.detail)
        };
        FinalOutcome::Failed {
            status: self.status,
            code: self.code,
            detail,
        }
    }
}

impl Progress {
    fn new(op: Operation) -> Progress {
        Progress {
            op,
            attempts: 0,
            first_sent: None,
            last_status: None,
            pending: None,
            logged_in_again: false,
            notes: Vec::new(),
            lookup: None,
            found_remote_id: None,
            reread: false,
        }
    }

    /// The row's user, with the remote id a lookup found when it found one.
    fn user(&self, job: &Job) -> UserRef {
        let mut user = job.user.clone();
        if let Some(found) = &self.found_remote_id {
            user.remote_id = Some(found.clone());
        }
        user
    }

    /// The request of `op` for this job's user and `payload`.
    fn build(
        &self,
        target: &Destination,
        op: Operation,
        job: &Job,
        payload: &Payload,
    ) -> Result<Prepared, BuildError> {
        Prepared::build(target, op, &self.user(job), payload)
    }

    /// Goes on with `request`, the job's next operation `op`, sent at once; `pending` is the
    /// failure the job ends on should the run stop before it.
    fn resend_as(&mut self, op: Operation, request: Prepared, pending: Failure) -> Next {
        self.op = op;
        self.pending = Some(pending);
        Next::Resend(Some(request))
    }

    /// The outcome of a job the run stopped before its next request.
    fn cut_off(&mut self, ctl: &Control) -> FinalOutcome {
        let reason = ctl
            .reason()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "the run stopped".into());
        match self.pending.take() {
            None => FinalOutcome::NotAttempted { reason },
            Some(failure) => failure.into_outcome(&format!("not sent again: {reason}")),
        }
    }
}

/// What a job does after an answer.
enum Next {
    /// The job is over.
    Done(FinalOutcome),
    /// Send again at once: after logging in again, or (with its new request) a create turned
    /// into an update, or the update after a reactivation.
    Resend(Option<Prepared>),
    /// A passing problem: wait, then retry (if retries are left), with `then` instead of the
    /// same request when it is given (a lookup after a create whose answer was lost).
    Retry {
        failure: Failure,
        after: Option<Duration>,
        then: Option<Prepared>,
    },
}

/// The attempts of one job; the returned outcome is final.
async fn drive(
    ctl: &Control,
    job: &Job,
    progress: &mut Progress,
    phase: &mut watch::Receiver<Phase>,
) -> FinalOutcome {
    let target = &*ctl.target;
    let settings = &target.settings;
    let mut request = match progress.build(target, progress.op, job, &job.payload) {
        Ok(request) => request,
        // A row with no value to look its user up by is created without looking.
        Err(_) if matches!(progress.lookup, Some(LookupFor::Correlate)) => {
            progress.lookup = None;
            progress.op = job.op;
            match progress.build(target, job.op, job, &job.payload) {
                Ok(request) => request,
                Err(error) => return not_built(None, error),
            }
        }
        Err(error) => return not_built(None, error),
    };
    let mut retries = 0u32;
    let mut retrying = false;

    loop {
        if !ctl.wait_turn(phase).await {
            return progress.cut_off(ctl);
        }
        if retrying {
            ctl.count_retry();
            retrying = false;
        }
        progress.attempts += 1;
        progress.first_sent.get_or_insert_with(Instant::now);
        let answer = tokio::select! {
            biased;
            _ = reached(phase, Phase::Abandoned) => return abandoned(progress.attempts),
            answer = ctl.send(progress.op, &request) => answer,
        };
        progress.last_status = answer.status;
        ctl.observe(&answer);
        log_attempt(job, progress, &answer);

        let (failure, after) = match judge(ctl, job, progress, answer.kind) {
            Next::Done(outcome) => return outcome,
            Next::Resend(None) => continue,
            Next::Resend(Some(update)) => {
                request = update;
                continue;
            }
            Next::Retry {
                failure,
                after,
                then,
            } => {
                if let Some(then) = then {
                    request = then;
                }
                (failure, after)
            }
        };

        if retries >= settings.max_retries {
            let note = format!("gave up after {} attempts", progress.attempts);
            return failure.into_outcome(&note);
        }
        if let Some(after) = after {
            ctl.pause_for(after);
        }
        let delay = retry_delay(
            settings.backoff_base,
            settings.backoff_max,
            retries,
            after,
            settings.retry_after_max,
        );
        retries += 1;
        retrying = true;
        progress.pending = Some(failure);
        let _waiting = ctl.backing_off();
        tokio::select! {
            biased;
            _ = reached(phase, Phase::Halted) => return progress.cut_off(ctl),
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// What the job does after an answer (see the rules at the top of this file).
fn judge(ctl: &Control, job: &Job, progress: &mut Progress, kind: AnswerKind) -> Next {
    let passing = |status, code, detail| Next::Retry {
        failure: Failure {
            status,
            code,
            detail,
        },
        after: None,
        then: None,
    };
    let answered = matches!(
        kind,
        AnswerKind::Classified(
            Outcome::Synced { .. } | Outcome::Rejected { .. } | Outcome::Conflict { .. }
        )
    );
    if progress.op == Operation::Reactivate && answered {
        return then_update(&ctl.target, job, progress, kind);
    }
    match kind {
        AnswerKind::Classified(found @ (Outcome::Found { .. } | Outcome::Missing))
            if progress.op == Operation::Lookup =>
        {
            after_lookup(&ctl.target, job, progress, found)
        }
        AnswerKind::Classified(Outcome::Found { .. } | Outcome::Missing) => {
            Next::Done(FinalOutcome::Failed {
                status: progress.last_status,
                code: FailureCode::Internal,
                detail: format!(
                    "the provider adapter read the answer to a {} as a lookup's",
                    progress.op
                ),
            })
        }
        AnswerKind::Classified(Outcome::Synced { remote_id }) => Next::Done(FinalOutcome::Synced {
            remote_id: remote_id.or_else(|| progress.found_remote_id.clone()),
        }),
        AnswerKind::Classified(Outcome::Rejected {
            status,
            errors,
            detail,
        }) => Next::Done(FinalOutcome::Rejected {
            status,
            errors,
            detail,
        }),
        AnswerKind::Classified(Outcome::Stale { status, detail }) => {
            read_again(&ctl.target, job, progress, status, detail)
        }
        AnswerKind::Classified(Outcome::Conflict { status, detail }) => {
            let conflict = Failure {
                status: Some(status),
                code: FailureCode::Conflict,
                detail,
            };
            switch_to_update(&ctl.target, job, progress, conflict)
        }
        AnswerKind::Classified(Outcome::AuthFailed { status, detail }) => {
            if !progress.logged_in_again && ctl.target.session.invalidate() {
                progress.logged_in_again = true;
                progress.pending = Some(Failure {
                    status: Some(status),
                    code: FailureCode::AuthFailed,
                    detail,
                });
                return Next::Resend(None);
            }
            Next::Done(auth_failed(ctl, Some(status), detail))
        }
        AnswerKind::Login(AuthError::Refused(detail)) => Next::Done(auth_failed(ctl, None, detail)),
        AnswerKind::Login(AuthError::Transient(reason)) => passing(
            None,
            FailureCode::Login,
            format!("could not log in: {reason}"),
        ),
        AnswerKind::Transport { code, reason } => {
            let lost = matches!(code, FailureCode::Timeout | FailureCode::Connection);
            if lost && progress.op == Operation::Create {
                if let Ok(lookup) =
                    progress.build(&ctl.target, Operation::Lookup, job, &job.payload)
                {
                    tracing::debug!(
                        line = job.line,
                        "a create's answer was lost: looking the user up before sending it again"
                    );
                    progress.op = Operation::Lookup;
                    progress.lookup = Some(LookupFor::Recover);
                    return Next::Retry {
                        failure: Failure {
                            status: None,
                            code,
                            detail: reason,
                        },
                        after: None,
                        then: Some(lookup),
                    };
                }
            }
            passing(None, code, reason)
        }
        AnswerKind::Classified(Outcome::Retry {
            status,
            after,
            reason,
        }) => {
            if status == Some(429) || after.is_some() {
                ctl.count_throttled();
            }
            let detail = match status {
                Some(status) => format!("HTTP {status}: {reason}"),
                None => reason,
            };
            Next::Retry {
                failure: Failure {
                    status,
                    code: retry_code(status),
                    detail,
                },
                after,
                then: None,
            }
        }
    }
}

/// After a conflict: a create is sent again as an update of the existing user; anything else,
/// or a provider that cannot build that update, fails `conflict`.
fn switch_to_update(
    target: &Destination,
    job: &Job,
    progress: &mut Progress,
    conflict: Failure,
) -> Next {
    if progress.op != Operation::Create {
        return Next::Done(conflict.into_outcome(""));
    }
    let lookup = if target.provider.conflict_needs_lookup() {
        progress
            .build(target, Operation::Lookup, job, &job.payload)
            .ok()
    } else {
        None
    };
    if let Some(lookup) = lookup {
        tracing::debug!(
            line = job.line,
            "create met a conflict: looking the existing user up"
        );
        progress.lookup = Some(LookupFor::Adopt(Failure {
            status: conflict.status,
            code: conflict.code,
            detail: conflict.detail.clone(),
        }));
        return progress.resend_as(Operation::Lookup, lookup, conflict);
    }
    let update = fallback_update(target.provider);
    match progress.build(target, update, job, &job.payload) {
        Ok(request) => {
            tracing::debug!(line = job.line, op = %update, "create met a conflict: sending an update");
            progress.resend_as(update, request, conflict)
        }
        Err(why) => Next::Done(conflict.into_outcome(&format!(
            "the user exists and cannot be updated instead: {why}"
        ))),
    }
}

/// After a 412: the user changed at the provider since they were read. They are read again
/// and the same operation rebuilt from what they hold now, once.
fn read_again(
    target: &Destination,
    job: &Job,
    progress: &mut Progress,
    status: u16,
    detail: String,
) -> Next {
    let changed = Failure {
        status: Some(status),
        code: FailureCode::Conflict,
        detail,
    };
    if progress.reread {
        return Next::Done(changed.into_outcome(
            "the user changed at the provider again while usersync was updating them",
        ));
    }
    match progress.build(target, Operation::Lookup, job, &job.payload) {
        Ok(lookup) => {
            tracing::debug!(
                line = job.line,
                "the user changed at the provider: reading them again"
            );
            progress.reread = true;
            progress.lookup = Some(LookupFor::Read(progress.op));
            progress.resend_as(Operation::Lookup, lookup, changed)
        }
        Err(why) => Next::Done(changed.into_outcome(&format!("cannot read the user again: {why}"))),
    }
}

/// After the provider answered a reactivation: the job's update is sent next, whatever the
/// answer said (see the rules at the top of this file). A refusal becomes the row's note, which
/// the log gives as a warning with the row's outcome; the provider's own answer, which may
/// repeat personal data, is logged here at `-v` only.
fn then_update(
    target: &Destination,
    job: &Job,
    progress: &mut Progress,
    answer: AnswerKind,
) -> Next {
    let status = progress.last_status;
    if let AnswerKind::Classified(
        Outcome::Rejected { detail, .. } | Outcome::Conflict { detail, .. },
    ) = &answer
    {
        tracing::info!(
            line = job.line,
            key = %job.user.key,
            status,
            detail = %detail,
            "the provider refused to give a returning user their access back; sending their update anyway"
        );
        let provider = target.provider.name();
        progress
            .notes
            .push(notes::reactivation_refused(provider, status));
    }
    match progress.build(target, job.op, job, &job.payload) {
        Ok(request) => {
            // Should the run stop now, the row failed: its reactivation was sent, its update not.
            let cut_short = Failure {
                status,
                code: FailureCode::Interrupted,
                detail: "the user's reactivation was sent but their update was not".into(),
            };
            progress.resend_as(job.op, request, cut_short)
        }
        Err(error) => Next::Done(not_built(None, error)),
    }
}

/// After a lookup's answer: goes on with what the provider holds (see the rules at the top of
/// this file).
fn after_lookup(target: &Destination, job: &Job, progress: &mut Progress, answer: Outcome) -> Next {
    let purpose = progress.lookup.take();
    let mut record = Payload::new();
    let found = match answer {
        Outcome::Found { remote_id, record } => Some((remote_id, record)),
        _ => None,
    };
    let update = fallback_update(target.provider);
    let (op, payload, on_stop) = match (purpose, found) {
        (Some(LookupFor::Adopt(conflict)), None) => {
            return Next::Done(conflict.into_outcome(
                "the provider says the user exists, but looking them up found no one",
            ))
        }
        (
            Some(LookupFor::Adopt(_)) | Some(LookupFor::Recover) | Some(LookupFor::Correlate),
            Some((remote_id, found)),
        ) => {
            if remote_id.is_some() {
                progress.found_remote_id = remote_id;
            }
            tracing::debug!(line = job.line, op = %update, "the user is at the provider: sending an update");
            record = found;
            (
                update,
                &job.payload,
                "the user was found at the provider but not updated",
            )
        }
        (Some(LookupFor::Recover), None) => (
            Operation::Create,
            &job.payload,
            "the lost create was not sent again",
        ),
        (Some(LookupFor::Correlate), None) => (
            Operation::Create,
            &job.payload,
            "the user was looked for and not found, but not created",
        ),
        (Some(LookupFor::Read(op)), Some((remote_id, record))) => {
            if remote_id.is_some() {
                progress.found_remote_id = remote_id;
            }
            let user = progress.user(job);
            let request = match Prepared::build_with(target, op, &user, &job.payload, Some(&record))
            {
                Ok(request) => request,
                Err(error) => return Next::Done(not_built(None, error)),
            };
            let read = if progress.reread {
                "read again"
            } else {
                "read"
            };
            let pending = Failure {
                status: progress.last_status,
                code: FailureCode::Interrupted,
                detail: format!("the user was {read} but the {op} was not sent"),
            };
            return progress.resend_as(op, request, pending);
        }
        (Some(LookupFor::Read(_)), None) => {
            return Next::Done(FinalOutcome::Failed {
                status: progress.last_status,
                code: FailureCode::NotFound,
                detail: "the provider no longer has this user".into(),
            })
        }
        (None, _) => {
            return Next::Done(FinalOutcome::Failed {
                status: progress.last_status,
                code: FailureCode::Internal,
                detail: "a lookup was answered that no step asked for".into(),
            })
        }
    };
    // An update built from what the provider holds (see `Provider::reads_first`) is built from
    // the record the lookup just read.
    let provider = target.provider;
    let built = if op != Operation::Create && provider.reads_first(&target.options, op, payload) {
        Prepared::build_with(target, op, &progress.user(job), payload, Some(&record))
    } else {
        progress.build(target, op, job, payload)
    };
    match built {
        Ok(request) => {
            let pending = Failure {
                status: progress.last_status,
                code: FailureCode::Interrupted,
                detail: on_stop.into(),
            };
            progress.resend_as(op, request, pending)
        }
        Err(error) => Next::Done(not_built(progress.last_status, error)),
    }
}

/// The outcome of a job whose next request could not be built: nothing more was sent.
fn not_built(status: Option<u16>, error: BuildError) -> FinalOutcome {
    FinalOutcome::Failed {
        status,
        detail: error.to_string(),
        code: error.into(),
    }
}

/// The operation a create that met a conflict is sent again as.
fn fallback_update(provider: &dyn Provider) -> Operation {
    if provider.supports(Operation::Update) {
        Operation::Update
    } else {
        provider.update_operation()
    }
}

/// The failure code of a `Retry` outcome.
fn retry_code(status: Option<u16>) -> FailureCode {
    match status {
        Some(429) => FailureCode::Throttled,
        Some(status) if status >= 500 => FailureCode::ServerError,
        // A 2xx that is not the documented success: a proxy's page, an empty body.
        Some(200..=299) => FailureCode::UnexpectedAnswer,
        Some(_) => FailureCode::HttpError,
        None => FailureCode::Retry,
    }
}

/// Aborts the run: the credentials are refused.
fn auth_failed(ctl: &Control, status: Option<u16>, detail: String) -> FinalOutcome {
    ctl.abort(AbortReason::AuthFailed {
        status,
        detail: detail.clone(),
    });
    FinalOutcome::Failed {
        status,
        code: FailureCode::AuthFailed,
        detail,
    }
}

fn abandoned(attempt: u32) -> FinalOutcome {
    FinalOutcome::Failed {
        status: None,
        code: FailureCode::Interrupted,
        detail: format!(
            "abandoned in flight (attempt {attempt}): the request may have reached the provider"
        ),
    }
}

fn log_attempt(job: &Job, progress: &Progress, answer: &Answer) {
    tracing::debug!(
        line = job.line,
        op = %progress.op,
        attempt = progress.attempts,
        status = answer.status,
        latency_ms = answer.latency.as_millis() as u64,
        result = answer.label(),
        "attempt"
    );
}
