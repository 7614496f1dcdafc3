//! The SQLite ledger through its public API. One module per area; the helpers below give every
//! test its own temporary ledger and a few realistic rows.

// File modes, schema versions, unusable paths, the run lock (also across processes).
mod files;
// The writer's transactions, the snapshot and the keyed hashes.
mod writer;
// Runs, crash recovery, retry selection, counts, learned limits, integrity.
mod runs;

use std::path::{Path, PathBuf};

pub(crate) use serde_json::json;
pub(crate) use tempfile::TempDir;
pub(crate) use usersync::ledger::{
    Intent, Ledger, LedgerError, LedgerHandle, LedgerWriter, NewRun, OutcomeKind, RowOutcome,
    RunCounts, RunId, RunStatus, SnapshotChange, WriterConfig,
};
pub(crate) use usersync::payload::Payload;
pub(crate) use usersync::provider::Operation;
pub(crate) use usersync::validate::FieldError;

#[cfg(unix)]
use crate::support::mode;

fn ledger_in(dir: &TempDir) -> PathBuf {
    dir.path().join("usersync.db")
}

/// A new ledger in `dir` (its path and an open connection), with a run of target `ml` begun.
fn ledger_with_run(dir: &TempDir) -> (PathBuf, Ledger, RunId) {
    let path = ledger_in(dir);
    let ledger = Ledger::open(&path).unwrap();
    let run = ledger.begin_run(&new_run("ml")).unwrap();
    (path, ledger, run)
}

fn payload(v: serde_json::Value) -> Payload {
    match v {
        serde_json::Value::Object(map) => map.into(),
        other => panic!("not an object: {other}"),
    }
}

fn user(i: usize) -> Payload {
    payload(
        json!({"user_id": format!("u{i}"), "email": format!("u{i}@example.com"), "name": "Ana"}),
    )
}

fn new_run(target: &str) -> NewRun {
    NewRun {
        target: target.into(),
        provider: "meetinglawyers".into(),
        command: "sync".into(),
        input_path: Some("hr.csv".into()),
        input_sha256: Some("ab".repeat(32)),
        command_line: Some("usersync sync hr.csv -t ml".into()),
        ..NewRun::default()
    }
}

fn spawn_writer(
    path: &Path,
) -> (
    LedgerHandle,
    tokio::task::JoinHandle<Result<usersync::ledger::WriterStats, LedgerError>>,
) {
    LedgerWriter::spawn(path, WriterConfig::default()).unwrap()
}

/// The outcome of a row synced with `payload`, with its snapshot change.
fn synced(
    ledger: &Ledger,
    line: i64,
    op: Operation,
    payload: &Payload,
    remote: Option<&str>,
) -> RowOutcome {
    let hasher = ledger.hasher();
    let key = payload["user_id"].as_str().unwrap().to_string();
    RowOutcome {
        operation: Some(op),
        http_status: Some(200),
        attempts: 1,
        latency_ms: Some(12),
        payload: Some(payload.clone()),
        snapshot: Some(SnapshotChange::Upsert {
            remote_id: remote.map(str::to_string),
            payload_hash: hasher.hash_payload(payload),
            field_hashes: hasher.hash_fields(payload),
            source_hash: None,
        }),
        ..RowOutcome::new(line, Some(key), OutcomeKind::Synced)
    }
}

fn failed(line: i64, key: &str, payload: Option<Payload>) -> RowOutcome {
    RowOutcome {
        operation: Some(Operation::Create),
        http_status: Some(503),
        error_code: Some("http_503".into()),
        error_detail: Some("service unavailable".into()),
        attempts: 4,
        payload,
        ..RowOutcome::new(line, Some(key.into()), OutcomeKind::Failed)
    }
}
