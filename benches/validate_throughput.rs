//! How fast an export goes through `usersync validate`, as a whole process and step by step,
//! beside a bare csv-crate parse of the same file in the same run.
//!
//! Generates a 1,000,000-row MeetingLawyers-shaped CSV (valid DNIs, dates to convert, value
//! maps, lower-casing) into a temporary directory once, then measures in-process, with criterion:
//! - `bare_csv_parse`: the csv crate reading every row into one reused `ByteRecord`;
//! - `read_map_validate`: `prepare::Rows` with the meetinglawyers schema, as `validate` runs it
//!   (its threads included: one parses, workers map and validate, this one checks the keys), and
//!   `read_map_validate_one_thread`, the same with every step on the iterating thread;
//! - two floors under any `validate`, whatever its design: `utf8_parse` (every row decoded as
//!   UTF-8, which usersync requires: invalid bytes are a row error) and
//!   `utf8_parse_and_duplicate_check` (plus the cheapest duplicate-key check there is, each
//!   key's 64-bit hash into a set sized in advance: inexact, and still required in some form).
//!   They show how much of the per-row budget is spent before a single field is mapped.
//!
//! Then the whole process, as an operator runs it: the release binary, `usersync validate
//! FILE --json > /dev/null`, spawned and timed to its exit under `/usr/bin/time -v` (wall, CPU,
//! peak memory), [`PROCESS_RUNS`] times, beside the best of as many bare parses in this process;
//! it says whether the aim of [`AIM_ROWS_PER_SEC`] is met.
//!
//! Run with `cargo bench --bench validate_throughput`; results go in BENCHMARKS.md.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput};

use usersync::input::InputOptions;
use usersync::prepare::Rows;

#[path = "common/mod.rs"]
mod common;
#[path = "common/process.rs"]
mod process;

/// The allocator of the `usersync` binary (src/main.rs), so that the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROWS: u64 = 1_000_000;
/// Runs of the whole process (the median is the figure).
const PROCESS_RUNS: usize = 5;
/// What `usersync validate` of the whole file aims at, spawn to exit.
const AIM_ROWS_PER_SEC: f64 = 800_000.0;

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meetinglawyers_1m.csv");
    common::generate(&path, ROWS).unwrap();
    let config_path = dir.path().join("usersync.toml");
    std::fs::write(&config_path, common::TARGET).unwrap();
    throughput(&mut criterion, &path, &config_path);
    // `cargo bench` passes `--bench`; `cargo test --benches` runs each step once, and no process.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--list") {
        whole_process(&path, &config_path);
    }
    criterion.final_summary();
}

/// `usersync validate` of the whole file as a process, beside the bare parse.
fn whole_process(path: &Path, config: &Path) {
    println!();
    println!(
        "whole process, {PROCESS_RUNS} runs: {} validate {} -c {} -t lawyers --json > /dev/null",
        env!("CARGO_BIN_EXE_usersync"),
        path.display(),
        config.display()
    );
    let mut runs = Vec::new();
    for _ in 0..PROCESS_RUNS {
        let args = [
            "validate".as_ref(),
            path.as_os_str(),
            "-c".as_ref(),
            config.as_os_str(),
            "-t".as_ref(),
            "lawyers".as_ref(),
            "--json".as_ref(),
        ];
        let run = process::run_usersync(args).unwrap_or_else(|e| panic!("{e}"));
        println!(
            "  {:.2} s wall, {:.2} s CPU (user {:.2} + system {:.2}), peak RSS {:.0} MB",
            run.wall,
            run.cpu(),
            run.user,
            run.system,
            run.peak_mb()
        );
        runs.push(run);
    }
    let (bare, rows) = process::bare_parse(path, PROCESS_RUNS);
    assert_eq!(rows, ROWS);
    let walls: Vec<f64> = runs.iter().map(|r| r.wall).collect();
    let wall = process::median(&walls);
    let best = walls.iter().copied().fold(f64::INFINITY, f64::min);
    let cpu = process::median(&runs.iter().map(|r| r.cpu()).collect::<Vec<_>>());
    let peak = runs.iter().map(|r| r.peak_mb()).fold(0.0, f64::max);
    let rate = ROWS as f64 / wall;
    println!(
        "RESULT validate rows={ROWS} wall_median={wall:.2}s (best {best:.2}s) rows_per_sec={rate:.0} \
         cpu_median={cpu:.2}s ({:.1} cores) peak_rss={peak:.0}MB",
        cpu / wall
    );
    println!(
        "RESULT bare_csv_parse (this process, best of {PROCESS_RUNS}) {bare:.3}s rows_per_sec={:.0}: \
         the whole validate runs at {:.1}% of its rate",
        ROWS as f64 / bare,
        100.0 * bare / wall
    );
    if rate >= AIM_ROWS_PER_SEC {
        println!("OK: >= {AIM_ROWS_PER_SEC:.0} rows/s, spawn to exit");
    } else {
        println!("BELOW THE AIM: {rate:.0} < {AIM_ROWS_PER_SEC:.0} rows/s, spawn to exit");
    }
}

fn throughput(c: &mut Criterion, path: &Path, config_path: &Path) {
    let config = usersync::config::from_str(common::TARGET, config_path).unwrap();
    let target = config.target(None).unwrap();

    let mut group = c.benchmark_group("validate_throughput");
    group
        .throughput(Throughput::Elements(ROWS))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));

    group.bench_function("bare_csv_parse", |b| {
        b.iter(|| {
            let rows = process::count_rows(path);
            assert_eq!(rows, ROWS);
            black_box(rows)
        })
    });

    group.bench_function("utf8_parse", |b| {
        b.iter(|| {
            let mut reader = csv::Reader::from_path(path).unwrap();
            let mut record = csv::StringRecord::new();
            let mut rows = 0u64;
            while reader.read_record(&mut record).unwrap() {
                rows += 1;
            }
            assert_eq!(rows, ROWS);
            black_box(rows)
        })
    });

    group.bench_function("utf8_parse_and_duplicate_check", |b| {
        b.iter(|| {
            let mut reader = csv::Reader::from_path(path).unwrap();
            let mut record = csv::StringRecord::new();
            let mut seen: HashSet<u64, BuildHasherDefault<Prehashed>> =
                HashSet::with_capacity_and_hasher(ROWS as usize, Default::default());
            let mut rows = 0u64;
            while reader.read_record(&mut record).unwrap() {
                assert!(
                    seen.insert(key_hash(record[0].as_bytes())),
                    "keys are unique"
                );
                rows += 1;
            }
            assert_eq!(rows, ROWS);
            black_box(rows)
        })
    });

    // As `validate` runs it (a thread per core), then all on this thread, as it ran before.
    for (name, workers) in [
        ("read_map_validate", usersync::prepare::default_workers()),
        ("read_map_validate_one_thread", 0),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let rows = Rows::open(path, target, &InputOptions::default())
                    .unwrap()
                    .with_workers(workers);
                let mut valid = 0u64;
                for row in rows {
                    if row.unwrap().result.is_valid() {
                        valid += 1;
                    }
                }
                assert_eq!(valid, ROWS, "every generated row is valid");
                black_box(valid)
            })
        });
    }
    group.finish();
}

/// A hasher for keys that are hashes already.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = key_hash(bytes);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// FxHash's word step and murmur3's finaliser: about as cheap as a 64-bit hash of a key gets.
fn key_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0;
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}
