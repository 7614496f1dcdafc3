//! ISO 8601 dates (`YYYY-MM-DD`) and date-times (`YYYY-MM-DDTHH:MM:SS`) that exist on the
//! calendar: `1980-02-30` and `2023-02-29` are refused, `2024-02-29` is fine.
//!
//! The shape is checked by hand (a fixed layout, faster and stricter than a format string, which
//! would take `1980-2-3`); whether the day exists is chrono's answer. Source dates in another
//! layout are converted earlier, by the field mapping's `date_format`.

use chrono::{NaiveDate, NaiveTime};

use super::{code, Invalid};

/// The digits at `bytes[range]` as a number, or `None` if any is not a digit.
fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

/// The calendar date in `value` if it is exactly `YYYY-MM-DD`; `Err(true)` when it has that
/// shape but the day does not exist, `Err(false)` when it has another shape.
fn parse_date(value: &str) -> Result<NaiveDate, bool> {
    let b = value.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(false);
    }
    let (Some(y), Some(m), Some(d)) = (digits(&b[0..4]), digits(&b[5..7]), digits(&b[8..10]))
    else {
        return Err(false);
    };
    // `y` has 4 digits, so it fits an i32.
    NaiveDate::from_ymd_opt(y as i32, m, d).ok_or(true)
}

fn not_a_date(value: &str) -> Invalid {
    Invalid::new(
        code::INVALID_DATE,
        format!(
            "{value} is not a date in the form YYYY-MM-DD (set `date_format` in the field \
             mapping to convert another layout)"
        ),
    )
}

fn no_such_day(value: &str) -> Invalid {
    Invalid::new(
        code::INVALID_DATE,
        format!("{value} is not a day that exists"),
    )
}

/// Checks a `YYYY-MM-DD` date that exists.
pub fn check_date(value: &str) -> Result<(), Invalid> {
    match parse_date(value) {
        Ok(_) => Ok(()),
        Err(true) => Err(no_such_day(value)),
        Err(false) => Err(not_a_date(value)),
    }
}

/// Checks a date-time and normalises it in place to `YYYY-MM-DDTHH:MM:SS`: a bare date gets
/// `T00:00:00`, a space between date and time becomes `T`.
pub fn normalise_datetime(value: &mut String) -> Result<(), Invalid> {
    let shape_error = |value: &str| {
        Invalid::new(
            code::INVALID_DATE,
            format!(
                "{value} is not a date-time in the form YYYY-MM-DDTHH:MM:SS or a date YYYY-MM-DD"
            ),
        )
    };
    let date_part = value.get(..10).unwrap_or(value.as_str());
    match parse_date(date_part) {
        Ok(_) => {}
        Err(true) => return Err(no_such_day(date_part)),
        Err(false) => return Err(shape_error(value)),
    }
    let b = value.as_bytes();
    match b.len() {
        10 => {
            value.push_str("T00:00:00");
            return Ok(());
        }
        19 if (b[10] == b'T' || b[10] == b' ') && b[13] == b':' && b[16] == b':' => {}
        _ => return Err(shape_error(value)),
    }
    let (Some(h), Some(m), Some(s)) = (digits(&b[11..13]), digits(&b[14..16]), digits(&b[17..19]))
    else {
        return Err(shape_error(value));
    };
    if NaiveTime::from_hms_opt(h, m, s).is_none() {
        return Err(Invalid::new(
            code::INVALID_DATE,
            format!("{value} is not a time of day that exists"),
        ));
    }
    if b[10] == b' ' {
        value.replace_range(10..11, "T");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_that_exist_are_valid() {
        for ok in ["1980-12-31", "2024-02-29", "2000-02-29", "1999-01-01"] {
            assert_eq!(check_date(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn impossible_dates_are_refused() {
        for bad in [
            "1980-02-30",
            "2023-02-29",
            "1900-02-29",
            "2024-13-01",
            "2024-04-31",
        ] {
            let err = check_date(bad).unwrap_err();
            assert_eq!(err.code, "invalid_date");
            assert_eq!(err.message, format!("{bad} is not a day that exists"));
        }
    }

    #[test]
    fn other_layouts_are_refused_with_a_hint() {
        for bad in [
            "31/12/1980",
            "1980-2-3",
            "19801231",
            "1980-12-31T00:00:00",
            "hoy",
        ] {
            let err = check_date(bad).unwrap_err();
            assert_eq!(err.code, "invalid_date", "{bad}");
            assert!(err.message.contains("date_format"), "{}", err.message);
        }
    }

    #[test]
    fn date_times_are_normalised() {
        for (input, want) in [
            ("1985-02-01", "1985-02-01T00:00:00"),
            ("2016-06-12T09:30:00", "2016-06-12T09:30:00"),
            ("2016-06-12 23:59:59", "2016-06-12T23:59:59"),
        ] {
            let mut v = input.to_string();
            assert_eq!(normalise_datetime(&mut v), Ok(()), "{input}");
            assert_eq!(v, want);
        }
    }

    #[test]
    fn impossible_or_malformed_date_times_are_refused() {
        for bad in [
            "1980-02-30T00:00:00",
            "2016-06-12T24:00:00",
            "2016-06-12T10:61:00",
            "2016-06-12T10:00",
            "2016-06-12T10:00:00Z",
            "12/06/2016",
        ] {
            let mut v = bad.to_string();
            let err = normalise_datetime(&mut v).unwrap_err();
            assert_eq!(err.code, "invalid_date", "{bad}");
            assert_eq!(v, bad, "a refused value is left as it was");
        }
    }
}
