//! The SCIM User's fields usersync sends, as attribute paths (see `path.rs`): RFC 7643's core
//! User (section 4.1) and its enterprise extension (section 4.3).
//!
//! What is left out, and why: the attributes the RFC makes `readOnly` (`id`, `meta`, `groups`)
//! are never sent, so mapping one is a config error; `password` is `writeOnly` and an HR export
//! should not carry one; `ims`, `photos`, `entitlements`, `roles` and `x509Certificates` are
//! not HR data. The multi-valued attributes take the canonical `type` values of section 4.1.2.
//! `userName` is the one attribute the core schema requires.

use crate::validate::{FieldDef, FieldType, Required, Rule, Schema};

/// The enterprise User extension's URN (RFC 7643 section 4.3).
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The SCIM User schema.
pub static SCHEMA: Schema = Schema {
    fields: &[
        FieldDef::new("userName", FieldType::String, Required::Always, Rule::None),
        FieldDef::new(
            "externalId",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "name.formatted",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "name.familyName",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "name.givenName",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "name.middleName",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "name.honorificPrefix",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "name.honorificSuffix",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "displayName",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "nickName",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "profileUrl",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new("title", FieldType::String, Required::Optional, Rule::None),
        FieldDef::new(
            "userType",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "preferredLanguage",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new("locale", FieldType::String, Required::Optional, Rule::None),
        FieldDef::new(
            "timezone",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new("active", FieldType::Boolean, Required::Optional, Rule::None),
        FieldDef::new(
            "emails[type eq \"work\"].value",
            FieldType::String,
            Required::Optional,
            Rule::Email,
        ),
        FieldDef::new(
            "emails[type eq \"home\"].value",
            FieldType::String,
            Required::Optional,
            Rule::Email,
        ),
        FieldDef::new(
            "emails[type eq \"other\"].value",
            FieldType::String,
            Required::Optional,
            Rule::Email,
        ),
        FieldDef::new(
            "phoneNumbers[type eq \"work\"].value",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "phoneNumbers[type eq \"home\"].value",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "phoneNumbers[type eq \"mobile\"].value",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "phoneNumbers[type eq \"fax\"].value",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "phoneNumbers[type eq \"pager\"].value",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "phoneNumbers[type eq \"other\"].value",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "addresses[type eq \"work\"].formatted",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "addresses[type eq \"work\"].streetAddress",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "addresses[type eq \"work\"].locality",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "addresses[type eq \"work\"].region",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "addresses[type eq \"work\"].postalCode",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "addresses[type eq \"work\"].country",
            FieldType::String,
            Required::Optional,
            Rule::Country,
        ),
        FieldDef::new(
            "addresses[type eq \"home\"].formatted",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "addresses[type eq \"home\"].streetAddress",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "addresses[type eq \"home\"].locality",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "addresses[type eq \"home\"].region",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "addresses[type eq \"home\"].postalCode",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "addresses[type eq \"home\"].country",
            FieldType::String,
            Required::Optional,
            Rule::Country,
        ),
        FieldDef::new(
            "addresses[type eq \"other\"].formatted",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "addresses[type eq \"other\"].streetAddress",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "addresses[type eq \"other\"].locality",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "addresses[type eq \"other\"].region",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "addresses[type eq \"other\"].postalCode",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "addresses[type eq \"other\"].country",
            FieldType::String,
            Required::Optional,
            Rule::Country,
        ),
        FieldDef::new(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
        FieldDef::new(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            FieldType::String,
            Required::Optional,
            Rule::None,
        ),
    ],
    cross: |_, _| {},
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::scim::path::AttrPath;

    #[test]
    fn every_field_is_a_path_usersync_can_send() {
        for field in SCHEMA.fields {
            AttrPath::parse(field.name).unwrap();
        }
        assert!(SCHEMA
            .field(&format!("{ENTERPRISE_USER}:department"))
            .is_some());
        assert!(SCHEMA.field("id").is_none(), "id is readOnly");
    }
}
