//! Subcommands (stub)

pub mod mock_server;
