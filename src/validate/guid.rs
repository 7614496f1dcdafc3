//! GUIDs / UUIDs (GNOSS's user, community, country and province ids), through the `uuid` crate.
//! Every form it reads (hyphenated, bare hex, `{braced}`, `urn:uuid:`) is accepted and written
//! back as lower-case hyphenated, the form GNOSS's own examples use.

use uuid::Uuid;

use super::{code, Invalid};

/// Checks a GUID and returns its lower-case hyphenated form when that differs from `value`
/// (`None` when `value` is already in that form).
pub fn normalise(value: &str) -> Result<Option<String>, Invalid> {
    let uuid = Uuid::try_parse(value).map_err(|_| {
        Invalid::new(
            code::INVALID_GUID,
            format!(
                "{value} is not a GUID (32 hexadecimal digits, like \
                 1ede819e-9d0f-41e9-855b-bbebc7f08dd1)"
            ),
        )
    })?;
    let canonical = value.len() == 36 && !value.bytes().any(|b| b.is_ascii_uppercase());
    if canonical {
        Ok(None)
    } else {
        Ok(Some(uuid.hyphenated().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyphenated_guids_are_valid_as_they_are() {
        for ok in [
            "1ede819e-9d0f-41e9-855b-bbebc7f08dd1",
            "50b7615f-e32d-469d-ad93-d5829ab983ef",
        ] {
            assert_eq!(normalise(ok), Ok(None), "{ok}");
        }
    }

    #[test]
    fn other_forms_become_lower_case_hyphenated() {
        let want = Some("1ede819e-9d0f-41e9-855b-bbebc7f08dd1".to_string());
        for input in [
            "1EDE819E-9D0F-41E9-855B-BBEBC7F08DD1",
            "1ede819e9d0f41e9855bbbebc7f08dd1",
            "{1ede819e-9d0f-41e9-855b-bbebc7f08dd1}",
        ] {
            assert_eq!(normalise(input), Ok(want.clone()), "{input}");
        }
    }

    #[test]
    fn non_guids_are_refused() {
        for bad in [
            "1ede819e-9d0f-41e9-855b-bbebc7f08dd",
            "1ede819e-9d0f-41e9-855b-bbebc7f08ddz",
            "42",
            "john-vander-var",
        ] {
            let err = normalise(bad).unwrap_err();
            assert_eq!(err.code, "invalid_guid", "{bad}");
            assert!(err.message.starts_with(bad));
        }
    }
}
