//! What the ledger costs per sent row, without the network: the writes `sync` makes for every
//! created user, through the same writer task and in the same batches.
//!
//! The end-to-end bench (`sync_throughput`) shares two cores between usersync, the
//! server and the load generator, and its figures move by 10–20% from run to run; the ledger's
//! share of a row cannot be seen there. This bench isolates it. For each row, as the feeder and
//! the recorder do: the intent (row `in_flight`, with its payload) committed in batches of 256
//! before its request would leave, then the outcome (`synced`, payload dropped) with its
//! `synced_users` upsert (keyed payload and field hashes), 64 to a message.
//!
//! Not a criterion bench (each round needs a fresh ledger file): plain rounds, best and median
//! printed. Run: `cargo bench --bench ledger_writes` (`ROWS=20000 ROUNDS=5` by default).
//! Figures go in BENCHMARKS.md.

use std::time::Instant;

use usersync::input::InputOptions;
use usersync::ledger::{
    Intent, Ledger, LedgerWriter, NewRun, OutcomeKind, RowOutcome, SnapshotChange, WriterConfig,
};
use usersync::prepare::{RowResult, Rows};
use usersync::provider::Operation;
use usersync::sync::{INTENT_BATCH, OUTCOME_BATCH};

#[path = "common/mod.rs"]
mod common;

type Failure = Box<dyn std::error::Error>;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Failure> {
    if std::env::args().any(|a| a == "--list") {
        println!("ledger_writes: bench");
        return Ok(());
    }
    let rows = env_or("ROWS", 20_000);
    let rounds = env_or("ROUNDS", 5);
    let dir = tempfile::Builder::new()
        .prefix("usersync-ledger-writes-")
        .tempdir()?;
    let input = dir.path().join("hr_export.csv");
    let config_path = dir.path().join("usersync.toml");
    std::fs::write(&config_path, common::TARGET)?;
    common::generate(&input, rows as u64)?;
    let config = usersync::config::load(&config_path)?;
    let target = config.target(Some("lawyers"))?.clone();
    let mut prepared = Vec::with_capacity(rows);
    for row in Rows::open(&input, &target, &InputOptions::default())? {
        let row = row?;
        let (RowResult::Valid(payload), Some(key)) = (row.result, row.key) else {
            return Err("the generated export has an invalid row".into());
        };
        prepared.push((row.line as i64, key, payload));
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let mut per_row = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        let path = dir.path().join(format!("round-{round}.db"));
        let micros = runtime.block_on(async {
            let ledger = Ledger::open(&path)?;
            let hasher = ledger.hasher();
            let run = ledger.begin_run(&NewRun {
                target: target.name.clone(),
                provider: target.provider.name().to_owned(),
                command: "sync".into(),
                ..NewRun::default()
            })?;
            // The hashes are the planner's and the recorder's work, not the ledger's.
            let outcomes: Vec<RowOutcome> = prepared
                .iter()
                .map(|(line, key, payload)| RowOutcome {
                    operation: Some(Operation::Create),
                    attempts: 1,
                    latency_ms: Some(3),
                    http_status: Some(201),
                    snapshot: Some(SnapshotChange::Upsert {
                        remote_id: Some(format!("r-{line}")),
                        payload_hash: hasher.hash_payload(payload),
                        field_hashes: hasher.hash_fields(payload),
                        source_hash: None,
                    }),
                    ..RowOutcome::new(*line, Some(key.clone()), OutcomeKind::Synced)
                })
                .collect();
            let writer_config = WriterConfig {
                batch_rows: 4096,
                channel_capacity: 64,
                ..WriterConfig::default()
            };
            let started = Instant::now();
            let (writer, task) = LedgerWriter::spawn(&path, writer_config)?;
            let mut outcomes = outcomes.into_iter();
            for chunk in prepared.chunks(INTENT_BATCH) {
                let intents = chunk
                    .iter()
                    .map(|(line, key, payload)| {
                        Intent::new(*line, key.clone(), Operation::Create, payload)
                    })
                    .collect::<Result<_, _>>()?;
                writer.record_intents(run, intents).await?;
                for _ in 0..chunk.len().div_ceil(OUTCOME_BATCH) {
                    let batch: Vec<RowOutcome> = outcomes.by_ref().take(OUTCOME_BATCH).collect();
                    writer.record_outcomes(run, batch).await?;
                }
            }
            writer.flush().await?;
            drop(writer);
            let stats = task.await??;
            let elapsed = started.elapsed();
            let micros = elapsed.as_secs_f64() * 1e6 / rows as f64;
            println!(
                "round {round}: {rows} rows in {:.3}s, {micros:.1} µs per row, {} transactions",
                elapsed.as_secs_f64(),
                stats.transactions
            );
            Ok::<f64, Failure>(micros)
        })?;
        per_row.push(micros);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
    per_row.sort_by(f64::total_cmp);
    println!(
        "RESULT rows={rows} rounds={rounds} best={:.1}µs median={:.1}µs per row",
        per_row[0],
        per_row[per_row.len() / 2]
    );
    Ok(())
}
