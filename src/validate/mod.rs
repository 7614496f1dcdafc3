//! Field rules for provider payloads, and the error type every row-level problem is reported in.
//!
//! A provider describes its user fields once, as a static [`Schema`] (in its own folder,
//! `provider/<name>/schema.rs`). [`validate`] normalises a mapped payload in place (trim, case,
//! CSV strings to JSON numbers and booleans) and checks every rule, returning every error of the
//! row at once, so that HR can fix a row in one go.
//!
//! The individual rules live in one file each (`email.rs`, `nid.rs`, `iso.rs`, `date.rs`,
//! `phone.rs`, `guid.rs`, `password.rs`).

use serde::Serialize;

use crate::payload::Payload;

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
            message: message.into(),
        }
    }
}

/// The JSON type a provider expects for a field. CSV cells are strings; validation converts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    String,
    /// A JSON integer ("2" in a CSV becomes 2).
    Integer,
    /// A JSON boolean (accepts true/false, 1/0, yes/no, si/sí in any case).
    Boolean,
    /// An ISO 8601 calendar date, `YYYY-MM-DD`, that exists.
    Date,
    /// An ISO 8601 date-time `YYYY-MM-DDTHH:MM:SS` (a bare date is accepted and gets `T00:00:00`).
    DateTime,
    /// A JSON array (from `split`, or a JSONL array).
    Array,
    /// A JSON object or array of objects, passed through (JSONL nested data).
    Json,
}

/// When a field must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Required {
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

/// One provider field.
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

impl Schema {
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// What the caller knows about the row being validated.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// Fields the target's config marks required in addition to the schema (Faveo's "configurable").
    pub extra_required: &'a [String],
}

/// Normalises `payload` in place and checks it against `schema`. Returns every error of the row.
/// (stub: filled in by the validation work.)
pub fn validate(_schema: &Schema, _payload: &mut Payload, _ctx: &Context<'_>) -> Vec<FieldError> {
    Vec::new()
}
