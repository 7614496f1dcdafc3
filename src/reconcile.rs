//! `usersync reconcile`: the target's users read back and compared with the ledger, changing
//! nothing at the target.
//!
//! - **drift**: a linked user whose values at the target differ from what usersync last sent,
//!   by field name. The comparison is of the ledger's keyed field hashes with the hashes of the
//!   target's values, so no personal data is stored to make it. The user is marked stale
//!   (`ledger/reconcile.rs`): the next sync re-sends the drifted fields.
//! - **missing**: a user the ledger holds as synced that the target no longer has. Forgotten by
//!   the ledger: the next sync creates them again.
//! - **unlinked**: a user at the target whom no ledger user links, but who matches exactly one
//!   export row (by the target's key or the provider's match fields) that the ledger does not
//!   know. `--adopt` links them, so the next sync updates them instead of creating a second one.
//! - **unowned**: a user at the target that nothing links and no row matches. Listed by id,
//!   never touched.
//!
//! A provider that can list its users (SCIM) is read page by page. One that cannot, but can
//! look a user up (MeetingLawyers and Abitmedia by id; GNOSS by e-mail, taken from the export's
//! row), is asked about each user the ledger holds as synced: drift and missing are found,
//! unlinked and unowned cannot be, and the report says so. A provider with neither (Faveo:
//! [`Provider::supports`](crate::provider::Provider::supports) says no lookup) is refused by
//! name.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use crate::config::{BaseUrl, Target};
use crate::dispatch::{self, DispatchSettings};
use crate::input::InputOptions;
use crate::ledger::{
    FieldHashes, Ledger, NewRun, PayloadHasher, RunCounts, RunStatus, Snapshot, SnapshotUser,
};
use crate::payload::Payload;
use crate::prepare::{RowResult, Rows};
use crate::provider::{Operation, Outcome, UserRef};
use crate::sync::connect::{self, Connection};

/// Users listed per request.
const PAGE: u64 = 200;

/// What to reconcile.
pub struct ReconcileRequest {
    pub target: Target,
    pub ledger: PathBuf,
    pub base_url: BaseUrl,
    /// The export to match unlinked users with; without it every unlinked user is unowned.
    pub input: Option<(PathBuf, InputOptions)>,
    /// `--adopt`: link the unlinked users.
    pub adopt: bool,
    /// The command line, for the ledger's run of an adoption.
    pub command_line: String,
}

/// One finding, as `reconcile --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    Drift {
        key: String,
        remote_id: String,
        /// The drifted fields' names (never values).
        fields: Vec<String>,
    },
    Missing {
        key: String,
        remote_id: String,
    },
    Unlinked {
        key: String,
        remote_id: String,
        /// Linked by this run (`--adopt`).
        adopted: bool,
    },
    Unowned {
        remote_id: String,
    },
}

/// What a reconcile found.
#[derive(Debug, Default, Serialize)]
pub struct Findings {
    /// The users the target holds.
    pub at_target: u64,
    /// Of them, the ones the ledger links.
    pub linked: u64,
    pub findings: Vec<Finding>,
    /// False when the target was asked user by user (its API cannot list its users): then
    /// unlinked and unowned users cannot be found.
    pub listed: bool,
    /// Ledger users that could not be looked up (no value to look them up by, or no usable
    /// answer), by key.
    pub unchecked: Vec<String>,
}

impl Findings {
    /// How many findings of each kind: drift, missing, unlinked, unowned.
    pub fn counts(&self) -> [usize; 4] {
        let mut counts = [0; 4];
        for finding in &self.findings {
            counts[match finding {
                Finding::Drift { .. } => 0,
                Finding::Missing { .. } => 1,
                Finding::Unlinked { .. } => 2,
                Finding::Unowned { .. } => 3,
            }] += 1;
        }
        counts
    }
}

/// Reads the target's users and compares them with the ledger (and the export, if given).
pub async fn reconcile(req: &ReconcileRequest) -> anyhow::Result<Findings> {
    let target = &req.target;
    let provider = target.provider;
    let listed = provider.list_users(&target.options, 1, PAGE).is_some();
    if !listed && !provider.supports(Operation::Lookup) {
        anyhow::bail!(
            "target {} ({}): its API can neither list its users nor look one up, so there is \
             nothing to reconcile with (reconcile reads SCIM targets, and MeetingLawyers, GNOSS \
             and Abitmedia targets one user at a time)",
            target.name,
            provider.name()
        );
    }
    let ledger = Ledger::open(&req.ledger)?;
    let _lock = ledger.lock_target(&target.name)?;
    let snapshot = ledger.snapshot(&target.name)?;
    let hasher = ledger.hasher();

    let connection = Connection::open(target, &req.base_url).await?;
    let mock_file = connect::mock_store_path(&req.ledger, &target.name);
    connection.restore_mock(&mock_file)?;
    let settings = DispatchSettings {
        timeout: target.timeout,
        ..DispatchSettings::default()
    };
    let client = dispatch::http_client(&settings)?;
    let rows = match &req.input {
        Some((input, options)) => export_rows(input, options, target)?,
        None => Vec::new(),
    };
    let lookups = if listed {
        Lookups {
            found: list_all(&connection, &client, target).await?,
            ..Lookups::default()
        }
    } else {
        look_up_each(&connection, &client, target, &snapshot, &rows).await?
    };
    let Lookups {
        found: users,
        present,
        missing,
        unchecked,
    } = lookups;

    // The ledger's users by the id the target gave them.
    let mut linked: HashMap<&str, (&str, bool)> = HashMap::new();
    // Asked one by one, a user the provider knows by its key (MeetingLawyers) is looked up
    // by the key.
    fn id_of<'a>(user: &SnapshotUser<'a>, listed: bool) -> Option<&'a str> {
        match user.remote_id {
            Some(id) => Some(id),
            None if !listed => Some(user.key),
            None => None,
        }
    }
    for user in snapshot.iter() {
        if let Some(id) = id_of(&user, listed) {
            linked.insert(id, (user.key, user.active));
        }
    }
    let mut match_fields = vec![target.key.clone()];
    match_fields.extend(provider.match_fields(&target.options));

    let mut found = Findings {
        at_target: users.len() as u64 + present,
        listed,
        unchecked,
        ..Findings::default()
    };
    let mut seen: HashSet<&str> = HashSet::new();
    let mut adopting = Vec::new();
    for (id, record) in &users {
        seen.insert(id.as_str());
        if let Some((key, active)) = linked.get(id.as_str()) {
            found.linked += 1;
            if !active {
                continue;
            }
            let sent = ledger.field_hashes(&target.name, key)?;
            let (drifted, at_target) = compare(target, &hasher, record, &sent);
            if !drifted.is_empty() {
                ledger.mark_stale(&target.name, key, &at_target)?;
                found.findings.push(Finding::Drift {
                    key: key.to_string(),
                    remote_id: id.clone(),
                    fields: drifted,
                });
            }
            continue;
        }
        let matching: Vec<&(String, Payload)> = rows
            .iter()
            .filter(|(_, row)| {
                match_fields.iter().any(|field| {
                    let ours = row.get(field).filter(|v| !is_empty(v));
                    ours.is_some() && ours.cloned() == provider.field_value(record, field)
                })
            })
            .collect();
        match matching.as_slice() {
            [(key, row)] if snapshot.get(key).is_none() => {
                adopting.push((key.clone(), id.clone(), row.clone(), record.clone()));
            }
            _ => found.findings.push(Finding::Unowned {
                remote_id: id.clone(),
            }),
        }
    }
    // Asked one by one, the target said which users it does not have; listed, a linked user
    // is missing when no page held them.
    let missing = if listed {
        snapshot
            .iter()
            .filter_map(|user| {
                let id = user.remote_id?;
                (user.active && !seen.contains(id)).then(|| (user.key.to_owned(), id.to_owned()))
            })
            .collect()
    } else {
        missing
    };
    for (key, remote_id) in missing {
        ledger.forget(&target.name, &key)?;
        found.findings.push(Finding::Missing { key, remote_id });
    }
    let run = if req.adopt && !adopting.is_empty() {
        Some(ledger.begin_run(&NewRun {
            target: target.name.clone(),
            provider: provider.name().to_owned(),
            command: "reconcile".into(),
            command_line: Some(req.command_line.clone()),
            note: Some(format!(
                "links {} users the target already had",
                adopting.len()
            )),
            endpoint: Some(req.base_url.endpoint()),
            ..NewRun::default()
        })?)
    } else {
        None
    };
    for (key, id, row, record) in adopting {
        let adopted = match run {
            Some(run) => {
                let (_, at_target) = compare(target, &hasher, &record, &hasher.hash_fields(&row));
                ledger.link(&target.name, &key, &id, &at_target, run)?
            }
            None => false,
        };
        found.findings.push(Finding::Unlinked {
            key,
            remote_id: id,
            adopted,
        });
    }
    if let Some(run) = run {
        ledger.finish_run(run, RunStatus::Completed, Some(0), &RunCounts::default())?;
    }
    Ok(found)
}

/// Every user the target holds, page after page.
async fn list_all(
    connection: &Connection,
    client: &reqwest::Client,
    target: &Target,
) -> anyhow::Result<Vec<(String, Payload)>> {
    let provider = target.provider;
    let mut users = Vec::new();
    let mut start = 1;
    while let Some(request) = provider.list_users(&target.options, start, PAGE) {
        let answer = ask(connection, client, target, request, "list the users").await?;
        let page = provider
            .read_users(&answer)
            .map_err(|e| anyhow::anyhow!("target {}: {e}", target.name))?;
        let got = page.users.len() as u64;
        users.extend(page.users);
        start += got;
        if got == 0 || users.len() as u64 >= page.total {
            break;
        }
    }
    Ok(users)
}

/// What the target answered about each user the ledger holds as synced.
#[derive(Default)]
struct Lookups {
    /// The users found with values to compare, by the id the ledger links them by.
    found: Vec<(String, Payload)>,
    /// How many were found without values to compare (GNOSS answers the GUID only).
    present: u64,
    /// The users the target says it does not have: key and id.
    missing: Vec<(String, String)>,
    /// The users that could not be asked about, by key.
    unchecked: Vec<String>,
}

/// Each user the ledger holds as synced, looked up one by one (for an API that cannot list its
/// users).
async fn look_up_each(
    connection: &Connection,
    client: &reqwest::Client,
    target: &Target,
    snapshot: &Snapshot,
    rows: &[(String, Payload)],
) -> anyhow::Result<Lookups> {
    let provider = target.provider;
    let by_key: HashMap<&str, &Payload> = rows.iter().map(|(k, p)| (k.as_str(), p)).collect();
    let empty = Payload::new();
    let mut lookups = Lookups::default();
    for user in snapshot.iter() {
        if !user.active {
            continue;
        }
        let id = user.remote_id.unwrap_or(user.key);
        let who = UserRef {
            key: user.key.to_owned(),
            remote_id: Some(id.to_owned()),
        };
        let payload = by_key.get(user.key).copied().unwrap_or(&empty);
        let Ok(request) = provider.build_request(&target.options, Operation::Lookup, &who, payload)
        else {
            lookups.unchecked.push(user.key.to_owned());
            continue;
        };
        let answer = ask(connection, client, target, request, "look up a user").await?;
        match provider.classify(&target.options, Operation::Lookup, &answer) {
            Outcome::Found { record, .. } if !record.is_empty() => {
                lookups.found.push((id.to_owned(), record))
            }
            // There, but the answer holds no values to compare (GNOSS answers the GUID only).
            Outcome::Found { .. } => lookups.present += 1,
            Outcome::Missing => lookups.missing.push((user.key.to_owned(), id.to_owned())),
            Outcome::AuthFailed { detail, .. } => anyhow::bail!(
                "target {}: the provider refused the credentials: {detail}",
                target.name
            ),
            _ => {
                tracing::warn!(
                    key = user.key,
                    status = answer.status,
                    "could not check this user"
                );
                lookups.unchecked.push(user.key.to_owned());
            }
        }
    }
    Ok(lookups)
}

/// Sends `request` to the target once; `what` it was for names the failure.
async fn ask(
    connection: &Connection,
    client: &reqwest::Client,
    target: &Target,
    request: crate::provider::ProviderRequest,
    what: &str,
) -> anyhow::Result<crate::provider::RawResponse> {
    dispatch::send_once(
        &connection.session,
        client,
        &connection.context.base_url,
        request,
    )
    .await
    .map_err(|e| anyhow::anyhow!("could not {what} of target {}: {e}", target.name))
}

/// The export's valid rows, by key.
fn export_rows(
    input: &std::path::Path,
    options: &InputOptions,
    target: &Target,
) -> anyhow::Result<Vec<(String, Payload)>> {
    let mut rows = Vec::new();
    for row in Rows::open(input, target, options)? {
        let row = row?;
        if let (RowResult::Valid(payload), Some(key)) = (row.result, row.key) {
            rows.push((key, payload));
        }
    }
    Ok(rows)
}

/// The fields of `sent` whose value at the target (in `record`) hashes otherwise, and the
/// hashes of the target's values of those fields (absent ones left out). Fields sent only on
/// create (an initial password) are not compared: a target does not read them back, and no
/// update could mend them.
fn compare(
    target: &Target,
    hasher: &PayloadHasher,
    record: &Payload,
    sent: &FieldHashes,
) -> (Vec<String>, FieldHashes) {
    let mut drifted = Vec::new();
    let mut at_target = FieldHashes::new();
    for (name, hash) in sent.iter() {
        if target.update_rules.create_only.iter().any(|f| f == name) {
            continue;
        }
        let value = target
            .provider
            .field_value(record, name)
            .filter(|v| !is_empty(v));
        let theirs = value.as_ref().map(|v| hasher.hash_field(name, v));
        if theirs.as_ref() != Some(hash) {
            drifted.push(name.to_owned());
        }
        if let Some(theirs) = theirs {
            at_target.insert(name.to_owned(), theirs);
        }
    }
    (drifted, at_target)
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample's Abitmedia target, whose `password` is sent only on create.
    fn portal() -> Target {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/usersync.toml");
        let config = crate::config::load(&path).unwrap();
        config.target(Some("portal")).unwrap().clone()
    }

    #[test]
    fn a_field_sent_only_on_create_is_never_drift() {
        let target = portal();
        let hasher = PayloadHasher::new(&[5; 32]);
        let sent: Payload = serde_json::from_str(
            r#"{"email": "ana@example.com", "firstName": "Ana", "password": "Initial-1"}"#,
        )
        .unwrap();
        // The target reads back everything but the password, and another first name.
        let record: Payload =
            serde_json::from_str(r#"{"email": "ana@example.com", "firstName": "Anna"}"#).unwrap();
        let (drifted, _) = compare(&target, &hasher, &record, &hasher.hash_fields(&sent));
        assert_eq!(drifted, ["firstName"]);
    }
}
