//! Unit tests of the GNOSS adapter: its routes and bodies, its plain-text errors, and that every
//! attempt is signed afresh.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::oauth::{OAuthKeys, SigningStyle};
use super::*;
use crate::provider::response::testing::{response, with_retry_after};
use crate::provider::test_support::{assert_debug_hides, context, payload, refusal, user};

/// GNOSS options from `text`.
fn options(text: &str) -> Options {
    crate::provider::test_support::options(&Gnoss, text)
}

/// The options of a target that sets none.
fn no_options() -> Options {
    options("")
}

const COMMUNITY: &str = "1ede819e-9d0f-41e9-855b-bbebc7f08dd1";
const USER: &str = "50b7615f-e32d-469d-ad93-d5829ab983ef";

/// A target with `options` and all four OAuth keys, each `<name>-marker`.
fn ctx(options: &str) -> TargetContext {
    let keys = ["consumer_key", "consumer_secret", "token", "token_secret"];
    context(
        &Gnoss,
        "http://127.0.0.1/api/",
        keys.map(|name| (name, format!("{name}-marker"))),
        options,
    )
}

#[test]
fn create_posts_the_payload_to_create_user() {
    let p = payload(json!({"name": "Ana", "last_name": "Gil", "email": "a@b.es"}));
    let req = Gnoss
        .build_request(&no_options(), Operation::Create, &user("e1", None), &p)
        .unwrap();
    assert_eq!(req.method, http::Method::POST);
    assert_eq!(req.path, "user/create-user");
    assert_eq!(Value::from(req.body.unwrap()), Value::from(p));
}

#[test]
fn modify_user_carries_the_remote_id_and_community() {
    let p = payload(json!({"name": "Ana", "user_id": "from-payload", "community_id": COMMUNITY}));
    for op in [Operation::Update, Operation::Patch] {
        let req = Gnoss
            .build_request(&no_options(), op, &user("e1", Some(USER)), &p)
            .unwrap();
        assert_eq!(req.method, http::Method::POST);
        assert_eq!(req.path, "user/modify-user");
        assert_eq!(
            Value::from(req.body.unwrap()),
            json!({"name": "Ana", "user_id": USER, "community_id": COMMUNITY})
        );
    }
    assert_eq!(Gnoss.update_operation(), Operation::Patch);
    assert_eq!(Gnoss.always_send(), ["user_id", "community_id"]);
}

#[test]
fn user_id_is_the_remote_guid_or_the_payloads_never_the_key() {
    let p = payload(json!({"user_id": USER, "community_id": COMMUNITY}));
    let req = Gnoss
        .build_request(&no_options(), Operation::Patch, &user("e1", None), &p)
        .unwrap();
    assert_eq!(Value::from(req.body.unwrap())["user_id"], USER);
    // The key is the export's, not GNOSS's, even when it looks like a GUID.
    let p = payload(json!({"community_id": COMMUNITY}));
    let err = Gnoss
        .build_request(&no_options(), Operation::Patch, &user(USER, None), &p)
        .unwrap_err()
        .to_string();
    assert!(err.contains("GUID"), "{err}");
    let err = Gnoss
        .build_request(
            &no_options(),
            Operation::Patch,
            &user("E00001", Some("E00001")),
            &p,
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("GUID"), "{err}");
}

#[test]
fn a_lookup_finds_the_guid_by_email() {
    let p = payload(json!({"email": "ana+1@x.es", "community_id": COMMUNITY}));
    let req = Gnoss
        .build_request(&no_options(), Operation::Lookup, &user("e1", None), &p)
        .unwrap();
    assert_eq!(req.method, http::Method::GET);
    assert_eq!(req.path, "user/get-by-email?email=ana%2B1%40x.es");
    assert!(req.body.is_none());
    let found = json!({"user_id": USER.to_uppercase(), "email": "ana+1@x.es"}).to_string();
    assert_eq!(
        Gnoss.classify(&no_options(), Operation::Lookup, &response(200, &found)),
        Outcome::Found {
            remote_id: Some(USER.to_string()),
            record: Payload::new()
        }
    );
    assert_eq!(
        Gnoss.classify(
            &no_options(),
            Operation::Lookup,
            &response(400, "The user does not exist")
        ),
        Outcome::Missing
    );
}

#[test]
fn a_create_answer_without_a_guid_is_not_synced() {
    for body in ["", "<html>Bad gateway</html>", "\"E00001\""] {
        assert!(
            matches!(
                Gnoss.classify(&no_options(), Operation::Create, &response(200, body)),
                Outcome::Retry {
                    status: Some(200),
                    ..
                }
            ),
            "{body:?}"
        );
    }
    assert!(matches!(
        Gnoss.classify(&no_options(), Operation::Patch, &response(200, "")),
        Outcome::Synced { .. }
    ));
    assert!(matches!(
        Gnoss.classify(
            &no_options(),
            Operation::Patch,
            &response(200, "<html></html>")
        ),
        Outcome::Retry { .. }
    ));
}

#[test]
fn a_row_without_community_takes_the_options() {
    let options = options(&format!("community_id = \"{COMMUNITY}\""));
    assert_eq!(
        Value::from(Gnoss.option_fields(&options)),
        json!({"community_id": COMMUNITY})
    );
}

#[test]
fn deactivate_blocks_with_the_community_from_the_options() {
    let options = options(&format!("community_id = \"{COMMUNITY}\""));
    let req = Gnoss
        .build_request(
            &options,
            Operation::Deactivate,
            &user("e1", Some(USER)),
            &Payload::new(),
        )
        .unwrap();
    assert_eq!(req.method, http::Method::POST);
    assert_eq!(req.path, "user/block");
    assert_eq!(
        Value::from(req.body.unwrap()),
        json!({"user_id": USER, "community_id": COMMUNITY})
    );
    let err = Gnoss
        .build_request(
            &no_options(),
            Operation::Deactivate,
            &user("e1", Some(USER)),
            &Payload::new(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("set options.community_id"), "{err}");
    assert!(
        !err.contains("column"),
        "a leaver has no row: a column cannot help ({err})"
    );
}

#[test]
fn create_answers_the_new_guid_in_any_usual_shape() {
    for body in [
        format!("\"{USER}\""),
        USER.to_string(),
        json!({"user_id": USER}).to_string(),
        json!({"id": USER}).to_string(),
    ] {
        assert_eq!(
            Gnoss.classify(&no_options(), Operation::Create, &response(200, &body)),
            Outcome::Synced {
                remote_id: Some(USER.into())
            },
            "{body}"
        );
    }
    assert_eq!(
        Gnoss.classify(&no_options(), Operation::Patch, &response(200, "")),
        Outcome::Synced { remote_id: None }
    );
}

#[test]
fn plain_text_errors() {
    let taken = response(400, "The email is already being used");
    assert_eq!(
        Gnoss.classify(&no_options(), Operation::Create, &taken),
        Outcome::Conflict {
            status: 400,
            detail: "The email is already being used".into()
        }
    );
    let not_member = response(400, "The user does not participate in the community");
    let Outcome::Rejected {
        status,
        errors,
        detail,
    } = Gnoss.classify(&no_options(), Operation::Patch, &not_member)
    else {
        panic!("not rejected");
    };
    assert_eq!(status, 400);
    assert_eq!(errors[0].field, "community_id");
    assert_eq!(detail, "The user does not participate in the community");
    let bad_email = response(400, "Invalid email format");
    let Outcome::Rejected { errors, .. } =
        Gnoss.classify(&no_options(), Operation::Create, &bad_email)
    else {
        panic!("not rejected");
    };
    assert_eq!(errors[0].field, "email");
    assert!(matches!(
        Gnoss.classify(&no_options(), Operation::Create, &response(400, "Bad params")),
        Outcome::Rejected { ref errors, .. } if errors.is_empty()
    ));
    assert!(matches!(
        Gnoss.classify(&no_options(), Operation::Patch, &response(401, "Invalid OAuth signature")),
        Outcome::AuthFailed { status: 401, ref detail } if detail == "Invalid OAuth signature"
    ));
    assert!(matches!(
        Gnoss.classify(
            &no_options(),
            Operation::Patch,
            &response(500, "Object reference not set")
        ),
        Outcome::Retry {
            status: Some(500),
            ..
        }
    ));
    let throttled = with_retry_after(response(429, ""), "5");
    assert!(matches!(
        Gnoss.classify(&no_options(), Operation::Patch, &throttled),
        Outcome::Retry { after: Some(a), .. } if a == Duration::from_secs(5)
    ));
}

/// What the test signer saw for one attempt.
#[derive(Clone)]
struct Signed {
    style: SigningStyle,
    method: String,
    url: String,
    consumer_key: String,
    timestamp: u64,
    nonce: String,
}

static SIGNED: Mutex<Vec<Signed>> = Mutex::new(Vec::new());

fn recording_signer(
    style: SigningStyle,
    method: &str,
    url: &url::Url,
    keys: &OAuthKeys<'_>,
    timestamp: u64,
    nonce: &str,
) -> String {
    SIGNED.lock().unwrap().push(Signed {
        style,
        method: method.into(),
        url: url.to_string(),
        consumer_key: keys.consumer_key.into(),
        timestamp,
        nonce: nonce.into(),
    });
    format!("OAuth oauth_nonce=\"{nonce}\"")
}

#[tokio::test]
async fn every_attempt_is_signed_with_a_fresh_nonce_and_the_current_time() {
    let session = session::OAuthSession::new(&ctx("").credentials, SigningStyle::Rfc5849)
        .unwrap()
        .with_signer(recording_signer);
    let url = url::Url::parse("http://127.0.0.1/api/user/modify-user?x=1").unwrap();
    let client = reqwest::Client::new();
    let mut headers = Vec::new();
    for _ in 0..5 {
        let mut req = reqwest::Request::new(http::Method::POST, url.clone());
        session.authorize(&client, &mut req).await.unwrap();
        let value = &req.headers()[http::header::AUTHORIZATION];
        assert!(value.is_sensitive());
        headers.push(value.to_str().unwrap().to_string());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signed = SIGNED.lock().unwrap().clone();
    assert_eq!(signed.len(), 5);
    let nonces: HashSet<&str> = signed.iter().map(|s| s.nonce.as_str()).collect();
    assert_eq!(nonces.len(), 5, "a nonce was reused");
    for s in &signed {
        assert_eq!(s.style, SigningStyle::Rfc5849);
        assert_eq!(s.method, "POST");
        assert_eq!(s.url, url.as_str());
        assert_eq!(s.consumer_key, "consumer_key-marker");
        assert!(now.abs_diff(s.timestamp) <= 5);
        assert_eq!(s.nonce.len(), session::NONCE_LEN);
        assert!(s.nonce.chars().all(|c| c.is_ascii_alphanumeric()));
    }
    for (header, s) in headers.iter().zip(&signed) {
        assert!(header.contains(&s.nonce), "the header is the signer's");
    }
    assert!(!session.invalidate());
}

#[test]
fn signing_option_and_debug() {
    assert!(Gnoss.session(&ctx("signing = \"rfc5849\"")).is_ok());
    assert!(Gnoss.session(&ctx("")).is_ok());
    let err = refusal(&Gnoss, "signing = \"hmac\"");
    assert_eq!(err.key, "options.signing");
    let direct = session::OAuthSession::new(&ctx("").credentials, SigningStyle::Gnoss).unwrap();
    assert_eq!(direct.style(), SigningStyle::Gnoss);
    assert_debug_hides(&direct, &["marker"]);
    let incomplete = context(&Gnoss, "http://127.0.0.1/api/", [("consumer_key", "k")], "");
    let err = Gnoss.session(&incomplete).err().unwrap();
    assert!(err
        .message
        .contains("consumer_key + consumer_secret + token + token_secret"));
}
