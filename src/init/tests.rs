//! Unit tests of `init`: every provider's config loads, lists every field with its rule, and
//! an export's Spanish headers find their fields.

use std::path::PathBuf;

use serde_json::{json, Value};

use super::*;

fn request<'a>(provider: &str, export: Option<&'a ExportSample>) -> Request<'a> {
    Request {
        provider: crate::provider::by_name(provider).unwrap(),
        export,
        input: InputSettings::default(),
        config_name: "usersync.toml".into(),
    }
}

fn fill<'a>(draft: &'a Draft, field: &str) -> &'a Fill {
    &draft
        .fields
        .iter()
        .find(|p| p.def.name == field)
        .unwrap()
        .fill
}

#[test]
fn every_provider_gets_a_config_that_loads_listing_every_field() {
    for provider in crate::provider::registry() {
        let draft = draft(&request(provider.name(), None));
        assert_eq!(draft.problem, None, "{}:\n{}", provider.name(), draft.text);
        assert!(draft.text.starts_with("#:schema ./usersync.schema.json\n"));
        assert!(draft.text.contains("base_url = \"mock\"\n"));
        for def in provider.schema().fields {
            let line = format!(
                "# {}: {}; ",
                def.name,
                crate::validate::describe::required(def)
            );
            assert!(draft.text.contains(&line), "{}: {line}", provider.name());
        }
        let config = crate::config::from_str(&draft.text, Path::new("usersync.toml")).unwrap();
        let target = config.target(None).unwrap();
        assert_eq!(target.key, draft.key);
        // Every credential of the first accepted set, as a placeholder variable.
        let first = provider.credential_sets()[0];
        assert_eq!(target.credentials.len(), first.len(), "{}", provider.name());
    }
}

/// A small export with the headers of a Spanish HR system.
fn spanish_export() -> ExportSample {
    let columns = [
        "Nº empleado",
        "Nombre",
        "Apellidos",
        "DNI",
        "Correo",
        "Fecha de nacimiento",
        "Móvil",
        "Sexo",
        "Turno",
    ];
    let row = |id: &str, dni: &str, born: &str, sex: &str| -> Vec<Value> {
        [
            id,
            "Lucía",
            "Fernández Ruiz",
            dni,
            "lucia@empresa.es",
            born,
            "+34 600 000 000",
            sex,
            "mañana",
        ]
        .iter()
        .map(|v| json!(v))
        .collect()
    };
    ExportSample {
        path: PathBuf::from("export.csv"),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows: vec![
            row("E1", "12345678Z", "31/12/1980", "F"),
            row("E2", "07702456D", "01/02/1990", "M"),
        ],
    }
}

#[test]
fn spanish_headers_fill_meetinglawyers_fields_and_the_rest_is_said() {
    let export = spanish_export();
    let draft = draft(&request("meetinglawyers", Some(&export)));
    let column = |field: &str| match fill(&draft, field) {
        Fill::Column { column, shape } => Some((column.as_str(), *shape)),
        _ => None,
    };
    assert_eq!(column("user_id"), Some(("Nº empleado", Shape::Plain)));
    assert_eq!(column("first_name"), Some(("Nombre", Shape::Plain)));
    assert_eq!(column("last_name"), Some(("Apellidos", Shape::Plain)));
    assert_eq!(column("nid_number"), Some(("DNI", Shape::Plain)));
    assert_eq!(column("email"), Some(("Correo", Shape::Plain)));
    assert_eq!(
        column("birthdate"),
        Some(("Fecha de nacimiento", Shape::Date("%d/%m/%Y")))
    );
    assert_eq!(column("mobile_phone"), Some(("Móvil", Shape::Plain)));
    assert_eq!(draft.key, "user_id");
    // Sexo fits `gender` by name, not by value: commented out, with the map to write.
    let Fill::Unfilled {
        near: Some((near, _)),
    } = fill(&draft, "gender")
    else {
        panic!("gender: {:?}", fill(&draft, "gender"))
    };
    assert_eq!(near, "Sexo");
    assert!(
        draft.text.contains("map = { F = …, M = … }"),
        "{}",
        draft.text
    );
    assert_eq!(draft.unused_columns, ["Sexo", "Turno"]);
    assert!(draft
        .text
        .contains("# Columns of the export no field reads: Sexo, Turno."));
    assert_eq!(draft.unfilled_required(), ["status"]);
    assert!(
        draft.text.contains("\n# status = \"COLUMN\"\n"),
        "{}",
        draft.text
    );
    assert_eq!(draft.problem, None, "{}", draft.text);
}

#[test]
fn a_provider_refusing_a_target_without_a_field_gets_it_empty() {
    let export = spanish_export();
    let draft = draft(&request("faveo", Some(&export)));
    assert_eq!(draft.problem, None, "{}", draft.text);
    for field in ["organization", "organisation_department", "related"] {
        assert_eq!(fill(&draft, field), &Fill::Empty(json!([])), "{field}");
    }
    assert!(
        draft.text.contains("\nrelated = { value = [] }\n"),
        "{}",
        draft.text
    );
    assert_eq!(draft.key, "email");
}

#[test]
fn whole_words_are_mentions() {
    assert!(mentions("map all of organization, related (x)", "related"));
    assert!(!mentions("map organisation_department", "organisation"));
    assert!(!mentions("user_names", "user_name"));
}
