//! The provider conformance suite: every provider of the registry, through the sample config's
//! target for it and the binary, lives the same nights against its built-in mock, so a new
//! provider is covered the day it is registered (the suite fails until the sample config has a
//! target for it). The secrets (`secrets`) and the fuzz tests (`fuzz`) loop over the registry
//! the same way.
//!
//! The nights: a first sync creates every valid row and rejects the others with row-level
//! errors naming line, field and code; the same export again sends nothing; one changed name
//! is one update; a row gone with `--deactivate-missing` is one deactivation; the row back is
//! one update that gives the access back (or says it must be given by hand).

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{demo_env, sample_target, samples, stderr, tempdir, usersync};
use usersync::ledger::{Ledger, OutcomeKind, RunCounts};

/// Rows of the sample export each night starts from: enough for the guards to let one leaver go
/// (`max_deactivate` is a share of the users known).
const ROWS: usize = 30;

/// The sample config's target of each provider of the registry.
fn sample_targets() -> Vec<(&'static str, String)> {
    usersync::provider::registry()
        .iter()
        .map(|provider| (provider.name(), sample_target(provider.name()).name))
        .collect()
}

/// One provider's nights: the sample config, its target, and the export of each night.
struct Nights {
    dir: tempfile::TempDir,
    provider: &'static str,
    target: String,
    header: String,
    rows: Vec<String>,
}

impl Nights {
    fn new(provider: &'static str, target: String) -> Nights {
        let dir = tempdir();
        std::fs::copy(
            samples().join("usersync.toml"),
            dir.path().join("usersync.toml"),
        )
        .unwrap();
        let export = std::fs::read_to_string(samples().join("hr_export.csv")).unwrap();
        let mut lines = export.lines().map(str::to_owned);
        let header = lines.next().unwrap();
        let rows = lines.take(ROWS).collect();
        Nights {
            dir,
            provider,
            target,
            header,
            rows,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Syncs `rows` (with `flags`), returning the output and the run's counts.
    fn sync(&self, rows: &[String], flags: &[&str]) -> (Output, RunCounts) {
        let input = self.path().join("export.csv");
        std::fs::write(&input, format!("{}\n{}\n", self.header, rows.join("\n"))).unwrap();
        let output = usersync(self.path())
            .args(["sync", "export.csv", "-q", "-t", &self.target])
            .args(flags)
            .envs(demo_env(self.provider))
            .output()
            .unwrap();
        assert!(
            matches!(output.status.code(), Some(0 | 3)),
            "{}: {}",
            self.provider,
            stderr(&output)
        );
        let run = self
            .ledger()
            .last_run(&self.target)
            .unwrap()
            .expect("a run");
        (output, run.counts)
    }

    fn ledger(&self) -> Ledger {
        Ledger::open(ledger_file(self.path())).unwrap()
    }
}

fn ledger_file(dir: &Path) -> PathBuf {
    let config = usersync::config::load(&dir.join("usersync.toml")).unwrap();
    dir.join(config.ledger)
}

#[test]
fn every_provider_lives_the_same_nights_against_its_mock() {
    for (provider, target) in sample_targets() {
        let nights = Nights::new(provider, target);
        let all = nights.rows.clone();

        // Night 1: every valid row created; every other one rejected on a line and a field.
        let (_, first) = nights.sync(&all, &[]);
        assert!(first.created > 0, "{provider}: {first:?}");
        assert_eq!(
            first.created + first.rejected,
            ROWS as u64,
            "{provider}: every row created or rejected: {first:?}"
        );
        let ledger = nights.ledger();
        let run = ledger.last_run(&nights.target).unwrap().unwrap();
        let outcomes = ledger.outcomes(run.id).unwrap();
        let mut created = Vec::new();
        for outcome in &outcomes {
            match outcome.outcome {
                OutcomeKind::Synced => created.push(outcome.line),
                OutcomeKind::Rejected => {
                    assert!(outcome.line >= 2, "{provider}: a physical line");
                    assert!(
                        !outcome.errors.is_empty()
                            && outcome
                                .errors
                                .iter()
                                .all(|e| !e.field.is_empty() && !e.code.is_empty()),
                        "{provider}: line {} names its fields and codes: {:?}",
                        outcome.line,
                        outcome.errors
                    );
                }
                other => panic!("{provider}: line {} ended {other:?}", outcome.line),
            }
        }

        // Night 2: the same export sends nothing.
        let (_, same) = nights.sync(&all, &[]);
        assert_eq!(
            (same.unchanged, same.requests),
            (first.created, 0),
            "{provider}: {same:?}"
        );

        // Night 3: one changed first name is one update.
        let changed_line = created[0];
        let index = (changed_line - 2) as usize;
        let mut edited = all.clone();
        edited[index] = rename(&nights.header, &edited[index]);
        let (_, one) = nights.sync(&edited, &[]);
        assert_eq!(
            (one.updated, one.created, one.unchanged),
            (1, 0, first.created - 1),
            "{provider}: {one:?}"
        );

        // Night 4: a created row gone is one deactivation.
        let leaver = (created[1] - 2) as usize;
        let mut without = edited.clone();
        without.remove(leaver);
        let (_, gone) = nights.sync(&without, &["--deactivate-missing"]);
        assert_eq!(
            (gone.deactivated, gone.updated, gone.created),
            (1, 0, 0),
            "{provider}: {gone:?}"
        );

        // Night 5: the leaver back is one update, which gives the access back or says how.
        let (output, back) = nights.sync(&edited, &["--deactivate-missing"]);
        assert_eq!(
            (back.updated, back.deactivated, back.created),
            (1, 0, 0),
            "{provider}: {back:?}"
        );
        let reactivation = usersync::provider::by_name(provider)
            .unwrap()
            .reactivation();
        if reactivation == usersync::provider::Reactivation::Unsupported {
            let said = String::from_utf8_lossy(&output.stdout);
            assert!(said.contains("by hand"), "{provider}: {said}");
        }
    }
}

/// `row` with another first name.
fn rename(header: &str, row: &str) -> String {
    let column = header
        .split(',')
        .position(|c| c == "first_name")
        .expect("the sample export has first_name");
    let mut record = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(row.as_bytes())
        .records()
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    record[column] = format!("{}ina", record[column]);
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(&record).unwrap();
    String::from_utf8(out.into_inner().unwrap())
        .unwrap()
        .trim_end()
        .to_owned()
}
