//! The built-in mock provider server (stub: filled in by the mock work).

/// Shared state of one mock server: its store, its accepted credentials, its fault settings.
#[derive(Clone, Default)]
pub struct MockState {}
