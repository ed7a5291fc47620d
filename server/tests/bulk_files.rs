//! Bulk registration files as offices make them (issue 17), through the real router, on
//! SQLite and PostgreSQL: cp950 with user-defined characters (造字) accepted, matched against
//! the insurance record and echoed back byte for byte; encoding refusals with the line;
//! binary files refused as not text; an .xlsx with a title row, date cells and a second
//! sheet; the result mail over `bulk_result_mail_max_bytes` (compressed, or a link only).

mod common;

use std::io::Read as _;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{count, get_as, logged_in, raw, run_jobs, sample_people, upload, Harness, UNIT};

fn no_tweak(_: &mut nhi_server::config::Config) {}

/// cp950 bytes of `text` (no user-defined characters in it).
fn big5(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::BIG5.encode(text);
    assert!(!unmappable, "{text}");
    bytes.into_owned()
}

/// The reasons of an upload's rows, in order.
async fn reasons(h: &Harness, cookie: &str, id: i64) -> Vec<(i64, String, String)> {
    let r = get_as(
        h,
        cookie,
        &format!("/api/v1/units/{UNIT}/uploads/{id}/rows?limit=1000"),
    )
    .await;
    r.json["rows"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|x| {
                    (
                        x["row_number"].as_i64().unwrap_or(0),
                        x["name"].as_str().unwrap_or("").to_owned(),
                        x["reason"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn result_file(h: &Harness, cookie: &str, id: i64) -> Vec<u8> {
    let req = Request::builder()
        .uri(format!("/api/v1/units/{UNIT}/uploads/{id}/result.txt"))
        .header("cookie", cookie)
        .body(Body::empty())
        .expect("req");
    let (status, _, bytes) = raw(h, req).await;
    assert_eq!(status, StatusCode::OK);
    bytes
}

/// The attachments (name, content type, content) of the only result mail.
async fn result_attachments(h: &Harness) -> (String, Vec<(String, String, Vec<u8>)>) {
    let (id, text): (i64, String) =
        sqlx::query_as("SELECT id, text_body FROM outbox WHERE kind = 'bulk_result'")
            .fetch_one(h.app.services.db.pool())
            .await
            .expect("one result mail");
    let mut conn = h.app.services.db.conn().await.expect("conn");
    let files = nhi_server::storage::outbox::attachments(&mut conn, id)
        .await
        .expect("attachments");
    (text, files)
}

both_engines_with!(
    big5_user_defined_characters_are_accepted_matched_and_echoed,
    no_tweak,
    |h: Harness| async move {
        let admin = logged_in(&h, 0).await;
        let people = sample_people();
        let (a, b, c) = (&people[0], &people[1], &people[2]);
        // Each name's second character replaced by a user-defined code (b: 0xFA40, c: 0xFA41);
        // a: its first character and 0xFA40 only (one character short).
        let split = |name: &str| {
            let mut chars = name.chars();
            let first = chars.next().map(String::from).unwrap_or_default();
            chars.next();
            (first, chars.collect::<String>())
        };
        let (b_first, b_rest) = split(&b.1);
        let (c_first, c_rest) = split(&c.1);
        let (a_first, _) = split(&a.1);
        assert!(a.1.chars().count() >= 3);
        let mut file = big5("身分證號,姓名,出生日期,電子信箱\r\n");
        let pua_line = |id: &str, first: &str, code: &[u8], last: &str, birth: &str, mail: &str| {
            let mut line = big5(&format!("{id},{first}"));
            line.extend_from_slice(code);
            line.extend_from_slice(&big5(&format!("{last},{birth},{mail}\r\n")));
            line
        };
        let b_line = pua_line(&b.0, &b_first, b"\xFA\x40", &b_rest, &b.2, "b@example.com");
        file.extend_from_slice(&b_line);
        file.extend_from_slice(&pua_line(
            &c.0,
            &c_first,
            b"\xFA\x41",
            &c_rest,
            &c.2,
            "c@example.com",
        ));
        file.extend_from_slice(&pua_line(
            &a.0,
            &a_first,
            b"\xFA\x40",
            "",
            &a.2,
            "a@example.com",
        ));
        let (status, body, _) = upload(&h, &admin, "eudc.csv", file).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["encoding"], "big5");
        let id = body["upload_id"].as_i64().expect("id");
        run_jobs(&h).await;
        let b_name = format!("{b_first}\u{E000}{b_rest}");
        assert_eq!(
            reasons(&h, &admin, id).await,
            vec![
                (2, b_name.clone(), "accepted".to_owned()),
                (
                    3,
                    format!("{c_first}\u{E001}{c_rest}"),
                    "accepted".to_owned()
                ),
                (4, format!("{a_first}\u{E000}"), "name_mismatch".to_owned()),
            ]
        );
        // Stored as the PUA character (the registrant's name as uploaded).
        let (stored,): (String,) =
            sqlx::query_as("SELECT name FROM bulk_registrants WHERE national_id = $1")
                .bind(&b.0)
                .fetch_one(h.app.services.db.pool())
                .await
                .expect("registrant");
        assert_eq!(stored, b_name);
        // The result file gives the name back with its cp950 code, and no HTML entity.
        let out = result_file(&h, &admin, id).await;
        let mut name = big5(&b_first);
        name.extend_from_slice(b"\xFA\x40");
        name.extend_from_slice(&big5(&b_rest));
        assert!(b_line.windows(name.len()).any(|w| w == name));
        assert!(
            out.windows(name.len()).any(|w| w == name.as_slice()),
            "{out:02X?}"
        );
        assert!(!out.windows(2).any(|w| w == b"&#"));
    }
);

both_engines_with!(
    refusals_name_the_line_and_binary_files_are_not_text,
    no_tweak,
    |h: Harness| async move {
        let admin = logged_in(&h, 0).await;
        // A UTF-8 BOM in front of Big5 bytes: refused whole, at the first Big5 line.
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice("身分證號,姓名,出生日期,電子信箱\r\n".as_bytes());
        bom.extend_from_slice(&big5("A123456789,王小明,0790101,a@example.com\r\n"));
        let (status, body, _) = upload(&h, &admin, "bom.csv", bom).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            (
                body["field"].as_str(),
                body["message"].as_str(),
                body["line"].as_u64()
            ),
            (Some("file"), Some("encoding"), Some(2))
        );
        // Neither UTF-8 nor cp950 at line 3.
        let bad =
            b"A123456789,x,0790101,a@example.com\n\nB223456719,\x80\x80,0851225,b@example.com\n";
        let (status, body, _) = upload(&h, &admin, "bad.csv", bad.to_vec()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            (body["message"].as_str(), body["line"].as_u64()),
            (Some("encoding"), Some(3))
        );
        // A PNG renamed .csv.
        let png = b"\x89PNG\r\n\x1A\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
        let (status, body, _) = upload(&h, &admin, "photo.csv", png).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            (body["message"].as_str(), body.get("line")),
            (Some("not_text"), None)
        );
        assert_eq!(
            count(&h, "SELECT COUNT(*) FROM bulk_uploads").await,
            0,
            "nothing stored"
        );
    }
);

/// A workbook: sheet 1 「說明」 (a note), sheet 2 「名單」 with a merged title, the header,
/// and the people with their birth dates as Excel dates (style 1: built-in format 14).
fn office_workbook(people: &[(String, String, String)]) -> Vec<u8> {
    use std::io::Write as _;
    let ns = "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"";
    let text = |r: &str, t: &str| format!("<c r=\"{r}\" t=\"inlineStr\"><is><t>{t}</t></is></c>");
    let mut list = format!("<?xml version=\"1.0\"?><worksheet {ns}><sheetData>");
    list.push_str(&format!(
        "<row r=\"1\">{}</row>",
        text("A1", "好健康股份有限公司 員工名冊")
    ));
    list.push_str(&format!(
        "<row r=\"2\">{}{}{}{}</row>",
        text("A2", "身分證號"),
        text("B2", "姓名"),
        text("C2", "出生日期"),
        text("D2", "電子信箱")
    ));
    for (i, (id, name, birth)) in people.iter().enumerate() {
        let r = i + 3;
        // ROC yyyMMdd → the Excel serial of that day (1900 system).
        let (y, m, d) = (
            birth[..3].parse::<i64>().unwrap_or(0) + 1911,
            birth[3..5].parse::<i64>().unwrap_or(0),
            birth[5..7].parse::<i64>().unwrap_or(0),
        );
        let serial = days_from_civil(y, m, d) - days_from_civil(1899, 12, 30);
        list.push_str(&format!(
            "<row r=\"{r}\">{}{}<c r=\"C{r}\" s=\"1\"><v>{serial}</v></c>{}</row>",
            text(&format!("A{r}"), id),
            text(&format!("B{r}"), name),
            text(&format!("D{r}"), &format!("p{i}@example.com")),
        ));
    }
    list.push_str(
        "</sheetData><mergeCells count=\"1\"><mergeCell ref=\"A1:D1\"/></mergeCells></worksheet>",
    );
    let notes = format!(
        "<?xml version=\"1.0\"?><worksheet {ns}><sheetData><row r=\"1\">{}</row></sheetData></worksheet>",
        text("A1", "每列一人，出生日期可填日期")
    );
    let parts: Vec<(&str, String)> = vec![
        ("[Content_Types].xml", "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/></Types>".into()),
        ("_rels/.rels", "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>".into()),
        ("xl/workbook.xml", format!("<?xml version=\"1.0\"?><workbook {ns} xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets><sheet name=\"說明\" sheetId=\"1\" r:id=\"rId1\"/><sheet name=\"名單\" sheetId=\"2\" r:id=\"rId2\"/></sheets></workbook>")),
        ("xl/_rels/workbook.xml.rels", "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/><Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet2.xml\"/></Relationships>".into()),
        ("xl/styles.xml", format!("<?xml version=\"1.0\"?><styleSheet {ns}><cellXfs count=\"2\"><xf numFmtId=\"0\"/><xf numFmtId=\"14\" applyNumberFormat=\"1\"/></cellXfs></styleSheet>")),
        ("xl/worksheets/sheet1.xml", notes),
        ("xl/worksheets/sheet2.xml", list),
    ];
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in parts {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("entry");
        zip.write_all(body.as_bytes()).expect("write");
    }
    zip.finish().expect("zip").into_inner()
}

/// Days since 1970-01-01 of a Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

both_engines_with!(
    xlsx_as_offices_make_it_title_dates_and_a_second_sheet,
    no_tweak,
    |h: Harness| async move {
        let admin = logged_in(&h, 0).await;
        let people = sample_people();
        let (status, body, _) =
            upload(&h, &admin, "名冊.xlsx", office_workbook(&people[1..3])).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(
            (body["total_rows"].as_i64(), body["sheet"].as_str()),
            (Some(2), Some("名單")),
            "the title is not a row; the sheet with the header is used"
        );
        assert_eq!(body["other_sheets"], serde_json::json!(["說明"]));
        let id = body["upload_id"].as_i64().expect("id");
        run_jobs(&h).await;
        let got: Vec<String> = reasons(&h, &admin, id)
            .await
            .into_iter()
            .map(|r| r.2)
            .collect();
        assert_eq!(
            got,
            vec!["accepted", "accepted"],
            "date cells are the ROC birth dates"
        );
        let (text, _) = result_attachments(&h).await;
        assert!(
            text.contains("「名單」") && text.contains("「說明」"),
            "{text}"
        );
    }
);

both_engines_with!(
    a_large_result_is_mailed_compressed,
    |c: &mut nhi_server::config::Config| c.bulk_result_mail_max_bytes = 4096,
    |h: Harness| async move {
        let admin = logged_in(&h, 0).await;
        // 200 failed rows (a bad checksum each): ≈ 14 KB of result, a few hundred bytes zipped.
        let file = "A123456780,某人,0790101,x@example.com\n".repeat(200);
        let (status, body, _) = upload(&h, &admin, "big.csv", file.into_bytes()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let id = body["upload_id"].as_i64().expect("id");
        run_jobs(&h).await;
        let whole = result_file(&h, &admin, id).await;
        assert!(whole.len() > 4096, "{}", whole.len());
        let (text, files) = result_attachments(&h).await;
        assert_eq!(files.len(), 1);
        let (name, content_type, zipped) = &files[0];
        assert!(
            name.ends_with(".zip") && content_type == "application/zip",
            "{name}"
        );
        assert!(zipped.len() <= 4096, "{}", zipped.len());
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped.clone())).expect("zip");
        let mut inner = Vec::new();
        archive
            .by_index(0)
            .expect("entry")
            .read_to_end(&mut inner)
            .expect("read");
        assert_eq!(inner, whole, "the zip holds the whole result file");
        assert!(text.contains(".zip"), "{text}");
    }
);

both_engines_with!(
    a_result_too_large_even_compressed_is_a_link,
    |c: &mut nhi_server::config::Config| c.bulk_result_mail_max_bytes = 64,
    |h: Harness| async move {
        let admin = logged_in(&h, 0).await;
        let file = "A123456780,某人,0790101,x@example.com\n".repeat(200);
        let (status, body, _) = upload(&h, &admin, "big.csv", file.into_bytes()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        run_jobs(&h).await;
        let (text, files) = result_attachments(&h).await;
        assert!(files.is_empty(), "nothing attached");
        assert!(
            text.contains(&format!("/units/records?unit={UNIT}")),
            "{text}"
        );
    }
);

both_engines_with!(
    a_result_too_large_compressed_mails_only_the_failures,
    |c: &mut nhi_server::config::Config| c.bulk_result_mail_max_bytes = 2048,
    |h: Harness| async move {
        let admin = logged_in(&h, 0).await;
        // 600 generated people, all accepted (their result compresses to far over 2 KiB),
        // and two failed rows.
        let people = nhi_server::services::units::generate_people(17, 600);
        {
            let mut conn = h.app.services.db.conn().await.expect("conn");
            nhi_server::storage::units::insert_insured(&mut conn, UNIT, &people)
                .await
                .expect("insured");
        }
        let mut csv = common::people_csv(&people, "r");
        csv.push_str("A123456780,某人,0790101,x@example.com\n");
        csv.push_str("too,few\n");
        let (status, body, _) = upload(&h, &admin, "all.csv", csv.into_bytes()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        run_jobs(&h).await;
        let (text, files) = result_attachments(&h).await;
        assert_eq!(files.len(), 1);
        let (name, _, zipped) = &files[0];
        assert!(
            name.contains("-failures-") && name.ends_with(".zip"),
            "{name}"
        );
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped.clone())).expect("zip");
        let mut inner = Vec::new();
        archive
            .by_index(0)
            .expect("entry")
            .read_to_end(&mut inner)
            .expect("read");
        let inner = String::from_utf8(inner).expect("utf-8 result");
        assert_eq!(
            inner.lines().count(),
            3,
            "the header and the two failures: {inner}"
        );
        assert!(inner.contains("invalid ID number") && inner.contains("malformed line"));
        assert!(
            text.contains(&format!("/units/records?unit={UNIT}")),
            "{text}"
        );
    }
);
