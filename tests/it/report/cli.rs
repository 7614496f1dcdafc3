//! Report files, `sync --report`, and the mistakes that are usage errors.

use serde_json::Value;

use super::csv_records;
use crate::support::cli::TestDir;
use crate::support::report_fixture::*;

#[test]
fn sync_report_writes_the_run_report_privately() {
    let f = fixture();
    let html = std::fs::read_to_string(f.dir.join("run1.html")).unwrap();
    assert!(html.contains("<title>usersync report: run 1 of lawyers</title>"));
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(f.dir.join("run2.json")).unwrap()).unwrap();
    assert_eq!(json["run"]["id"], 2);
    #[cfg(unix)]
    for file in ["run1.html", "run2.json"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(f.dir.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
}

#[test]
fn output_files_take_their_format_from_the_extension() {
    let f = fixture();
    let dir = TestDir::new();
    let file = dir.path().join("last.csv");
    usersync(&f.dir)
        .args(["report", "last", "-t", "lawyers", "-o"])
        .arg(&file)
        .assert()
        .success()
        .stdout("");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("\u{feff}run,line,key"));
    assert!(
        csv_records(&text).iter().all(|r| &r[0] == "2"),
        "last is run 2"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // --format wins over the extension.
    let file = dir.path().join("r.txt");
    usersync(&f.dir)
        .args(["report", "1", "--format", "json", "-o"])
        .arg(&file)
        .assert()
        .success();
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["run"]["id"], 1);
}

#[test]
fn mistakes_are_usage_errors() {
    let f = fixture();
    let fails = |args: &[&str], message: &str| {
        let out = usersync(&f.dir).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    };
    fails(&["report", "99"], "run 99 is not in the ledger");
    fails(
        &["report", "1", "-t", "community"],
        "run 1 is a run of target lawyers",
    );
    fails(
        &["report", "last", "-t", "community"],
        "target community has no runs",
    );
    fails(&["report", "last"], "choose one with -t/--target");
    fails(&["report", "first"], "give a run number");
    fails(&["report", "1", "--format", "pdf"], "unknown report format");
    fails(
        &["report", "1", "--ledger", "missing.db"],
        "there is no ledger at missing.db",
    );
    assert!(!f.dir.join("missing.db").exists(), "no ledger is created");
    fails(
        &[
            "sync",
            "hr_export.csv",
            "-t",
            "lawyers",
            "--report",
            "r.pdf",
        ],
        "name it .md, .json, .csv or .html",
    );
    fails(
        &["sync", "hr_export.csv", "-t", "lawyers", "--mask-pii"],
        "--report",
    );
}
