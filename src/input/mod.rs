//! input (stub)
