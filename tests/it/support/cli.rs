//! Helpers of the tests that run the binary on small files (`cli_validate`, `input`, `report`,
//! `spreadsheet`):
//! every test gets its own temporary directory ([`usersync_test!`]), runs the real binary from
//! it, reads `--json` output back, and compares text with a readable line-by-line diff
//! ([`assert_text_eq!`]).

use std::path::{Path, PathBuf};

/// A temporary directory for one test, removed when dropped.
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> TestDir {
        TestDir {
            dir: super::tempdir(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `contents` to `name` in the directory and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write a test file");
        path
    }

    /// Reads `name` from the directory as text.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).expect("read a test file")
    }

    /// The `usersync` binary, run from this directory, with no config from the environment.
    pub fn usersync(&self) -> assert_cmd::Command {
        assert_cmd::Command::from_std(super::usersync(self.path()))
    }
}

/// A small MeetingLawyers config reading the columns `id,email,plan,sex,born`.
pub const ML_CONFIG: &str = r#"
[targets.lawyers]
provider = "meetinglawyers"
base_url = "mock"
credentials = { api_key = "ML_API_KEY", secret_key = "ML_SECRET_KEY" }
key = "user_id"

[targets.lawyers.fields]
user_id = "id"
email = { column = "email", transform = ["trim", "lowercase"] }
status = { column = "plan", map = { premium = 2, free = 0, trial = 4 } }
gender = { column = "sex", map = { M = 0, F = 1 } }
birthdate = { column = "born", date_format = "%d/%m/%Y" }
"#;

/// A line diff of two texts, or `None` when they are equal.
pub fn text_diff(expected: &str, actual: &str) -> Option<String> {
    if expected == actual {
        return None;
    }
    let exp: Vec<&str> = expected.lines().collect();
    let act: Vec<&str> = actual.lines().collect();
    let mut out = String::from("--- expected\n+++ actual\n");
    for i in 0..exp.len().max(act.len()) {
        match (exp.get(i), act.get(i)) {
            (Some(e), Some(a)) if e == a => out.push_str(&format!("  {e}\n")),
            (e, a) => {
                if let Some(e) = e {
                    out.push_str(&format!("- {e}\n"));
                }
                if let Some(a) = a {
                    out.push_str(&format!("+ {a}\n"));
                }
            }
        }
    }
    if exp.len() == act.len() {
        out.push_str("(the texts differ only in line endings or trailing whitespace)\n");
    }
    Some(out)
}

/// Asserts that two texts are equal, printing a line diff when they are not.
macro_rules! assert_text_eq {
    ($expected:expr, $actual:expr $(,)?) => {{
        let expected: &str = &$expected;
        let actual: &str = &$actual;
        if let Some(diff) = $crate::support::cli::text_diff(expected, actual) {
            panic!("texts differ:\n{diff}");
        }
    }};
}

/// A test with its own temporary directory: `usersync_test!(name, |dir| { ... });`
macro_rules! usersync_test {
    ($name:ident, |$dir:ident| $body:block) => {
        #[test]
        fn $name() {
            let $dir = $crate::support::cli::TestDir::new();
            $body
        }
    };
}

/// `(line, field, code)` of every error of every rejected row of `validate --json` output.
pub fn errors(lines: &[serde_json::Value]) -> Vec<(u64, String, String)> {
    let mut out = Vec::new();
    for l in lines.iter().filter(|l| l.get("line").is_some()) {
        for e in l["errors"].as_array().unwrap() {
            out.push((
                l["line"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

/// One expected error, as [`errors`] lists them.
pub fn err(line: u64, field: &str, code: &str) -> (u64, String, String) {
    (line, field.to_owned(), code.to_owned())
}

/// Parses `--json` output: every line one JSON value.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Runs `usersync ARGS --json` in `dir`: exit code, JSON lines, stderr.
pub fn run_json(dir: &TestDir, args: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    let out = dir.usersync().args(args).arg("--json").output().unwrap();
    let text = super::stdout(&out);
    let lines = if text.is_empty() {
        Vec::new()
    } else {
        json_lines(&text)
    };
    (out.status.code().unwrap(), lines, super::stderr(&out))
}

/// `(rows, valid, rejected)` from the summary, the last line of `--json` output.
pub fn summary(lines: &[serde_json::Value]) -> (u64, u64, u64) {
    let s = &lines.last().expect("a summary line")["summary"];
    (
        s["rows"].as_u64().unwrap(),
        s["valid"].as_u64().unwrap(),
        s["rejected"].as_u64().unwrap(),
    )
}

/// The rejects CSV `rejects.csv` of `dir` as rows of cells (the first is its header; the file's
/// BOM left out).
pub fn read_rejects(dir: &TestDir) -> Vec<Vec<String>> {
    let text = dir.read("rejects.csv");
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}
