//! dispatch (stub)
