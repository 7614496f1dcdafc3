//! Mapping and config mistakes: each one is a single clear message naming the key to
//! fix (config errors exit 2 before anything is read or sent), or a row error naming the key
//! whose rule the row broke.

use crate::support::reliability::*;

const TARGET: &str = r#"[targets.t]
provider = "meetinglawyers"
base_url = "http://127.0.0.1:9/"
credentials = { api_key = "ML_API_KEY", secret_key = "ML_SECRET_KEY" }
key = "user_id"
"#;

const FIELDS: &str = r#"[targets.t.fields]
user_id = "id"
email = "email"
status = { column = "plan", map = { premium = 2, free = 0, trial = 4 } }
gender = { column = "sex", map = { M = 0, F = 1 } }
birthdate = { column = "born", date_format = "%d/%m/%Y" }
"#;

const EXPORT: &str = "id,email,plan,sex,born\n\
                      E1,a@x.com,gold,M,1990-01-31\n\
                      E2,b@x.com,free,F,31/02/1990\n\
                      E3,c@x.com,trial,F,28/02/1990\n";

/// Runs `usersync ARGS -c c.toml` with `config` in a fresh directory holding `in.csv`; returns
/// the exit code, stdout and stderr.
fn run(config: &str, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let dir = tempdir();
    write(dir.path(), "c.toml", config);
    write(dir.path(), "in.csv", EXPORT);
    let out = usersync(dir.path())
        .args(args)
        .args(["-c", "c.toml"])
        .env_remove("ML_API_KEY")
        .env_remove("ML_SECRET_KEY")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

fn validate(config: &str) -> (Option<i32>, String, String) {
    run(config, &["validate", "in.csv"], &[])
}

/// A config error: exit 2 and exactly one `error:` line, `c.toml: `KEY`: MESSAGE`.
fn assert_config_error(result: (Option<i32>, String, String), key: &str, message: &str) {
    let (code, stdout, stderr) = result;
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let line = stderr.trim_end();
    assert!(line.starts_with("error: c.toml"), "{line}");
    assert!(line.contains(&format!("`{key}`: {message}")), "{line}");
}

#[test]
fn an_unknown_provider_field_names_the_key_and_the_fields_there_are() {
    assert_config_error(
        validate(&format!("{TARGET}{FIELDS}nope = \"email\"\n")),
        "targets.t.fields.nope",
        "meetinglawyers has no field `nope`; its fields are: user_id, status, email, ",
    );
}

#[test]
fn a_value_missing_from_a_map_and_a_date_in_another_format_are_row_errors_naming_the_key() {
    let (code, stdout, stderr) = run(
        &format!("{TARGET}{FIELDS}"),
        &["validate", "in.csv", "--json"],
        &[],
    );
    assert_eq!(code, Some(3), "{stderr}");
    let lines = stdout.lines().collect::<Vec<_>>();
    assert_eq!(lines.len(), 3, "{stdout}");
    let e1: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(
        e1["errors"],
        serde_json::json!([
            {
                "field": "birthdate",
                "code": "invalid_date",
                "message": "`1990-01-31` (column `born`) is not a date in the format `%d/%m/%Y` \
                            (targets.t.fields.birthdate.date_format)"
            },
            {
                "field": "status",
                "code": "unmapped_value",
                "message": "`gold` (column `plan`) is not a key of targets.t.fields.status.map; \
                            known values: free, premium, trial"
            }
        ])
    );
    // A date in the right format that does not exist names the same key.
    let e2: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(e2["errors"][0]["code"], "invalid_date");
    assert!(e2["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("targets.t.fields.birthdate.date_format"));
    assert_eq!(lines[2], r#"{"summary":{"rows":3,"valid":1,"rejected":2}}"#);
}

#[test]
fn a_date_format_that_cannot_describe_a_date_is_a_config_error() {
    let key = "targets.t.fields.birthdate.date_format";
    assert_config_error(
        validate(&format!("{TARGET}{}", FIELDS.replace("%d/%m/%Y", "%H:%M"))),
        key,
        "`%H:%M` does not identify a date: it needs a day, a month and a year (e.g. %d/%m/%Y)",
    );
    assert_config_error(
        validate(&format!("{TARGET}{}", FIELDS.replace("%d/%m/%Y", "%Q"))),
        key,
        "`%Q` is not a valid chrono format",
    );
}

#[test]
fn a_missing_environment_variable_names_the_key_and_the_variable_never_a_value() {
    let secret = "SECRET-MARKER-7f3a-other";
    let config = format!("{TARGET}{FIELDS}");
    for value in [None, Some("")] {
        let mut env = vec![("ML_SECRET_KEY", secret)];
        if let Some(v) = value {
            env.push(("ML_API_KEY", v));
        }
        let (code, stdout, stderr) =
            run(&config, &["sync", "in.csv", "--ledger", "ledger.db"], &env);
        assert_config_error(
            (code, stdout, stderr.clone()),
            "targets.t.credentials.api_key",
            "the environment variable `ML_API_KEY` is not set (or is empty or not valid Unicode)",
        );
        assert!(!stderr.contains(secret));
    }
    // `validate` never reads credentials: it works without them.
    let (code, _, stderr) = validate(&config);
    assert_eq!(code, Some(3), "{stderr}");
}

#[test]
fn other_config_mistakes_name_their_key() {
    let unknown_provider = format!(
        "unknown provider `meetinglawyer`; known providers: {}",
        usersync::provider::names().join(", ")
    );
    let cases: [(String, &str, &str); 6] = [
        (
            format!("{TARGET}concurrancy = 4\n{FIELDS}"),
            "targets.t.concurrancy",
            "unknown field `concurrancy`, expected one of `provider`",
        ),
        (
            format!("{}{FIELDS}", TARGET.replace("\"meetinglawyers\"", "\"meetinglawyer\"")),
            "targets.t.provider",
            &unknown_provider,
        ),
        (
            format!(
                "{}{FIELDS}",
                TARGET.replace(", secret_key = \"ML_SECRET_KEY\"", "")
            ),
            "targets.t.credentials",
            "meetinglawyers needs the environment variable names of api_key + secret_key (given: api_key)",
        ),
        (
            format!("{}{FIELDS}", TARGET.replace("key = \"user_id\"", "key = \"employee\"")),
            "targets.t.key",
            "the key `employee` is not a mapped field; mapped fields: ",
        ),
        (
            format!("retention_days = 0\n{TARGET}{FIELDS}"),
            "retention_days",
            "expected a number of days from 1 to 36500, or \"forever\" to keep every run's row \
             details, not 0",
        ),
        (
            format!("retention_days = \"soon\"\n{TARGET}{FIELDS}"),
            "retention_days",
            "expected a number of days from 1 to 36500, or \"forever\" to keep every run's row \
             details, not \"soon\"",
        ),
    ];
    for (config, key, message) in cases {
        assert_config_error(validate(&config), key, message);
    }
}

#[test]
fn a_mapped_column_missing_from_the_export_names_the_column_and_the_key() {
    let (code, stdout, stderr) = validate(&format!(
        "{TARGET}{}",
        FIELDS.replace("\"born\"", "\"nacido\"")
    ));
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "error: column `nacido` (from `targets.t.fields.birthdate.column`) is not in the header \
         of in.csv; its columns are: id, email, plan, sex, born\n"
    );
}

#[test]
fn a_bad_provider_option_is_reported_by_every_command_before_anything_is_read() {
    let config = format!("{TARGET}options = {{ conflict_status = [409] }}\n{FIELDS}");
    let unknown = "unknown option: known options are conflict_statuses";
    assert_config_error(
        validate(&config),
        "targets.t.options.conflict_status",
        unknown,
    );
    assert_config_error(
        run(&config, &["plan", "in.csv"], &[]),
        "targets.t.options.conflict_status",
        unknown,
    );
    let config = format!("{TARGET}options = {{ conflict_statuses = [200] }}\n{FIELDS}");
    assert_config_error(
        validate(&config),
        "targets.t.options.conflict_statuses",
        "expected a list of 4xx HTTP statuses",
    );
}

#[test]
fn field_settings_that_cannot_work_name_their_key() {
    let config = format!(
        "{TARGET}{}",
        FIELDS.replace(
            "email = \"email\"",
            "email = { column = \"email\", clear = \"zero\" }"
        )
    );
    let (code, _, stderr) = validate(&config);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("targets.t.fields.email"), "{stderr}");
    let config = format!(
        "{TARGET}{}",
        FIELDS.replace(
            "user_id = \"id\"",
            "user_id = { column = \"id\", create_only = true }"
        )
    );
    assert_config_error(
        validate(&config),
        "targets.t.fields.user_id.create_only",
        "the key identifies the user on every request",
    );
}
