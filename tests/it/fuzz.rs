//! Property tests (the fuzz suite): the CSV and JSONL readers, the mapping and the
//! validators never panic on arbitrary bytes, text or JSON values, and well-formed data
//! round-trips exactly (fields, line numbers, canonical payloads).
//!
//! proptest runs 256 seeded-random cases per property (a few seconds in all); a failure is
//! shrunk to a minimal input and its seed saved under `proptest-regressions/fuzz.txt`, which is
//! committed: those cases run first, every time. More cases for a long local run:
//! `PROPTEST_CASES=20000 cargo test --release --test it -- fuzz::`.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Map, Value};

use usersync::config::{self, Config};
use usersync::input::{self, Encoding, Format, InputOptions};
use usersync::payload::Payload;
use usersync::prepare::{RowResult, Rows};
use usersync::validate::{self, Context};

fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256),
        // Integration tests have no lib.rs beside them for proptest's default location.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/fuzz.txt",
        ))),
        ..ProptestConfig::default()
    }
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The sample config: one target per provider, every mapping feature.
fn sample_config() -> Config {
    config::load(&repo("samples/usersync.toml")).expect("the sample config loads")
}

/// The sample export's columns (what the sample config maps).
fn sample_columns() -> Vec<String> {
    let header = std::fs::read_to_string(repo("samples/hr_export.csv")).unwrap();
    let first = header
        .lines()
        .next()
        .unwrap()
        .trim_start_matches('\u{feff}');
    first.split(',').map(str::to_owned).collect()
}

/// Writes `bytes` to a fresh temporary file named `name`.
fn temp_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

/// Reads every record of `path`; returns the line numbers, or None when the file could not be
/// opened (a clean fatal error). Line numbers must grow.
fn read_all(path: &Path, options: &InputOptions) -> Option<Vec<u64>> {
    let mut reader = input::open(path, options).ok()?;
    let mut lines = Vec::new();
    while let Ok(Some(record)) = reader.read() {
        lines.push(record.line);
    }
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "lines {lines:?}");
    Some(lines)
}

/// Runs every sample target's mapping and validation over `path`: no panic, and every row is
/// either a payload or at least one error.
fn prepare_all(path: &Path, options: &InputOptions) {
    let config = sample_config();
    for target in config.targets.values() {
        let Ok(rows) = Rows::open(path, target, options) else {
            continue;
        };
        for row in rows {
            let Ok(row) = row else { break };
            if let Some(errors) = row.result.errors() {
                assert!(!errors.is_empty());
            }
        }
    }
}

/// Any JSON value, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        // Values that look like what the mapping expects, so that rules run deep.
        prop_oneof![
            Just("premium"),
            Just("M"),
            Just("F"),
            Just("12/07/1993"),
            Just("31/02/1990"),
            Just("1|2"),
            Just("a@b.example"),
            Just("07702456D"),
            Just("+34 610 186 127"),
            Just("es"),
            Just("ES"),
            Just("1ede819e-9d0f-41e9-855b-bbebc7f08dd1"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object whose keys are mostly the sample's columns.
fn export_object(columns: Vec<String>) -> impl Strategy<Value = Map<String, Value>> {
    let key = prop_oneof![
        4 => prop::sample::select(columns),
        1 => ".{0,8}",
    ];
    prop::collection::btree_map(key, json_value(), 0..24).prop_map(|m| m.into_iter().collect())
}

/// Cell text: anything, with a bias towards characters that matter to CSV.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => ".{0,16}",
        1 => "[,;\t|\"\r\n a-z0-9/@+-]{0,16}",
        1 => prop::sample::select(vec![
            "premium", "free", "M", "F", "12/07/1993", "1|2|3", "E00001", "a@b.example",
            "07702456D", "+34 610 186 127", "es", "ES", "=HYPERLINK(\"x\")",
        ])
        .prop_map(String::from),
    ]
}

fn options(format: Format, delimiter: u8, windows: bool) -> InputOptions {
    InputOptions {
        format: Some(format),
        delimiter: Some(delimiter),
        encoding: if windows {
            Encoding::WINDOWS_1252
        } else {
            Encoding::UTF_8
        },
        sheet: None,
    }
}

/// Line endings in `bytes`: LF, CRLF and a lone CR each end one physical line.
fn line_endings(bytes: &[u8]) -> u64 {
    let mut n = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
            n += 1;
        }
    }
    n
}

fn delimiter() -> impl Strategy<Value = u8> {
    prop::sample::select(vec![b',', b';', b'\t', b'|'])
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn the_csv_reader_survives_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        delimiter in prop::option::of(delimiter()),
        windows in any::<bool>(),
    ) {
        let (_dir, path) = temp_file("x.csv", &bytes);
        let options = InputOptions { delimiter, ..options(Format::Csv, b',', windows) };
        read_all(&path, &options);
        prepare_all(&path, &options);
    }

    #[test]
    fn the_jsonl_reader_survives_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        windows in any::<bool>(),
    ) {
        let (_dir, path) = temp_file("x.jsonl", &bytes);
        let options = options(Format::Jsonl, b',', windows);
        let lines = read_all(&path, &options).expect("JSONL always opens");
        let physical = bytes.split(|&b| b == b'\n').count() as u64;
        prop_assert!(lines.iter().all(|&l| l <= physical));
        prepare_all(&path, &options);
    }

    #[test]
    fn arbitrary_json_objects_map_and_validate_without_panicking(
        objects in prop::collection::vec(export_object(sample_columns()), 1..8),
    ) {
        let text: String = objects
            .iter()
            .map(|o| serde_json::to_string(o).unwrap() + "\n")
            .collect();
        let (_dir, path) = temp_file("x.jsonl", text.as_bytes());
        prepare_all(&path, &options(Format::Jsonl, b',', false));
    }

    #[test]
    fn arbitrary_csv_cells_map_and_validate_without_panicking(
        rows in prop::collection::vec(prop::collection::vec(cell(), 21), 1..8),
        delimiter in delimiter(),
    ) {
        let columns = sample_columns();
        prop_assume!(columns.len() == 21);
        let mut w = csv::WriterBuilder::new().delimiter(delimiter).from_writer(Vec::new());
        w.write_record(&columns).unwrap();
        for row in &rows {
            w.write_record(row).unwrap();
        }
        let (_dir, path) = temp_file("x.csv", &w.into_inner().unwrap());
        prepare_all(&path, &options(Format::Csv, delimiter, false));
    }

    #[test]
    fn validators_survive_arbitrary_payloads_and_canonical_payloads_are_fixed_points(
        provider in prop::sample::select(usersync::provider::names()),
        values in prop::collection::vec(json_value(), 0..20),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 20),
        partial in any::<bool>(),
    ) {
        let schema = usersync::provider::by_name(provider).unwrap().schema();
        let mut payload = Payload::new();
        for (value, pick) in values.into_iter().zip(picks) {
            let field = &schema.fields[pick.index(schema.fields.len())];
            payload.insert(field.name.to_owned(), value);
        }
        let required = vec!["email".to_owned()];
        let ctx = Context { extra_required: &required, partial };
        let errors = validate::validate(schema, &mut payload, &ctx);
        for e in &errors {
            prop_assert!(!e.code.is_empty() && !e.message.is_empty());
            prop_assert!(e.message.chars().count() <= validate::MAX_MESSAGE_CHARS + 40);
        }
        if errors.is_empty() {
            // Validating a canonical payload again changes nothing: hashes are stable.
            let mut again = payload.clone();
            prop_assert_eq!(validate::validate(schema, &mut again, &ctx), vec![]);
            prop_assert_eq!(again, payload);
        }
    }

    #[test]
    fn single_rules_survive_arbitrary_text(text in "\\PC{0,40}|.{0,40}") {
        let _ = validate::email::check(&text);
        let _ = validate::nid::check(&text);
        let mut nid = text.clone();
        validate::nid::normalise(&mut nid);
        let _ = validate::iso::check_country(&text);
        let _ = validate::iso::check_language(&text);
        let _ = validate::date::check_date(&text);
        let mut datetime = text.clone();
        let _ = validate::date::normalise_datetime(&mut datetime);
        let _ = validate::guid::normalise(&text);
        let _ = validate::phone::normalise_international(&text);
        let _ = validate::password::check_abitmedia(&text);
        let shown = validate::bounded_message(text.clone());
        prop_assert!(!shown.chars().any(char::is_control));
    }

    #[test]
    fn csv_round_trips_fields_and_physical_lines(
        header in prop::collection::hash_set("[a-zA-Z_][a-zA-Z0-9_ ]{0,8}[a-zA-Z0-9_]", 2..6),
        rows in prop::collection::vec(prop::collection::vec(cell(), 6), 0..12),
        delimiter in delimiter(),
        crlf in any::<bool>(),
    ) {
        let header: Vec<String> = header.into_iter().collect();
        let width = header.len();
        let terminator = if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') };
        let write = |record: &[String]| {
            let mut w = csv::WriterBuilder::new()
                .delimiter(delimiter)
                .terminator(terminator)
                .from_writer(Vec::new());
            w.write_record(record).unwrap();
            w.into_inner().unwrap()
        };
        let mut bytes = write(&header);
        let mut expected = Vec::new();
        for row in &rows {
            let row = &row[..width];
            let line = 1 + line_endings(&bytes);
            bytes.extend_from_slice(&write(row));
            // CRLF or CR inside a quoted field is read as LF (see input/newlines.rs).
            let fields: Vec<String> = row
                .iter()
                .map(|f| f.replace("\r\n", "\n").replace('\r', "\n"))
                .collect();
            expected.push((line, fields));
        }
        let (_dir, path) = temp_file("x.csv", &bytes);
        let mut reader = input::open(&path, &options(Format::Csv, delimiter, false)).unwrap();
        prop_assert_eq!(reader.header().names().unwrap(), &header[..]);
        let mut got = Vec::new();
        while let Some(record) = reader.read().unwrap() {
            prop_assert!(record.problem().is_none(), "{:?}", record.problem());
            let fields: Vec<String> = record.csv_fields().unwrap().map(str::to_owned).collect();
            got.push((record.line, fields));
        }
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn jsonl_round_trips_objects_and_physical_lines(
        objects in prop::collection::vec(
            prop::collection::btree_map(".{0,6}", json_value(), 0..6), 0..10),
        blanks in prop::collection::vec(0usize..3, 10),
        crlf in any::<bool>(),
    ) {
        let newline = if crlf { "\r\n" } else { "\n" };
        let mut text = String::new();
        let mut line = 0u64;
        let mut expected = Vec::new();
        for (object, blank) in objects.iter().zip(blanks) {
            for _ in 0..blank {
                text.push_str(newline);
                line += 1;
            }
            let object: Map<String, Value> = object.clone().into_iter().collect();
            text.push_str(&serde_json::to_string(&object).unwrap());
            text.push_str(newline);
            line += 1;
            expected.push((line, Value::Object(object)));
        }
        let (_dir, path) = temp_file("x.jsonl", text.as_bytes());
        let mut reader = input::open(&path, &options(Format::Jsonl, b',', false)).unwrap();
        let mut got = Vec::new();
        while let Some(record) = reader.read().unwrap() {
            prop_assert!(record.problem().is_none(), "{:?}", record.problem());
            // The record's values under the keys the object at the same place has.
            let Some((_, like)) = expected.get(got.len()) else { break };
            let mut object = Map::new();
            for key in like.as_object().unwrap().keys() {
                let value = match record.get(&input::Column::Key(key.clone())) {
                    input::Cell::Json(v) => v.clone(),
                    input::Cell::Text(s) => Value::String(s.to_owned()),
                    input::Cell::Missing => continue,
                };
                object.insert(key.clone(), value);
            }
            got.push((record.line, Value::Object(object)));
        }
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn valid_generated_rows_come_out_as_exactly_the_expected_payloads(
        people in prop::collection::vec(
            (
                "[A-Z][0-9]{1,6}",
                "[a-z][a-z0-9]{0,6}(\\.[a-z0-9]{1,4})?",
                prop::sample::select(vec![("premium", 2), ("free", 0), ("trial", 4)]),
                prop::sample::select(vec![("M", 0), ("F", 1)]),
                (1u32..=28, 1u32..=12, 1900i32..=2020),
                "[ \t]{0,2}",
            ),
            1..20,
        ),
    ) {
        let text = r#"
            [targets.t]
            provider = "meetinglawyers"
            base_url = "mock"
            key = "user_id"
            [targets.t.fields]
            user_id = "id"
            email = { column = "email", transform = ["trim", "lowercase"] }
            status = { column = "plan", map = { premium = 2, free = 0, trial = 4 } }
            gender = { column = "sex", map = { M = 0, F = 1 } }
            birthdate = { column = "born", date_format = "%d/%m/%Y" }
        "#;
        let config = config::from_str(text, Path::new("t.toml")).unwrap();
        let target = config.target(None).unwrap();
        let mut csv = String::from("id,email,plan,sex,born\n");
        let mut expected = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (id, local, (plan, status), (sex, gender), (d, m, y), pad) in &people {
            if !seen.insert(id.clone()) {
                continue;
            }
            let email = format!("{local}@Example.COM");
            csv.push_str(&format!(
                "{id},\"{pad}{email}{pad}\",{plan},{sex},{d:02}/{m:02}/{y}\n"
            ));
            expected.push(serde_json::json!({
                "user_id": id,
                "email": email.to_lowercase(),
                "status": status,
                "gender": gender,
                "birthdate": format!("{y:04}-{m:02}-{d:02}"),
            }));
        }
        let (_dir, path) = temp_file("x.csv", csv.as_bytes());
        let rows = Rows::open(&path, target, &InputOptions::default()).unwrap();
        let mut got = Vec::new();
        for row in rows {
            let row = row.unwrap();
            let payload = match row.result {
                RowResult::Valid(payload) => Ok(payload),
                other => Err(format!("line {}: {other:?}", row.line)),
            };
            prop_assert!(payload.is_ok(), "{:?}", payload);
            got.push(Value::from(payload.unwrap()));
        }
        prop_assert_eq!(got, expected);
    }
}
