//! Hostile workbooks: a zip-bomb sheet, a shared-strings table that declares billions of
//! strings, more sheets than any export has, and random bytes under a workbook's name. Each ends
//! with one clear error and exit 1, never a panic, with the child limited to 1 GB of address
//! space (`ulimit -v`, RLIMIT_AS) and its peak memory measured as `hostile.rs` measures it.
//!
//! The workbooks are written here: a valid one by `rust_xlsxwriter`, then one part replaced
//! with the zip crate.

use std::io::{Cursor, Write};
use std::path::Path;
use std::process::Command;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::sheet_config;
use super::workbooks::{t, write_xlsx, C};
use crate::support::reliability::process::{run_measured, Run};
use crate::support::reliability::write;
use crate::support::tempdir;

/// `usersync validate FILE` in `dir` with at most 1 GB of address space.
fn validate_limited(dir: &Path, file: &str) -> Run {
    let mut cmd = Command::new("sh");
    cmd.current_dir(dir)
        .env_remove("USERSYNC_CONFIG")
        .env_remove("RUST_LOG")
        .args(["-c", "ulimit -v 1048576 && exec \"$0\" \"$@\""])
        .arg(assert_cmd::cargo::cargo_bin("usersync"))
        .args(["validate", file, "-c", "usersync.toml", "-t", "lawyers"]);
    run_measured(cmd)
}

/// Asserts that `run` ended with exactly one error line, exit 1, that `expected` is in it, and
/// that memory stayed small.
fn assert_one_clear_error(run: &Run, file: &str, expected: &str) {
    run.assert_sane(file);
    assert_eq!(run.code, Some(1), "{file}: {}", run.stderr);
    let prefix = format!("error: cannot read the workbook {file}: ");
    assert!(run.stderr.starts_with(&prefix), "{file}: {}", run.stderr);
    assert!(run.stderr.contains(expected), "{file}: {}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{file}: {}", run.stderr);
    assert!(
        run.max_rss_kb < 200 * 1024,
        "{file}: peak {} KiB",
        run.max_rss_kb
    );
}

/// A small valid workbook with the test config's columns.
fn base_workbook(dir: &Path) -> Vec<u8> {
    let path = dir.join("base.xlsx");
    let header = ["id", "email", "plan", "sex", "born"].map(t).to_vec();
    let row = vec![
        t("E1"),
        t("a@example.com"),
        t("free"),
        t("M"),
        C::Date(1990, 1, 2),
    ];
    write_xlsx(&path, &[("Hoja1", vec![header, row])]);
    std::fs::read(path).unwrap()
}

/// `base` with part `name` written anew by `fill`, as `out`.
fn with_part(base: &[u8], out: &Path, name: &str, fill: impl FnOnce(&mut dyn Write)) {
    let mut archive = ZipArchive::new(Cursor::new(base)).unwrap();
    let mut zip = ZipWriter::new(std::fs::File::create(out).unwrap());
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).unwrap();
        if entry.name().unwrap() != name {
            zip.raw_copy_file(entry).unwrap();
        }
    }
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .large_file(true);
    zip.start_file(name, options).unwrap();
    fill(&mut zip);
    zip.finish().unwrap();
}

#[test]
fn a_zip_bomb_sheet_is_one_clear_error_in_bounded_memory() {
    let dir = tempdir();
    write(dir.path(), "usersync.toml", sheet_config());
    let base = base_workbook(dir.path());
    // 50 MB of one letter in one cell, packed about 1000 times.
    with_part(
        &base,
        &dir.path().join("bomb.xlsx"),
        "xl/worksheets/sheet1.xml",
        |w| {
            w.write_all(
                br#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>"#,
            )
            .unwrap();
            let chunk = vec![b'a'; 1 << 20];
            for _ in 0..50 {
                w.write_all(&chunk).unwrap();
            }
            w.write_all(b"</t></is></c></row></sheetData></worksheet>")
                .unwrap();
        },
    );
    let run = validate_limited(dir.path(), "bomb.xlsx");
    assert_one_clear_error(
        &run,
        "bomb.xlsx",
        "its part `xl/worksheets/sheet1.xml` unpacks 1",
    );
    assert!(run
        .stderr
        .contains("times larger than it is stored (a zip bomb?)"));
    assert!(run.stderr.contains("save the sheet as CSV"));
}

#[test]
fn a_shared_strings_table_declaring_billions_of_strings_is_refused() {
    let dir = tempdir();
    write(dir.path(), "usersync.toml", sheet_config());
    let base = base_workbook(dir.path());
    // calamine reserves room for the declared count before reading a string.
    with_part(
        &base,
        &dir.path().join("strings.xlsx"),
        "xl/sharedStrings.xml",
        |w| {
            w.write_all(
                br#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="4000000000" uniqueCount="4000000000"><si><t>id</t></si></sst>"#,
            )
            .unwrap();
        },
    );
    let run = validate_limited(dir.path(), "strings.xlsx");
    assert_one_clear_error(
        &run,
        "strings.xlsx",
        "its shared strings table declares 4000000000 strings",
    );
}

#[test]
fn thousands_of_sheets_are_refused() {
    let dir = tempdir();
    write(dir.path(), "usersync.toml", sheet_config());
    let sheets: Vec<(String, Vec<Vec<C>>)> = (1..=1001)
        .map(|i| (format!("S{i}"), vec![vec![t("id")]]))
        .collect();
    let sheets: Vec<(&str, Vec<Vec<C>>)> = sheets
        .iter()
        .map(|(name, rows)| (name.as_str(), rows.clone()))
        .collect();
    write_xlsx(&dir.path().join("many.xlsx"), &sheets);
    let run = validate_limited(dir.path(), "many.xlsx");
    assert_one_clear_error(
        &run,
        "many.xlsx",
        "it has 1001 sheets; usersync reads workbooks of at most 1000",
    );
}

#[test]
fn random_bytes_named_as_workbooks_are_one_clear_error() {
    let dir = tempdir();
    write(dir.path(), "usersync.toml", sheet_config());
    let mut rng = StdRng::seed_from_u64(0x5EE7);
    let mut bytes = vec![0u8; 4096];
    rng.fill_bytes(&mut bytes);
    for name in ["random.xlsx", "random.xls", "random.ods", "empty.xlsx"] {
        let contents = if name.starts_with("empty") {
            &[][..]
        } else {
            &bytes[..]
        };
        write(dir.path(), name, contents);
        let run = validate_limited(dir.path(), name);
        run.assert_sane(name);
        assert_eq!(run.code, Some(1), "{name}: {}", run.stderr);
        assert!(
            run.stderr
                .starts_with(&format!("error: cannot read the workbook {name}: ")),
            "{name}: {}",
            run.stderr
        );
    }
}

#[test]
fn an_ods_whose_repeated_cells_unpack_to_millions_is_refused() {
    let dir = tempdir();
    write(dir.path(), "usersync.toml", sheet_config());
    let base = std::fs::read(super::fixture("employees.ods")).unwrap();
    // A few hundred bytes that say: 90,000 rows of 1,000 cells, each "x". calamine loads every
    // sheet of an .ods whole, expanding the repeats (here 90 million cells, some GB).
    with_part(&base, &dir.path().join("repeats.ods"), "content.xml", |w| {
        w.write_all(
            br#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Empleados"><table:table-row><table:table-cell office:value-type="string"><text:p>id</text:p></table:table-cell></table:table-row><table:table-row table:number-rows-repeated="90000"><table:table-cell table:number-columns-repeated="1000" office:value-type="string"><text:p>x</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"#,
        )
        .unwrap();
    });
    let run = validate_limited(dir.path(), "repeats.ods");
    assert_one_clear_error(&run, "repeats.ods", "its sheets unpack to 90001000 cells");
}
