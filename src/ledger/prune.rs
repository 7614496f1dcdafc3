//! Retention: deleting the row details of old runs, so that a ledger synced every night does not
//! grow without end, and the payloads it kept for rows that never went through (personal data)
//! do not stay for ever.
//!
//! A run's *row details* are its `row_outcomes`: one row per input row per night, about 75 bytes
//! each for an unchanged row (BENCHMARKS.md), so 100,000 employees add some 7 MB a night, 2.6 GB
//! a year. Pruning deletes them and stamps the run `pruned_at`; the run itself, with its counts,
//! stays for `usersync runs`. The snapshot (`synced_users`) is never touched: every nightly diff
//! needs it. Space freed is reused by the next nights' rows; [`Ledger::vacuum`] gives it back to
//! the file system at once.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::error::{LedgerError, SqlContext};
use super::runs::{RunId, RunRecord};
use super::{parse_timestamp, timestamp, Ledger};

/// A run whose row details a prune would delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrunableRun {
    pub id: RunId,
    pub target: String,
    pub finished_at: DateTime<Utc>,
    /// Its rows, as counted when it finished.
    pub rows: u64,
}

impl RunRecord {
    /// Why the run's rows cannot be read any more, when its row details were pruned: for
    /// `report` and `retry` to say instead of showing an empty run.
    pub fn pruned_message(&self) -> Option<String> {
        self.pruned_at.map(|at| {
            format!(
                "run {} no longer has its row details: they were deleted on {} because the run \
                 had ended longer ago than the ledger keeps them (`retention_days` in the \
                 config); `usersync runs` still shows its counts",
                self.id,
                at.format("%Y-%m-%d")
            )
        })
    }
}

impl Ledger {
    /// The runs that finished before `cutoff` and still have their row details, oldest first;
    /// only `target`'s when given.
    ///
    /// Never a run without an end (still going on, or left `running` by a dead process until
    /// the next run of its target marks it interrupted), and never a target's newest run: the
    /// one `retry` and `report` pick by default stays whole, however old.
    pub fn prunable_runs(
        &self,
        cutoff: DateTime<Utc>,
        target: Option<&str>,
    ) -> Result<Vec<PrunableRun>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, target, finished_at, rows FROM runs r \
                 WHERE (?2 IS NULL OR target = ?2) AND pruned_at IS NULL \
                 AND status <> 'running' AND finished_at IS NOT NULL AND finished_at < ?1 \
                 AND id < (SELECT max(id) FROM runs n WHERE n.target = r.target) \
                 ORDER BY id",
            )
            .ctx(&self.path, "find runs to prune")?;
        let rows = stmt
            .query_map(params![timestamp(cutoff), target], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, u64>(3)?,
                ))
            })
            .ctx(&self.path, "find runs to prune")?;
        let mut runs = Vec::new();
        for row in rows {
            let (id, target, finished_at, rows) = row.ctx(&self.path, "find runs to prune")?;
            let finished_at = parse_timestamp(&finished_at).ok_or_else(|| {
                self.corrupt(format!("run {id}: bad finished_at {finished_at:?}"))
            })?;
            runs.push(PrunableRun {
                id: RunId(id),
                target,
                finished_at,
                rows,
            });
        }
        Ok(runs)
    }

    /// Deletes the row details of `run` and stamps it `pruned_at`, in one transaction (one run at
    /// a time, so that a sync writing to the same ledger waits for one run's delete at most).
    /// Returns the rows deleted. A run still going on is left alone (0).
    ///
    /// The deleted rows' bytes are overwritten (SQLite's `secure_delete`), so that the payloads
    /// they kept do not linger in the file's free pages.
    pub fn prune_run(&mut self, run: RunId) -> Result<u64, LedgerError> {
        let path = self.path.clone();
        self.conn
            .pragma_update(None, "secure_delete", true)
            .ctx(&path, "prune a run")?;
        let tx = self.conn.transaction().ctx(&path, "prune a run")?;
        let stamped = tx
            .execute(
                "UPDATE runs SET pruned_at = ?2 WHERE id = ?1 AND status <> 'running' \
                 AND pruned_at IS NULL",
                params![run.0, timestamp(Utc::now())],
            )
            .ctx(&path, "prune a run")?;
        if stamped == 0 {
            return Ok(0);
        }
        let deleted = tx
            .execute("DELETE FROM row_outcomes WHERE run_id = ?1", [run.0])
            .ctx(&path, "delete a run's rows")?;
        tx.commit().ctx(&path, "prune a run")?;
        Ok(deleted as u64)
    }

    /// Rewrites the file without the space pruning freed (SQLite's `VACUUM`), then truncates the
    /// write-ahead log, so that the file on disk shrinks now. Needs no other connection to be
    /// writing, and as much free disk as the ledger's size.
    pub fn vacuum(&self) -> Result<(), LedgerError> {
        self.conn
            .execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")
            .ctx(&self.path, "vacuum the ledger")
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::ledger::{NewRun, RunCounts, RunStatus};

    fn run(ledger: &Ledger, target: &str, finished_days_ago: Option<i64>) -> RunId {
        let id = ledger
            .begin_run(&NewRun {
                target: target.into(),
                provider: "meetinglawyers".into(),
                command: "sync".into(),
                ..NewRun::default()
            })
            .unwrap();
        ledger
            .conn
            .execute(
                "INSERT INTO row_outcomes (run_id, line, user_key, outcome, payload, recorded_at) \
                 VALUES (?1, 2, 'E1', 'failed', '{\"email\":\"a@b.es\"}', '2026-01-01T00:00:00.000Z')",
                [id.0],
            )
            .unwrap();
        if let Some(days) = finished_days_ago {
            let counts = RunCounts {
                rows: 1,
                failed: 1,
                ..RunCounts::default()
            };
            ledger
                .finish_run(id, RunStatus::Completed, Some(3), &counts)
                .unwrap();
            let at = timestamp(Utc::now() - Duration::days(days));
            ledger
                .conn
                .execute(
                    "UPDATE runs SET finished_at = ?2 WHERE id = ?1",
                    params![id.0, at],
                )
                .unwrap();
        }
        id
    }

    fn rows_of(ledger: &Ledger, id: RunId) -> i64 {
        ledger
            .conn
            .query_row(
                "SELECT count(*) FROM row_outcomes WHERE run_id = ?1",
                [id.0],
                |r| r.get(0),
            )
            .unwrap()
    }

    #[test]
    fn old_finished_runs_go_but_never_the_newest_or_a_running_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(dir.path().join("l.db")).unwrap();
        let old = run(&ledger, "a", Some(200));
        let crashed = run(&ledger, "a", None);
        let recent = run(&ledger, "a", Some(10));
        let newest_but_old = run(&ledger, "b", Some(300));
        let cutoff = Utc::now() - Duration::days(90);

        let prunable = ledger.prunable_runs(cutoff, None).unwrap();
        assert_eq!(
            prunable.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![old],
            "only the old finished run that is not its target's newest"
        );
        assert_eq!(prunable[0].rows, 1);
        assert_eq!(ledger.prune_run(old).unwrap(), 1);
        assert_eq!(rows_of(&ledger, old), 0);
        for kept in [crashed, recent, newest_but_old] {
            assert_eq!(rows_of(&ledger, kept), 1, "run {kept} keeps its rows");
        }
        let record = ledger.run(old).unwrap().unwrap();
        assert!(record.pruned_at.is_some());
        assert_eq!(record.counts.rows, 1, "the run keeps its counts");
        assert!(ledger.prunable_runs(cutoff, None).unwrap().is_empty());
        assert_eq!(
            ledger.prune_run(old).unwrap(),
            0,
            "pruning twice does nothing"
        );
        assert_eq!(
            ledger.prune_run(crashed).unwrap(),
            0,
            "a running run is never pruned"
        );
        assert_eq!(rows_of(&ledger, crashed), 1);
    }

    #[test]
    fn a_pruned_payload_leaves_no_bytes_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        let mut ledger = Ledger::open(&path).unwrap();
        let old = run(&ledger, "a", Some(200));
        run(&ledger, "a", Some(1));
        let checkpoint = |ledger: &Ledger| {
            ledger
                .conn
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                .unwrap()
        };
        let holds_payload = |bytes: Vec<u8>| bytes.windows(6).any(|w| w == b"a@b.es");
        checkpoint(&ledger);
        assert!(
            holds_payload(std::fs::read(&path).unwrap()),
            "the payloads are on disk"
        );
        ledger.prune_run(old).unwrap();
        checkpoint(&ledger);
        let bytes = std::fs::read(&path).unwrap();
        // The other run's row still holds its payload once; the pruned one's bytes are zeroed.
        let found = bytes.windows(6).filter(|w| *w == b"a@b.es").count();
        assert_eq!(found, 1, "only the kept run's payload remains in the file");
        assert!(holds_payload(bytes));
    }

    #[test]
    fn a_target_filter_keeps_other_targets() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path().join("l.db")).unwrap();
        let a = run(&ledger, "a", Some(200));
        run(&ledger, "a", Some(1));
        run(&ledger, "b", Some(200));
        run(&ledger, "b", Some(1));
        let cutoff = Utc::now() - Duration::days(90);
        let only_a = ledger.prunable_runs(cutoff, Some("a")).unwrap();
        assert_eq!(only_a.iter().map(|r| r.id).collect::<Vec<_>>(), vec![a]);
        assert_eq!(ledger.prunable_runs(cutoff, None).unwrap().len(), 2);
    }
}
