//! usersync keeps a company's users in step with the user APIs of the services it buys.
//!
//! The library holds every piece of the engine; `src/main.rs` only parses the command line and
//! maps a command's result to an exit code. Data flows one way:
//! `input` (streaming CSV/JSONL records with their line) -> `mapping` (source columns to provider
//! fields) -> `validate` (the provider's field rules) -> `plan` (diff against the ledger's
//! snapshot) -> `dispatch` (rate-limited, retried HTTP through a `provider` adapter) -> `ledger`
//! (every row's outcome in SQLite) -> `report`; once a run is recorded, `signals` writes the
//! metrics file and posts the webhook notification. Beside the flow, `init` writes a first
//! config for a provider from the registry (and an export's header).

pub mod cli;
pub mod commands;
pub mod config;
pub mod dispatch;
pub mod exit;
pub mod init;
pub mod input;
pub mod ledger;
pub mod mapping;
pub mod mock;
pub mod notes;
pub mod payload;
pub mod prepare;
pub mod private_file;
pub mod progress;
pub mod provider;
pub mod reconcile;
pub mod report;
pub mod signals;
pub mod sync;
pub mod validate;
