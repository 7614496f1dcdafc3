//! The built-in mock provider server, driven with raw HTTP as a client of each real API would.
//!
//! One module per provider (routes accepted, credentials refused, error shapes), one for the
//! injected faults, one for the `/__mock/` admin routes, one for the providers' own page
//! examples. Every server listens on 127.0.0.1 on a free port; every fault is made
//! deterministic (rate 0 or 1, or a fixed seed).

mod abitmedia;
mod admin;
mod faults;
mod faveo;
mod gnoss;
mod meetinglawyers;
mod page_examples;
mod scim;

use usersync::mock::{self, MockHandle, MockOptions};

/// A mock of the provider named `name` with `opts`, on a free port.
pub async fn start(name: &str, opts: MockOptions) -> MockHandle {
    let provider = usersync::provider::by_name(name).expect("a known provider");
    mock::start(provider, opts).await.expect("the mock starts")
}

/// A plain HTTP client (no retries, no pooling surprises).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// The JSON body of a response.
pub async fn json(resp: reqwest::Response) -> serde_json::Value {
    resp.json().await.expect("a JSON body")
}
