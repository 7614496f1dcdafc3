//! Held runs (`held_runs`): a run whose guards tripped is held with the saved plan of what it
//! would have sent, until a person approves it (`usersync approve`) or rejects it
//! (`usersync reject`).

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::error::SqlContext;
use super::runs::RunId;
use super::{parse_timestamp, timestamp, Ledger, LedgerError};

/// What a person decided about a held run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approved,
    Rejected,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
        }
    }
}

/// A held run.
#[derive(Debug, Clone)]
pub struct HeldRun {
    pub run: RunId,
    /// The saved plan of what it would have sent (`crate::sync::saved_plan`), as JSON.
    pub plan_json: String,
    pub held_at: DateTime<Utc>,
    /// `None` while it waits for a person.
    pub decision: Option<(Decision, String, DateTime<Utc>)>,
    /// The run that sent it, once approved.
    pub approved_run: Option<RunId>,
}

impl Ledger {
    /// Holds `run` with the saved plan of what it would have sent.
    pub fn hold_run(&self, run: RunId, plan_json: &str) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "INSERT INTO held_runs (run_id, plan_json, held_at) VALUES (?1, ?2, ?3)",
                params![run.0, plan_json, timestamp(Utc::now())],
            )
            .ctx(&self.path, "hold a run")?;
        Ok(())
    }

    /// The held run `run`, if it was held.
    pub fn held_run(&self, run: RunId) -> Result<Option<HeldRun>, LedgerError> {
        let row = self
            .conn
            .query_row(
                "SELECT plan_json, held_at, decision, decided_by, decided_at, approved_run_id \
                 FROM held_runs WHERE run_id = ?1",
                [run.0],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Option<String>>(2)?,
                        row.get::<_, Option<String>>(3)?,
                        row.get::<_, Option<String>>(4)?,
                        row.get::<_, Option<i64>>(5)?,
                    ))
                },
            )
            .optional()
            .ctx(&self.path, "read a held run")?;
        let Some((plan_json, held_at, decision, by, at, approved)) = row else {
            return Ok(None);
        };
        let when = |text: &str| {
            parse_timestamp(text).ok_or_else(|| self.corrupt(format!("held run {run}: {text}")))
        };
        let decision = match (decision.as_deref(), by, at) {
            (Some(d), Some(by), Some(at)) => {
                let d = if d == "approved" {
                    Decision::Approved
                } else {
                    Decision::Rejected
                };
                Some((d, by, when(&at)?))
            }
            _ => None,
        };
        Ok(Some(HeldRun {
            run,
            plan_json,
            held_at: when(&held_at)?,
            decision,
            approved_run: approved.map(RunId),
        }))
    }

    /// Records `decision` on the held run `run`, by `by`; `approved_run` is the run that sent it.
    /// Returns false when it was decided already.
    pub fn decide_held(
        &self,
        run: RunId,
        decision: Decision,
        by: &str,
        approved_run: Option<RunId>,
    ) -> Result<bool, LedgerError> {
        let changed = self
            .conn
            .execute(
                "UPDATE held_runs SET decision = ?2, decided_by = ?3, decided_at = ?4, \
                 approved_run_id = ?5 WHERE run_id = ?1 AND decision IS NULL",
                params![
                    run.0,
                    decision.as_str(),
                    by,
                    timestamp(Utc::now()),
                    approved_run.map(|r| r.0)
                ],
            )
            .ctx(&self.path, "decide a held run")?;
        Ok(changed > 0)
    }

    /// How many runs of `target` wait for a person.
    pub fn held_waiting(&self, target: &str) -> Result<u64, LedgerError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM held_runs h JOIN runs r ON r.id = h.run_id \
                 WHERE r.target = ?1 AND h.decision IS NULL",
                [target],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .ctx(&self.path, "count held runs")
    }
}
