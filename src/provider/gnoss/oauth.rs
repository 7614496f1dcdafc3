//! OAuth 1.0 HMAC-SHA1 signing and verification for GNOSS, both GNOSS's way and RFC 5849's.
//! (stub: filled in by the mock work, which owns signing and verification together.)

use std::collections::BTreeMap;

/// How the signature base string is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigningStyle {
    /// GNOSS's server: every request signed as if it were `GET`, over the URL without its query.
    #[default]
    Gnoss,
    /// RFC 5849 section 3.4: the real method, the query parameters included.
    Rfc5849,
}

/// The four OAuth secrets and keys.
#[derive(Clone, Copy)]
pub struct OAuthKeys<'a> {
    pub consumer_key: &'a str,
    pub consumer_secret: &'a str,
    pub token: &'a str,
    pub token_secret: &'a str,
}

/// The base64 HMAC-SHA1 signature of a request.
pub fn signature(
    _style: SigningStyle,
    _method: &str,
    _url: &url::Url,
    _keys: &OAuthKeys<'_>,
    _timestamp: u64,
    _nonce: &str,
) -> String {
    unimplemented!("oauth signature")
}

/// The full `Authorization: OAuth ...` header value (oauth_version="1.0" included).
pub fn authorization_header(
    _style: SigningStyle,
    _method: &str,
    _url: &url::Url,
    _keys: &OAuthKeys<'_>,
    _timestamp: u64,
    _nonce: &str,
) -> String {
    unimplemented!("oauth header")
}

/// Parses an `OAuth k="v", ...` header into its percent-decoded parameters.
pub fn parse_authorization_header(_value: &str) -> Option<BTreeMap<String, String>> {
    None
}
