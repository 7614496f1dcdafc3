//! One ledger, one endpoint per target. The snapshot in `synced_users` says what one server
//! holds: the built-in mock (`mock`) or one base URL. Each run records where it sends
//! (`runs.endpoint`, without credentials); a sync or retry to another endpoint while the ledger
//! knows users of the target is refused before anything is sent, unless `--endpoint-moved` says
//! the provider moved with its users. `plan` warns instead (it sends nothing).

use crate::config::Target;
use crate::ledger::{Ledger, Snapshot};

/// A run would send to another endpoint than the one the target's snapshot describes (the
/// ledger's `runs.endpoint`). Refused before anything is sent, exit 2: what the ledger records
/// as synced is at the old endpoint, so a diff against it would skip users the new one lacks
/// (a rehearsal against a mock turned into the real night), or the rehearsal's users would be
/// taken for the real provider's.
#[derive(Debug, thiserror::Error)]
#[error(
    "target `{target}`: the ledger {ledger} knows its users at {known} (run {run}), but this run \
     would send to {now}. The users the ledger records as synced are there, not necessarily \
     here, so only the difference from that endpoint would be sent. To rehearse against another \
     server, give it a ledger of its own (--ledger FILE); if the provider moved with its users, \
     run once with --endpoint-moved"
)]
pub struct EndpointChanged {
    pub target: String,
    pub ledger: String,
    pub known: String,
    pub run: i64,
    pub now: String,
}

/// How sending to `endpoint` would differ from what the ledger knows: `Some` when the ledger
/// knows users of the target (`snapshot` is not empty) at another endpoint.
pub fn change(
    ledger: &Ledger,
    target: &Target,
    snapshot: &Snapshot,
    endpoint: &str,
) -> anyhow::Result<Option<EndpointChanged>> {
    if snapshot.is_empty() {
        return Ok(None);
    }
    Ok(match ledger.last_endpoint(&target.name)? {
        Some((run, known)) if known != endpoint => Some(EndpointChanged {
            target: target.name.clone(),
            ledger: ledger.path().display().to_string(),
            known,
            run: run.0,
            now: endpoint.to_owned(),
        }),
        _ => None,
    })
}

/// Refuses a run to `endpoint` when the ledger knows users of the target at another one,
/// unless `moved` (`--endpoint-moved`) says the provider moved with them.
pub(super) fn check(
    ledger: &Ledger,
    target: &Target,
    snapshot: &Snapshot,
    endpoint: &str,
    moved: bool,
) -> anyhow::Result<()> {
    match change(ledger, target, snapshot, endpoint)? {
        Some(change) if moved => {
            tracing::warn!(target_name = %target.name, from = %change.known, to = %change.now, "--endpoint-moved: the ledger's users of the target are taken to be at the new endpoint");
            Ok(())
        }
        Some(change) => Err(change.into()),
        None => Ok(()),
    }
}
