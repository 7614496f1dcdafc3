//! Finding a payload field's definition in a [`Schema`] without comparing its name with every
//! field's: [`validate`](super::validate) does it for every field of every row, and a linear
//! scan of the schema was a tenth of a row's cost.
//!
//! A small hash table from exact field names to their index is built once per schema (per
//! thread) and kept; it gives the same answer as [`Schema::position`].

use std::cell::RefCell;
use std::rc::Rc;

use super::Schema;

/// Slots of the table: a power of two, at least twice the exact fields indexed.
const SLOTS: usize = 128;
/// An empty slot.
const EMPTY: u8 = u8::MAX;

/// Exact field name -> index in [`Schema::fields`], by open addressing.
pub(super) struct FieldIndex {
    /// Which schema field list this indexes (its address and length).
    of: (usize, usize),
    /// `None` when the schema has too many fields for the table (then it is scanned).
    slots: Option<[u8; SLOTS]>,
}

thread_local! {
    /// The index of the schema validated last on this thread.
    static LAST: RefCell<Option<Rc<FieldIndex>>> = const { RefCell::new(None) };
}

/// The index of `schema`, built on first use.
pub(super) fn of(schema: &Schema) -> Rc<FieldIndex> {
    // Field lists are `'static`: an address always holds the same list.
    let of = (schema.fields.as_ptr() as usize, schema.fields.len());
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        match &*last {
            Some(index) if index.of == of => Rc::clone(index),
            _ => {
                let index = Rc::new(FieldIndex::new(schema, of));
                *last = Some(Rc::clone(&index));
                index
            }
        }
    })
}

fn slot_of(name: &[u8]) -> usize {
    let (first, last) = match name {
        [] => (0, 0),
        [first, .., last] => (*first, *last),
        [only] => (*only, *only),
    };
    let mixed = (name.len() as u64)
        ^ (u64::from(first) << 8)
        ^ (u64::from(last) << 16)
        ^ (u64::from(name.get(name.len() / 2).copied().unwrap_or(0)) << 24);
    (mixed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 57) as usize % SLOTS
}

impl FieldIndex {
    fn new(schema: &Schema, of: (usize, usize)) -> FieldIndex {
        let exact = schema
            .fields
            .iter()
            .filter(|f| f.wildcard_prefix().is_none())
            .count();
        if exact * 2 > SLOTS || schema.fields.len() >= usize::from(EMPTY) {
            return FieldIndex { of, slots: None };
        }
        let mut slots = [EMPTY; SLOTS];
        for (i, def) in schema.fields.iter().enumerate() {
            if def.wildcard_prefix().is_some() {
                continue;
            }
            let mut at = slot_of(def.name.as_bytes());
            loop {
                match slots[at] {
                    EMPTY => {
                        slots[at] = i as u8;
                        break;
                    }
                    // A repeated name: the first definition wins, as in `Schema::position`.
                    taken if schema.fields[usize::from(taken)].name == def.name => break,
                    _ => at = (at + 1) % SLOTS,
                }
            }
        }
        FieldIndex {
            of,
            slots: Some(slots),
        }
    }

    /// The same as `schema.position(name)`; `schema` must be the one this index was built for.
    pub(super) fn position(&self, schema: &Schema, name: &str) -> Option<usize> {
        let Some(slots) = &self.slots else {
            return schema.position(name);
        };
        let mut at = slot_of(name.as_bytes());
        loop {
            match slots[at] {
                EMPTY => break,
                i if schema.fields[usize::from(i)].name == name => return Some(usize::from(i)),
                _ => at = (at + 1) % SLOTS,
            }
        }
        // Not an exact name: maybe a wildcard one (`custom_7`).
        schema
            .fields
            .iter()
            .position(|f| f.wildcard_prefix().is_some() && f.matches(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::FieldDef;

    #[test]
    fn the_index_answers_as_the_schema_does() {
        static FIELDS: [FieldDef; 7] = [
            FieldDef::text("user_id"),
            FieldDef::text("email"),
            FieldDef::text("custom_*"),
            FieldDef::text("custom_email"),
            FieldDef::text("email"),
            FieldDef::text("e"),
            FieldDef::text(""),
        ];
        let schema = Schema {
            fields: &FIELDS,
            cross: |_, _| {},
        };
        let index = of(&schema);
        for name in [
            "user_id",
            "email",
            "custom_1",
            "custom_email",
            "custom_",
            "e",
            "",
            "x",
            "emai",
            "user_ie",
        ] {
            assert_eq!(
                index.position(&schema, name),
                schema.position(name),
                "{name}"
            );
        }
        for provider in crate::provider::registry().iter().map(|p| p.schema()) {
            let index = of(provider);
            let names = provider.fields.iter().map(|d| d.name);
            for name in names.chain(["nope", "custom_3", "custom_", "email2", ""]) {
                assert_eq!(
                    index.position(provider, name),
                    provider.position(name),
                    "{name}"
                );
            }
        }
    }
}
