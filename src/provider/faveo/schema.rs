//! Faveo user fields and their rules (stub: filled in by the validation work).

use crate::validate::Schema;

/// The Faveo user schema.
pub static SCHEMA: Schema = Schema {
    fields: &[],
    cross: |_, _| {},
};
