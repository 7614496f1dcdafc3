//! The mock's own routes under `/__mock/`, for tests and for operators rehearsing a config:
//! what it stores and what it was asked. They get no faults and are not counted.
//!
//! - `GET /__mock/users`: every stored user, in creation order, with per-user counts of
//!   creates/updates/patches/deactivations, the field names of the last request and a history.
//! - `GET /__mock/stats`: counts by method, route, status, outcome and fault, and per second.
//! - `POST /__mock/expire-tokens`: every bearer token issued so far expires now.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;

use super::stats::StatsSnapshot;
use super::store::StoredUser;
use super::MockState;

/// The admin routes, with their state.
pub fn router(state: MockState) -> Router {
    Router::new()
        .route("/__mock/users", get(users))
        .route("/__mock/stats", get(stats))
        .route("/__mock/expire-tokens", post(expire_tokens))
        .with_state(state)
}

async fn users(State(state): State<MockState>) -> Json<Vec<StoredUser>> {
    Json(state.users())
}

async fn stats(State(state): State<MockState>) -> Json<StatsSnapshot> {
    Json(state.stats())
}

async fn expire_tokens(State(state): State<MockState>) -> StatusCode {
    state.expire_tokens();
    StatusCode::NO_CONTENT
}
