//! The notes a row can carry into the ledger (`row_outcomes.notes_json`) and every report: what
//! a person has to know, or do, about a row that went through. A user whose access a provider
//! cannot give back is synced as far as usersync can tell, yet somebody must still act; the
//! HR staff who read the reports, not only whoever reads the logs, need to see it.
//!
//! A note never holds a field's value: field names, the provider's name and an HTTP status at
//! most. The sync says each note in its log (a warning) once the row's outcome is recorded.

use crate::ledger::{NoteCode, RowNote};

/// A user an earlier run deactivated is back; their data was sent, their access was not given
/// back (`provider` has no way to be asked).
pub fn reactivate_by_hand(provider: &str) -> RowNote {
    RowNote {
        code: NoteCode::ReactivateByHand,
        message: format!(
            "deactivated by an earlier run and back in the export: their data was sent, but \
             {provider} cannot be asked to give their access back; reactivate them there by hand"
        ),
    }
}

/// `provider` answered a returning leaver's reactivation with a refusal (HTTP `status`); their
/// update was sent anyway. The provider's own words stay in the log: an answer may echo a name
/// or an address, and a note must hold none.
pub fn reactivation_refused(provider: &str, status: Option<u16>) -> RowNote {
    let status = status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
    RowNote {
        code: NoteCode::ReactivationRefused,
        message: format!(
            "{provider} refused to give this returning user their access back{status}; their \
             data was sent: check in {provider} that they can log in (the sync's log has \
             {provider}'s answer)"
        ),
    }
}

/// `fields` were emptied in the export and left as they are at `provider`: it cannot clear a
/// field (GNOSS), or its pages show no way to and the field's config has no `clear`. Their old
/// values stay there.
pub fn not_cleared(fields: &[String], provider: &str) -> RowNote {
    RowNote {
        code: NoteCode::NotCleared,
        message: format!(
            "emptied in the export, but not cleared at {provider} (usersync clears a field only \
             where the provider can and its pages or the field's `clear` say how): {} keep their \
             old values there; clear them in {provider} by hand if they must go",
            fields.join(", ")
        ),
    }
}

/// The user is protected by the target's `protect`: `op` was not sent.
pub fn protected(op: crate::provider::Operation) -> RowNote {
    RowNote {
        code: NoteCode::Protected,
        message: format!(
            "protected by the target's `protect`: the {op} the export called for was not sent"
        ),
    }
}

/// The target's `mode` does not allow `op`: it was not sent.
pub fn not_in_mode(op: crate::provider::Operation, mode: crate::config::Mode) -> RowNote {
    RowNote {
        code: NoteCode::NotInMode,
        message: format!(
            "the target's mode is \"{}\": the {op} the export called for was not sent",
            mode.as_str()
        ),
    }
}

/// Says `notes`, those of the row on `line` (user `key`), in the log.
pub fn log(line: i64, key: Option<&str>, notes: &[RowNote]) {
    for note in notes {
        tracing::warn!(
            line,
            key = key.unwrap_or_default(),
            code = %note.code,
            "{}",
            note.message
        );
    }
}

/// The start of the sync summary's line for `count` rows noted `code` at `provider` (the keys
/// follow it).
pub fn summary(code: NoteCode, provider: &str, count: u64) -> String {
    match code {
        NoteCode::ReactivateByHand => format!(
            "reactivate by hand at {provider}: {count} returning user(s), data sent, access not \
             given back"
        ),
        NoteCode::ReactivationRefused => format!(
            "access refused at {provider}: {count} returning user(s), data sent, check they can \
             log in"
        ),
        NoteCode::NotCleared => format!(
            "not cleared at {provider}: {count} user(s) keep old values of fields emptied in the \
             export"
        ),
        NoteCode::Protected => {
            format!("protected, left alone: {count} user(s) the export would have changed")
        }
        NoteCode::NotInMode => {
            format!("not in the target's mode, not sent: {count} operation(s)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_name_fields_and_the_provider_and_say_what_to_do() {
        let note = not_cleared(&["phone".into(), "address".into()], "gnoss");
        assert_eq!(note.code, "not_cleared");
        assert!(note
            .message
            .contains("phone, address keep their old values"));
        assert!(note.message.contains("clear them in gnoss by hand"));
        let note = reactivate_by_hand("faveo");
        assert!(note.message.contains("faveo cannot be asked"));
        assert!(note.message.contains("reactivate them there by hand"));
        let note = reactivation_refused("gnoss", Some(400));
        assert!(note
            .message
            .contains("access back (HTTP 400); their data was sent"));
        assert_eq!(
            reactivation_refused("gnoss", None).message,
            "gnoss refused to give this returning user their access back; their data was sent: \
             check in gnoss that they can log in (the sync's log has gnoss's answer)"
        );
    }
}
