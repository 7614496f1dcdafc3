//! `usersync config-schema`: the config file's JSON Schema (`crate::config::json_schema`), for
//! editors, to stdout or a file. `docs/usersync.schema.json` is this command's output.

use std::io::Write as _;

use anyhow::Context as _;

use crate::cli::ConfigSchemaArgs;
use crate::exit::Exit;

/// Prints the schema, or writes it to `--output`.
pub fn run(args: &ConfigSchemaArgs) -> anyhow::Result<Exit> {
    let text = crate::config::json_schema_text();
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write the schema to {}", path.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(Exit::Ok)
}
