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
    let page = String::from_utf8(page)?;
    std::io::stdout()
        .lock()
        .write_all(title_first(&page).as_bytes())?;
    Ok(Exit::Ok)
}

/// The page with its `.TH` title line first, as man pages open (clap_mangen puts the definition
/// of its quote string before it; definitions only need to come before their first use, which
/// is after the title).
fn title_first(page: &str) -> String {
    let Some(at) = page.find("\n.TH ") else {
        return page.to_owned();
    };
    let (before, rest) = page.split_at(at + 1);
    let (title, after) = rest.split_at(rest.find('\n').map_or(rest.len(), |i| i + 1));
    format!("{title}{before}{after}")
}
