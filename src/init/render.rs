//! The text of a config written by `usersync init`: TOML a person reads, with a comment on every
//! choice (why `base_url` is the mock, what each field must hold, which columns went unused),
//! in the layout of `samples/usersync.toml`.

use std::fmt::Write as _;

use super::{Draft, FieldPlan, Fill, Misfit, Request, Shape};
use crate::validate::describe;

/// Comment lines are wrapped to this width.
const WIDTH: usize = 98;

/// The whole config.
pub(super) fn config(request: &Request<'_>, draft: &Draft) -> String {
    let provider = request.provider;
    let name = provider.name();
    let mut out = String::new();
    // taplo reads this first line: editors then complete and check every key.
    out.push_str("#:schema ./usersync.schema.json\n");
    let from = request
        .export
        .map(|e| format!(" --from {}", e.path.display()))
        .unwrap_or_default();
    let export = request
        .export
        .map_or("EXPORT".to_owned(), |e| e.path.display().to_string());
    comment(
        &mut out,
        &format!("usersync config for {name}, written by `usersync init --provider {name}{from}`."),
    );
    comment(
        &mut out,
        &format!(
            "Check it against the export: `usersync validate -c {config} {export}`; rehearse a \
             sync on the built-in mock: `usersync sync {export} -c {config}`. Every key is in \
             docs/config.md; each field's rule below is the one usersync checks.",
            config = request.config_name
        ),
    );
    if request.export.is_none() {
        comment(
            &mut out,
            &format!(
                "Written without an export: each active field reads a column of its own name. \
                 Rename them to your export's columns, or let init match them: `usersync init \
                 --provider {name} --from EXPORT`."
            ),
        );
    }
    out.push('\n');
    out.push_str("ledger = \"usersync.db\"                 # relative to this file\n");
    input_table(&mut out, request);
    target_table(&mut out, request, draft);
    fields_table(&mut out, request, draft);
    out
}

fn input_table(out: &mut String, request: &Request<'_>) {
    let input = &request.input;
    if input.format.is_none() && input.delimiter.is_none() && input.encoding.is_none() {
        return;
    }
    out.push_str("\n[input]\n");
    if let Some(format) = input.format {
        let _ = writeln!(out, "format = {}", string(&format.to_string()));
    }
    if let Some(delimiter) = input.delimiter {
        let text = if delimiter == b'\t' {
            "tab".to_owned()
        } else {
            char::from(delimiter).to_string()
        };
        let _ = writeln!(out, "delimiter = {}", string(&text));
    }
    if let Some(encoding) = input.encoding {
        let _ = writeln!(out, "encoding = {}", string(&encoding.to_string()));
    }
}

fn target_table(out: &mut String, request: &Request<'_>, draft: &Draft) {
    let provider = request.provider;
    let name = provider.name();
    let _ = writeln!(out, "\n[targets.{}]", key(name));
    let _ = writeln!(out, "provider = {}", string(name));
    comment(
        out,
        &format!(
            "The built-in mock of {name}, started inside each run: a config fresh from init must \
             never reach the real {name} by accident, before `validate` and a rehearsal on the \
             mock have shown its mapping right. Then point it at the real API, whose root looks \
             like: {}",
            super::url_shape(name)
        ),
    );
    out.push_str("base_url = \"mock\"\n");
    let sets = provider.credential_sets();
    if let Some((first, others)) = sets.split_first() {
        let mut text = format!(
            "The NAMES of the environment variables holding the credentials (placeholders: use \
             your own), never the secrets themselves. A credential may come from a file instead: \
             `{} = {{ file = \"/run/secrets/...\" }}`, or `NAME_FILE=/path` when NAME is unset. \
             On the mock, unset variables take the mock's demo values.",
            first[0]
        );
        if !others.is_empty() {
            let others: Vec<String> = others.iter().map(|set| set.join(" + ")).collect();
            let _ = write!(text, " {name} also takes: {}.", others.join(", or "));
        }
        comment(out, &text);
        let entries: Vec<String> = first
            .iter()
            .map(|credential| {
                format!(
                    "{} = {}",
                    key(credential),
                    string(&placeholder_variable(name, credential))
                )
            })
            .collect();
        let _ = writeln!(out, "credentials = {{ {} }}", entries.join(", "));
    }
    let _ = writeln!(
        out,
        "{:<38} # the provider field that identifies a user",
        format!("key = {}", string(&draft.key))
    );
    out.push_str("# rate_limit = 10                      # requests per second; without it, concurrency \"auto\" finds the limit\n");
    out.push_str("# mode = \"mirror\"                      # also deactivate the users the export lacks (default \"upsert\")\n");
    let _ = writeln!(
        out,
        "# options = {{}}                          # the provider's own settings: docs/providers/{name}.md"
    );
}

fn fields_table(out: &mut String, request: &Request<'_>, draft: &Draft) {
    let name = request.provider.name();
    out.push('\n');
    comment(
        out,
        "Each provider field: an export column, or a table such as `{ column = \"...\", \
         transform = \"lowercase\", map = { ... }, date_format = \"%d/%m/%Y\" }`, or a constant \
         `{ value = ... }`. REQUIRED fields must be given for every user.",
    );
    let _ = writeln!(out, "[targets.{}.fields]", key(name));
    for plan in &draft.fields {
        field(out, plan, name);
    }
    for def in request.provider.schema().fields {
        if let Some(prefix) = def.wildcard_prefix() {
            let _ = writeln!(
                out,
                "# {}: {}; {} (any field {prefix}<id>)\n# {}1 = \"COLUMN\"",
                def.name,
                describe::required(def),
                describe::rule(def),
                prefix
            );
        }
    }
    if !draft.unused_columns.is_empty() {
        out.push('\n');
        comment(
            out,
            &format!(
                "Columns of the export no field reads: {}.",
                draft.unused_columns.join(", ")
            ),
        );
    }
}

/// One field: its rule, why it is filled as it is, and its line (commented out when unfilled).
fn field(out: &mut String, plan: &FieldPlan, provider: &str) {
    let def = plan.def;
    let _ = writeln!(
        out,
        "# {}: {}; {}",
        def.name,
        describe::required(def),
        describe::rule(def)
    );
    let name = key(def.name);
    match &plan.fill {
        Fill::Column { column, shape } => {
            let _ = writeln!(out, "{name} = {}", spec(column, *shape));
        }
        Fill::Placeholder => {
            let _ = writeln!(out, "{name} = {}", string(def.name));
        }
        Fill::Empty(value) => {
            comment(
                out,
                &format!(
                    "{provider} refuses a target without it, and no column of the export fills \
                     it: sent empty. Map the column that holds it."
                ),
            );
            let _ = writeln!(out, "{name} = {{ value = {value} }}");
        }
        Fill::Unfilled { near } => match near {
            Some((column, misfit)) => {
                comment(out, &misfit_reason(column, misfit));
                let _ = writeln!(out, "# {name} = {}", suggestion(column, misfit));
            }
            None => {
                if describe::required(def) != "optional" {
                    comment(
                        out,
                        "No column of the export fills it, so every row is rejected until one \
                         is mapped (or a constant `{ value = ... }` given).",
                    );
                }
                let _ = writeln!(out, "# {name} = \"COLUMN\"");
            }
        },
    }
}

/// Why a column whose name fits was not taken.
fn misfit_reason(column: &str, misfit: &Misfit) -> String {
    match &misfit.values {
        Some(values) => format!(
            "Column `{column}` fits by name, but not its values ({}): translate them with a map.",
            values.join(", ")
        ),
        None => format!(
            "Column `{column}` fits by name, but {} of {} sampled values fail ({}).",
            misfit.failing, misfit.checked, misfit.code
        ),
    }
}

/// The spec to start from for a column that fits by name only.
fn suggestion(column: &str, misfit: &Misfit) -> String {
    match &misfit.values {
        Some(values) => {
            let pairs: Vec<String> = values.iter().map(|v| format!("{} = …", key(v))).collect();
            format!(
                "{{ column = {}, map = {{ {} }} }}",
                string(column),
                pairs.join(", ")
            )
        }
        None => string(column),
    }
}

/// A field's spec for a column read with `shape`.
fn spec(column: &str, shape: Shape) -> String {
    match shape {
        Shape::Plain => string(column),
        Shape::Date(format) => format!(
            "{{ column = {}, date_format = {} }}",
            string(column),
            string(format)
        ),
        Shape::Split(separator) => format!(
            "{{ column = {}, split = {} }}",
            string(column),
            string(separator)
        ),
    }
}

/// The placeholder environment variable of `provider`'s `credential`: `MEETINGLAWYERS_API_KEY`.
fn placeholder_variable(provider: &str, credential: &str) -> String {
    format!("{provider}_{credential}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// `text` as `# ` lines of at most [`WIDTH`] characters (longer only for a `code span`, which
/// is never cut).
fn comment(out: &mut String, text: &str) {
    let mut pieces: Vec<String> = Vec::new();
    let mut in_code = false;
    for word in text.split_whitespace() {
        match pieces.last_mut() {
            Some(last) if in_code => {
                last.push(' ');
                last.push_str(word);
            }
            _ => pieces.push(word.to_owned()),
        }
        if word.matches('`').count() % 2 == 1 {
            in_code = !in_code;
        }
    }
    let mut line = String::from("#");
    for piece in pieces {
        if line.len() > 1 && line.len() + 1 + piece.len() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(&piece);
    }
    out.push_str(&line);
    out.push('\n');
}

/// A TOML key: bare when it can be, quoted otherwise (`"name.givenName"`).
fn key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_owned()
    } else {
        string(name)
    }
}

/// A TOML string.
fn string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}
