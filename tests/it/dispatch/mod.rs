//! The dispatcher against a scriptable local server: retries, Retry-After, concurrency, rate,
//! refused credentials, the circuit breaker, conflicts, stops, and one result per job on every path.
//!
//! `server.rs` explains the per-key rules (`name.503x2` fails the first two attempts with 503...);
//! `fake.rs` is the provider adapter the dispatcher drives; `harness.rs` holds the helpers.

mod fake;
mod harness;
mod server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::mpsc;
use usersync::dispatch::{
    http_client, stop_signal, AbortReason, DispatchSettings, Dispatcher, FinalOutcome, JobResult,
    StopSignal,
};
use usersync::provider::Operation;

use fake::{TestSession, FAKE};
use harness::{
    assert_one_result_per_job, by_key, code_of, creates, dispatcher, endless, fast, good_session,
    job, many, run, run_all,
};
use server::{Server, ServerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passing_problems_are_retried_until_synced() {
    let server = Server::start(ServerConfig::default()).await;
    let settings = DispatchSettings {
        timeout: Duration::from_millis(500),
        ..fast()
    };
    let d = dispatcher(&server, good_session(), settings);
    let keys = ["a.503x2", "b.dropx1", "c.slowx1", "d.ok"];
    let (report, results) = run_all(&d, creates(&keys)).await;

    assert_eq!(report.aborted, None);
    for (key, attempts) in [
        ("a.503x2", 3),
        ("b.dropx1", 2),
        ("c.slowx1", 2),
        ("d.ok", 1),
    ] {
        let r = by_key(&results, key);
        assert_eq!(
            r.outcome,
            FinalOutcome::Synced {
                remote_id: Some(format!("r-{key}"))
            },
            "{key}"
        );
        assert_eq!(r.attempts, attempts, "{key}");
    }
    assert_eq!(report.retries, 4);
    assert_eq!(report.requests, 8);
    assert_eq!(server.requests(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gives_up_after_max_retries_with_the_last_reason() {
    let server = Server::start(ServerConfig::default()).await;
    let settings = DispatchSettings {
        max_retries: 2,
        timeout: Duration::from_millis(400),
        ..fast()
    };
    let d = dispatcher(&server, good_session(), settings);
    let (report, results) = run_all(&d, creates(&["e.500", "f.hang"])).await;

    let e = by_key(&results, "e.500");
    let FinalOutcome::Failed {
        status,
        code,
        detail,
    } = &e.outcome
    else {
        panic!("{:?}", e.outcome)
    };
    assert_eq!((*status, code.as_str()), (Some(500), "server_error"));
    assert!(detail.contains("HTTP 500: broken"), "{detail}");
    assert!(detail.contains("gave up after 3 attempts"), "{detail}");
    assert_eq!((e.attempts, e.last_status), (3, Some(500)));

    let f = by_key(&results, "f.hang");
    assert_eq!(code_of(f), "timeout");
    assert_eq!((f.attempts, f.last_status), (3, None));
    assert_eq!(server.requests(), 6);
    assert_eq!(report.retries, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let server = Server::start(ServerConfig::default()).await;
    let d = dispatcher(&server, good_session(), fast());
    let (report, results) = run_all(&d, creates(&["g.429x1"])).await;

    assert!(matches!(results[0].outcome, FinalOutcome::Synced { .. }));
    assert_eq!(results[0].attempts, 2);
    assert_eq!(report.throttled, 1);
    let arrivals = server.arrivals_of("g.429x1");
    let gap = arrivals[1].at - arrivals[0].at;
    assert!(
        gap >= Duration::from_secs(1),
        "the retry came {gap:?} after the 429 with Retry-After: 1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_never_exceed_the_concurrency() {
    let server = Server::start(ServerConfig {
        delay: Duration::from_millis(20),
        ..ServerConfig::default()
    })
    .await;
    let d = dispatcher(&server, good_session(), fast());
    let (_, results) = run_all(&d, many("c", "ok", 40)).await;

    assert!(results
        .iter()
        .all(|r| matches!(r.outcome, FinalOutcome::Synced { .. })));
    assert_eq!(
        server.max_in_flight(),
        4,
        "the limit is reached, never passed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_is_respected() {
    let server = Server::start(ServerConfig::default()).await;
    let settings = DispatchSettings {
        rate_limit: Some(20.0),
        burst: 1,
        concurrency: 8,
        ..fast()
    };
    let d = dispatcher(&server, good_session(), settings);
    let (_, results) = run_all(&d, many("r", "ok", 40)).await;
    assert_eq!(results.len(), 40);

    // Arrival times are the server's: scheduling delays can shift them a little, so the bounds
    // leave some slack (without a limiter all 40 would arrive within a few milliseconds).
    let mut times: Vec<Instant> = server.arrivals().iter().map(|a| a.at).collect();
    times.sort();
    let span = *times.last().unwrap() - times[0];
    assert!(
        span >= Duration::from_millis(39 * 50 * 80 / 100),
        "40 requests at 20/s took only {span:?}"
    );
    for (i, start) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .take_while(|t| **t - *start < Duration::from_secs(1))
            .count();
        assert!(in_window <= 22, "{in_window} requests within one second");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_stop_the_run_after_a_handful_of_requests() {
    let server = Server::start(ServerConfig {
        required_token: Some("good"),
        ..ServerConfig::default()
    })
    .await;
    let d = dispatcher(&server, TestSession::with_token("bad"), fast());
    let pulled = Arc::new(AtomicU64::new(0));
    let (report, results) = run(&d, endless(pulled.clone()), StopSignal::never()).await;

    let Some(AbortReason::AuthFailed { status, detail }) = &report.aborted else {
        panic!("{:?}", report.aborted)
    };
    assert_eq!((*status, detail.as_str()), (Some(401), "bad token"));
    assert!(server.requests() <= 4, "{} requests", server.requests());
    assert_eq!(server.requests() as u64, report.requests);
    assert_eq!(pulled.load(Ordering::SeqCst), report.jobs);
    assert_one_result_per_job(&report, &results);
    let refused = results
        .iter()
        .filter(|r| code_of(r) == "auth_failed")
        .count();
    assert_eq!(
        refused,
        server.requests(),
        "each refused request is a failed row"
    );
    for r in results.iter().filter(|r| r.attempts == 0) {
        let FinalOutcome::NotAttempted { reason } = &r.outcome else {
            panic!("{:?}", r.outcome)
        };
        assert!(reason.contains("refused the credentials"), "{reason}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_renewed_once() {
    let server = Server::start(ServerConfig {
        required_token: Some("fresh"),
        ..ServerConfig::default()
    })
    .await;
    let d = dispatcher(&server, TestSession::expiring("stale", "fresh"), fast());
    let (report, results) = run_all(&d, many("t", "ok", 20)).await;

    assert_eq!(report.aborted, None);
    assert!(results
        .iter()
        .all(|r| matches!(r.outcome, FinalOutcome::Synced { .. })));
    let refused = server.requests() - 20;
    assert!(
        (1..=4).contains(&refused),
        "{refused} requests were refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_sends_nothing() {
    let server = Server::start(ServerConfig::default()).await;
    let d = dispatcher(&server, TestSession::refusing(), fast());
    let (report, results) = run_all(&d, creates(&["a.ok", "b.ok", "c.ok", "d.ok", "e.ok"])).await;

    assert!(matches!(
        report.aborted,
        Some(AbortReason::AuthFailed { status: None, .. })
    ));
    assert_eq!(server.requests(), 0);
    assert_one_result_per_job(&report, &results);
    assert!(results
        .iter()
        .all(|r| matches!(code_of(r), "auth_failed" | "not_attempted")));
}

/// No retries, two requests at once, and a breaker that trips after five identical failures.
fn breaker_of_five() -> DispatchSettings {
    DispatchSettings {
        max_retries: 0,
        breaker_threshold: 5,
        concurrency: 2,
        ..fast()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_circuit_breaker_trips_on_a_streak_of_failures() {
    let server = Server::start(ServerConfig::default()).await;
    let d = dispatcher(&server, good_session(), breaker_of_five());
    let (report, results) = run_all(&d, many("x", "500", 100)).await;

    assert_eq!(
        report.aborted,
        Some(AbortReason::CircuitBreaker {
            kind: "server_error (HTTP 500)".into(),
            count: 5
        })
    );
    assert!(server.requests() <= 7, "{} requests", server.requests());
    assert_one_result_per_job(&report, &results);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_that_exist_and_cannot_be_updated_do_not_trip_the_breaker() {
    // A first night against a provider that already holds the export's users, with no id to
    // update them by (Faveo without `remote_id_column`): each of them fails on its own, and the
    // new user after them is still created.
    let server = Server::start(ServerConfig::default()).await;
    let d = dispatcher(&server, good_session(), breaker_of_five());
    let mut jobs = many("x", "409all", 30);
    jobs.push(job(100, Operation::Create, "new.ok"));
    let (report, results) = run_all(&d, jobs).await;

    assert_eq!(report.aborted, None);
    assert_one_result_per_job(&report, &results);
    let conflicts = results.iter().filter(|r| code_of(r) == "conflict").count();
    assert_eq!(conflicts, 30);
    assert!(matches!(
        by_key(&results, "new.ok").outcome,
        FinalOutcome::Synced { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_create_becomes_an_update() {
    let server = Server::start(ServerConfig::default()).await;
    let d = dispatcher(&server, good_session(), fast());
    let jobs = vec![
        job(2, Operation::Create, "i.409"),
        job(3, Operation::Update, "j.409all"),
        job(4, Operation::Create, "k.409all"),
    ];
    let (_, results) = run_all(&d, jobs).await;

    let i = by_key(&results, "i.409");
    assert!(matches!(i.outcome, FinalOutcome::Synced { .. }));
    assert_eq!((i.op_sent, i.attempts), (Operation::Update, 2));
    let methods: Vec<_> = server
        .arrivals_of("i.409")
        .into_iter()
        .map(|a| a.method)
        .collect();
    assert_eq!(methods, [http::Method::POST, http::Method::PUT]);

    let j = by_key(&results, "j.409all");
    assert_eq!((code_of(j), j.attempts), ("conflict", 1));
    let k = by_key(&results, "k.409all");
    assert_eq!(
        (code_of(k), k.attempts, k.op_sent),
        ("conflict", 2, Operation::Update)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_user_is_reactivated_before_their_update() {
    let server = Server::start(ServerConfig::default()).await;
    let d = dispatcher(&server, good_session(), fast());
    let returning = |line, key| {
        let mut j = job(line, Operation::Update, key);
        j.reactivate = true;
        j
    };
    let jobs = vec![
        returning(2, "p.ok"),
        returning(3, "q.503x1"),
        returning(4, "r.409"),
        returning(5, "s.500"),
        job(6, Operation::Update, "t.ok"),
    ];
    let (report, results) = run_all(&d, jobs).await;
    assert_one_result_per_job(&report, &results);
    let methods = |key| -> Vec<http::Method> {
        server
            .arrivals_of(key)
            .into_iter()
            .map(|a| a.method)
            .collect()
    };
    use http::Method;

    // The reactivation (POST users/{key} in the fake), then the update.
    let p = by_key(&results, "p.ok");
    assert!(matches!(p.outcome, FinalOutcome::Synced { .. }));
    assert_eq!((p.op_sent, p.attempts), (Operation::Update, 2));
    assert_eq!(methods("p.ok"), [Method::POST, Method::PUT]);
    // A passing problem on the reactivation is retried like any other.
    let q = by_key(&results, "q.503x1");
    assert!(matches!(q.outcome, FinalOutcome::Synced { .. }));
    assert_eq!(
        methods("q.503x1"),
        [Method::POST, Method::POST, Method::PUT]
    );
    // A refused reactivation does not keep the user's data from being sent.
    let r = by_key(&results, "r.409");
    assert!(matches!(r.outcome, FinalOutcome::Synced { .. }));
    assert_eq!(methods("r.409"), [Method::POST, Method::PUT]);
    // ...and the row carries a note for the reports: someone should check the user's access.
    let codes =
        |r: &JobResult| -> Vec<String> { r.notes.iter().map(|n| n.code.to_string()).collect() };
    assert_eq!(codes(r), ["reactivation_refused"]);
    assert!(r.notes[0].message.contains("HTTP 409"), "{:?}", r.notes);
    assert!(
        codes(p).is_empty() && codes(q).is_empty(),
        "no note when it went through"
    );
    // A reactivation that never gets through fails the row, as the update's, and says why;
    // the update is not sent.
    let s = by_key(&results, "s.500");
    let FinalOutcome::Failed { detail, .. } = &s.outcome else {
        panic!("{:?}", s.outcome)
    };
    assert!(detail.contains("access back"), "{detail}");
    assert_eq!(s.op_sent, Operation::Update);
    assert!(methods("s.500").iter().all(|m| m == Method::POST));
    // Only returning users are reactivated.
    assert_eq!(methods("t.ok"), [Method::PUT]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_are_final_and_unbuildable_requests_are_not_sent() {
    let server = Server::start(ServerConfig::default()).await;
    let d = dispatcher(&server, good_session(), fast());
    let jobs = vec![
        job(2, Operation::Create, "l.422"),
        job(3, Operation::Deactivate, "m.ok"),
        job(4, Operation::Patch, "n.panic"),
        job(5, Operation::Patch, "o.ok"),
    ];
    let (report, results) = run_all(&d, jobs).await;

    let l = by_key(&results, "l.422");
    let FinalOutcome::Rejected { status, errors, .. } = &l.outcome else {
        panic!("{:?}", l.outcome)
    };
    assert_eq!(
        (*status, errors[0].field.as_str(), l.attempts),
        (422, "email", 1)
    );
    let m = by_key(&results, "m.ok");
    assert_eq!((code_of(m), m.attempts), ("unsupported", 0));
    assert_eq!(code_of(by_key(&results, "n.panic")), "internal");
    assert!(matches!(
        by_key(&results, "o.ok").outcome,
        FinalOutcome::Synced { .. }
    ));
    assert_eq!(server.requests(), 3);
    assert_eq!(report.aborted, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_lets_in_flight_requests_finish() {
    let server = Server::start(ServerConfig {
        delay: Duration::from_millis(30),
        ..ServerConfig::default()
    })
    .await;
    let d = dispatcher(&server, good_session(), fast());
    let (handle, signal) = stop_signal();
    let (tx, mut rx) = mpsc::channel(16);
    let collect = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Some(result) = rx.recv().await {
            all.push(result);
            if all.len() == 6 {
                handle.graceful();
            }
        }
        all
    });
    let pulled = Arc::new(AtomicU64::new(0));
    let report = d.run(endless(pulled.clone()), tx, signal).await;
    let results = collect.await.unwrap();

    assert_eq!(report.aborted, Some(AbortReason::Interrupted));
    assert_eq!(pulled.load(Ordering::SeqCst), report.jobs);
    assert_one_result_per_job(&report, &results);
    assert!(results.len() >= 6);
    assert!(
        results
            .iter()
            .all(|r| matches!(code_of(r), "synced" | "not_attempted")),
        "in-flight requests finish; nothing is abandoned"
    );
    assert_eq!(server.requests() as u64, report.requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hard_stop_abandons_in_flight_requests() {
    let server = Server::start(ServerConfig::default()).await;
    let d = dispatcher(&server, good_session(), fast());
    let (handle, signal) = stop_signal();
    let jobs = futures::stream::iter(creates(&["h1.hang", "h2.hang", "h3.hang", "h4.ok"]))
        .chain(futures::stream::pending());
    let started = Instant::now();
    let (report, results) = tokio::join!(run(&d, jobs, signal), async {
        server.wait_requests(4).await;
        handle.escalate();
        handle.escalate();
    })
    .0;

    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(report.aborted, Some(AbortReason::HardInterrupted));
    assert_one_result_per_job(&report, &results);
    for key in ["h1.hang", "h2.hang", "h3.hang"] {
        let r = by_key(&results, key);
        let FinalOutcome::Failed { code, detail, .. } = &r.outcome else {
            panic!("{:?}", r.outcome)
        };
        assert_eq!(code, "interrupted");
        assert!(detail.contains("may have reached the provider"), "{detail}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_timeout_bounds_a_graceful_stop() {
    let server = Server::start(ServerConfig::default()).await;
    let settings = DispatchSettings {
        drain_timeout: Duration::from_millis(200),
        ..fast()
    };
    let d = dispatcher(&server, good_session(), settings);
    let (handle, signal) = stop_signal();
    let jobs = futures::stream::iter(creates(&["w1.hang", "w2.hang"]));
    let started = Instant::now();
    let (report, results) = tokio::join!(run(&d, jobs, signal), async {
        server.wait_requests(2).await;
        handle.graceful();
    })
    .0;

    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(report.aborted, Some(AbortReason::Interrupted));
    assert!(results.iter().all(|r| code_of(r) == "interrupted"));
    assert_eq!(results.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_stops_taking_jobs() {
    let server = Server::start(ServerConfig {
        delay: Duration::from_millis(30),
        ..ServerConfig::default()
    })
    .await;
    let settings = DispatchSettings {
        concurrency: 2,
        deadline: Some(Instant::now() + Duration::from_millis(300)),
        ..fast()
    };
    let d = dispatcher(&server, good_session(), settings);
    let pulled = Arc::new(AtomicU64::new(0));
    let (report, results) = run(&d, endless(pulled.clone()), StopSignal::never()).await;

    assert_eq!(report.aborted, Some(AbortReason::Deadline));
    assert!(
        report.elapsed < Duration::from_secs(2),
        "{:?}",
        report.elapsed
    );
    assert_eq!(pulled.load(Ordering::SeqCst), report.jobs);
    assert_one_result_per_job(&report, &results);
    assert!(results
        .iter()
        .all(|r| matches!(code_of(r), "synced" | "not_attempted")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_quota_is_never_exceeded() {
    let server = Server::start(ServerConfig::default()).await;
    let settings = DispatchSettings {
        concurrency: 2,
        max_requests: Some(5),
        ..fast()
    };
    let d = dispatcher(&server, good_session(), settings);
    let (report, results) = run_all(&d, many("q", "ok", 20)).await;

    assert_eq!(report.aborted, Some(AbortReason::RequestQuota { max: 5 }));
    assert_eq!(server.requests(), 5);
    assert_one_result_per_job(&report, &results);
    let synced = results.iter().filter(|r| code_of(r) == "synced").count();
    assert_eq!(synced, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_holds_back_the_stream() {
    let server = Server::start(ServerConfig::default()).await;
    let d = dispatcher(&server, good_session(), fast());
    let received = Arc::new(AtomicU64::new(0));
    let pulled = Arc::new(AtomicU64::new(0));
    let ahead = Arc::new(AtomicU64::new(0));
    let jobs = {
        let (received, pulled, ahead) = (received.clone(), pulled.clone(), ahead.clone());
        futures::stream::iter(0i64..100).map(move |i| {
            let now = pulled.fetch_add(1, Ordering::SeqCst) + 1;
            ahead.fetch_max(now - received.load(Ordering::SeqCst), Ordering::SeqCst);
            job(i + 2, Operation::Create, &format!("s{i}.ok"))
        })
    };
    let (tx, mut rx) = mpsc::channel(1);
    let collect = tokio::spawn(async move {
        let mut n = 0;
        while rx.recv().await.is_some() {
            // A slow ledger writer.
            tokio::time::sleep(Duration::from_millis(3)).await;
            n += 1;
            received.fetch_add(1, Ordering::SeqCst);
        }
        n
    });
    let report = d.run(jobs, tx, StopSignal::never()).await;

    assert_eq!(collect.await.unwrap(), 100);
    assert_eq!(report.jobs, 100);
    // At most: 4 being worked on, 1 waiting in the channel, 1 being handed over, 1 being read.
    let ahead = ahead.load(Ordering::SeqCst);
    assert!(ahead <= 7, "pulled {ahead} jobs ahead of the receiver");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_can_be_spawned_and_bad_settings_are_refused() {
    let server = Server::start(ServerConfig::default()).await;
    let d = Arc::new(dispatcher(&server, good_session(), fast()));
    let (tx, mut rx) = mpsc::channel::<usersync::dispatch::JobResult>(1);
    let report = tokio::spawn(async move {
        d.run(futures::stream::empty(), tx, StopSignal::never())
            .await
    })
    .await
    .unwrap();
    assert_eq!((report.jobs, report.requests, report.aborted), (0, 0, None));
    assert!(rx.recv().await.is_none());

    let settings = DispatchSettings {
        concurrency: 0,
        ..fast()
    };
    let client = http_client(&settings).unwrap();
    let refused = Dispatcher::new(
        &FAKE,
        Arc::new(good_session()),
        client,
        server.base_url(),
        settings,
    );
    assert_eq!(refused.err().unwrap().key, "concurrency");
}
