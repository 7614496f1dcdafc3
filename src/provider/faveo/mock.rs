//! Faveo routes in the built-in mock server (stub: filled in by the mock work).

use crate::mock::MockState;

/// The mock's router for Faveo.
pub fn router(state: MockState) -> axum::Router {
    axum::Router::new().with_state(state)
}
