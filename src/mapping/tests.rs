//! Unit tests of the mapping semantics, one feature each, on CSV-style and JSONL records.

use std::path::Path;

use serde_json::{json, Value};

use super::*;
use crate::config;

const CONFIG: &str = r#"
[targets.t]
provider = "meetinglawyers"
base_url = "mock"
key = "user_id"

[targets.t.fields]
user_id = "id"
email = { column = "mail", transform = ["trim", "lowercase"] }
status = { column = "plan", map = { premium = 2, free = 0, trial = 4 }, default = "free" }
gender = { column = "sex", map = { M = 0, F = 1 } }
birthdate = { column = "born", date_format = "%d/%m/%Y" }
country_code = { value = "ES" }
nid_number = { column = "dni", transform = "uppercase" }
ml_group_name = { column = "groups", split = "|" }
description = { column = "note", default = "none" }
"#;

const HEADER: [&str; 9] = [
    "id", "mail", "plan", "sex", "born", "dni", "groups", "note", "unused",
];

fn target() -> config::Target {
    config::from_str(CONFIG, Path::new("u.toml"))
        .unwrap()
        .targets
        .remove("t")
        .unwrap()
}

fn header() -> Header {
    Header::Csv(HEADER.iter().map(|s| s.to_string()).collect())
}

fn map_csv(row: [&str; 9]) -> (Payload, Vec<FieldError>) {
    let mapper = Mapper::compile(&target(), &header(), Path::new("x.csv")).unwrap();
    let mut errors = Vec::new();
    let payload = mapper.map(&Record::from_fields(2, row), &mut errors);
    (payload, errors)
}

#[test]
fn a_full_row_maps_every_feature() {
    let (p, errors) = map_csv([
        "E1",
        "  Ana.Ruiz@Example.COM ",
        "premium",
        "F",
        "31/12/1980",
        "12345678z",
        "ventas | | madrid|",
        "hola",
        "x",
    ]);
    assert_eq!(errors, vec![]);
    assert_eq!(
        Value::from(p),
        json!({
            "user_id": "E1",
            "email": "ana.ruiz@example.com",
            "status": 2,
            "gender": 1,
            "birthdate": "1980-12-31",
            "country_code": "ES",
            "nid_number": "12345678Z",
            "ml_group_name": ["ventas", "madrid"],
            "description": "hola",
        })
    );
}

#[test]
fn empty_cells_are_absent_or_take_the_default() {
    let (p, errors) = map_csv(["E1", "", "  ", "", "", "", "", "", ""]);
    assert_eq!(errors, vec![]);
    // status's default "free" goes through the map; description's default is kept as is.
    assert_eq!(
        Value::from(p),
        json!({"user_id": "E1", "status": 0, "country_code": "ES", "description": "none"})
    );
}

#[test]
fn an_unmapped_value_names_value_column_key_and_known_values() {
    let (_, errors) = map_csv(["E1", "", "gold", "X", "", "", "", "", ""]);
    // Errors come in field-name order.
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].field, "gender");
    assert_eq!(errors[1].field, "status");
    assert_eq!(errors[1].code, "unmapped_value");
    assert_eq!(
        errors[1].message,
        "`gold` (column `plan`) is not a key of targets.t.fields.status.map; known values: free, premium, trial"
    );
}

#[test]
fn impossible_dates_are_invalid_dates_naming_the_format() {
    let (_, errors) = map_csv(["E1", "", "", "", "30/02/1985", "", "", "", ""]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code, "invalid_date");
    assert!(errors[0].message.contains("`30/02/1985`"));
    assert!(errors[0].message.contains("`%d/%m/%Y`"));
    let (_, errors) = map_csv(["E1", "", "", "", "1985-02-01", "", "", "", ""]);
    assert_eq!(errors[0].code, "invalid_date");
}

#[test]
fn a_missing_column_is_one_fatal_error_naming_the_key() {
    let mut names: Vec<String> = HEADER.iter().map(|s| s.to_string()).collect();
    names.retain(|n| n != "mail");
    let e = Mapper::compile(&target(), &Header::Csv(names), Path::new("x.csv")).unwrap_err();
    assert_eq!(e.column, "mail");
    assert_eq!(e.key, "targets.t.fields.email.column");
    assert!(e.to_string().contains("not in the header of x.csv"));
}

#[test]
fn jsonl_values_pass_through_or_are_mapped_by_their_text() {
    let mapper = Mapper::compile(&target(), &Header::Jsonl, Path::new("x.jsonl")).unwrap();
    assert_eq!(
        mapper.columns(),
        ["born", "dni", "groups", "id", "mail", "note", "plan", "sex"]
    );
    let object = json!({
        "id": 42,
        "plan": "trial",
        "sex": null,
        "groups": ["a", "b"],
        "note": {"nested": [1, 2]},
    });
    let Value::Object(object) = object else {
        unreachable!()
    };
    let mut errors = Vec::new();
    let p = mapper.map(&Record::from_object(1, object), &mut errors);
    assert_eq!(errors, vec![]);
    assert_eq!(
        Value::from(p),
        json!({
            "user_id": 42,
            "status": 4,
            "country_code": "ES",
            "ml_group_name": ["a", "b"],
            "description": {"nested": [1, 2]},
        })
    );
}

#[test]
fn dates_come_out_as_iso_8601() {
    let d = |y, m, day| chrono::NaiveDate::from_ymd_opt(y, m, day).unwrap();
    assert_eq!(iso_date(d(1980, 12, 31)), "1980-12-31");
    assert_eq!(iso_date(d(7, 1, 2)), "0007-01-02");
    assert_eq!(iso_date(d(12345, 1, 2)), "+12345-01-02");
}
