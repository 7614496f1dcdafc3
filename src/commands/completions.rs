//! `usersync completions SHELL`: the shell's completion script, generated from the clap
//! definitions (clap_complete), so it always knows every command and flag of this binary.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::exit::Exit;

/// Prints the completion script of `args.shell` to stdout.
pub fn run(args: &CompletionsArgs) -> anyhow::Result<Exit> {
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    clap_complete::generate(
        args.shell,
        &mut command,
        name,
        &mut std::io::stdout().lock(),
    );
    Ok(Exit::Ok)
}
