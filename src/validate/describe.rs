//! A field's type and rule in words, for people writing a config: `usersync init` writes them
//! beside every field, so the rules a config is checked by are read from the same
//! [`FieldDef`](super::FieldDef)s that check it.

use super::{FieldDef, FieldType, Required, Rule};

/// When the field must be given: `REQUIRED`, `REQUIRED when a user is created`, or `optional`.
pub fn required(def: &FieldDef) -> &'static str {
    match def.required {
        Required::Always => "REQUIRED",
        Required::OnCreate => "REQUIRED when a user is created",
        Required::Optional => "optional",
    }
}

/// What a value of the field must be, e.g. `a whole number, one of 0, 2, 4` or `an e-mail
/// address`.
pub fn rule(def: &FieldDef) -> String {
    let ty = match def.ty {
        FieldType::String => None,
        FieldType::Integer => Some("a whole number"),
        FieldType::Boolean => Some("yes or no (true/false, 1/0, sí/no)"),
        FieldType::Date => Some("a date, YYYY-MM-DD (other layouts with date_format)"),
        FieldType::DateTime => {
            Some("a date and time, YYYY-MM-DDTHH:MM:SS (a date alone is taken; date_format reads other layouts)")
        }
        FieldType::Array => Some("a list (a JSON list, or a column cut with split)"),
        FieldType::Json => Some("JSON data (an object or a list of objects)"),
        FieldType::StringOrArray => Some("text or a list"),
    };
    let rule = match def.rule {
        Rule::None => None,
        Rule::Email => Some("an e-mail address".to_owned()),
        Rule::Nid => Some("a Spanish DNI or NIE with its right check letter".to_owned()),
        Rule::NidIfLike => {
            Some("an ID document number; a DNI or NIE must have its right check letter".to_owned())
        }
        Rule::Country => Some("an ISO 3166-1 alpha-2 country code (ES)".to_owned()),
        Rule::Language => Some("an ISO 639-1 language code (es)".to_owned()),
        Rule::PhoneInternational => {
            Some("a phone number with its country code (+34 600 000 000)".to_owned())
        }
        Rule::Guid => Some("a GUID".to_owned()),
        Rule::Enum(values) => Some(format!("one of {}", values.join(", "))),
        Rule::AbitmediaPassword => Some(
            "at least 8 characters, with a symbol, a digit and an upper-case letter".to_owned(),
        ),
        Rule::Length { min, max } => Some(format!("{min} to {max} characters")),
    };
    match (ty, rule) {
        (None, None) => "text".to_owned(),
        (None, Some(rule)) => rule,
        (Some(ty), None) => ty.to_owned(),
        (Some(ty), Some(rule)) => format!("{ty}, {rule}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_as_words() {
        let status = FieldDef::new(
            "status",
            FieldType::Integer,
            Required::Always,
            Rule::Enum(&["0", "2", "4"]),
        );
        assert_eq!(required(&status), "REQUIRED");
        assert_eq!(rule(&status), "a whole number, one of 0, 2, 4");
        assert_eq!(rule(&FieldDef::text("city")), "text");
        let email = FieldDef::new("email", FieldType::String, Required::OnCreate, Rule::Email);
        assert_eq!(
            (required(&email), rule(&email).as_str()),
            ("REQUIRED when a user is created", "an e-mail address")
        );
    }
}
