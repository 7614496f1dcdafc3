//! Unit tests of the config file: the reference example loads, and every mistake names its key.

use super::*;

const EXAMPLE: &str = r#"
ledger = "usersync.db"                 # relative to this file

[targets.lawyers]
provider = "meetinglawyers"
base_url = "mock"
credentials = { api_key = "ML_API_KEY", secret_key = "ML_SECRET_KEY" }
rate_limit = 20
burst = 5
concurrency = 8
key = "user_id"

[targets.lawyers.fields]
user_id = "employee_id"
email = { column = "work_email", transform = "lowercase" }
status = { column = "plan", map = { premium = 2, free = 0, trial = 4 } }
gender = { column = "sex", map = { M = 0, F = 1 } }
birthdate = { column = "birth_date", date_format = "%d/%m/%Y" }
country_code = { value = "ES" }
"#;

fn load_str(text: &str) -> Result<Config, ConfigError> {
    from_str(text, Path::new("/etc/usersync/usersync.toml"))
}

fn error(text: &str) -> (Option<String>, String) {
    let e = load_str(text).unwrap_err();
    (e.key().map(str::to_owned), e.to_string())
}

#[test]
fn the_issue_example_loads() {
    let config = load_str(EXAMPLE).unwrap();
    assert_eq!(config.ledger, Path::new("/etc/usersync/usersync.db"));
    let t = config.target(None).unwrap();
    assert_eq!(t.provider.name(), "meetinglawyers");
    assert_eq!(t.base_url, BaseUrl::Mock);
    assert_eq!(t.rate_limit, Some(20));
    assert_eq!(t.burst, Some(5));
    assert_eq!(t.concurrency, Concurrency::Fixed(8));
    assert_eq!(t.key, "user_id");
    assert_eq!(t.max_deactivate, DEFAULT_MAX_DEACTIVATE);
    assert_eq!(t.max_retries, 5);
    assert_eq!(t.timeout, Duration::from_secs(30));
    assert!(!t.deactivate_missing());
    let status = t.field("status").unwrap();
    assert_eq!(status.column(), Some("plan"));
    assert_eq!(
        status.map.as_ref().unwrap()["premium"],
        serde_json::json!(2)
    );
    assert_eq!(
        t.field("email").unwrap().transforms,
        vec![Transform::Lowercase]
    );
    assert_eq!(
        t.field("country_code").unwrap().source,
        Source::Value(serde_json::json!("ES"))
    );
    assert_eq!(t.credentials["api_key"], "ML_API_KEY");
}

#[test]
fn extended_keys_load() {
    let text = format!(
        "{EXAMPLE}\n[input]\ndelimiter = \";\"\nencoding = \"windows-1252\"\nformat = \"csv\"\n"
    )
    .replace("concurrency = 8", "concurrency = \"auto\"\nmax_retries = 2\ntimeout_secs = 5\nmax_deactivate = 0.25\ndeactivate_missing = true\nrequired = [\"email\"]\nremote_id_column = \"ml_id\"\noptions = { conflict_statuses = [409] }");
    let config = load_str(&text).unwrap();
    assert_eq!(config.input.delimiter, Some(b';'));
    assert_eq!(config.input.encoding, Some(Encoding::WINDOWS_1252));
    assert_eq!(config.input.format, Some(Format::Csv));
    let t = config.target(Some("lawyers")).unwrap();
    assert_eq!(t.concurrency, Concurrency::Auto);
    assert_eq!(t.max_retries, 2);
    assert_eq!(t.timeout, Duration::from_secs(5));
    assert_eq!(t.max_deactivate, 0.25);
    assert!(t.deactivate_missing());
    assert_eq!(t.required, vec!["email".to_owned()]);
    assert_eq!(t.remote_id_column.as_deref(), Some("ml_id"));
    let options = t
        .options
        .get::<crate::provider::meetinglawyers::MeetingLawyersOptions>();
    assert_eq!(options.conflict_statuses, [409]);
}

#[test]
fn options_refilled_for_the_mock_are_parsed_again_and_refusals_name_the_key() {
    use crate::provider::meetinglawyers::MeetingLawyersOptions;
    let config = load_str(EXAMPLE).unwrap();
    let t = config.target(Some("lawyers")).unwrap();
    let status = |n: i64| toml::Value::Array(vec![toml::Value::Integer(n)]);
    let refilled = t
        .options_with(|table| {
            table.insert("conflict_statuses".into(), status(400));
        })
        .unwrap();
    assert_eq!(
        refilled.get::<MeetingLawyersOptions>().conflict_statuses,
        [400]
    );
    assert_eq!(
        t.options.get::<MeetingLawyersOptions>().conflict_statuses,
        [409, 422]
    );
    let refused = t
        .options_with(|table| {
            table.insert("conflict_statuses".into(), status(200));
        })
        .unwrap_err();
    assert_eq!(
        refused.key(),
        Some("targets.lawyers.options.conflict_statuses")
    );
}

#[test]
fn flags_override_the_config_input_settings() {
    let file = InputSettings {
        delimiter: Some(b';'),
        encoding: Some(Encoding::WINDOWS_1252),
        format: None,
        sheet: None,
    };
    let flags = InputSettings {
        delimiter: Some(b'|'),
        ..InputSettings::default()
    };
    let o = file.options(&flags);
    assert_eq!(o.delimiter, Some(b'|'));
    assert_eq!(o.encoding, Encoding::WINDOWS_1252);
    assert_eq!(o.format, None);
}

#[test]
fn an_unknown_key_is_named_with_its_path_and_line() {
    let (key, msg) = error(&EXAMPLE.replace("burst = 5", "brust = 5"));
    assert_eq!(key.as_deref(), Some("targets.lawyers.brust"));
    assert!(msg.starts_with("/etc/usersync/usersync.toml:9:1:"), "{msg}");
    assert!(msg.contains("unknown field `brust`"), "{msg}");

    let (key, _) =
        error(&EXAMPLE.replace("transform = \"lowercase\"", "transfrom = \"lowercase\""));
    assert_eq!(
        key.as_deref(),
        Some("targets.lawyers.fields.email.transfrom")
    );

    let (key, _) = error(&format!("ledgr = \"x.db\"\n{EXAMPLE}"));
    assert_eq!(key.as_deref(), Some("ledgr"));
}

#[test]
fn wrong_types_and_values_name_their_key() {
    let (key, msg) = error(&EXAMPLE.replace("rate_limit = 20", "rate_limit = \"fast\""));
    assert_eq!(key.as_deref(), Some("targets.lawyers.rate_limit"), "{msg}");
    let (key, _) = error(&EXAMPLE.replace("rate_limit = 20", "rate_limit = 0"));
    assert_eq!(key.as_deref(), Some("targets.lawyers.rate_limit"));
    let (key, msg) = error(&EXAMPLE.replace("concurrency = 8", "concurrency = 0"));
    assert_eq!(key.as_deref(), Some("targets.lawyers.concurrency"), "{msg}");
    let (key, msg) = error(&EXAMPLE.replace("\"lowercase\"", "\"titlecase\""));
    assert_eq!(
        key.as_deref(),
        Some("targets.lawyers.fields.email.transform"),
        "{msg}"
    );
    assert!(msg.contains("lowercase"), "{msg}");
}

#[test]
fn an_unknown_provider_lists_the_known_ones() {
    let (key, msg) = error(&EXAMPLE.replace("\"meetinglawyers\"", "\"meetinglaywers\""));
    assert_eq!(key.as_deref(), Some("targets.lawyers.provider"));
    assert!(msg.contains(&crate::provider::names().join(", ")), "{msg}");
}

#[test]
fn field_spec_mistakes_name_the_field() {
    let (key, _) = error(&EXAMPLE.replace(
        "country_code = { value = \"ES\" }",
        "country_code = { value = \"ES\", column = \"country\" }",
    ));
    assert_eq!(key.as_deref(), Some("targets.lawyers.fields.country_code"));
    let (key, msg) = error(&EXAMPLE.replace("%d/%m/%Y", "%d/%m"));
    assert_eq!(
        key.as_deref(),
        Some("targets.lawyers.fields.birthdate.date_format")
    );
    assert!(msg.contains("needs a day, a month and a year"), "{msg}");
}

#[test]
fn the_key_must_be_a_mapped_field() {
    let (key, msg) = error(&EXAMPLE.replace("key = \"user_id\"", "key = \"email_address\""));
    assert_eq!(key.as_deref(), Some("targets.lawyers.key"));
    assert!(msg.contains("not a mapped field"), "{msg}");
}

#[test]
fn syntax_errors_have_a_line_and_column() {
    let e = load_str("[targets.lawyers\nprovider = 1").unwrap_err();
    let ConfigError::Syntax { line, .. } = &e else {
        panic!("not a syntax error: {e}")
    };
    assert_eq!(*line, 1);
    assert!(e.to_string().starts_with("/etc/usersync/usersync.toml:1:"));
}

const GNOSS_CREDENTIALS: &str = "credentials = { consumer_key = \"CK\", consumer_secret = \"CS\", token = \"T\", token_secret = \"TS\" }\n";

#[test]
fn choosing_a_target() {
    let two = format!(
        "{EXAMPLE}\n[targets.other]\nprovider = \"gnoss\"\nbase_url = \"https://gnoss.example.com/api\"\nkey = \"user_id\"\nfields = {{ user_id = \"guid\" }}\n{GNOSS_CREDENTIALS}"
    );
    let config = load_str(&two).unwrap();
    let msg = config.target(None).unwrap_err().to_string();
    assert!(
        msg.contains("-t/--target") && msg.contains("lawyers, other"),
        "{msg}"
    );
    let msg = config.target(Some("nope")).unwrap_err().to_string();
    assert!(msg.contains("no target `nope`"), "{msg}");
    let other = config.target(Some("other")).unwrap();
    assert_eq!(
        other.base_url,
        BaseUrl::Url("https://gnoss.example.com/api/".parse().unwrap())
    );
    // No rate limit and no concurrency: adaptive.
    assert_eq!(other.concurrency, Concurrency::Auto);
}

#[test]
fn credentials_come_from_the_named_variables_and_never_leak() {
    let config = load_str(EXAMPLE).unwrap();
    let t = config.target(None).unwrap();
    let creds = t
        .credentials_with(|v| Some(format!("secret-of-{v}")))
        .unwrap();
    assert_eq!(creds.names().collect::<Vec<_>>(), ["api_key", "secret_key"]);
    assert!(!format!("{creds:?}").contains("secret-of"));

    let e = t
        .credentials_with(|v| (v == "ML_API_KEY").then(|| "k".to_owned()))
        .unwrap_err();
    assert_eq!(e.key(), Some("targets.lawyers.credentials.secret_key"));
    assert!(e.to_string().contains("`ML_SECRET_KEY` is not set"));
}

#[test]
fn no_targets_is_an_error() {
    let (key, _) = error("ledger = \"x.db\"\n");
    assert_eq!(key.as_deref(), Some("targets"));
}

#[test]
fn line_columns_count_characters() {
    assert_eq!(line_column("ab\ncañón = 1", 3), (2, 1));
    assert_eq!(line_column("ab\ncañón = 1", "ab\ncañón".len()), (2, 6));
}

#[test]
fn credentials_must_be_one_accepted_set() {
    let gnoss = |creds: &str| {
        format!("[targets.g]\nprovider = \"gnoss\"\nbase_url = \"https://gnoss.example.com/api\"\nkey = \"user_id\"\nfields = {{ user_id = \"guid\" }}\n{creds}")
    };
    assert!(load_str(&gnoss(GNOSS_CREDENTIALS)).is_ok());
    let (key, msg) = error(&gnoss(""));
    assert_eq!(key.as_deref(), Some("targets.g.credentials"));
    assert!(
        msg.contains("consumer_key + consumer_secret + token + token_secret"),
        "{msg}"
    );
    let (key, msg) = error(&gnoss(
        &GNOSS_CREDENTIALS.replace("token_secret", "token_secet"),
    ));
    assert_eq!(
        key.as_deref(),
        Some("targets.g.credentials.token_secet"),
        "{msg}"
    );
    // The built-in mock may go without credentials, but not with half a set.
    let mock = gnoss("").replace("https://gnoss.example.com/api", "mock");
    assert!(load_str(&mock).is_ok());
    assert!(load_str(&format!("{mock}credentials = {{ token = \"T\" }}\n")).is_err());
}

#[test]
fn unknown_provider_fields_and_unmapped_required_fields_are_named() {
    let (key, msg) = error(&EXAMPLE.replace(
        "user_id = \"employee_id\"",
        "user_id = \"employee_id\"\nemial = \"work_email\"",
    ));
    assert_eq!(key.as_deref(), Some("targets.lawyers.fields.emial"));
    assert!(msg.contains("meetinglawyers has no field `emial`"), "{msg}");
    let (key, msg) = error(&EXAMPLE.replace("burst = 5", "burst = 5\nrequired = [\"nid_number\"]"));
    assert_eq!(key.as_deref(), Some("targets.lawyers.required[0]"));
    assert!(msg.contains("not mapped"), "{msg}");
}

#[test]
fn metrics_file_and_notify_are_read_with_their_defaults() {
    let config = load_str(EXAMPLE).unwrap();
    assert_eq!((config.metrics_file, config.notify), (None, None));
    let text = format!(
        "metrics_file = \"metrics/usersync.prom\"\n{EXAMPLE}\n[notify]\nurl_env = \"HOOK\"\n"
    );
    let config = load_str(&text).unwrap();
    assert_eq!(
        config.metrics_file.as_deref(),
        Some(Path::new("/etc/usersync/metrics/usersync.prom"))
    );
    let notify = config.notify.unwrap();
    assert_eq!(notify.url, WebhookUrl::Env("HOOK".into()));
    assert_eq!(
        notify.events.iter().copied().collect::<Vec<_>>(),
        NotifyEvent::DEFAULT
    );
    assert_eq!(notify.timeout, Duration::from_secs(10));
    let text = format!(
        "{EXAMPLE}\n[notify]\nurl = \"https://hooks.example.com/services/T0/B0/s3cr3t\"\n\
         events = [\"completed\", \"held\"]\ntimeout_secs = 3\n"
    );
    let notify = load_str(&text).unwrap().notify.unwrap();
    assert_eq!(
        notify.events.iter().copied().collect::<Vec<_>>(),
        [NotifyEvent::Held, NotifyEvent::Completed]
    );
    let shown = format!("{notify:?}");
    assert!(shown.contains("https://hooks.example.com"), "{shown}");
    assert!(
        !shown.contains("s3cr3t"),
        "the token stays out of Debug: {shown}"
    );
}

#[test]
fn notify_mistakes_name_their_key_and_never_the_url() {
    let notify = |table: &str| error(&format!("{EXAMPLE}\n[notify]\n{table}\n"));
    let (key, msg) = notify("url = \"https://h.example/a\"\nurl_env = \"HOOK\"");
    assert_eq!(key.as_deref(), Some("notify.url"), "{msg}");
    let (key, msg) = notify("events = [\"failed\"]");
    assert_eq!(key.as_deref(), Some("notify"), "{msg}");
    assert!(msg.contains("url_env"), "{msg}");
    let (key, msg) = notify("url_env = \"HOOK\"\nevents = [\"failed\", \"exploded\"]");
    assert_eq!(key.as_deref(), Some("notify.events[1]"), "{msg}");
    assert!(msg.contains("\"needs_person\""), "{msg}");
    let (key, msg) = notify("url_env = \"HOOK\"\ntimeout_secs = 0");
    assert_eq!(key.as_deref(), Some("notify.timeout_secs"), "{msg}");
    let (key, msg) = notify("url = \"ftp://files.example/s3cr3t\"");
    assert_eq!(key.as_deref(), Some("notify.url"), "{msg}");
    assert!(!msg.contains("s3cr3t"), "{msg}");
    let (key, msg) = notify("url_env = \"HOOK\"\nchannel = \"#ops\"");
    assert_eq!(key.as_deref(), Some("notify.channel"), "{msg}");
}

#[test]
fn the_input_sheet_is_a_name_or_a_position_from_one() {
    let with = |value: &str| load_str(&format!("{EXAMPLE}\n[input]\nsheet = {value}\n"));
    assert_eq!(
        with("\"Empleados\"").unwrap().input.sheet.as_deref(),
        Some("Empleados")
    );
    assert_eq!(with("2").unwrap().input.sheet.as_deref(), Some("2"));
    let config = with("\"iso\"").unwrap();
    let flags = InputSettings {
        sheet: Some("Bajas".to_owned()),
        ..InputSettings::default()
    };
    assert_eq!(config.input.options(&flags).sheet.as_deref(), Some("Bajas"));
    for bad in ["0", "\"\"", "1.5"] {
        let (key, msg) = error(&format!("{EXAMPLE}\n[input]\nsheet = {bad}\n"));
        assert_eq!(key.as_deref(), Some("input.sheet"), "{bad}: {msg}");
        assert!(
            msg.contains("a sheet name, or its position counted from 1"),
            "{bad}: {msg}"
        );
    }
    let (key, msg) = error(&format!("{EXAMPLE}\n[input]\nencoding = \"klingon\"\n"));
    assert_eq!(key.as_deref(), Some("input.encoding"), "{msg}");
    assert!(msg.contains("unknown encoding `klingon`"), "{msg}");
}

#[test]
fn credentials_may_come_from_files_and_name_file_variables() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("api_key"), "from-file\n").unwrap();
    std::fs::write(dir.path().join("secret_key"), "from-name-file").unwrap();
    let text = EXAMPLE.replace(
        "api_key = \"ML_API_KEY\"",
        "api_key = { file = \"api_key\" }",
    );
    let config = from_str(&text, &dir.path().join("usersync.toml")).unwrap();
    let t = config.target(None).unwrap();
    // Relative to the config file's folder.
    assert_eq!(t.credential_files["api_key"], dir.path().join("api_key"));
    let secret_file = dir.path().join("secret_key").display().to_string();
    let creds = t
        .credentials_with(|v| (v == "ML_SECRET_KEY_FILE").then(|| secret_file.clone()))
        .unwrap();
    use secrecy::ExposeSecret;
    assert_eq!(creds.get("api_key").unwrap().expose_secret(), "from-file");
    assert_eq!(
        creds.get("secret_key").unwrap().expose_secret(),
        "from-name-file"
    );
    assert!(t
        .credential_origins()
        .contains("the environment variable ML_SECRET_KEY"));
    assert!(t.credential_origins().contains("the file "));

    // Written wrong: an empty path, an unknown key in the table.
    let (key, msg) = error(&EXAMPLE.replace("\"ML_API_KEY\"", "{ file = \" \" }"));
    assert_eq!(key.as_deref(), Some("targets.lawyers.credentials.api_key"));
    assert!(msg.contains("the path of the file"), "{msg}");
    let (key, msg) = error(&EXAMPLE.replace("\"ML_API_KEY\"", "{ path = \"x\" }"));
    assert_eq!(
        key.as_deref(),
        Some("targets.lawyers.credentials.api_key.path"),
        "{msg}"
    );
}
