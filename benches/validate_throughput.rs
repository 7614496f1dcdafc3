//! How fast an export goes through read + map + validate, beside a bare csv-crate parse of the
//! same file in the same run.
//!
//! Generates a 1,000,000-row MeetingLawyers-shaped CSV (valid DNIs, dates to convert, value
//! maps, lower-casing) into a temporary directory once, then measures:
//! - `bare_csv_parse`: the csv crate reading every row into one reused `ByteRecord`;
//! - `read_map_validate`: `prepare::Rows` with the meetinglawyers schema, as `validate` runs it.
//!
//! Run with `cargo bench --bench validate_throughput`; results go in BENCHMARKS.md.

use std::fs::File;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};

use usersync::input::InputOptions;
use usersync::prepare::Rows;

const ROWS: u64 = 1_000_000;

const CONFIG: &str = r#"
[targets.lawyers]
provider = "meetinglawyers"
base_url = "mock"
key = "user_id"

[targets.lawyers.fields]
user_id = "employee_id"
status = { column = "plan", map = { premium = 2, free = 0, trial = 4 } }
email = { column = "work_email", transform = "lowercase" }
nid_number = { column = "dni", transform = "uppercase" }
first_name = "first_name"
last_name = "last_name"
gender = { column = "sex", map = { M = 0, F = 1 } }
birthdate = { column = "birth_date", date_format = "%d/%m/%Y" }
mobile_phone = "mobile"
service_language_code = "language"
country_code = { value = "ES" }
"#;

const FIRST: [&str; 8] = [
    "María", "José", "Lucía", "Javier", "Carmen", "Iñaki", "Núria", "Álvaro",
];
const LAST: [&str; 8] = [
    "García",
    "Núñez",
    "Martínez",
    "López",
    "Peña",
    "Sánchez",
    "Puig",
    "Ruiz",
];
const PLANS: [&str; 3] = ["premium", "free", "trial"];
const LANGS: [&str; 4] = ["es", "en", "ca", "es"];
const NID_LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";

/// Writes the export: deterministic, every row valid.
fn generate(path: &Path) {
    let mut out = BufWriter::new(File::create(path).unwrap());
    writeln!(
        out,
        "employee_id,first_name,last_name,work_email,dni,sex,birth_date,mobile,plan,language"
    )
    .unwrap();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..ROWS {
        let r = next();
        let first = FIRST[(r % 8) as usize];
        let last = LAST[((r >> 3) % 8) as usize];
        let dni = 10_000_000 + (r >> 8) % 89_999_999;
        let letter = NID_LETTERS[(dni % 23) as usize] as char;
        writeln!(
            out,
            "E{i:07},{first},{last} {last},User.{i}@Example.COM,{dni}{letter},{},{:02}/{:02}/{},+34 6{:02} {:03} {:03},{},{}",
            if r & 1 == 0 { "M" } else { "F" },
            1 + (r >> 20) % 28,
            1 + (r >> 25) % 12,
            1960 + (r >> 30) % 45,
            (r >> 36) % 100,
            (r >> 40) % 1000,
            (r >> 50) % 1000,
            PLANS[((r >> 12) % 3) as usize],
            LANGS[((r >> 16) % 4) as usize],
        )
        .unwrap();
    }
    out.flush().unwrap();
}

fn throughput(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meetinglawyers_1m.csv");
    generate(&path);
    let config = usersync::config::from_str(CONFIG, &dir.path().join("usersync.toml")).unwrap();
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
