//! What the benches share: the MeetingLawyers target they sync or validate, and the export
//! they generate for it (deterministic, every row valid and every user distinct, down to the
//! unique fields a provider's mock checks: real DNIs with their check letter, all different,
//! dates to convert, value maps, e-mail addresses to lower-case).
//!
//! Included by each bench with `#[path = "common/mod.rs"] mod common;`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// The target `lawyers`: a MeetingLawyers user from each row of [`generate`]'s export.
pub const TARGET: &str = r#"
[targets.lawyers]
provider = "meetinglawyers"
base_url = "mock"
key = "user_id"

[targets.lawyers.fields]
user_id = "employee_id"
status = { column = "plan", map = { premium = 2, free = 0, trial = 4 } }
email = { column = "work_email", transform = "lowercase" }
nid_number = { column = "dni", transform = "uppercase" }
first_name = "first_name"
last_name = "last_name"
gender = { column = "sex", map = { M = 0, F = 1 } }
birthdate = { column = "birth_date", date_format = "%d/%m/%Y" }
mobile_phone = "mobile"
service_language_code = "language"
country_code = { value = "ES" }
"#;

const FIRST: [&str; 8] = [
    "María", "José", "Lucía", "Javier", "Carmen", "Iñaki", "Núria", "Álvaro",
];
const LAST: [&str; 8] = [
    "García",
    "Núñez",
    "Martínez",
    "López",
    "Peña",
    "Sánchez",
    "Puig",
    "Ruiz",
];
const PLANS: [&str; 3] = ["premium", "free", "trial"];
const LANGS: [&str; 4] = ["es", "en", "ca", "es"];
const NID_LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";

/// Writes an export of `rows` rows for [`TARGET`] to `path`: deterministic, every row valid.
pub fn generate(path: &Path, rows: u64) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    writeln!(
        out,
        "employee_id,first_name,last_name,work_email,dni,sex,birth_date,mobile,plan,language"
    )?;
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..rows {
        let r = next();
        let first = FIRST[(r % 8) as usize];
        let last = LAST[((r >> 3) % 8) as usize];
        // 7,919 is prime to 89,999,999: a different DNI for each of the first 89,999,999 rows.
        let dni = 10_000_000 + (i * 7_919) % 89_999_999;
        let letter = NID_LETTERS[(dni % 23) as usize] as char;
        writeln!(
            out,
            "E{i:07},{first},{last} {last},User.{i}@Example.COM,{dni}{letter},{},{:02}/{:02}/{},+34 6{:02} {:03} {:03},{},{}",
            if r & 1 == 0 { "M" } else { "F" },
            1 + (r >> 20) % 28,
            1 + (r >> 25) % 12,
            1960 + (r >> 30) % 45,
            (r >> 36) % 100,
            (r >> 40) % 1000,
            (r >> 50) % 1000,
            PLANS[((r >> 12) % 3) as usize],
            LANGS[((r >> 16) % 4) as usize],
        )?;
    }
    out.flush()
}
