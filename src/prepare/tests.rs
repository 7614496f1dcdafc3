//! Tests of [`super::Rows`]: duplicates, row problems, known rows, the key, and the same rows
//! whatever the number of threads.

use super::*;
use std::io::Write;

fn rows(config: &str, csv: &str) -> (tempfile::TempDir, Rows) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.csv");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(csv.as_bytes())
        .unwrap();
    let config = crate::config::from_str(config, &dir.path().join("u.toml")).unwrap();
    let target = config.target(None).unwrap();
    let rows = Rows::open(&path, target, &InputOptions::default()).unwrap();
    (dir, rows)
}

const CONFIG: &str = r#"
    [targets.t]
    provider = "meetinglawyers"
    base_url = "mock"
    key = "user_id"
    remote_id_column = "ml"
    fields = { user_id = "id", status = { value = 2 }, gender = { column = "sex", map = { M = 0, F = 1 } } }
"#;

#[test]
fn later_duplicates_are_rejected_on_the_key() {
    let (_d, rows) = rows(CONFIG, "id,sex,ml\nE1,M,\nE2,F,77\nE1,F,\n");
    let rows: Vec<PreparedRow> = rows.map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert!(rows[0].result.is_valid());
    assert_eq!(rows[1].remote_id.as_deref(), Some("77"));
    assert_eq!(rows[2].line, 4);
    let errors = rows[2].result.errors().unwrap();
    assert_eq!(errors[0].field, "user_id");
    assert_eq!(errors[0].code, "duplicate_key");
    assert_eq!(errors[0].message, "`E1` is also on line 2, which is kept");
}

#[test]
fn rule_errors_are_not_repeated_for_fields_that_failed_to_map() {
    let (_d, rows) = rows(CONFIG, "id,sex,ml\nE1,X,\n,M,\n");
    let rows: Vec<PreparedRow> = rows.map(Result::unwrap).collect();
    let codes = |r: &PreparedRow| -> Vec<(String, String)> {
        r.result
            .errors()
            .unwrap()
            .iter()
            .map(|e| (e.field.clone(), e.code.clone()))
            .collect()
    };
    assert_eq!(
        codes(&rows[0]),
        [("gender".into(), "unmapped_value".into())]
    );
    assert_eq!(rows[1].key, None);
    assert_eq!(codes(&rows[1]), [("user_id".into(), "required".into())]);
}

#[test]
fn ragged_rows_are_rejected_and_the_raw_record_stays_reachable() {
    let (_d, mut rows) = rows(CONFIG, "id,sex,ml\nE1,M\nE2,F,1\n");
    let first = rows.next().unwrap().unwrap();
    let errors = first.result.errors().unwrap().to_vec();
    assert_eq!(
        (errors[0].field.as_str(), errors[0].code.as_str()),
        (ROW_FIELD, "wrong_field_count")
    );
    let raw: Vec<&str> = rows.record().csv_fields().unwrap().collect();
    assert_eq!(raw, ["E1", "M"]);
    assert!(rows.next().unwrap().unwrap().result.is_valid());
    assert!(rows.next().is_none());
    assert_eq!(rows.source_columns(), ["id", "sex", "ml"]);
}

/// Users known by fingerprint, as a snapshot would hold them.
struct Snapshot(Vec<(SourceHash, String)>);

impl KnownRows for Snapshot {
    fn find(&self, source: &SourceHash) -> Option<(usize, &str)> {
        let i = self.0.iter().position(|(h, _)| h == source)?;
        Some((i, self.0[i].1.as_str()))
    }
    fn position(&self, key: &str) -> Option<usize> {
        self.0.iter().position(|(_, k)| k == key)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

#[test]
fn rows_known_by_their_fingerprint_skip_mapping_and_keep_duplicates_exact() {
    let csv = "id,sex,ml\nE1,M,\nE2,F,\nE1,M,\nE2,X,\n";
    let hasher = PayloadHasher::new(&[3; 32]);
    // A first read remembers the fingerprints, as a sync records them.
    let (_d, mut first) = rows(CONFIG, csv);
    let config = crate::config::from_str(CONFIG, Path::new("u.toml")).unwrap();
    let target = config.target(None).unwrap();
    first.fingerprint(&hasher, target, None);
    let first: Vec<PreparedRow> = first.map(Result::unwrap).collect();
    assert!(first
        .iter()
        .all(|r| r.result != RowResult::Known && r.source_hash.is_some()));
    assert_eq!(first[0].source_hash, first[2].source_hash, "the same bytes");
    assert_ne!(first[1].source_hash, first[3].source_hash);

    // E1's row is known; E2's was synced from other bytes.
    let known = Snapshot(vec![
        (first[0].source_hash.unwrap(), "E1".into()),
        ([9; 16], "E2".into()),
    ]);
    let (_d, mut again) = rows(CONFIG, csv);
    again.fingerprint(&hasher, target, Some(Arc::new(known)));
    let again: Vec<PreparedRow> = again.map(Result::unwrap).collect();
    assert_eq!(again[0].result, RowResult::Known);
    assert_eq!(again[0].position, Position::At(0));
    assert_eq!(again[0].key.as_deref(), Some("E1"));
    assert_ne!(
        again[1].result,
        RowResult::Known,
        "a row with other bytes is mapped"
    );
    assert_eq!(
        again[1].position,
        Position::At(1),
        "looked up once, for the planner too"
    );
    assert!(again[1].result.payload().unwrap().contains_key("gender"));
    // Duplicates of a known row, and of a mapped one, are still rejected on the key.
    for (row, first_line) in [(&again[2], 2), (&again[3], 3)] {
        assert_ne!(row.result, RowResult::Known);
        let errors = row.result.errors().unwrap();
        let dup = errors.iter().find(|e| e.code == "duplicate_key").unwrap();
        assert_eq!(
            dup.message,
            format!(
                "`{}` is also on line {first_line}, which is kept",
                row.key.as_deref().unwrap()
            )
        );
    }
}

/// A provider whose schema makes the key optional (SCIM's `externalId`) still needs it in
/// every row: `validate` rejects the row as a sync would.
#[test]
fn the_key_is_required_whatever_the_schema_says() {
    const SCIM: &str = r#"
        [targets.t]
        provider = "scim"
        base_url = "mock"
        key = "externalId"
        fields = { externalId = "id", userName = "mail" }
    "#;
    let (_d, rows) = rows(SCIM, "id,mail\n,a@b.es\nE2,c@d.es\n");
    let rows: Vec<PreparedRow> = rows.map(Result::unwrap).collect();
    let errors = rows[0].result.errors().expect("rejected");
    assert_eq!(
        (errors[0].field.as_str(), errors[0].code.as_str()),
        ("externalId", "required")
    );
    assert!(rows[1].result.is_valid());
}

#[test]
fn a_missing_remote_id_column_is_a_mapping_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.csv");
    std::fs::write(&path, "id,sex\n").unwrap();
    let config = crate::config::from_str(CONFIG, &dir.path().join("u.toml")).unwrap();
    let err = Rows::open(
        &path,
        config.target(None).unwrap(),
        &InputOptions::default(),
    )
    .err()
    .unwrap();
    assert!(matches!(err, PrepareError::Mapping(ref m) if m.key == "targets.t.remote_id_column"));
}

/// Every row of `rows`, or the fatal error's text in its place.
fn all(rows: Rows) -> Vec<Result<PreparedRow, String>> {
    rows.map(|r| r.map_err(|e| e.to_string())).collect()
}

/// An export of `n` rows with duplicates, unmapped values, ragged rows and bad UTF-8 scattered
/// through it, across many batches.
fn mixed_export(n: usize) -> Vec<u8> {
    let mut csv = b"id,sex,ml\n".to_vec();
    for i in 0..n {
        let row = match i % 7 {
            0 => format!("E{},M,\n", i / 3),
            1 => format!("E{i},X,{i}\n"),
            2 => format!("E{i},F\n"),
            3 if i % 5 == 0 => format!(",M,{i}\n"),
            _ => format!("E{i},F,{}\n", i % 11),
        };
        csv.extend_from_slice(row.as_bytes());
        if i % 1000 == 999 {
            csv.extend_from_slice(b"E\xff,M,\n");
        }
    }
    csv
}

#[test]
fn threads_give_the_rows_of_one_thread_in_file_order() {
    let csv = mixed_export(5_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.csv");
    std::fs::write(&path, &csv).unwrap();
    let config = crate::config::from_str(CONFIG, &dir.path().join("u.toml")).unwrap();
    let target = config.target(None).unwrap();
    let open = |workers| {
        Rows::open(&path, target, &InputOptions::default())
            .unwrap()
            .with_workers(workers)
    };
    let alone = all(open(0));
    assert!(alone.len() > 5_000);
    let dups = alone
        .iter()
        .filter(|r| {
            r.as_ref()
                .unwrap()
                .result
                .errors()
                .is_some_and(|e| e.iter().any(|e| e.code == "duplicate_key"))
        })
        .count();
    assert!(dups > 100, "{dups} duplicates");
    for workers in [1, 2, 3] {
        assert_eq!(all(open(workers)), alone, "{workers} workers");
    }
}

#[test]
fn known_rows_are_the_same_whatever_the_threads() {
    // E0 changed before its known row; E0..E2499 again from line 2502 on, the even ones with
    // the bytes they were synced from.
    let mut csv = "id,sex,ml\nE0,F,\n".to_owned();
    for i in 0..3_000 {
        let sex = if i >= 2_500 && i % 2 == 1 { "F" } else { "M" };
        csv.push_str(&format!("E{},{sex},\n", i % 2_500));
    }
    let hasher = PayloadHasher::new(&[5; 32]);
    let config = crate::config::from_str(CONFIG, Path::new("u.toml")).unwrap();
    let target = config.target(None).unwrap();
    let (_d, mut first) = rows(CONFIG, &csv);
    first.fingerprint(&hasher, target, None);
    // Every other user is known, from the row it was synced from.
    let known = Snapshot(
        first
            .map(Result::unwrap)
            .skip(1)
            .take(2_500)
            .step_by(2)
            .map(|r| (r.source_hash.unwrap(), r.key.unwrap()))
            .collect(),
    );
    let known: Arc<dyn KnownRows> = Arc::new(known);
    let read = |workers| {
        let (_d, rows) = rows(CONFIG, &csv);
        let mut rows = rows.with_workers(workers);
        rows.fingerprint(&hasher, target, Some(Arc::clone(&known)));
        all(rows)
    };
    let alone = read(0);
    let count = |code: &str| {
        alone
            .iter()
            .filter(|r| match &r.as_ref().unwrap().result {
                RowResult::Known => code == "known",
                RowResult::Invalid(e) => e.iter().any(|e| e.code == code),
                RowResult::Valid(_) => code == "valid",
            })
            .count()
    };
    // E0 was seen changed first: its known row is a duplicate, as are the last 500 rows; the
    // changed E0 and the odd users are mapped.
    assert_eq!(
        (count("known"), count("valid"), count("duplicate_key")),
        (1_249, 1_251, 501)
    );
    for workers in [1, 2] {
        assert_eq!(read(workers), alone, "{workers} workers");
    }
}

/// Test builds only: release builds have no injected panic.
/// The rows of the CSV at `path` for [`CONFIG`]'s target, prepared by `workers` threads.
fn open_with_workers(path: &Path, workers: usize) -> Rows {
    let config = crate::config::from_str(CONFIG, &path.with_file_name("u.toml")).unwrap();
    let target = config.target(None).unwrap();
    Rows::open(path, target, &InputOptions::default())
        .unwrap()
        .with_workers(workers)
}

#[cfg(debug_assertions)]
#[test]
fn a_panic_while_preparing_comes_out_after_the_rows_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.csv");
    let csv: String =
        "id,sex,ml\n".to_owned() + &(0..3_000).map(|i| format!("E{i},M,\n")).collect::<String>();
    std::fs::write(&path, csv).unwrap();
    for workers in [0, 2] {
        let mut rows = open_with_workers(&path, workers);
        // As `USERSYNC_TEST_PANIC_AT_LINE=1500` would.
        rows.prep_mut().panic_at = Some(1_500);
        let mut lines = Vec::new();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for row in rows.by_ref() {
                lines.push(row.unwrap().line);
            }
        }));
        let message = caught.expect_err("the panic comes out");
        assert_eq!(
            message.downcast_ref::<String>().map(String::as_str),
            Some("injected by USERSYNC_TEST_PANIC_AT_LINE on line 1500")
        );
        assert_eq!(lines, (2..1_500).collect::<Vec<u64>>(), "{workers} workers");
    }
}

#[test]
fn huge_rows_come_out_in_order_with_their_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.csv");
    let mut csv = "id,sex,ml\n".to_owned();
    for i in 0..3_000 {
        // Now and then a row of 3 MB (a batch of its own), or of 5 MB (out alone).
        let ml = match i % 500 {
            7 => "x".repeat(3 << 20),
            9 => "y".repeat(5 << 20),
            _ => i.to_string(),
        };
        csv.push_str(&format!("E{i},M,{ml}\n"));
    }
    std::fs::write(&path, &csv).unwrap();
    for workers in [0, 2] {
        let mut rows = open_with_workers(&path, workers);
        let mut n = 0;
        while let Some(row) = rows.next() {
            let row = row.unwrap();
            assert_eq!(row.line, n + 2);
            assert_eq!(row.key.as_deref(), Some(format!("E{n}").as_str()));
            let raw: Vec<&str> = rows.record().csv_fields().unwrap().collect();
            assert_eq!(raw[0], format!("E{n}"), "{workers} workers");
            assert_eq!(row.remote_id.as_deref(), Some(raw[2]));
            n += 1;
        }
        assert_eq!(n, 3_000);
    }
}
