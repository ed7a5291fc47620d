//! Every proof-taking endpoint tried as an attacker would (issue 10), on SQLite and PostgreSQL.
//!
//! The rule: the server believes only what a card proof proves. A proof carries the record the
//! card stores and the card's MAC over it; identity comes from that verified record alone, and
//! everything else in a request is a claim to check.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::{
    bulk_ticket, count, holder, logged_in, run_jobs, upload, Harness, Holder, Resp, ORIGIN,
    PASSWORD,
};
use nhi_bridge::vcard::{Model, VirtualCard};
use nhi_protocol::apdu;
use nhi_protocol::api::{CardProof, ProofPurpose};
use nhi_protocol::card_proof::{self, CardMac, CardRecord, MasterKey, Nonce, TEST_MASTER_KEY_HEX};
use serde_json::{json, Value};

const ATTACKER_EMAIL: &str = "attacker@evil.example";

fn master() -> MasterKey {
    MasterKey::from_hex(TEST_MASTER_KEY_HEX).expect("test key")
}

fn record_of(h: &Holder) -> CardRecord {
    CardRecord::encode(&h.card).expect("record")
}

/// Everything an attack could have changed, to compare before and after.
async fn state(h: &Harness) -> Vec<i64> {
    let mut v = Vec::new();
    for sql in [
        "SELECT COUNT(*) FROM accounts",
        "SELECT COUNT(*) FROM accounts WHERE status = 'active'",
        "SELECT COUNT(*) FROM email_tickets",
        "SELECT COUNT(*) FROM outbox",
        "SELECT COUNT(*) FROM sessions",
        "SELECT COUNT(*) FROM bulk_registrants WHERE status = 'pending'",
        "SELECT CAST(COALESCE(SUM(failed_logins), 0) AS BIGINT) FROM accounts",
    ] {
        v.push(count(h, sql).await);
    }
    let tokens: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT token_hash FROM bulk_registrants ORDER BY id")
            .fetch_all(h.app.services.db.pool())
            .await
            .expect("tokens");
    v.push(tokens.iter().filter(|t| t.0.is_some()).count() as i64);
    v
}

/// The body of each proof-taking endpoint, with `proof` (and, as an attacker would add, the
/// victim's card data in a `card` field the server must ignore).
struct Endpoint {
    name: &'static str,
    path: &'static str,
    purpose: ProofPurpose,
    body: fn(Value, &Holder) -> Value,
}

fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            name: "F1 household check",
            path: "/api/v1/registrations/household-check",
            purpose: ProofPurpose::Register,
            body: |proof, v| json!({ "proof": proof, "card": v.card, "household": v.household }),
        },
        Endpoint {
            name: "F1 register",
            path: "/api/v1/registrations",
            purpose: ProofPurpose::Register,
            body: |proof, v| {
                json!({ "proof": proof, "card": v.card, "household": v.household,
                        "password": PASSWORD, "email": ATTACKER_EMAIL })
            },
        },
        Endpoint {
            name: "F2 confirm",
            path: "/api/v1/registrations/confirm",
            purpose: ProofPurpose::Confirm,
            body: |proof, _| json!({ "proof": proof, "ticket": "A".repeat(43) }),
        },
        Endpoint {
            name: "F3 login",
            path: "/api/v1/session",
            purpose: ProofPurpose::Login,
            body: |proof, _| json!({ "proof": proof, "password": PASSWORD }),
        },
        Endpoint {
            name: "F7 activate",
            path: "/api/v1/bulk-registrations/activate",
            purpose: ProofPurpose::Activate,
            body: |proof, v| json!({ "proof": proof, "card": v.card, "ticket": "A".repeat(43), "password": PASSWORD }),
        },
        Endpoint {
            name: "F8 resend",
            path: "/api/v1/registrations/resend",
            purpose: ProofPurpose::Resend,
            body: |proof, v| json!({ "proof": proof, "card": v.card, "email": ATTACKER_EMAIL }),
        },
        Endpoint {
            name: "F8 bulk resend",
            path: "/api/v1/bulk-registrations/resend",
            purpose: ProofPurpose::Resend,
            body: |proof, v| json!({ "proof": proof, "card": v.card, "email": ATTACKER_EMAIL }),
        },
    ]
}

/// A victim with a pending citizen application (holder 2), a victim with a pending bulk
/// registration (holder 1, uploaded by 王小明's unit), an active account (holder 5).
async fn victims(h: &Harness) {
    let admin = logged_in(h, 0).await;
    let csv = "B223456719,陳美麗,0851225,mei@example.com\n";
    let (status, body, _) = upload(h, &admin, "people.csv", csv.as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    run_jobs(h).await;
    assert_eq!(
        h.register(&holder(2), "lin@example.com").await.status,
        StatusCode::ACCEPTED
    );
    h.active_account(&holder(5), "zhang@example.com").await;
    h.drain_outbox().await;
}

/// Sends `proof` (as JSON) to endpoint `e` and expects it refused with `status` and `code`.
async fn send(
    h: &Harness,
    e: &Endpoint,
    proof: impl serde::Serialize,
    v: &Holder,
    status: StatusCode,
    code: &str,
) {
    let body = (e.body)(serde_json::to_value(proof).expect("json"), v);
    refused(&h.post(e.path, body).await, status, code, e.name);
}

fn refused(r: &Resp, status: StatusCode, code: &str, what: &str) {
    assert_eq!((r.status, r.code()), (status, code), "{what}: {}", r.text);
}

both_engines!(
    a_valid_proof_with_another_persons_record_is_refused_everywhere,
    |h: Harness| async move {
        victims(&h).await;
        let attacker = holder(3);
        let before = state(&h).await;
        for e in endpoints() {
            // Card A's valid proof, B's record put in its place, for each kind of victim.
            for v in [holder(1), holder(2), holder(5)] {
                let n = h.nonce(e.purpose).await;
                let mut proof = h.answer(&attacker.card, ORIGIN, n);
                proof.record = Some(record_of(&v));
                send(
                    &h,
                    &e,
                    proof,
                    &v,
                    StatusCode::UNAUTHORIZED,
                    "card_proof_invalid",
                )
                .await;
            }
        }
        assert_eq!(state(&h).await, before, "nothing changed");
        assert!(h.outbox().await.iter().all(|m| m.1 != ATTACKER_EMAIL));
    }
);

both_engines!(
    the_bulk_takeover_of_issue_10_fails,
    |h: Harness| async move {
        // The reported attack: with an unregistered card of my own and the victim's ID number,
        // `POST /bulk-registrations/resend` (own proof, `card.national_id` = the victim's, my
        // email) mailed me the victim's activation link; I activated it with my own card and
        // logged in as the victim.
        victims(&h).await;
        let (attacker, victim) = (holder(3), holder(1));
        let victim_link = bulk_ticket(&h.outbox().await, "mei@example.com");
        let mut claimed = victim.card.clone();
        claimed.card_number = attacker.card.card_number.clone();
        let before = state(&h).await;
        let r = h
            .post(
                "/api/v1/bulk-registrations/resend",
                json!({
                    "proof": h.proof(&attacker, ProofPurpose::Resend).await,
                    "card": claimed,
                    "email": ATTACKER_EMAIL,
                }),
            )
            .await;
        // The same answer as for anyone (no enumeration) ...
        assert_eq!(
            (r.status, r.json.clone()),
            (StatusCode::ACCEPTED, json!({"accepted": true}))
        );
        // ... but the card vouched for the attacker's own ID number, which has nothing pending.
        assert_eq!(
            state(&h).await,
            before,
            "no ticket replaced, no mail queued"
        );
        assert!(h.outbox().await.iter().all(|m| m.1 != ATTACKER_EMAIL));
        assert!(h
            .audit_actions()
            .await
            .contains(&("bulk_resend".into(), "no_registrant".into())));
        // Had the attacker got the link anyway, their own card cannot activate it.
        let r = h
            .post(
                "/api/v1/bulk-registrations/activate",
                json!({ "ticket": victim_link, "proof": h.proof(&attacker, ProofPurpose::Activate).await,
                        "card": victim.card, "password": PASSWORD }),
            )
            .await;
        refused(
            &r,
            StatusCode::FORBIDDEN,
            "wrong_card",
            "activate with own card",
        );
        // The victim still activates their own registration and logs in.
        let r = h
            .post(
                "/api/v1/bulk-registrations/activate",
                json!({ "ticket": victim_link, "proof": h.proof(&victim, ProofPurpose::Activate).await,
                        "password": PASSWORD }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(h.login(&victim, PASSWORD).await.status, StatusCode::OK);
        // And the attacker's card logs in as nobody.
        refused(
            &h.login(&attacker, PASSWORD).await,
            StatusCode::UNAUTHORIZED,
            "login_failed",
            "attacker login",
        );
    }
);

both_engines!(
    a_forged_record_maced_with_the_attackers_own_key_is_refused,
    |h: Harness| async move {
        victims(&h).await;
        let (attacker, victim) = (holder(3), holder(1));
        // The attacker extracted their own card's key and builds a record with their own card
        // number and the victim's ID number and name.
        let own_key = card_proof::derive_card_key(&master(), &record_of(&attacker));
        let mut forged_card = victim.card.clone();
        forged_card.card_number = attacker.card.card_number.clone();
        let forged = CardRecord::encode(&forged_card).expect("record");
        let before = state(&h).await;
        for e in endpoints() {
            // (a) MAC over the real challenge and the forged record, with the attacker's key.
            let n = h.nonce(e.purpose).await;
            let mac = card_proof::card_mac(&own_key, &card_proof::challenge(ORIGIN, &n), &forged);
            let over_the_challenge = CardProof::new(n, forged, mac);
            // (b) a challenge the attacker chose (the forged record's hash, as a card that MACs
            // any 32 bytes it is given would allow).
            let n = h.nonce(e.purpose).await;
            let chosen: [u8; 32] = forged.digest();
            let mac = card_proof::card_mac(&own_key, &chosen, &record_of(&attacker));
            let over_a_chosen_challenge = CardProof::new(n, forged, mac);
            for proof in [over_the_challenge, over_a_chosen_challenge] {
                send(
                    &h,
                    &e,
                    proof,
                    &victim,
                    StatusCode::UNAUTHORIZED,
                    "card_proof_invalid",
                )
                .await;
            }
        }
        assert_eq!(state(&h).await, before, "nothing changed");
    }
);

/// The card's APDU, as the real virtual card answers it.
fn vcard_answer(card: &mut VirtualCard, apdu_bytes: &[u8]) -> Vec<u8> {
    assert_eq!(card.process(&apdu::SELECT_NHI), [0x90, 0x00]);
    card.process(apdu_bytes)
}

both_engines!(
    the_card_refuses_what_is_not_a_32_byte_challenge,
    |h: Harness| async move {
        let attacker = holder(3);
        let mut card = VirtualCard::new(&attacker.card, &master(), Model::Classic).expect("card");
        // A 64-byte challenge (e.g. challenge ‖ a record hash the bridge chose): refused.
        let mut long = vec![
            0x00,
            apdu::INS_INTERNAL_AUTHENTICATE,
            0x00,
            apdu::P2_PROOF_V2,
            0x40,
        ];
        long.extend_from_slice(&[0x11; 64]);
        long.push(0x10);
        assert_eq!(vcard_answer(&mut card, &long), [0x67, 0x00]);
        // The v1 command (MAC over the challenge alone) is gone.
        let mut v1 = vec![0x00, apdu::INS_INTERNAL_AUTHENTICATE, 0x00, 0x00, 0x20];
        v1.extend_from_slice(&[0x11; 32]);
        v1.push(0x10);
        assert_eq!(vcard_answer(&mut card, &v1), [0x6A, 0x86]);
        // The real command's answer verifies at the server, end to end through the service.
        let n = h.nonce(ProofPurpose::Register).await;
        let r = vcard_answer(
            &mut card,
            &apdu::internal_authenticate(&card_proof::challenge(ORIGIN, &n)),
        );
        assert_eq!(&r[16..], [0x90, 0x00]);
        let mac = CardMac(r[..16].try_into().expect("16 bytes"));
        let proof = CardProof::new(n, record_of(&attacker), mac);
        let r = h
            .post(
                "/api/v1/registrations/household-check",
                json!({ "proof": proof, "household": attacker.household }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
);

both_engines!(
    old_replayed_late_foreign_and_broken_proofs_are_refused,
    |h: Harness| async move {
        victims(&h).await;
        let p = holder(5);
        let before = state(&h).await;
        for e in endpoints() {
            // v1 proof: card number + MAC over the challenge alone, no record.
            let n = h.nonce(e.purpose).await;
            let v1 =
                json!({ "card_number": p.card.card_number, "nonce": n, "mac": "cd".repeat(16) });
            send(
                &h,
                &e,
                v1,
                &p,
                StatusCode::BAD_REQUEST,
                "card_proof_outdated",
            )
            .await;
            // A v2-shaped proof that says it is version 1.
            let n = h.nonce(e.purpose).await;
            let mut old = serde_json::to_value(h.answer(&p.card, ORIGIN, n)).expect("json");
            old["v"] = json!(1);
            send(
                &h,
                &e,
                old,
                &p,
                StatusCode::BAD_REQUEST,
                "card_proof_outdated",
            )
            .await;
            // Made for another origin (relayed by a phishing site).
            let n = h.nonce(e.purpose).await;
            let foreign = h.answer(&p.card, "https://nhi.example.evil.test", n);
            send(
                &h,
                &e,
                foreign,
                &p,
                StatusCode::UNAUTHORIZED,
                "card_proof_invalid",
            )
            .await;
            // A MAC that fails (one bit flipped).
            let n = h.nonce(e.purpose).await;
            let mut broken = h.answer(&p.card, ORIGIN, n);
            broken.mac.0[0] ^= 1;
            send(
                &h,
                &e,
                broken,
                &p,
                StatusCode::UNAUTHORIZED,
                "card_proof_invalid",
            )
            .await;
            // A nonce the server never issued.
            let made_up = h.answer(&p.card, ORIGIN, Nonce([7; 32]));
            send(
                &h,
                &e,
                made_up,
                &p,
                StatusCode::BAD_REQUEST,
                "nonce_invalid",
            )
            .await;
            // An expired nonce.
            let n = h.nonce(e.purpose).await;
            h.exec("UPDATE card_nonces SET expires_at = 0").await;
            let late = h.answer(&p.card, ORIGIN, n);
            send(&h, &e, late, &p, StatusCode::BAD_REQUEST, "nonce_invalid").await;
            // A record whose MAC fails because the record itself was edited.
            let n = h.nonce(e.purpose).await;
            let mut edited = h.answer(&p.card, ORIGIN, n);
            if let Some(r) = edited.record.as_mut() {
                r.0[12] ^= 1;
            }
            send(
                &h,
                &e,
                edited,
                &p,
                StatusCode::UNAUTHORIZED,
                "card_proof_invalid",
            )
            .await;
        }
        assert_eq!(state(&h).await, before, "nothing changed");

        // Replay: a proof that worked once (a login) is refused the second time.
        let proof = h.proof(&p, ProofPurpose::Login).await;
        let body = json!({ "proof": proof, "password": PASSWORD });
        assert_eq!(
            h.post("/api/v1/session", body.clone()).await.status,
            StatusCode::OK
        );
        refused(
            &h.post("/api/v1/session", body).await,
            StatusCode::BAD_REQUEST,
            "nonce_invalid",
            "replayed login",
        );
        // Twenty copies of one proof sent at once: exactly one is accepted.
        let proof = h.proof(&p, ProofPurpose::Login).await;
        let h = Arc::new(h);
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (h, proof) = (h.clone(), proof.clone());
                tokio::spawn(async move {
                    h.post(
                        "/api/v1/session",
                        json!({ "proof": proof, "password": PASSWORD }),
                    )
                    .await
                    .status
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            ok += usize::from(t.await.expect("task") == StatusCode::OK);
        }
        assert_eq!(ok, 1, "a nonce is consumed once");
    }
);

both_engines!(
    a_proof_made_for_one_purpose_is_refused_by_every_other_endpoint,
    |h: Harness| async move {
        victims(&h).await;
        let p = holder(5);
        let before = state(&h).await;
        for e in endpoints() {
            for purpose in ProofPurpose::ALL {
                if purpose == e.purpose {
                    continue;
                }
                let body = (e.body)(h.proof(&p, purpose).await, &p);
                let r = h.post(e.path, body).await;
                refused(
                    &r,
                    StatusCode::BAD_REQUEST,
                    "nonce_invalid",
                    &format!("{} with a {purpose:?} proof", e.name),
                );
            }
        }
        assert_eq!(state(&h).await, before, "nothing changed");
        // An unknown purpose is not issued.
        let r = h
            .post("/api/v1/card-proof/nonce", json!({ "purpose": "anything" }))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        let r = h.post("/api/v1/card-proof/nonce", json!({})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    }
);

both_engines!(
    lost_replaced_and_misattributed_cards_are_refused,
    |h: Harness| async move {
        let wang = holder(0);
        // 王小明's old card, replaced by his current one (the sample's revoked_cards).
        let mut old_card = wang.card.clone();
        old_card.card_number = "000011110001".parse().expect("card number");
        // 陳美麗's card reported lost.
        let mut lost = holder(1).card.clone();
        lost.card_number = "000022220002".parse().expect("card number");
        // 王小明's current card number on a record with another ID number: the issuer knows
        // the card as 王小明's (even a validly MACed such card would be refused).
        let mut misattributed = holder(2).card.clone();
        misattributed.card_number = wang.card.card_number.clone();
        for e in endpoints() {
            for (card, code) in [
                (&old_card, "card_revoked"),
                (&lost, "card_revoked"),
                (&misattributed, "card_mismatch"),
            ] {
                let n = h.nonce(e.purpose).await;
                let proof = h.answer(card, ORIGIN, n);
                send(&h, &e, proof, &wang, StatusCode::FORBIDDEN, code).await;
            }
        }
        assert_eq!(count(&h, "SELECT COUNT(*) FROM accounts").await, 0);
    }
);

both_engines!(
    concurrent_wrong_passwords_get_at_most_the_threshold_evaluated,
    |h: Harness| async move {
        let p = holder(4);
        h.active_account(&p, "ruan@example.com").await;
        let threshold = h.app.services.config.lockout_threshold as usize;
        // 20 wrong passwords and the right one, all at once, each with its own valid proof.
        let mut bodies = Vec::new();
        for i in 0..21 {
            let password = if i == 10 {
                PASSWORD.to_owned()
            } else {
                format!("wrong-{i}")
            };
            bodies.push(
                json!({ "proof": h.proof(&p, ProofPurpose::Login).await, "password": password }),
            );
        }
        let h = Arc::new(h);
        let tasks: Vec<_> = bodies
            .into_iter()
            .map(|b| {
                let h = h.clone();
                tokio::spawn(async move { h.post("/api/v1/session", b).await })
            })
            .collect();
        let mut codes = Vec::new();
        let mut right_succeeded = false;
        for t in tasks {
            let r = t.await.expect("task");
            right_succeeded |= r.status == StatusCode::OK;
            codes.push(r.code().to_owned());
        }
        let audit = h.audit_actions().await;
        let evaluated = audit
            .iter()
            .filter(|a| a.0 == "login" && (a.1 == "wrong_password" || a.1 == "success"))
            .count();
        assert!(
            evaluated <= threshold,
            "{evaluated} passwords evaluated: {codes:?}"
        );
        let refused_unevaluated = audit
            .iter()
            .filter(|a| a.0 == "login" && a.1 == "locked")
            .count();
        assert_eq!(evaluated + refused_unevaluated, 21, "{audit:?}");
        // The right one succeeds only if it was among the evaluated ones.
        let success = audit.iter().any(|a| a.0 == "login" && a.1 == "success");
        assert_eq!(right_succeeded, success);
        if !success {
            assert!(count(&h, "SELECT COUNT(*) FROM accounts WHERE locked_until > 0").await == 1);
        }
    }
);

both_engines!(
    the_per_card_login_limit_counts_only_verified_proofs,
    |h: Harness| async move {
        let p = holder(4);
        h.active_account(&p, "ruan@example.com").await;
        let limit = h.app.services.config.login_per_card_per_hour as usize;
        // Someone who knows only the victim's card number sends many unverifiable logins ...
        for _ in 0..limit + 5 {
            let n = h.nonce(ProofPurpose::Login).await;
            let mut fake = h.answer(&p.card, ORIGIN, n);
            fake.mac = CardMac([0; 16]);
            let r = h
                .post(
                    "/api/v1/session",
                    json!({ "proof": fake, "password": "guess-it" }),
                )
                .await;
            refused(
                &r,
                StatusCode::UNAUTHORIZED,
                "card_proof_invalid",
                "unverified login",
            );
        }
        // ... which neither used up the card's budget nor counted a wrong password.
        assert_eq!(h.login(&p, PASSWORD).await.status, StatusCode::OK);
        // Verified logins are counted, in the database, shared by every instance.
        for _ in 1..limit {
            assert_eq!(h.login(&p, PASSWORD).await.status, StatusCode::OK);
        }
        let r = h.login(&p, PASSWORD).await;
        refused(
            &r,
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "over the card's limit",
        );
        assert!(r.json["retry_after_seconds"]
            .as_u64()
            .is_some_and(|s| s > 0 && s <= 3600));
        let stored = count(
            &h,
            "SELECT CAST(COALESCE(SUM(hits), 0) AS BIGINT) FROM rate_counters",
        )
        .await;
        assert_eq!(stored as usize, limit + 1);
    }
);

/// The public test key (anyone can forge any card's proof with it) on a non-loopback origin:
/// the real binary refuses to start, non-zero, saying why.
#[test]
fn the_binary_refuses_the_test_key_off_loopback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nhi-server"))
        .current_dir(dir.path())
        .env("NHI_PUBLIC_ORIGIN", "https://nhi.example")
        .env("NHI_DATABASE_URL", "sqlite://never-created.db?mode=rwc")
        .env("NHI_METRICS_LISTEN", "off")
        .env("RUST_BACKTRACE", "0")
        .env_remove("NHI_CONFIG")
        .env_remove("NHI_CARD_MASTER_KEY_HEX")
        .env_remove("NHI_ALLOW_TEST_CARD_KEY")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("card_master_key_hex") && stderr.contains("public TEST key"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("never-created.db").exists(),
        "nothing started"
    );
}
