//! `usersync man`: the manual page, in roff, generated from the clap definitions (clap_mangen):
//! the synopsis, every global flag, and one entry per subcommand with its description.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::Exit;

/// Prints the manual page to stdout.
pub fn run() -> anyhow::Result<Exit> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    std::io::stdout().lock().write_all(&page)?;
    Ok(Exit::Ok)
}
