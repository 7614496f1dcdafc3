//! A generated MeetingLawyers export for the sync tests, with what each row must become at the
//! provider: the config that maps it, the CSV itself, and per row its line, its key, whether
//! validation accepts it, and the exact fields the mock must end up storing.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

/// The target every sync test syncs to; `--base-url` points it at the test's mock.
pub const TARGET: &str = "lawyers";

/// A MeetingLawyers config for the generated export. `concurrency` and `burst` are the target's;
/// no rate limit unless the test passes `--rate`.
pub fn config(concurrency: usize, burst: u32) -> String {
    format!(
        r#"
ledger = "usersync.db"

[targets.lawyers]
provider = "meetinglawyers"
base_url = "mock"
credentials = {{ api_key = "ML_API_KEY", secret_key = "ML_SECRET_KEY" }}
key = "user_id"
concurrency = {concurrency}
burst = {burst}
max_retries = 10
timeout_secs = 10

[targets.lawyers.fields]
user_id = "id"
status = {{ column = "plan", map = {{ premium = 2, free = 0, trial = 4 }} }}
email = {{ column = "email", transform = ["trim", "lowercase"] }}
first_name = "first_name"
last_name = "last_name"
gender = {{ column = "sex", map = {{ M = 0, F = 1 }} }}
birthdate = {{ column = "born", date_format = "%d/%m/%Y" }}
ml_group_name = {{ column = "department", transform = ["trim", "lowercase"] }}
"#
    )
}

/// One row of the export and what it must become.
#[derive(Debug, Clone)]
pub struct Row {
    /// The row's line in the file (the header is line 1).
    pub line: i64,
    pub key: String,
    /// Whether validation accepts the row.
    pub valid: bool,
    /// The fields the provider must store for a valid row.
    pub expected: Map<String, Value>,
}

/// A generated export on disk.
#[derive(Debug)]
pub struct Export {
    pub path: PathBuf,
    pub rows: Vec<Row>,
}

impl Export {
    /// Writes `n` rows to `dir/name`; every `bad_every`-th row (when given) has an invalid email,
    /// so validation rejects it.
    pub fn generate(dir: &Path, name: &str, n: usize, bad_every: Option<usize>) -> Export {
        const FIRST: [&str; 6] = ["Ana", "Lucía", "José", "Íñigo", "Marta", "Jordi"];
        const LAST: [&str; 5] = ["García", "Núñez", "Puig", "Etxeberria", "Ruiz Sáez"];
        const PLANS: [(&str, i64); 3] = [("premium", 2), ("free", 0), ("trial", 4)];
        const DEPARTMENTS: [&str; 3] = ["Ventas", " Legal ", "Sistemas"];
        let mut csv = String::from("id,email,first_name,last_name,plan,sex,born,department\n");
        let mut rows = Vec::with_capacity(n);
        for i in 0..n {
            let key = format!("E{i:06}");
            let valid = !matches!(bad_every, Some(k) if i % k == k - 1);
            let email = if valid {
                format!(" User.{i}@Empresa.Example.com")
            } else {
                format!("user {i}@empresa.example.com")
            };
            let (first, last) = (FIRST[i % FIRST.len()], LAST[i % LAST.len()]);
            let (plan, status) = PLANS[i % PLANS.len()];
            let (sex, gender) = if i % 2 == 0 { ("F", 1) } else { ("M", 0) };
            let (day, month, year) = (1 + i % 28, 1 + i % 12, 1960 + i % 40);
            let department = DEPARTMENTS[i % DEPARTMENTS.len()];
            csv.push_str(&format!(
                "{key},{email},{first},{last},{plan},{sex},{day:02}/{month:02}/{year},{department}\n"
            ));
            let expected = json!({
                "user_id": key,
                "status": status,
                "email": format!("user.{i}@empresa.example.com"),
                "first_name": first,
                "last_name": last,
                "gender": gender,
                "birthdate": format!("{year}-{month:02}-{day:02}"),
                "ml_group_name": department.trim().to_lowercase(),
            });
            let Value::Object(expected) = expected else {
                unreachable!()
            };
            rows.push(Row {
                line: i as i64 + 2,
                key,
                valid,
                expected,
            });
        }
        let path = dir.join(name);
        std::fs::write(&path, csv).expect("write the export");
        Export { path, rows }
    }

    /// The rows validation accepts.
    pub fn valid(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.valid)
    }

    /// How many rows validation accepts.
    pub fn valid_count(&self) -> usize {
        self.valid().count()
    }
}
