//! Credentials kept in files (`{ file = "..." }` in the config, or `NAME_FILE` beside an unset
//! `NAME`): they reach the provider, trimmed, and never the output; a file that cannot be used
//! stops the run before any request, with one error naming the key and the path, never the
//! content. The same guarantees as the environment's credentials (`secrets`).

use std::path::Path;
use std::process::Output;

use crate::support::reliability::*;
use crate::support::{tempdir, usersync};
use usersync::mock::FaultConfig;
use usersync::provider::Credentials;

const MARKER: &str = "SECRET-MARKER-7f3a-file";

/// A MeetingLawyers target whose `api_key` is read from `secrets/api_key` (relative to the
/// config) and whose `secret_key` from `ML_SECRET_KEY`, or the file `ML_SECRET_KEY_FILE` names.
fn config() -> String {
    ml_config("").replace(
        r#"credentials = { api_key = "ML_API_KEY", secret_key = "ML_SECRET_KEY" }"#,
        r#"credentials = { api_key = { file = "secrets/api_key" }, secret_key = "ML_SECRET_KEY" }"#,
    )
}

fn good() -> Credentials {
    let mut c = Credentials::new();
    c.insert("api_key", format!("{MARKER}-api"));
    c.insert("secret_key", format!("{MARKER}-secret"));
    c
}

/// `sync` of `export.csv` to `mock`, with `env` (and no credential variable from the test's own
/// environment).
fn sync(dir: &Path, mock: &TestMock, env: &[(&str, String)]) -> Output {
    let port = mock
        .url()
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let ledger = format!("ledger-{port}.db");
    usersync(dir)
        .args(["sync", "export.csv", "-c", "usersync.toml", "-t", "t"])
        .args(["--ledger", &ledger, "--base-url", &mock.url(), "-vvv"])
        .env_remove("ML_API_KEY")
        .env_remove("ML_SECRET_KEY")
        .env_remove("ML_SECRET_KEY_FILE")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap()
}

/// Every file under `dir` but the secret files themselves, as text.
fn outputs_and_files(out: &Output, dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all = vec![
        ("stdout".to_owned(), out.stdout.clone()),
        ("stderr".to_owned(), out.stderr.clone()),
    ];
    for entry in walk(dir) {
        if !entry.starts_with(dir.join("secrets")) {
            all.push((entry.display().to_string(), std::fs::read(&entry).unwrap()));
        }
    }
    all
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn assert_no_marker(all: &[(String, Vec<u8>)]) {
    for (name, bytes) in all {
        assert!(
            !bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()),
            "a credential in {name}"
        );
    }
}

#[test]
fn credentials_from_files_reach_the_provider_trimmed_and_never_the_output() {
    let dir = tempdir();
    write(dir.path(), "usersync.toml", config());
    write(dir.path(), "export.csv", csv_of(&people(5, 11)));
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    // An editor's final newline, a stray space: trimmed.
    write(&secrets, "api_key", format!(" {MARKER}-api\n"));
    let secret_file = write(&secrets, "secret_key", format!("{MARKER}-secret\r\n\n"));
    let mock = TestMock::start("meetinglawyers", FaultConfig::default(), good());

    // `secret_key` through the NAME_FILE convention, `ML_SECRET_KEY` being unset.
    let env = [("ML_SECRET_KEY_FILE", secret_file.display().to_string())];
    let out = sync(dir.path(), &mock, &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mock.users().len(), 5, "the mock accepted the credentials");
    assert_no_marker(&outputs_and_files(&out, dir.path()));

    // Set, the variable wins over its `_FILE` twin (here pointing at nothing): a fresh
    // provider and ledger, so that the run sends.
    let mock = TestMock::start("meetinglawyers", FaultConfig::default(), good());
    let env = [
        ("ML_SECRET_KEY", format!("{MARKER}-secret")),
        ("ML_SECRET_KEY_FILE", "/nonexistent/secret".to_owned()),
    ];
    let out = sync(dir.path(), &mock, &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(mock.users().len(), 5);
}

#[test]
fn an_unusable_secret_file_is_one_error_naming_the_key_and_the_path_never_the_content() {
    let dir = tempdir();
    write(dir.path(), "usersync.toml", config());
    write(dir.path(), "export.csv", csv_of(&people(3, 12)));
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    let secret_file = write(&secrets, "secret_key", format!("{MARKER}-secret"));
    let mock = TestMock::start("meetinglawyers", FaultConfig::default(), good());
    // Relative to the config file's folder, as `-c usersync.toml` names it.
    let api_key_path = "secrets/api_key";
    let secret_env = [("ML_SECRET_KEY_FILE", secret_file.display().to_string())];

    // The config's file: missing, then blank, then not text (holding the marker).
    let cases: [(Option<Vec<u8>>, &str); 3] = [
        (None, "cannot be read"),
        (Some(b" \n\t\n".to_vec()), "is empty"),
        (
            Some([MARKER.as_bytes(), b"\xff\xfe"].concat()),
            "is not UTF-8 text",
        ),
    ];
    for (content, why) in cases {
        if let Some(content) = &content {
            write(&secrets, "api_key", content);
        }
        let out = sync(dir.path(), &mock, &secret_env);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        let error: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(error.len(), 1, "{stderr}");
        assert!(
            error[0].contains("`targets.t.credentials.api_key`")
                && error[0].contains(&format!("the file {api_key_path} {why}")),
            "{stderr}"
        );
        assert_no_marker(&outputs_and_files(&out, dir.path()));
    }
    assert_eq!(
        mock.stats().requests,
        0,
        "nothing is sent without the credentials"
    );

    // `NAME_FILE` naming an empty file: the key, the variables and the path.
    write(&secrets, "api_key", format!("{MARKER}-api"));
    let empty = write(&secrets, "empty", "\n");
    let out = sync(
        dir.path(),
        &mock,
        &[("ML_SECRET_KEY_FILE", empty.display().to_string())],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`targets.t.credentials.secret_key`")
            && stderr.contains(&format!(
                "`ML_SECRET_KEY` is not set and `ML_SECRET_KEY_FILE` names {}, which is empty",
                empty.display()
            )),
        "{stderr}"
    );
    // Neither set: both are named.
    let out = sync(dir.path(), &mock, &[]);
    assert!(
        text(&out.stderr).contains("nor is `ML_SECRET_KEY_FILE` naming a file that holds it"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(mock.stats().requests, 0);

    // `validate` sends nothing, so it reads no credential: a missing file does not stop it.
    std::fs::remove_file(secrets.join("api_key")).unwrap();
    let out = usersync(dir.path())
        .args(["validate", "export.csv", "-c", "usersync.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn the_webhook_url_may_come_from_the_file_its_variable_names() {
    let dir = tempdir();
    write(
        dir.path(),
        "usersync.toml",
        format!("{}\n[notify]\nurl_env = \"HOOK\"\n", ml_config("")),
    );
    // Nothing listens on port 1: read from the file, the URL is tried (exit 1), never shown
    // beyond its origin.
    let url_file = write(
        dir.path(),
        "hook",
        format!("http://127.0.0.1:1/hooks/{MARKER}\n"),
    );
    let notify = |env: &[(&str, String)]| {
        usersync(dir.path())
            .args(["notify", "--test", "-c", "usersync.toml"])
            .env_remove("HOOK")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap()
    };
    let out = notify(&[("HOOK_FILE", url_file.display().to_string())]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(said.contains("http://127.0.0.1:1"), "{said}");
    assert!(!said.contains(MARKER), "{said}");

    let empty = write(dir.path(), "empty", "");
    let out = notify(&[("HOOK_FILE", empty.display().to_string())]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!(
            "`notify.url_env`: `HOOK` is not set and `HOOK_FILE` names {}, which is empty",
            empty.display()
        )),
        "{}",
        text(&out.stderr)
    );
}

/// A rehearsal on the built-in mock (`base_url = "mock"`) reads the credentials where the
/// config names them, as the real run would: a file that is not there stops it, naming the key
/// and the path, instead of the mock's demo values quietly standing in.
#[test]
fn a_rehearsal_on_the_builtin_mock_reads_credential_files_too() {
    let dir = tempdir();
    assert!(config().contains("base_url = \"mock\""));
    std::fs::write(dir.path().join("usersync.toml"), config()).unwrap();
    std::fs::write(
        dir.path().join("export.csv"),
        "id,email,plan,sex,born\nE1,ana@example.com,premium,F,01/02/1990\n",
    )
    .unwrap();
    let rehearse = || {
        usersync(dir.path())
            .args(["sync", "export.csv", "-c", "usersync.toml", "-t", "t"])
            .env_remove("ML_API_KEY")
            .env("ML_SECRET_KEY", "rehearsal-secret")
            .output()
            .unwrap()
    };
    let out = rehearse();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("credentials.api_key"), "{stderr}");
    assert!(stderr.contains("secrets/api_key"), "{stderr}");

    std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
    std::fs::write(dir.path().join("secrets/api_key"), "rehearsal-key\n").unwrap();
    let out = rehearse();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
