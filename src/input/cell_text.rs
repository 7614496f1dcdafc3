//! Spreadsheet cells as the text a CSV export would have held, so that mapping and validation
//! never know a value came from a workbook.
//!
//! Text is kept as it is (`00123` keeps its zeros). A number that is integral prints as an
//! integer, never as a float or with an exponent (a DNI's digits, the phone number 34612345678, an
//! employee id); any other number prints in the shortest form that reads back as the same `f64`.
//! Dates (date cells, and numbers formatted as dates) print as ISO `YYYY-MM-DD`, with
//! `THH:MM:SS` only when there is a time of day, so a `date_format` is not needed for them; a time
//! alone prints as `HH:MM:SS`. Booleans are `true` / `false`, empty cells empty. An error cell
//! (`#N/A`) is no value: the caller makes it a row problem naming its column.

use std::borrow::Cow;

use calamine::{CellErrorType, DataType, ExcelDateTime};

/// The text of a cell of any workbook (`.xlsx` cells are [`calamine::DataRef`], `.xls` and
/// `.ods` ones [`calamine::Data`]), or the error it holds. Each kind of cell answers exactly one
/// of [`DataType`]'s getters; an empty cell answers none.
pub(super) fn data_text<T: DataType>(cell: &T) -> Result<Cow<'_, str>, CellErrorType> {
    if let Some(e) = cell.get_error() {
        return Err(e.clone());
    }
    Ok(if let Some(s) = cell.get_string() {
        Cow::Borrowed(s)
    } else if let Some(i) = cell.get_int() {
        Cow::Owned(i.to_string())
    } else if let Some(f) = cell.get_float() {
        Cow::Owned(number_text(f))
    } else if let Some(b) = cell.get_bool() {
        Cow::Borrowed(bool_text(b))
    } else if let Some(d) = cell.get_datetime() {
        Cow::Owned(datetime_text(&d))
    } else if let Some(s) = cell.get_datetime_iso() {
        iso_datetime_text(s)
    } else if let Some(s) = cell.get_duration_iso() {
        iso_duration_text(s)
    } else {
        Cow::Borrowed("")
    })
}

fn bool_text(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// An integral number as an integer (`34612345678`, not `3.4612345678e10`); any other in its
/// shortest exact form (`0.1`, `1234.5`). Rust's `Display` for `f64` never writes an exponent.
pub(super) fn number_text(f: f64) -> String {
    if f == 0.0 {
        // Also -0.0, which would print as `-0`.
        return "0".to_owned();
    }
    if f.is_finite() && f.fract() == 0.0 {
        format!("{f:.0}")
    } else {
        format!("{f}")
    }
}

/// An Excel date (a serial number of days) as ISO text.
fn datetime_text(d: &ExcelDateTime) -> String {
    if d.is_duration() {
        // `[h]:mm:ss`: hours may pass 24.
        let seconds = (d.as_f64() * 86_400.0).round() as i64;
        let sign = if seconds < 0 { "-" } else { "" };
        let s = seconds.unsigned_abs();
        return format!("{sign}{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    }
    let (year, month, day, hour, minute, second, milli) = d.to_ymd_hms_milli();
    let time = match (hour, minute, second, milli) {
        (0, 0, 0, 0) => String::new(),
        (_, _, _, 0) => format!("{hour:02}:{minute:02}:{second:02}"),
        _ => format!("{hour:02}:{minute:02}:{second:02}.{milli:03}"),
    };
    // A serial below 1 is a time of day with no date (a cell formatted `hh:mm`).
    if (0.0..1.0).contains(&d.as_f64()) {
        return if time.is_empty() {
            "00:00:00".to_owned()
        } else {
            time
        };
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    if time.is_empty() {
        date
    } else {
        format!("{date}T{time}")
    }
}

/// An OpenDocument date value (`2024-01-31` or `2024-01-31T08:30:00`), its midnight left out.
fn iso_datetime_text(s: &str) -> Cow<'_, str> {
    let s = s.trim();
    for midnight in ["T00:00:00", "T00:00:00.000"] {
        if let Some(date) = s.strip_suffix(midnight) {
            return Cow::Borrowed(date);
        }
    }
    Cow::Borrowed(s)
}

/// An OpenDocument time value (`PT08H30M00S`) as `08:30:00`; kept as it is when it has another
/// shape.
fn iso_duration_text(s: &str) -> Cow<'_, str> {
    let parse = || -> Option<String> {
        let rest = s.trim().strip_prefix("PT")?;
        let (hours, rest) = rest.split_once('H')?;
        let (minutes, rest) = rest.split_once('M')?;
        let seconds = rest.strip_suffix('S')?;
        let (hours, minutes): (u64, u64) = (hours.parse().ok()?, minutes.parse().ok()?);
        let seconds: f64 = seconds.parse().ok()?;
        let whole = seconds.trunc() as u64;
        let fraction = &number_text(seconds - seconds.trunc())[1..];
        Some(if seconds.fract() == 0.0 {
            format!("{hours:02}:{minutes:02}:{whole:02}")
        } else {
            format!("{hours:02}:{minutes:02}:{whole:02}{fraction}")
        })
    };
    parse().map_or(Cow::Borrowed(s), Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::ExcelDateTimeType::{DateTime, TimeDelta};
    use calamine::{Data, DataRef};

    fn text(cell: Data) -> String {
        data_text(&cell).unwrap().into_owned()
    }

    #[test]
    fn integral_numbers_print_as_integers() {
        assert_eq!(number_text(34_612_345_678.0), "34612345678");
        assert_eq!(number_text(7_702_456.0), "7702456");
        assert_eq!(number_text(1.0), "1");
        assert_eq!(number_text(-42.0), "-42");
        assert_eq!(number_text(-0.0), "0");
        assert_eq!(number_text(1e21), "1000000000000000000000");
        assert_eq!(text(Data::Int(123)), "123");
        assert_eq!(text(Data::Float(12_345_678_901_234.0)), "12345678901234");
    }

    #[test]
    fn other_numbers_print_in_their_shortest_exact_form() {
        assert_eq!(number_text(0.1), "0.1");
        assert_eq!(number_text(1234.5), "1234.5");
        assert_eq!(number_text(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(number_text(1e-7), "0.0000001");
        assert_eq!(number_text(-2.25), "-2.25");
    }

    #[test]
    fn text_booleans_and_empty_cells() {
        assert_eq!(text(Data::String("00123".into())), "00123");
        assert_eq!(text(Data::String(" a b ".into())), " a b ");
        assert_eq!(text(Data::Bool(true)), "true");
        assert_eq!(text(Data::Bool(false)), "false");
        assert_eq!(text(Data::Empty), "");
        let shared = DataRef::SharedString("0034");
        assert_eq!(data_text(&shared).unwrap(), "0034");
        assert_eq!(data_text(&DataRef::Float(3.0)).unwrap(), "3");
    }

    #[test]
    fn dates_print_as_iso_with_a_time_only_when_there_is_one() {
        let date = |serial: f64| text(Data::DateTime(ExcelDateTime::new(serial, DateTime, false)));
        assert_eq!(date(29_179.0), "1979-11-20");
        assert_eq!(date(45_943.5), "2025-10-13T12:00:00");
        assert_eq!(date(45_943.541), "2025-10-13T12:59:02.400");
        assert_eq!(date(0.75), "18:00:00");
        // The 1904 date system (old Mac workbooks) counts from another day.
        let mac = ExcelDateTime::new(27_717.0, DateTime, true);
        assert_eq!(text(Data::DateTime(mac)), "1979-11-20");
        let duration = ExcelDateTime::new(1.5, TimeDelta, false);
        assert_eq!(text(Data::DateTime(duration)), "36:00:00");
        assert_eq!(text(Data::DateTimeIso("2024-01-31".into())), "2024-01-31");
        assert_eq!(
            text(Data::DateTimeIso("2024-01-31T00:00:00".into())),
            "2024-01-31"
        );
        assert_eq!(
            text(Data::DateTimeIso("2024-01-31T08:30:00".into())),
            "2024-01-31T08:30:00"
        );
        assert_eq!(text(Data::DurationIso("PT08H30M00S".into())), "08:30:00");
        assert_eq!(text(Data::DurationIso("PT1H2M3.5S".into())), "01:02:03.5");
        assert_eq!(text(Data::DurationIso("P1D".into())), "P1D");
    }

    #[test]
    fn error_cells_are_errors() {
        assert_eq!(
            data_text(&Data::Error(CellErrorType::NA)),
            Err(CellErrorType::NA)
        );
        assert_eq!(
            data_text(&DataRef::Error(CellErrorType::Div0)).map(|_| ()),
            Err(CellErrorType::Div0)
        );
    }
}
