//! F1, F2, F8 and F3 through the real router, on SQLite and PostgreSQL.

mod common;

use axum::http::{header, Method, StatusCode};
use common::{get_as, holder, request_as, session_pair, set_cookie, Harness, ORIGIN, PASSWORD};
use nhi_protocol::api::ProofPurpose;
use serde_json::json;

both_engines!(
    full_registration_confirmation_login_logout,
    |h: Harness| async move {
        let p = holder(0);
        let r = h.register(&p, "wang@example.com").await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
        assert_eq!(r.json["status"], "pending");
        assert_eq!(r.json["email_masked"], "wa***@example.com");

        // The activation mail is in the outbox (same transaction) and the worker sends it.
        let mails = h.outbox().await;
        assert_eq!(mails.len(), 1);
        assert!(!mails[0].3, "not sent before the worker runs");
        h.drain_outbox().await;
        assert_eq!(h.mail_files().len(), 1);
        let eml = std::fs::read_to_string(&h.mail_files()[0]).expect("eml");
        assert!(
            eml.contains("To: wang@example.com") && eml.contains("multipart/alternative"),
            "{eml}"
        );

        // Login before confirmation is refused.
        let r = h.login(&p, PASSWORD).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "account_not_active")
        );

        let ticket = h.ticket_for("wang@example.com").await;
        assert_eq!(ticket.len(), 43);
        let r = h.confirm(&p, &ticket).await;
        assert_eq!(
            (r.status, r.json["status"].as_str()),
            (StatusCode::OK, Some("active")),
            "{}",
            r.text
        );
        h.drain_outbox().await;
        let kinds: Vec<_> = h.outbox().await.into_iter().map(|m| (m.0, m.3)).collect();
        assert_eq!(
            kinds,
            vec![("activation".into(), true), ("completion".into(), true)]
        );
        assert_eq!(h.mail_files().len(), 2);

        let r = h.login(&p, PASSWORD).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["name_masked"], "王○明");
        let cookie = set_cookie(&r);
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        assert!(
            !cookie.contains("Secure"),
            "plain-http localhost has no Secure flag"
        );
        let pair = session_pair(&r);

        let me = get_as(&h, &pair, "/api/v1/me").await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.text);
        assert_eq!(me.json["status"], "active");
        assert_eq!(me.json["national_id_masked"], "A12****789");

        let out = request_as(&h, Method::DELETE, &pair, "/api/v1/session", None).await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        let me = get_as(&h, &pair, "/api/v1/me").await;
        assert_eq!(
            (me.status, me.code()),
            (StatusCode::UNAUTHORIZED, "unauthenticated")
        );

        let audit = h.audit_actions().await;
        for want in [
            ("registration", "accepted"),
            ("confirmation", "activated"),
            ("login", "success"),
            ("logout", "ok"),
        ] {
            assert!(
                audit.iter().any(|a| (a.0.as_str(), a.1.as_str()) == want),
                "{want:?} in {audit:?}"
            );
        }
    }
);

both_engines!(
    household_check_accepts_the_registry_data_and_rejects_any_difference,
    |h: Harness| async move {
        let p = holder(1);
        let body =
            json!({ "proof": h.proof(&p, ProofPurpose::Register).await, "household": p.household });
        let r = h.post("/api/v1/registrations/household-check", body).await;
        assert_eq!(
            (r.status, r.json["matches"].as_bool()),
            (StatusCode::OK, Some(true)),
            "{}",
            r.text
        );

        let mut variants = Vec::new();
        let mut v = p.household.clone();
        v.household_number = "B0012346".parse().expect("hh");
        variants.push(v);
        let mut v = p.household.clone();
        v.village = "西屯里".into();
        variants.push(v);
        let mut v = p.household.clone();
        v.neighbourhood += 1;
        variants.push(v);
        let mut v = p.household.clone();
        v.county = "火星市".into();
        variants.push(v);
        for household in variants {
            let body = json!({ "proof": h.proof(&p, ProofPurpose::Register).await, "household": household });
            let r = h.post("/api/v1/registrations/household-check", body).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::UNPROCESSABLE_ENTITY, "household_mismatch"),
                "{household:?}"
            );
            assert!(
                !r.text.contains(p.household.household_number.as_str()),
                "no registry data leaks"
            );
            // Registration is refused the same way and leaves nothing behind.
            let mut reg = h.register_body(&p, "chen@example.com", PASSWORD).await;
            reg["household"] = serde_json::to_value(&household).expect("json");
            let r = h.post("/api/v1/registrations", reg).await;
            assert_eq!(r.code(), "household_mismatch");
        }
        // A person the registry does not know (a card that stores another name).
        let mut card = p.card.clone();
        card.name = "陳美美".into();
        let mut reg = h.register_body(&p, "chen@example.com", PASSWORD).await;
        let n = h.nonce(ProofPurpose::Register).await;
        reg["proof"] = serde_json::to_value(h.answer(&card, ORIGIN, n)).expect("json");
        assert_eq!(
            h.post("/api/v1/registrations", reg).await.code(),
            "household_mismatch"
        );
        assert!(h.outbox().await.is_empty());
        assert!(h
            .audit_actions()
            .await
            .iter()
            .any(|a| a.0 == "household_check" && a.1 == "mismatch"));
    }
);

both_engines!(
    a_ticket_works_once_and_not_after_five_days,
    |h: Harness| async move {
        let (a, b) = (holder(0), holder(2));
        h.register(&a, "a@example.com").await;
        h.register(&b, "b@example.com").await;
        let ta = h.ticket_for("a@example.com").await;
        assert_eq!(h.confirm(&a, &ta).await.status, StatusCode::OK);
        let again = h.confirm(&a, &ta).await;
        assert_eq!(
            (again.status, again.code()),
            (StatusCode::BAD_REQUEST, "ticket_invalid")
        );
        let garbage = h.confirm(&a, "not-a-ticket").await;
        assert_eq!(garbage.code(), "ticket_invalid");

        // Five days and a second later.
        h.exec("UPDATE email_tickets SET expires_at = expires_at - 432001")
            .await;
        let tb = h.ticket_for("b@example.com").await;
        let r = h.confirm(&b, &tb).await;
        assert_eq!((r.status, r.code()), (StatusCode::GONE, "ticket_expired"));
        let r = h.login(&b, PASSWORD).await;
        assert_eq!(r.code(), "account_not_active");
    }
);

both_engines!(
    only_the_card_that_applied_can_confirm,
    |h: Harness| async move {
        let (a, b) = (holder(0), holder(3));
        h.register(&a, "a@example.com").await;
        let ta = h.ticket_for("a@example.com").await;
        let r = h.confirm(&b, &ta).await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "wrong_card"));
        // The ticket still works for the right card.
        assert_eq!(h.confirm(&a, &ta).await.status, StatusCode::OK);
    }
);

both_engines!(
    proofs_are_single_use_origin_bound_and_card_bound,
    |h: Harness| async move {
        let p = holder(0);
        h.active_account(&p, "a@example.com").await;

        // Replay: the same proof twice.
        let proof = h.proof(&p, ProofPurpose::Login).await;
        let body = json!({ "proof": proof, "password": PASSWORD });
        assert_eq!(
            h.post("/api/v1/session", body.clone()).await.status,
            StatusCode::OK
        );
        let r = h.post("/api/v1/session", body).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "nonce_invalid")
        );

        // Relayed from another origin.
        let n = h.nonce(ProofPurpose::Login).await;
        let evil = h.answer(&p.card, "https://evil.example", n);
        let r = h
            .post(
                "/api/v1/session",
                json!({ "proof": evil, "password": PASSWORD }),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "card_proof_invalid")
        );

        // A nonce the server never issued.
        let made_up = h.answer(&p.card, ORIGIN, nhi_protocol::card_proof::Nonce([7; 32]));
        let r = h
            .post(
                "/api/v1/session",
                json!({ "proof": made_up, "password": PASSWORD }),
            )
            .await;
        assert_eq!(r.code(), "nonce_invalid");

        // An expired nonce.
        let n = h.nonce(ProofPurpose::Login).await;
        h.exec("UPDATE card_nonces SET expires_at = 0").await;
        let late = h.answer(&p.card, ORIGIN, n);
        let r = h
            .post(
                "/api/v1/session",
                json!({ "proof": late, "password": PASSWORD }),
            )
            .await;
        assert_eq!(r.code(), "nonce_invalid");

        // Another card's MAC with this card's record.
        let other = holder(1);
        let n = h.nonce(ProofPurpose::Login).await;
        let mut forged = h.answer(&other.card, ORIGIN, n);
        forged.record = h.answer(&p.card, ORIGIN, n).record;
        let r = h
            .post(
                "/api/v1/session",
                json!({ "proof": forged, "password": PASSWORD }),
            )
            .await;
        assert_eq!(r.code(), "card_proof_invalid");

        // One person's household with the proof of another card: the identity is the
        // card's, so the household does not match it (the card data the page sends are gone).
        let mut reg = h.register_body(&other, "x@example.com", PASSWORD).await;
        reg["proof"] = h.proof(&holder(2), ProofPurpose::Register).await;
        reg["card"] = serde_json::to_value(&other.card).expect("json");
        assert_eq!(
            h.post("/api/v1/registrations", reg).await.code(),
            "household_mismatch"
        );
    }
);

both_engines!(
    wrong_passwords_lock_the_card_with_growing_delays,
    |h: Harness| async move {
        let p = holder(4);
        h.active_account(&p, "ruan@example.com").await;
        for i in 1..=4 {
            let r = h.login(&p, "wrong-pass").await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::UNAUTHORIZED, "login_failed"),
                "attempt {i}"
            );
        }
        let r = h.login(&p, "wrong-pass").await;
        assert_eq!((r.status, r.code()), (StatusCode::LOCKED, "account_locked"));
        assert_eq!(r.json["retry_after_seconds"], 60);
        assert_eq!(r.headers[header::RETRY_AFTER], "60");
        // Even the right password is refused while locked.
        let r = h.login(&p, PASSWORD).await;
        assert_eq!(r.code(), "account_locked");
        // After the lock runs out, the next wrong password locks for twice as long.
        h.exec("UPDATE accounts SET locked_until = 1").await;
        let r = h.login(&p, "wrong-pass").await;
        assert_eq!(
            (r.code(), r.json["retry_after_seconds"].as_u64()),
            ("account_locked", Some(120))
        );
        // The lock runs out (and with it, the last failure is older than the lock's base).
        h.exec("UPDATE accounts SET locked_until = 1, last_failed_at = 1")
            .await;
        assert_eq!(h.login(&p, PASSWORD).await.status, StatusCode::OK);
        // A success after a quiet spell resets the counter.
        assert_eq!(h.login(&p, "wrong-pass").await.code(), "login_failed");
        let audit = h.audit_actions().await;
        assert_eq!(
            audit.iter().filter(|a| a.0 == "lockout").count(),
            2,
            "{audit:?}"
        );
    }
);

both_engines!(a_card_registers_only_once, |h: Harness| async move {
    let p = holder(5);
    assert_eq!(
        h.register(&p, "zhang@example.com").await.status,
        StatusCode::ACCEPTED
    );
    let r = h.register(&p, "zhang@example.com").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "registration_pending")
    );
    let t = h.ticket_for("zhang@example.com").await;
    h.confirm(&p, &t).await;
    let r = h.register(&p, "zhang2@example.com").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "already_registered")
    );
    let body =
        json!({ "proof": h.proof(&p, ProofPurpose::Register).await, "household": p.household });
    assert_eq!(
        h.post("/api/v1/registrations/household-check", body)
            .await
            .code(),
        "already_registered"
    );
    assert_eq!(
        h.outbox().await.len(),
        2,
        "no mail for refused registrations"
    );
});

both_engines!(
    concurrent_registrations_of_one_card_accept_exactly_one,
    |h: Harness| async move {
        let p = holder(0);
        let bodies = [
            h.register_body(&p, "one@example.com", PASSWORD).await,
            h.register_body(&p, "two@example.com", PASSWORD).await,
            h.register_body(&p, "three@example.com", PASSWORD).await,
        ];
        let h = std::sync::Arc::new(h);
        let tasks: Vec<_> = bodies
            .into_iter()
            .map(|b| {
                let h = h.clone();
                tokio::spawn(async move { h.post("/api/v1/registrations", b).await.status })
            })
            .collect();
        let mut accepted = 0;
        for t in tasks {
            let s = t.await.expect("task");
            assert!(
                s == StatusCode::ACCEPTED || s == StatusCode::CONFLICT,
                "{s}"
            );
            accepted += usize::from(s == StatusCode::ACCEPTED);
        }
        assert_eq!(accepted, 1);
        assert_eq!(h.outbox().await.len(), 1);
    }
);

both_engines!(
    resend_replaces_the_link_and_answers_the_same_for_everyone,
    |h: Harness| async move {
        let p = holder(2);
        h.register(&p, "lin@example.com").await;
        let old = h.ticket_for("lin@example.com").await;
        // Too soon after the first mail: accepted, but no new mail.
        let r = h
            .post(
                "/api/v1/registrations/resend",
                json!({ "proof": h.proof(&p, ProofPurpose::Resend).await, "email": "lin@example.com" }),
            )
            .await;
        assert_eq!(
            (r.status, r.json.clone()),
            (StatusCode::ACCEPTED, json!({"accepted": true}))
        );
        assert_eq!(h.outbox().await.len(), 1);

        h.exec("UPDATE email_tickets SET created_at = created_at - 3600")
            .await;
        let r = h
            .post(
                "/api/v1/registrations/resend",
                json!({ "proof": h.proof(&p, ProofPurpose::Resend).await, "email": "lin.new@example.com" }),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        let mails = h.outbox().await;
        assert_eq!(mails.len(), 3);
        assert_eq!(mails[1].1, "lin.new@example.com");
        // The old address is told that the card moved the registration to a new address.
        assert_eq!(
            (mails[2].0.as_str(), mails[2].1.as_str()),
            ("address_changed", "lin@example.com")
        );
        assert!(mails[2].2.contains("li***@example.com") && !mails[2].2.contains("ticket="));
        let new = h.ticket_for("lin.new@example.com").await;
        assert_ne!(old, new);
        assert_eq!(
            h.confirm(&p, &old).await.code(),
            "ticket_invalid",
            "the old link stops working"
        );
        assert_eq!(h.confirm(&p, &new).await.status, StatusCode::OK);

        // Unknown person and active account: the very same answer, and no mail.
        let stranger = holder(3);
        let r1 = h
            .post(
                "/api/v1/registrations/resend",
                json!({ "proof": h.proof(&stranger, ProofPurpose::Resend).await, "email": "s@example.com" }),
            )
            .await;
        let r2 = h
            .post(
                "/api/v1/registrations/resend",
                json!({ "proof": h.proof(&p, ProofPurpose::Resend).await, "email": "lin@example.com" }),
            )
            .await;
        assert_eq!((r1.status, &r1.text), (r2.status, &r2.text));
        assert_eq!(
            (r1.status, r1.json),
            (StatusCode::ACCEPTED, json!({"accepted": true}))
        );
        assert_eq!(
            h.outbox().await.len(),
            4,
            "only the completion mail was added"
        );
        let audit = h.audit_actions().await;
        assert!(
            audit.contains(&("resend".into(), "no_account".into())),
            "{audit:?}"
        );
        assert!(audit.contains(&("resend".into(), "too_soon".into())));
    }
);

both_engines!(
    weak_passwords_are_refused_with_reasons,
    |h: Harness| async move {
        let p = holder(0);
        for (pw, problem) in [
            ("abc", "too_short"),
            ("A123456789x", "contains_national_id"),
            ("abcdefghijklmnop", "too_long"),
        ] {
            let body = h.register_body(&p, "a@example.com", pw).await;
            let r = h.post("/api/v1/registrations", body).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::UNPROCESSABLE_ENTITY, "password_rejected"),
                "{pw}"
            );
            let problems: Vec<_> = r.json["password_problems"]
                .as_array()
                .expect("problems")
                .iter()
                .map(|p| p["problem"].clone())
                .collect();
            assert!(problems.contains(&json!(problem)), "{pw}: {problems:?}");
        }
        assert!(h.outbox().await.is_empty());
    }
);

both_engines!(
    stored_password_hashes_are_argon2id_with_the_configured_parameters,
    |h: Harness| async move {
        h.register(&holder(0), "a@example.com").await;
        let row: (String,) = sqlx::query_as("SELECT password_hash FROM accounts")
            .fetch_one(h.app.services.db.pool())
            .await
            .expect("row");
        assert!(
            row.0.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
            "{}",
            row.0
        );
        let tokens: Vec<(String,)> = sqlx::query_as("SELECT token_hash FROM email_tickets")
            .fetch_all(h.app.services.db.pool())
            .await
            .expect("rows");
        let ticket = h.ticket_for("a@example.com").await;
        assert_eq!(tokens.len(), 1);
        assert_ne!(tokens[0].0, ticket, "only the hash is stored");
        assert_eq!(tokens[0].0.len(), 64);
    }
);
