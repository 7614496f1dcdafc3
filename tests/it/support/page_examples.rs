//! The request examples of the providers' own pages (`shared/providers/*.txt`), copied
//! literally once, for the tests that send them to the mocks (`mock_server::page_examples`,
//! `mock_server::gnoss`) and those that check usersync sends them (`page_examples`).

use serde_json::{json, Value};

/// meetinglawyers-create.txt, "Example", as written.
pub fn meetinglawyers_create_example() -> Value {
    json!({
    "user_id": "05415506H",
    "status": 2,
    "email": "example@meetinglawyers.com",
    "nid_number": "12345678A",
    "first_name": "John",
    "last_name": "Doe",
    "gender": 1,
    "birthdate": "1980-12-31",
    "mobile_phone": "600000000",
    "coverage_name": "Premium",
    "contract_number": "123456",
    "service_language_code": "en",
    "description": null,
    "has_video_call": 1,
    "has_video_call_1to1": 1,
    "country_code": "ES",
    "ml_group_name": "demo-lawyers",
    "md_group_name": "demo-doctors"
    })
}

/// meetinglawyers-update.txt, "Example full update", as written.
pub fn meetinglawyers_full_update_example() -> Value {
    json!({
    "status": 2,
    "email": "example@meetinglawyers.com",
    "nid_number": "12345678A",
    "first_name": "John",
    "last_name": "Doe",
    "gender": 1,
    "birthdate": "1980-12-31",
    "mobile_phone": "600000000",
    "coverage_name": "Premium",
    "contract_number": "123456",
    "service_language_code": "en",
    "description": null,
    "has_video_call": 1,
    "has_video_call_1to1": 1,
    "country_code": "es",
    "ml_group_name": "demo-lawyers",
    "md_group_name": "demo-doctors"
    })
}

/// meetinglawyers-update.txt, "Example partial update", as written.
pub fn meetinglawyers_partial_update_example() -> Value {
    json!({
    "status": 2
    })
}

/// The pages' examples give the DNI 12345678A, whose check letter is wrong (12345678 mod 23
/// is 14: Z). The examples are sent with the right letter; the wrong one is refused below.
pub fn with_valid_dni(mut example: Value) -> Value {
    assert_eq!(example["nid_number"], "12345678A", "the page's example");
    example["nid_number"] = json!("12345678Z");
    example
}

/// `user/modify-user`'s sample request body, copied as the page prints it.
pub const GNOSS_MODIFY_USER: &str = r#"{
  "name": "John",
  "last_name": "Vander Var",
  "email": "johnvandervar@organization.com",
  "community_id": "1ede819e-9d0f-41e9-855b-bbebc7f08dd1",
  "community_short_name": "developers",
  "user_short_name": "john-vander-var",
  "user_id": "50b7615f-e32d-469d-ad93-d5829ab983ef",
  "born_date": "1985-02-01T00:00:00",
  "country_id": "98d604b4-3141-4499-bde1-c320f09ef45c",
  "country": "Spain",
  "province_id": "96f4fe28-a136-4423-ae60-36edd3261600",
  "city": "Madrid",
  "address": "456 Moreno Avenue",
  "join_community_date": "2016-06-12T00:00:00",
  "sex": "H",
  "receive_newsletter": false,
  "languaje": "es",
  "num_access": 0
}"#;
