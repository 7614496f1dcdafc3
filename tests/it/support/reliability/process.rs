//! Running a `usersync` child to its end while measuring it: exit code, output, peak memory
//! (read with `wait4`, which std does not expose) and wall time. Used where a test must show
//! that a hostile input is handled in bounded memory.
//!
//! Linux counts what a process had resident before its `exec` in its peak, and a child the test
//! process starts begins at the test process's own peak: with every area's mocks in one process,
//! hundreds of MB that are not the child's. So the child is started by a fresh copy of the test
//! binary ([`measured_child`]), which reports how it ended.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::text;

/// A rejected row as (line, field, code).
pub type Rejection = (u64, String, String);

/// How a child ended.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
    /// Peak resident set size, in KiB.
    pub max_rss_kb: i64,
    pub elapsed: Duration,
}

impl Run {
    pub fn stdout(&self) -> String {
        text(&self.stdout)
    }

    /// Every hostile file ends with row errors (3), nothing wrong (0), or one clear fatal error
    /// (1, 2): never a panic (101) or a signal.
    pub fn assert_sane(&self, what: &str) {
        assert!(
            matches!(self.code, Some(0..=3)),
            "{what}: exit {:?}\n{}",
            self.code,
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{what}: {}", self.stderr);
        assert!(
            !self.stderr.contains("RUST_BACKTRACE"),
            "{what}: {}",
            self.stderr
        );
    }

    /// `--json` output: the rejected rows as (line, field, code), and the summary.
    pub fn rejections(&self) -> (Vec<Rejection>, Value) {
        let mut rows = Vec::new();
        let mut summary = Value::Null;
        for line in self.stdout().lines() {
            let v: Value = serde_json::from_str(line).expect("JSON lines");
            if let Some(s) = v.get("summary") {
                summary = s.clone();
                continue;
            }
            for e in v["errors"].as_array().expect("errors") {
                rows.push((
                    v["line"].as_u64().expect("line"),
                    e["field"].as_str().unwrap_or_default().to_owned(),
                    e["code"].as_str().unwrap_or_default().to_owned(),
                ));
            }
        }
        (rows, summary)
    }
}

/// The variable that makes [`measured_child`] run a command: the command, as JSON.
const MEASURE: &str = "USERSYNC_TEST_MEASURE";

/// The line [`measured_child`] ends with, before its JSON report.
const REPORT: &str = "usersync-test-measured ";

/// Runs `cmd` to its end, its output kept, and measures its peak memory.
pub fn run_measured(cmd: Command) -> Run {
    let files = tempfile::tempdir().expect("a directory for the child's output");
    let (out, err) = (files.path().join("stdout"), files.path().join("stderr"));
    let utf8 = |s: &std::ffi::OsStr| s.to_str().expect("a UTF-8 command").to_owned();
    let spec = json!({
        "program": utf8(cmd.get_program()),
        "args": cmd.get_args().map(utf8).collect::<Vec<_>>(),
        "dir": cmd.get_current_dir().map(|d| utf8(d.as_os_str())),
        "env": cmd.get_envs().map(|(k, v)| (utf8(k), v.map(utf8))).collect::<Vec<_>>(),
        "stdout": out,
        "stderr": err,
    });
    // This module's test, by its name in this binary (the module path less the crate's name).
    let (_, module) = module_path!().split_once("::").unwrap();
    let measurer = Command::new(std::env::current_exe().expect("the test binary"))
        .arg("--exact")
        .arg(format!("{module}::measured_child"))
        .args(["--nocapture", "--test-threads=1"])
        .env(MEASURE, spec.to_string())
        .stdin(Stdio::null())
        .output()
        .expect("run the measuring copy of the test binary");
    let said = text(&measurer.stdout);
    let report: Value = said
        .lines()
        .find_map(|l| l.strip_prefix(REPORT))
        .map(|r| serde_json::from_str(r).expect("a JSON report"))
        .unwrap_or_else(|| {
            panic!(
                "no report from the measuring copy:\n{said}{}",
                text(&measurer.stderr)
            )
        });
    Run {
        code: report["code"].as_i64().map(|c| c as i32),
        stdout: std::fs::read(&out).expect("the child's stdout"),
        stderr: text(&std::fs::read(&err).expect("the child's stderr")),
        max_rss_kb: report["max_rss_kb"].as_i64().expect("max_rss_kb"),
        elapsed: Duration::from_micros(report["elapsed_us"].as_u64().expect("elapsed_us")),
    }
}

/// The measuring half of [`run_measured`], in a fresh copy of the test binary: runs the command
/// [`MEASURE`] describes, its output to files, and prints how it ended. A no-op in a test run.
// The child is reaped by `wait4` (std cannot report its resource usage).
#[allow(clippy::zombie_processes)]
#[test]
fn measured_child() {
    let Ok(spec) = std::env::var(MEASURE) else {
        return;
    };
    let spec: Value = serde_json::from_str(&spec).expect("a JSON command");
    let s = |v: &Value| v.as_str().expect("a string").to_owned();
    let mut cmd = Command::new(s(&spec["program"]));
    cmd.args(spec["args"].as_array().unwrap().iter().map(s));
    if let Some(dir) = spec["dir"].as_str() {
        cmd.current_dir(dir);
    }
    cmd.env_remove(MEASURE);
    for pair in spec["env"].as_array().unwrap() {
        match pair[1].as_str() {
            Some(value) => cmd.env(s(&pair[0]), value),
            None => cmd.env_remove(s(&pair[0])),
        };
    }
    let file = |key: &str| std::fs::File::create(s(&spec[key])).expect("an output file");
    let started = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(file("stdout"))
        .stderr(file("stderr"))
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our child, not yet reaped (std never waited for it); the pointers are
        // to live locals.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let errno = std::io::Error::last_os_error();
        assert_eq!(errno.raw_os_error(), Some(libc::EINTR), "wait4: {errno}");
    }
    let report = json!({
        "code": libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        "max_rss_kb": usage.ru_maxrss,
        "elapsed_us": started.elapsed().as_micros() as u64,
    });
    // Straight to the process's stdout: the test harness captures `println!`.
    let mut stdout = std::io::stdout();
    std::io::Write::write_all(&mut stdout, format!("\n{REPORT}{report}\n").as_bytes()).unwrap();
    std::io::Write::flush(&mut stdout).unwrap();
}
