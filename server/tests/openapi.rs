//! The OpenAPI document describes the real wire types: for each documented schema, its
//! properties are exactly the JSON keys the `nhi_protocol::api` type produces.

mod common;

use std::collections::BTreeSet;

use nhi_protocol::api::*;
use nhi_protocol::card_proof::{CardMac, Nonce};
use nhi_protocol::password::PasswordProblem;
use serde_json::Value;

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().expect("object").keys().cloned().collect()
}

fn schema_props(doc: &Value, name: &str) -> BTreeSet<String> {
    keys(&doc["components"]["schemas"][name]["properties"])
}

#[test]
fn documented_schemas_match_the_protocol_types() {
    let doc = serde_json::to_value(nhi_server::http::openapi::document()).expect("json");
    let h = common::holder(0);
    let record = nhi_protocol::card_proof::CardRecord::encode(&h.card).expect("record");
    let proof = CardProof::new(Nonce([1; 32]), record, CardMac([2; 16]));
    let register = RegisterRequest {
        proof: proof.clone(),
        household: h.household.clone(),
        password: "x".into(),
        email: "a@example.com".parse().expect("email"),
        mobile: Some("0912345678".parse().expect("mobile")),
        phone: Some("02-23456789".parse().expect("phone")),
    };
    let mut error = ApiError::new(ErrorCode::PasswordRejected, "m");
    error.field = Some("f".into());
    error.retry_after_seconds = Some(1);
    error.password_problems = vec![PasswordProblem::TooShort { min: 6 }];
    let user = UserInfo {
        card_number_masked: String::new(),
        name_masked: String::new(),
        national_id_masked: String::new(),
        email_masked: String::new(),
        status: AccountStatus::Active,
        registered_at: 0,
    };
    let pairs: Vec<(&str, Value)> = vec![
        ("CardProofDoc", serde_json::to_value(&proof).expect("json")),
        (
            "NonceRequestDoc",
            serde_json::to_value(NonceRequest {
                purpose: ProofPurpose::Register,
            })
            .expect("json"),
        ),
        (
            "HouseholdInfoDoc",
            serde_json::to_value(&h.household).expect("json"),
        ),
        (
            "RegisterDoc",
            serde_json::to_value(&register).expect("json"),
        ),
        (
            "HouseholdCheckDoc",
            serde_json::to_value(HouseholdCheckRequest {
                proof: proof.clone(),
                household: h.household.clone(),
            })
            .expect("json"),
        ),
        (
            "ConfirmDoc",
            serde_json::to_value(ConfirmRequest {
                ticket: "t".into(),
                proof: proof.clone(),
            })
            .expect("json"),
        ),
        (
            "ResendDoc",
            serde_json::to_value(ResendRequest {
                proof: proof.clone(),
                email: "a@example.com".parse().expect("email"),
            })
            .expect("json"),
        ),
        (
            "LoginDoc",
            serde_json::to_value(LoginRequest {
                proof,
                password: "p".into(),
            })
            .expect("json"),
        ),
        ("UserInfoDoc", serde_json::to_value(&user).expect("json")),
        (
            "RegisterResponseDoc",
            serde_json::to_value(RegisterResponse {
                status: AccountStatus::Pending,
                email_masked: String::new(),
                link_expires_at: 0,
            })
            .expect("json"),
        ),
        (
            "NonceResponseDoc",
            serde_json::to_value(NonceResponse {
                nonce: Nonce([0; 32]),
                purpose: ProofPurpose::Login,
                expires_in_seconds: 300,
            })
            .expect("json"),
        ),
        (
            "ResendResponseDoc",
            serde_json::to_value(ResendResponse { accepted: true }).expect("json"),
        ),
        (
            "ConfirmResponseDoc",
            serde_json::to_value(ConfirmResponse {
                status: AccountStatus::Active,
            })
            .expect("json"),
        ),
        (
            "HouseholdCheckResponseDoc",
            serde_json::to_value(HouseholdCheckResponse { matches: true }).expect("json"),
        ),
        ("ApiErrorDoc", serde_json::to_value(&error).expect("json")),
    ];
    for (name, value) in pairs {
        assert_eq!(schema_props(&doc, name), keys(&value), "{name}");
    }
}
