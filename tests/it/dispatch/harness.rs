//! Helpers for the dispatcher tests: fast settings, jobs, a dispatcher against the test server,
//! and running a stream of jobs to the end while collecting every result.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use usersync::dispatch::{
    http_client, DispatchReport, DispatchSettings, Dispatcher, FinalOutcome, Job, JobResult,
    StopSignal,
};
use usersync::provider::{Operation, Session, UserRef};

use super::fake::{TestSession, FAKE};
use super::server::Server;

/// Small backoffs and timeouts so that the whole file runs in seconds.
pub fn fast() -> DispatchSettings {
    DispatchSettings {
        concurrency: 4,
        max_retries: 3,
        timeout: Duration::from_secs(2),
        backoff_base: Duration::from_millis(5),
        backoff_max: Duration::from_millis(20),
        drain_timeout: Duration::from_secs(5),
        ..DispatchSettings::default()
    }
}

pub fn job(line: i64, op: Operation, key: &str) -> Job {
    let mut payload = usersync::payload::Payload::new();
    payload.insert("email", format!("{line}@example.com").into());
    Job {
        line,
        op,
        user: UserRef {
            key: key.into(),
            remote_id: None,
        },
        payload,
        reactivate: false,
        meta: (),
    }
}

pub fn creates(keys: &[&str]) -> Vec<Job> {
    keys.iter()
        .enumerate()
        .map(|(i, key)| job(i as i64 + 2, Operation::Create, key))
        .collect()
}

pub fn dispatcher(server: &Server, session: TestSession, settings: DispatchSettings) -> Dispatcher {
    let client = http_client(&settings).unwrap();
    let session: Arc<dyn Session> = Arc::new(session);
    Dispatcher::new(&FAKE, session, client, server.base_url(), settings).unwrap()
}

pub fn good_session() -> TestSession {
    TestSession::with_token("good")
}

/// Runs `jobs` to the end, collecting every result.
pub async fn run(
    d: &Dispatcher,
    jobs: impl Stream<Item = Job>,
    stop: StopSignal,
) -> (DispatchReport, Vec<JobResult>) {
    let (tx, mut rx) = mpsc::channel(16);
    let collect = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Some(result) = rx.recv().await {
            all.push(result);
        }
        all
    });
    let report = d.run(jobs, tx, stop).await;
    (report, collect.await.unwrap())
}

pub async fn run_all(d: &Dispatcher, jobs: Vec<Job>) -> (DispatchReport, Vec<JobResult>) {
    run(d, futures::stream::iter(jobs), StopSignal::never()).await
}

/// An endless stream of creates (keys `uN.ok`) that counts what was pulled from it.
pub fn endless(pulled: Arc<AtomicU64>) -> impl Stream<Item = Job> {
    futures::stream::iter(0i64..).map(move |i| {
        pulled.fetch_add(1, Ordering::SeqCst);
        job(i + 2, Operation::Create, &format!("u{i}.ok"))
    })
}

pub fn by_key<'a>(results: &'a [JobResult], key: &str) -> &'a JobResult {
    results.iter().find(|r| r.job.user.key == key).unwrap()
}

/// Every pulled job has exactly one result.
pub fn assert_one_result_per_job(report: &DispatchReport, results: &[JobResult]) {
    assert_eq!(
        results.len() as u64,
        report.jobs,
        "one result per pulled job"
    );
    let lines: HashSet<i64> = results.iter().map(|r| r.job.line).collect();
    assert_eq!(lines.len(), results.len(), "no job reported twice");
}

pub fn code_of(result: &JobResult) -> &str {
    match &result.outcome {
        FinalOutcome::Failed { code, .. } => code.as_str(),
        other => other.kind(),
    }
}

/// `n` creates of keys `{prefix}{i}.{rule}`.
pub fn many(prefix: &str, rule: &str, n: usize) -> Vec<Job> {
    let keys: Vec<String> = (0..n).map(|i| format!("{prefix}{i}.{rule}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    creates(&keys)
}
