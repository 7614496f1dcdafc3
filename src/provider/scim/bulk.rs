//! SCIM bulk requests (RFC 7644 section 3.7): many writes in one `POST /Bulk`, and each
//! operation's answer read back as if it had been sent on its own, so its row is classified by
//! the same rules.
//!
//! Every operation carries a `bulkId` (its index in the batch): section 3.7 requires one for a
//! POST and allows it on the others, and it is how an answer is matched to its operation. An
//! answer without `bulkId` is matched by position when the answer lists every operation.
//! `failOnErrors` is left out: the server then performs as many operations as it can
//! (section 3.7.3), and each row gets its own outcome.
//!
//! A successful POST's answer may carry only the new user's `location` (section 3.7.3's
//! example): its `id` is the location's last path segment, as a resource's location is its
//! URL (RFC 7643 section 3.1, `meta.location`).

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::provider::{response, BulkApi, BulkOp, RawResponse};

/// The `schemas` of a bulk request and of its answer.
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// The SCIM bulk wire format.
pub struct ScimBulk;

impl BulkApi for ScimBulk {
    fn request(&self, ops: &[BulkOp<'_>]) -> (String, Vec<u8>) {
        let size: usize = ops
            .iter()
            .map(|op| op.path.len() + op.body.map_or(0, <[u8]>::len) + self.overhead())
            .sum();
        let mut body = Vec::with_capacity(size + 128);
        body.extend_from_slice(b"{\"schemas\":[\"");
        body.extend_from_slice(BULK_REQUEST.as_bytes());
        body.extend_from_slice(b"\"],\"Operations\":[");
        for (i, op) in ops.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            // Strings through serde_json for their escaping; the body is already JSON.
            let mut head = Map::new();
            head.insert("method".into(), Value::from(op.method.as_str()));
            head.insert("bulkId".into(), Value::from(i.to_string()));
            head.insert("path".into(), Value::from(format!("/{}", op.path)));
            if let Some(version) = op.if_match {
                head.insert("version".into(), Value::from(version));
            }
            let head = serde_json::to_vec(&head).expect("a map of strings serialises");
            match op.body {
                Some(data) => {
                    body.extend_from_slice(&head[..head.len() - 1]);
                    body.extend_from_slice(b",\"data\":");
                    body.extend_from_slice(data);
                    body.push(b'}');
                }
                None => body.extend_from_slice(&head),
            }
        }
        body.extend_from_slice(b"]}");
        ("Bulk".into(), body)
    }

    fn overhead(&self) -> usize {
        // {"method":"DELETE","bulkId":"99999","path":"/","version":"…","data":}, plus a comma
        // and room for a version of up to 64 bytes.
        160
    }

    fn answers(
        &self,
        answer: &RawResponse,
        count: usize,
    ) -> Result<Vec<Option<RawResponse>>, String> {
        let json = response::json(&answer.body).ok_or("the answer is not JSON")?;
        let results = json
            .get("Operations")
            .and_then(Value::as_array)
            .ok_or("the answer has no Operations (RFC 7644 section 3.7)")?;
        let mut answers: Vec<Option<RawResponse>> = vec![None; count];
        let by_position = results.len() == count;
        for (position, result) in results.iter().enumerate() {
            let index = match result.get("bulkId").and_then(Value::as_str) {
                Some(id) => id.parse::<usize>().ok(),
                None if by_position => Some(position),
                None => None,
            };
            let Some(slot) = index.and_then(|i| answers.get_mut(i)) else {
                continue;
            };
            *slot = operation_answer(result);
        }
        Ok(answers)
    }
}

/// One operation's result as the answer to a request of its own: its `status`, its
/// `response` as the body (or, for a success without one, the `id` its `location` names), and
/// its `version` as the `ETag`.
fn operation_answer(result: &Value) -> Option<RawResponse> {
    let status = match result.get("status")? {
        Value::String(s) => s.trim().parse::<u16>().ok()?,
        Value::Number(n) => u16::try_from(n.as_u64()?).ok()?,
        _ => return None,
    };
    let version = result.get("version").and_then(Value::as_str);
    let body = match result.get("response") {
        Some(response) => response.clone(),
        None if (200..300).contains(&status) => {
            let mut body = Map::new();
            let location = result.get("location").and_then(Value::as_str);
            if let Some(id) = location.and_then(id_of) {
                body.insert("id".into(), Value::from(id));
            }
            let mut meta = Map::new();
            if let Some(location) = location {
                meta.insert("location".into(), Value::from(location));
            }
            if let Some(version) = version {
                meta.insert("version".into(), Value::from(version));
            }
            body.insert("meta".into(), Value::Object(meta));
            Value::Object(body)
        }
        None => json!({"status": status.to_string()}),
    };
    let mut headers = http::HeaderMap::new();
    if let Some(etag) = version.and_then(|v| http::HeaderValue::from_str(v).ok()) {
        headers.insert(http::header::ETAG, etag);
    }
    let body = match (status, &body) {
        (204, _) => Bytes::new(),
        _ => Bytes::from(serde_json::to_vec(&body).expect("JSON serialises")),
    };
    Some(RawResponse {
        status,
        headers,
        body,
    })
}

/// The last path segment of a resource's location, percent-decoded.
fn id_of(location: &str) -> Option<String> {
    let segment = location.trim_end_matches('/').rsplit('/').next()?;
    let id = percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()?
        .into_owned();
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: Value) -> RawResponse {
        RawResponse {
            status: 200,
            headers: http::HeaderMap::new(),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn operations_are_sent_with_their_bodies_and_an_id_each() {
        let post = http::Method::POST;
        let patch = http::Method::PATCH;
        let delete = http::Method::DELETE;
        let ops = [
            BulkOp {
                method: &post,
                path: "Users",
                body: Some(br#"{"userName":"ana"}"#),
                if_match: None,
            },
            BulkOp {
                method: &patch,
                path: "Users/u%201",
                body: Some(br#"{"Operations":[]}"#),
                if_match: Some("W/\"3\""),
            },
            BulkOp {
                method: &delete,
                path: "Users/u2",
                body: None,
                if_match: None,
            },
        ];
        let (path, body) = ScimBulk.request(&ops);
        assert_eq!(path, "Bulk");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            json!({
                "schemas": [BULK_REQUEST],
                "Operations": [
                    {"method": "POST", "bulkId": "0", "path": "/Users", "data": {"userName": "ana"}},
                    {"method": "PATCH", "bulkId": "1", "path": "/Users/u%201",
                     "version": "W/\"3\"", "data": {"Operations": []}},
                    {"method": "DELETE", "bulkId": "2", "path": "/Users/u2"},
                ]
            })
        );
    }

    /// The answer of RFC 7644 section 3.7.3's example, in another order, and one operation
    /// the answer leaves out.
    #[test]
    fn each_operation_gets_its_own_answer() {
        let bulk = answer(json!({
            "schemas": [BULK_RESPONSE],
            "Operations": [
                {"location": "https://example.com/v2/Users/b7c14771-226c-4d05-8860-134711653041",
                 "method": "PUT", "bulkId": "1", "version": "W/\"huJj29dMNgu3WXPD\"", "status": "200"},
                {"location": "https://example.com/v2/Users/92b725cd-9465-4e7d-8c16-01f8e146b87a",
                 "method": "POST", "bulkId": "0", "version": "W/\"oY4m4wn58tkVjJxK\"", "status": "201"},
                {"method": "POST", "bulkId": "2", "status": "400",
                 "response": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                              "scimType": "invalidSyntax", "detail": "Request is unparsable",
                              "status": "400"}}
            ]
        }));
        let answers = ScimBulk.answers(&bulk, 4).unwrap();
        let created = answers[0].as_ref().unwrap();
        assert_eq!(created.status, 201);
        let created: Value = serde_json::from_slice(&created.body).unwrap();
        assert_eq!(created["id"], "92b725cd-9465-4e7d-8c16-01f8e146b87a");
        let updated = answers[1].as_ref().unwrap();
        assert_eq!(updated.status, 200);
        assert_eq!(
            updated.headers[http::header::ETAG],
            "W/\"huJj29dMNgu3WXPD\""
        );
        let refused = answers[2].as_ref().unwrap();
        assert_eq!(refused.status, 400);
        let refused: Value = serde_json::from_slice(&refused.body).unwrap();
        assert_eq!(refused["scimType"], "invalidSyntax");
        assert!(
            answers[3].is_none(),
            "an operation the answer leaves out has no answer"
        );
        assert!(ScimBulk
            .answers(&answer(json!({"detail": "no"})), 1)
            .is_err());
    }
}
