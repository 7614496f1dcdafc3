//! Config (stub)
