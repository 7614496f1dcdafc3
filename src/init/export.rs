//! The part of an HR export that `init --from` looks at: its columns and the values of its first
//! rows, read through the input module's public reader (`crate::input::open`), so every format
//! and encoding it reads is read here the same way.
//!
//! A CSV names its columns in its header. A JSONL file has none: every object names its own
//! keys, which the reader does not list, so the keys of the sampled lines are read here (each
//! once, in each object's key order as serde_json gives it).

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::input::{self, Cell, Column, Header, InputError, InputOptions};

/// How many rows are sampled: enough to see a column's usual values and a few bad ones,
/// few enough to read at once from any export.
pub const SAMPLE_ROWS: usize = 200;

/// An export's columns and the values of its first rows.
#[derive(Debug, Clone)]
pub struct ExportSample {
    /// The file, as given.
    pub path: PathBuf,
    /// The columns, in file order.
    pub columns: Vec<String>,
    /// Per sampled row, one value per column (`null` where the row lacks it). Rows that could
    /// not be read cleanly are left out.
    pub rows: Vec<Vec<Value>>,
}

impl ExportSample {
    /// Reads the columns and up to [`SAMPLE_ROWS`] rows of the export at `path`.
    pub fn read(path: &Path, options: &InputOptions) -> Result<ExportSample, InputError> {
        let mut reader = input::open(path, options)?;
        let header = reader.header().clone();
        let columns = match &header {
            Header::Jsonl => jsonl_keys(path)?,
            other => other.names().map(<[String]>::to_vec).unwrap_or_default(),
        };
        let at: Vec<Column> = columns
            .iter()
            .map(|c| header.resolve(c).unwrap_or_else(|| Column::Key(c.clone())))
            .collect();
        let mut rows = Vec::new();
        while rows.len() < SAMPLE_ROWS {
            let Some(record) = reader.read()? else { break };
            if record.problem().is_some() {
                continue;
            }
            rows.push(
                at.iter()
                    .map(|column| match record.get(column) {
                        Cell::Missing => Value::Null,
                        Cell::Text(s) => Value::String(s.to_owned()),
                        Cell::Json(v) => v.clone(),
                    })
                    .collect(),
            );
        }
        Ok(ExportSample {
            path: path.to_owned(),
            columns,
            rows,
        })
    }

    /// The sampled values of column `index`.
    pub fn values(&self, index: usize) -> Vec<Value> {
        self.rows
            .iter()
            .map(|row| row.get(index).cloned().unwrap_or(Value::Null))
            .collect()
    }
}

/// The keys of the objects on the first [`SAMPLE_ROWS`] lines of a JSONL file, each once. Lines
/// that are not objects are skipped: the reader reports them.
fn jsonl_keys(path: &Path) -> Result<Vec<String>, InputError> {
    let read_error = |source| InputError::Read {
        path: path.to_owned(),
        line: 0,
        source,
    };
    let file = std::fs::File::open(path).map_err(|source| InputError::Open {
        path: path.to_owned(),
        source,
    })?;
    let mut keys: Vec<String> = Vec::new();
    for line in std::io::BufReader::new(file).lines().take(SAMPLE_ROWS) {
        let line = line.map_err(read_error)?;
        let Ok(serde_json::Value::Object(object)) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        for key in object.keys() {
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
    }
    Ok(keys)
}
