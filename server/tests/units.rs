//! Insured units (F4–F8) through the real router, on SQLite and PostgreSQL: role management
//! and its audit, the upload (file checks, per-row checks, result file, result mail with the
//! attachment), the F6 visibility rule, F7 activation, F8 resend with a new address, and a
//! job interrupted in the middle that resumes without losing or duplicating anything.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{
    bulk_ticket, count, get_as, holder, logged_in, people_csv, raw, request_as, run_jobs,
    sample_people, upload, Harness, Resp, ORIGIN, PASSWORD, UNIT,
};
use nhi_protocol::api::ProofPurpose;
use nhi_server::services::units::generate_people;
use nhi_server::storage::{units as store, uploads};
use nhi_server::workers::bulk_jobs::{BulkWorker, JobOutcome};
use serde_json::json;

fn no_tweak(_: &mut nhi_server::config::Config) {}

async fn set_role(h: &Harness, cookie: &str, id: &str, upload: bool, query: bool) -> Resp {
    request_as(
        h,
        Method::PUT,
        cookie,
        &format!("/api/v1/units/{UNIT}/roles"),
        Some(json!({ "national_id": id, "can_upload": upload, "can_query": query })),
    )
    .await
}

both_engines_with!(
    roles_are_admin_only_and_audited,
    no_tweak,
    |h: Harness| async move {
        let admin = logged_in(&h, 0).await; // 王小明 administers 12345678
        let staff = logged_in(&h, 1).await; // 陳美麗 is insured there
        let r = get_as(&h, &admin, "/api/v1/units").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["units"][0]["unit_code"], UNIT);
        assert_eq!(r.json["units"][0]["is_admin"], true);
        assert_eq!(r.json["name"], "王小明");
        assert_eq!(r.json["email"], "person0@example.com");
        assert_eq!(r.json["login_method"], "nhi_card");
        let r = get_as(&h, &staff, "/api/v1/units").await;
        assert_eq!(r.json["units"].as_array().map(Vec::len), Some(0));
        // No permission yet: no upload, no records, no role management.
        let (status, body, _) = upload(&h, &staff, "a.csv", b"x".to_vec()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["code"], "forbidden");
        assert_eq!(
            get_as(&h, &staff, &format!("/api/v1/units/{UNIT}/uploads"))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            set_role(&h, &staff, "B223456719", true, true).await.status,
            StatusCode::FORBIDDEN
        );
        // Grant, check, revoke.
        let r = set_role(&h, &admin, "B223456719", true, false).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["staff"][0]["name"], "陳美麗");
        assert_eq!(r.json["staff"][0]["can_upload"], true);
        assert_eq!(r.json["staff"][0]["can_query"], false);
        let r = get_as(&h, &staff, "/api/v1/units").await;
        assert_eq!(r.json["units"][0]["can_upload"], true);
        assert_eq!(r.json["units"][0]["is_admin"], false);
        let r = set_role(&h, &admin, "B223456719", false, false).await;
        assert_eq!(r.json["staff"].as_array().map(Vec::len), Some(0));
        let r = get_as(&h, &staff, "/api/v1/units").await;
        assert_eq!(r.json["units"].as_array().map(Vec::len), Some(0));
        // Only people insured in the unit; valid ID numbers only.
        let r = set_role(&h, &admin, "S224680133", true, true).await; // insured elsewhere
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let r = set_role(&h, &admin, "A123456780", true, true).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        // Not logged in.
        assert_eq!(
            h.get("/api/v1/units").await.status,
            StatusCode::UNAUTHORIZED
        );
        let changes = h
            .audit_actions()
            .await
            .into_iter()
            .filter(|(a, _)| a == "unit_role")
            .count();
        assert_eq!(changes, 2, "every change audited");
    }
);

both_engines_with!(
    upload_decides_every_row_and_mails_the_result,
    no_tweak,
    |h: Harness| async move {
        let admin = logged_in(&h, 0).await;
        let _registered = logged_in(&h, 5).await; // 張家豪 has an account already
        let people = sample_people();
        let (a, b, c) = (&people[0], &people[1], &people[2]);
        let mut text = String::from("身分證號,姓名,出生日期,電子信箱,手機\n");
        text.push_str(&format!(
            "{},{},{},a@example.com,0912345678\n",
            a.0, a.1, a.2
        ));
        text.push_str(&format!("{},{},{},b@example.com\n", b.0, b.1, b.2));
        text.push_str(&format!("{},{},{},b2@example.com\n", b.0, b.1, b.2)); // duplicate
        text.push_str(&format!("{},別人,{},c@example.com\n", c.0, c.2)); // name mismatch
        text.push_str("S224680133,黃淑芬,0620228,d@example.com\n"); // insured in another unit
        text.push_str("E102030403,張家豪,0991111,e@example.com\n"); // already registered
        text.push_str("A123456780,錯號,0790101,f@example.com\n"); // bad checksum
        text.push_str("=HYPERLINK(\"x\"),x,0790101,g@example.com\n"); // formula
        text.push_str("A812345671,阮氏芳,0920315,\n"); // no email
        text.push_str("too,few\n");
        // Big5, as Taiwanese spreadsheets export it.
        let (big5, _, unmappable) = encoding_rs::BIG5.encode(&text);
        assert!(!unmappable);
        let (status, body, _) =
            upload(&h, &admin, "%E5%90%8D%E5%96%AE.csv", big5.into_owned()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["encoding"], "big5");
        assert_eq!(body["total_rows"], 10);
        let id = body["upload_id"].as_i64().expect("id");
        run_jobs(&h).await;
        let r = get_as(&h, &admin, &format!("/api/v1/units/{UNIT}/uploads/{id}")).await;
        assert_eq!(r.json["status"], "done", "{}", r.text);
        assert_eq!(r.json["file_name"], "名單.csv");
        assert_eq!(r.json["accepted_rows"], 2);
        assert_eq!(r.json["rejected_rows"], 8);
        let r = get_as(
            &h,
            &admin,
            &format!("/api/v1/units/{UNIT}/uploads/{id}/rows?limit=100"),
        )
        .await;
        let reasons: Vec<(i64, String)> = r.json["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|x| {
                (
                    x["row_number"].as_i64().unwrap_or(0),
                    x["reason"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        let expected: Vec<(i64, String)> = [
            (2, "accepted"),
            (3, "accepted"),
            (4, "duplicate_in_file"),
            (5, "name_mismatch"),
            (6, "not_insured"),
            (7, "already_registered"),
            (8, "invalid_id"),
            (9, "formula_cell"),
            (10, "email_missing"),
            (11, "malformed_line"),
        ]
        .iter()
        .map(|(n, s)| (*n, (*s).to_owned()))
        .collect();
        assert_eq!(reasons, expected);
        // The result file, in Big5 like the upload.
        let req = Request::builder()
            .uri(format!("/api/v1/units/{UNIT}/uploads/{id}/result.txt"))
            .header("cookie", &admin)
            .body(Body::empty())
            .expect("req");
        let (status, _, bytes) = raw(&h, req).await;
        assert_eq!(status, StatusCode::OK);
        let (decoded, _, bad) = encoding_rs::BIG5.decode(&bytes);
        assert!(!bad && decoded.contains("檔案內重複") && decoded.contains("非本投保單位"));
        // Mails: one verification mail per accepted row, one result mail with the file attached.
        let mails = h.outbox().await;
        let activation: Vec<_> = mails.iter().filter(|m| m.0 == "bulk_activation").collect();
        assert_eq!(activation.len(), 2);
        assert!(activation.iter().any(|m| m.1 == "a@example.com"));
        assert!(activation[0].2.contains("/bulk-activate#ticket="));
        assert_eq!(mails.iter().filter(|m| m.0 == "bulk_result").count(), 1);
        h.drain_outbox().await;
        let eml = h
            .mail_files()
            .into_iter()
            .find(|p| p.to_string_lossy().contains("bulk_result"))
            .expect("result mail file");
        let raw_mail = std::fs::read_to_string(eml).expect("eml");
        assert!(
            raw_mail.contains("multipart/mixed") && raw_mail.contains("-result-"),
            "attachment"
        );
        assert!(
            raw_mail.to_ascii_lowercase().contains("charset=big5"),
            "{raw_mail}"
        );
        // Uploading the same people again: now they are pending.
        let (status, body, _) = upload(
            &h,
            &admin,
            "again.csv",
            format!("{},{},{},a@example.com\n", a.0, a.1, a.2).into_bytes(),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        run_jobs(&h).await;
        let id2 = body["upload_id"].as_i64().expect("id");
        let r = get_as(
            &h,
            &admin,
            &format!("/api/v1/units/{UNIT}/uploads/{id2}/rows"),
        )
        .await;
        assert_eq!(r.json["rows"][0]["reason"], "already_pending");
    }
);

both_engines_with!(
    bad_files_are_refused_whole,
    |c: &mut nhi_server::config::Config| c.upload_max_bytes = 2000,
    |h: Harness| async move {
        let admin = logged_in(&h, 0).await;
        let too_big = "A123456789,王小明,0790101,a@example.com\n"
            .repeat(100)
            .into_bytes();
        let (status, body, _) = upload(&h, &admin, "big.csv", too_big).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert_eq!(
            (body["field"].as_str(), body["message"].as_str()),
            (Some("file"), Some("too_large"))
        );
        let (status, body, _) = upload(&h, &admin, "x.csv", vec![0x41, 0x80, 0x80, 0x0A]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["message"], "encoding");
        let (status, body, _) =
            upload(&h, &admin, "x.xls", vec![0xD0, 0xCF, 0x11, 0xE0, 0, 0]).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (StatusCode::BAD_REQUEST, Some("unsupported_type"))
        );
        let (status, body, _) = upload(&h, &admin, "x.xlsx", b"PK\x03\x04broken".to_vec()).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (StatusCode::BAD_REQUEST, Some("unreadable"))
        );
        let (status, body, _) = upload(&h, &admin, "x.csv", b"\n\n".to_vec()).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (StatusCode::BAD_REQUEST, Some("empty"))
        );
        // No anti-CSRF header: refused before anything is read.
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!("/api/v1/units/{UNIT}/uploads"))
            .header(header::ORIGIN, ORIGIN)
            .header("cookie", &admin)
            .body(Body::from("A123456789,王小明,0790101,a@example.com\n"))
            .expect("request");
        let (status, body, _) = raw(&h, req).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("csrf_rejected"))
        );
        assert_eq!(
            count(&h, "SELECT COUNT(*) FROM bulk_uploads").await,
            0,
            "nothing stored"
        );
    }
);

both_engines_with!(
    records_visibility_is_enforced,
    no_tweak,
    |h: Harness| async move {
        let admin = logged_in(&h, 0).await;
        let staff_a = logged_in(&h, 1).await; // 陳美麗 B223456719
        let staff_b = logged_in(&h, 4).await; // 阮氏芳 A812345671
        assert_eq!(
            set_role(&h, &admin, "B223456719", true, true).await.status,
            StatusCode::OK
        );
        assert_eq!(
            set_role(&h, &admin, "A812345671", true, false).await.status,
            StatusCode::OK
        );
        let people = sample_people();
        let line = |i: usize| {
            let p = &people[i];
            format!("{},{},{},p{i}@example.com\n", p.0, p.1, p.2).into_bytes()
        };
        let (s1, b1, _) = upload(&h, &admin, "admin.csv", line(10)).await;
        let (s2, b2, _) = upload(&h, &staff_a, "a.csv", line(11)).await;
        let (s3, b3, _) = upload(&h, &staff_b, "b.csv", line(12)).await;
        assert_eq!(
            (s1, s2, s3),
            (
                StatusCode::ACCEPTED,
                StatusCode::ACCEPTED,
                StatusCode::ACCEPTED
            )
        );
        run_jobs(&h).await;
        let names = |r: &Resp| -> Vec<String> {
            r.json["uploads"]
                .as_array()
                .expect("uploads")
                .iter()
                .map(|u| u["file_name"].as_str().unwrap_or("").to_owned())
                .collect()
        };
        let path = format!("/api/v1/units/{UNIT}/uploads");
        assert_eq!(
            names(&get_as(&h, &admin, &path).await),
            ["b.csv", "a.csv", "admin.csv"]
        );
        assert_eq!(names(&get_as(&h, &staff_a, &path).await), ["a.csv"]);
        // Upload permission without query: no records …
        assert_eq!(
            names(&get_as(&h, &staff_b, &path).await),
            Vec::<String>::new()
        );
        // … but the uploader's own progress; never another's upload.
        let own = b3["upload_id"].as_i64().expect("id");
        let other = b1["upload_id"].as_i64().expect("id");
        assert_eq!(
            get_as(&h, &staff_b, &format!("{path}/{own}")).await.status,
            StatusCode::OK
        );
        assert_eq!(
            get_as(&h, &staff_b, &format!("{path}/{other}"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get_as(&h, &staff_a, &format!("{path}/{other}/rows"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get_as(&h, &staff_a, &format!("{path}/{other}/result.txt"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let a_id = b2["upload_id"].as_i64().expect("id");
        assert_eq!(
            get_as(&h, &admin, &format!("{path}/{a_id}/rows"))
                .await
                .status,
            StatusCode::OK
        );
        // The rule is the SQL's: the storage query itself filters.
        let mut conn = h.app.services.db.conn().await.expect("conn");
        let seen = uploads::visible_uploads(&mut conn, UNIT, "B223456719")
            .await
            .expect("sql");
        assert_eq!(seen.len(), 1);
        let seen = uploads::visible_uploads(&mut conn, UNIT, "A123456789")
            .await
            .expect("sql");
        assert_eq!(seen.len(), 3);
        let seen = uploads::visible_uploads(&mut conn, UNIT, "A812345671")
            .await
            .expect("sql");
        assert_eq!(seen.len(), 0);
    }
);

async fn activate(h: &Harness, i: usize, ticket: &str, password: &str) -> Resp {
    let p = holder(i);
    h.post(
        "/api/v1/bulk-registrations/activate",
        json!({ "ticket": ticket, "proof": h.proof(&p, ProofPurpose::Activate).await, "password": password }),
    )
    .await
}

both_engines_with!(
    activation_and_resend,
    |c: &mut nhi_server::config::Config| c.resend_interval_seconds = 0,
    |h: Harness| async move {
        let admin = logged_in(&h, 0).await;
        let csv = "B223456719,陳美麗,0851225,mei@example.com\nA812345671,阮氏芳,0920315,fang@example.com,0912345678\n";
        let (status, body, _) = upload(&h, &admin, "people.csv", csv.as_bytes().to_vec()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        run_jobs(&h).await;
        let mails = h.outbox().await;
        let t_mei = bulk_ticket(&mails, "mei@example.com");
        // Someone else's card.
        let r = activate(&h, 4, &t_mei, PASSWORD).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "wrong_card"),
            "{}",
            r.text
        );
        // Same password policy as F1.
        let r = activate(&h, 1, &t_mei, "abc").await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "password_rejected")
        );
        let r = activate(&h, 1, &t_mei, PASSWORD).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["status"], "active");
        let r = activate(&h, 1, &t_mei, PASSWORD).await;
        assert_eq!(r.code(), "ticket_invalid", "single use");
        assert_eq!(h.login(&holder(1), PASSWORD).await.status, StatusCode::OK);
        let mails = h.outbox().await;
        assert!(mails
            .iter()
            .any(|m| m.0 == "completion" && m.1 == "mei@example.com"));
        // F8: a new address; the old link stops working.
        let t_fang = bulk_ticket(&mails, "fang@example.com");
        let p = holder(4);
        let r = h
            .post(
                "/api/v1/bulk-registrations/resend",
                json!({ "proof": h.proof(&p, ProofPurpose::Resend).await, "email": "fang.new@example.com" }),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
        let mails = h.outbox().await;
        let t_new = bulk_ticket(&mails, "fang.new@example.com");
        // The old address hears that the card moved the registration to a new one.
        assert!(mails
            .iter()
            .any(|m| m.0 == "address_changed" && m.1 == "fang@example.com"));
        assert_eq!(
            activate(&h, 4, &t_fang, PASSWORD).await.code(),
            "ticket_invalid"
        );
        // Expired after 5 days.
        h.exec("UPDATE bulk_registrants SET expires_at = 1 WHERE national_id = 'A812345671'")
            .await;
        assert_eq!(
            activate(&h, 4, &t_new, PASSWORD).await.code(),
            "ticket_expired"
        );
        // Resend after expiry works, and the new link activates.
        let r = h
            .post(
                "/api/v1/bulk-registrations/resend",
                json!({ "proof": h.proof(&p, ProofPurpose::Resend).await, "email": "fang.new@example.com" }),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        let t_last = bulk_ticket(&h.outbox().await, "fang.new@example.com");
        assert_ne!(t_last, t_new);
        let r = activate(&h, 4, &t_last, PASSWORD).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        // Resend for nobody pending: the same answer.
        let r = h
            .post(
                "/api/v1/bulk-registrations/resend",
                json!({ "proof": h.proof(&holder(3), ProofPurpose::Resend).await, "email": "x@example.com" }),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        let actions = h.audit_actions().await;
        assert!(actions.contains(&("bulk_activation".into(), "activated".into())));
        assert!(actions.contains(&("bulk_activation".into(), "wrong_card".into())));
    }
);

both_engines_with!(
    interrupted_job_resumes_without_loss_or_duplicates,
    |c: &mut nhi_server::config::Config| c.bulk_chunk_rows = 250,
    |h: Harness| async move {
        let admin = logged_in(&h, 0).await;
        // A bigger unit: 2,000 generated people insured in 12345678.
        let people = generate_people(42, 2000);
        {
            let mut conn = h.app.services.db.conn().await.expect("conn");
            store::insert_insured(&mut conn, UNIT, &people)
                .await
                .expect("insured");
        }
        let csv = people_csv(&people, "u");
        let (status, body, _) = upload(&h, &admin, "big.csv", csv.into_bytes()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let id = body["upload_id"].as_i64().expect("id");
        // Worker A: three chunks, then it "crashes" (stops without releasing its lease).
        let a = BulkWorker::new(h.app.services.clone());
        assert_eq!(a.claim().await.expect("claim"), Some(id));
        assert_eq!(a.process(id, Some(3)).await.expect("a"), JobOutcome::Paused);
        let b = BulkWorker::new(h.app.services.clone());
        assert_eq!(
            b.claim().await.expect("claim"),
            None,
            "the lease still holds"
        );
        let r = get_as(&h, &admin, &format!("/api/v1/units/{UNIT}/uploads/{id}")).await;
        assert_eq!(
            r.json["processed_rows"], 750,
            "progress is live: {}",
            r.text
        );
        // The lease runs out; worker B (another instance, or the restarted one) resumes.
        h.exec("UPDATE bulk_uploads SET claimed_until = 1").await;
        assert_eq!(b.claim().await.expect("claim"), Some(id));
        // The old worker wakes up: its fence fails, it changes nothing.
        assert_eq!(
            a.process(id, None).await.expect("a again"),
            JobOutcome::LostLease
        );
        assert_eq!(b.process(id, None).await.expect("b"), JobOutcome::Done);
        assert_eq!(count(&h, "SELECT COUNT(*) FROM bulk_rows").await, 2000);
        assert_eq!(
            count(&h, "SELECT COUNT(DISTINCT row_number) FROM bulk_rows").await,
            2000
        );
        assert_eq!(
            count(&h, "SELECT COUNT(*) FROM bulk_registrants").await,
            2000
        );
        assert_eq!(
            count(
                &h,
                "SELECT COUNT(*) FROM outbox WHERE kind = 'bulk_activation'"
            )
            .await,
            2000
        );
        assert_eq!(
            count(
                &h,
                "SELECT COUNT(DISTINCT recipient) FROM outbox WHERE kind = 'bulk_activation'"
            )
            .await,
            2000
        );
        assert_eq!(
            count(&h, "SELECT COUNT(*) FROM outbox WHERE kind = 'bulk_result'").await,
            1
        );
        let r = get_as(&h, &admin, &format!("/api/v1/units/{UNIT}/uploads/{id}")).await;
        assert_eq!(
            (r.json["accepted_rows"].as_i64(), r.json["status"].as_str()),
            (Some(2000), Some("done"))
        );
        // Nothing left to claim; a late finish cannot queue a second result mail.
        assert_eq!(b.claim().await.expect("claim"), None);
    }
);

/// A minimal .xlsx (inline strings; numbers where spreadsheets store numbers).
fn xlsx(rows: &[[&str; 5]]) -> Vec<u8> {
    use std::io::Write as _;
    let mut sheet = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>",
    );
    for (r, row) in rows.iter().enumerate() {
        sheet.push_str(&format!("<row r=\"{}\">", r + 1));
        for (c, cell) in row.iter().enumerate() {
            let col = (b'A' + c as u8) as char;
            if !cell.is_empty() && cell.bytes().all(|b| b.is_ascii_digit()) {
                // Birth date and mobile typed as numbers: the leading zero is lost.
                sheet.push_str(&format!(
                    "<c r=\"{col}{}\"><v>{}</v></c>",
                    r + 1,
                    cell.trim_start_matches('0')
                ));
            } else {
                sheet.push_str(&format!(
                    "<c r=\"{col}{}\" t=\"inlineStr\"><is><t>{cell}</t></is></c>",
                    r + 1
                ));
            }
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");
    let files = [
        ("[Content_Types].xml", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/><Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/></Types>".to_owned()),
        ("_rels/.rels", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>".to_owned()),
        ("xl/workbook.xml", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets><sheet name=\"Sheet1\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>".to_owned()),
        ("xl/_rels/workbook.xml.rels", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/></Relationships>".to_owned()),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in files {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("zip entry");
        zip.write_all(body.as_bytes()).expect("zip write");
    }
    zip.finish().expect("zip").into_inner()
}

both_engines_with!(xlsx_uploads_are_read, no_tweak, |h: Harness| async move {
    let admin = logged_in(&h, 0).await;
    let people = sample_people();
    let (a, b) = (&people[20], &people[21]);
    let file = xlsx(&[
        ["身分證號", "姓名", "出生日期", "電子信箱", "手機"],
        [&a.0, &a.1, &a.2, "xa@example.com", "0912345678"],
        [&b.0, &b.1, &b.2, "=1+1", ""],
    ]);
    let (status, body, _) = upload(&h, &admin, "list.xlsx", file).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["encoding"], "xlsx");
    assert_eq!(body["total_rows"], 2);
    let id = body["upload_id"].as_i64().expect("id");
    run_jobs(&h).await;
    let r = get_as(
        &h,
        &admin,
        &format!("/api/v1/units/{UNIT}/uploads/{id}/rows"),
    )
    .await;
    assert_eq!(r.json["rows"][0]["reason"], "accepted", "{}", r.text);
    assert_eq!(r.json["rows"][0]["row_number"], 2);
    assert_eq!(r.json["rows"][1]["reason"], "formula_cell");
});

both_engines_with!(
    concurrent_workers_claim_different_jobs,
    no_tweak,
    |h: Harness| async move {
        let admin = logged_in(&h, 0).await;
        let people = sample_people();
        for i in 0..4 {
            let p = &people[30 + i];
            let line = format!("{},{},{},w{i}@example.com\n", p.0, p.1, p.2);
            let (status, body, _) = upload(&h, &admin, "w.csv", line.into_bytes()).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        }
        // Four instances claim at the same moment: each job goes to at most one of them.
        let workers: Vec<BulkWorker> = (0..4)
            .map(|_| BulkWorker::new(h.app.services.clone()))
            .collect();
        let claims = futures_claims(&workers).await;
        let mut got: Vec<i64> = claims.iter().flatten().copied().collect();
        let n = got.len();
        got.sort_unstable();
        got.dedup();
        assert_eq!(got.len(), n, "no job claimed twice");
        assert!(n >= 1);
        // Each finishes what it claimed; the rest is claimed in the next rounds.
        for (w, c) in workers.iter().zip(&claims) {
            if let Some(id) = c {
                assert_eq!(
                    w.process(*id, None).await.expect("process"),
                    JobOutcome::Done
                );
            }
        }
        for w in &workers {
            while w.tick().await.expect("tick") {}
        }
        // Another worker cannot finish a finished job again (no second result mail).
        for (i, c) in claims.iter().enumerate() {
            if let Some(id) = c {
                let other = &workers[(i + 1) % workers.len()];
                assert_eq!(
                    other.process(*id, None).await.expect("late"),
                    JobOutcome::LostLease
                );
            }
        }
        assert_eq!(
            count(
                &h,
                "SELECT COUNT(*) FROM bulk_uploads WHERE status = 'done'"
            )
            .await,
            4
        );
        assert_eq!(
            count(&h, "SELECT COUNT(*) FROM outbox WHERE kind = 'bulk_result'").await,
            4
        );
    }
);

async fn futures_claims(workers: &[BulkWorker]) -> Vec<Option<i64>> {
    let handles: Vec<_> = workers
        .iter()
        .cloned()
        .map(|w| tokio::spawn(async move { w.claim().await.expect("claim") }))
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("join"));
    }
    out
}
