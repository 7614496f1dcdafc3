//! The GNOSS adapter's OAuth 1.0 signer checked against a second, independent signer: Python's
//! oauthlib, run as `python3 -c ...` with the same keys, nonce and timestamp.
//!
//! For both signing styles, over URLs with query strings and characters that need
//! percent-encoding (space, `+`, `~`, `/`, non-ASCII), the adapter's signature and header
//! parameters must equal oauthlib's; the mock's own verifier must accept oauthlib's header too.
//! GNOSS's style is what oauthlib gives for `GET` over the URL without its query. oauthlib always
//! sends `oauth_version="1.0"`, which RFC 5849 makes optional and the adapter's strict style
//! leaves out, so for that style oauthlib's client is asked to leave it out as well.
//!
//! Without python3 and oauthlib the test fails, saying how to install them (`apt-get install
//! python3-oauthlib`); `USERSYNC_SKIP_OAUTHLIB=1` skips it, `USERSYNC_PYTHON` names another
//! interpreter.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::json;
use usersync::mock::gnoss::rfc5849::{self, BaseStringRule, RequestTarget, ServerKeys};
use usersync::provider::gnoss::oauth::{self, OAuthKeys, SigningStyle};

/// Signs each case of the JSON list on stdin with oauthlib; prints the `Authorization` headers
/// as a JSON list.
const SIGN_WITH_OAUTHLIB: &str = r#"
import json, sys
from urllib.parse import urlsplit, urlunsplit
from oauthlib.oauth1 import Client, SIGNATURE_HMAC

class WithoutVersion(Client):
    def get_oauth_params(self, request):
        return [(k, v) for k, v in super().get_oauth_params(request) if k != "oauth_version"]

headers = []
for case in json.load(sys.stdin):
    url, method, client_class = case["url"], case["method"], WithoutVersion
    if case["style"] == "gnoss":
        parts = urlsplit(url)
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        method, client_class = "GET", Client
    client = client_class(
        case["consumer_key"], client_secret=case["consumer_secret"],
        resource_owner_key=case["token"], resource_owner_secret=case["token_secret"],
        signature_method=SIGNATURE_HMAC, nonce=case["nonce"], timestamp=case["timestamp"])
    _, signed, _ = client.sign(url, http_method=method)
    headers.append(signed["Authorization"])
print(json.dumps(headers))
"#;

/// RFC 5849 section 1.2's keys.
const RFC_KEYS: OAuthKeys<'static> = OAuthKeys {
    consumer_key: "dpf43f3p2l4k3l03",
    consumer_secret: "kd94hf93k423kf44",
    token: "nnch734d00sl2jdk",
    token_secret: "pfkkdhi9sl3r4s00",
};

/// Keys with characters that need encoding, in the key and in the header.
const AWKWARD_KEYS: OAuthKeys<'static> = OAuthKeys {
    consumer_key: "clGACsiGaMp/D+UwkSvRBxA1k50=",
    consumer_secret: "s3cr3t&+/ =ñ~",
    token: "CObXqjfOisVh9/2GjC7NNd8BCzY=",
    token_secret: "tok~en secret/ü",
};

struct Case {
    style: SigningStyle,
    method: &'static str,
    url: &'static str,
    keys: OAuthKeys<'static>,
    timestamp: u64,
    nonce: &'static str,
}

fn cases() -> Vec<Case> {
    let urls = [
        (
            "GET",
            "http://photos.example.net/photos?file=vacation.jpg&size=original",
        ),
        ("POST", "https://gnoss.example.com/api/user/modify-user"),
        (
            "POST",
            "https://gnoss.example.com/api/user/modify-user?x=1&y=two",
        ),
        (
            "GET",
            "http://127.0.0.1:8080/api/user/get-by-email?email=ana%2Bventas%40example.com\
             &name=Jos%C3%A9%20Mar%C3%ADa",
        ),
        (
            "POST",
            "https://API.Example.org:443/comunidad ñ/~equipo/a%2Fb/user/block\
             ?q=a+b&tilde=~x&slash=a/b&sp=%20&plus=1%2B1&ñ=ü&empty=&q=a",
        ),
    ];
    let mut cases = Vec::new();
    for style in [SigningStyle::Gnoss, SigningStyle::Rfc5849] {
        for (method, url) in urls {
            for keys in [RFC_KEYS, AWKWARD_KEYS] {
                // The RFC's own request with the RFC's own nonce and timestamp; the page's
                // sample ones elsewhere.
                let rfc = url.starts_with("http://photos.example.net/");
                cases.push(Case {
                    style,
                    method,
                    url,
                    keys,
                    timestamp: if rfc { 137131202 } else { 1462882011 },
                    nonce: if rfc {
                        "chapoH"
                    } else {
                        "VqKza6d5x1HpPQWFe08spbdOnkTQpfaLfD9Oeuyg"
                    },
                });
            }
        }
    }
    cases
}

/// A python3 that imports oauthlib, or `None` when `USERSYNC_SKIP_OAUTHLIB=1` says to skip;
/// panics when there is none otherwise (CI must not pass silently without the check).
fn python_with_oauthlib() -> Option<String> {
    let candidates = std::env::var("USERSYNC_PYTHON")
        .into_iter()
        .chain(["python3".to_string(), "/usr/bin/python3".to_string()]);
    let found = candidates.into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import oauthlib.oauth1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    });
    if found.is_none() && std::env::var("USERSYNC_SKIP_OAUTHLIB").is_ok_and(|v| v == "1") {
        eprintln!("USERSYNC_SKIP_OAUTHLIB=1: skipping the check against oauthlib");
        return None;
    }
    Some(found.unwrap_or_else(|| {
        panic!(
            "python3 with oauthlib is needed for this test: `apt-get install python3-oauthlib` \
             (Debian) or `pip install oauthlib`, or point USERSYNC_PYTHON at a python that has \
             it; USERSYNC_SKIP_OAUTHLIB=1 skips it"
        )
    }))
}

/// oauthlib's `Authorization` header for each case.
fn oauthlib_headers(python: &str, cases: &[Case]) -> Vec<String> {
    let input: Vec<_> = cases
        .iter()
        .map(|c| {
            json!({
                "style": c.style.as_str(),
                "method": c.method,
                "url": url::Url::parse(c.url).unwrap().as_str(),
                "consumer_key": c.keys.consumer_key,
                "consumer_secret": c.keys.consumer_secret,
                "token": c.keys.token,
                "token_secret": c.keys.token_secret,
                "nonce": c.nonce,
                "timestamp": c.timestamp.to_string(),
            })
        })
        .collect();
    let mut child = Command::new(python)
        .args(["-c", SIGN_WITH_OAUTHLIB])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {python}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "oauthlib failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("a JSON list of headers")
}

/// A header's parameters, decoded, by name.
fn params(header: &str) -> BTreeMap<String, String> {
    rfc5849::parse_authorization(header)
        .unwrap_or_else(|e| panic!("{e}: {header}"))
        .into_iter()
        .collect()
}

#[test]
fn the_adapters_signatures_equal_oauthlibs() {
    let Some(python) = python_with_oauthlib() else {
        return;
    };
    let cases = cases();
    let theirs = oauthlib_headers(&python, &cases);
    assert_eq!(theirs.len(), cases.len());
    // The harness itself: oauthlib signs RFC 5849 section 1.2's request as the RFC does.
    let rfc_example = cases
        .iter()
        .position(|c| {
            c.style == SigningStyle::Rfc5849
                && c.url.starts_with("http://photos.example.net/")
                && c.keys.consumer_secret == RFC_KEYS.consumer_secret
        })
        .unwrap();
    assert_eq!(
        params(&theirs[rfc_example])["oauth_signature"],
        "MdpQcU8iPSUjWoN/UDMsK2sui9I="
    );

    for (case, their_header) in cases.iter().zip(&theirs) {
        let url = url::Url::parse(case.url).unwrap();
        let what = format!(
            "{} {} {} {:?}",
            case.style, case.method, url, case.keys.consumer_key
        );
        let ours = oauth::signature(
            case.style,
            case.method,
            &url,
            &case.keys,
            case.timestamp,
            case.nonce,
        );
        let theirs = params(their_header);
        assert_eq!(ours, theirs["oauth_signature"], "{what}");
        let our_header = oauth::authorization_header(
            case.style,
            case.method,
            &url,
            &case.keys,
            case.timestamp,
            case.nonce,
        );
        assert_eq!(params(&our_header), theirs, "{what}");

        // The mock's verifier, a third implementation, accepts oauthlib's header.
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap()),
            None => url.host_str().unwrap().to_string(),
        };
        let target = RequestTarget {
            method: case.method,
            scheme: url.scheme(),
            host: &host,
            path: url.path(),
            query: url.query(),
        };
        let rule = match case.style {
            SigningStyle::Gnoss => BaseStringRule::Gnoss,
            SigningStyle::Rfc5849 => BaseStringRule::Rfc5849,
        };
        let keys = ServerKeys {
            consumer_key: case.keys.consumer_key,
            consumer_secret: case.keys.consumer_secret,
            token: case.keys.token,
            token_secret: case.keys.token_secret,
        };
        let verdict = rfc5849::verify(rule, &target, Some(their_header), &keys);
        assert!(verdict.is_ok(), "{what}: {verdict:?}");
    }
}

#[test]
fn the_styles_differ_where_gnoss_says_they_do() {
    let Some(python) = python_with_oauthlib() else {
        return;
    };
    // A POST with a query: GNOSS's server signs it as a GET without the query, so the strict
    // signature is not GNOSS's (else the comparison above could not tell the styles apart).
    let case = |style| Case {
        style,
        method: "POST",
        url: "https://gnoss.example.com/api/user/modify-user?x=1&y=two",
        keys: RFC_KEYS,
        timestamp: 1462882011,
        nonce: "n",
    };
    let theirs = oauthlib_headers(
        &python,
        &[case(SigningStyle::Gnoss), case(SigningStyle::Rfc5849)],
    );
    let (gnoss, strict) = (params(&theirs[0]), params(&theirs[1]));
    assert_ne!(gnoss["oauth_signature"], strict["oauth_signature"]);
    assert_eq!(gnoss["oauth_version"], "1.0");
    assert!(!strict.contains_key("oauth_version"));
}
