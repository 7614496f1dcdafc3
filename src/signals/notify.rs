//! Webhook notifications: after a run, one JSON POST when its outcome is one of the `[notify]`
//! events, in a shape Slack's and Teams' incoming webhooks show as is (`text`) and that a
//! script can read (the other keys). Counts only: no user key, no field value.
//!
//! A notification is best effort: up to three attempts within `timeout_secs`, retried on a
//! connection error, a timeout, 429 or 5xx; a failure is a warning and never changes the exit
//! code. Messages name the webhook by scheme and host only: its path is its secret.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::{webhook_origin, NotifyEvent};
use crate::ledger::{NoteCode, RunCounts, RunRecord};

/// Attempts of one notification, at most.
const ATTEMPTS: u32 = 3;
/// The pause after the first failed attempt; doubled after each further one.
const BACKOFF: Duration = Duration::from_millis(500);

/// The JSON body of a notification.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// One readable line: what chat webhooks show.
    pub text: String,
    pub event: String,
    pub target: String,
    pub provider: String,
    pub run: i64,
    pub status: String,
    pub exit_code: Option<i32>,
    pub counts: RunCounts,
    /// The command that shows the run's report.
    pub report: String,
}

/// Every event `run` matches, the most urgent first (the order of [`NotifyEvent`]).
/// `notes` are the run's note codes as the ledger stores them.
pub fn events_of(run: &RunRecord, notes: &[String]) -> Vec<NotifyEvent> {
    let c = &run.counts;
    let mut events = Vec::new();
    let held = run.exit_code == Some(crate::exit::Exit::Held.code() as i32);
    let clean_or_row_errors = matches!(run.exit_code, Some(0) | Some(3));
    if held {
        // Held, not failed: nothing was sent, and a person decides (`usersync approve`).
        events.push(NotifyEvent::Held);
    } else if !clean_or_row_errors || c.failed + c.not_attempted > 0 {
        events.push(NotifyEvent::Failed);
    }
    let needs_person = notes.iter().any(|code| {
        serde::Deserialize::deserialize(
            serde::de::value::StrDeserializer::<serde::de::value::Error>::new(code),
        )
        .is_ok_and(|code: NoteCode| code.needs_a_person())
    });
    if needs_person {
        events.push(NotifyEvent::NeedsPerson);
    }
    if c.rejected > 0 {
        events.push(NotifyEvent::RejectedRows);
    }
    if run.exit_code == Some(0) {
        events.push(NotifyEvent::Completed);
    }
    events
}

/// The notification of `run` as `event`.
pub fn message(event: NotifyEvent, run: &RunRecord) -> Message {
    let c = &run.counts;
    let report = format!("usersync report {} -t {}", run.id, run.target);
    let what = match event {
        NotifyEvent::Failed => format!("did not get everything through ({})", run.status),
        NotifyEvent::Held => "is held for a person's decision".to_owned(),
        NotifyEvent::NeedsPerson => "went through, but rows need a person".to_owned(),
        NotifyEvent::RejectedRows => "rejected rows: fix them at the source".to_owned(),
        NotifyEvent::Completed => "completed".to_owned(),
    };
    let exit = run
        .exit_code
        .map_or_else(|| "no exit code".to_owned(), |code| format!("exit {code}"));
    let text = format!(
        "usersync {} of {} ({}), run {}: {what}, {exit} · synced {} · unchanged {} · \
         rejected {} · failed {} · not attempted {} · details: {report}",
        run.command,
        run.target,
        run.provider,
        run.id,
        c.synced,
        c.unchanged,
        c.rejected,
        c.failed,
        c.not_attempted
    );
    Message {
        text,
        event: event.as_str().to_owned(),
        target: run.target.clone(),
        provider: run.provider.clone(),
        run: run.id.0,
        status: run.status.to_string(),
        exit_code: run.exit_code,
        counts: *c,
        report,
    }
}

/// The sample `usersync notify --test` sends about `target`.
pub fn sample(target: &str, provider: &str, events: &[NotifyEvent]) -> Message {
    let events: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    Message {
        text: format!(
            "usersync: a test notification for target {target} ({provider}); the runs that end \
             {} will be posted here",
            events.join(" or ")
        ),
        event: "test".to_owned(),
        target: target.to_owned(),
        provider: provider.to_owned(),
        run: 0,
        status: "test".to_owned(),
        exit_code: Some(0),
        counts: RunCounts::default(),
        report: format!("usersync report last -t {target}"),
    }
}

/// Why a notification did not go through, without the webhook's path.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the webhook at {origin} answered {status} ({})", tries(*.attempts))]
    Status {
        origin: String,
        status: reqwest::StatusCode,
        attempts: u32,
    },
    #[error("could not reach the webhook at {origin}: {why} ({})", tries(*.attempts))]
    Unreachable {
        origin: String,
        why: String,
        attempts: u32,
    },
}

fn tries(attempts: u32) -> String {
    match attempts {
        1 => "1 attempt".to_owned(),
        n => format!("{n} attempts"),
    }
}

/// POSTs `message` to `url`: up to [`ATTEMPTS`] tries within `timeout`. Returns the status of
/// the 2xx answer.
pub async fn send(
    url: &url::Url,
    message: &Message,
    timeout: Duration,
) -> Result<reqwest::StatusCode, SendError> {
    let origin = webhook_origin(url);
    let unreachable = |why: String, attempts| SendError::Unreachable {
        origin: origin.clone(),
        why,
        attempts,
    };
    let client = reqwest::Client::builder()
        .user_agent(concat!("usersync/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| unreachable(error_text(e), 0))?;
    let deadline = Instant::now() + timeout;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let left = deadline.saturating_duration_since(Instant::now());
        let answer = client
            .post(url.clone())
            .json(message)
            .timeout(left)
            .send()
            .await;
        let failure = match answer {
            Ok(response) if response.status().is_success() => return Ok(response.status()),
            Ok(response) => {
                let status = response.status();
                let failure = SendError::Status {
                    origin: origin.clone(),
                    status,
                    attempts: attempt,
                };
                let passing =
                    status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
                if !passing {
                    return Err(failure);
                }
                failure
            }
            Err(e) => unreachable(error_text(e), attempt),
        };
        let pause = BACKOFF * 2u32.pow(attempt - 1);
        if attempt >= ATTEMPTS || Instant::now() + pause >= deadline {
            return Err(failure);
        }
        tokio::time::sleep(pause).await;
    }
}

/// A reqwest error and its causes on one line, without the URL reqwest would put in it.
fn error_text(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{RunId, RunStatus};

    fn run(status: RunStatus, exit_code: Option<i32>, counts: RunCounts) -> RunRecord {
        RunRecord {
            id: RunId(42),
            target: "lawyers".into(),
            provider: "meetinglawyers".into(),
            command: "sync".into(),
            parent_run_id: None,
            input_path: Some("/data/hr.csv".into()),
            input_sha256: None,
            command_line: Some("usersync sync /data/hr.csv".into()),
            note: None,
            endpoint: None,
            pid: None,
            started_at: chrono::Utc::now(),
            finished_at: None,
            status,
            exit_code,
            counts,
            pruned_at: None,
        }
    }

    #[test]
    fn a_run_matches_its_events_most_urgent_first() {
        let clean = run(RunStatus::Completed, Some(0), RunCounts::default());
        assert_eq!(events_of(&clean, &[]), [NotifyEvent::Completed]);
        let noted = ["not_cleared".to_owned()];
        assert_eq!(
            events_of(&clean, &noted),
            [NotifyEvent::NeedsPerson, NotifyEvent::Completed]
        );
        // What the target's config asked for needs nobody.
        assert_eq!(
            events_of(&clean, &["protected".to_owned()]),
            [NotifyEvent::Completed]
        );
        let rejected = RunCounts {
            rejected: 2,
            ..RunCounts::default()
        };
        assert_eq!(
            events_of(&run(RunStatus::Completed, Some(3), rejected), &noted),
            [NotifyEvent::NeedsPerson, NotifyEvent::RejectedRows]
        );
        let failed = RunCounts {
            failed: 1,
            rejected: 2,
            ..RunCounts::default()
        };
        assert_eq!(
            events_of(&run(RunStatus::Completed, Some(3), failed), &[]),
            [NotifyEvent::Failed, NotifyEvent::RejectedRows]
        );
        for (status, code) in [
            (RunStatus::Aborted, Some(1)),
            (RunStatus::Interrupted, Some(4)),
            (RunStatus::Interrupted, Some(130)),
            (RunStatus::Interrupted, None),
        ] {
            assert_eq!(
                events_of(&run(status, code, RunCounts::default()), &[]),
                [NotifyEvent::Failed],
                "{status} {code:?}"
            );
        }
    }

    #[test]
    fn the_body_is_one_line_of_text_and_counts_without_personal_data() {
        let counts = RunCounts {
            rows: 5,
            synced: 3,
            failed: 2,
            ..RunCounts::default()
        };
        let body = message(
            NotifyEvent::Failed,
            &run(RunStatus::Completed, Some(3), counts),
        );
        let json = serde_json::to_value(&body).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "counts",
                "event",
                "exit_code",
                "provider",
                "report",
                "run",
                "status",
                "target",
                "text"
            ]
        );
        assert_eq!(json["event"], "failed");
        assert_eq!(json["run"], 42);
        assert_eq!(json["exit_code"], 3);
        assert_eq!(json["counts"]["failed"], 2);
        assert_eq!(json["report"], "usersync report 42 -t lawyers");
        let text = json["text"].as_str().unwrap();
        assert!(!text.contains('\n'), "{text}");
        assert!(
            text.contains("run 42") && text.contains("failed 2"),
            "{text}"
        );
        assert!(!json.to_string().contains("hr.csv"), "no paths: {json}");
    }
}
