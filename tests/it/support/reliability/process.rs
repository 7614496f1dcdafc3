//! Running a `usersync` child to its end while measuring it: exit code, output, peak memory
//! (read with `wait4`, which std does not expose) and wall time. Used where a test must show
//! that a hostile input is handled in bounded memory.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

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

/// Runs `cmd` to its end, draining its output, and measures its peak memory.
// The child is reaped by `wait4` (std cannot report its resource usage).
#[allow(clippy::zombie_processes)]
pub fn run_measured(mut cmd: Command) -> Run {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        out.read_to_end(&mut buf).unwrap();
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        err.read_to_end(&mut buf).unwrap();
        buf
    });
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
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Run {
        code,
        stdout: out.join().unwrap(),
        stderr: text(&err.join().unwrap()),
        max_rss_kb: usage.ru_maxrss,
        elapsed: started.elapsed(),
    }
}
