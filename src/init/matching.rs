//! Which export column may fill which provider field, by name: `init --from` proposes the
//! columns, and `fit.rs` then checks their values against the field's rule.
//!
//! Names are compared folded: accents gone (`Móvil` is `movil`, with `deunicode`), case gone,
//! words split at separators and camelCase (`cellPhoneNumber`, `Cell phone number` and
//! `cell_phone_number` are the same words), filler words and plural `s` dropped, and word order
//! ignored. A SCIM attribute path folds to its words (`emails[type eq "work"].value` is
//! "email work", an enterprise attribute its own name). Beyond equal names, [`CONCEPTS`] holds
//! the usual Spanish and English HR header names of one meaning with the spellings providers use
//! for it, so `DNI` finds `nid_number` and `id_card`, and `Correo` finds `email`. A provider's
//! own new field names need no entry when they fold to a known name.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Words that carry no meaning in a header (`Fecha de nacimiento`, `type eq "work"`, `.value`).
const FILLER: &[&str] = &[
    "de", "del", "la", "el", "los", "las", "of", "the", "a", "type", "eq", "value",
];

/// Header names of one meaning, with the field names providers give it. Each entry is folded
/// before use; one folded name belongs to one meaning at most (a test checks it).
#[rustfmt::skip]
pub const CONCEPTS: &[(&str, &[&str])] = &[
    ("employee_id", &["employee id", "employee number", "employee no", "employee code", "emp id",
        "emp no", "staff id", "staff number", "worker id", "personnel number", "payroll id",
        "user id", "external id", "id empleado", "numero empleado", "num empleado", "n empleado",
        "no empleado", "codigo empleado", "cod empleado", "matricula", "legajo", "id trabajador",
        "codigo trabajador", "numero personal"]),
    ("username", &["user name", "username", "login", "usuario", "nombre usuario", "user"]),
    ("email", &["email", "e mail", "mail", "email address", "work email", "business email",
        "corporate email", "correo", "correo electronico", "correo corporativo", "correo trabajo",
        "email corporativo", "email trabajo", "emails work"]),
    ("personal_email", &["personal email", "home email", "correo personal", "email personal",
        "emails home"]),
    ("national_id", &["dni", "nif", "nie", "dni nie", "nif nie", "dni nif", "nid", "nid number",
        "national id", "national id number", "id card", "id number", "identity number",
        "documento", "documento identidad", "numero documento", "document number", "cedula",
        "passport number"]),
    ("first_name", &["first name", "firstname", "given name", "name given name", "forename",
        "nombre", "nombre pila", "name"]),
    ("last_name", &["last name", "lastname", "surname", "surnames", "family name",
        "name family name", "apellido", "apellidos", "primer apellido"]),
    ("full_name", &["full name", "display name", "formatted name", "name formatted",
        "nombre completo", "nombre y apellidos"]),
    ("birth_date", &["birth date", "birthdate", "date of birth", "dob", "birthday", "born date",
        "born", "fecha nacimiento", "nacimiento", "f nacimiento", "fecha nac"]),
    ("hire_date", &["hire date", "start date", "join date", "joining date", "join community date",
        "fecha alta", "fecha incorporacion", "fecha ingreso", "fecha contratacion", "antiguedad"]),
    ("mobile", &["mobile", "mobile phone", "mobile number", "mobile phone number", "cell",
        "cell phone", "cellphone", "cell phone number", "movil", "telefono movil", "numero movil",
        "celular", "phone numbers mobile"]),
    ("phone", &["phone", "phone number", "telephone", "telephone number", "work phone", "tel",
        "telefono", "telefono fijo", "telefono trabajo", "extension", "phone numbers work"]),
    ("gender", &["gender", "sex", "sexo", "genero"]),
    ("language", &["language", "lang", "idioma", "lengua", "preferred language",
        "service language code", "language code", "languaje", "codigo idioma"]),
    ("country", &["country", "country code", "pais", "codigo pais"]),
    ("address", &["address", "street address", "street", "direccion", "domicilio", "calle",
        "addresses home street address"]),
    ("city", &["city", "town", "locality", "ciudad", "localidad", "poblacion", "municipio",
        "addresses home locality"]),
    ("postal_code", &["postal code", "postcode", "zip", "zip code", "codigo postal", "cp",
        "addresses home postal code"]),
    ("province", &["province", "provincia", "provice", "state", "region", "addresses home region"]),
    ("department", &["department", "departamento", "dept", "area", "seccion", "servicio"]),
    ("job_title", &["title", "job title", "position", "job", "puesto", "cargo", "categoria"]),
    ("organization", &["organization", "organisation", "organizacion", "org", "org id", "org ids",
        "organization id", "company", "companies", "company id", "company name", "empresa",
        "id empresa", "compania", "sociedad"]),
    ("cost_center", &["cost center", "cost centre", "centro coste", "centro de coste", "ceco"]),
    ("manager", &["manager", "manager id", "responsable", "jefe", "supervisor"]),
    ("division", &["division", "business unit", "unidad negocio", "direccion general"]),
    ("password", &["password", "initial password", "contrasena", "clave", "pwd",
        "contrasena inicial"]),
    ("newsletter", &["newsletter", "receive newsletter", "boletin", "suscripcion boletin"]),
];

/// The words of a name: accents and case folded, split at separators and camelCase, filler words
/// and plural `s` dropped. A SCIM attribute with a schema URN (`urn:...:User:employeeNumber`)
/// is its last part.
pub fn words(name: &str) -> Vec<String> {
    let name = name.rsplit(':').next().unwrap_or(name);
    let ascii = deunicode::deunicode(name);
    let mut words = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for c in ascii.chars() {
        if !c.is_ascii_alphanumeric() {
            words.push(std::mem::take(&mut word));
            previous_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && previous_lower {
            words.push(std::mem::take(&mut word));
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        word.push(c.to_ascii_lowercase());
    }
    words.push(word);
    words
        .into_iter()
        .filter(|w| !w.is_empty() && !FILLER.contains(&w.as_str()))
        .map(singular)
        .collect()
}

/// `addresses` -> `address`, `companies` -> `company`, `apellidos` -> `apellido`; both sides of
/// a comparison go through it, so an odd stem (`pais` -> `pai`) does no harm.
fn singular(word: String) -> String {
    if let Some(stem) = word.strip_suffix("ies").filter(|s| s.len() >= 2) {
        return format!("{stem}y");
    }
    if let Some(stem) = word.strip_suffix("sses") {
        return format!("{stem}ss");
    }
    if word.len() >= 3 && word.ends_with('s') && !word.ends_with("ss") {
        return word[..word.len() - 1].to_owned();
    }
    word
}

/// A name folded for comparison: its [`words`], sorted, each once.
pub fn fold(name: &str) -> String {
    let mut words = words(name);
    words.sort_unstable();
    words.dedup();
    words.join(" ")
}

/// The meaning (a [`CONCEPTS`] name) of a folded name, if it has a known one.
pub fn concept(folded: &str) -> Option<&'static str> {
    static INDEX: OnceLock<HashMap<String, &'static str>> = OnceLock::new();
    INDEX
        .get_or_init(|| {
            CONCEPTS
                .iter()
                .flat_map(|(concept, names)| names.iter().map(|n| (fold(n), *concept)))
                .collect()
        })
        .get(folded)
        .copied()
}

/// How well a column's name fits a field's: lower is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fit {
    /// The same name, folded (`Email` for `email`).
    Name,
    /// The same name after the provider's own name (`gnoss_user_id` for GNOSS `user_id`).
    ProviderName,
    /// A header of the same meaning, after the provider's name (`faveo_org_ids`).
    ProviderMeaning,
    /// A header of the same meaning (`DNI` for `nid_number`).
    Meaning,
}

/// A column's folded name, and the same without a leading provider name.
#[derive(Debug, Clone)]
pub struct ColumnName {
    folded: String,
    for_provider: Option<String>,
}

impl ColumnName {
    /// `column` as read for `provider` (its config name).
    pub fn new(column: &str, provider: &str) -> ColumnName {
        let column_words = words(column);
        let prefix = words(provider);
        let for_provider = (column_words.len() > prefix.len() && column_words.starts_with(&prefix))
            .then(|| {
                let mut rest = column_words[prefix.len()..].to_vec();
                rest.sort_unstable();
                rest.dedup();
                rest.join(" ")
            });
        ColumnName {
            folded: fold(column),
            for_provider,
        }
    }

    /// The column's meaning, if its name has a known one.
    pub fn meaning(&self) -> Option<&'static str> {
        concept(&self.folded)
    }

    /// How this column fits the field `field`, if at all.
    pub fn fit(&self, field: &str) -> Option<Fit> {
        let field = fold(field);
        let field_concept = concept(&field);
        let same_meaning = |name: &str| field_concept.is_some() && concept(name) == field_concept;
        if self.folded == field {
            return Some(Fit::Name);
        }
        if let Some(name) = &self.for_provider {
            if *name == field {
                return Some(Fit::ProviderName);
            }
            if same_meaning(name) {
                return Some(Fit::ProviderMeaning);
            }
        }
        same_meaning(&self.folded).then_some(Fit::Meaning)
    }
}

/// The meaning of a provider field's name, if it has a known one (`user_id`: `employee_id`).
pub fn field_concept(field: &str) -> Option<&'static str> {
    concept(&fold(field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_accents_case_separators_camel_case_plurals_and_order() {
        assert_eq!(fold("Móvil"), "movil");
        assert_eq!(fold("cellPhoneNumber"), fold("Cell phone number"));
        assert_eq!(fold("Fecha de nacimiento"), "fecha nacimiento");
        assert_eq!(fold("name.givenName"), "given name");
        assert_eq!(fold("emails[type eq \"work\"].value"), fold("Work emails"));
        assert_eq!(
            fold("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"),
            fold("Employee Number")
        );
        assert_eq!(fold("APELLIDOS"), fold("apellido"));
        assert_eq!(fold("Addresses"), "address");
    }

    #[test]
    fn hr_headers_find_the_fields_of_their_meaning() {
        let fits = |column: &str, provider: &str, field: &str| {
            ColumnName::new(column, provider).fit(field)
        };
        assert_eq!(
            fits("DNI", "meetinglawyers", "nid_number"),
            Some(Fit::Meaning)
        );
        assert_eq!(fits("NIF", "gnoss", "id_card"), Some(Fit::Meaning));
        assert_eq!(fits("Correo", "faveo", "email"), Some(Fit::Meaning));
        assert_eq!(
            fits("Teléfono", "faveo", "phone_number"),
            Some(Fit::Meaning)
        );
        assert_eq!(
            fits("Móvil", "abitmedia", "cellPhoneNumber"),
            Some(Fit::Meaning)
        );
        assert_eq!(
            fits("Apellidos", "scim", "name.familyName"),
            Some(Fit::Meaning)
        );
        assert_eq!(
            fits("Employee ID", "scim", "externalId"),
            Some(Fit::Meaning)
        );
        assert_eq!(
            fits(
                "Departamento",
                "scim",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
            ),
            Some(Fit::Meaning)
        );
        assert_eq!(
            fits("Fecha de nacimiento", "meetinglawyers", "birthdate"),
            Some(Fit::Meaning)
        );
        assert_eq!(fits("first_name", "faveo", "first_name"), Some(Fit::Name));
        assert_eq!(
            fits("gnoss_user_id", "gnoss", "user_id"),
            Some(Fit::ProviderName)
        );
        assert_eq!(
            fits("faveo_org_ids", "faveo", "organization"),
            Some(Fit::ProviderMeaning)
        );
        assert_eq!(fits("Apellidos", "meetinglawyers", "first_name"), None);
        assert_eq!(fits("plan", "meetinglawyers", "status"), None);
    }

    #[test]
    fn a_folded_header_name_has_one_meaning() {
        let mut seen: HashMap<String, &str> = HashMap::new();
        for (concept, names) in CONCEPTS {
            for name in *names {
                if let Some(other) = seen.insert(fold(name), concept) {
                    assert_eq!(other, *concept, "{name:?} folds into two meanings");
                }
            }
        }
    }
}
