//! `usersync init --provider NAME [--from EXPORT] [-o FILE]`: writes a first config for a
//! provider (`crate::init` decides its content) and, beside it, the config's JSON Schema that
//! its `#:schema` line names, so an editor completes and checks it at once.
//!
//! The config is never written over an existing file without `--force`. What the user must
//! still do (required fields nothing fills, columns nothing reads) goes to stderr as well as
//! into the file's comments.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

use crate::cli::{GlobalArgs, InitArgs};
use crate::commands::UsageError;
use crate::config::InputSettings;
use crate::exit::Exit;
use crate::init::{self, Draft, ExportSample, Request};

/// The schema file written beside the config, as its first line names it.
pub const SCHEMA_FILE: &str = "usersync.schema.json";

/// Runs `init`.
pub fn run(global: &GlobalArgs, args: &InitArgs) -> anyhow::Result<Exit> {
    let provider = crate::provider::by_name(&args.provider).ok_or_else(|| {
        UsageError(format!(
            "unknown provider `{}`; known providers: {}",
            args.provider,
            crate::provider::names().join(", ")
        ))
    })?;
    let to_stdout = args.output.as_os_str() == "-";
    if !to_stdout && !args.force && args.output.exists() {
        return Err(UsageError(format!(
            "{} already exists: name another file with -o, or replace it with --force",
            args.output.display()
        ))
        .into());
    }
    let input = InputSettings {
        format: args.format,
        delimiter: args.delimiter,
        encoding: args.encoding,
        sheet: args.sheet.clone(),
    };
    let export = match &args.from {
        Some(path) => Some(
            ExportSample::read(path, &input.options(&InputSettings::default()))
                .with_context(|| format!("cannot read the export {}", path.display()))?,
        ),
        None => None,
    };
    let config_name = if to_stdout {
        "usersync.toml".to_owned()
    } else {
        args.output.display().to_string()
    };
    let draft = init::draft(&Request {
        provider,
        export: export.as_ref(),
        input,
        config_name,
    });
    if to_stdout {
        std::io::stdout().lock().write_all(draft.text.as_bytes())?;
    } else {
        write_config(&args.output, &draft.text, args.force)?;
        let schema = args
            .output
            .parent()
            .unwrap_or(Path::new(""))
            .join(SCHEMA_FILE);
        std::fs::write(&schema, crate::config::json_schema_text())
            .with_context(|| format!("cannot write the config's schema {}", schema.display()))?;
    }
    if !global.quiet {
        eprint!("{}", notes(args, &draft, export.as_ref()));
    }
    Ok(Exit::Ok)
}

/// Writes the config, refusing to replace a file that appeared meanwhile unless `force`.
fn write_config(path: &Path, text: &str, force: bool) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// What the user reads on stderr: what was written, and what is left to do.
fn notes(args: &InitArgs, draft: &Draft, export: Option<&ExportSample>) -> String {
    let mut out = String::new();
    let written = draft.fields.iter().filter(|p| p.fill.is_written()).count();
    if args.output.as_os_str() != "-" {
        out.push_str(&format!(
            "wrote {} ({} of {} {} fields mapped; its schema beside it: {SCHEMA_FILE})\n",
            args.output.display(),
            written,
            draft.fields.len(),
            args.provider
        ));
    }
    let unfilled = draft.unfilled_required();
    if !unfilled.is_empty() {
        out.push_str(&format!(
            "required fields no column fills (every row is rejected until they are mapped): {}\n",
            unfilled.join(", ")
        ));
    }
    if export.is_some() && !draft.unused_columns.is_empty() {
        out.push_str(&format!(
            "columns no field reads: {}\n",
            draft.unused_columns.join(", ")
        ));
    }
    if let Some(problem) = &draft.problem {
        out.push_str(&format!(
            "warning: the config does not load as written: {problem}\n"
        ));
    }
    if let Some(export) = export {
        let config = if args.output.as_os_str() == "-" {
            "FILE".to_owned()
        } else {
            args.output.display().to_string()
        };
        out.push_str(&format!(
            "next: usersync validate -c {config} {}\n",
            export.path.display()
        ));
    }
    out
}
