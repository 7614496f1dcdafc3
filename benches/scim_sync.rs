//! A SCIM application's first night and an unchanged night: 10,000 generated users synced by
//! the release binary to the built-in SCIM mock (`base_url = "mock"`, in the usersync process),
//! then the same export again, which must send nothing; once with the writes in bulk requests
//! (the mock announces `maxOperations` 1,000; usersync sends at most 100 a request), once with
//! `options.bulk = false`, each write on its own; and both again with `options.correlate =
//! false`, where a first night is creates alone.
//!
//! Each user of a first sync costs a lookup that makes sure the application does not already
//! have them (`GET Users?filter=...`, never in bulk), then the create. The figures are the
//! whole command, spawn to exit, under `/usr/bin/time -v` for the peak memory, with no rate
//! limit and `--concurrency` 16; the best of `REPEAT` rounds (default 3), each in a fresh
//! directory.
//!
//! Not part of `cargo test`. Run: `cargo bench --bench scim_sync` (`ROWS=2000` for a quicker
//! look). Figures go in BENCHMARKS.md.

use std::path::Path;

// Only the export generator: the target is SCIM's own, below.
#[path = "common/mod.rs"]
#[allow(dead_code)]
mod common;
#[path = "common/process.rs"]
mod process;

type Failure = Box<dyn std::error::Error>;

/// The benches' export mapped onto a SCIM User.
const CONFIG: &str = r#"
ledger = "usersync.db"

[targets.apps]
provider = "scim"
base_url = "mock"
key = "externalId"
concurrency = 16
options = OPTIONS

[targets.apps.fields]
externalId = "employee_id"
userName = { column = "work_email", transform = "lowercase" }
"name.givenName" = "first_name"
"name.familyName" = "last_name"
'emails[type eq "work"].value' = { column = "work_email", transform = "lowercase" }
'phoneNumbers[type eq "mobile"].value' = "mobile"
preferredLanguage = "language"
"#;

fn main() -> Result<(), Failure> {
    if std::env::args().any(|a| a == "--list") {
        println!("scim_sync: bench");
        return Ok(());
    }
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --benches` runs benches without `--bench`: nothing to measure then.
        return Ok(());
    }
    let rows: u64 = std::env::var("ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10_000);
    let repeat: u32 = std::env::var("REPEAT")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    println!("| writes | night | users | best of {repeat} | users/s | peak memory |");
    println!("|---|---|--:|--:|--:|--:|");
    for (writes, options) in [
        ("in bulk requests", "{}"),
        ("one request each", "{ bulk = false }"),
        ("in bulk, no lookup", "{ correlate = false }"),
        ("one each, no lookup", "{ bulk = false, correlate = false }"),
    ] {
        let config = CONFIG.replace("OPTIONS", options);
        let mut first = Vec::new();
        let mut again = Vec::new();
        for _ in 0..repeat {
            let dir = tempfile::tempdir()?;
            std::fs::write(dir.path().join("usersync.toml"), &config)?;
            common::generate(&dir.path().join("export.csv"), rows)?;
            first.push(timed_sync(dir.path())?);
            again.push(timed_sync(dir.path())?);
        }
        let best = |runs: &[(f64, f64)]| {
            runs.iter()
                .copied()
                .fold((f64::MAX, 0.0_f64), |(s, m), (secs, mb)| {
                    (s.min(secs), m.max(mb))
                })
        };
        for (night, (secs, mb)) in [
            ("first", best(&first)),
            ("unchanged (nothing sent)", best(&again)),
        ] {
            println!(
                "| {writes} | {night} | {rows} | {secs:.2} s | {:.0} | {mb:.0} MB |",
                rows as f64 / secs
            );
        }
    }
    Ok(())
}

/// `usersync sync export.csv -t apps -q` in `dir`: wall seconds and peak RSS in MB.
fn timed_sync(dir: &Path) -> Result<(f64, f64), Failure> {
    let (out, cost) = process::measure(env!("CARGO_BIN_EXE_usersync"), |c| {
        c.args(["sync", "export.csv", "-t", "apps", "-q"])
            .current_dir(dir);
    })?;
    if !out.status.success() {
        return Err(format!(
            "the sync failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok((cost.wall, cost.peak_mib()))
}
