//! What the test areas share, defined once: the `usersync` binary run from a test's directory
//! with nothing from the environment, and the helpers each family of tests builds on.

// A test's own directory, the validate JSON output read back, text diffs (`cli`).
#[macro_use]
pub mod cli;
// Tests that measure time or rates never run beside the heaviest loads.
pub mod machine;
// The MeetingLawyers mock served by a runtime of the test process.
pub mod mock;
// Mocks of any provider in the process, generated exports, ledger checks, nights of the sample.
pub mod reliability;
// The nightly tests' HR export, directory and first night.
pub mod nightly;
// The providers' own request examples, copied once.
pub mod page_examples;
// The adaptive concurrency and nightly window tests' mock, exports and measurements.
pub mod adaptive;
// An adapter talking to its own mock through its real session.
pub mod providers;
// A ledger made by real syncs, read by the report tests.
pub mod report_fixture;
// The sync tests' export with its expected results, workspace and assertions.
pub mod sync;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `usersync` binary, run in `dir`, with no config or log settings from the environment.
pub fn usersync(dir: &Path) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("usersync"));
    cmd.current_dir(dir)
        .env_remove("USERSYNC_CONFIG")
        .env_remove("USERSYNC_LOG")
        .env_remove("RUST_LOG");
    cmd
}

/// The demo credentials of `provider` as the environment variables the sample config's target
/// of that provider names (`ML_API_KEY`, ...), which the tests' own configs name too. A credential
/// the sample does not name takes the same prefix (`FAVEO_USER_NAME`).
pub fn demo_env(provider: &str) -> Vec<(String, String)> {
    use secrecy::ExposeSecret;
    let target = sample_target(provider);
    let prefix = target
        .credentials
        .iter()
        .find_map(|(name, var)| var.strip_suffix(&format!("_{}", name.to_uppercase())))
        .unwrap_or_else(|| panic!("{}: credentials named PREFIX_NAME", target.name))
        .to_string();
    let demo = usersync::mock::demo_credentials(provider);
    demo.names()
        .map(|name| {
            let value = demo.get(name).expect("listed").expose_secret().to_owned();
            let var = target
                .credentials
                .get(name)
                .cloned()
                .unwrap_or_else(|| format!("{prefix}_{}", name.to_uppercase()));
            (var, value)
        })
        .collect()
}

/// The sample config's target of `provider`: a new provider is covered by the tests that walk
/// the registry once the sample config has a target for it (they fail until it has).
pub fn sample_target(provider: &str) -> usersync::config::Target {
    let config =
        usersync::config::load(&samples().join("usersync.toml")).expect("the sample config loads");
    config
        .targets
        .into_values()
        .find(|t| t.provider.name() == provider)
        .unwrap_or_else(|| panic!("the sample config has no {provider} target"))
}

/// A fresh directory for one test, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("usersync-test-")
        .tempdir()
        .expect("a temporary directory")
}

/// The repository's `samples/` folder.
pub fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// The stdout of a finished command, as text.
pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The stderr of a finished command, as text.
pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The permission bits of a file.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
