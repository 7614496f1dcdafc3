//! The config's JSON Schema, which editors read through a config's `#:schema` line: the copy in
//! `docs/` is what `usersync config-schema` prints, and an independent JSON Schema validator (the
//! `jsonschema` crate) finds the sample config and every config `init` writes valid against it,
//! and a mistake invalid.

use std::path::Path;

use serde_json::Value;

use crate::support::{samples, stderr, tempdir, usersync};

fn checked_in() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/usersync.schema.json"))
        .unwrap()
}

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&checked_in()).unwrap();
    jsonschema::meta::validate(&schema).expect("a valid JSON Schema");
    jsonschema::validator_for(&schema).unwrap()
}

/// A TOML config as the JSON an editor checks against the schema.
fn as_json(toml_text: &str) -> Value {
    toml::from_str(toml_text).unwrap()
}

/// The schema's complaints about `config`, one line each.
fn errors(validator: &jsonschema::Validator, config: &str) -> Vec<String> {
    let instance = as_json(config);
    validator
        .iter_errors(&instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn the_checked_in_schema_is_current() {
    let dir = tempdir();
    let out = usersync(dir.path()).arg("config-schema").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        String::from_utf8(out.stdout).unwrap() == checked_in(),
        "docs/usersync.schema.json is stale: regenerate it with \
         `cargo run -q -- config-schema -o docs/usersync.schema.json` and commit it"
    );
}

#[test]
fn the_sample_config_loads_and_is_valid_against_the_schema_and_mistakes_are_not() {
    let text = std::fs::read_to_string(samples().join("usersync.toml")).unwrap();
    assert!(text.starts_with("#:schema ../docs/usersync.schema.json\n"));
    usersync::config::load(&samples().join("usersync.toml")).expect("the sample config loads");
    let validator = validator();
    assert_eq!(errors(&validator, &text), Vec::<String>::new());

    // What the loader refuses, the schema flags: an unknown key, a provider's unknown field, a
    // credential of another provider, a bad value.
    for (mistake, at) in [
        (
            text.replace("rate_limit = 50", "rate_limt = 50"),
            "/targets/lawyers",
        ),
        (
            text.replace("user_id = \"employee_id\"", "userid = \"employee_id\""),
            "/targets/lawyers/fields",
        ),
        (
            text.replace(
                "{ token = \"APPS_SCIM_TOKEN\" }",
                "{ api_key = \"APPS_SCIM_TOKEN\" }",
            ),
            "/targets/apps/credentials",
        ),
        (
            text.replace("concurrency = \"auto\"", "concurrency = \"fast\""),
            "/targets/helpdesk/concurrency",
        ),
        (
            text.replace("encoding = \"utf-8\"", "encoding = 8"),
            "/input/encoding",
        ),
    ] {
        assert_ne!(mistake, text, "the mistake is made");
        let found = errors(&validator, &mistake);
        assert!(found.iter().any(|e| e.starts_with(at)), "{at}: {found:?}");
        let config = Path::new("/tmp/usersync.toml");
        assert!(
            usersync::config::from_str(&mistake, config).is_err(),
            "{at}: the loader too"
        );
    }
    // A credential from a file is valid to both.
    let from_file = text.replace(
        "api_key = \"ML_API_KEY\"",
        "api_key = { file = \"/run/secrets/ml_api_key\" }",
    );
    assert_ne!(from_file, text);
    assert_eq!(errors(&validator, &from_file), Vec::<String>::new());
    usersync::config::from_str(&from_file, &samples().join("usersync.toml")).unwrap();
}

#[test]
fn every_config_init_writes_is_valid_against_the_schema() {
    let validator = validator();
    let dir = tempdir();
    for provider in usersync::provider::registry() {
        for from in [None, Some(samples().join("hr_export.csv"))] {
            let mut cmd = usersync(dir.path());
            cmd.args(["init", "--provider", provider.name(), "-o", "-"]);
            if let Some(export) = &from {
                cmd.arg("--from").arg(export);
            }
            let out = cmd.output().unwrap();
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            let text = String::from_utf8(out.stdout).unwrap();
            assert_eq!(errors(&validator, &text), Vec::<String>::new(), "{text}");
        }
    }
}
