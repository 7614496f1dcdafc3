//! usersync's integration tests, as one test binary: a clean `cargo test` on a small machine spent
//! most of its time linking one binary per file. This is the table of contents, one module per
//! area; what the areas share is in `support`. `cargo test --test it -- AREA::` runs one area.

// Shared helpers: the binary in a test's directory, in-process mocks, generated exports.
#[macro_use]
mod support;

// `concurrency = "auto"`: rate limits found with few 429s, remembered, kept as ceilings.
mod adaptive;
// The allocator hands freed memory back to the OS, as mimalloc reports it.
#[cfg(target_os = "linux")]
mod allocator;
// The source's shape: no top-level module imports one that imports it back.
mod architecture;
// `usersync validate`: the samples, the report, `--json`, `--rejects`, exit codes.
mod cli_validate;
// Config and mapping mistakes: one clear message naming the key to fix.
mod config_errors;
// The config's JSON Schema: current, and the sample and `init`'s configs valid against it.
mod config_schema;
// Every provider of the registry, through its sample target, lives the same nights.
mod conformance;
// Syncs killed with SIGKILL at seeded moments and run again: nothing lost or sent twice.
mod crash;
// Disk trouble: unusable ledger paths, a concurrent sync, a newer ledger, file modes.
mod disk;
// The dispatcher against a scriptable server: retries, rate, stops, the circuit breaker.
mod dispatch;
// A ledger synced to one endpoint is not taken to another without `--endpoint-moved`.
mod endpoint;
// A run that breaks inside fails closed: aborted, nothing deactivated, nothing sent after.
mod fail_closed;
// What usersync sends each provider, against mocks that read the providers' pages strictly.
mod fidelity;
// Rows that go through but need a person: said before, during and after the night.
mod follow_ups;
// Property tests: readers, mapping and validators never panic, good data round-trips.
mod fuzz;
// The GNOSS OAuth 1.0 signer against Python's oauthlib.
mod gnoss_oauthlib;
// A run whose guards trip is held: approved exactly, rejected, or refused once stale.
mod held;
// Hostile exports: broken, huge, deep, binary, moving; never a panic, bounded memory.
mod hostile;
// `usersync init`: a first config per provider that validates the sample export unchanged.
mod init;
// Reading exports: CSV edge cases, encodings, JSONL, file-level errors, physical lines.
mod input;
// The SQLite ledger through its public API: files, the writer, runs, the lock.
mod ledger;
// The built-in mock providers driven with raw HTTP: routes, faults, admin routes.
mod mock_server;
// Nightly diffs: only what changed is sent, leavers first, guards before any request.
mod nightly;
// The row fingerprint shortcut never hides a change.
mod nightly_fingerprints;
// The providers' own request examples as tests of what usersync sends.
mod page_examples;
// Protected users and a target's mode: what a run may do, and what it says it left undone.
mod policy;
// The Abitmedia adapter against its mock: every operation, every class of answer.
mod provider_abitmedia;
// The Faveo adapter against its mock: login tokens, operations, answers.
mod provider_faveo;
// The GNOSS adapter against its mock: OAuth signing, operations, answers.
mod provider_gnoss;
// The MeetingLawyers adapter against its mock: operations, answers.
mod provider_meetinglawyers;
// A leaver who comes back: unblocked where the API allows it, flagged where it does not.
mod reactivation;
// `usersync report` and `sync --report`: numbers, hostile values made inert, files.
mod report;
// reconcile where the API looks users up one by one, and where it cannot at all.
mod reconcile_lookups;
// The HTML report in headless Chromium: charts drawn, no console or CSP errors.
mod report_browser;
// The ledger's retention: old row details pruned, counts and the snapshot kept.
mod retention;
// `usersync retry` and `usersync runs`: exactly the failed rows, from the kept payloads.
mod retry;
// `plan --out` and `apply`: a saved plan sent exactly, or refused once stale.
mod saved_plan;
// What a SCIM target says it supports, heeded: bulk, PUT without PATCH, 412 read again.
mod scim_features;
// The SCIM provider against scim2-server from PyPI: lifecycle, adoption, ownership.
mod scim_server;
// Credentials kept in files (`{ file = ... }`, `NAME_FILE`): read, trimmed, never shown.
mod secret_files;
// Credentials never appear in logs, the ledger, reports, errors or `Debug` output.
mod secrets;
// Shell completions and the man page name every command.
mod shell;
// A 20,000-row soak through injected faults, and a provider that never answers.
mod soak;
// After a run: the metrics file, parsed by prometheus_client, and the webhook notification.
mod signals;
// Snapshots of what people read: every `--help`, the four report formats of one run.
mod snapshots;
// Spreadsheets: .xlsx/.xls/.ods read as a CSV is, sheets by name or number, hostile workbooks.
mod spreadsheet;
// `usersync sync` end to end: faults, SIGKILL, refused credentials, `--rate`, Ctrl-C.
mod sync;
// TLS: certificates are verified; a self-signed server is refused before anything is sent.
mod tls;
// The nightly window: `--max-duration`, `--deadline`, `max_requests`, the duration estimate.
mod window;
