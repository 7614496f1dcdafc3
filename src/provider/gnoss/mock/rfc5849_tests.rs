//! The mock's verifier against RFC 5849's own worked examples, and against a GNOSS-style
//! signature made by another implementation (Python's oauthlib), pinned here.

use super::*;

/// RFC 5849 section 1.2: the client's credentials and token.
const PHOTOS_KEYS: ServerKeys<'static> = ServerKeys {
    consumer_key: "dpf43f3p2l4k3l03",
    consumer_secret: "kd94hf93k423kf44",
    token: "nnch734d00sl2jdk",
    token_secret: "pfkkdhi9sl3r4s00",
};

/// RFC 5849 section 1.2: the signed request for the vacation photo, as the RFC prints it.
const PHOTOS_HEADER: &str = "OAuth realm=\"Photos\",\
    oauth_consumer_key=\"dpf43f3p2l4k3l03\",\
    oauth_token=\"nnch734d00sl2jdk\",\
    oauth_signature_method=\"HMAC-SHA1\",\
    oauth_timestamp=\"137131202\",\
    oauth_nonce=\"chapoH\",\
    oauth_signature=\"MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D\"";

/// `GET /photos?file=vacation.jpg&size=original` on `Host: photos.example.net`.
fn photos_request(method: &'static str, host: &'static str) -> RequestTarget<'static> {
    RequestTarget {
        method,
        scheme: "http",
        host,
        path: "/photos",
        query: Some("file=vacation.jpg&size=original"),
    }
}

fn accepted() -> Result<Signed, Refused> {
    Ok(Signed {
        timestamp: 137131202,
        nonce: "chapoH".into(),
    })
}

#[test]
fn accepts_rfc5849_section_1_2_example() {
    let request = photos_request("GET", "photos.example.net");
    let verdict = verify(
        BaseStringRule::Rfc5849,
        &request,
        Some(PHOTOS_HEADER),
        &PHOTOS_KEYS,
    );
    assert_eq!(verdict, accepted());
    // The default port and the host's case change nothing (section 3.4.1.2).
    let request = photos_request("GET", "Photos.Example.NET:80");
    let verdict = verify(
        BaseStringRule::Rfc5849,
        &request,
        Some(PHOTOS_HEADER),
        &PHOTOS_KEYS,
    );
    assert_eq!(verdict, accepted());
}

#[test]
fn refuses_rfc5849_example_with_one_byte_of_its_signature_changed() {
    let request = photos_request("GET", "photos.example.net");
    let tampered = PHOTOS_HEADER.replace("MdpQcU8i", "MdpQcU8j");
    assert_ne!(tampered, PHOTOS_HEADER);
    let verdict = verify(
        BaseStringRule::Rfc5849,
        &request,
        Some(&tampered),
        &PHOTOS_KEYS,
    );
    assert_eq!(verdict, Err(Refused::Signature));
}

#[test]
fn refuses_rfc5849_example_sent_elsewhere_or_with_another_secret() {
    let keys = |consumer_secret| ServerKeys {
        consumer_secret,
        ..PHOTOS_KEYS
    };
    let verdict = |request: RequestTarget<'_>, keys: ServerKeys<'_>| {
        verify(
            BaseStringRule::Rfc5849,
            &request,
            Some(PHOTOS_HEADER),
            &keys,
        )
    };
    let refused = Err(Refused::Signature);
    assert_eq!(
        verdict(photos_request("POST", "photos.example.net"), PHOTOS_KEYS),
        refused
    );
    assert_eq!(
        verdict(
            photos_request("GET", "photos.example.net:8080"),
            PHOTOS_KEYS
        ),
        refused
    );
    let other_query = RequestTarget {
        query: Some("file=vacation.jpg&size=small"),
        ..photos_request("GET", "photos.example.net")
    };
    assert_eq!(verdict(other_query, PHOTOS_KEYS), refused);
    assert_eq!(
        verdict(
            photos_request("GET", "photos.example.net"),
            keys("kd94hf93k423kf45")
        ),
        refused
    );
}

#[test]
fn builds_rfc5849_section_3_4_1_1_base_string() {
    // The RFC's example request also has a form body `c2&a3=2+q`, passed here as `extra`.
    let header = "OAuth realm=\"Example\", oauth_consumer_key=\"9djdj82h48djs9d2\", \
        oauth_token=\"kkk9d7dh3k39sjv7\", oauth_signature_method=\"HMAC-SHA1\", \
        oauth_timestamp=\"137131201\", oauth_nonce=\"7d8f3e4a\", \
        oauth_signature=\"bYT5CMsGcbgUdFHObYMEfcx6bsw%3D\"";
    let request = RequestTarget {
        method: "post",
        scheme: "HTTP",
        host: "example.com",
        path: "/request",
        query: Some("b5=%3D%253D&a3=a&c%40=&a2=r%20b"),
    };
    let body = [
        ("c2".to_string(), String::new()),
        ("a3".into(), "2 q".into()),
    ];
    let params = parse_authorization(header).unwrap();
    assert_eq!(
        base_string(BaseStringRule::Rfc5849, &request, &params, &body),
        "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D\
         %253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce\
         %3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26\
         oauth_token%3Dkkk9d7dh3k39sjv7"
    );
}

/// oauthlib 3.2.2's header for `GET http://photos.example.net/photos` (no query) with the RFC's
/// keys, nonce and timestamp: what GNOSS's server expects for any request to that path.
const GNOSS_STYLE_HEADER: &str = "OAuth oauth_nonce=\"chapoH\", oauth_timestamp=\"137131202\", \
    oauth_version=\"1.0\", oauth_signature_method=\"HMAC-SHA1\", \
    oauth_consumer_key=\"dpf43f3p2l4k3l03\", oauth_token=\"nnch734d00sl2jdk\", \
    oauth_signature=\"vVm2%2Bt1NH75N%2BsBn40xm0Nbkvto%3D\"";

#[test]
fn gnoss_rule_signs_every_request_as_a_get_without_its_query() {
    let post_with_query = photos_request("POST", "photos.example.net");
    let verdict = |rule| {
        verify(
            rule,
            &post_with_query,
            Some(GNOSS_STYLE_HEADER),
            &PHOTOS_KEYS,
        )
    };
    assert_eq!(verdict(BaseStringRule::Gnoss), accepted());
    assert_eq!(verdict(BaseStringRule::Rfc5849), Err(Refused::Signature));
    // And GNOSS's server refuses the strict RFC signature of a request with a query.
    let get = photos_request("GET", "photos.example.net");
    assert_eq!(
        verify(
            BaseStringRule::Gnoss,
            &get,
            Some(PHOTOS_HEADER),
            &PHOTOS_KEYS
        ),
        Err(Refused::Signature)
    );
}

#[test]
fn refuses_headers_that_are_not_oauth_or_name_other_keys() {
    let request = photos_request("GET", "photos.example.net");
    let check = |header: &str| {
        verify(
            BaseStringRule::Rfc5849,
            &request,
            Some(header),
            &PHOTOS_KEYS,
        )
    };
    assert_eq!(
        verify(BaseStringRule::Rfc5849, &request, None, &PHOTOS_KEYS),
        Err(Refused::NoHeader)
    );
    assert_eq!(check("Bearer abc"), Err(Refused::Malformed));
    assert_eq!(check("OAuthx a=\"1\""), Err(Refused::Malformed));
    assert_eq!(check("OAuth a=\"unterminated"), Err(Refused::Malformed));
    assert_eq!(check("OAuth a=\"%zz\""), Err(Refused::Malformed));
    let swap = |from: &str, to: &str| check(&PHOTOS_HEADER.replace(from, to));
    assert_eq!(
        swap("HMAC-SHA1", "HMAC-SHA256"),
        Err(Refused::SignatureMethod)
    );
    assert_eq!(
        swap("dpf43f3p2l4k3l03", "someone-else"),
        Err(Refused::ConsumerKey)
    );
    assert_eq!(
        swap("nnch734d00sl2jdk", "another-token"),
        Err(Refused::Token)
    );
    assert_eq!(swap("137131202", "-5"), Err(Refused::Timestamp));
    assert_eq!(
        swap("oauth_nonce=\"chapoH\",", ""),
        Err(Refused::Missing("oauth_nonce"))
    );
    assert_eq!(
        swap("realm=\"Photos\",", "oauth_version=\"2.0\","),
        Err(Refused::Version)
    );
    assert_eq!(
        swap("realm=\"Photos\"", "oauth_nonce=\"again\""),
        Err(Refused::Repeated("oauth_nonce".into()))
    );
}

#[test]
fn parses_and_decodes_header_parameters() {
    let params = parse_authorization(
        "oauth realm=\"Photos\",oauth_token=\"CObXqjfOisVh9%2F2GjC7NNd8BCzY%3D\" , \
         oauth_nonce=abc,oauth_consumer_key=\"caf%C3%A9%20ok\"",
    )
    .unwrap();
    let expected = [
        ("realm", "Photos"),
        ("oauth_token", "CObXqjfOisVh9/2GjC7NNd8BCzY="),
        ("oauth_nonce", "abc"),
        ("oauth_consumer_key", "café ok"),
    ];
    let got: Vec<(&str, &str)> = params
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn percent_encodes_all_but_unreserved_characters() {
    assert_eq!(
        percent_encode("Ladies + Gentlemen"),
        "Ladies%20%2B%20Gentlemen"
    );
    assert_eq!(
        percent_encode("An encoded string!"),
        "An%20encoded%20string%21"
    );
    assert_eq!(
        percent_encode("Dogs, Cats & Mice"),
        "Dogs%2C%20Cats%20%26%20Mice"
    );
    assert_eq!(percent_encode("a-b.c_d~e/f*"), "a-b.c_d~e%2Ff%2A");
    assert_eq!(percent_encode("☃ñ"), "%E2%98%83%C3%B1");
}
