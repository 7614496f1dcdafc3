//! The `usersync` binary: parse the command line, set up logging, run the command, and turn its
//! result into an exit code. Everything else lives in the library.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use usersync::cli::{Cli, GlobalArgs, LogFormat};
use usersync::commands;

/// mimalloc: every row allocates its payload's strings and frees them soon after; with glibc's
/// allocator that was a quarter of the time of `validate` (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `arena_eager_commit` (its `options.c`): on Linux it commits each 1 GiB arena up
/// front, and freed pages stay resident; off, they go back to the OS. Measured on a nightly
/// re-sync of a million users: 25 MB less peak memory and no more CPU (BENCHMARKS.md). mimalloc
/// reserves its first arena before `main`, so the default is set by a constructor that runs
/// before mimalloc's own (a lower `.init_array` priority); `MIMALLOC_ARENA_EAGER_COMMIT` still
/// overrides it, as mimalloc reads its environment after.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array.00101"]
static HAND_FREED_MEMORY_BACK: extern "C" fn() = {
    extern "C" fn set() {
        /// The option's place in mimalloc's `mi_option_e`; a test reads the options mimalloc
        /// reports (`MIMALLOC_VERBOSE=1`), so a moved option is caught.
        const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
        // SAFETY: writes one integer of mimalloc's option table; nothing else runs yet.
        unsafe { libmimalloc_sys::mi_option_set_default(MI_OPTION_ARENA_EAGER_COMMIT, 0) };
    }
    set
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.global);
    match commands::run(cli) {
        Ok(exit) => exit.into(),
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            commands::exit_for(&err).into()
        }
    }
}

/// Logs go to stderr (stdout is for command output). `-q` errors only, default warnings,
/// `-v` info, `-vv` debug, `-vvv` trace, for usersync's own events; other crates stay at warn so
/// that no HTTP library logs request details. `USERSYNC_LOG` (an EnvFilter) overrides all this.
fn init_tracing(global: &GlobalArgs) {
    let level = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("USERSYNC_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,usersync={level}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match global.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .init(),
    }
}
