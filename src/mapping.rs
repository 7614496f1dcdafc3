//! Mapping (stub)
