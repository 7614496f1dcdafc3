//! The HTML report in a real browser: headless Chromium (Debian's `chromium` package; `.ci/run`
//! installs it) opens the report that `sync --report` wrote for a run with rejected, failed and
//! hostile rows, takes a screenshot, and dumps the DOM after the page's script ran. The charts
//! must have rendered (each `svg.chart` reports a non-zero drawn size and its shapes), and the
//! browser must log no console message, script error or Content-Security-Policy refusal.
//!
//! A control run checks the checker: the same page with a script smuggled in must be refused by
//! the policy, and that refusal must show up in the log this test reads.
//!
//! Without Chromium the test fails, saying how to install it; `USERSYNC_SKIP_BROWSER=1` skips it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::report_fixture::fixture;

/// How long one Chromium run may take before the test gives up on it.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

#[test]
fn the_html_report_renders_its_charts_in_chromium() {
    let Some(chromium) = find_chromium() else {
        return;
    };
    let f = fixture();
    let report = f.dir.join("run1.html");
    let work = tempfile::tempdir().unwrap();

    // The screenshot: a PNG of the window's size, with something drawn on it.
    let shot = work.path().join("report.png");
    let run = browse(
        &chromium,
        work.path(),
        &report,
        &[&format!("--screenshot={}", shot.display())],
    );
    assert_no_console_errors(&run.log);
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 2000));
    assert!(
        png.len() > 30_000,
        "a page with charts and tables, not a blank one"
    );

    // The DOM after the page's script ran: every chart drawn with a size and shapes.
    let run = browse(&chromium, work.path(), &report, &["--dump-dom"]);
    assert_no_console_errors(&run.log);
    let dom = run.stdout;
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page's script ran (its CSP hash matches)"
    );
    for chart in [
        "chart-outcomes",
        "chart-causes",
        "chart-latency",
        "chart-throughput",
    ] {
        let (w, h, shapes) = chart_size(&dom, chart);
        assert!(w > 100 && h > 40, "{chart} drawn at {w}x{h}");
        assert!(shapes > 5, "{chart} has {shapes} shapes");
    }
    // The hostile values are text, not elements.
    assert!(!dom.contains("<img"), "no element came from the data");
    assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt;"));
}

#[test]
fn a_smuggled_script_is_refused_and_the_refusal_is_seen() {
    let Some(chromium) = find_chromium() else {
        return;
    };
    let f = fixture();
    let work = tempfile::tempdir().unwrap();
    let page = std::fs::read_to_string(f.dir.join("run1.html")).unwrap();
    let tampered = work.path().join("tampered.html");
    std::fs::write(
        &tampered,
        page.replace(
            "</body>",
            "<script>document.documentElement.setAttribute('data-pwned','1')</script></body>",
        ),
    )
    .unwrap();
    let run = browse(&chromium, work.path(), &tampered, &["--dump-dom"]);
    assert!(
        !run.stdout.contains("data-pwned=\"1\""),
        "the smuggled script ran"
    );
    assert!(
        run.stdout.contains("data-ready=\"1\""),
        "the page's own script ran"
    );
    assert!(
        console_errors(&run.log)
            .iter()
            .any(|l| l.contains("Content Security Policy")),
        "the refusal is in the log this test reads:\n{}",
        run.log
    );
}

struct BrowserRun {
    stdout: String,
    log: String,
}

/// Opens `page` in a fresh headless Chromium profile with `extra` flags.
fn browse(chromium: &Path, work: &Path, page: &Path, extra: &[&str]) -> BrowserRun {
    let profile = tempfile::tempdir_in(work).unwrap();
    let stdout_path = work.join("stdout.txt");
    let log_path = work.join("stderr.txt");
    let url = url::Url::from_file_path(page.canonicalize().unwrap()).unwrap();
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            "--window-size=1280,2000",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url.as_str())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium.display()));
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish in {BROWSER_TIMEOUT:?}:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        // A watchdog on a child process, not a wait for a server to come up.
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(status.success(), "chromium failed ({status}):\n{log}");
    BrowserRun {
        stdout: std::fs::read_to_string(&stdout_path).unwrap(),
        log,
    }
}

/// The log lines about the page: console messages, script errors, policy refusals.
fn console_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            l.contains("CONSOLE")
                || l.contains("Uncaught")
                || l.contains("Content Security Policy")
                || l.contains("Refused to")
        })
        .collect()
}

fn assert_no_console_errors(log: &str) {
    let errors = console_errors(log);
    assert!(errors.is_empty(), "the page logged:\n{}", errors.join("\n"));
}

/// The `data-size` (`WxH`) and `data-shapes` the page's script wrote on the chart `id`.
fn chart_size(dom: &str, id: &str) -> (u32, u32, u32) {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no chart {id} in the DOM"));
    let tag_start = dom[..start].rfind("<svg").unwrap();
    let tag = &dom[tag_start..tag_start + dom[tag_start..].find('>').unwrap()];
    let attr = |name: &str| -> &str {
        let key = format!("{name}=\"");
        let at = tag
            .find(&key)
            .unwrap_or_else(|| panic!("{id} has no {name}: the page's script did not run"));
        let value = &tag[at + key.len()..];
        &value[..value.find('"').unwrap()]
    };
    let (w, h) = attr("data-size").split_once('x').unwrap();
    (
        w.parse().unwrap(),
        h.parse().unwrap(),
        attr("data-shapes").parse().unwrap(),
    )
}

/// Chromium, or `None` when `USERSYNC_SKIP_BROWSER=1` says to skip; panics when it is missing
/// otherwise (CI must not pass silently without a browser).
fn find_chromium() -> Option<PathBuf> {
    let skip = std::env::var("USERSYNC_SKIP_BROWSER").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("USERSYNC_SKIP_BROWSER=1: skipping the browser test");
        return None;
    }
    let names = [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ];
    let from_env = std::env::var_os("USERSYNC_CHROMIUM").map(PathBuf::from);
    let found = from_env.or_else(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
            .find(|p| p.is_file())
    });
    match found {
        Some(path) => Some(path),
        None => panic!(
            "headless Chromium is needed for this test: `apt-get install -y chromium` (Debian), \
             or point USERSYNC_CHROMIUM at a Chrome binary; USERSYNC_SKIP_BROWSER=1 skips it"
        ),
    }
}
