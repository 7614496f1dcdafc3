//! The GNOSS mock's own OAuth 1.0 HMAC-SHA1 verifier, written from RFC 5849 apart from the
//! adapter's signer (`super::oauth`), so that a mistake in the signer is refused by the mock
//! instead of being repeated by it.
//!
//! It parses the `Authorization: OAuth ...` header (section 3.5.1), builds the signature base
//! string (3.4.1) with the percent-encoding of 3.6, signs it with HMAC-SHA1 keyed by
//! `consumer_secret&token_secret` (3.4.2) and compares the result with the request's signature
//! in constant time. Two ways of building the base string, as [`BaseStringRule`] says: RFC
//! 5849's, and GNOSS's (every request as `GET`, over the URL without its query). The JSON body
//! is never part of the signature. Freshness (timestamp, nonce) is left to the caller.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// How the server rebuilds the signature base string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseStringRule {
    /// RFC 5849 section 3.4.1: the request's method, and the query parameters among the
    /// normalised parameters.
    Rfc5849,
    /// GNOSS's server: `GET` whatever the method, and only the header's parameters (the URL's
    /// query is left out).
    Gnoss,
}

/// What the verifier knows of the request: its request line and `Host` header.
#[derive(Debug, Clone, Copy)]
pub struct RequestTarget<'a> {
    pub method: &'a str,
    /// `http` or `https`.
    pub scheme: &'a str,
    /// The `Host` header: a host, with a port when the client gave one.
    pub host: &'a str,
    /// The path as requested (still percent-encoded), e.g. `/user/modify-user`.
    pub path: &'a str,
    /// The query string as requested, without its `?`.
    pub query: Option<&'a str>,
}

/// The keys and secrets the server accepts.
#[derive(Clone, Copy)]
pub struct ServerKeys<'a> {
    pub consumer_key: &'a str,
    pub consumer_secret: &'a str,
    pub token: &'a str,
    pub token_secret: &'a str,
}

/// What a request whose signature is right said of itself, for the freshness checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub timestamp: u64,
    pub nonce: String,
}

/// Why a signature was refused. No message carries a secret or a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("Missing OAuth Authorization header")]
    NoHeader,
    #[error("The Authorization header is not a valid OAuth header")]
    Malformed,
    #[error("The OAuth parameter {0} is missing")]
    Missing(&'static str),
    #[error("The OAuth parameter {0} is given twice")]
    Repeated(String),
    #[error("Unsupported OAuth signature method (only HMAC-SHA1 is accepted)")]
    SignatureMethod,
    #[error("Unsupported OAuth version (only 1.0 is accepted)")]
    Version,
    #[error("Unknown OAuth consumer key")]
    ConsumerKey,
    #[error("Unknown OAuth access token")]
    Token,
    #[error("The OAuth timestamp is not a number of seconds")]
    Timestamp,
    #[error("Invalid OAuth signature")]
    Signature,
}

/// Percent-encodes as RFC 5849 section 3.6 asks: every byte of the UTF-8 text but the
/// unreserved characters (`A-Z a-z 0-9 - . _ ~`) as `%XX`, with upper-case hex digits.
pub fn percent_encode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|v| u8::try_from(v).ok())
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`). A malformed escape is an
/// error when `strict`, else kept as it is (what form decoding does with a stray `%`).
fn percent_decode(text: &str, plus_is_space: bool, strict: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let escaped = bytes
                    .get(i + 1..i + 3)
                    .and_then(|pair| Some(hex_value(pair[0])? << 4 | hex_value(pair[1])?));
                match escaped {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    None if strict => return None,
                    None => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            other => out.push(other),
        }
        i += 1;
    }
    if strict {
        String::from_utf8(out).ok()
    } else {
        Some(String::from_utf8_lossy(&out).into_owned())
    }
}

/// The parameters of an `Authorization: OAuth ...` header (RFC 5849 section 3.5.1), decoded,
/// in the order given: `OAuth` (any case), then `name="value"` pairs separated by commas and
/// optional whitespace. A value may also come unquoted (an HTTP auth-param token). A name given
/// twice is refused.
pub fn parse_authorization(value: &str) -> Result<Vec<(String, String)>, Refused> {
    let value = value.trim();
    let (scheme, mut rest) = value.split_at(value.find(char::is_whitespace).unwrap_or(value.len()));
    if !scheme.eq_ignore_ascii_case("OAuth") {
        return Err(Refused::Malformed);
    }
    let mut params: Vec<(String, String)> = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
        if rest.is_empty() {
            break;
        }
        let (name, after) = rest.split_once('=').ok_or(Refused::Malformed)?;
        let name = name.trim();
        if name.is_empty() || name.contains(|c: char| c.is_ascii_whitespace() || c == ',') {
            return Err(Refused::Malformed);
        }
        let after = after.trim_start();
        let raw = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').ok_or(Refused::Malformed)?;
            rest = &quoted[end + 1..];
            &quoted[..end]
        } else {
            let end = after.find(',').unwrap_or(after.len());
            rest = &after[end..];
            after[..end].trim_end()
        };
        if !(rest.is_empty() || rest.starts_with(|c: char| c == ',' || c.is_ascii_whitespace())) {
            return Err(Refused::Malformed);
        }
        let name = percent_decode(name, false, true).ok_or(Refused::Malformed)?;
        let value = percent_decode(raw, false, true).ok_or(Refused::Malformed)?;
        if params.iter().any(|(seen, _)| *seen == name) {
            return Err(Refused::Repeated(name));
        }
        params.push((name, value));
    }
    Ok(params)
}

/// The query's parameters, decoded as `application/x-www-form-urlencoded` (RFC 5849 section
/// 3.4.1.3.1): `&`-separated, `name=value` or a bare `name`, `+` a space.
fn query_parameters(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_decode(s, true, false).unwrap_or_default();
            (decode(name), decode(value))
        })
        .collect()
}

/// The base string URI (section 3.4.1.2): scheme and host in lower case, the port only when it
/// is not the scheme's default, then the path (`/` when empty); no query, no fragment.
fn base_string_uri(target: &RequestTarget<'_>) -> String {
    let scheme = target.scheme.to_ascii_lowercase();
    let host = target.host.trim().to_ascii_lowercase();
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let host = host.strip_suffix(default_port).unwrap_or(&host);
    let path = if target.path.is_empty() {
        "/"
    } else {
        target.path
    };
    format!("{scheme}://{host}{path}")
}

/// The signature base string (section 3.4.1) of a request carrying the header parameters
/// `oauth` (`realm` and `oauth_signature` are left out here), built by `rule`. `extra` are
/// further request parameters (a form body's, in the RFC's own examples; GNOSS's JSON bodies
/// give none).
pub fn base_string(
    rule: BaseStringRule,
    target: &RequestTarget<'_>,
    oauth: &[(String, String)],
    extra: &[(String, String)],
) -> String {
    let mut params: Vec<(String, String)> = oauth
        .iter()
        .filter(|(name, _)| name != "realm" && name != "oauth_signature")
        .chain(extra)
        .map(|(name, value)| (percent_encode(name), percent_encode(value)))
        .collect();
    let method = match rule {
        BaseStringRule::Gnoss => "GET".to_string(),
        BaseStringRule::Rfc5849 => {
            let query = query_parameters(target.query.unwrap_or_default());
            params.extend(
                query
                    .iter()
                    .map(|(name, value)| (percent_encode(name), percent_encode(value))),
            );
            target.method.to_ascii_uppercase()
        }
    };
    // Section 3.4.1.3.2: sorted by encoded name, then by encoded value (byte order).
    params.sort();
    let normalized: Vec<String> = params
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    format!(
        "{}&{}&{}",
        percent_encode(&method),
        percent_encode(&base_string_uri(target)),
        percent_encode(&normalized.join("&"))
    )
}

/// HMAC-SHA1 of `base` keyed with the encoded secrets joined by `&` (section 3.4.2).
fn hmac_sha1(keys: &ServerKeys<'_>, base: &str) -> Hmac<Sha1> {
    let key = format!(
        "{}&{}",
        percent_encode(keys.consumer_secret),
        percent_encode(keys.token_secret)
    );
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key.as_bytes()) else {
        unreachable!("HMAC takes a key of any length")
    };
    mac.update(base.as_bytes());
    mac
}

/// Checks the `Authorization` header `header` of the request `target` against `keys`, the
/// base string built by `rule`.
pub fn verify(
    rule: BaseStringRule,
    target: &RequestTarget<'_>,
    header: Option<&str>,
    keys: &ServerKeys<'_>,
) -> Result<Signed, Refused> {
    let params = parse_authorization(header.ok_or(Refused::NoHeader)?)?;
    let get = |name: &'static str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let required = |name: &'static str| get(name).ok_or(Refused::Missing(name));
    if required("oauth_signature_method")? != "HMAC-SHA1" {
        return Err(Refused::SignatureMethod);
    }
    if get("oauth_version").is_some_and(|v| v != "1.0") {
        return Err(Refused::Version);
    }
    if required("oauth_consumer_key")? != keys.consumer_key {
        return Err(Refused::ConsumerKey);
    }
    if required("oauth_token")? != keys.token {
        return Err(Refused::Token);
    }
    let timestamp = required("oauth_timestamp")?;
    if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refused::Timestamp);
    }
    let timestamp = timestamp.parse().map_err(|_| Refused::Timestamp)?;
    let nonce = required("oauth_nonce")?.to_string();
    let given = BASE64
        .decode(required("oauth_signature")?)
        .map_err(|_| Refused::Signature)?;
    let base = base_string(rule, target, &params, &[]);
    // `verify_slice` compares in constant time.
    hmac_sha1(keys, &base)
        .verify_slice(&given)
        .map_err(|_| Refused::Signature)?;
    Ok(Signed { timestamp, nonce })
}

#[cfg(test)]
#[path = "rfc5849_tests.rs"]
mod tests;
