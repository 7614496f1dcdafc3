//! What adaptive concurrency learned about each target (`target_state`), so that the next
//! run starts at the limit the last one settled on instead of rediscovering it.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::error::{LedgerError, SqlContext};
use super::{parse_timestamp, timestamp, Ledger};

/// The limit adaptive concurrency settled on for a target, where its next run starts.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LearnedLimit {
    /// Requests per second, when a rate was learned.
    pub rate: Option<f64>,
    /// Requests in flight, when a concurrency was learned.
    pub concurrency: Option<u32>,
    pub updated_at: DateTime<Utc>,
}

impl Ledger {
    /// The limit adaptive concurrency last stored for `target`.
    pub fn learned_limit(&self, target: &str) -> Result<Option<LearnedLimit>, LedgerError> {
        let row = self
            .conn
            .query_row(
                "SELECT learned_rate, learned_concurrency, updated_at FROM target_state \
                 WHERE target = ?1",
                [target],
                |row| {
                    Ok((
                        row.get::<_, Option<f64>>(0)?,
                        row.get::<_, Option<u32>>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                },
            )
            .optional()
            .ctx(&self.path, "read a learned limit")?;
        let Some((rate, concurrency, updated_at)) = row else {
            return Ok(None);
        };
        let updated_at = parse_timestamp(&updated_at)
            .ok_or_else(|| self.corrupt(format!("bad time in target_state: {updated_at:?}")))?;
        Ok(Some(LearnedLimit {
            rate,
            concurrency,
            updated_at,
        }))
    }

    /// Remembers the limit adaptive concurrency settled on for `target`.
    pub fn store_learned_limit(
        &self,
        target: &str,
        rate: Option<f64>,
        concurrency: Option<u32>,
    ) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "INSERT INTO target_state (target, learned_rate, learned_concurrency, updated_at) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (target) DO UPDATE SET \
                 learned_rate = excluded.learned_rate, \
                 learned_concurrency = excluded.learned_concurrency, \
                 updated_at = excluded.updated_at",
                params![target, rate, concurrency, timestamp(Utc::now())],
            )
            .ctx(&self.path, "store a learned limit")?;
        Ok(())
    }
}
