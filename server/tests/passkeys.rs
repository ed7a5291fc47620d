//! Issue 16: passkeys rooted in the card, through the real router, with a software
//! authenticator written here (P-256, attestation "none", the WebAuthn Level 3 JSON forms
//! `credential.toJSON()` gives): enrolment after a step-up, discoverable login, and every
//! refusal the issue lists — no or stale step-up, another person's card, wrong origin, wrong
//! RP id, replayed registration and login challenges, another session's challenge, unknown
//! credential, counter going backwards — plus the password lockout not blocking a passkey,
//! removal, another account's passkey, and a lost or replaced card revoking its passkeys and
//! sessions.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use common::{
    count, get_as, holder, logged_in, post_as, request_as, session_pair, Harness, Resp, ORIGIN,
    PASSWORD,
};
use nhi_protocol::api::ProofPurpose;
use nhi_protocol::card_proof::{self, CardMac, CardRecord, MasterKey, Nonce, ProofError};
use nhi_protocol::CardNumber;
use nhi_server::adapters::card_authority::{CardAuthority, CardStanding, MasterKeyAuthority};
use nhi_server::app::Overrides;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const RP_ID: &str = "localhost";

/// A software passkey: one P-256 credential with a signature counter.
struct SoftKey {
    key: SigningKey,
    cred_id: Vec<u8>,
    counter: u32,
    user_handle: Vec<u8>,
    /// Whether the authenticator says it verified the user (PIN, biometrics).
    uv: bool,
}

fn cbor(v: &ciborium::Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).expect("cbor");
    out
}

fn client_data(kind: &str, options: &Value, origin: &str) -> Vec<u8> {
    let challenge = options["publicKey"]["challenge"]
        .as_str()
        .expect("challenge");
    json!({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false})
        .to_string()
        .into_bytes()
}

impl SoftKey {
    fn new() -> Self {
        let key = SigningKey::from_slice(&rand::random::<[u8; 32]>()).expect("key");
        Self {
            key,
            cred_id: rand::random::<[u8; 32]>().to_vec(),
            counter: 0,
            user_handle: Vec::new(),
            uv: true,
        }
    }

    fn cose_key(&self) -> Vec<u8> {
        use ciborium::Value as C;
        let point = self.key.verifying_key().to_encoded_point(false);
        cbor(&C::Map(vec![
            (C::Integer(1.into()), C::Integer(2.into())),
            (C::Integer(3.into()), C::Integer((-7).into())),
            (C::Integer((-1).into()), C::Integer(1.into())),
            (
                C::Integer((-2).into()),
                C::Bytes(point.x().expect("x").to_vec()),
            ),
            (
                C::Integer((-3).into()),
                C::Bytes(point.y().expect("y").to_vec()),
            ),
        ]))
    }

    /// `navigator.credentials.create(…)` then `toJSON()`, for `origin` and `rp_id`.
    fn create(&mut self, options: &Value, origin: &str, rp_id: &str) -> Value {
        use ciborium::Value as C;
        let pk = &options["publicKey"];
        self.user_handle = B64
            .decode(pk["user"]["id"].as_str().expect("user.id"))
            .expect("user.id is base64url");
        let cdj = client_data("webauthn.create", options, origin);
        let mut auth = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth.push(0x01 | if self.uv { 0x04 } else { 0 } | 0x40); // UP, UV, AT
        auth.extend_from_slice(&self.counter.to_be_bytes());
        auth.extend_from_slice(&[0u8; 16]); // AAGUID
        auth.extend_from_slice(
            &u16::try_from(self.cred_id.len())
                .expect("len")
                .to_be_bytes(),
        );
        auth.extend_from_slice(&self.cred_id);
        auth.extend_from_slice(&self.cose_key());
        let att = cbor(&C::Map(vec![
            (C::Text("fmt".into()), C::Text("none".into())),
            (C::Text("attStmt".into()), C::Map(vec![])),
            (C::Text("authData".into()), C::Bytes(auth.clone())),
        ]));
        let spki = self.key.verifying_key().to_public_key_der().expect("spki");
        json!({
            "id": B64.encode(&self.cred_id),
            "rawId": B64.encode(&self.cred_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": B64.encode(&cdj),
                "attestationObject": B64.encode(&att),
                "authenticatorData": B64.encode(&auth),
                "transports": ["internal", "hybrid"],
                "publicKeyAlgorithm": -7,
                "publicKey": B64.encode(spki.as_bytes()),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        })
    }

    /// `navigator.credentials.get(…)` then `toJSON()`; the counter grows by one.
    fn get(&mut self, options: &Value, origin: &str, rp_id: &str) -> Value {
        self.counter += 1;
        let cdj = client_data("webauthn.get", options, origin);
        let mut auth = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth.push(0x01 | if self.uv { 0x04 } else { 0 }); // UP, UV
        auth.extend_from_slice(&self.counter.to_be_bytes());
        let mut signed = auth.clone();
        signed.extend_from_slice(&Sha256::digest(&cdj));
        let sig: Signature = self.key.sign(&signed);
        json!({
            "id": B64.encode(&self.cred_id),
            "rawId": B64.encode(&self.cred_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": B64.encode(&cdj),
                "authenticatorData": B64.encode(&auth),
                "signature": B64.encode(sig.to_der().as_bytes()),
                "userHandle": B64.encode(&self.user_handle),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        })
    }
}

/// A nonce for a step-up, issued to the session of `cookie` (only that session can use it).
async fn session_nonce(h: &Harness, cookie: &str) -> nhi_protocol::card_proof::Nonce {
    let r = post_as(
        h,
        cookie,
        "/api/v1/card-proof/nonce",
        json!({ "purpose": "step_up" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    serde_json::from_value(r.json["nonce"].clone()).expect("nonce")
}

/// `card`'s step-up proof on a nonce issued to the session of `cookie`.
async fn step_up_proof(h: &Harness, cookie: &str, card: &nhi_protocol::CardBasicData) -> Value {
    let n = session_nonce(h, cookie).await;
    serde_json::to_value(h.answer(card, ORIGIN, n)).expect("json")
}

async fn step_up(h: &Harness, cookie: &str, i: usize) -> Resp {
    let body =
        json!({ "proof": step_up_proof(h, cookie, &holder(i).card).await, "password": PASSWORD });
    post_as(h, cookie, "/api/v1/passkeys/step-up", body).await
}

async fn registration(h: &Harness, cookie: &str) -> Resp {
    post_as(h, cookie, "/api/v1/passkeys/registration", json!({})).await
}

async fn finish_registration(h: &Harness, cookie: &str, ceremony: &str, credential: Value) -> Resp {
    let body = json!({ "ceremony_id": ceremony, "name": "  My phone ", "credential": credential });
    post_as(h, cookie, "/api/v1/passkeys/registration/finish", body).await
}

/// Steps up and enrols a new software passkey for the session `cookie` of holder `i`.
async fn enrol(h: &Harness, cookie: &str, i: usize) -> (SoftKey, Value) {
    let r = step_up(h, cookie, i).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = registration(h, cookie).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut key = SoftKey::new();
    let cred = key.create(&r.json["options"], ORIGIN, RP_ID);
    let ceremony = r.json["ceremony_id"].as_str().expect("ceremony").to_owned();
    let r = finish_registration(h, cookie, &ceremony, cred).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    (key, r.json)
}

async fn start(h: &Harness, cookie: &str) -> Value {
    let r = registration(h, cookie).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json
}

async fn login_options(h: &Harness) -> Value {
    let r = h.post("/api/v1/passkeys/login", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json
}

async fn finish_login(h: &Harness, ceremony: &Value, credential: Value) -> Resp {
    let body = json!({ "ceremony_id": ceremony["ceremony_id"], "credential": credential });
    h.post("/api/v1/passkeys/login/finish", body).await
}

async fn passkey_login(h: &Harness, key: &mut SoftKey) -> Resp {
    let c = login_options(h).await;
    let cred = key.get(&c["options"], ORIGIN, RP_ID);
    finish_login(h, &c, cred).await
}

fn rejected(r: &Resp, problem: &str) {
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.code(), "passkey_rejected", "{}", r.text);
    assert_eq!(r.json["message"], problem, "{}", r.text);
}

both_engines!(
    enrol_then_log_in_with_the_passkey,
    |h: Harness| async move {
        let cookie = logged_in(&h, 0).await;
        let r = step_up(&h, &cookie, 0).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        let r = registration(&h, &cookie).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        // The creation options as parseCreationOptionsFromJSON takes them.
        let pk = &r.json["options"]["publicKey"];
        assert_eq!(pk["rp"]["id"], RP_ID);
        let handle = B64
            .decode(pk["user"]["id"].as_str().expect("user.id"))
            .expect("b64url");
        assert!(handle.len() >= 16, "random user handle of 16+ bytes");
        let wang = holder(0);
        let text = r.json["options"].to_string();
        assert!(
            !text.contains(wang.card.national_id.as_str()),
            "no ID number: {text}"
        );
        assert!(!text.contains(&wang.card.name), "no full name: {text}");
        assert!(
            !text.contains(wang.card.card_number.as_str()),
            "no card number: {text}"
        );
        assert!(B64
            .decode(pk["challenge"].as_str().expect("challenge"))
            .is_ok());
        assert_eq!(pk["authenticatorSelection"]["residentKey"], "required");
        assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
        assert!(!text.contains("null"), "absent members, not nulls: {text}");

        let mut key = SoftKey::new();
        let cred = key.create(&r.json["options"], ORIGIN, RP_ID);
        let ceremony = r.json["ceremony_id"].as_str().expect("id").to_owned();
        let r = finish_registration(&h, &cookie, &ceremony, cred).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["name"], "My phone");
        assert_eq!(r.json["card_number_masked"], wang.card.card_number.masked());
        assert!(r.json.get("last_used_at").is_none());
        let mails = h.outbox().await;
        let added = mails
            .iter()
            .find(|m| m.0 == "passkey_added")
            .expect("passkey_added mail");
        assert_eq!(added.1, "person0@example.com");
        assert!(
            added.2.contains("/passkeys") && added.2.contains("移除") && added.2.contains("Remove")
        );

        // Login: discoverable, nothing typed.
        let c = login_options(&h).await;
        let rpk = &c["options"]["publicKey"];
        assert!(rpk.get("allowCredentials").is_none(), "{c}");
        assert_eq!(rpk["userVerification"], "required");
        assert_eq!(rpk["rpId"], RP_ID);
        let cred = key.get(&c["options"], ORIGIN, RP_ID);
        let r = finish_login(&h, &c, cred).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["card_number_masked"], wang.card.card_number.masked());
        let pk_cookie = session_pair(&r);
        let me = get_as(&h, &pk_cookie, "/api/v1/me").await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.text);
        // The same account with the same unit permissions (王小明 administers UNIT).
        let units = get_as(&h, &pk_cookie, "/api/v1/units").await;
        assert_eq!(units.status, StatusCode::OK, "{}", units.text);
        assert!(units.text.contains(common::UNIT), "{}", units.text);
        // A second login: the counter grows.
        let r = passkey_login(&h, &mut key).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let list = get_as(&h, &pk_cookie, "/api/v1/passkeys").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        assert_eq!(list.json["passkeys"].as_array().expect("list").len(), 1);
        assert!(list.json["passkeys"][0]["last_used_at"].is_i64());
        assert_eq!(count(&h, "SELECT sign_count FROM passkeys").await, 2);
        let audit = h.audit_actions().await;
        for a in [
            ("passkey_step_up", "ok"),
            ("passkey_registration", "added"),
            ("passkey_login", "ok"),
        ] {
            assert!(
                audit.contains(&(a.0.into(), a.1.into())),
                "{a:?} in {audit:?}"
            );
        }
    }
);

both_engines!(
    enrolment_needs_a_fresh_step_up_with_the_own_card,
    |h: Harness| async move {
        let cookie = logged_in(&h, 0).await;
        // No step-up.
        let r = registration(&h, &cookie).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert_eq!(r.code(), "step_up_required");
        // Another person's card (a valid proof of 陳美麗's card).
        let r = step_up(&h, &cookie, 1).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert_eq!(r.code(), "wrong_card");
        let r = registration(&h, &cookie).await;
        assert_eq!(r.code(), "step_up_required", "{}", r.text);
        // A wrong password.
        let body = json!({ "proof": step_up_proof(&h, &cookie, &holder(0).card).await, "password": "wrong-Password-9" });
        let r = post_as(&h, &cookie, "/api/v1/passkeys/step-up", body).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
        assert_eq!(r.code(), "login_failed");
        // A proof made for login is not a step-up.
        let body = json!({ "proof": h.proof(&holder(0), ProofPurpose::Login).await, "password": PASSWORD });
        let r = post_as(&h, &cookie, "/api/v1/passkeys/step-up", body).await;
        assert_eq!(r.code(), "nonce_invalid", "{}", r.text);
        let r = registration(&h, &cookie).await;
        assert_eq!(r.code(), "step_up_required", "{}", r.text);
        // A step-up nonce not issued to this session (issued without one).
        let body = json!({ "proof": h.proof(&holder(0), ProofPurpose::StepUp).await, "password": PASSWORD });
        let r = post_as(&h, &cookie, "/api/v1/passkeys/step-up", body).await;
        assert_eq!(r.code(), "nonce_invalid", "{}", r.text);
        let r = registration(&h, &cookie).await;
        assert_eq!(r.code(), "step_up_required", "{}", r.text);
        // Without a session at all.
        let body = json!({ "proof": h.proof(&holder(0), ProofPurpose::StepUp).await, "password": PASSWORD });
        let r = h.post("/api/v1/passkeys/step-up", body).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
        // A good step-up, then stale (> 5 minutes).
        let r = step_up(&h, &cookie, 0).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        h.exec("UPDATE sessions SET stepped_up_at = stepped_up_at - 301")
            .await;
        let r = registration(&h, &cookie).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert_eq!(r.code(), "step_up_required");
        // The step-up belongs to its session: another session of the same person has none.
        let r = step_up(&h, &cookie, 0).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        let other = h.login(&holder(0), PASSWORD).await;
        let other = session_pair(&other);
        let r = registration(&h, &other).await;
        assert_eq!(r.code(), "step_up_required", "{}", r.text);
        let r = registration(&h, &cookie).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(count(&h, "SELECT COUNT(*) FROM passkeys").await, 0);
    }
);

both_engines!(
    registrations_for_another_origin_rp_or_session_and_replays_are_refused,
    |h: Harness| async move {
        let cookie = logged_in(&h, 0).await;
        let r = step_up(&h, &cookie, 0).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        // Wrong origin (a phishing site relaying our options).
        let c = start(&h, &cookie).await;
        let cred = SoftKey::new().create(&c["options"], "https://nhi-login.example", RP_ID);
        let r =
            finish_registration(&h, &cookie, c["ceremony_id"].as_str().expect("id"), cred).await;
        rejected(&r, "wrong_origin");
        // Wrong RP id.
        let c = start(&h, &cookie).await;
        let cred = SoftKey::new().create(&c["options"], ORIGIN, "nhi-login.example");
        let r =
            finish_registration(&h, &cookie, c["ceremony_id"].as_str().expect("id"), cred).await;
        rejected(&r, "wrong_rp_id");
        // Another session's ceremony: the same person's second session.
        let other = session_pair(&h.login(&holder(0), PASSWORD).await);
        let c = start(&h, &cookie).await;
        let cred = SoftKey::new().create(&c["options"], ORIGIN, RP_ID);
        let r = finish_registration(
            &h,
            &other,
            c["ceremony_id"].as_str().expect("id"),
            cred.clone(),
        )
        .await;
        rejected(&r, "ceremony_invalid");
        // … which it consumed: not usable by its own session afterwards either.
        let r =
            finish_registration(&h, &cookie, c["ceremony_id"].as_str().expect("id"), cred).await;
        rejected(&r, "ceremony_invalid");
        // A good one, then replayed: the same ceremony, and on a new ceremony.
        let c = start(&h, &cookie).await;
        let mut key = SoftKey::new();
        let cred = key.create(&c["options"], ORIGIN, RP_ID);
        let id = c["ceremony_id"].as_str().expect("id");
        let r = finish_registration(&h, &cookie, id, cred.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let r = finish_registration(&h, &cookie, id, cred.clone()).await;
        rejected(&r, "ceremony_invalid");
        let c2 = start(&h, &cookie).await;
        let r =
            finish_registration(&h, &cookie, c2["ceremony_id"].as_str().expect("id"), cred).await;
        rejected(&r, "ceremony_invalid");
        // Without user verification.
        let c = start(&h, &cookie).await;
        let mut no_uv = SoftKey::new();
        no_uv.uv = false;
        let cred = no_uv.create(&c["options"], ORIGIN, RP_ID);
        let r =
            finish_registration(&h, &cookie, c["ceremony_id"].as_str().expect("id"), cred).await;
        rejected(&r, "user_not_verified");
        // Garbage ceremony id and a name out of bounds.
        let r = finish_registration(&h, &cookie, "nope", json!({})).await;
        rejected(&r, "ceremony_invalid");
        let c = start(&h, &cookie).await;
        let cred = SoftKey::new().create(&c["options"], ORIGIN, RP_ID);
        let body = json!({ "ceremony_id": c["ceremony_id"], "name": "  ", "credential": cred });
        let r = post_as(&h, &cookie, "/api/v1/passkeys/registration/finish", body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert_eq!(r.json["field"], "name");
        assert_eq!(count(&h, "SELECT COUNT(*) FROM passkeys").await, 1);
        let audit = h.audit_actions().await;
        assert!(audit.contains(&("passkey_registration".into(), "wrong_origin".into())));
    }
);

both_engines!(
    logins_for_another_origin_or_rp_replays_unknown_credentials_and_clones_are_refused,
    |h: Harness| async move {
        let cookie = logged_in(&h, 0).await;
        let (mut key, _) = enrol(&h, &cookie, 0).await;
        // Wrong origin.
        let c = login_options(&h).await;
        let cred = key.get(&c["options"], "https://nhi-login.example", RP_ID);
        rejected(&finish_login(&h, &c, cred).await, "wrong_origin");
        // Wrong RP id.
        let c = login_options(&h).await;
        let cred = key.get(&c["options"], ORIGIN, "nhi-login.example");
        rejected(&finish_login(&h, &c, cred).await, "wrong_rp_id");
        // A good login, replayed: on the same ceremony, and on a new one.
        let c = login_options(&h).await;
        let cred = key.get(&c["options"], ORIGIN, RP_ID);
        let r = finish_login(&h, &c, cred.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        rejected(
            &finish_login(&h, &c, cred.clone()).await,
            "ceremony_invalid",
        );
        let c2 = login_options(&h).await;
        rejected(&finish_login(&h, &c2, cred).await, "ceremony_invalid");
        // A registration ceremony is not a login ceremony.
        let r = step_up(&h, &cookie, 0).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        let reg = registration(&h, &cookie).await.json;
        let cred = key.get(&reg["options"], ORIGIN, RP_ID);
        rejected(&finish_login(&h, &reg, cred).await, "ceremony_invalid");
        // An unknown credential (a key never enrolled, with the right user handle even).
        let mut stranger = SoftKey::new();
        stranger.user_handle = key.user_handle.clone();
        let r = passkey_login(&h, &mut stranger).await;
        rejected(&r, "unknown_credential");
        // A credential with another account's handle.
        let mut wrong_handle = SoftKey {
            key: key.key.clone(),
            cred_id: key.cred_id.clone(),
            counter: key.counter + 5,
            user_handle: vec![9; 16],
            uv: true,
        };
        rejected(
            &passkey_login(&h, &mut wrong_handle).await,
            "unknown_credential",
        );
        // Without user verification.
        key.uv = false;
        rejected(&passkey_login(&h, &mut key).await, "user_not_verified");
        key.uv = true;
        // The counter going backwards: a cloned authenticator.
        let stored = count(&h, "SELECT sign_count FROM passkeys").await;
        key.counter = u32::try_from(stored).expect("u32") - 1;
        rejected(&passkey_login(&h, &mut key).await, "counter_regressed");
        let audit = h.audit_actions().await;
        assert!(
            audit.contains(&("passkey_login".into(), "counter_regressed".into())),
            "{audit:?}"
        );
        assert!(audit.contains(&("passkey_login".into(), "unknown_credential".into())));
        assert_eq!(
            count(&h, "SELECT sign_count FROM passkeys").await,
            stored,
            "unchanged"
        );
        // The real one goes on.
        key.counter = u32::try_from(stored).expect("u32");
        let r = passkey_login(&h, &mut key).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
);

both_engines_with!(
    a_password_lockout_does_not_block_the_passkey_but_its_own_limit_does,
    |c: &mut nhi_server::config::Config| c.lockout_threshold = 2,
    |h: Harness| async move {
        let cookie = logged_in(&h, 0).await;
        let (mut key, _) = enrol(&h, &cookie, 0).await;
        // A card thief locks the password.
        for _ in 0..3 {
            h.login(&holder(0), "wrong-Password-9").await;
        }
        let r = h.login(&holder(0), PASSWORD).await;
        assert_eq!(r.status, StatusCode::LOCKED, "{}", r.text);
        // The owner's passkey still logs in.
        let r = passkey_login(&h, &mut key).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        // Refused passkey logins have their own per-account limit.
        for _ in 0..nhi_server::services::passkeys::PASSKEY_FAILURES_PER_HOUR {
            let c = login_options(&h).await;
            let cred = key.get(&c["options"], "https://nhi-login.example", RP_ID);
            rejected(&finish_login(&h, &c, cred).await, "wrong_origin");
        }
        let r = passkey_login(&h, &mut key).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
        assert_eq!(r.code(), "rate_limited");
    }
);

both_engines!(
    manage_rename_remove_and_another_accounts_passkey_is_not_found,
    |h: Harness| async move {
        let wang = logged_in(&h, 0).await;
        let chen = logged_in(&h, 1).await;
        let (mut key, info) = enrol(&h, &wang, 0).await;
        let (_, chen_info) = enrol(&h, &chen, 1).await;
        let id = info["id"].as_i64().expect("id");
        let chen_id = chen_info["id"].as_i64().expect("id");
        let path = format!("/api/v1/passkeys/{id}");
        let r = request_as(
            &h,
            Method::PATCH,
            &wang,
            &path,
            Some(json!({"name": " 筆電 "})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["name"], "筆電");
        let r = request_as(
            &h,
            Method::PATCH,
            &wang,
            &path,
            Some(json!({"name": "x".repeat(65)})),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        // Another account's passkey: 404, untouched.
        let theirs = format!("/api/v1/passkeys/{chen_id}");
        let r = request_as(
            &h,
            Method::PATCH,
            &wang,
            &theirs,
            Some(json!({"name": "mine"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        let r = request_as(&h, Method::DELETE, &wang, &theirs, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        let r = request_as(&h, Method::DELETE, &wang, "/api/v1/passkeys/abc", None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        let list = get_as(&h, &chen, "/api/v1/passkeys").await;
        assert_eq!(list.json["passkeys"][0]["name"], "My phone");
        let list = get_as(&h, &wang, "/api/v1/passkeys").await;
        assert_eq!(list.json["passkeys"].as_array().expect("list").len(), 1);
        // Remove: it no longer logs in.
        let r = request_as(&h, Method::DELETE, &wang, &path, None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        rejected(&passkey_login(&h, &mut key).await, "unknown_credential");
        let list = get_as(&h, &wang, "/api/v1/passkeys").await;
        assert_eq!(list.json["passkeys"], json!([]));
        // Not logged in.
        let r = h.get("/api/v1/passkeys").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
        // An account that is not active cannot log in with its passkey.
        let (mut key2, _) = enrol(&h, &wang, 0).await;
        h.exec("UPDATE accounts SET status = 'pending'").await;
        let r = passkey_login(&h, &mut key2).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert_eq!(r.code(), "account_not_active");
    }
);

/// A card authority whose records the test changes: the sample's current cards, and what the
/// test reports lost or replaced.
struct Authority {
    inner: MasterKeyAuthority,
    cards: Mutex<HashMap<String, CardStanding>>,
}

impl CardAuthority for Authority {
    fn verify(
        &self,
        record: &CardRecord,
        origin: &str,
        nonce: &Nonce,
        mac: &CardMac,
    ) -> Result<(), ProofError> {
        self.inner.verify(record, origin, nonce, mac)
    }

    fn standing(&self, card: &CardNumber) -> CardStanding {
        self.cards
            .lock()
            .expect("lock")
            .get(card.as_str())
            .cloned()
            .unwrap_or(CardStanding::Unknown)
    }
}

async fn harness_with_authority(engine: common::Engine) -> Option<(Harness, Arc<Authority>)> {
    let key = MasterKey::from_hex(card_proof::TEST_MASTER_KEY_HEX).expect("key");
    let authority = Arc::new(Authority {
        inner: MasterKeyAuthority::new(key),
        cards: Mutex::new(HashMap::new()),
    });
    let o = Overrides {
        authority: Some(authority.clone()),
        ..Overrides::default()
    };
    let h = Harness::with_overrides(engine, |_| {}, o).await?;
    Some((h, authority))
}

/// 王小明 with a passkey enrolled by his card and two sessions; then the card authority
/// reports his card replaced by a new one.
async fn replaced(engine: common::Engine) -> Option<(Harness, Arc<Authority>, String, SoftKey)> {
    let (h, authority) = harness_with_authority(engine).await?;
    let wang = holder(0);
    let old = wang.card.card_number.as_str().to_owned();
    let current = CardStanding::Current {
        national_id: wang.card.national_id.as_str().to_owned(),
    };
    authority
        .cards
        .lock()
        .expect("lock")
        .insert(old.clone(), current.clone());
    let cookie = logged_in(&h, 0).await;
    let (key, _) = enrol(&h, &cookie, 0).await;
    assert_eq!(count(&h, "SELECT COUNT(*) FROM passkeys").await, 1);
    {
        let mut cards = authority.cards.lock().expect("lock");
        cards.insert(old, CardStanding::Replaced);
        cards.insert(NEW_CARD.into(), current);
    }
    Some((h, authority, cookie, key))
}

const NEW_CARD: &str = "000099990009";

fn assert_revoked_mail(mails: &[(String, String, String, bool)]) {
    let m = mails
        .iter()
        .find(|m| m.0 == "passkeys_revoked")
        .expect("passkeys_revoked mail");
    assert_eq!(m.1, "person0@example.com");
    assert!(
        m.2.contains(&holder(0).card.card_number.masked()),
        "{}",
        m.2
    );
}

macro_rules! both_engines_authority {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let x = replaced(common::Engine::Sqlite)
                    .await
                    .expect("sqlite harness");
                ($body)(x).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(x) = replaced(common::Engine::Postgres).await else {
                    return;
                };
                ($body)(x).await;
            }
        }
    };
}

both_engines_authority!(
    a_proof_of_a_replaced_card_revokes_its_passkeys_and_sessions,
    |(h, _a, cookie, mut key): (Harness, Arc<Authority>, String, SoftKey)| async move {
        let me = get_as(&h, &cookie, "/api/v1/me").await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.text);
        // Someone presents the old card: refused as revoked, and what it opened ends.
        let r = h.login(&holder(0), PASSWORD).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert_eq!(r.code(), "card_revoked");
        assert_eq!(count(&h, "SELECT COUNT(*) FROM passkeys").await, 0);
        let me = get_as(&h, &cookie, "/api/v1/me").await;
        assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.text);
        rejected(&passkey_login(&h, &mut key).await, "unknown_credential");
        assert_revoked_mail(&h.outbox().await);
        let audit = h.audit_actions().await;
        assert!(
            audit.contains(&("card_revoked".into(), "replaced".into())),
            "{audit:?}"
        );
    }
);

both_engines_authority!(
    logging_in_with_the_replacement_card_revokes_the_old_cards_passkeys_and_sessions,
    |(h, _a, cookie, mut key): (Harness, Arc<Authority>, String, SoftKey)| async move {
        let mut new_card = holder(0).card;
        new_card.card_number = NEW_CARD.parse().expect("card number");
        let n = h.nonce(ProofPurpose::Login).await;
        let proof = h.answer(&new_card, ORIGIN, n);
        let r = h
            .post(
                "/api/v1/session",
                json!({ "proof": proof, "password": PASSWORD }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let new_masked = new_card.card_number.masked();
        assert_eq!(
            r.json["card_number_masked"], new_masked,
            "the same account, on the new card"
        );
        let new_session = session_pair(&r);
        assert_eq!(count(&h, "SELECT COUNT(*) FROM accounts").await, 1);
        assert_eq!(count(&h, "SELECT COUNT(*) FROM passkeys").await, 0);
        let me = get_as(&h, &cookie, "/api/v1/me").await;
        assert_eq!(
            me.status,
            StatusCode::UNAUTHORIZED,
            "the old card's session ended"
        );
        let me = get_as(&h, &new_session, "/api/v1/me").await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.text);
        rejected(&passkey_login(&h, &mut key).await, "unknown_credential");
        assert_revoked_mail(&h.outbox().await);
        // The new card enrols a new passkey (step-up with the new card).
        let proof = step_up_proof(&h, &new_session, &new_card).await;
        let body = json!({ "proof": proof, "password": PASSWORD });
        let r = post_as(&h, &new_session, "/api/v1/passkeys/step-up", body).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        let r = registration(&h, &new_session).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let mut key = SoftKey::new();
        let cred = key.create(&r.json["options"], ORIGIN, RP_ID);
        let id = r.json["ceremony_id"].as_str().expect("id").to_owned();
        let r = finish_registration(&h, &new_session, &id, cred).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["card_number_masked"], new_masked);
        let r = passkey_login(&h, &mut key).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
);

both_engines_authority!(
    a_step_up_with_the_replacement_card_keeps_this_session_and_revokes_the_old_card,
    |(h, _a, cookie, mut key): (Harness, Arc<Authority>, String, SoftKey)| async move {
        let mut new_card = holder(0).card;
        new_card.card_number = NEW_CARD.parse().expect("card number");
        let proof = step_up_proof(&h, &cookie, &new_card).await;
        let body = json!({ "proof": proof, "password": PASSWORD });
        let r = post_as(&h, &cookie, "/api/v1/passkeys/step-up", body).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        // This session, proven with the new card, lives on; the old card's passkey is gone.
        let me = get_as(&h, &cookie, "/api/v1/me").await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.text);
        assert_eq!(me.json["card_number_masked"], new_card.card_number.masked());
        assert_eq!(count(&h, "SELECT COUNT(*) FROM passkeys").await, 0);
        rejected(&passkey_login(&h, &mut key).await, "unknown_credential");
        assert_revoked_mail(&h.outbox().await);
        let r = registration(&h, &cookie).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
);
