//! The MeetingLawyers adapter (stub: filled in by the provider-adapters work).

pub mod mock;
pub mod schema;

use std::sync::Arc;

use crate::payload::Payload;
use crate::provider::{
    Operation, Outcome, Provider, ProviderConfigError, ProviderRequest, RawResponse, Session,
    TargetContext, UserRef,
};
use crate::validate::Schema;

/// The MeetingLawyers provider.
pub struct MeetingLawyers;

impl Provider for MeetingLawyers {
    fn name(&self) -> &'static str {
        "meetinglawyers"
    }
    fn schema(&self) -> &'static Schema {
        &schema::SCHEMA
    }
    fn credential_sets(&self) -> &'static [&'static [&'static str]] {
        &[]
    }
    fn supports(&self, _op: Operation) -> bool {
        true
    }
    fn update_operation(&self) -> Operation {
        Operation::Update
    }
    fn build_request(
        &self,
        _op: Operation,
        _user: &UserRef,
        _payload: &Payload,
    ) -> Result<ProviderRequest, String> {
        Err("not implemented".into())
    }
    fn classify(&self, _op: Operation, _response: &RawResponse) -> Outcome {
        Outcome::Synced { remote_id: None }
    }
    fn session(&self, _ctx: &TargetContext) -> Result<Arc<dyn Session>, ProviderConfigError> {
        Err(ProviderConfigError {
            key: "provider".into(),
            message: "not implemented".into(),
        })
    }
    fn mock_router(&self, state: crate::mock::MockState) -> axum::Router {
        mock::router(state)
    }
}
