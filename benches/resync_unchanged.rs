//! The nightly case, end to end: re-syncing an export that did not change since the
//! last sync must send nothing, at 600,000 rows/s or more, in under 150 MB.
//!
//! Not a criterion bench: it measures the real `usersync` binary (release, as `cargo bench`
//! builds it) as an operator runs it, spawned and timed to its exit under `/usr/bin/time -v`
//! (wall, CPU, peak memory). Steps:
//! 1. generate a MeetingLawyers-shaped CSV of `ROWS` rows (default 1,000,000; every row valid);
//! 2. record a first sync of it in a fresh ledger, through the library, exactly as `sync` records
//!    a synced row (outcome + snapshot upsert with the ledger's keyed hashes) but without
//!    sending a million requests to a mock;
//! 3. run `usersync sync` on the same file, against the built-in mock, [`RUNS`] times (three
//!    nights in a row), and measure each;
//! 4. check in the ledger that every row of each came out `unchanged` and that no request was
//!    sent; and parse the file bare in this process, the floor the figures are compared with.
//!
//! Run: `cargo bench --bench resync_unchanged` (`ROWS=200000` for a quicker look;
//! `RESYNC_DIR=/some/dir` keeps the files). Figures go in BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::time::Instant;

use usersync::input::InputOptions;
use usersync::ledger::{
    Ledger, LedgerWriter, NewRun, OutcomeKind, RowOutcome, RunStatus, SnapshotChange, WriterConfig,
};
use usersync::prepare::{RowResult, Rows};
use usersync::provider::Operation;

#[path = "common/mod.rs"]
mod common;
#[path = "common/process.rs"]
mod process;

/// The targets this bench must meet.
const MIN_ROWS_PER_SEC: f64 = 600_000.0;
const MAX_PEAK_MB: f64 = 150.0;
/// Re-syncs measured (the median is the figure).
const RUNS: usize = 3;

type Failure = Box<dyn std::error::Error>;

fn main() -> Result<(), Failure> {
    if std::env::args().any(|a| a == "--list") {
        // `cargo bench -- --list` (and `cargo test --benches`) ask the harness what it has.
        println!("resync_unchanged: bench");
        return Ok(());
    }
    let rows: u64 = std::env::var("ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let kept = std::env::var_os("RESYNC_DIR").map(PathBuf::from);
    let temp = tempfile::Builder::new()
        .prefix("usersync-resync-")
        .tempdir()?;
    let dir = kept.unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let input = dir.join("hr_export.csv");
    let config_path = dir.join("usersync.toml");
    let ledger = dir.join("usersync.db");
    for stale in ["usersync.db", "usersync.db-wal", "usersync.db-shm"] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    // The target, with its ledger beside the config.
    let config = format!("\nledger = \"usersync.db\"\n{}", common::TARGET);
    std::fs::write(&config_path, config)?;

    let started = Instant::now();
    common::generate(&input, rows)?;
    let size_mb = std::fs::metadata(&input)?.len() as f64 / 1e6;
    println!(
        "generated {rows} rows ({size_mb:.0} MB) in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let synced = seed(&config_path, &input, &ledger)?;
    println!(
        "recorded a first sync of {synced} users in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let args = [
        "sync".as_ref(),
        input.as_os_str(),
        "-c".as_ref(),
        config_path.as_os_str(),
        "-t".as_ref(),
        "lawyers".as_ref(),
        "--ledger".as_ref(),
        ledger.as_os_str(),
    ];
    println!(
        "measuring {RUNS} nights: /usr/bin/time -v {} {}",
        env!("CARGO_BIN_EXE_usersync"),
        args.map(|a| a.to_string_lossy().into_owned()).join(" ")
    );
    let mut problems = Vec::new();
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        let run = process::run_usersync(args)?;
        let check = Ledger::open(&ledger)?;
        let last = check
            .last_run("lawyers")?
            .ok_or("the re-sync left no run in the ledger")?;
        let c = last.counts;
        println!(
            "  run {} {}: rows {} · unchanged {} · requests {} · exit {:?} · {:.2} s wall, \
             {:.2} s CPU (user {:.2} + system {:.2}), peak RSS {:.0} MB",
            last.id,
            last.status,
            c.rows,
            c.unchanged,
            c.requests,
            last.exit_code,
            run.wall,
            run.cpu(),
            run.user,
            run.system,
            run.peak_mb()
        );
        if c.rows != rows || c.unchanged != synced || c.requests != 0 || last.exit_code != Some(0) {
            problems.push(format!("run {} was not a no-op", last.id));
        }
        runs.push(run);
    }
    let wall = process::median(&runs.iter().map(|r| r.wall).collect::<Vec<_>>());
    let cpu = process::median(&runs.iter().map(|r| r.cpu()).collect::<Vec<_>>());
    let peak_mb = runs.iter().map(|r| r.peak_mb()).fold(0.0, f64::max);
    let rate = rows as f64 / wall;
    let (bare, parsed) = process::bare_parse(&input, RUNS);
    assert_eq!(parsed, rows);
    println!(
        "RESULT resync rows={rows} wall_median={wall:.2}s rows_per_sec={rate:.0} \
         cpu_median={cpu:.2}s ({:.1} cores) peak_rss={peak_mb:.0}MB",
        cpu / wall
    );
    println!(
        "RESULT bare_csv_parse (this process, best of {RUNS}) {bare:.3}s rows_per_sec={:.0}: \
         the whole re-sync runs at {:.1}% of its rate",
        rows as f64 / bare,
        100.0 * bare / wall
    );
    if rate < MIN_ROWS_PER_SEC {
        problems.push(format!("below {MIN_ROWS_PER_SEC} rows/s"));
    }
    if peak_mb >= MAX_PEAK_MB {
        problems.push(format!("peak memory not under {MAX_PEAK_MB} MB"));
    }
    if problems.is_empty() {
        println!("OK: no request, >= {MIN_ROWS_PER_SEC:.0} rows/s, < {MAX_PEAK_MB:.0} MB");
        Ok(())
    } else {
        Err(problems.join("; ").into())
    }
}

/// Records a completed first sync of every valid row, as `sync` records a created user.
/// Returns the number of users in the snapshot.
fn seed(config_path: &Path, input: &Path, ledger_path: &Path) -> Result<u64, Failure> {
    let config = usersync::config::load(config_path)?;
    let target = config.target(Some("lawyers"))?.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let ledger = Ledger::open(ledger_path)?;
        let hasher = ledger.hasher();
        let run = ledger.begin_run(&NewRun {
            target: target.name.clone(),
            provider: target.provider.name().to_owned(),
            command: "sync".into(),
            input_path: Some(input.display().to_string()),
            note: Some("seeded by benches/resync_unchanged.rs".into()),
            ..NewRun::default()
        })?;
        let config = WriterConfig {
            batch_rows: 5_000,
            ..WriterConfig::default()
        };
        let (writer, task) = LedgerWriter::spawn(ledger_path, config)?;
        let mut synced = 0u64;
        let mut batch = Vec::with_capacity(1_000);
        let mut rows = Rows::open(input, &target, &InputOptions::default())?;
        // `sync` remembers the fingerprint of each row it synced: so does the seed.
        rows.fingerprint(&hasher, &target, None);
        for row in rows {
            let row = row?;
            let source_hash = row.source_hash;
            let (RowResult::Valid(payload), Some(key)) = (row.result, row.key) else {
                return Err("the generated export has an invalid row".into());
            };
            batch.push(RowOutcome {
                operation: Some(Operation::Create),
                attempts: 1,
                snapshot: Some(SnapshotChange::Upsert {
                    remote_id: None,
                    payload_hash: hasher.hash_payload(&payload),
                    field_hashes: hasher.hash_fields(&payload),
                    source_hash,
                }),
                ..RowOutcome::new(row.line as i64, Some(key), OutcomeKind::Synced)
            });
            synced += 1;
            if batch.len() == 1_000 {
                writer
                    .record_outcomes(run, std::mem::take(&mut batch))
                    .await?;
            }
        }
        writer.record_outcomes(run, batch).await?;
        writer.flush().await?;
        drop(writer);
        task.await??;
        let counts = ledger.counts(run)?;
        ledger.finish_run(run, RunStatus::Completed, Some(0), &counts)?;
        Ok(synced)
    })
}
