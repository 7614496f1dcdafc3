//! The `json` report: one JSON object with a `schema_version`, for alerting scripts. Its
//! schema is documented in `docs/report-schema.md`; the field names are those of
//! [`super::model`], plus `rows`, streamed from the ledger one by one.
//!
//! Strings are JSON-escaped (control characters included) and otherwise kept as they are:
//! a script gets the exact key and message, however hostile.

use std::cell::RefCell;
use std::io::Write;

use serde::ser::{Error as _, SerializeSeq};
use serde::{Serialize, Serializer};

use super::model::{Report, SCHEMA_VERSION};
use super::{Exporter, ProblemRows};

pub(super) struct JsonExporter;

impl Exporter for JsonExporter {
    fn export(
        &self,
        report: &Report,
        rows: &mut dyn ProblemRows,
        out: &mut dyn Write,
    ) -> anyhow::Result<()> {
        let failure = RefCell::new(None);
        let document = Document {
            schema_version: SCHEMA_VERSION,
            report,
            rows: Rows {
                source: RefCell::new(rows),
                failure: &failure,
            },
        };
        let written = serde_json::to_writer_pretty(&mut *out, &document);
        if let Some(error) = failure.into_inner() {
            return Err(error);
        }
        written?;
        out.write_all(b"\n")?;
        Ok(())
    }
}

/// The whole document: `schema_version` first, then the report's fields, then `rows`.
#[derive(Serialize)]
struct Document<'a, 'r> {
    schema_version: u32,
    #[serde(flatten)]
    report: &'a Report,
    rows: Rows<'a, 'r>,
}

/// The problem rows as a JSON array, streamed; a failure of the source is kept in `failure` so
/// that the caller sees the ledger's error rather than a serializer's message.
struct Rows<'a, 'r> {
    source: RefCell<&'a mut (dyn ProblemRows + 'r)>,
    failure: &'a RefCell<Option<anyhow::Error>>,
}

impl Serialize for Rows<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        let mut ser_error = None;
        let streamed = self.source.borrow_mut().each(&mut |row| {
            seq.serialize_element(&row).map_err(|e| {
                let message = e.to_string();
                ser_error = Some(e);
                anyhow::anyhow!(message)
            })
        });
        if let Some(e) = ser_error {
            return Err(e);
        }
        if let Err(e) = streamed {
            let message = e.to_string();
            *self.failure.borrow_mut() = Some(e);
            return Err(S::Error::custom(message));
        }
        seq.end()
    }
}
