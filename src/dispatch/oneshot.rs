//! Requests sent once, outside a run's rows, through the target's session: what the target says
//! it supports (SCIM's `/ServiceProviderConfig` and `/Schemas`), asked before a sync's first row where the
//! provider has such a request ([`Provider::discovery`]), and the pages of the target's users
//! `usersync reconcile` reads. A target that says it cannot do what usersync would send stops
//! the run before anything is changed.

use std::sync::Arc;

use http::header::{HeaderValue, ACCEPT};

use crate::provider::{Discovered, Options, Provider, ProviderRequest, RawResponse, Session};

/// Sends `request` once, authorized by `session`; the answer, or why none came.
pub async fn send_once(
    session: &Arc<dyn Session>,
    client: &reqwest::Client,
    base_url: &url::Url,
    request: ProviderRequest,
) -> Result<RawResponse, String> {
    let url = base_url
        .join(request.path.trim_start_matches('/'))
        .map_err(|e| format!("the request has an invalid path: {e}"))?;
    let mut http = reqwest::Request::new(request.method, url);
    http.headers_mut()
        .insert(ACCEPT, HeaderValue::from_static("application/json"));
    session
        .authorize(client, &mut http)
        .await
        .map_err(|e| e.to_string())?;
    let answer = client
        .execute(http)
        .await
        .map_err(|e| e.without_url().to_string())?;
    let status = answer.status().as_u16();
    let headers = answer.headers().clone();
    let body = answer
        .bytes()
        .await
        .map_err(|e| e.without_url().to_string())?;
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

/// Asks the target what it supports, when its provider has a way to ask, and reads the answers
/// for a target with `options` filling the provider fields `mapped`. `Err(why)`: the run
/// cannot go on.
pub async fn discover(
    provider: &'static dyn Provider,
    session: &Arc<dyn Session>,
    client: &reqwest::Client,
    base_url: &url::Url,
    options: &Options,
    mapped: &[&str],
) -> Result<Discovered, String> {
    let requests = provider.discovery(options);
    if requests.is_empty() {
        return Ok(Discovered::default());
    }
    let mut answers = Vec::with_capacity(requests.len());
    for request in requests {
        answers.push(send_once(session, client, base_url, request).await);
    }
    provider.discovered(options, mapped, &answers)
}
