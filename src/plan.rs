//! Plan (stub)
