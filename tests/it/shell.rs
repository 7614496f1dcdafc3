//! What an install puts beside the binary: shell completions (`usersync completions SHELL`) and
//! the manual page (`usersync man`), both generated from the clap definitions, so they name
//! every command there is.

use clap::CommandFactory;

use crate::support::{stderr, stdout, tempdir, usersync};

/// Every subcommand's name, as clap knows them.
fn subcommands() -> Vec<String> {
    usersync::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .filter(|name| name != "help")
        .collect()
}

#[test]
fn completions_of_every_shell_name_every_subcommand() {
    let dir = tempdir();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = usersync(dir.path())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for command in subcommands() {
            assert!(script.contains(&command), "{shell}: {command} missing");
        }
    }
    let bash = stdout(
        &usersync(dir.path())
            .args(["completions", "bash"])
            .output()
            .unwrap(),
    );
    assert!(bash.contains("complete -F _usersync"), "{bash}");
    // Flags too, and the providers `init --provider` takes.
    assert!(bash.contains("--deactivate-missing"));
    assert!(bash.contains("meetinglawyers"));
    let out = usersync(dir.path())
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_man_page_is_roff_naming_every_subcommand() {
    let dir = tempdir();
    let out = usersync(dir.path()).arg("man").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.starts_with(".TH"), "{}", &page[..page.len().min(200)]);
    assert!(
        page.contains(".SH NAME") || page.contains(".SH \"NAME\""),
        "{page}"
    );
    for command in subcommands() {
        // roff escapes the hyphens of names (`mock\-server`).
        let escaped = command.replace('-', "\\-");
        assert!(
            page.contains(&command) || page.contains(&escaped),
            "{command} missing"
        );
    }
}
