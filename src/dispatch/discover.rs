//! The one request a run may send before its first row: what the target says it supports
//! (SCIM's `/ServiceProviderConfig`), asked where the provider has such a request
//! ([`Provider::discovery`]) and read by the provider ([`Provider::discovered`]). A target that
//! says it cannot do what usersync would send stops the run before anything is changed.

use std::sync::Arc;

use http::header::{HeaderValue, ACCEPT};

use crate::provider::{Options, Provider, RawResponse, Session};

/// Asks the target what it supports, when its provider has a way to ask. `Ok(Some(warning))`:
/// the run goes on, and says `warning` once; `Err(why)`: the run cannot go on.
pub async fn discover(
    provider: &'static dyn Provider,
    session: &Arc<dyn Session>,
    client: &reqwest::Client,
    base_url: &url::Url,
    options: &Options,
) -> Result<Option<String>, String> {
    let Some(request) = provider.discovery(options) else {
        return Ok(None);
    };
    let url = base_url
        .join(request.path.trim_start_matches('/'))
        .map_err(|e| format!("the discovery request has an invalid path: {e}"))?;
    let mut http = reqwest::Request::new(request.method, url);
    http.headers_mut()
        .insert(ACCEPT, HeaderValue::from_static("application/json"));
    if let Err(e) = session.authorize(client, &mut http).await {
        return Ok(Some(format!(
            "could not ask the target what it supports ({e}); going on with what the standard \
             says"
        )));
    }
    let answer = match client.execute(http).await {
        Ok(answer) => answer,
        Err(e) => {
            return Ok(Some(format!(
                "could not ask the target what it supports ({}); going on with what the \
                 standard says",
                e.without_url()
            )))
        }
    };
    let status = answer.status().as_u16();
    let headers = answer.headers().clone();
    let body = answer.bytes().await.unwrap_or_default();
    provider.discovered(
        options,
        &RawResponse {
            status,
            headers,
            body,
        },
    )
}
