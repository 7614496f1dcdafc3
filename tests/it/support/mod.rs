//! What the test areas share, defined once: the `usersync` binary run from a test's directory
//! with nothing from the environment, and the helpers each family of tests builds on.
#![allow(dead_code)]

// A test's own directory, the validate JSON output read back, text diffs (`cli`).
#[macro_use]
pub mod cli;
// The MeetingLawyers mock served by a runtime of the test process.
pub mod mock;
// Mocks of any provider in the process, generated exports, ledger checks, nights of the sample.
pub mod reliability;
// The nightly tests' HR export, directory and first night.
pub mod nightly;
// The adaptive concurrency and nightly window tests' mock, exports and measurements.
pub mod adaptive;
// An adapter talking to its own mock through its real session.
pub mod providers;
// A ledger made by real syncs, read by the report tests.
pub mod report_fixture;
// The sync tests' export with its expected results, workspace and assertions.
pub mod sync;
