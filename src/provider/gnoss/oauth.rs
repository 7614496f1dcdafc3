//! OAuth 1.0 HMAC-SHA1 signing and verification for GNOSS, both GNOSS's way and RFC 5849's.
//!
//! Signing (the adapter) and verification (the mock) live together so that they cannot drift.
//! Two styles build the signature base string:
//! - [`SigningStyle::Rfc5849`]: RFC 5849 section 3.4, the request's real method, its base URI
//!   without the query, and the normalised parameters (query parameters and every `oauth_*`
//!   parameter but the signature). No `oauth_version` is sent (it is optional in the RFC).
//! - [`SigningStyle::Gnoss`]: what GNOSS's official .NET client and its server do: every request
//!   is signed as if it were `GET`, over the URL without its query string, with
//!   `oauth_version="1.0"`.
//!
//! The JSON body is never signed in either style. HMAC-SHA1 comes from `hmac` + `sha1`, the
//! RFC 3986 percent-encoding from `percent-encoding`; only the base string is built here.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rand::distributions::Alphanumeric;
use rand::Rng;
use sha1::Sha1;

/// RFC 3986 section 2.3: everything but the unreserved characters is percent-encoded.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The only signature method GNOSS speaks.
pub const SIGNATURE_METHOD: &str = "HMAC-SHA1";

/// How the signature base string is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigningStyle {
    /// GNOSS's server: every request signed as if it were `GET`, over the URL without its query.
    #[default]
    Gnoss,
    /// RFC 5849 section 3.4: the real method, the query parameters included.
    Rfc5849,
}

impl SigningStyle {
    /// The name used in config files and on the command line (`gnoss`, `rfc5849`).
    pub fn as_str(self) -> &'static str {
        match self {
            SigningStyle::Gnoss => "gnoss",
            SigningStyle::Rfc5849 => "rfc5849",
        }
    }
}

impl fmt::Display for SigningStyle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SigningStyle {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "gnoss" => Ok(SigningStyle::Gnoss),
            "rfc5849" | "rfc" => Ok(SigningStyle::Rfc5849),
            other => Err(format!(
                "unknown signing style {other:?} (expected \"gnoss\" or \"rfc5849\")"
            )),
        }
    }
}

/// The four OAuth secrets and keys.
#[derive(Clone, Copy)]
pub struct OAuthKeys<'a> {
    pub consumer_key: &'a str,
    pub consumer_secret: &'a str,
    pub token: &'a str,
    pub token_secret: &'a str,
}

impl fmt::Debug for OAuthKeys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OAuthKeys([redacted])")
    }
}

/// RFC 3986 percent-encoding of one value (section 3.6 of RFC 5849).
pub fn encode(value: &str) -> String {
    utf8_percent_encode(value, RFC3986).to_string()
}

/// A fresh random nonce: 32 alphanumeric characters. Use a new one on every attempt.
pub fn new_nonce() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// The `oauth_*` protocol parameters (without the signature) a request signed in `style` carries.
fn protocol_params(
    style: SigningStyle,
    keys: &OAuthKeys<'_>,
    timestamp: u64,
    nonce: &str,
) -> Vec<(String, String)> {
    let mut params = vec![
        (
            "oauth_consumer_key".to_string(),
            keys.consumer_key.to_string(),
        ),
        ("oauth_nonce".to_string(), nonce.to_string()),
        (
            "oauth_signature_method".to_string(),
            SIGNATURE_METHOD.to_string(),
        ),
        ("oauth_timestamp".to_string(), timestamp.to_string()),
        ("oauth_token".to_string(), keys.token.to_string()),
    ];
    if style == SigningStyle::Gnoss {
        params.push(("oauth_version".to_string(), "1.0".to_string()));
    }
    params
}

/// The base string URI (RFC 5849 section 3.4.1.2): lower-case scheme and host, the port only
/// when it is not the scheme's default, the path, no query, no fragment.
fn base_uri(url: &url::Url) -> String {
    let scheme = url.scheme().to_ascii_lowercase();
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    // `url` already drops a port equal to the scheme's default.
    match url.port() {
        Some(port) => format!("{scheme}://{host}:{port}{}", url.path()),
        None => format!("{scheme}://{host}{}", url.path()),
    }
}

/// The signature base string for a request in `style`, given its protocol parameters
/// (every `oauth_*` parameter but `oauth_signature`; `realm` is ignored).
pub fn base_string(
    style: SigningStyle,
    method: &str,
    url: &url::Url,
    oauth_params: &[(String, String)],
) -> String {
    let mut pairs: Vec<(String, String)> = oauth_params
        .iter()
        .filter(|(name, _)| name != "oauth_signature" && name != "realm")
        .map(|(name, value)| (encode(name), encode(value)))
        .collect();
    let method = match style {
        SigningStyle::Gnoss => "GET".to_string(),
        SigningStyle::Rfc5849 => {
            pairs.extend(
                url.query_pairs()
                    .map(|(name, value)| (encode(&name), encode(&value))),
            );
            method.to_ascii_uppercase()
        }
    };
    pairs.sort();
    let normalized = pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "{}&{}&{}",
        encode(&method),
        encode(&base_uri(url)),
        encode(&normalized)
    )
}

/// The HMAC-SHA1 keyed with `consumer_secret&token_secret`, fed the base string.
fn mac(keys: &OAuthKeys<'_>, base: &str) -> Hmac<Sha1> {
    let key = format!(
        "{}&{}",
        encode(keys.consumer_secret),
        encode(keys.token_secret)
    );
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = match Hmac::<Sha1>::new_from_slice(key.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(base.as_bytes());
    mac
}

/// The base64 HMAC-SHA1 signature of a request.
pub fn signature(
    style: SigningStyle,
    method: &str,
    url: &url::Url,
    keys: &OAuthKeys<'_>,
    timestamp: u64,
    nonce: &str,
) -> String {
    let params = protocol_params(style, keys, timestamp, nonce);
    let base = base_string(style, method, url, &params);
    BASE64.encode(mac(keys, &base).finalize().into_bytes())
}

/// The full `Authorization: OAuth ...` header value: the protocol parameters and the signature
/// (`oauth_version="1.0"` included in the GNOSS style), every value percent-encoded.
pub fn authorization_header(
    style: SigningStyle,
    method: &str,
    url: &url::Url,
    keys: &OAuthKeys<'_>,
    timestamp: u64,
    nonce: &str,
) -> String {
    let mut params = protocol_params(style, keys, timestamp, nonce);
    let base = base_string(style, method, url, &params);
    let sig = BASE64.encode(mac(keys, &base).finalize().into_bytes());
    params.push(("oauth_signature".to_string(), sig));
    params.sort();
    let fields = params
        .iter()
        .map(|(name, value)| format!("{}=\"{}\"", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join(", ");
    format!("OAuth {fields}")
}

/// Parses an `OAuth k="v", ...` header into its percent-decoded parameters.
/// Returns `None` when the value is not an OAuth header or a parameter is malformed.
pub fn parse_authorization_header(value: &str) -> Option<BTreeMap<String, String>> {
    let value = value.trim();
    let scheme = value.get(..5)?;
    if !scheme.eq_ignore_ascii_case("oauth") {
        return None;
    }
    let mut rest = value.get(5..)?;
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let mut params = BTreeMap::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        if rest.is_empty() {
            break;
        }
        let eq = rest.find('=')?;
        let name = rest[..eq].trim();
        if name.is_empty() {
            return None;
        }
        rest = rest[eq + 1..].trim_start();
        let raw = if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"')?;
            let raw = &quoted[..end];
            rest = &quoted[end + 1..];
            raw
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            let raw = rest[..end].trim();
            rest = &rest[end..];
            raw
        };
        let name = percent_decode_str(name).decode_utf8().ok()?.into_owned();
        let decoded = percent_decode_str(raw).decode_utf8().ok()?.into_owned();
        if params.insert(name, decoded).is_some() {
            return None;
        }
    }
    Some(params)
}

/// What a verified request said about itself: the mock checks freshness and replays with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub timestamp: u64,
    pub nonce: String,
}

/// Why a request's OAuth signature was refused. Messages never contain a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing or malformed OAuth Authorization header")]
    Malformed,
    #[error("missing OAuth parameter {0}")]
    Missing(&'static str),
    #[error("unsupported OAuth signature method (expected HMAC-SHA1)")]
    UnsupportedMethod,
    #[error("unknown OAuth consumer key")]
    UnknownConsumer,
    #[error("unknown OAuth access token")]
    UnknownToken,
    #[error("invalid OAuth signature")]
    BadSignature,
}

/// Checks the `Authorization` header of a request against the expected keys, signing the way
/// `style` says. Freshness (timestamp age, nonce reuse) is left to the caller, which keeps the
/// nonces it has seen: the returned [`Verified`] carries both.
pub fn verify(
    style: SigningStyle,
    method: &str,
    url: &url::Url,
    header_value: &str,
    keys: &OAuthKeys<'_>,
) -> Result<Verified, VerifyError> {
    let params = parse_authorization_header(header_value).ok_or(VerifyError::Malformed)?;
    let get = |name: &'static str| {
        params
            .get(name)
            .map(String::as_str)
            .ok_or(VerifyError::Missing(name))
    };
    if get("oauth_signature_method")? != SIGNATURE_METHOD {
        return Err(VerifyError::UnsupportedMethod);
    }
    if get("oauth_consumer_key")? != keys.consumer_key {
        return Err(VerifyError::UnknownConsumer);
    }
    if get("oauth_token")? != keys.token {
        return Err(VerifyError::UnknownToken);
    }
    let timestamp = get("oauth_timestamp")?
        .parse::<u64>()
        .map_err(|_| VerifyError::Malformed)?;
    let nonce = get("oauth_nonce")?.to_string();
    let given = BASE64
        .decode(get("oauth_signature")?)
        .map_err(|_| VerifyError::BadSignature)?;
    let signed: Vec<(String, String)> = params
        .iter()
        .filter(|(name, _)| name.starts_with("oauth_"))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let base = base_string(style, method, url, &signed);
    mac(keys, &base)
        .verify_slice(&given)
        .map_err(|_| VerifyError::BadSignature)?;
    Ok(Verified { timestamp, nonce })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_KEYS: OAuthKeys<'static> = OAuthKeys {
        consumer_key: "dpf43f3p2l4k3l03",
        consumer_secret: "kd94hf93k423kf44",
        token: "nnch734d00sl2jdk",
        token_secret: "pfkkdhi9sl3r4s00",
    };

    fn photos() -> url::Url {
        url::Url::parse("http://photos.example.net/photos?file=vacation.jpg&size=original").unwrap()
    }

    #[test]
    fn rfc5849_section_1_2_example() {
        let sig = signature(
            SigningStyle::Rfc5849,
            "GET",
            &photos(),
            &RFC_KEYS,
            137131202,
            "chapoH",
        );
        assert_eq!(sig, "MdpQcU8iPSUjWoN/UDMsK2sui9I=");
    }

    #[test]
    fn rfc5849_header_carries_the_encoded_signature_and_verifies() {
        let header = authorization_header(
            SigningStyle::Rfc5849,
            "GET",
            &photos(),
            &RFC_KEYS,
            137131202,
            "chapoH",
        );
        assert!(header.starts_with("OAuth "));
        assert!(header.contains("oauth_signature=\"MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D\""));
        assert!(!header.contains("oauth_version"));
        let parsed = parse_authorization_header(&header).unwrap();
        assert_eq!(parsed["oauth_signature"], "MdpQcU8iPSUjWoN/UDMsK2sui9I=");
        let verified = verify(SigningStyle::Rfc5849, "GET", &photos(), &header, &RFC_KEYS).unwrap();
        assert_eq!(verified.timestamp, 137131202);
        assert_eq!(verified.nonce, "chapoH");
    }

    #[test]
    fn gnoss_style_signs_a_post_with_query_like_a_get_without_it() {
        let with_query =
            url::Url::parse("https://api.example.org/user/modify-user?x=1&y=two").unwrap();
        let without = url::Url::parse("https://api.example.org/user/modify-user").unwrap();
        let post = signature(SigningStyle::Gnoss, "POST", &with_query, &RFC_KEYS, 1, "n");
        let get = signature(SigningStyle::Gnoss, "GET", &without, &RFC_KEYS, 1, "n");
        assert_eq!(post, get);
        let rfc = signature(
            SigningStyle::Rfc5849,
            "POST",
            &with_query,
            &RFC_KEYS,
            1,
            "n",
        );
        assert_ne!(post, rfc);
        let header =
            authorization_header(SigningStyle::Gnoss, "POST", &with_query, &RFC_KEYS, 1, "n");
        assert!(header.contains("oauth_version=\"1.0\""));
        // GNOSS's server verifies the same way, whatever the method and query.
        assert!(verify(SigningStyle::Gnoss, "POST", &with_query, &header, &RFC_KEYS).is_ok());
        assert_eq!(
            verify(
                SigningStyle::Rfc5849,
                "POST",
                &with_query,
                &header,
                &RFC_KEYS
            ),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn gnoss_vector_is_stable() {
        // Pinned so that a change to the base string is noticed: GET over the URL, no query.
        let url = url::Url::parse("http://photos.example.net/photos").unwrap();
        let base = base_string(
            SigningStyle::Gnoss,
            "POST",
            &url,
            &protocol_params(SigningStyle::Gnoss, &RFC_KEYS, 137131202, "chapoH"),
        );
        assert_eq!(
            base,
            "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&oauth_consumer_key%3Ddpf43f3p2l4k3l03\
             %26oauth_nonce%3DchapoH%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D\
             137131202%26oauth_token%3Dnnch734d00sl2jdk%26oauth_version%3D1.0"
        );
    }

    #[test]
    fn wrong_secret_is_a_bad_signature() {
        let url = url::Url::parse("http://127.0.0.1:9/user/block").unwrap();
        let wrong = OAuthKeys {
            consumer_secret: "not-the-secret",
            ..RFC_KEYS
        };
        let header = authorization_header(SigningStyle::Gnoss, "POST", &url, &wrong, 5, "abc");
        assert_eq!(
            verify(SigningStyle::Gnoss, "POST", &url, &header, &RFC_KEYS),
            Err(VerifyError::BadSignature)
        );
        let other_token = OAuthKeys {
            token: "someone-else",
            ..RFC_KEYS
        };
        let header =
            authorization_header(SigningStyle::Gnoss, "POST", &url, &other_token, 5, "abc");
        assert_eq!(
            verify(SigningStyle::Gnoss, "POST", &url, &header, &RFC_KEYS),
            Err(VerifyError::UnknownToken)
        );
    }

    #[test]
    fn encoding_and_parsing_round_trip_special_characters() {
        assert_eq!(encode("a b+c/~._-"), "a%20b%2Bc%2F~._-");
        let parsed = parse_authorization_header(
            r#"OAuth realm="Photos", oauth_token="CObXqjfOisVh9%2F2GjC7NNd8BCzY%3D",oauth_nonce=abc"#,
        )
        .unwrap();
        assert_eq!(parsed["oauth_token"], "CObXqjfOisVh9/2GjC7NNd8BCzY=");
        assert_eq!(parsed["oauth_nonce"], "abc");
        assert_eq!(parsed["realm"], "Photos");
        assert!(parse_authorization_header("Bearer abc").is_none());
        assert!(parse_authorization_header("OAuth a=\"unterminated").is_none());
        assert!(parse_authorization_header("OAuthx a=\"1\"").is_none());
    }

    #[test]
    fn nonces_are_fresh() {
        let a = new_nonce();
        assert_eq!(a.len(), 32);
        assert_ne!(a, new_nonce());
    }

    #[test]
    fn style_names_parse() {
        assert_eq!("GNOSS".parse::<SigningStyle>(), Ok(SigningStyle::Gnoss));
        assert_eq!("rfc5849".parse::<SigningStyle>(), Ok(SigningStyle::Rfc5849));
        assert!("plain".parse::<SigningStyle>().is_err());
    }
}
