//! Command-line types (stub)
