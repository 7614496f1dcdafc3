//! `usersync init`: a first config for one provider, so that a newcomer edits a working file
//! instead of writing one from the manual.
//!
//! Everything the config lists comes from the provider registry: the fields, which are
//! required, and their rules from the provider's own schema (`provider/<name>/schema.rs`), the
//! credential names from its credential sets, and what the provider refuses in a target from
//! its own `check_target`. A new provider therefore gets `init` by being in the registry.
//!
//! With an export (`--from`), each field gets the column whose name fits it (`matching.rs`:
//! folded names and a table of usual HR headers) and whose sampled values pass the field's rule
//! (`fit.rs`), read through the input module (`export.rs`); other fields are written commented
//! out. `render.rs` writes the text. The config always targets the built-in mock: see
//! [`Draft::text`].

mod export;
mod fit;
mod matching;
mod render;

pub use export::{ExportSample, SAMPLE_ROWS};
pub use fit::{Misfit, Shape};

use std::path::Path;

use serde_json::Value;

use crate::config::InputSettings;
use crate::provider::Provider;
use crate::validate::{FieldDef, FieldType, Required};

/// What to write a config for.
pub struct Request<'a> {
    pub provider: &'static dyn Provider,
    /// The export whose columns fill the fields, if one is given.
    pub export: Option<&'a ExportSample>,
    /// How the export was read, when the command line said (written to `[input]`).
    pub input: InputSettings,
    /// The config file's name as the user calls it, for the commands the comments suggest.
    pub config_name: String,
}

/// How one provider field is filled in the written config.
#[derive(Debug, Clone, PartialEq)]
pub enum Fill {
    /// From this export column, read with this shape.
    Column { column: String, shape: Shape },
    /// No export was given: a column named like the field, for the user to rename (required
    /// fields and the key are written so, to make a config that loads).
    Placeholder,
    /// A constant empty value: the provider refuses a target without the field (Faveo's
    /// organisation fields), and no column of the export fills it.
    Empty(Value),
    /// Written commented out. `near`: a column whose name fits but whose values do not.
    Unfilled { near: Option<(String, Misfit)> },
}

impl Fill {
    /// Whether the field is written active.
    pub fn is_written(&self) -> bool {
        !matches!(self, Fill::Unfilled { .. })
    }
}

/// One provider field and how it is filled.
#[derive(Debug, Clone)]
pub struct FieldPlan {
    pub def: &'static FieldDef,
    pub fill: Fill,
}

/// A written config, and what the command says about it.
#[derive(Debug)]
pub struct Draft {
    /// The config's text. Its target's `base_url` is always `"mock"`: a config fresh from
    /// `init` never reaches the real provider before its mapping was checked, and it says so.
    pub text: String,
    /// The provider field chosen as the target's `key`.
    pub key: String,
    pub fields: Vec<FieldPlan>,
    /// Export columns no field reads.
    pub unused_columns: Vec<String>,
    /// Why the config does not load, if it does not (a provider refusing what no column fills).
    pub problem: Option<String>,
}

impl Draft {
    /// Required fields that nothing fills: every row is rejected until they are mapped.
    pub fn unfilled_required(&self) -> Vec<&'static str> {
        self.fields
            .iter()
            .filter(|p| is_required(p.def) && !p.fill.is_written())
            .map(|p| p.def.name)
            .collect()
    }
}

/// A required field that no column fills may take a column of a close meaning: a user name is
/// most often the e-mail address (SCIM's `userName`).
const STAND_INS: &[(&str, &str)] = &[("username", "email")];

/// The meanings a user key usually has, best first: the fields a target is most often keyed by.
const KEY_MEANINGS: &[&str] = &["employee_id", "username", "email", "national_id"];

/// Writes the config `request` asks for.
pub fn draft(request: &Request<'_>) -> Draft {
    let provider = request.provider;
    let schema = provider.schema();
    let mut fields: Vec<FieldPlan> = schema
        .fields
        .iter()
        .filter(|def| def.wildcard_prefix().is_none())
        .map(|def| FieldPlan {
            def,
            fill: match request.export {
                Some(export) => fill_from(provider, def, export),
                None if is_required(def) => Fill::Placeholder,
                None => Fill::Unfilled { near: None },
            },
        })
        .collect();
    let key = choose_key(&mut fields);
    let refused = satisfy_provider(provider, &mut fields, request.export.is_some());
    let unused_columns = match request.export {
        Some(export) => export
            .columns
            .iter()
            .filter(|c| {
                !fields
                    .iter()
                    .any(|p| matches!(&p.fill, Fill::Column { column, .. } if column == *c))
            })
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    let mut draft = Draft {
        text: String::new(),
        key,
        fields,
        unused_columns,
        problem: refused,
    };
    draft.text = render::config(request, &draft);
    if draft.problem.is_none() {
        // The config must load as written: the same check as every command's.
        if let Err(e) = crate::config::from_str(&draft.text, Path::new(&request.config_name)) {
            draft.problem = Some(e.to_string());
        }
    }
    draft
}

fn is_required(def: &FieldDef) -> bool {
    matches!(def.required, Required::Always | Required::OnCreate)
}

/// The best column of `export` for `def`: the best-named one whose values fit.
fn fill_from(provider: &dyn Provider, def: &FieldDef, export: &ExportSample) -> Fill {
    let mut candidates: Vec<(matching::Fit, usize)> = export
        .columns
        .iter()
        .enumerate()
        .filter_map(|(i, column)| {
            let fit = matching::ColumnName::new(column, provider.name()).fit(def.name)?;
            Some((fit, i))
        })
        .collect();
    candidates.sort();
    let mut near = None;
    for (_, i) in candidates {
        let column = &export.columns[i];
        match fit::judge(provider.schema(), def, &export.values(i)) {
            Ok(shape) => {
                return Fill::Column {
                    column: column.clone(),
                    shape,
                }
            }
            Err(misfit) => {
                near.get_or_insert((column.clone(), misfit));
            }
        }
    }
    if near.is_none() && is_required(def) {
        if let Some(fill) = stand_in(provider, def, export) {
            return fill;
        }
    }
    Fill::Unfilled { near }
}

/// A column of a close meaning for a required field (see [`STAND_INS`]), if one fits.
fn stand_in(provider: &dyn Provider, def: &FieldDef, export: &ExportSample) -> Option<Fill> {
    let meaning = matching::field_concept(def.name)?;
    let (_, close) = STAND_INS.iter().find(|(m, _)| *m == meaning)?;
    export.columns.iter().enumerate().find_map(|(i, column)| {
        let name = matching::ColumnName::new(column, provider.name());
        if name.meaning() != Some(*close) {
            return None;
        }
        let shape = fit::judge(provider.schema(), def, &export.values(i)).ok()?;
        Some(Fill::Column {
            column: column.clone(),
            shape,
        })
    })
}

/// The field that identifies a user: a filled field of a usual key meaning, else a filled
/// required one, else any filled one. Without an export (or when nothing is filled), the best
/// field by meaning is written with a placeholder column, since a target needs a key.
fn choose_key(fields: &mut [FieldPlan]) -> String {
    let filled = |p: &FieldPlan| p.fill.is_written();
    let meaning = |p: &FieldPlan, m: &str| matching::field_concept(p.def.name) == Some(m);
    let by_meaning = |only_filled: bool| {
        KEY_MEANINGS.iter().find_map(|m| {
            fields
                .iter()
                .position(|p| (!only_filled || filled(p)) && meaning(p, m))
        })
    };
    let chosen = by_meaning(true)
        .or_else(|| {
            fields
                .iter()
                .position(|p| filled(p) && p.def.required == Required::Always)
        })
        .or_else(|| fields.iter().position(filled))
        .or_else(|| by_meaning(false))
        .or_else(|| {
            fields
                .iter()
                .position(|p| p.def.required == Required::Always)
        })
        .unwrap_or(0);
    let plan = &mut fields[chosen];
    if !plan.fill.is_written() {
        plan.fill = Fill::Placeholder;
    }
    plan.def.name.to_owned()
}

/// Fills what the provider refuses a target without (its `check_target`, with default
/// options), naming fields its message names: a placeholder column without an export, an
/// empty value with one. Returns the provider's words when that is not enough.
fn satisfy_provider(
    provider: &dyn Provider,
    fields: &mut [FieldPlan],
    from_export: bool,
) -> Option<String> {
    let options = match provider.parse_options(&toml::Table::new()) {
        Ok(options) => options,
        Err(e) => return Some(e.to_string()),
    };
    for _ in 0..3 {
        let mapped: Vec<&str> = fields
            .iter()
            .filter(|p| p.fill.is_written())
            .map(|p| p.def.name)
            .collect();
        let refusal = match provider.check_target(&mapped, &options) {
            Ok(_) => return None,
            Err(e) => e,
        };
        let named: Vec<usize> = (0..fields.len())
            .filter(|&i| {
                !fields[i].fill.is_written() && mentions(&refusal.message, fields[i].def.name)
            })
            .collect();
        if named.is_empty() {
            return Some(refusal.to_string());
        }
        for i in named {
            fields[i].fill = if from_export {
                Fill::Empty(empty_value(fields[i].def.ty))
            } else {
                Fill::Placeholder
            };
        }
    }
    Some(format!("{} refuses the target's fields", provider.name()))
}

/// Whether `message` names `field` as a whole word.
fn mentions(message: &str, field: &str) -> bool {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    message.match_indices(field).any(|(at, _)| {
        let before = message[..at].chars().next_back();
        let after = message[at + field.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// The empty value of a field of type `ty`: `[]` for lists and JSON, `""` otherwise.
fn empty_value(ty: FieldType) -> Value {
    match ty {
        FieldType::Array | FieldType::Json | FieldType::StringOrArray => Value::Array(Vec::new()),
        _ => Value::String(String::new()),
    }
}

/// Where each provider's real API usually is, for the comment beside `base_url = "mock"`; a
/// provider not listed gets a generic line.
const URL_SHAPES: &[(&str, &str)] = &[
    (
        "meetinglawyers",
        "https://api.meetinglawyers.com (development: https://api.demo.meetinglawyers.com)",
    ),
    (
        "gnoss",
        "https://<the API root GNOSS gives your community>/",
    ),
    (
        "faveo",
        "https://<your helpdesk>/api/ (the root of its v3/ routes)",
    ),
    ("abitmedia", "https://api.abitmedia.app"),
    ("scim", "https://<the application>/scim/v2 (its SCIM root)"),
];

/// The real URL shape of `provider`, for a comment.
pub fn url_shape(provider: &str) -> &'static str {
    URL_SHAPES
        .iter()
        .find(|(name, _)| *name == provider)
        .map_or("https://<the provider's API root>/", |(_, url)| url)
}

#[cfg(test)]
mod tests;
