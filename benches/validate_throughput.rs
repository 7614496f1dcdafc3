//! How fast an export goes through read + map + validate, beside a bare csv-crate parse of the
//! same file in the same run.
//!
//! Generates a 1,000,000-row MeetingLawyers-shaped CSV (valid DNIs, dates to convert, value
//! maps, lower-casing) into a temporary directory once, then measures:
//! - `bare_csv_parse`: the csv crate reading every row into one reused `ByteRecord`;
//! - `read_map_validate`: `prepare::Rows` with the meetinglawyers schema, as `validate` runs it;
//! - two floors under any `validate`, whatever its design: `utf8_parse` (every row decoded as
//!   UTF-8, which usersync requires: invalid bytes are a row error) and
//!   `utf8_parse_and_duplicate_check` (plus the cheapest duplicate-key check there is, each
//!   key's 64-bit hash into a set sized in advance: inexact, and still required in some form).
//!   They show how much of the per-row budget is spent before a single field is mapped.
//!
//! Run with `cargo bench --bench validate_throughput`; results go in BENCHMARKS.md.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
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

    group.bench_function("utf8_parse", |b| {
        b.iter(|| {
            let mut reader = csv::Reader::from_path(&path).unwrap();
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
            let mut reader = csv::Reader::from_path(&path).unwrap();
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

    group.bench_function("read_map_validate", |b| {
        b.iter(|| {
            let rows = Rows::open(&path, target, &InputOptions::default()).unwrap();
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

criterion_group!(benches, throughput);
criterion_main!(benches);
