//! The binary's allocator as mimalloc itself reports it: freed memory goes back to the OS (the
//! nightly re-sync's peak memory depends on it), unless mimalloc's own environment says otherwise.

use crate::support::usersync;

/// The value mimalloc reports for `option` at start-up (`MIMALLOC_VERBOSE=1`), with `env` set.
fn reported(option: &str, env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = usersync(dir.path())
        .arg("--version")
        .env("MIMALLOC_VERBOSE", "1")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let prefix = format!("option '{option}': ");
    stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix(&prefix).map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| panic!("mimalloc did not report {option}:\n{stderr}"))
}

#[test]
fn arenas_are_not_committed_up_front_unless_mimalloc_is_told_to() {
    assert_eq!(reported("arena_eager_commit", &[]), "0");
    assert_eq!(
        reported(
            "arena_eager_commit",
            &[("MIMALLOC_ARENA_EAGER_COMMIT", "1")]
        ),
        "1"
    );
}
