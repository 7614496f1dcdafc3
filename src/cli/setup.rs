//! The flags of the commands that set usersync up rather than run it: `init` (a first config),
//! `config-schema` (the config's JSON Schema for editors) and `completions` (shell completion
//! scripts). `man` takes no flags of its own.

use std::path::PathBuf;

use clap::builder::PossibleValuesParser;
use clap::Args;

use crate::input::{parse_delimiter, Encoding, Format};

/// `usersync init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The provider the config is for.
    #[arg(long, value_name = "NAME", value_parser = PossibleValuesParser::new(crate::provider::names()))]
    pub provider: String,
    /// An HR export (CSV, JSONL or a workbook) whose columns fill the provider's fields:
    /// matching fields are written active, the others commented out.
    #[arg(long, value_name = "EXPORT")]
    pub from: Option<PathBuf>,
    /// Where to write the config; `-` for stdout.
    #[arg(short, long, value_name = "FILE", default_value = "usersync.toml")]
    pub output: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
    /// The export's format [default: from the extension].
    #[arg(long, value_name = "csv|jsonl|xlsx|xls|ods", value_parser = parse_format, requires = "from")]
    pub format: Option<Format>,
    /// The export's CSV delimiter [default: detected from the header].
    #[arg(long, value_name = "D", value_parser = parse_delimiter, requires = "from")]
    pub delimiter: Option<u8>,
    /// The export's text encoding, any WHATWG label (utf-8, windows-1252, iso-8859-15,
    /// utf-16le...) [default: utf-8; a byte order mark wins].
    #[arg(long, value_name = "E", value_parser = parse_encoding, requires = "from")]
    pub encoding: Option<Encoding>,
    /// The sheet of a workbook export: its name, or its position counting from 1
    /// [default: the first worksheet].
    #[arg(long, value_name = "NAME|INDEX", requires = "from")]
    pub sheet: Option<String>,
}

/// `usersync config-schema`.
#[derive(Debug, Args)]
pub struct ConfigSchemaArgs {
    /// Write the schema to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `usersync completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

fn parse_encoding(s: &str) -> Result<Encoding, String> {
    s.parse()
}
