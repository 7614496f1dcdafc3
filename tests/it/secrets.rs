//! Secrets and data: credentials never appear in logs (`-vvv`, `--log-format json`),
//! in the ledger or its side files, in reports, in error messages, or in `Debug` output; GNOSS
//! nonces are never reused, retries included. (TLS: `tls`.)
//!
//! Every credential of every provider is a marker (`SECRET-MARKER-7f3a-...`) accepted by a mock
//! in the test process; every byte usersync produces is then searched for the marker, its
//! Base64 forms (HTTP Basic) and the bearer tokens the mock issued.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use base64::Engine as _;
use secrecy::ExposeSecret;

use crate::support::machine;
use crate::support::reliability::*;
use usersync::mock::FaultConfig;
use usersync::provider::Credentials;

const MARKER: &str = "SECRET-MARKER-7f3a";

/// The sample config's target for each provider of the registry, with the environment
/// variable the sample names for each of its credentials: a new provider is covered once the
/// sample config has a target for it (the test fails until it has).
fn sample_targets() -> Vec<(String, &'static str, BTreeMap<String, String>)> {
    usersync::provider::registry()
        .iter()
        .map(|provider| {
            let target = crate::support::sample_target(provider.name());
            assert!(
                !target.credentials.is_empty(),
                "{}: credentials",
                target.name
            );
            (target.name, provider.name(), target.credentials)
        })
        .collect()
}

fn markers(names: &[&str], flavour: &str) -> Credentials {
    let mut c = Credentials::new();
    for name in names {
        c.insert(*name, format!("{MARKER}-{flavour}-{name}"));
    }
    c
}

/// `creds` as the environment variables `vars` names (credential name -> variable).
fn env_of(vars: &BTreeMap<String, String>, creds: &Credentials) -> Vec<(String, String)> {
    creds
        .names()
        .map(|n| {
            let value = creds.get(n).unwrap().expose_secret().to_owned();
            (vars[n].clone(), value)
        })
        .collect()
}

/// The sample config, with Abitmedia's identity routes on the mock (the sample's `base_url =
/// "mock"` does that by itself; a `--base-url` does not).
fn sample_config(dir: &Path) -> PathBuf {
    let mut text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/usersync.toml"),
    )
    .unwrap();
    text.push_str("\n[targets.portal.options]\nauth_url = \"/\"\n");
    write(dir, "usersync.toml", text)
}

fn sample_export() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/hr_export.csv")
}

/// What a secret can look like in output: itself, and its Base64 forms at every alignment
/// (an HTTP Basic header carries `base64(email:password)`).
fn needles(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_owned()];
    for pad in 0..3usize {
        let mut bytes = vec![b'\0'; pad];
        bytes.extend_from_slice(secret.as_bytes());
        let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
        // Only the groups made of the secret's bytes alone.
        let start = pad.div_ceil(3) * 4;
        let end = (pad + secret.len()) / 3 * 4;
        if end > start + 8 {
            out.push(encoded[start..end].to_owned());
        }
    }
    out
}

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path, bytes));
        }
    }
    out
}

fn find(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Asserts that no needle occurs in any output or file.
fn assert_nothing_leaks(outputs: &[(String, Vec<u8>)], dir: &Path, needles: &[String]) {
    let mut all: Vec<(String, Vec<u8>)> = outputs.to_vec();
    all.extend(
        files(dir)
            .into_iter()
            .map(|(p, b)| (p.display().to_string(), b)),
    );
    assert!(all.iter().any(|(n, _)| n.ends_with(".db")), "no ledger?");
    for (name, bytes) in &all {
        for needle in needles {
            assert!(!find(bytes, needle), "{needle:?} found in {name}");
        }
    }
}

/// Runs `cmd` to its end; while it runs, once the mock has seen a few requests, copies the
/// ledger's `-wal` and `-shm` (they are gone once the process closes the ledger).
fn run_copying_wal(mut cmd: Command, mock: &TestMock, ledger: &Path) -> Output {
    let before = mock.stats().requests;
    let child = std::thread::spawn(move || cmd.output().unwrap());
    mock.wait_for_requests(before + 40, Duration::from_secs(60), || child.is_finished());
    for suffix in ["-wal", "-shm"] {
        let mut side = ledger.as_os_str().to_owned();
        side.push(suffix);
        let mut copy = side.clone();
        copy.push(".copy");
        let _ = std::fs::copy(&side, &copy);
    }
    child.join().unwrap()
}

fn sync(dir: &Path, target: &str, ledger: &str, mock: &TestMock) -> Command {
    let mut cmd = usersync(dir);
    cmd.arg("sync")
        .arg(sample_export())
        .args(["-c", "usersync.toml", "-t", target, "--ledger", ledger])
        .args([
            "--base-url",
            &mock.url(),
            "--rate",
            "1000",
            "--concurrency",
            "16",
        ])
        .arg("-vvv");
    cmd
}

/// Every report format of the last run in `ledger`, to files (which must be private) and to
/// stdout; returns the outputs (the files stay in `dir`, where the search reads them).
fn reports(dir: &Path, target: &str, ledger: &str) -> Vec<(String, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    let mut outputs = Vec::new();
    for format in ["md", "json", "csv", "html"] {
        let file = format!("report-{target}.{format}");
        let out = usersync(dir)
            .args(["report", "last", "-c", "usersync.toml", "-t", target])
            .args(["--ledger", ledger, "-o", &file, "-vvv"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let mode = std::fs::metadata(dir.join(&file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
        outputs.extend(labelled(&format!("report {format}"), &out));
    }
    let out = usersync(dir)
        .args(["report", "last", "-c", "usersync.toml", "-t", target])
        .args(["--ledger", ledger])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    outputs.extend(labelled("report to stdout", &out));
    outputs
}

fn labelled(label: &str, out: &Output) -> Vec<(String, Vec<u8>)> {
    vec![
        (format!("{label} stdout"), out.stdout.clone()),
        (format!("{label} stderr"), out.stderr.clone()),
    ]
}

#[test]
fn full_syncs_and_auth_failures_at_maximum_verbosity_leak_no_credential() {
    let _machine = machine::shared_blocking();
    for (target, provider, vars) in sample_targets() {
        let target = target.as_str();
        let names: Vec<&str> = vars.keys().map(String::as_str).collect();
        let dir = tempdir();
        sample_config(dir.path());
        let good = markers(&names, "ok");
        // A fresh provider for each run (Faveo cannot adopt users a forgotten run created:
        // it needs their ids), faults on logins too.
        let faulty = || {
            TestMock::start(
                provider,
                FaultConfig {
                    seed: Some(77),
                    fail_rate: 0.1,
                    throttle_rate: 0.03,
                    drop_rate: 0.02,
                    retry_after_secs: 0,
                    include_auth: true,
                    ..FaultConfig::default()
                },
                good.clone(),
            )
        };
        let mut tokens = Vec::new();
        let mut outputs = Vec::new();

        // A full sync, human logs at trace level for every crate (HTTP and TLS included): the
        // sample's bad rows are rejected (exit 3).
        let mock = faulty();
        let mut cmd = sync(dir.path(), target, "human.db", &mock);
        cmd.envs(env_of(&vars, &good)).env("USERSYNC_LOG", "trace");
        let out = run_copying_wal(cmd, &mock, &dir.path().join("human.db"));
        assert_eq!(
            out.status.code(),
            Some(3),
            "{target}: {}",
            text(&out.stderr)
        );
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("TRACE") || stderr.contains("DEBUG"),
            "{stderr}"
        );
        outputs.extend(labelled("human", &out));

        tokens.extend(mock.state().tokens().issued());
        outputs.extend(reports(dir.path(), target, "human.db"));

        // The same in JSON logs at -vvv, into another ledger.
        let mock = faulty();
        let mut cmd = sync(dir.path(), target, "json.db", &mock);
        cmd.args(["--log-format", "json"])
            .envs(env_of(&vars, &good));
        let out = run_copying_wal(cmd, &mock, &dir.path().join("json.db"));
        assert_eq!(
            out.status.code(),
            Some(3),
            "{target}: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stderr).starts_with('{'), "{}", text(&out.stderr));
        outputs.extend(labelled("json", &out));
        tokens.extend(mock.state().tokens().issued());

        // Credentials the provider refuses: the run aborts, naming no credential.
        let bad = markers(&names, "refused");
        let mut cmd = sync(dir.path(), target, "refused.db", &mock);
        cmd.envs(env_of(&vars, &bad));
        mock.set_faults(FaultConfig::default());
        let out = cmd.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{target}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stdout).contains("refused the credentials"),
            "{target}: {}",
            text(&out.stdout)
        );
        outputs.extend(labelled("refused", &out));

        // Logs name lines, user keys, fields and codes, never personal values (reports do
        // name people: they are files for HR).
        for (name, bytes) in outputs.iter().filter(|(n, _)| !n.starts_with("report")) {
            assert!(!find(bytes, "@empresa.example.com"), "an e-mail in {name}");
        }

        let mut secrets: Vec<String> = needles(MARKER);
        for creds in [&good, &bad] {
            for name in creds.names() {
                secrets.extend(needles(creds.get(name).unwrap().expose_secret()));
            }
        }
        // Bearer tokens the mock handed out (Faveo, Abitmedia) are secrets too.
        secrets.extend(tokens);
        assert_nothing_leaks(&outputs, dir.path(), &secrets);
    }
}

#[test]
fn credentials_in_a_base_url_stay_out_of_logs_and_the_ledger() {
    let dir = tempdir();
    write(dir.path(), "usersync.toml", ml_config(""));
    let people = people(5, 3);
    write(dir.path(), "export.csv", csv_of(&people));
    let mock = TestMock::start("meetinglawyers", FaultConfig::default(), Credentials::new());
    let secret = format!("{MARKER}-in-url");
    let url = mock
        .url()
        .replace("http://", &format!("http://operator:{secret}@"));
    // `sync` of the export to the ledger `ledger.db`, with `base_url` given as `args` say.
    let sync = |args: &[&str]| {
        usersync(dir.path())
            .args(["sync", "export.csv", "-c", "usersync.toml", "-t", "t"])
            .args(["--ledger", "ledger.db", "-vvv"])
            .args(args)
            .envs(demo_env("meetinglawyers"))
            .output()
            .unwrap()
    };
    let out = sync(&["--base-url", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The same, as one `--base-url=URL` argument.
    let joined = sync(&[&format!("--base-url={url}")]);
    assert_eq!(joined.status.code(), Some(0), "{}", text(&joined.stderr));
    // A base URL usersync refuses is not repeated with its password either.
    let refused = sync(&["--base-url", &format!("{url}?x=1")]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("query"),
        "{}",
        text(&refused.stderr)
    );
    let runs = assert_ledger_consistent(&dir.path().join("ledger.db"));
    let line = runs[0].command_line.clone().unwrap_or_default();
    assert!(line.contains("--base-url http://127.0.0.1:"), "{line}");
    let line = runs[1].command_line.clone().unwrap_or_default();
    assert!(line.contains("--base-url=http://127.0.0.1:"), "{line}");
    let mut outputs = labelled("sync", &out);
    outputs.extend(labelled("sync --base-url=", &joined));
    outputs.extend(labelled("refused sync", &refused));
    assert_nothing_leaks(&outputs, dir.path(), &needles(&secret));
}

#[test]
fn debug_output_never_shows_a_credential() {
    use usersync::provider::{abitmedia, faveo, gnoss, meetinglawyers, scim, TargetContext};
    let all = markers(
        &[
            "api_key",
            "secret_key",
            "consumer_key",
            "consumer_secret",
            "token",
            "token_secret",
            "email",
            "password",
            "client_id",
            "client_secret",
        ],
        "debug",
    );
    let mut logins = all.clone();
    logins = {
        // Faveo and Abitmedia prefer a given token; without one they keep the login secrets.
        let mut c = Credentials::new();
        for name in logins.names().filter(|n| *n != "token") {
            c.insert(name, logins.get(name).unwrap().expose_secret().to_owned());
        }
        c
    };
    let url = url::Url::parse("https://api.example.com/").unwrap();
    let context = TargetContext {
        base_url: url.clone(),
        credentials: all.clone(),
        options: usersync::provider::by_name("meetinglawyers")
            .unwrap()
            .parse_options(&toml::Table::new())
            .unwrap(),
    };
    let shown = [
        format!("{all:?} {all:#?}"),
        format!("{context:?} {context:#?}"),
        format!(
            "{:?}",
            meetinglawyers::session::HeaderSession::new(&all).unwrap()
        ),
        format!(
            "{:#?}",
            gnoss::session::OAuthSession::new(&all, Default::default()).unwrap()
        ),
        format!(
            "{:?}",
            faveo::session::FaveoSession::new(&url, &all).unwrap()
        ),
        format!(
            "{:#?}",
            faveo::session::FaveoSession::new(&url, &logins).unwrap()
        ),
        format!(
            "{:?}",
            abitmedia::session::AbitmediaSession::new(url.clone(), &all).unwrap()
        ),
        format!(
            "{:#?}",
            abitmedia::session::AbitmediaSession::new(url.clone(), &logins).unwrap()
        ),
        format!(
            "{:?}",
            scim::session::ScimSession::new(&url, &all, &scim_options("")).unwrap()
        ),
        format!(
            "{:#?}",
            scim::session::ScimSession::new(
                &url,
                &logins,
                &scim_options("token_url = \"oauth/token\"")
            )
            .unwrap()
        ),
    ];
    for text in &shown {
        assert!(!text.contains(MARKER), "{text}");
    }
    assert!(
        shown[0].contains("api_key"),
        "names are shown: {}",
        shown[0]
    );
}

/// A SCIM target's parsed options.
fn scim_options(text: &str) -> usersync::provider::Options {
    usersync::provider::by_name("scim")
        .unwrap()
        .parse_options(&text.parse().unwrap())
        .unwrap()
}

#[test]
fn gnoss_retries_sign_with_fresh_nonces_so_the_mock_never_answers_401() {
    let dir = tempdir();
    let config = sample_config(dir.path());
    // Enough retries that no row runs out of them at a 25% fault rate: every row is retried
    // a few times at most, so the run spends seconds, not minutes, in backoff.
    let text_of = std::fs::read_to_string(&config).unwrap();
    let patched = text_of.replacen(
        "[targets.community]\n",
        "[targets.community]\nmax_retries = 12\n",
        1,
    );
    assert_ne!(patched, text_of);
    std::fs::write(&config, patched).unwrap();
    // 5xx answered before the handler and drops after it: either way the retry is signed
    // again; a reused nonce would be refused with 401 once the handler has seen it.
    let mock = TestMock::start(
        "gnoss",
        FaultConfig {
            seed: Some(30),
            fail_rate: 0.2,
            drop_rate: 0.05,
            ..FaultConfig::default()
        },
        Credentials::new(),
    );
    let out = sync(dir.path(), "community", "ledger.db", &mock)
        .envs(demo_env("gnoss"))
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let stats = mock.stats();
    assert!(
        stats.fault("fail_500") + stats.fault("fail_503") > 50,
        "{stats:?}"
    );
    assert!(stats.fault("drop") > 5, "{stats:?}");
    assert_eq!(stats.status(401), 0, "a nonce was refused: {stats:?}");
    let runs = assert_ledger_consistent(&dir.path().join("ledger.db"));
    let c = runs[0].counts;
    assert_eq!(c.failed + c.not_attempted, 0, "{c:?}");
    assert!(c.synced > 250, "{c:?}");
    assert!(c.retries > 50, "{c:?}");
}
