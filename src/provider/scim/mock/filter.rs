//! The SCIM mock's reading of attribute paths and filters, written from RFC 7644 (not from the
//! adapter's `path.rs`), so that a test can catch the adapter writing what a server cannot read.
//!
//! - Attribute paths (§3.4.2.2 Figure 1, `attrPath`): `a`, `a.b`, and either with a schema URN
//!   in front (`urn:...:enterprise:2.0:User:employeeNumber`); the core User URN names the core
//!   attribute itself. Names compare case-insensitively (RFC 7643 §2.1).
//! - Filters (§3.4.2.2), a subset: `attrPath eq compValue` with a string, `true`, `false` or a
//!   number; `and`, `or` (and binds tighter, §3.4.2.2 "standard order of operations");
//!   parentheses; a `valuePath` such as `emails[type eq "work" and value eq "x"]`. Operators and
//!   keywords in any case. Anything else (`ne`, `co`, `pr`, `not`, `eq null`, ...) is refused:
//!   the caller answers 400 `invalidFilter`.
//! - A multi-valued attribute matches when any of its values does (§3.4.2.2).
//! - Strings compare case-insensitively for `userName` (RFC 7643 §4.1.1, caseExact false) and
//!   `emails.value` (RFC 7643 §8.7.1, caseExact false), exactly everywhere else: a mock's
//!   simplification of "caseExact as the schema says"; numbers compare by value.
//! - PATCH paths (§3.5.2 Figure 7): `attrPath` or `valuePath [subAttr]`, as in
//!   `emails[type eq "work"].value`.

use serde_json::{Map, Value};

use crate::payload::Payload;

/// The core User schema (RFC 7643 §4.1).
pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// An attribute path: the extension holding the attribute (`None` for the core schema), the
/// attribute and an optional sub-attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    pub schema: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Eq(AttrPath, Value),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    /// `emails[...]`: some value of the multi-valued attribute matches the inner filter, whose
    /// paths name the value's sub-attributes.
    Has(AttrPath, Box<Filter>),
}

/// A PATCH path: an attribute path, and for a `valuePath` the filter choosing the values (then
/// `attr.sub` is the sub-attribute after the brackets).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
}

/// Why a PATCH path cannot be read: its shape (`invalidPath`) or its filter (`invalidFilter`).
#[derive(Debug, Clone, PartialEq)]
pub enum PathError {
    Path(String),
    Filter(String),
}

/// The value at `name` of `map`, the name compared case-insensitively (RFC 7643 §2.1).
pub fn get_ci<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    })
}

/// What a filter reads its attributes from: a JSON object, or a stored user's fields (read in
/// place, so that a search over every user copies none).
pub trait Attributes {
    /// The value of the attribute `name`, the name compared case-insensitively.
    fn attribute(&self, name: &str) -> Option<&Value>;
}

impl Attributes for Map<String, Value> {
    fn attribute(&self, name: &str) -> Option<&Value> {
        get_ci(self, name)
    }
}

impl Attributes for Payload {
    fn attribute(&self, name: &str) -> Option<&Value> {
        self.get(name).or_else(|| {
            self.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value)
        })
    }
}

/// The key of `map` that `name` names (an existing one in another case), or `name` itself.
pub fn key_ci(map: &Map<String, Value>, name: &str) -> String {
    map.keys()
        .find(|key| key.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_string())
}

fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$'))
}

/// Reads `[URI ":"] ATTRNAME ["." ATTRNAME]`.
pub fn attr_path(text: &str) -> Result<AttrPath, String> {
    let (schema, rest) = match text.get(..4) {
        Some(head) if head.eq_ignore_ascii_case("urn:") => {
            let at = text.rfind(':').unwrap_or(0);
            let urn = &text[..at];
            let schema = (!urn.eq_ignore_ascii_case(CORE_USER)).then(|| urn.to_string());
            (schema, &text[at + 1..])
        }
        _ => (None, text),
    };
    let mut parts = rest.split('.');
    let name = parts.next().unwrap_or_default();
    let sub = parts.next();
    if parts.next().is_some() || !is_name(name) || sub.is_some_and(|s| !is_name(s)) {
        return Err(format!("{text:?} is not an attribute path"));
    }
    Ok(AttrPath {
        schema,
        name: name.to_string(),
        sub: sub.map(str::to_string),
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    LBracket,
    RBracket,
    Str(String),
    Word(String),
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let c = bytes[at];
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => at += 1,
            b'(' | b')' | b'[' | b']' => {
                out.push(match c {
                    b'(' => Token::Open,
                    b')' => Token::Close,
                    b'[' => Token::LBracket,
                    _ => Token::RBracket,
                });
                at += 1;
            }
            b'"' => {
                let mut end = at + 1;
                while end < bytes.len() && bytes[end] != b'"' {
                    end += if bytes[end] == b'\\' { 2 } else { 1 };
                }
                let literal = text
                    .get(at..=end)
                    .ok_or_else(|| "a string is not closed".to_string())?;
                let value: String = serde_json::from_str(literal)
                    .map_err(|_| format!("{literal} is not a JSON string"))?;
                out.push(Token::Str(value));
                at = end + 1;
            }
            _ => {
                let end = text[at..]
                    .find(|c: char| c.is_whitespace() || "()[]\"".contains(c))
                    .map_or(text.len(), |n| at + n);
                out.push(Token::Word(text[at..end].to_string()));
                at = end;
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn keyword(&mut self, word: &str) -> bool {
        let found = matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word));
        if found {
            self.at += 1;
        }
        found
    }

    fn expect(&mut self, token: Token, what: &str) -> Result<(), String> {
        if self.next() == Some(token) {
            Ok(())
        } else {
            Err(format!("expected {what}"))
        }
    }

    fn or(&mut self, inner: bool) -> Result<Filter, String> {
        let mut left = self.and(inner)?;
        while self.keyword("or") {
            left = Filter::Or(Box::new(left), Box::new(self.and(inner)?));
        }
        Ok(left)
    }

    fn and(&mut self, inner: bool) -> Result<Filter, String> {
        let mut left = self.primary(inner)?;
        while self.keyword("and") {
            left = Filter::And(Box::new(left), Box::new(self.primary(inner)?));
        }
        Ok(left)
    }

    fn primary(&mut self, inner: bool) -> Result<Filter, String> {
        match self.next() {
            Some(Token::Open) => {
                let filter = self.or(inner)?;
                self.expect(Token::Close, "a closing parenthesis")?;
                Ok(filter)
            }
            Some(Token::Word(word)) if word.eq_ignore_ascii_case("not") => {
                Err("\"not\" is not supported".into())
            }
            Some(Token::Word(word)) => {
                let path = attr_path(&word)?;
                if inner && (path.schema.is_some() || path.sub.is_some()) {
                    return Err(format!("{word:?} is not a sub-attribute"));
                }
                match self.next() {
                    Some(Token::LBracket) if !inner && path.sub.is_none() => {
                        let filter = self.or(true)?;
                        self.expect(Token::RBracket, "a closing bracket")?;
                        Ok(Filter::Has(path, Box::new(filter)))
                    }
                    Some(Token::Word(op)) if op.eq_ignore_ascii_case("eq") => {
                        Ok(Filter::Eq(path, self.value()?))
                    }
                    Some(Token::Word(op)) => Err(format!("the operator {op:?} is not supported")),
                    _ => Err(format!("{word:?} needs an operator")),
                }
            }
            _ => Err("expected an attribute path".into()),
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.next() {
            Some(Token::Str(text)) => Ok(Value::String(text)),
            Some(Token::Word(word)) if word == "true" || word == "false" => {
                Ok(Value::Bool(word == "true"))
            }
            Some(Token::Word(word)) => match serde_json::from_str::<Value>(&word) {
                Ok(number @ Value::Number(_)) => Ok(number),
                _ => Err(format!("{word:?} is not a supported value")),
            },
            _ => Err("expected a value".into()),
        }
    }
}

fn parse(text: &str, inner: bool) -> Result<Filter, String> {
    let mut parser = Parser {
        tokens: tokens(text)?,
        at: 0,
    };
    let filter = parser.or(inner)?;
    if parser.at < parser.tokens.len() {
        return Err("unexpected text after the filter".into());
    }
    Ok(filter)
}

/// Reads a `filter` query parameter.
pub fn parse_filter(text: &str) -> Result<Filter, String> {
    parse(text, false)
}

/// Reads a PATCH operation's `path`.
pub fn parse_path(text: &str) -> Result<PatchPath, PathError> {
    let text = text.trim();
    let Some(open) = text.find('[') else {
        let attr = attr_path(text).map_err(PathError::Path)?;
        return Ok(PatchPath { attr, filter: None });
    };
    let bad = || PathError::Path(format!("{text:?} is not a PATCH path"));
    let close = text.rfind(']').filter(|&c| c > open).ok_or_else(bad)?;
    let mut attr = attr_path(&text[..open]).map_err(PathError::Path)?;
    if attr.sub.is_some() {
        return Err(bad());
    }
    let filter = parse(&text[open + 1..close], true).map_err(PathError::Filter)?;
    match &text[close + 1..] {
        "" => {}
        rest => {
            let sub = rest
                .strip_prefix('.')
                .filter(|s| is_name(s))
                .ok_or_else(bad)?;
            attr.sub = Some(sub.to_string());
        }
    }
    Ok(PatchPath {
        attr,
        filter: Some(filter),
    })
}

/// Whether strings at this path compare case-insensitively (see the opening of this file).
fn case_insensitive(parent: Option<&str>, path: &AttrPath) -> bool {
    if path.schema.is_some() {
        return false;
    }
    let name = path.name.to_ascii_lowercase();
    let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
    match parent.map(str::to_ascii_lowercase).as_deref() {
        None => name == "username" || (name == "emails" && sub.as_deref() == Some("value")),
        Some("emails") => name == "value",
        Some(_) => false,
    }
}

fn equal(found: &Value, wanted: &Value, insensitive: bool) -> bool {
    match (found, wanted) {
        (Value::String(a), Value::String(b)) if insensitive => a.to_lowercase() == b.to_lowercase(),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => found == wanted,
    }
}

/// The values `path` names in `object`, a multi-valued attribute's values one by one.
fn values<'a>(object: &'a dyn Attributes, path: &AttrPath) -> Vec<&'a Value> {
    let found = match &path.schema {
        Some(urn) => match object.attribute(urn) {
            Some(Value::Object(extension)) => get_ci(extension, &path.name),
            _ => None,
        },
        None => object.attribute(&path.name),
    };
    let Some(value) = found else {
        return Vec::new();
    };
    let each: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    match &path.sub {
        None => each,
        Some(sub) => each
            .into_iter()
            .filter_map(|v| v.as_object().and_then(|o| get_ci(o, sub)))
            .collect(),
    }
}

impl Filter {
    /// Whether the resource `object` matches.
    pub fn matches(&self, object: &dyn Attributes) -> bool {
        self.eval(object, None)
    }

    /// Whether one value of the multi-valued attribute `parent` matches (a `valuePath` filter).
    pub fn matches_value(&self, value: &Value, parent: &str) -> bool {
        value
            .as_object()
            .is_some_and(|o| self.eval(o as &dyn Attributes, Some(parent)))
    }

    fn eval(&self, object: &dyn Attributes, parent: Option<&str>) -> bool {
        match self {
            Filter::Eq(path, wanted) => {
                let insensitive = case_insensitive(parent, path);
                values(object, path)
                    .into_iter()
                    .any(|found| equal(found, wanted, insensitive))
            }
            Filter::And(a, b) => a.eval(object, parent) && b.eval(object, parent),
            Filter::Or(a, b) => a.eval(object, parent) || b.eval(object, parent),
            Filter::Has(path, inner) => values(object, path)
                .into_iter()
                .any(|value| inner.matches_value(value, &path.name)),
        }
    }

    /// The sub-attribute values a value must have to match, when the filter is only `eq`s
    /// joined by `and` (`type eq "work" and primary eq true`): what a new value is made of.
    pub fn eq_terms(&self) -> Option<Map<String, Value>> {
        match self {
            Filter::Eq(path, value) if path.schema.is_none() && path.sub.is_none() => {
                Some(Map::from_iter([(path.name.clone(), value.clone())]))
            }
            Filter::And(a, b) => {
                let mut terms = a.eq_terms()?;
                terms.extend(b.eq_terms()?);
                Some(terms)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
