//! The circuit breaker: a long streak of identical failures means the provider (or our config) is
//! broken, and sending the rest of the file would only hammer it.
//!
//! Only final `Failed` results count, in the order jobs finish; a success, a rejection or a
//! conflict that could not be resolved (the provider answered properly: "exists", for example a
//! Faveo user usersync has no id for) ends the streak. Jobs that never sent a request do not
//! count. A first night against a provider that already holds most of the export's users thus
//! fails those rows one by one and still creates the new ones after them.

use super::{FailureCode, FinalOutcome};

/// Counts consecutive final failures of the same kind.
#[derive(Debug)]
pub(super) struct Breaker {
    threshold: u32,
    kind: Option<(FailureCode, Option<u16>)>,
    count: u32,
}

impl Breaker {
    /// A breaker that trips after `threshold` identical failures in a row; 0 never trips.
    pub(super) fn new(threshold: u32) -> Breaker {
        Breaker {
            threshold,
            kind: None,
            count: 0,
        }
    }

    /// Ends the streak.
    fn reset(&mut self) -> Option<(String, u32)> {
        self.kind = None;
        self.count = 0;
        None
    }

    /// Takes one job's outcome; returns the kind and count when the breaker trips.
    pub(super) fn observe(&mut self, outcome: &FinalOutcome) -> Option<(String, u32)> {
        match outcome {
            // The provider answered properly: it is working.
            FinalOutcome::Synced { .. } | FinalOutcome::Rejected { .. } => self.reset(),
            FinalOutcome::Failed {
                code: FailureCode::Conflict,
                ..
            } => self.reset(),
            // No request was sent.
            FinalOutcome::NotAttempted { .. } => None,
            FinalOutcome::Failed { code, .. } if code.nothing_sent() => None,
            FinalOutcome::Failed { status, code, .. } => {
                let same = matches!(&self.kind, Some((c, s)) if c == code && s == status);
                if same {
                    self.count += 1;
                } else {
                    self.kind = Some((*code, *status));
                    self.count = 1;
                }
                if self.threshold > 0 && self.count >= self.threshold {
                    Some((describe(*code, *status), self.count))
                } else {
                    None
                }
            }
        }
    }
}

fn describe(code: FailureCode, status: Option<u16>) -> String {
    match status {
        Some(status) => format!("{code} (HTTP {status})"),
        None => code.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(code: &str, status: Option<u16>) -> FinalOutcome {
        let code = [
            FailureCode::ServerError,
            FailureCode::Timeout,
            FailureCode::Conflict,
            FailureCode::Unsupported,
            FailureCode::Connection,
            FailureCode::HttpError,
        ]
        .into_iter()
        .find(|c| c == code)
        .unwrap_or_else(|| panic!("a code the tests know: {code}"));
        FinalOutcome::Failed {
            status,
            code,
            detail: String::new(),
        }
    }

    #[test]
    fn trips_on_a_streak_of_the_same_kind() {
        let mut b = Breaker::new(3);
        assert_eq!(b.observe(&failed("server_error", Some(500))), None);
        assert_eq!(b.observe(&failed("server_error", Some(500))), None);
        assert_eq!(
            b.observe(&failed("server_error", Some(500))),
            Some(("server_error (HTTP 500)".into(), 3))
        );
    }

    #[test]
    fn a_success_or_another_kind_restarts_the_streak() {
        let mut b = Breaker::new(2);
        assert_eq!(b.observe(&failed("timeout", None)), None);
        assert_eq!(b.observe(&FinalOutcome::Synced { remote_id: None }), None);
        assert_eq!(b.observe(&failed("timeout", None)), None);
        assert_eq!(b.observe(&failed("server_error", Some(502))), None);
        assert_eq!(b.observe(&failed("server_error", Some(503))), None);
        assert_eq!(
            b.observe(&failed("server_error", Some(503))),
            Some(("server_error (HTTP 503)".into(), 2))
        );
    }

    #[test]
    fn conflicts_are_answers_and_restart_the_streak() {
        let mut b = Breaker::new(2);
        for _ in 0..1000 {
            assert_eq!(b.observe(&failed("conflict", Some(409))), None);
        }
        assert_eq!(b.observe(&failed("timeout", None)), None);
        assert_eq!(b.observe(&failed("conflict", Some(422))), None);
        assert_eq!(b.observe(&failed("timeout", None)), None, "restarted");
    }

    #[test]
    fn unsent_jobs_do_not_count_and_zero_disables() {
        let mut b = Breaker::new(1);
        assert_eq!(b.observe(&failed("unsupported", None)), None);
        assert_eq!(
            b.observe(&FinalOutcome::NotAttempted { reason: "x".into() }),
            None
        );
        let mut off = Breaker::new(0);
        for _ in 0..1000 {
            assert_eq!(off.observe(&failed("timeout", None)), None);
        }
    }
}
