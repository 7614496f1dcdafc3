//! ledger (stub)
