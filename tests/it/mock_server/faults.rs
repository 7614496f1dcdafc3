//! Injected faults: 5xx, 429, rate limits, dropped connections, hangs, latency, capacity.

use std::time::{Duration, Instant};

use serde_json::json;
use usersync::mock::faveo::{DEMO_EMAIL, DEMO_PASSWORD};
use usersync::mock::meetinglawyers::{DEMO_API_KEY, DEMO_SECRET_KEY};
use usersync::mock::{Change, FaultConfig, Latency, MockHandle, MockOptions};

use super::{client, start};

fn with(faults: FaultConfig) -> MockOptions {
    MockOptions {
        faults,
        ..MockOptions::default()
    }
}

/// A MeetingLawyers create of user `id`, with the demo keys.
async fn create(
    http: &reqwest::Client,
    mock: &MockHandle,
    id: &str,
) -> reqwest::Result<reqwest::Response> {
    http.post(mock.join("s2s/v1/users"))
        .header("Api-Key", DEMO_API_KEY)
        .header("Secret-Key", DEMO_SECRET_KEY)
        .json(&json!({"user_id": id, "status": 2}))
        .send()
        .await
}

#[tokio::test]
async fn fail_rate_one_answers_5xx_and_changes_nothing() {
    let mock = start(
        "meetinglawyers",
        with(FaultConfig {
            seed: Some(1),
            fail_rate: 1.0,
            ..FaultConfig::default()
        }),
    )
    .await;
    let http = client();
    for i in 0..20 {
        let status = create(&http, &mock, &format!("u{i}"))
            .await
            .unwrap()
            .status();
        assert!(status == 500 || status == 503, "{status}");
    }
    assert!(mock.state.users().is_empty());
    let stats = mock.state.stats();
    assert_eq!(stats.fault("fail_500") + stats.fault("fail_503"), 20);
    assert!(stats.fault("fail_500") > 0 && stats.fault("fail_503") > 0);
    assert_eq!(stats.by_outcome["server_error"], 20);
}

#[tokio::test]
async fn throttle_rate_one_answers_429_with_its_retry_after() {
    let mock = start(
        "meetinglawyers",
        with(FaultConfig {
            throttle_rate: 1.0,
            retry_after_secs: 7,
            ..FaultConfig::default()
        }),
    )
    .await;
    let resp = create(&client(), &mock, "u1").await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    assert!(mock.state.users().is_empty());
    assert_eq!(mock.state.stats().fault("throttle"), 1);
}

/// The statuses of 200 creates against a mock failing 20% and throttling 10%, seeded.
async fn seeded_statuses(seed: u64) -> Vec<u16> {
    let mock = start(
        "meetinglawyers",
        with(FaultConfig {
            seed: Some(seed),
            fail_rate: 0.2,
            throttle_rate: 0.1,
            ..FaultConfig::default()
        }),
    )
    .await;
    let http = client();
    let mut statuses = Vec::new();
    for i in 0..200 {
        let resp = create(&http, &mock, &format!("u{i}")).await.unwrap();
        statuses.push(resp.status().as_u16());
    }
    let created = statuses.iter().filter(|s| **s == 201).count();
    assert_eq!(mock.state.users().len(), created);
    statuses
}

#[tokio::test]
async fn seeded_fault_rates_are_reproducible_and_near_the_configured_rates() {
    let first = seeded_statuses(99).await;
    assert_eq!(first, seeded_statuses(99).await, "same seed, same faults");
    let failed = first.iter().filter(|s| **s >= 500).count();
    let throttled = first.iter().filter(|s| **s == 429).count();
    assert!((20..=60).contains(&failed), "{failed} of 200 failed");
    assert!(
        (8..=35).contains(&throttled),
        "{throttled} of 200 throttled"
    );
    assert_ne!(
        first,
        seeded_statuses(100).await,
        "another seed, other faults"
    );
}

#[tokio::test]
async fn a_dropped_connection_is_an_error_at_the_client_and_the_change_is_applied() {
    let mock = start(
        "meetinglawyers",
        with(FaultConfig {
            drop_rate: 1.0,
            ..FaultConfig::default()
        }),
    )
    .await;
    let http = client();
    let error = create(&http, &mock, "u1").await.unwrap_err();
    assert!(!error.is_status() && !error.is_timeout(), "{error:?}");
    let user = mock.state.user("u1").expect("the change was applied");
    assert_eq!(user.count(Change::Create), 1);
    let stats = mock.state.stats();
    assert_eq!(stats.fault("drop"), 1);
    assert_eq!(stats.by_status["dropped"], 1);

    // The client's retry finds the user there: a conflict, not a second user.
    mock.state.set_faults(FaultConfig::default()).unwrap();
    assert_eq!(create(&http, &mock, "u1").await.unwrap().status(), 409);
    assert_eq!(mock.state.user("u1").unwrap().count(Change::Create), 1);
}

#[tokio::test]
async fn a_rate_limit_answers_429_with_retry_after_past_its_rate() {
    let mock = start(
        "meetinglawyers",
        with(FaultConfig {
            rate_limit: Some(1.0),
            rate_limit_headers: true,
            ..FaultConfig::default()
        }),
    )
    .await;
    let http = client();
    let mut throttled = 0;
    for i in 0..10 {
        let resp = create(&http, &mock, &format!("u{i}")).await.unwrap();
        assert_eq!(resp.headers()["ratelimit-limit"], "1");
        if resp.status() == 429 {
            throttled += 1;
            let after: u64 = resp.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(after >= 1);
        }
    }
    assert!(
        throttled >= 7,
        "only {throttled} of 10 throttled at 1 request/s"
    );
    let stats = mock.state.stats();
    assert_eq!(stats.fault("rate_limit"), throttled);
    assert_eq!(
        stats.per_second.iter().map(|s| s.throttled).sum::<u64>(),
        throttled
    );
}

#[tokio::test]
async fn a_hung_request_is_never_answered() {
    let mock = start(
        "meetinglawyers",
        with(FaultConfig {
            hang_rate: 1.0,
            ..FaultConfig::default()
        }),
    )
    .await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let error = create(&http, &mock, "u1").await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert!(mock.state.users().is_empty());
    assert_eq!(mock.state.stats().fault("hang"), 1);
}

#[tokio::test]
async fn latency_and_capacity_slow_answers_down() {
    let mock = start(
        "meetinglawyers",
        with(FaultConfig {
            latency: Latency::Fixed(Duration::from_millis(100)),
            capacity: Some(1),
            ..FaultConfig::default()
        }),
    )
    .await;
    let http = client();
    let started = Instant::now();
    let (a, b, c) = tokio::join!(
        create(&http, &mock, "a"),
        create(&http, &mock, "b"),
        create(&http, &mock, "c")
    );
    for resp in [a, b, c] {
        assert_eq!(resp.unwrap().status(), 201);
    }
    // One at a time, 100 ms each.
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(mock.state.users().len(), 3);
}

#[tokio::test]
async fn login_routes_get_no_faults_unless_asked() {
    let faults = FaultConfig {
        fail_rate: 1.0,
        ..FaultConfig::default()
    };
    let mock = start("faveo", with(faults.clone())).await;
    let login = || {
        client()
            .post(mock.join("v3/api/login"))
            .json(&json!({"email": DEMO_EMAIL, "password": DEMO_PASSWORD}))
            .send()
    };
    assert_eq!(login().await.unwrap().status(), 200);
    let create = client()
        .post(mock.join("v3/user/create/api"))
        .json(&json!({"first_name": "A", "last_name": "B"}))
        .send()
        .await
        .unwrap();
    assert!(create.status().is_server_error());

    mock.state
        .set_faults(FaultConfig {
            include_auth: true,
            ..faults
        })
        .unwrap();
    assert!(login().await.unwrap().status().is_server_error());
}

#[tokio::test]
async fn impossible_fault_settings_are_refused() {
    let provider = usersync::provider::by_name("gnoss").unwrap();
    let opts = with(FaultConfig {
        fail_rate: 0.7,
        drop_rate: 0.7,
        ..FaultConfig::default()
    });
    let error = usersync::mock::start(provider, opts).await.err().unwrap();
    assert!(error.to_string().contains("must not exceed 1"), "{error}");
}
