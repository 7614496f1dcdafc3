//! The attributes a SCIM target declares at `/Schemas` (RFC 7643 section 7), and what they
//! mean for a sync: checked once against the mapping (a `readOnly` attribute is never sent; a
//! `required` one the mapping cannot give would refuse every create) and then against every
//! row (type, required, canonical values), so a row the target would refuse fails in usersync
//! with its line and field, before anything is sent.
//!
//! Attribute names are compared without regard to case (RFC 7643 section 2.1). An attribute
//! the target does not declare is sent anyway, with one warning: a server's `/Schemas` is often
//! less complete than what it takes.

use serde_json::Value;

use super::path::{AttrPath, CORE_USER};
use crate::payload::Payload;
use crate::provider::RowRules;
use crate::validate::{code, FieldError};

/// An attribute's data type (RFC 7643 section 2.3): what JSON a row's value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    /// A declared `type`. One the RFC does not name is checked as a string, its default.
    fn read(name: &str) -> AttrType {
        match name {
            "boolean" => AttrType::Boolean,
            "decimal" => AttrType::Decimal,
            "integer" => AttrType::Integer,
            "dateTime" => AttrType::DateTime,
            "binary" => AttrType::Binary,
            "reference" => AttrType::Reference,
            "complex" => AttrType::Complex,
            _ => AttrType::String,
        }
    }

    /// Its name in `/Schemas`, for messages.
    fn name(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }

    /// Whether `value` is JSON of this type (a dateTime is an RFC 3339 string, section 2.3.5).
    fn fits(self, value: &Value) -> bool {
        match self {
            AttrType::Boolean => value.is_boolean(),
            AttrType::Integer => value.is_i64() || value.is_u64(),
            AttrType::Decimal => value.is_number(),
            AttrType::DateTime => value
                .as_str()
                .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
            AttrType::Complex => value.is_object(),
            AttrType::String | AttrType::Binary | AttrType::Reference => value.is_string(),
        }
    }
}

/// One declared attribute (RFC 7643 section 7, "attributes").
#[derive(Debug, Clone)]
struct Attr {
    name: String,
    kind: AttrType,
    required: bool,
    case_exact: bool,
    mutability: String,
    canonical: Vec<String>,
    subs: Vec<Attr>,
}

impl Attr {
    fn read(json: &Value) -> Option<Attr> {
        let text = |key: &str| json.get(key).and_then(Value::as_str).map(str::to_owned);
        let flag = |key: &str| json.get(key).and_then(Value::as_bool).unwrap_or(false);
        Some(Attr {
            name: text("name")?,
            kind: text("type").map_or(AttrType::String, |t| AttrType::read(&t)),
            required: flag("required"),
            case_exact: flag("caseExact"),
            mutability: text("mutability").unwrap_or_else(|| "readWrite".into()),
            canonical: json
                .get("canonicalValues")
                .and_then(Value::as_array)
                .map(|v| {
                    v.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            subs: json
                .get("subAttributes")
                .and_then(Value::as_array)
                .map(|v| v.iter().filter_map(Attr::read).collect())
                .unwrap_or_default(),
        })
    }

    fn sub(&self, name: &str) -> Option<&Attr> {
        self.subs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    fn read_only(&self) -> bool {
        self.mutability.eq_ignore_ascii_case("readOnly")
    }
}

/// The schemas a target declares, by URN.
#[derive(Debug, Clone)]
pub struct Declared {
    schemas: Vec<(String, Vec<Attr>)>,
    external_id: Attr,
}

/// How one mapped field is checked in every row.
#[derive(Debug, Clone)]
struct FieldRule {
    field: String,
    kind: AttrType,
    required: bool,
    case_exact: bool,
    canonical: Vec<String>,
}

/// The rules of the fields a target maps, as declared by the target.
#[derive(Debug, Clone)]
pub struct DeclaredRules {
    fields: Vec<FieldRule>,
}

impl Declared {
    /// The schemas of a `/Schemas` answer (a ListResponse, or a bare list); `None` when the
    /// core User schema is not among them (the target declares something else).
    pub fn read(json: &Value) -> Result<Option<Declared>, String> {
        let list = json
            .get("Resources")
            .or(Some(json))
            .and_then(Value::as_array)
            .ok_or("neither a ListResponse nor a list of schemas")?;
        let schemas: Vec<(String, Vec<Attr>)> = list
            .iter()
            .filter_map(|schema| {
                let id = schema.get("id")?.as_str()?.to_owned();
                let attrs = schema
                    .get("attributes")?
                    .as_array()?
                    .iter()
                    .filter_map(Attr::read)
                    .collect();
                Some((id, attrs))
            })
            .collect();
        let has_user = schemas.iter().any(|(id, _)| id == CORE_USER);
        let external_id = Attr {
            name: "externalId".into(),
            kind: AttrType::String,
            required: false,
            case_exact: true,
            mutability: "readWrite".into(),
            canonical: Vec::new(),
            subs: Vec::new(),
        };
        Ok(has_user.then_some(Declared {
            schemas,
            external_id,
        }))
    }

    fn schema(&self, urn: &str) -> Option<&[Attr]> {
        self.schemas
            .iter()
            .find(|(id, _)| id.eq_ignore_ascii_case(urn))
            .map(|(_, attrs)| attrs.as_slice())
    }

    /// The declared attribute and sub-attribute of `path`; `Err` names what is not declared.
    /// `externalId` is one of every resource's common attributes (RFC 7643 section 3.1), which
    /// no schema declares: a string the client sets, compared as given.
    fn find(&self, path: &AttrPath) -> Result<(&Attr, Option<&Attr>), String> {
        if path.schema.is_none() && path.attr.eq_ignore_ascii_case("externalId") {
            return Ok((&self.external_id, None));
        }
        let urn = path.schema.as_deref().unwrap_or(CORE_USER);
        let attrs = self
            .schema(urn)
            .ok_or_else(|| format!("the schema {urn}"))?;
        let attr = attrs
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(&path.attr))
            .ok_or_else(|| format!("the attribute `{}`", path.attr))?;
        let sub = match (&path.sub, &path.type_filter) {
            (Some(sub), _) => Some(sub.as_str()),
            (None, Some(_)) => Some("value"),
            (None, None) => None,
        };
        match sub {
            None => Ok((attr, None)),
            Some(sub) => match attr.sub(sub) {
                Some(found) => Ok((attr, Some(found))),
                None => Err(format!("the sub-attribute `{}.{sub}`", path.attr)),
            },
        }
    }

    /// Checks the mapping (the attribute paths of `mapped`) once: `Err` for what would make
    /// every row fail or send what the target never takes; warnings for what it may not know.
    pub fn check_mapping(&self, mapped: &[&str]) -> Result<Vec<String>, String> {
        let mut warnings = Vec::new();
        let mut used = vec![CORE_USER.to_owned()];
        for field in mapped {
            let Ok(path) = AttrPath::parse(field) else {
                continue;
            };
            if let Some(urn) = &path.schema {
                used.push(urn.clone());
            }
            let (attr, sub) = match self.find(&path) {
                Ok(found) => found,
                Err(what) => {
                    warnings.push(format!(
                        "`{field}`: the target does not declare {what} (its /Schemas); it is \
                         sent anyway"
                    ));
                    continue;
                }
            };
            if attr.read_only() || sub.is_some_and(Attr::read_only) {
                return Err(format!(
                    "`{field}` is readOnly at the target (its /Schemas): usersync never sends a \
                     readOnly attribute; remove it from the target's fields"
                ));
            }
            if let (Some(kind), Some(types)) = (&path.type_filter, attr.sub("type")) {
                let known = types.canonical.iter().any(|c| c.eq_ignore_ascii_case(kind));
                if !types.canonical.is_empty() && !known {
                    warnings.push(format!(
                        "`{field}`: the target's canonical types of `{}` are {} (its /Schemas), \
                         not \"{kind}\"",
                        attr.name,
                        types.canonical.join(", ")
                    ));
                }
            }
        }
        for urn in &used {
            for attr in self.schema(urn).unwrap_or_default() {
                let given = mapped.iter().any(|field| {
                    AttrPath::parse(field).is_ok_and(|p| {
                        p.schema
                            .as_deref()
                            .unwrap_or(CORE_USER)
                            .eq_ignore_ascii_case(urn)
                            && p.attr.eq_ignore_ascii_case(&attr.name)
                    })
                });
                // `id` and the like are the server's to set.
                if attr.required && !attr.read_only() && !given {
                    return Err(format!(
                        "the target requires `{}` (its /Schemas) and the mapping gives none: \
                         every user created would be refused; map it in the target's fields",
                        attr.name
                    ));
                }
            }
        }
        Ok(warnings)
    }

    /// The rules every row's value of each mapped field must pass.
    pub fn rules_for(&self, mapped: &[&str]) -> DeclaredRules {
        let fields = mapped
            .iter()
            .filter_map(|field| {
                let path = AttrPath::parse(field).ok()?;
                let (attr, sub) = self.find(&path).ok()?;
                let declared = sub.unwrap_or(attr);
                Some(FieldRule {
                    field: (*field).to_owned(),
                    kind: declared.kind,
                    // A sub-attribute is required only of an entry that is there at all.
                    required: sub.is_none() && attr.required,
                    case_exact: declared.case_exact,
                    canonical: declared.canonical.clone(),
                })
            })
            .collect();
        DeclaredRules { fields }
    }
}

impl RowRules for DeclaredRules {
    fn check(&self, payload: &Payload) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for rule in &self.fields {
            let value = payload.get(&rule.field).filter(|v| match v {
                Value::Null => false,
                Value::String(s) => !s.is_empty(),
                _ => true,
            });
            let Some(value) = value else {
                if rule.required {
                    errors.push(FieldError::new(
                        rule.field.clone(),
                        code::REQUIRED,
                        "the target requires a value (its /Schemas)",
                    ));
                }
                continue;
            };
            if !rule.kind.fits(value) {
                errors.push(FieldError::new(
                    rule.field.clone(),
                    code::INVALID_TYPE,
                    format!(
                        "the target takes a {} here (its /Schemas)",
                        rule.kind.name()
                    ),
                ));
                continue;
            }
            if let (false, Some(text)) = (rule.canonical.is_empty(), value.as_str()) {
                let canonical = rule.canonical.iter().any(|c| {
                    if rule.case_exact {
                        c == text
                    } else {
                        c.eq_ignore_ascii_case(text)
                    }
                });
                if !canonical {
                    errors.push(FieldError::new(
                        rule.field.clone(),
                        code::NOT_CANONICAL,
                        format!(
                            "the target takes one of {} here (its /Schemas)",
                            rule.canonical.join(", ")
                        ),
                    ));
                }
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// RFC 7643 section 2.3: what JSON each declared type takes (a dateTime is an `xsd:dateTime`,
    /// written as in RFC 3339, section 2.3.5).
    #[test]
    fn each_declared_type_takes_its_json() {
        let cases = [
            ("string", json!("ana"), json!(1)),
            ("boolean", json!(true), json!("true")),
            ("decimal", json!(1.5), json!("1.5")),
            ("integer", json!(12), json!(1.5)),
            (
                "dateTime",
                json!("2008-01-23T04:56:22Z"),
                json!("23/01/2008"),
            ),
            ("binary", json!("aGVsbG8="), json!([1, 2])),
            (
                "reference",
                json!("https://example.com/Users/2819c223"),
                json!({}),
            ),
            ("complex", json!({"value": "a"}), json!("a")),
        ];
        for (name, fits, does_not) in cases {
            let kind = AttrType::read(name);
            assert_eq!(kind.name(), name);
            assert!(kind.fits(&fits), "{name} takes {fits}");
            assert!(!kind.fits(&does_not), "{name} refuses {does_not}");
        }
        assert!(AttrType::read("integer").fits(&json!(0)));
        assert!(AttrType::read("decimal").fits(&json!(2)));
        // A type the RFC does not name is checked as a string, its default.
        assert_eq!(AttrType::read("uuid"), AttrType::String);
    }
}
