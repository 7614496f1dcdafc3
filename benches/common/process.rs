//! Measuring a whole process as an operator runs it: spawned under `/usr/bin/time -v` and timed
//! to its exit (wall time, CPU time, peak memory); and the bare csv parse of a file in the
//! bench's own process, the floor the figures are compared with in the same run.
//!
//! Included by the benches that need it with `#[path = "common/process.rs"] mod process;`; each
//! uses part of it.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

/// What one process cost, as `/usr/bin/time -v` reports it.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// From spawn to exit, seconds (timed here: `time`'s own figure has centiseconds only).
    pub wall: f64,
    /// CPU seconds in user and in system mode: over the wall time, how many cores it kept busy.
    pub user: f64,
    pub system: f64,
    /// Peak resident memory, kB (1,024 bytes).
    pub peak_kb: f64,
}

impl Measured {
    /// CPU seconds, user and system.
    pub fn cpu(&self) -> f64 {
        self.user + self.system
    }

    /// Peak resident memory in MB (10^6 bytes).
    pub fn peak_mb(&self) -> f64 {
        self.peak_kb * 1024.0 / 1e6
    }

    /// Peak resident memory in MiB.
    pub fn peak_mib(&self) -> f64 {
        self.peak_kb / 1024.0
    }
}

/// Runs `program` under `/usr/bin/time -v`, with its arguments and environment set by `build`
/// and no stdin: its output (stdout captured unless `build` says otherwise; time's report ends
/// its stderr) and what it cost, whatever its exit status. Fails only if it could not be run.
pub fn measure(
    program: impl AsRef<OsStr>,
    build: impl FnOnce(&mut Command),
) -> Result<(Output, Measured), String> {
    let mut command = Command::new("/usr/bin/time");
    command.arg("-v").arg(program).stdin(Stdio::null());
    build(&mut command);
    let started = Instant::now();
    let output = command
        .output()
        .map_err(|e| format!("cannot run /usr/bin/time (apt-get install -y time): {e}"))?;
    let wall = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
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
    let measured = Measured {
        wall,
        user: number("User time (seconds):")?,
        system: number("System time (seconds):")?,
        peak_kb: number("Maximum resident set size (kbytes):")?,
    };
    Ok((output, measured))
}

/// Runs the `usersync` binary `cargo bench` built with `args`, its stdout thrown away
/// (`> /dev/null`), and measures it. Fails unless it exits 0.
pub fn run_usersync<I, S>(args: I) -> Result<Measured, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let (output, measured) = measure(env!("CARGO_BIN_EXE_usersync"), |c| {
        c.args(args).stdout(Stdio::null());
    })?;
    if !output.status.success() {
        return Err(format!(
            "usersync failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(measured)
}

/// The rows of the CSV at `path`, read by the csv crate into one reused `ByteRecord` and nothing
/// else: the floor every figure is compared with.
pub fn count_rows(path: &Path) -> u64 {
    let mut reader = csv::Reader::from_path(path).expect("open the export");
    let mut record = csv::ByteRecord::new();
    let mut rows = 0;
    while reader
        .read_byte_record(&mut record)
        .expect("parse the export")
    {
        rows += 1;
    }
    rows
}

/// The best time in seconds of `rounds` bare parses ([`count_rows`]) of the CSV at `path`, and
/// the rows it read.
pub fn bare_parse(path: &Path, rounds: usize) -> (f64, u64) {
    let mut best = f64::INFINITY;
    let mut rows = 0;
    for _ in 0..rounds.max(1) {
        let started = Instant::now();
        rows = count_rows(path);
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
