//! `usersync init`: for every provider of the registry, the config it writes from the sample
//! export validates that export unchanged, as the hand-written sample config does; it never
//! replaces a file without `--force`; what is left to do is said on stderr.

use std::path::Path;
use std::process::Output;

use crate::support::{samples, stderr, stdout, tempdir, usersync};

fn init(dir: &Path, args: &[&str]) -> Output {
    usersync(dir).arg("init").args(args).output().unwrap()
}

/// `usersync validate -c CONFIG EXPORT [-t TARGET]`.
fn validate(dir: &Path, config: &Path, export: &Path, target: Option<&str>) -> Output {
    let mut cmd = usersync(dir);
    cmd.arg("validate").arg("-c").arg(config).arg(export);
    if let Some(target) = target {
        cmd.args(["-t", target]);
    }
    cmd.output().unwrap()
}

#[test]
fn every_provider_gets_a_config_that_validates_the_sample_export_as_the_sample_config_does() {
    let dir = tempdir();
    for export in ["hr_export.csv", "hr_export.jsonl"] {
        let export = samples().join(export);
        for provider in usersync::provider::registry() {
            let name = provider.name();
            let file = dir.path().join(format!("{name}.toml"));
            // --force: the CSV's round wrote the same files.
            let out = usersync(dir.path())
                .args(["init", "--provider", name, "--force", "--from"])
                .arg(&export)
                .arg("-o")
                .arg(&file)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(
                text.starts_with("#:schema ./usersync.schema.json\n"),
                "{text}"
            );
            assert!(dir.path().join("usersync.schema.json").is_file());

            let ours = validate(dir.path(), &file, &export, None);
            let target = crate::support::sample_target(name).name;
            let sample = validate(
                dir.path(),
                &samples().join("usersync.toml"),
                &export,
                Some(&target),
            );
            assert_eq!(
                ours.status.code(),
                sample.status.code(),
                "{name}, {}:\n{}\n{}\n{text}",
                export.display(),
                stdout(&ours),
                stderr(&ours)
            );
            assert!(
                matches!(ours.status.code(), Some(0 | 3)),
                "not a usage error"
            );
            assert!(
                stdout(&ours).contains("rows read:      300"),
                "{}",
                stdout(&ours)
            );
            assert_eq!(stderr(&ours), "", "{name}");
        }
    }
}

#[test]
fn matched_fields_are_active_the_rest_commented_and_unused_columns_said() {
    let dir = tempdir();
    let out = usersync(dir.path())
        .args(["init", "--provider", "meetinglawyers", "--from"])
        .arg(samples().join("hr_export.csv"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("usersync.toml")).unwrap();
    for line in [
        "user_id = \"employee_id\"\n",
        "email = \"work_email\"\n",
        "nid_number = \"dni\"\n",
        "birthdate = { column = \"birth_date\", date_format = \"%d/%m/%Y\" }\n",
        "# status: REQUIRED; a whole number, one of 0, 2, 4\n",
        "\n# status = \"COLUMN\"\n",
        "# gender = { column = \"sex\", map = { F = …, M = … } }\n",
        "base_url = \"mock\"\n",
        "credentials = { api_key = \"MEETINGLAWYERS_API_KEY\", secret_key = \"MEETINGLAWYERS_SECRET_KEY\" }\n",
        "key = \"user_id\"",
    ] {
        assert!(text.contains(line), "{line:?} in:\n{text}");
    }
    // Why the mock, and the real URL's shape, are said where base_url is.
    assert!(
        text.contains("never reach the real meetinglawyers by accident"),
        "{text}"
    );
    assert!(text.contains("https://api.meetinglawyers.com"), "{text}");
    let notes = stderr(&out);
    assert!(
        notes.contains(
            "required fields no column fills (every row is rejected until they are mapped): status"
        ),
        "{notes}"
    );
    assert!(
        notes.contains("columns no field reads: sex, plan, department, company_id"),
        "{notes}"
    );
    assert!(text.contains("# Columns of the export no field reads: sex, plan, department"));
}

#[test]
fn an_existing_file_is_kept_unless_forced_and_dash_writes_to_stdout() {
    let dir = tempdir();
    std::fs::write(dir.path().join("usersync.toml"), "# mine\n").unwrap();
    let out = init(dir.path(), &["--provider", "gnoss"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("usersync.toml already exists"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("usersync.toml")).unwrap(),
        "# mine\n"
    );
    let out = init(dir.path(), &["--provider", "gnoss", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("usersync.toml")).unwrap();
    assert!(text.contains("provider = \"gnoss\""), "{text}");
    // Without an export, the config loads: a command that reads it gets past the config.
    usersync::config::load(&dir.path().join("usersync.toml")).unwrap();

    let out = init(dir.path(), &["--provider", "scim", "-o", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("provider = \"scim\""));
    assert!(
        stdout(&out).contains("userName = \"userName\""),
        "{}",
        stdout(&out)
    );
    assert!(!dir.path().join("-").exists());

    let out = init(dir.path(), &["--provider", "nosuch", "-o", "-"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("meetinglawyers"), "{}", stderr(&out));
}
