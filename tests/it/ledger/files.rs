//! The ledger's files: modes, schema versions, unusable paths, and the per-target run lock.

use super::*;

#[cfg(unix)]
#[tokio::test]
async fn ledger_and_its_wal_are_private() {
    let dir = TempDir::new().unwrap();
    let (path, ledger, run) = ledger_with_run(&dir);
    let (handle, _join) = spawn_writer(&path);
    handle
        .record_outcome(run, synced(&ledger, 2, Operation::Create, &user(1), None))
        .await
        .unwrap();
    handle.flush().await.unwrap();
    assert_eq!(mode(&path), 0o600, "ledger mode");
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    let shm = PathBuf::from(format!("{}-shm", path.display()));
    assert!(wal.exists(), "the ledger runs in WAL mode");
    assert_eq!(mode(&wal), 0o600, "-wal mode");
    assert_eq!(mode(&shm), 0o600, "-shm mode");
    let lock = ledger.lock_target("ml").unwrap();
    assert_eq!(mode(lock.path()), 0o600, "lock file mode");
}

#[cfg(unix)]
#[test]
fn an_existing_world_readable_ledger_is_tightened() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new().unwrap();
    let path = ledger_in(&dir);
    drop(Ledger::open(&path).unwrap());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(Ledger::open(&path).unwrap());
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn a_ledger_from_a_newer_usersync_is_refused() {
    let dir = TempDir::new().unwrap();
    let path = ledger_in(&dir);
    drop(Ledger::open(&path).unwrap());
    let newer = usersync::ledger::schema_version() + 5;
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", newer)
        .unwrap();

    let err = Ledger::open(&path).unwrap_err();
    assert!(
        matches!(err, LedgerError::TooNew { found, .. } if found == newer),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains(&format!("schema version {newer}")), "{msg}");
    assert!(msg.contains("newer usersync"), "{msg}");
    // The file is left as it was.
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version as usize, newer);
}

#[test]
fn an_unwritable_directory_is_named() {
    let dir = TempDir::new().unwrap();
    let locked = dir.path().join("readonly");
    std::fs::create_dir(&locked).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o500)).unwrap();
    }
    // Root ignores directory modes; /sys refuses new files even to root.
    let probe = locked.join("probe");
    let target_dir = if std::fs::write(&probe, b"").is_ok() {
        PathBuf::from("/sys")
    } else {
        locked.clone()
    };
    let path = target_dir.join("usersync.db");

    let err = Ledger::open(&path).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, LedgerError::Create { .. }), "{err:?}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(
        msg.contains(&format!(
            "the directory {} is not writable",
            target_dir.display()
        )),
        "{msg}"
    );
}

#[test]
fn a_missing_directory_is_named() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("nope").join("usersync.db");
    let msg = Ledger::open(&path).unwrap_err().to_string();
    assert!(msg.contains("does not exist"), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
}

#[test]
fn a_file_that_is_not_a_ledger_is_refused_by_name() {
    let dir = TempDir::new().unwrap();
    let path = ledger_in(&dir);
    std::fs::write(&path, vec![b'x'; 8192]).unwrap();
    let msg = Ledger::open(&path).unwrap_err().to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    let msg = Ledger::open(dir.path()).unwrap_err().to_string();
    assert!(msg.contains("it is a directory"), "{msg}");
}

#[test]
fn ledger_types_can_move_between_threads() {
    fn send<T: Send>() {}
    fn shared<T: Send + Sync + Clone>() {}
    send::<Ledger>();
    send::<usersync::ledger::TargetLock>();
    shared::<LedgerHandle>();
    shared::<usersync::ledger::PayloadHasher>();
    send::<usersync::ledger::Snapshot>();
}

// ---- the run lock ----

#[test]
fn a_second_sync_of_the_same_target_is_refused_until_the_first_ends() {
    let dir = TempDir::new().unwrap();
    let path = ledger_in(&dir);
    let first = Ledger::open(&path).unwrap();
    let second = Ledger::open(&path).unwrap();

    let held = first.lock_target("ml").unwrap();
    let err = second.lock_target("ml").unwrap_err();
    let msg = err.to_string();
    let expected = format!(
        "another usersync run (pid {}) is syncing target ml since ",
        std::process::id()
    );
    assert!(msg.starts_with(&expected), "{msg}");
    // Another target of the same ledger is independent.
    let other = second.lock_target("gnoss").unwrap();

    drop(held);
    let again = second.lock_target("ml").unwrap();
    assert_eq!(again.target(), "ml");
    drop(other);
}

/// The child half of the test below: takes the lock, says so, and waits until killed.
#[test]
fn lock_holder_child() {
    let Ok(path) = std::env::var("USERSYNC_TEST_LOCK_HOLDER") else {
        return;
    };
    let ledger = Ledger::open(&path).unwrap();
    let _lock = ledger.lock_target("ml").unwrap();
    // Straight to the process's stdout: the test harness captures `println!`.
    let mut out = std::io::stdout();
    std::io::Write::write_all(&mut out, b"\nusersync-test-lock-held\n").unwrap();
    std::io::Write::flush(&mut out).unwrap();
    // Waits for the parent to kill us, to close our stdin (it failed), or at most a minute (so
    // that a broken parent can never hang the suite).
    let (closed, stdin_closed) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = std::io::Read::read(&mut std::io::stdin(), &mut [0u8; 1]);
        let _ = closed.send(());
    });
    let _ = stdin_closed.recv_timeout(std::time::Duration::from_secs(60));
}

#[cfg(unix)]
#[test]
fn a_lock_left_by_a_killed_process_does_not_block_the_next_run() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let dir = TempDir::new().unwrap();
    let path = ledger_in(&dir);
    drop(Ledger::open(&path).unwrap());
    // The test's name in this binary: its module path less the crate's name.
    let (_, module) = module_path!().split_once("::").unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--exact")
        .arg(format!("{module}::lock_holder_child"))
        .args(["--nocapture", "--test-threads=1"])
        .env("USERSYNC_TEST_LOCK_HOLDER", &path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    // The harness prints the test's name on the same stream first.
    while !line.contains("usersync-test-lock-held") {
        line.clear();
        assert_ne!(
            out.read_line(&mut line).unwrap(),
            0,
            "the child ended before locking"
        );
    }

    let ledger = Ledger::open(&path).unwrap();
    let err = ledger.lock_target("ml").unwrap_err();
    let expected = format!(
        "another usersync run (pid {}) is syncing target ml",
        child.id()
    );
    assert!(err.to_string().starts_with(&expected), "{err}");

    child.kill().unwrap(); // SIGKILL: no destructor runs in the child
    child.wait().unwrap();
    ledger.lock_target("ml").unwrap();
}

/// The child half of the test below: opens the ledger, reads it, and closes it, as
/// `usersync report` does while a sync runs.
#[test]
fn ledger_visitor_child() {
    let Ok(path) = std::env::var("USERSYNC_TEST_LEDGER_VISITOR") else {
        return;
    };
    let ledger = Ledger::open(&path).unwrap();
    assert!(ledger.last_run("ml").unwrap().is_some());
}

#[cfg(unix)]
#[test]
fn a_ledger_open_twice_in_a_process_is_still_seen_in_use_by_another() {
    let dir = TempDir::new().unwrap();
    let (path, first, run) = ledger_with_run(&dir);
    // A sync has the ledger open more than once (the pass's connection and the writer's).
    let second = Ledger::open(&path).unwrap();
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    assert!(wal.exists(), "the run's begin is in the write-ahead log");
    // Another process opens the ledger and closes it. Had this process lost its lock on the
    // file, that one would take itself for the last user and remove the log under this one.
    let (_, module) = module_path!().split_once("::").unwrap();
    let visit = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--exact")
        .arg(format!("{module}::ledger_visitor_child"))
        .args(["--test-threads=1"])
        .env("USERSYNC_TEST_LEDGER_VISITOR", &path)
        .output()
        .unwrap();
    assert!(visit.status.success(), "{visit:?}");
    assert!(
        wal.exists(),
        "another process removed the write-ahead log of a ledger this one has open"
    );
    first
        .finish_run(run, RunStatus::Completed, Some(0), &RunCounts::default())
        .unwrap();
    let last = second.last_run("ml").unwrap().unwrap();
    assert_eq!(last.status, RunStatus::Completed);
}
