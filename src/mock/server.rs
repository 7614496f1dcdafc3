//! The mock's HTTP/1.1 server loop: hyper, one task per connection, serving an axum router.
//!
//! axum's own `serve` always writes a response; the mock must sometimes apply a change and then
//! close the connection without answering, as a real server does when it crashes or a proxy
//! times out. So connections are served here with hyper directly: a handler that marks its
//! response with [`DropConnection`] makes the service fail, and the connection is closed
//! without a byte of the response written.

use std::sync::Arc;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tower::ServiceExt;

use super::MockState;

/// Put in a response's extensions: close the connection instead of sending the response.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// The error a connection's service returns to make hyper close it without answering.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose by the mock")
    }
}

impl std::error::Error for Dropped {}

/// Serves `app` on `listener` until `shutdown` changes or its sender is dropped; then every
/// connection is closed, answered or not. Counts the connections in `state`'s stats.
pub fn spawn(
    listener: TcpListener,
    app: Router,
    state: MockState,
    shutdown: watch::Receiver<()>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut stop = shutdown.clone();
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(error) => {
                        // Out of file descriptors and the like: wait a moment, go on.
                        tracing::warn!(%error, "mock: accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                },
                _ = stop.changed() => break,
            };
            state.stats_ref().connected();
            let _ = stream.set_nodelay(true);
            tokio::spawn(serve_connection(stream, app.clone(), shutdown.clone()));
        }
    })
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    app: Router,
    mut shutdown: watch::Receiver<()>,
) {
    let dropped = Arc::new(Notify::new());
    let signal = dropped.clone();
    let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let app = app.clone();
        let signal = signal.clone();
        async move {
            let response = match app.oneshot(request.map(axum::body::Body::new)).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if response.extensions().get::<DropConnection>().is_some() {
                signal.notify_one();
                return Err(Dropped);
            }
            Ok::<_, Dropped>(response)
        }
    });
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    // Whichever ends first: the connection, a drop, or the server. Dropping the connection
    // future closes the socket.
    tokio::select! {
        _ = connection => {}
        _ = dropped.notified() => {}
        _ = shutdown.changed() => {}
    }
}
