//! How fast an export goes through read + map + validate, beside a bare csv-crate parse of the
//! same file in the same run.
//!
//! Generates a 1,000,000-row MeetingLawyers-shaped CSV (valid DNIs, dates to convert, value
//! maps, lower-casing) into a temporary directory once, then measures:
//! - `bare_csv_parse`: the csv crate reading every row into one reused `ByteRecord`;
//! - `read_map_validate`: `prepare::Rows` with the meetinglawyers schema, as `validate` runs it.
//!
//! Run with `cargo bench --bench validate_throughput`; results go in BENCHMARKS.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};

use usersync::input::InputOptions;
use usersync::prepare::Rows;

#[path = "common/mod.rs"]
mod common;

/// The allocator of the `usersync` binary (src/main.rs), so that the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROWS: u64 = 1_000_000;

fn throughput(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meetinglawyers_1m.csv");
    common::generate(&path, ROWS).unwrap();
    let config =
        usersync::config::from_str(common::TARGET, &dir.path().join("usersync.toml")).unwrap();
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
            let mut reader = csv::Reader::from_path(&path).unwrap();
            let mut record = csv::ByteRecord::new();
            let mut rows = 0u64;
            while reader.read_byte_record(&mut record).unwrap() {
                rows += 1;
            }
            assert_eq!(rows, ROWS);
            black_box(rows)
        })
    });

    group.bench_function("read_map_validate", |b| {
        b.iter(|| {
            let rows = Rows::open(&path, target, &InputOptions::default()).unwrap();
            let mut valid = 0u64;
            for row in rows {
                if row.unwrap().result.is_ok() {
                    valid += 1;
                }
            }
            assert_eq!(valid, ROWS, "every generated row is valid");
            black_box(valid)
        })
    });
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
