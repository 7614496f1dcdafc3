//! Subcommands (stub)
