//! Test workbooks written with `rust_xlsxwriter` the way Excel stores them: text cells, number
//! cells, dates as numbers with a date format, error results, formatted empty cells.

use std::path::Path;

use rust_xlsxwriter::{ExcelDateTime, Format as CellFormat, Formula, Workbook};

use crate::support::samples;

/// A cell of a test workbook.
#[derive(Clone)]
pub enum C {
    Text(String),
    Number(f64),
    /// A date cell (a serial number formatted `dd/mm/yyyy`).
    Date(u16, u8, u8),
    /// A date and time cell.
    DateTime(u16, u8, u8, u16, u8, u8),
    Bool(bool),
    /// A formula whose cached result is the error `#N/A`.
    NotAvailable,
    /// A formatted cell with no value (Excel leaves these below and beside the data).
    Blank,
}

pub fn t(s: &str) -> C {
    C::Text(s.to_owned())
}

/// Writes an `.xlsx` with `sheets`, each a name and its rows from row 1.
pub fn write_xlsx(path: &Path, sheets: &[(&str, Vec<Vec<C>>)]) {
    let mut book = Workbook::new();
    let date = CellFormat::new().set_num_format("dd/mm/yyyy");
    let date_time = CellFormat::new().set_num_format("dd/mm/yyyy hh:mm");
    let shaded = CellFormat::new().set_bold();
    for (name, rows) in sheets {
        let sheet = book.add_worksheet();
        sheet.set_name(*name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                match cell {
                    C::Text(s) => sheet.write_string(r, c, s).map(drop),
                    C::Number(n) => sheet.write_number(r, c, *n).map(drop),
                    C::Date(y, m, d) => {
                        let value = ExcelDateTime::from_ymd(*y, *m, *d).unwrap();
                        sheet
                            .write_datetime_with_format(r, c, &value, &date)
                            .map(drop)
                    }
                    C::DateTime(y, mo, d, h, mi, s) => {
                        let value = ExcelDateTime::from_ymd(*y, *mo, *d)
                            .unwrap()
                            .and_hms(*h, *mi, *s)
                            .unwrap();
                        sheet
                            .write_datetime_with_format(r, c, &value, &date_time)
                            .map(drop)
                    }
                    C::Bool(b) => sheet.write_boolean(r, c, *b).map(drop),
                    C::NotAvailable => sheet
                        .write_formula(r, c, Formula::new("=NA()").set_result("#N/A"))
                        .map(drop),
                    C::Blank => sheet.write_blank(r, c, &shaded).map(drop),
                }
                .unwrap();
            }
        }
    }
    book.save(path).unwrap();
}

/// The sample export as Excel would hold it: dates as date cells, integral numbers without
/// leading zeros as number cells, everything else (ids, DNIs, `03031`, phones) as text; a date
/// that does not exist (`30/02/1985`) stays text, as Excel keeps it.
pub fn sample_as_xlsx(path: &Path) {
    let mut reader = csv::Reader::from_path(samples().join("hr_export.csv")).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let mut rows = vec![header.iter().map(|h| t(h)).collect::<Vec<_>>()];
    for record in reader.records() {
        let record = record.unwrap();
        let row = record
            .iter()
            .zip(&header)
            .map(|(cell, column)| {
                let date = column.ends_with("_date").then(|| {
                    chrono::NaiveDate::parse_from_str(cell, "%d/%m/%Y")
                        .ok()
                        .map(|d| {
                            use chrono::Datelike;
                            C::Date(d.year() as u16, d.month() as u8, d.day() as u8)
                        })
                });
                let integral = !cell.is_empty()
                    && cell.len() < 15
                    && !cell.starts_with('0')
                    && cell.bytes().all(|b| b.is_ascii_digit());
                match date.flatten() {
                    Some(date) => date,
                    None if integral => C::Number(cell.parse().unwrap()),
                    None => t(cell),
                }
            })
            .collect();
        rows.push(row);
    }
    // Formatted, empty rows below the data, as Excel leaves them: not rows.
    rows.push(vec![C::Blank; 3]);
    rows.push(vec![C::Blank]);
    write_xlsx(path, &[("Plantilla", rows)]);
}
