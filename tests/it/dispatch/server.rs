//! A scriptable HTTP server for the dispatcher tests, on 127.0.0.1.
//!
//! Each user's key says how the server treats requests about it: `name.rule`, where the rule is
//! `ok`, `503xN` / `429xN` (Retry-After: 1) / `dropxN` (connection dropped after the status line)
//! / `slowxN` (answers after 1 s) for the first N attempts, `500` (always), `hang` (never
//! answers in time), `409` (create conflicts, update succeeds), `409all`, `422`, or `panic`
//! (status 299, which the fake adapter panics on). The server counts requests, records arrival
//! times and tracks the most requests it had in flight at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;

/// How the whole server behaves, beyond the per-key rules.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Answer 401 unless `Authorization: Bearer <token>`.
    pub required_token: Option<&'static str>,
    /// Every request takes at least this long.
    pub delay: Duration,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: Instant,
    pub method: Method,
    pub key: String,
}

struct ServerState {
    config: ServerConfig,
    attempts: Mutex<HashMap<String, u32>>,
    arrivals: Mutex<Vec<Arrival>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    requests: watch::Sender<usize>,
}

/// A running test server.
pub struct Server {
    state: Arc<ServerState>,
    base_url: url::Url,
}

impl Server {
    /// Binds 127.0.0.1:0 first, then serves in a task: ready when this returns.
    pub async fn start(config: ServerConfig) -> Server {
        let state = Arc::new(ServerState {
            config,
            attempts: Mutex::default(),
            arrivals: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            requests: watch::Sender::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        // No trailing slash on purpose: the dispatcher must keep the `/api` prefix.
        let base_url = format!("http://{addr}/api").parse().unwrap();
        Server { state, base_url }
    }

    pub fn base_url(&self) -> url::Url {
        self.base_url.clone()
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        *self.state.requests.borrow()
    }

    /// Waits until the server has received at least `n` requests.
    pub async fn wait_requests(&self, n: usize) {
        let mut rx = self.state.requests.subscribe();
        rx.wait_for(|count| *count >= n).await.unwrap();
    }

    pub fn arrivals(&self) -> Vec<Arrival> {
        self.state.arrivals.lock().unwrap().clone()
    }

    /// Arrivals of requests about `key`, in order.
    pub fn arrivals_of(&self, key: &str) -> Vec<Arrival> {
        self.arrivals()
            .into_iter()
            .filter(|a| a.key == key)
            .collect()
    }

    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }
}

/// Counts a request as in flight until dropped (also when the client goes away).
struct InFlight(Arc<ServerState>);

impl InFlight {
    fn enter(state: &Arc<ServerState>) -> InFlight {
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(state.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(
    State(state): State<Arc<ServerState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _in_flight = InFlight::enter(&state);
    let path = uri.path();
    let key = match path.strip_prefix("/api/users/") {
        Some(key) => key.to_string(),
        None if path == "/api/users" => serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("key").and_then(|k| k.as_str()).map(String::from))
            .unwrap_or_default(),
        None => return (StatusCode::NOT_FOUND, "no such route").into_response(),
    };
    let attempt = {
        let mut attempts = state.attempts.lock().unwrap();
        let n = attempts.entry(key.clone()).or_insert(0);
        *n += 1;
        *n
    };
    state.arrivals.lock().unwrap().push(Arrival {
        at: Instant::now(),
        method: method.clone(),
        key: key.clone(),
    });
    state.requests.send_modify(|n| *n += 1);

    if let Some(token) = state.config.required_token {
        let expected = format!("Bearer {token}");
        let given = headers.get("authorization").and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            return (StatusCode::UNAUTHORIZED, "bad token").into_response();
        }
    }
    if !state.config.delay.is_zero() {
        tokio::time::sleep(state.config.delay).await;
    }
    let rule = key.split_once('.').map(|(_, rule)| rule).unwrap_or("ok");
    answer(rule, attempt, &method, &key).await
}

async fn answer(rule: &str, attempt: u32, method: &Method, key: &str) -> Response {
    let ok = || {
        let status = if method == Method::POST {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        (status, format!(r#"{{"id":"r-{key}"}}"#)).into_response()
    };
    let (kind, first_n) = match rule.split_once('x') {
        Some((kind, n)) => (kind, n.parse::<u32>().unwrap_or(0)),
        None => (rule, 0),
    };
    let failing = attempt <= first_n;
    match kind {
        "503" if failing => (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response(),
        "429" if failing => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            "slow down",
        )
            .into_response(),
        "drop" if failing => {
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(Bytes::from_static(b"{\"id\":")),
                Err(std::io::Error::other("connection dropped")),
            ];
            Response::new(Body::from_stream(futures::stream::iter(chunks)))
        }
        "slow" if failing => {
            tokio::time::sleep(Duration::from_secs(1)).await;
            ok()
        }
        "500" => (StatusCode::INTERNAL_SERVER_ERROR, "broken").into_response(),
        "hang" => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            ok()
        }
        "409" if method == Method::POST => (StatusCode::CONFLICT, "exists").into_response(),
        "409all" => (StatusCode::CONFLICT, "taken").into_response(),
        "422" => (StatusCode::UNPROCESSABLE_ENTITY, "email: invalid").into_response(),
        "panic" => StatusCode::from_u16(299).unwrap().into_response(),
        _ => ok(),
    }
}
