//! Gnoss user fields and their rules (stub: filled in by the validation work).

use crate::validate::Schema;

/// The Gnoss user schema.
pub static SCHEMA: Schema = Schema {
    fields: &[],
    cross: |_, _| {},
};
