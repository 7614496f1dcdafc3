//! Field rules for provider payloads, and the error type every row-level problem is reported in.
//!
//! A provider describes its user fields once, as a static [`Schema`] (in its own folder,
//! `provider/<name>/schema.rs`). [`validate`] normalises a mapped payload in place (trim, case,
//! CSV strings to JSON numbers and booleans) and checks every rule, returning every error of the
//! row at once, so that HR can fix a row in one go.
//!
//! The individual rules live in one file each (`email.rs`, `nid.rs`, `iso.rs`, `date.rs`,
//! `phone.rs`, `guid.rs`, `password.rs`, and `shape.rs` for nested JSON used by cross-field
//! rules); `coerce.rs` turns CSV strings into the JSON types a provider expects, and `check.rs`
//! runs a schema over a payload (finding each field's definition through `index.rs`);
//! `describe.rs` says a field's rule in words, for configs written by `usersync init`.

mod check;
pub mod coerce;
pub mod date;
pub mod describe;
pub mod email;
pub mod guid;
mod index;
pub mod iso;
pub mod nid;
pub mod password;
pub mod phone;
pub mod shape;

use serde::Serialize;

use crate::payload::Payload;

pub use check::validate;

/// The stable error codes of row validation. Scripts and reports group by them: never rename one.
pub mod code {
    pub const REQUIRED: &str = "required";
    pub const INVALID_TYPE: &str = "invalid_type";
    pub const INVALID_EMAIL: &str = "invalid_email";
    pub const INVALID_NID: &str = "invalid_nid";
    pub const INVALID_COUNTRY: &str = "invalid_country";
    pub const INVALID_LANGUAGE: &str = "invalid_language";
    pub const INVALID_DATE: &str = "invalid_date";
    pub const INVALID_ENUM: &str = "invalid_enum";
    pub const INVALID_PHONE: &str = "invalid_phone";
    pub const INVALID_GUID: &str = "invalid_guid";
    pub const WEAK_PASSWORD: &str = "weak_password";
    pub const INVALID_LENGTH: &str = "invalid_length";
    /// Faveo: `organisation_department` without a matching `related`.
    pub const RELATED_MISMATCH: &str = "related_mismatch";
    /// SCIM: a value outside the canonical values the target's `/Schemas` declare.
    pub const NOT_CANONICAL: &str = "not_canonical";
}

/// A rule's verdict on one value, before it is tied to a field: a stable [`code`] and a message
/// a person understands (which never quotes a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Invalid {
            code,
            message: bounded_message(message.into()),
        }
    }

    /// The same problem, reported on `field`.
    pub fn on(self, field: &str) -> FieldError {
        FieldError {
            field: field.to_owned(),
            code: self.code.to_owned(),
            message: self.message,
        }
    }
}

/// One problem with one field of one row. `code` is stable (scripts and reports group by it);
/// `message` is for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        FieldError {
            field: field.into(),
            code: code.into(),
            message: bounded_message(message.into()),
        }
    }
}

/// The most characters a row error's message keeps. Messages quote the value they are about,
/// and a hostile export (a 10 MB cell) must not become a 10 MB line in the terminal, the ledger
/// and the rejects file.
pub const MAX_MESSAGE_CHARS: usize = 400;

/// `message` made safe to show: control characters escaped (`\u{1b}`, `\n`: a cell must not
/// drive the terminal it is printed on, nor break a one-line report) and, past
/// [`MAX_MESSAGE_CHARS`], its middle left out (the start quotes the value, the end says what
/// is wrong with it).
pub fn bounded_message(message: String) -> String {
    const HEAD: usize = 150;
    const TAIL: usize = 200;
    let message = if message.chars().any(char::is_control) {
        let mut escaped = String::with_capacity(message.len() + 16);
        for c in message.chars() {
            if c.is_control() {
                escaped.extend(c.escape_default());
            } else {
                escaped.push(c);
            }
        }
        escaped
    } else {
        message
    };
    let chars = message.chars().count();
    if chars <= MAX_MESSAGE_CHARS {
        return message;
    }
    let head_end = message.char_indices().nth(HEAD).map_or(0, |(i, _)| i);
    let tail_start = message
        .char_indices()
        .nth(chars - TAIL)
        .map_or(message.len(), |(i, _)| i);
    format!(
        "{}…({} characters left out)…{}",
        &message[..head_end],
        chars - HEAD - TAIL,
        &message[tail_start..]
    )
}

/// The JSON type a provider expects for a field. CSV cells are strings; validation converts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Text (a JSONL number given for it becomes its decimal text).
    String,
    /// A JSON integer ("2" in a CSV becomes 2).
    Integer,
    /// A JSON boolean (accepts true/false, 1/0, yes/no, si/sí, y/s/n in any case).
    Boolean,
    /// An ISO 8601 calendar date, `YYYY-MM-DD`, that exists.
    Date,
    /// An ISO 8601 date-time `YYYY-MM-DDTHH:MM:SS` (a bare date is accepted and gets `T00:00:00`;
    /// a space instead of the `T` is accepted and replaced).
    DateTime,
    /// A JSON array (from `split`, a JSONL array, or a CSV cell holding a JSON array).
    Array,
    /// A JSON object or array of objects, passed through (JSONL nested data). A CSV cell holding
    /// a JSON object or array is parsed.
    Json,
    /// A string, or a JSON array (Faveo custom fields, which may be either).
    StringOrArray,
}

/// When a field must be present. A partial update ([`Context::partial`]) requires nothing: it
/// carries only the fields that changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Required {
    /// The API requires it on every full request (create and full update).
    Always,
    /// Required when the user is created (and on full updates), not on partial ones.
    OnCreate,
    Optional,
}

/// A rule beyond the type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    None,
    Email,
    /// A Spanish DNI or NIE with a correct check letter.
    Nid,
    /// A DNI/NIE check only when the value looks like one (GNOSS `id_card` also takes passports).
    NidIfLike,
    /// ISO 3166-1 alpha-2, upper-cased.
    Country,
    /// ISO 639-1, lower-cased.
    Language,
    /// A phone number in international form (`+` and country code), checked with libphonenumber.
    PhoneInternational,
    /// A GUID / UUID.
    Guid,
    /// One of these values (compared after normalisation; numbers as their decimal text).
    Enum(&'static [&'static str]),
    /// Abitmedia's policy: at least 8 characters, a symbol, a digit and an upper-case letter.
    AbitmediaPassword,
    /// A length range in characters.
    Length {
        min: usize,
        max: usize,
    },
}

/// One provider field. A `name` ending in `*` (`custom_*`) stands for every field with that
/// prefix.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    pub name: &'static str,
    pub ty: FieldType,
    pub required: Required,
    pub rule: Rule,
}

/// A provider's user schema.
#[derive(Debug)]
pub struct Schema {
    pub fields: &'static [FieldDef],
    /// Rules across fields (e.g. Faveo's organisation_department / related), run after the field rules.
    pub cross: fn(&Payload, &mut Vec<FieldError>),
}

impl FieldDef {
    /// A field definition; `const` so that schemas can be `static` tables.
    pub const fn new(name: &'static str, ty: FieldType, required: Required, rule: Rule) -> Self {
        FieldDef {
            name,
            ty,
            required,
            rule,
        }
    }

    /// An optional text field without a rule, the most common kind.
    pub const fn text(name: &'static str) -> Self {
        FieldDef::new(name, FieldType::String, Required::Optional, Rule::None)
    }

    /// The prefix of a wildcard field (`custom_` for `custom_*`), `None` for a plain one.
    pub fn wildcard_prefix(&self) -> Option<&'static str> {
        self.name.strip_suffix('*')
    }

    /// Whether the provider field `name` is this one (or one of this wildcard's).
    pub fn matches(&self, name: &str) -> bool {
        match self.wildcard_prefix() {
            Some(prefix) => name.len() > prefix.len() && name.starts_with(prefix),
            None => self.name == name,
        }
    }
}

impl Schema {
    /// The definition of the provider field `name`: an exact match first, then a wildcard one
    /// (`custom_7` is a `custom_*` field). `None` for a field the provider does not know.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.position(name).map(|i| &self.fields[i])
    }

    /// The index in [`Schema::fields`] of the definition of `name`, found as by [`Schema::field`].
    pub fn position(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name).or_else(|| {
            self.fields
                .iter()
                .position(|f| f.wildcard_prefix().is_some() && f.matches(name))
        })
    }
}

/// What the caller knows about the row being validated.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// Fields the target's config marks required in addition to the schema (Faveo's "configurable").
    pub extra_required: &'a [String],
    /// The payload is a partial update (a PATCH body): it holds only the fields that change, so
    /// no field is required. Every present field is still checked.
    pub partial: bool,
}

#[cfg(test)]
mod message_tests {
    use super::*;

    #[test]
    fn messages_escape_control_characters_and_leave_out_the_middle_of_huge_values() {
        let e = FieldError::new("email", "invalid_email", "a\u{1b}[2J\nb is not valid");
        assert_eq!(e.message, "a\\u{1b}[2J\\nb is not valid");
        let short = "x".repeat(MAX_MESSAGE_CHARS);
        assert_eq!(Invalid::new("c", short.clone()).message, short);

        let huge = format!("{} is not an e-mail address (no @)", "é".repeat(1_000_000));
        let m = Invalid::new("invalid_email", huge).message;
        assert!(m.chars().count() < MAX_MESSAGE_CHARS + 40, "{}", m.len());
        assert!(m.starts_with("ééé"));
        assert!(m.ends_with("é is not an e-mail address (no @)"));
        assert!(m.contains("…(999682 characters left out)…"), "{m}");
    }
}
