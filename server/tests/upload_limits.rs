//! Bounded upload parsing (issue 10) through the real router, on SQLite and PostgreSQL: files
//! built to exhaust memory — a sparse .xlsx with a cell at XFD1048576, a zip bomb whose sheet
//! unpacks to 300 MiB, a 20 MiB CSV line of commas — are refused whole with a clear code,
//! store nothing and leave the server answering `/healthz`; an .xlsx that merely *declares* a
//! huge dimension is accepted; a full parse pool answers 503 `busy`.
//!
//! The files are built here at run time. `peak_rss_of_the_real_server` (ignored) posts each of
//! them to the real `nhi-server` binary and prints its peak RSS (VmHWM); `write_fuzz_seeds`
//! (ignored) writes the small variants into the fuzz corpus. See server/README.md.

mod common;

use std::io::Write as _;
use std::time::{Duration, Instant};

use axum::http::{header, Method, StatusCode};
use common::{sample_people, Engine, Harness, ORIGIN};
use http_body_util::BodyExt as _;
use nhi_protocol::api::CSRF_HEADER;
use nhi_server::workers::bulk_jobs::BulkWorker;
use serde_json::Value;
use tower::ServiceExt as _;

use common::UNIT;
const MIB: usize = 1024 * 1024;

// ---- files -------------------------------------------------------------------------------

const SHEET_START: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">";

/// The parts of an .xlsx besides its sheet.
const XLSX_PARTS: [(&str, &str); 4] = [
    ("[Content_Types].xml", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/><Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/></Types>"),
    ("_rels/.rels", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>"),
    ("xl/workbook.xml", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets><sheet name=\"Sheet1\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>"),
    ("xl/_rels/workbook.xml.rels", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/></Relationships>"),
];

/// An .xlsx (made with the zip crate, deflated) whose first sheet's XML `sheet` writes.
fn xlsx(sheet: impl FnOnce(&mut dyn std::io::Write)) -> Vec<u8> {
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in XLSX_PARTS {
        zip.start_file(name, options).expect("zip entry");
        zip.write_all(body.as_bytes()).expect("zip write");
    }
    zip.start_file("xl/worksheets/sheet1.xml", options)
        .expect("zip entry");
    sheet(&mut zip);
    zip.finish().expect("zip").into_inner()
}

fn write(w: &mut dyn std::io::Write, s: &str) {
    w.write_all(s.as_bytes()).expect("write");
}

/// An inline-string cell.
fn cell(at: &str, text: &str) -> String {
    format!("<c r=\"{at}\" t=\"inlineStr\"><is><t>{text}</t></is></c>")
}

/// (a) `A1` and `XFD1048576`: calamine's dense range of this sheet has 2^34 cells.
fn sparse_xlsx() -> Vec<u8> {
    xlsx(|w| {
        write(w, SHEET_START);
        write(w, "<sheetData><row r=\"1\">");
        write(w, &cell("A1", "x"));
        write(w, "</row><row r=\"1048576\">");
        write(w, &cell("XFD1048576", "y"));
        write(w, "</row></sheetData></worksheet>");
    })
}

/// (b) A sheet whose XML unpacks to `mib` MiB: the same cell over and over (deflate packs
/// it ≈ 400:1; the old reader kept every cell of it). The other parts are as in [`xlsx`].
///
/// Deflating hundreds of MiB takes the zip crate a minute in a debug build, so the stream is
/// built in O(compressed size): one MiB of cells is deflated once *after* a first copy (so its
/// back-references only reach the copy before it) and ends on a sync flush (byte-aligned, no
/// final bit); that run of blocks then decodes to the same MiB wherever it is repeated. The
/// zip container around it is written by hand with the real CRC-32 (combined per copy).
fn bomb_xlsx(mib: usize) -> Vec<u8> {
    let mut entries: Vec<ZipEntry> = XLSX_PARTS
        .iter()
        .map(|(name, body)| ZipEntry::stored(name, body.as_bytes()))
        .collect();
    entries.push(bomb_entry(mib, "xl/worksheets/sheet1.xml"));
    zip_container(&entries)
}

/// (b') Issue 17 reads every sheet until one has the header: a harmless first sheet (a note,
/// no header) and the bomb as the second sheet.
fn bomb_in_second_sheet(mib: usize) -> Vec<u8> {
    let workbook = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets><sheet name=\"說明\" sheetId=\"1\" r:id=\"rId1\"/><sheet name=\"名單\" sheetId=\"2\" r:id=\"rId2\"/></sheets></workbook>";
    let rels = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/><Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet2.xml\"/></Relationships>";
    let note = format!(
        "{SHEET_START}<sheetData><row r=\"1\">{}</row></sheetData></worksheet>",
        cell("A1", "說明")
    );
    let mut entries: Vec<ZipEntry> = XLSX_PARTS[..2]
        .iter()
        .map(|(name, body)| ZipEntry::stored(name, body.as_bytes()))
        .collect();
    entries.push(ZipEntry::stored("xl/workbook.xml", workbook.as_bytes()));
    entries.push(ZipEntry::stored(
        "xl/_rels/workbook.xml.rels",
        rels.as_bytes(),
    ));
    entries.push(ZipEntry::stored(
        "xl/worksheets/sheet1.xml",
        note.as_bytes(),
    ));
    entries.push(bomb_entry(mib, "xl/worksheets/sheet2.xml"));
    zip_container(&entries)
}

/// A deflated sheet part that unpacks to `mib` MiB of cells from ≈ 2.5 × `mib` KiB.
fn bomb_entry(mib: usize, name: &str) -> ZipEntry {
    use flate2::{Compress, Compression, FlushCompress};
    let one = "<c r=\"A2\"><v>1</v></c>";
    let chunk = one.repeat(MIB / one.len()).into_bytes();
    let head = format!("{SHEET_START}<sheetData><row r=\"2\">").into_bytes();
    let tail = b"</row></sheetData></worksheet>";
    let mut deflate = Compress::new(Compression::best(), false);
    let first = deflate_step(
        &mut deflate,
        &[head.as_slice(), &chunk].concat(),
        FlushCompress::Sync,
    );
    let again = deflate_step(&mut deflate, &chunk, FlushCompress::Sync);
    let end = deflate_step(&mut deflate, tail, FlushCompress::Finish);
    let mut stream = first;
    for _ in 1..mib {
        stream.extend_from_slice(&again);
    }
    stream.extend_from_slice(&end);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head);
    let mut chunk_crc = crc32fast::Hasher::new();
    chunk_crc.update(&chunk);
    for _ in 0..mib {
        crc.combine(&chunk_crc);
    }
    crc.update(tail);
    let size = head.len() + chunk.len() * mib + tail.len();
    ZipEntry {
        name: name.into(),
        method: 8,
        crc: crc.finalize(),
        data: stream,
        size: u32::try_from(size).expect("under 4 GiB"),
    }
}

/// Feeds `input` to the deflater and returns what it wrote up to the flush.
fn deflate_step(c: &mut flate2::Compress, input: &[u8], flush: flate2::FlushCompress) -> Vec<u8> {
    let mut out = Vec::new();
    let start = c.total_in();
    loop {
        out.reserve(64 * 1024);
        let done = usize::try_from(c.total_in() - start).expect("size");
        let status = c
            .compress_vec(&input[done..], &mut out, flush)
            .expect("deflate");
        let all_in = usize::try_from(c.total_in() - start).expect("size") == input.len();
        let finished = match flush {
            flate2::FlushCompress::Finish => status == flate2::Status::StreamEnd,
            _ => all_in && out.len() < out.capacity(),
        };
        if finished {
            return out;
        }
    }
}

struct ZipEntry {
    name: String,
    /// 0 stored, 8 deflated
    method: u16,
    crc: u32,
    data: Vec<u8>,
    size: u32,
}

impl ZipEntry {
    fn stored(name: &str, body: &[u8]) -> Self {
        Self {
            name: name.into(),
            method: 0,
            crc: crc32fast::hash(body),
            data: body.to_vec(),
            size: u32::try_from(body.len()).expect("small"),
        }
    }
}

/// A plain zip (no zip64, no data descriptors) of `entries`.
fn zip_container(entries: &[ZipEntry]) -> Vec<u8> {
    fn u16le(v: &mut Vec<u8>, x: u16) {
        v.extend_from_slice(&x.to_le_bytes());
    }
    fn u32le(v: &mut Vec<u8>, x: u32) {
        v.extend_from_slice(&x.to_le_bytes());
    }
    let len32 = |n: usize| u32::try_from(n).expect("under 4 GiB");
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for e in entries {
        let offset = len32(out.len());
        let name_len = u16::try_from(e.name.len()).expect("short name");
        // local file header
        u32le(&mut out, 0x0403_4b50);
        for x in [20, 0, e.method, 0, 0x21] {
            u16le(&mut out, x); // version, flags, method, time, date (1980-01-01)
        }
        for x in [e.crc, len32(e.data.len()), e.size] {
            u32le(&mut out, x);
        }
        u16le(&mut out, name_len);
        u16le(&mut out, 0);
        out.extend_from_slice(e.name.as_bytes());
        out.extend_from_slice(&e.data);
        // central directory header
        u32le(&mut central, 0x0201_4b50);
        for x in [20, 20, 0, e.method, 0, 0x21] {
            u16le(&mut central, x); // made by, needed, flags, method, time, date
        }
        for x in [e.crc, len32(e.data.len()), e.size] {
            u32le(&mut central, x);
        }
        for x in [name_len, 0, 0, 0, 0] {
            u16le(&mut central, x); // name, extra, comment, disk, internal attributes
        }
        u32le(&mut central, 0); // external attributes
        u32le(&mut central, offset);
        central.extend_from_slice(e.name.as_bytes());
    }
    let count = u16::try_from(entries.len()).expect("few entries");
    let cd_offset = len32(out.len());
    let cd_size = len32(central.len());
    out.extend_from_slice(&central);
    u32le(&mut out, 0x0605_4b50);
    for x in [0, 0, count, count] {
        u16le(&mut out, x);
    }
    u32le(&mut out, cd_size);
    u32le(&mut out, cd_offset);
    u16le(&mut out, 0);
    out
}

/// (c) One line of `len` bytes, all commas: 20 million empty fields.
fn commas_csv(len: usize) -> Vec<u8> {
    let mut v = vec![b','; len - 1];
    v.push(b'\n');
    v
}

/// (d) Two real people but a declared dimension of the whole sheet (office files declare
/// such ranges), and a styled empty cell at the far corner.
fn declared_dimension_xlsx(people: &[(String, String, String)]) -> Vec<u8> {
    xlsx(|w| {
        write(w, SHEET_START);
        write(
            w,
            "<dimension ref=\"A1:XFD1048576\"/><sheetData><row r=\"1\">",
        );
        for (c, t) in
            ["A1", "B1", "C1", "D1"]
                .iter()
                .zip(["身分證號", "姓名", "出生日期", "電子信箱"])
        {
            write(w, &cell(c, t));
        }
        write(w, "</row>");
        for (i, (id, name, birth)) in people.iter().enumerate() {
            let r = i + 2;
            write(w, &format!("<row r=\"{r}\">"));
            write(w, &cell(&format!("A{r}"), id));
            write(w, &cell(&format!("B{r}"), name));
            // The birth date typed as a number: the leading zero is lost.
            write(
                w,
                &format!("<c r=\"C{r}\"><v>{}</v></c>", birth.trim_start_matches('0')),
            );
            write(w, &cell(&format!("D{r}"), &format!("p{i}@example.com")));
            write(w, "</row>");
        }
        write(
            w,
            "<row r=\"1048576\"><c r=\"XFD1048576\" s=\"1\"/></row></sheetData></worksheet>",
        );
    })
}

/// For comparison: `n` generated people as Excel writes them (text in the shared strings,
/// birth date and mobile as numbers), and as a CSV.
fn people_files(n: usize) -> (Vec<u8>, Vec<u8>) {
    let people = nhi_server::services::units::generate_people(7, n);
    let mut strings = Vec::with_capacity(3 * n + 5);
    let mut sheet = format!("{SHEET_START}<sheetData><row r=\"1\">");
    for (col, title) in
        ["A", "B", "C", "D", "E"]
            .iter()
            .zip(["身分證號", "姓名", "出生日期", "電子信箱", "手機"])
    {
        sheet.push_str(&format!(
            "<c r=\"{col}1\" t=\"s\"><v>{}</v></c>",
            strings.len()
        ));
        strings.push(title.to_owned());
    }
    sheet.push_str("</row>");
    let mut csv = String::from("身分證號,姓名,出生日期,電子信箱,手機\n");
    for (i, p) in people.iter().enumerate() {
        let r = i + 2;
        let email = format!("person{i}@example.com");
        let mobile = format!("09{i:08}");
        csv.push_str(&format!(
            "{},{},{},{email},{mobile}\n",
            p.national_id, p.name, p.birth_date
        ));
        let s = strings.len();
        sheet.push_str(&format!(
            "<row r=\"{r}\"><c r=\"A{r}\" t=\"s\"><v>{s}</v></c><c r=\"B{r}\" t=\"s\"><v>{}</v></c><c r=\"C{r}\"><v>{}</v></c><c r=\"D{r}\" t=\"s\"><v>{}</v></c><c r=\"E{r}\"><v>{}</v></c></row>",
            s + 1,
            p.birth_date.trim_start_matches('0'),
            s + 2,
            mobile.trim_start_matches('0'),
        ));
        strings.extend([p.national_id.clone(), p.name.clone(), email]);
    }
    sheet.push_str("</sheetData></worksheet>");
    let mut sst = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" count=\"{0}\" uniqueCount=\"{0}\">",
        strings.len()
    );
    for t in &strings {
        sst.push_str(&format!("<si><t>{t}</t></si>"));
    }
    sst.push_str("</sst>");
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in XLSX_PARTS {
        zip.start_file(name, options).expect("zip entry");
        zip.write_all(body.as_bytes()).expect("zip write");
    }
    for (name, body) in [
        ("xl/worksheets/sheet1.xml", &sheet),
        ("xl/sharedStrings.xml", &sst),
    ] {
        zip.start_file(name, options).expect("zip entry");
        zip.write_all(body.as_bytes()).expect("zip write");
    }
    println!(
        "{n} people: sheet XML {:.1} MiB, shared strings {:.1} MiB, CSV {:.1} MiB",
        sheet.len() as f64 / MIB as f64,
        sst.len() as f64 / MIB as f64,
        csv.len() as f64 / MIB as f64,
    );
    (zip.finish().expect("zip").into_inner(), csv.into_bytes())
}

/// The hand-built bomb is a zip the zip crate reads in full, with the declared size and CRC.
#[test]
fn the_bomb_is_a_valid_zip() {
    use std::io::Read as _;
    let file = bomb_xlsx(4);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(file)).expect("zip");
    assert_eq!(zip.len(), 5);
    let mut sheet = zip.by_name("xl/worksheets/sheet1.xml").expect("sheet");
    let declared = sheet.size();
    let mut text = String::new();
    sheet
        .read_to_string(&mut text)
        .expect("inflates, CRC matches");
    assert_eq!(u64::try_from(text.len()).ok(), Some(declared));
    assert!(declared > 4 * MIB as u64 - 64);
    assert!(text.starts_with(SHEET_START) && text.ends_with("</row></sheetData></worksheet>"));
    assert_eq!(
        text.matches("<c r=\"A2\"><v>1</v></c>").count(),
        4 * (MIB / 22)
    );
}

// ---- requests ----------------------------------------------------------------------------

/// Logs in holder 0 (王小明, the admin of unit 12345678).
async fn unit_admin(h: &Harness) -> String {
    common::logged_in(h, 0).await
}

/// Posts a file as the SPA does (the raw file as the body) and returns status, headers, JSON.
async fn upload(
    h: &Harness,
    cookie: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let req = common::upload_request(cookie, name, bytes);
    let resp = h.app.router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn stored_uploads(h: &Harness) -> i64 {
    let row: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM bulk_uploads")
        .fetch_one(h.app.services.db.pool())
        .await
        .expect("count");
    row.0
}

/// The file is refused whole with `code`, nothing is stored, the server still answers.
async fn assert_refused(
    h: &Harness,
    cookie: &str,
    name: &str,
    bytes: Vec<u8>,
    status: StatusCode,
    code: &str,
) -> Duration {
    let started = Instant::now();
    let (got, _, body) = upload(h, cookie, name, bytes).await;
    let took = started.elapsed();
    assert_eq!(
        (got, body["field"].as_str(), body["message"].as_str()),
        (status, Some("file"), Some(code)),
        "{name}: {body}"
    );
    assert_eq!(stored_uploads(h).await, 0, "{name}: nothing stored");
    assert!(
        !h.audit_actions()
            .await
            .iter()
            .any(|(a, _)| a == "bulk_upload"),
        "{name}: no upload audited"
    );
    assert_eq!(h.get("/healthz").await.status, StatusCode::OK, "{name}");
    took
}

// ---- tests -------------------------------------------------------------------------------

both_engines!(sparse_xlsx_is_refused, |h: Harness| async move {
    let admin = unit_admin(&h).await;
    let file = sparse_xlsx();
    assert!(file.len() < 4096, "{} bytes", file.len());
    assert_refused(
        &h,
        &admin,
        "sparse.xlsx",
        file,
        StatusCode::BAD_REQUEST,
        "too_many_columns",
    )
    .await;
});

both_engines!(zip_bomb_is_refused, |h: Harness| async move {
    let admin = unit_admin(&h).await;
    let file = bomb_xlsx(300);
    assert!(file.len() < 2 * MIB, "{} bytes", file.len());
    let took = assert_refused(
        &h,
        &admin,
        "bomb.xlsx",
        file,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large_decompressed",
    )
    .await;
    assert!(took < Duration::from_secs(60), "{took:?}");
});

both_engines!(
    zip_bomb_in_a_second_sheet_is_refused,
    |h: Harness| async move {
        let admin = unit_admin(&h).await;
        // 1 GiB of sheet XML from ≈ 2.5 MiB: the second sheet is read (the first has no
        // header), but the zip walk measures every part first.
        let file = bomb_in_second_sheet(1024);
        assert!(file.len() < 3 * MIB, "{} bytes", file.len());
        let took = assert_refused(
            &h,
            &admin,
            "bomb2.xlsx",
            file,
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large_decompressed",
        )
        .await;
        assert!(took < Duration::from_secs(60), "{took:?}");
        // The same shape, small: accepted, so the refusal above is the bomb's, not the shape's.
        let (status, _, body) = upload(&h, &admin, "ok2.xlsx", bomb_in_second_sheet(1)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
);

both_engines!(line_of_commas_is_refused_quickly, |h: Harness| async move {
    let admin = unit_admin(&h).await;
    // As large as the default upload_max_bytes (20 MiB) allows, so it reaches the parser.
    assert_eq!(h.app.services.config.upload_max_bytes, 20 * MIB);
    let took = assert_refused(
        &h,
        &admin,
        "commas.csv",
        commas_csv(20 * MIB),
        StatusCode::BAD_REQUEST,
        "too_many_columns",
    )
    .await;
    assert!(took < Duration::from_secs(10), "{took:?}");
});

both_engines!(declared_dimension_is_accepted, |h: Harness| async move {
    let admin = unit_admin(&h).await;
    let people: Vec<_> = sample_people().into_iter().skip(30).take(2).collect();
    let (status, _, body) = upload(&h, &admin, "list.xlsx", declared_dimension_xlsx(&people)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        (body["encoding"].as_str(), body["total_rows"].as_i64()),
        (Some("xlsx"), Some(2))
    );
    let id = body["upload_id"].as_i64().expect("id");
    // The worker parses the stored file again and accepts both people.
    let w = BulkWorker::new(h.app.services.clone());
    while w.tick().await.expect("bulk tick") {}
    let r = h
        .request(
            Method::GET,
            &format!("/api/v1/units/{UNIT}/uploads/{id}/rows"),
            None,
            &[("cookie", &admin)],
        )
        .await;
    let reasons: Vec<_> = r.json["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|x| {
            (
                x["row_number"].as_i64(),
                x["reason"].as_str().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            (Some(2), Some("accepted".to_owned())),
            (Some(3), Some("accepted".to_owned()))
        ],
        "{}",
        r.text
    );
});

both_engines_with!(
    full_parse_pool_answers_busy,
    |c: &mut nhi_server::config::Config| {
        c.upload_parse_concurrency = 2;
        c.upload_parse_wait_ms = 200;
    },
    |h: Harness| async move {
        let admin = unit_admin(&h).await;
        let people = sample_people();
        let line = format!(
            "{},{},{},x@example.com\n",
            people[40].0, people[40].1, people[40].2
        );
        // Two parses in progress (their slots held): the third upload waits 200 ms, then 503.
        let pool = h.app.services.upload_parse_pool();
        let held = pool.clone().acquire_many_owned(2).await.expect("slots");
        let started = Instant::now();
        let (status, headers, body) = upload(&h, &admin, "a.csv", line.clone().into_bytes()).await;
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(
            (status, body["field"].as_str(), body["message"].as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, Some("file"), Some("busy")),
            "{body}"
        );
        assert_eq!(body["retry_after_seconds"], 5);
        assert_eq!(headers[header::RETRY_AFTER], "5");
        assert_eq!(stored_uploads(&h).await, 0);
        // A slot frees up while the next upload waits: it goes through.
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(held);
        });
        let (status, _, body) = upload(&h, &admin, "a.csv", line.into_bytes()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        release.await.expect("release");
        assert_eq!(pool.available_permits(), 2, "the parse gave its slot back");
    }
);

// ---- measurements ------------------------------------------------------------------------

/// Peak RSS (VmHWM, KiB) of a process.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// Posts each bomb to a fresh `nhi-server` process (the binary of this build, on the SQLite
/// database the harness logged the admin into) and prints the process's peak RSS before and
/// after. Run:
///
/// `cargo test -p nhi-server --test upload_limits -- --ignored --nocapture peak_rss`
/// (add `--release` for the production build).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: prints the server's peak RSS per bomb"]
async fn peak_rss_of_the_real_server() {
    let h = Harness::new(Engine::Sqlite, |_| {}).await.expect("harness");
    let admin = unit_admin(&h).await;
    let people: Vec<_> = sample_people().into_iter().skip(30).take(2).collect();
    let (big_xlsx, big_csv) = people_files(200_000);
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("(a) sparse.xlsx A1 + XFD1048576", sparse_xlsx()),
        ("(b) zip bomb: sheet of 300 MiB", bomb_xlsx(300)),
        ("(c) 20 MiB line of commas", commas_csv(20 * MIB)),
        (
            "(d) dimension A1:XFD1048576",
            declared_dimension_xlsx(&people),
        ),
        ("200,000 people, .xlsx", big_xlsx),
        ("200,000 people, CSV", big_csv),
    ];
    let client = reqwest::Client::new();
    let db = h.app.services.config.database_url.clone();
    println!("| file | size | answer | time | VmHWM before | VmHWM after |");
    println!("|---|---|---|---|---|---|");
    for (label, bytes) in files {
        let port = common::free_port();
        let server = common::ChildServer(
            common::server_command(h.dir.path(), &db, port)
                .env("NHI_OUTBOX_WORKER", "false")
                .env("NHI_BULK_WORKER", "false")
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn nhi-server"),
        );
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let up = client.get(format!("{base}/healthz")).send().await;
            if up.is_ok_and(|r| r.status() == reqwest::StatusCode::OK) {
                break;
            }
            assert!(Instant::now() < deadline, "server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let pid = server.0.id();
        let before = vm_hwm_kib(pid);
        let size = bytes.len();
        let started = Instant::now();
        let resp = client
            .post(format!("{base}/api/v1/units/{UNIT}/uploads"))
            .header(CSRF_HEADER, "1")
            .header("origin", ORIGIN)
            .header("cookie", &admin)
            .header("x-file-name", "f")
            .body(bytes)
            .send()
            .await
            .expect("upload");
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let took = started.elapsed();
        let after = vm_hwm_kib(pid);
        let health = client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .map(|r| r.status());
        assert!(matches!(health, Ok(reqwest::StatusCode::OK)), "{health:?}");
        let answer = body["message"]
            .as_str()
            .filter(|_| !status.is_success())
            .map_or_else(|| status.to_string(), |m| format!("{status} `{m}`"));
        println!(
            "| {label} | {:.1} KiB | {answer} | {:.2} s | {:.1} MiB | {:.1} MiB |",
            size as f64 / 1024.0,
            took.as_secs_f64(),
            before as f64 / 1024.0,
            after as f64 / 1024.0,
        );
    }
}

/// Writes the small bomb variants into the fuzz corpus (the `seed-*` files there are
/// committed): `cargo test -p nhi-server --test upload_limits -- --ignored write_fuzz_seeds`
/// (into `server/fuzz/corpus/bulk_parse`, or `NHI_FUZZ_SEEDS`).
#[test]
#[ignore = "writes the fuzz corpus seeds"]
fn write_fuzz_seeds() {
    let dir = std::path::PathBuf::from(
        std::env::var("NHI_FUZZ_SEEDS").unwrap_or_else(|_| "fuzz/corpus/bulk_parse".into()),
    );
    std::fs::create_dir_all(&dir).expect("corpus dir");
    let people: Vec<_> = sample_people().into_iter().take(2).collect();
    // 32 MiB of sheet XML in ≈ 80 KiB: over the fuzz target's 8 MiB budget.
    let seeds = [
        ("seed-sparse-xfd1048576.xlsx", sparse_xlsx()),
        ("seed-zip-bomb-32mib.xlsx", bomb_xlsx(32)),
        (
            "seed-declared-dimension.xlsx",
            declared_dimension_xlsx(&people),
        ),
        ("seed-commas-8k.csv", commas_csv(8 * 1024)),
    ];
    for (name, bytes) in seeds {
        assert!(bytes.len() < 100 * 1024, "{name}: {} bytes", bytes.len());
        std::fs::write(dir.join(name), bytes).expect("write seed");
    }
}
