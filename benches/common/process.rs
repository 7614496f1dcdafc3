//! Measuring a whole `usersync` process as an operator runs it, spawned and timed to its exit
//! under `/usr/bin/time -v` (wall time, CPU time, peak memory); and the bare csv parse of the
//! same file in the bench's own process, the floor every figure is compared with in the same run.
//!
//! Included by the benches that need it with `#[path = "common/process.rs"] mod process;`.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// One run of the release binary.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// From spawn to exit, seconds.
    pub wall: f64,
    /// CPU seconds in user and in system mode: over the wall time, how many cores it kept busy.
    pub user: f64,
    pub system: f64,
    pub peak_mb: f64,
}

impl Measured {
    /// CPU seconds, user and system.
    pub fn cpu(&self) -> f64 {
        self.user + self.system
    }
}

/// Runs the `usersync` binary `cargo bench` built with `args` under `/usr/bin/time -v`, its
/// stdout thrown away (`> /dev/null`). Fails unless it exits 0.
pub fn run_usersync<I, S>(args: I) -> Result<Measured, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let output = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_usersync"))
        .args(args)
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run /usr/bin/time (apt-get install -y time): {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("usersync failed ({}):\n{stderr}", output.status));
    }
    let field = |name: &str| {
        stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix(name).map(str::trim))
            .ok_or_else(|| format!("no `{name}` in /usr/bin/time's output:\n{stderr}"))
    };
    let number = |name: &str| -> Result<f64, String> {
        let text = field(name)?;
        text.parse()
            .map_err(|_| format!("`{name}` is not a number: {text}"))
    };
    let wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss):")?;
    Ok(Measured {
        wall: parse_clock(wall).ok_or_else(|| format!("a wall time of {wall}?"))?,
        user: number("User time (seconds):")?,
        system: number("System time (seconds):")?,
        peak_mb: number("Maximum resident set size (kbytes):")? * 1024.0 / 1e6,
    })
}

/// `m:ss.cc` or `h:mm:ss` as seconds.
fn parse_clock(text: &str) -> Option<f64> {
    text.split(':').try_fold(0.0, |acc, part| {
        Some(acc * 60.0 + part.parse::<f64>().ok()?)
    })
}

/// The best time in seconds of `rounds` bare parses of the CSV at `path` (the csv crate into one
/// reused `ByteRecord`, nothing else), and the rows it read.
pub fn bare_parse(path: &Path, rounds: usize) -> (f64, u64) {
    let mut best = f64::INFINITY;
    let mut rows = 0;
    for _ in 0..rounds.max(1) {
        let started = Instant::now();
        let mut reader = csv::Reader::from_path(path).expect("open the export");
        let mut record = csv::ByteRecord::new();
        rows = 0;
        while reader
            .read_byte_record(&mut record)
            .expect("parse the export")
        {
            rows += 1;
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    (best, rows)
}

/// The median of `values` (the upper one of an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}
