//! The records page's row results (F6 「查看各列結果」) on a large upload, on SQLite and
//! PostgreSQL: server-side pages of a bounded size, every row exactly once across the pages,
//! a failures-only filter, the total and the position of the page in every answer, and the
//! page claims (`offset`, `limit`, `failed_only`) clamped or refused — never trusted; another
//! unit's upload stays 404 and a unit one does not belong to 403, whatever the paging asks.

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::{count, get_as, logged_in, people_csv, run_jobs, upload, Harness, Resp, UNIT};
use nhi_protocol::units::{ROWS_PAGE_DEFAULT, ROWS_PAGE_MAX};
use nhi_server::services::units::generate_people;
use nhi_server::storage::{units as store, uploads};

/// Rows in the file; every `FAIL_EVERY`-th has a wrong name (a refused row).
const ROWS: i64 = 2_345;
const FAIL_EVERY: i64 = 9;

fn no_tweak(_: &mut nhi_server::config::Config) {}

fn row_numbers(r: &Resp) -> Vec<i64> {
    r.json["rows"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["row_number"].as_i64()).collect())
        .unwrap_or_default()
}

fn page_of(r: &Resp) -> (i64, i64, i64, i64, usize) {
    let n = |k: &str| r.json[k].as_i64().unwrap_or(-1);
    (
        n("total"),
        n("matching"),
        n("offset"),
        n("limit"),
        r.json["rows"].as_array().map_or(0, Vec::len),
    )
}

/// A generated unit of [`ROWS`] people, their upload (every [`FAIL_EVERY`]-th name wrong),
/// decided by the worker; the admin's cookie, the upload id and the refused row numbers.
async fn big_upload(h: &Harness) -> (String, i64, BTreeSet<i64>) {
    let admin = logged_in(h, 0).await;
    let mut people = generate_people(17, usize::try_from(ROWS).expect("rows"));
    {
        let mut conn = h.app.services.db.conn().await.expect("conn");
        store::insert_insured(&mut conn, UNIT, &people)
            .await
            .expect("insured");
    }
    let mut refused = BTreeSet::new();
    for (i, p) in people.iter_mut().enumerate() {
        let row = i64::try_from(i).expect("row") + 1;
        if row % FAIL_EVERY == 0 {
            p.name = "別人".into();
            refused.insert(row);
        }
    }
    let csv = people_csv(&people, "p");
    let (status, body, _) = upload(h, &admin, "big.csv", csv.into_bytes()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["upload_id"].as_i64().expect("id");
    run_jobs(h).await;
    let r = get_as(h, &admin, &format!("/api/v1/units/{UNIT}/uploads/{id}")).await;
    assert_eq!(r.json["status"], "done", "{}", r.text);
    assert_eq!(r.json["processed_rows"], ROWS);
    assert_eq!(
        r.json["rejected_rows"].as_i64(),
        i64::try_from(refused.len()).ok()
    );
    (admin, id, refused)
}

both_engines_with!(
    row_results_come_in_bounded_pages_with_a_failures_filter,
    no_tweak,
    |h: Harness| async move {
        let (admin, id, refused) = big_upload(&h).await;
        let failed = i64::try_from(refused.len()).expect("n");
        let rows = |q: String| {
            let (h, admin) = (&h, &admin);
            async move {
                get_as(
                    h,
                    admin,
                    &format!("/api/v1/units/{UNIT}/uploads/{id}/rows{q}"),
                )
                .await
            }
        };

        // No claims: the first page of the default size, and where it is.
        let r = rows(String::new()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            page_of(&r),
            (ROWS, ROWS, 0, ROWS_PAGE_DEFAULT, 100),
            "{}",
            r.text
        );
        assert_eq!(r.json["failed_only"], false);
        assert_eq!(row_numbers(&r), (1..=100).collect::<Vec<_>>());

        // Every row exactly once, in order, across pages of the largest size.
        let mut seen = Vec::new();
        let mut offset = 0;
        let mut pages = 0;
        loop {
            let r = rows(format!("?offset={offset}&limit={ROWS_PAGE_MAX}")).await;
            assert_eq!(r.json["offset"], offset, "{}", r.text);
            seen.extend(row_numbers(&r));
            pages += 1;
            offset += ROWS_PAGE_MAX;
            if offset >= ROWS {
                break;
            }
        }
        assert_eq!(pages, 5);
        assert_eq!(seen, (1..=ROWS).collect::<Vec<_>>());

        // The boundaries: the last partial page; at or past the end → the last page; an
        // unaligned offset is kept; a negative one is 0.
        let r = rows("?offset=2300&limit=100".into()).await;
        assert_eq!(page_of(&r), (ROWS, ROWS, 2300, 100, 45));
        assert_eq!(row_numbers(&r).last(), Some(&ROWS));
        for past in ["2345", "2346", "999999999999", "9223372036854775807"] {
            let r = rows(format!("?offset={past}&limit=100")).await;
            assert_eq!(page_of(&r), (ROWS, ROWS, 2300, 100, 45), "offset={past}");
        }
        let r = rows("?offset=2344&limit=1".into()).await;
        assert_eq!(row_numbers(&r), [ROWS]);
        let r = rows("?offset=7&limit=3".into()).await;
        assert_eq!(row_numbers(&r), [8, 9, 10]);
        let r = rows("?offset=-50&limit=2".into()).await;
        assert_eq!(page_of(&r), (ROWS, ROWS, 0, 2, 2));

        // The page size is a claim: clamped to 1..=ROWS_PAGE_MAX.
        for (asked, used) in [
            ("0", 1),
            ("-9", 1),
            ("501", ROWS_PAGE_MAX),
            ("100000000", ROWS_PAGE_MAX),
        ] {
            let r = rows(format!("?limit={asked}")).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            assert_eq!(r.json["limit"], used, "limit={asked}");
            assert_eq!(
                r.json["rows"].as_array().map(Vec::len),
                usize::try_from(used).ok(),
                "limit={asked}"
            );
        }
        // Not numbers, not a boolean, or said twice: refused, naming the claim.
        for (q, field) in [
            ("?limit=abc", "limit"),
            ("?limit=1e3", "limit"),
            ("?offset=1.5", "offset"),
            ("?offset=99999999999999999999", "offset"),
            ("?failed_only=maybe", "failed_only"),
            ("?limit=5&limit=500", "limit"),
        ] {
            let r = rows(q.into()).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {}", r.text);
            assert_eq!(r.code(), "bad_request", "{q}");
            assert_eq!(r.json["field"], field, "{q}: {}", r.text);
        }

        // Failures only: the refused rows, counted and paged among themselves.
        let r = rows("?failed_only=true".into()).await;
        assert_eq!(page_of(&r), (ROWS, failed, 0, 100, 100), "{}", r.text);
        assert_eq!(r.json["failed_only"], true);
        let reasons: BTreeSet<&str> = r.json["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .filter_map(|x| x["reason"].as_str())
            .collect();
        assert_eq!(reasons, BTreeSet::from(["name_mismatch"]));
        let mut got = BTreeSet::new();
        let mut offset = 0;
        while offset < failed {
            let r = rows(format!("?failed_only=true&offset={offset}&limit=100")).await;
            for n in row_numbers(&r) {
                assert!(got.insert(n), "row {n} twice");
            }
            offset += 100;
        }
        assert_eq!(got, refused);
        // Its last page, and past it.
        let last = (failed - 1) / 100 * 100;
        let r = rows(format!("?failed_only=1&offset={}", failed + 5)).await;
        assert_eq!(
            page_of(&r),
            (
                ROWS,
                failed,
                last,
                100,
                usize::try_from(failed - last).expect("n")
            ),
            "{}",
            r.text
        );
        let r = rows("?failed_only=false&limit=3".into()).await;
        assert_eq!(row_numbers(&r), [1, 2, 3]);

        // Nothing refused in an upload: failures only is an empty first page, not an error.
        let fresh = generate_people(99, 3);
        {
            let mut conn = h.app.services.db.conn().await.expect("conn");
            store::insert_insured(&mut conn, UNIT, &fresh)
                .await
                .expect("insured");
        }
        let clean = people_csv(&fresh, "clean");
        let (status, body, _) = upload(&h, &admin, "clean.csv", clean.into_bytes()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let clean_id = body["upload_id"].as_i64().expect("id");
        run_jobs(&h).await;
        let r = get_as(
            &h,
            &admin,
            &format!("/api/v1/units/{UNIT}/uploads/{clean_id}/rows?failed_only=true&offset=40"),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(page_of(&r), (3, 0, 0, 100, 0), "{}", r.text);
    }
);

both_engines_with!(
    paging_claims_do_not_open_another_units_upload,
    no_tweak,
    |h: Harness| async move {
        let admin = logged_in(&h, 0).await; // 王小明, admin of 12345678 only
                                            // An upload of another unit (23456789), stored directly.
        let other = {
            let mut conn = h.app.services.db.conn().await.expect("conn");
            uploads::insert_upload(
                &mut conn,
                &uploads::NewUpload {
                    unit_code: "23456789",
                    uploader_national_id: "F135792464",
                    uploader_name: "林志豪",
                    uploader_email: "lin@example.com",
                    file_name: "other.csv",
                    file_kind: "csv",
                    encoding: "utf8",
                    content: b"x",
                    total_rows: 1,
                },
                1,
            )
            .await
            .expect("insert")
        };
        assert_eq!(count(&h, "SELECT COUNT(*) FROM bulk_uploads").await, 1);
        for q in ["", "?failed_only=true", "?offset=0&limit=500", "?limit=abc"] {
            // Through the admin's own unit: not found (not "forbidden": no hint it exists);
            // a malformed claim may be refused first, it says nothing of the upload either.
            let r = get_as(
                &h,
                &admin,
                &format!("/api/v1/units/{UNIT}/uploads/{other}/rows{q}"),
            )
            .await;
            let expected = if q.contains("abc") {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::NOT_FOUND
            };
            assert_eq!(r.status, expected, "{q}: {}", r.text);
            // … and through its own unit: forbidden, before any claim is read.
            let r = get_as(
                &h,
                &admin,
                &format!("/api/v1/units/23456789/uploads/{other}/rows{q}"),
            )
            .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{q}: {}", r.text);
            // Not logged in: 401.
            let r = h
                .get(&format!("/api/v1/units/{UNIT}/uploads/{other}/rows{q}"))
                .await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{q}: {}", r.text);
        }
    }
);

/// The size of the upload (134k rows; a failure every 9th), its decisions stored
/// directly (no worker), on both engines: how long the first page, a middle page, the last
/// page and the failures-only last page take through the router. A measurement, not run
/// by default: `cargo test -p nhi-server --test upload_records -- --ignored --nocapture`.
#[cfg(test)]
mod measure {
    use super::*;
    use std::time::Instant;

    const BIG: i64 = 134_000;

    both_engines_with!(
        #[ignore = "a measurement: run with --ignored --nocapture"]
        pages_of_a_134k_row_upload,
        no_tweak,
        |h: Harness| async move {
            let admin = logged_in(&h, 0).await;
            let mut conn = h.app.services.db.conn().await.expect("conn");
            let id = uploads::insert_upload(
                &mut conn,
                &uploads::NewUpload {
                    unit_code: UNIT,
                    uploader_national_id: "A123456789",
                    uploader_name: "王小明",
                    uploader_email: "person0@example.com",
                    file_name: "big.csv",
                    file_kind: "csv",
                    encoding: "utf8",
                    content: b"x",
                    total_rows: BIG,
                },
                1,
            )
            .await
            .expect("upload");
            let t = Instant::now();
            let rows: Vec<(i64, bool)> = (1..=BIG).map(|n| (n, n % FAIL_EVERY != 0)).collect();
            for chunk in rows.chunks(5_000) {
                let decisions: Vec<uploads::NewDecision<'_>> = chunk
                    .iter()
                    .map(|&(n, ok)| uploads::NewDecision {
                        row_number: n,
                        national_id: "A123456789",
                        name: "王小明",
                        email: "x@example.com",
                        accepted: ok,
                        reason: if ok { "accepted" } else { "name_mismatch" },
                    })
                    .collect();
                uploads::insert_decisions(&mut conn, id, &decisions)
                    .await
                    .expect("decisions");
            }
            drop(conn);
            let failed = BIG / FAIL_EVERY;
            h.exec(&format!(
                "UPDATE bulk_uploads SET status = 'done', processed_rows = {BIG}, \
                 accepted_rows = {}, rejected_rows = {failed} WHERE id = {id}",
                BIG - failed
            ))
            .await;
            eprintln!(
                "{:?}: {BIG} decisions stored in {:?}",
                h.engine,
                t.elapsed()
            );
            for q in [
                "?offset=0&limit=100".to_owned(),
                "?offset=67000&limit=100".to_owned(),
                format!("?offset={BIG}&limit=100"),
                "?failed_only=true&offset=0&limit=100".to_owned(),
                format!("?failed_only=true&offset={BIG}&limit=100"),
            ] {
                let t = Instant::now();
                let r = get_as(
                    &h,
                    &admin,
                    &format!("/api/v1/units/{UNIT}/uploads/{id}/rows{q}"),
                )
                .await;
                let took = t.elapsed();
                assert_eq!(r.status, StatusCode::OK, "{}", r.text);
                eprintln!("{:?} {q}: {took:?} → {:?}", h.engine, page_of(&r));
            }
        }
    );
}
