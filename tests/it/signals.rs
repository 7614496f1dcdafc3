//! The signals a run leaves for the nights nobody watches, through the real binary: the metrics
//! file, read back by Python's `prometheus_client` parser (the reference implementation of the
//! format), and the webhook notification, received by a local HTTP server of the test.
//!
//! The parser runs from `target/ci-venv` (`.ci/run` installs `prometheus-client` there;
//! `USERSYNC_PYTHON_VENV` names another venv, `USERSYNC_SKIP_PROMETHEUS=1` skips that check).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::support::nightly::{assert_exit, employees, Mock, Night, CONFIG};
use crate::support::{stderr, stdout};
use usersync::mock::FaultConfig;

const FAILING: [&str; 3] = ["E00003", "E00008", "E00011"];

/// A mock that answers 503 to everything about the FAILING users.
fn failing_mock() -> Mock {
    Mock::start(FaultConfig {
        seed: Some(11),
        fail_users: FAILING.iter().map(|s| s.to_string()).collect(),
        ..FaultConfig::default()
    })
}

/// The tests' config with `top` before its tables and `tables` after them.
fn write_config(night: &Night, top: &str, tables: &str) {
    std::fs::write(
        night.path("usersync.toml"),
        format!("{top}\n{CONFIG}\n{tables}\n"),
    )
    .expect("write the config");
}

/// 15 employees, the fifth with an e-mail validation rejects.
fn export_with_a_bad_row(night: &Night) -> PathBuf {
    let mut people = employees(15);
    people[4].email = "not an e-mail".into();
    night.export("hr.csv", &people)
}

/// The python of the venv with `prometheus_client`, or `None` when told to skip.
fn prometheus_python() -> Option<PathBuf> {
    if std::env::var("USERSYNC_SKIP_PROMETHEUS").is_ok_and(|v| v == "1") {
        eprintln!("USERSYNC_SKIP_PROMETHEUS=1: skipping the check with prometheus_client");
        return None;
    }
    let venv = std::env::var_os("USERSYNC_PYTHON_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ci-venv"));
    let python = venv.join("bin/python");
    let found = std::process::Command::new(&python)
        .args(["-c", "import prometheus_client"])
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        found,
        "{} cannot import prometheus_client: run .ci/run (which installs it into \
         target/ci-venv), or `target/ci-venv/bin/pip install prometheus-client`, or set \
         USERSYNC_PYTHON_VENV, or USERSYNC_SKIP_PROMETHEUS=1 to skip",
        python.display()
    );
    Some(python)
}

/// The samples of the metrics file as `prometheus_client` parses them: (name, labels, value).
fn parse_metrics(python: &Path, file: &Path) -> Vec<(String, Value, f64)> {
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(open(sys.argv[1], encoding="utf-8").read()):
    assert family.type == "gauge", (family.name, family.type)
    for s in family.samples:
        out.append([s.name, s.labels, s.value])
print(json.dumps(out))
"#;
    let out = std::process::Command::new(python)
        .args(["-c", SCRIPT])
        .arg(file)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "the parser refused the file: {}",
        stderr(&out)
    );
    let samples: Vec<(String, Value, f64)> =
        serde_json::from_slice(&out.stdout).expect("the script's JSON");
    samples
}

/// The value of the sample `name` with exactly `labels`.
fn sample(samples: &[(String, Value, f64)], name: &str, labels: Value) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| n == name && *l == labels)
        .map(|(_, _, v)| *v)
}

fn now_secs() -> f64 {
    chrono::Utc::now().timestamp_millis() as f64 / 1000.0
}

#[test]
fn the_metrics_file_holds_every_targets_latest_run_from_the_ledger() {
    let night = Night::new();
    let second = CONFIG
        .split_once("[targets.lawyers]")
        .unwrap()
        .1
        .replace("[targets.lawyers.", "[targets.copy.");
    write_config(
        &night,
        "metrics_file = \"usersync.prom\"",
        &format!("[targets.copy]{second}"),
    );
    let mock = failing_mock();
    let export = export_with_a_bad_row(&night);
    let before = now_secs() - 1.0;

    let out = night.sync(&mock, &export, &[]);
    assert_exit(&out, 3);
    let run = night.last_run();
    assert_eq!(
        (run.counts.synced, run.counts.rejected, run.counts.failed),
        (11, 1, 3)
    );
    let file = night.path("usersync.prom");
    let text = std::fs::read_to_string(&file).expect("the sync wrote the metrics file");
    assert!(text.contains("# TYPE usersync_rows gauge"), "{text}");
    let Some(python) = prometheus_python() else {
        return;
    };
    let samples = parse_metrics(&python, &file);
    let lawyers = |extra: &[(&str, &str)]| {
        let mut labels = serde_json::Map::new();
        labels.insert("target".into(), "lawyers".into());
        for (k, v) in extra {
            labels.insert((*k).into(), (*v).into());
        }
        Value::Object(labels)
    };
    let value = |name: &str, extra: &[(&str, &str)]| {
        sample(&samples, name, lawyers(extra))
            .unwrap_or_else(|| panic!("no {name} {extra:?}: {text}"))
    };
    for (outcome, n) in [
        ("synced", 11.0),
        ("unchanged", 0.0),
        ("rejected", 1.0),
        ("failed", 3.0),
        ("not_attempted", 0.0),
    ] {
        assert_eq!(
            value("usersync_rows", &[("outcome", outcome)]),
            n,
            "{outcome}"
        );
    }
    assert_eq!(
        value("usersync_operations", &[("operation", "created")]),
        11.0
    );
    assert_eq!(
        value("usersync_operations", &[("operation", "deactivated")]),
        0.0
    );
    assert_eq!(value("usersync_requests", &[]), run.counts.requests as f64);
    assert_eq!(value("usersync_retries", &[]), run.counts.retries as f64);
    assert!(run.counts.retries >= 3, "each failing row was tried again");
    // Every request answered: 11 creates (2xx), the failing rows' tries (5xx).
    let by_class: f64 = ["2xx", "3xx", "4xx", "5xx", "none"]
        .iter()
        .map(|class| value("usersync_responses", &[("class", class)]))
        .sum();
    assert_eq!(by_class, run.counts.requests as f64);
    assert_eq!(value("usersync_responses", &[("class", "2xx")]), 11.0);
    assert!(value("usersync_responses", &[("class", "5xx")]) >= 6.0);
    assert_eq!(value("usersync_throttled", &[]), 0.0);
    assert_eq!(value("usersync_last_run_exit_code", &[]), 3.0);
    let start = value("usersync_last_run_start_timestamp_seconds", &[]);
    let end = value("usersync_last_run_end_timestamp_seconds", &[]);
    assert!(
        before <= start && start <= end && end <= now_secs(),
        "{start} {end}"
    );
    let took = value("usersync_last_run_duration_seconds", &[]);
    assert!(
        (took - (end - start)).abs() < 0.002,
        "{took} vs {end} - {start}"
    );
    assert_eq!(
        sample(
            &samples,
            "usersync_last_success_timestamp_seconds",
            lawyers(&[])
        ),
        None,
        "no run of the target has ended clean yet"
    );

    // Another target's run rewrites the file whole: both targets, the first one unchanged.
    let url = mock.url();
    let file_arg = export.to_str().unwrap();
    let out = night
        .usersync(&["sync", file_arg, "-t", "copy", "--base-url", url.as_str()])
        .output()
        .unwrap();
    assert_exit(&out, 3);
    let again = parse_metrics(&python, &file);
    for (name, labels, value) in samples.iter() {
        assert_eq!(
            sample(&again, name, labels.clone()),
            Some(*value),
            "{name} {labels}"
        );
    }
    let copy = serde_json::json!({"target": "copy", "outcome": "rejected"});
    assert_eq!(sample(&again, "usersync_rows", copy), Some(1.0));

    // The retry, once the mock recovers, ends clean: the flag names another file.
    mock.set_faults(FaultConfig::default());
    let out = night.retry(&mock, &["last", "--metrics-file", "retry.prom"]);
    assert_exit(&out, 0);
    let after = parse_metrics(&python, &night.path("retry.prom"));
    let synced = serde_json::json!({"target": "lawyers", "outcome": "synced"});
    assert_eq!(sample(&after, "usersync_rows", synced), Some(3.0));
    assert_eq!(
        sample(&after, "usersync_last_run_exit_code", lawyers(&[])),
        Some(0.0)
    );
    let end = sample(
        &after,
        "usersync_last_run_end_timestamp_seconds",
        lawyers(&[]),
    );
    assert!(end.is_some());
    assert_eq!(
        sample(
            &after,
            "usersync_last_success_timestamp_seconds",
            lawyers(&[])
        ),
        end,
        "the clean retry is the last success"
    );
    assert!(
        !night.dir.path().read_dir().unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp")),
        "no temporary file is left behind"
    );
}

/// A webhook of the test: records every body it is posted, and answers the statuses queued
/// (200 when none is).
struct Hook {
    port: u16,
    bodies: Arc<Mutex<Vec<Value>>>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Hook {
    /// Listening before this returns.
    fn start(statuses: &[u16]) -> Hook {
        use axum::extract::State;
        type Shared = (Arc<Mutex<Vec<Value>>>, Arc<Mutex<VecDeque<u16>>>);
        async fn hook(
            State((bodies, statuses)): State<Shared>,
            body: bytes::Bytes,
        ) -> http::StatusCode {
            let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            bodies.lock().unwrap().push(value);
            let status = statuses.lock().unwrap().pop_front().unwrap_or(200);
            http::StatusCode::from_u16(status).unwrap()
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let statuses = Arc::new(Mutex::new(statuses.iter().copied().collect()));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new()
            .fallback(hook)
            .with_state((bodies.clone(), statuses.clone()));
        runtime.spawn(async move { axum::serve(listener, app).await });
        Hook {
            port,
            bodies,
            statuses,
            _runtime: runtime,
        }
    }

    /// The webhook's URL, with a token in its path as real ones have.
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/T000/s3cr3t-token", self.port)
    }

    fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}

#[test]
fn a_failed_run_is_posted_to_the_webhook_retried_past_a_5xx() {
    let night = Night::new();
    let hook = Hook::start(&[503]);
    write_config(
        &night,
        "",
        "[notify]\nurl_env = \"USERSYNC_TEST_HOOK\"\nevents = [\"failed\"]",
    );
    let mock = failing_mock();
    let export = export_with_a_bad_row(&night);
    let file = export.to_str().unwrap();
    let url = mock.url();
    let out = night
        .usersync(&["sync", file, "-t", "lawyers", "--base-url", url.as_str()])
        .env("USERSYNC_TEST_HOOK", hook.url())
        .output()
        .unwrap();
    assert_exit(&out, 3);
    let run = night.last_run();
    let bodies = hook.bodies();
    assert_eq!(
        bodies.len(),
        2,
        "a 503, then the same body again: {bodies:?}"
    );
    assert_eq!(bodies[0], bodies[1]);
    let body = &bodies[1];
    assert_eq!(body["event"], "failed");
    assert_eq!(body["target"], "lawyers");
    assert_eq!(body["provider"], "meetinglawyers");
    assert_eq!(body["run"], run.id.0);
    assert_eq!(body["status"], "completed");
    assert_eq!(body["exit_code"], 3);
    assert_eq!(body["counts"]["failed"], 3);
    assert_eq!(body["counts"]["rejected"], 1);
    assert_eq!(body["counts"]["synced"], 11);
    assert_eq!(
        body["report"],
        format!("usersync report {} -t lawyers", run.id)
    );
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains("lawyers") && text.contains("failed 3"),
        "{text}"
    );
    assert!(!body.to_string().contains("E000"), "no user keys: {body}");
    assert!(hook.statuses.lock().unwrap().is_empty());
    assert!(!stderr(&out).contains("s3cr3t"), "{}", stderr(&out));

    // A clean run is not among the events: nothing is posted.
    mock.set_faults(FaultConfig::default());
    let out = night
        .usersync(&["retry", "last", "-t", "lawyers", "--base-url", url.as_str()])
        .env("USERSYNC_TEST_HOOK", hook.url())
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_eq!(hook.bodies().len(), 2);
}

#[test]
fn a_dead_webhook_warns_and_leaves_the_exit_code_alone() {
    let night = Night::new();
    // A port nothing listens on any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    write_config(
        &night,
        "",
        &format!(
            "[notify]\nurl = \"http://127.0.0.1:{port}/hooks/s3cr3t-token\"\n\
             events = [\"completed\"]\ntimeout_secs = 5"
        ),
    );
    let mock = crate::support::nightly::quiet_mock();
    let export = night.export("hr.csv", &employees(5));
    let out = night.sync(&mock, &export, &[]);
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(err.contains("notification was not sent"), "{err}");
    assert!(err.contains(&format!("http://127.0.0.1:{port}")), "{err}");
    assert!(err.contains("3 attempts"), "{err}");
    assert!(
        !err.contains("s3cr3t"),
        "the URL's path stays out of the log: {err}"
    );
}

#[test]
fn notify_test_posts_a_sample_and_says_what_the_webhook_answered() {
    let night = Night::new();
    let hook = Hook::start(&[200, 404]);
    write_config(&night, "", &format!("[notify]\nurl = \"{}\"", hook.url()));
    let out = night.usersync(&["notify", "--test"]).output().unwrap();
    assert_exit(&out, 0);
    let expected = format!("http://127.0.0.1:{}", hook.port);
    assert!(stdout(&out).contains(&expected), "{}", stdout(&out));
    let bodies = hook.bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["event"], "test");
    assert_eq!(bodies[0]["target"], "lawyers");
    assert!(bodies[0]["text"].as_str().unwrap().contains("lawyers"));

    let out = night
        .usersync(&["notify", "--test", "-t", "lawyers"])
        .output()
        .unwrap();
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("answered 404"), "{err}");
    assert!(!err.contains("s3cr3t"), "{err}");
    assert_eq!(hook.bodies().len(), 2, "a 404 is not retried");

    // Without a [notify] table: a config error naming the table.
    write_config(&night, "", "");
    let out = night.usersync(&["notify", "--test"]).output().unwrap();
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("`notify`"), "{}", stderr(&out));
}

#[test]
fn a_held_run_signals_and_one_that_never_started_does_not() {
    let night = Night::new();
    let hook = Hook::start(&[]);
    let mock = crate::support::nightly::quiet_mock();
    let everyone = crate::support::nightly::first_night(&night, &mock);
    write_config(
        &night,
        "metrics_file = \"usersync.prom\"",
        &format!(
            "[notify]\nurl = \"{}\"\nevents = [\"failed\", \"held\"]",
            hook.url()
        ),
    );

    // An export that is not there: no run is recorded, and nothing is signalled.
    let out = night.sync(&mock, &night.path("missing.csv"), &[]);
    assert_exit(&out, 1);
    assert!(!night.path("usersync.prom").exists());
    assert!(hook.bodies().is_empty());

    // A mass deactivation the guard holds for a person: it still signals.
    let fewer = night.export("fewer.csv", &everyone[..15]);
    let out = night.sync(&mock, &fewer, &["--deactivate-missing"]);
    assert_exit(&out, 5);
    let run = night.last_run();
    let text = std::fs::read_to_string(night.path("usersync.prom")).unwrap();
    assert!(
        text.contains("usersync_last_run_exit_code{target=\"lawyers\"} 5\n")
            && text.contains("usersync_held_runs_waiting{target=\"lawyers\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("usersync_last_success_timestamp_seconds{target=\"lawyers\"} "),
        "the first night was clean: {text}"
    );
    let bodies = hook.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["event"], "held");
    assert_eq!(bodies[0]["status"], "aborted");
    assert_eq!(bodies[0]["run"], run.id.0);
}
