//! `concurrency = "auto"` against the provider's limits, as `cargo bench` measures it: the
//! whole-run write rate, the share of 429s and the next night's first second against a token
//! bucket of R requests/s (R = 50, 200, 1000), and the concurrency settled on against a provider
//! whose latency grows past N requests in flight, each beside its aim.
//!
//! The runs are processes talking to processes (a `usersync mock-server` child with the limit,
//! `usersync sync` of generated users, the mock's own counts), so this bench drives the script
//! that does exactly that, `benches/adaptive.sh`, with the binary cargo built for it, and judges
//! its `summary:` lines. The same aims at R = 200 and at a
//! capacity are integration tests (`tests/it/adaptive.rs`); this is where the other limits are
//! measured. About 6 minutes; run it on a quiet machine (the figures are the provider's limits,
//! not CPU, but a starved client misses its pace).
//!
//! `cargo bench --bench adaptive_rate [-- --secs 100 --rates 50,200,1000 --capacity 16]`.
//! Figures go in BENCHMARKS.md. Needs python3 (the scripts' export and the mock's counts).

use std::process::Command;

/// Within this share of R over the whole run, cold ledger.
const WHOLE_RUN: f64 = 0.10;
/// Fewer 429s than this share of the requests.
const THROTTLED: f64 = 0.02;
/// The next night's first second within this share of R.
const NEXT_FIRST_SECOND: f64 = 0.05;

struct Options {
    secs: u64,
    rates: Vec<u64>,
    capacity: u64,
}

fn options() -> Options {
    let mut o = Options {
        secs: 100,
        rates: vec![50, 200, 1000],
        capacity: 16,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.windows(2) {
        let value = pair[1].as_str();
        match pair[0].as_str() {
            "--secs" => o.secs = value.parse().expect("--secs N"),
            "--rates" => {
                o.rates = value
                    .split(',')
                    .map(|r| r.parse().expect("--rates R,R"))
                    .collect()
            }
            "--capacity" => o.capacity = value.parse().expect("--capacity N"),
            _ => {}
        }
    }
    o
}

/// Runs `benches/SCRIPT` with the bench's binary; its stdout and stderr.
fn run(script: &str, args: &[String], env: &[(&str, String)]) -> String {
    let path = format!("{}/benches/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(path)
        .args(args)
        .env("USERSYNC", env!("CARGO_BIN_EXE_usersync"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap_or_else(|e| panic!("run benches/{script}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "benches/{script} failed:\n{text}");
    text
}

/// The value of `key=` on the line starting with `prefix`.
fn field(text: &str, prefix: &str, key: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with(prefix))?;
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "meets"
    } else {
        "BELOW"
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` probes; nothing to list.
    }
    let o = options();
    println!("| limit R | rows | writes/s, whole run | of R | answered 429 | next run, first second | of R | aims |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    let mut all_met = true;
    for &r in &o.rates {
        let rows = r * o.secs;
        let text = run(
            "adaptive.sh",
            &[
                rows.to_string(),
                "auto".into(),
                "--rate-limit".into(),
                r.to_string(),
            ],
            &[("NEXT_ROWS", (r * 10).to_string())],
        );
        let get = |prefix: &str, key: &str| {
            field(&text, prefix, key)
                .unwrap_or_else(|| panic!("no {key} in benches/adaptive.sh's output:\n{text}"))
        };
        let rate = get("summary:", "writes_per_s");
        let throttled = get("summary:", "throttled");
        let requests = get("summary:", "requests");
        let first = get("summary-next:", "first_second");
        let r = r as f64;
        let met = (rate - r).abs() <= WHOLE_RUN * r
            && throttled < THROTTLED * requests
            && (first - r).abs() <= NEXT_FIRST_SECOND * r;
        all_met &= met;
        println!(
            "| {r:.0}/s | {rows} | {rate:.1} | {:.1}% | {throttled:.0} ({:.2}%) | {first:.0}/s | {:.1}% | {} |",
            100.0 * rate / r,
            100.0 * throttled / requests.max(1.0),
            100.0 * first / r,
            verdict(met)
        );
    }
    let n = o.capacity;
    let text = run(
        "adaptive.sh",
        &[
            "4000".into(),
            "auto".into(),
            "--capacity".into(),
            n.to_string(),
            "--latency-ms".into(),
            "50".into(),
        ],
        &[],
    );
    let settled = field(&text, "summary:", "learned_concurrency").unwrap_or_else(|| {
        panic!("no learned concurrency in benches/adaptive.sh's output:\n{text}")
    });
    let met = (settled - n as f64).abs() <= 1.0;
    all_met &= met;
    println!();
    println!(
        "capacity {n} in flight (50 ms each, slower past it), 4000 rows: settled at {settled:.0} in flight: {} the aim of within 1",
        verdict(met)
    );
    println!(
        "{}",
        if all_met {
            "every adaptive aim met"
        } else {
            "BELOW an adaptive aim (see the rows marked BELOW)"
        }
    );
}
