//! A fast path for the usual `date_format`s (`%d/%m/%Y`, `%Y%m%d`, `%m-%d-%Y`): a format made
//! only of `%Y`, `%m`, `%d` (each once) and literal text reads a value of one fixed layout, so
//! such a value is read by position instead of through chrono's general parser, which costs
//! more than the rest of the field's mapping.
//!
//! It never decides alone: a value it does not read (another layout, a day that does not exist)
//! goes through chrono as before, so the result and every message stay chrono's.

use chrono::format::{Item, Numeric};
use chrono::NaiveDate;

/// What a byte of the layout must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Digit,
    Byte(u8),
}

/// A date format of fixed layout, compiled from its chrono items.
#[derive(Debug)]
pub(super) struct FixedDate {
    slots: Vec<Slot>,
    /// Where the 4-digit year, the 2-digit month and the 2-digit day start.
    year: usize,
    month: usize,
    day: usize,
}

impl FixedDate {
    /// The fixed layout of `items`, or `None` when the format has anything else (spaces, which
    /// chrono reads as "any whitespace"; names; two-digit years; times) or lacks a part.
    pub(super) fn compile(items: &[Item<'_>]) -> Option<FixedDate> {
        let mut slots = Vec::new();
        let (mut year, mut month, mut day) = (None, None, None);
        for item in items {
            let (at, width) = match item {
                Item::Literal(text) => {
                    slots.extend(text.bytes().map(Slot::Byte));
                    continue;
                }
                Item::OwnedLiteral(text) => {
                    slots.extend(text.bytes().map(Slot::Byte));
                    continue;
                }
                Item::Numeric(Numeric::Year, _) => (&mut year, 4),
                Item::Numeric(Numeric::Month, _) => (&mut month, 2),
                Item::Numeric(Numeric::Day, _) => (&mut day, 2),
                _ => return None,
            };
            if at.replace(slots.len()).is_some() {
                return None;
            }
            slots.extend(std::iter::repeat_n(Slot::Digit, width));
        }
        Some(FixedDate {
            slots,
            year: year?,
            month: month?,
            day: day?,
        })
    }

    /// The date in `value` when it has exactly this layout and the day exists; `None` otherwise
    /// (the caller then asks chrono, which gives the same answer where this one gives one).
    pub(super) fn parse(&self, value: &str) -> Option<NaiveDate> {
        let bytes = value.as_bytes();
        if bytes.len() != self.slots.len() {
            return None;
        }
        let fits = self.slots.iter().zip(bytes).all(|(slot, &b)| match slot {
            Slot::Digit => b.is_ascii_digit(),
            Slot::Byte(want) => b == *want,
        });
        if !fits {
            return None;
        }
        let number = |at: usize, width: usize| {
            bytes[at..at + width]
                .iter()
                .fold(0u32, |n, &b| n * 10 + u32::from(b - b'0'))
        };
        // Four digits: the year fits an i32.
        let year = i32::try_from(number(self.year, 4)).ok()?;
        NaiveDate::from_ymd_opt(year, number(self.month, 2), number(self.day, 2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::format::{Parsed, StrftimeItems};

    fn chrono_date(items: &[Item<'static>], value: &str) -> Option<NaiveDate> {
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, value, items.iter())
            .ok()
            .and_then(|()| parsed.to_naive_date().ok())
    }

    fn items(format: &str) -> Vec<Item<'static>> {
        StrftimeItems::new(format).parse_to_owned().unwrap()
    }

    #[test]
    fn only_plain_numeric_layouts_have_a_fast_path() {
        for format in [
            "%d/%m/%Y",
            "%Y-%m-%d",
            "%Y%m%d",
            "%m.%d.%Y",
            "día:%d-%m-%Y",
            "%F",
        ] {
            assert!(FixedDate::compile(&items(format)).is_some(), "{format}");
        }
        for format in [
            "%d %m %Y",
            "%d/%m/%y",
            "%d/%b/%Y",
            "%d/%m",
            "%d/%m/%Y/%d",
            "%j/%Y",
        ] {
            assert!(FixedDate::compile(&items(format)).is_none(), "{format}");
        }
    }

    #[test]
    fn the_fast_path_agrees_with_chrono_whenever_it_answers() {
        let formats = ["%d/%m/%Y", "%Y-%m-%d", "%Y%m%d", "%m-%d-%Y", "%d.%m.%Y"];
        let mut values: Vec<String> = [
            "31/12/1980",
            "29/02/2024",
            "29/02/2023",
            "30/02/1985",
            "00/01/2000",
            "01/00/2000",
            "01/13/2000",
            "1/2/1980",
            " 01/02/1980",
            "01/02/1980 ",
            "01/02/+1980",
            "01/02/0000",
            "01/02/19800",
            "2024-02-29",
            "20240229",
            "12-31-1999",
            "01/02/１980",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every layout filled with pseudo-random digits, many of them impossible dates.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let (d, m, y) = (seed % 40, (seed >> 8) % 15, (seed >> 16) % 10_000);
            values.push(format!("{d:02}/{m:02}/{y:04}"));
            values.push(format!("{y:04}-{m:02}-{d:02}"));
            values.push(format!("{y:04}{m:02}{d:02}"));
            values.push(format!("{m:02}-{d:02}-{y:04}"));
            values.push(format!("{d:02}.{m:02}.{y:04}"));
        }
        for format in formats {
            let items = items(format);
            let fast = FixedDate::compile(&items).unwrap();
            let mut answered = 0;
            for value in &values {
                if let Some(date) = fast.parse(value) {
                    answered += 1;
                    assert_eq!(Some(date), chrono_date(&items, value), "{format} {value}");
                }
            }
            assert!(answered > 1000, "{format}: {answered}");
        }
    }

    #[test]
    fn impossible_days_are_left_to_chrono() {
        let fast = FixedDate::compile(&items("%d/%m/%Y")).unwrap();
        assert_eq!(fast.parse("30/02/1985"), None);
        assert_eq!(fast.parse("29/02/2023"), None);
        assert_eq!(
            fast.parse("29/02/2024"),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
    }
}
