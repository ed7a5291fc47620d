use std::io::Cursor;

use super::*;

fn reasons(f: &ParsedFile) -> Vec<(i64, Option<RowReason>)> {
    f.rows.iter().map(|r| (r.row_number, r.problem)).collect()
}

#[test]
fn utf8_with_header_bom_and_checks() {
    let text = "\u{FEFF}身分證號,姓名,出生日期,電子信箱,手機\n\
                A123456789,王小明,0790101,a@example.com,0912345678\n\
                \n\
                A123456788,壞號碼,0790101,b@example.com\n\
                B223456719,陳美麗,0851225,,\n\
                A123456789,王小明,0790101,a@example.com\n\
                =cmd|' /C calc'!A0,x,0790101,c@example.com\n\
                only,two\n\
                F135792464,林志豪,0701399,d@example.com\n\
                S224680133,黃淑芬,0620228,bad-mail\n\
                E102030403,張家豪,0991111,e@example.com,12345\n";
    let f = parse(text.as_bytes(), 100).expect("parses");
    assert_eq!(f.encoding, FileEncoding::Utf8);
    assert_eq!(
        reasons(&f),
        vec![
            (2, None),
            (4, Some(RowReason::InvalidId)),
            (5, Some(RowReason::EmailMissing)),
            (6, Some(RowReason::DuplicateInFile)),
            (7, Some(RowReason::FormulaCell)),
            (8, Some(RowReason::MalformedLine)),
            (9, Some(RowReason::InvalidBirthDate)),
            (10, Some(RowReason::EmailInvalid)),
            (11, Some(RowReason::MobileInvalid)),
        ]
    );
    assert_eq!(f.rows[0].mobile.as_deref(), Some("0912345678"));
}

#[test]
fn big5_is_detected_and_the_result_file_is_big5() {
    let (bytes, _, bad) = encoding_rs::BIG5.encode("A123456789,王小明,0790101,a@example.com\r\n");
    assert!(!bad);
    let f = parse(&bytes, 10).expect("big5");
    assert_eq!(f.encoding, FileEncoding::Big5);
    assert_eq!(f.rows[0].name, "王小明");
    let out = result_file(
        f.encoding,
        &[(1, "A123456789".into(), "王小明".into(), RowReason::Accepted)],
    );
    let (text, had_errors) = encoding_rs::BIG5.decode_without_bom_handling(&out);
    assert!(!had_errors && text.contains("王小明") && text.contains("成功"));
    assert!(std::str::from_utf8(&out).is_err(), "not UTF-8");
}

#[test]
fn file_problems() {
    assert_eq!(parse(b"  \n", 10).err(), Some(FileProblem::Empty));
    assert_eq!(
        parse(&[0xFF, 0xFE, 0x00, 0x41], 10).err(),
        Some(FileProblem::Encoding)
    );
    // 0x80 is not a Big5 lead byte and the bytes are not UTF-8
    assert_eq!(
        parse(&[0x41, 0x80, 0x80, 0x0A], 10).err(),
        Some(FileProblem::Encoding)
    );
    assert_eq!(
        parse(b"PK\x03\x04garbage", 10).err(),
        Some(FileProblem::Unreadable)
    );
    assert_eq!(
        parse(&[0xD0, 0xCF, 0x11, 0xE0, 1, 2], 10).err(),
        Some(FileProblem::UnsupportedType)
    );
    let many = "A123456789,王小明,0790101,a@example.com\n".repeat(3);
    assert_eq!(
        parse(many.as_bytes(), 2).err(),
        Some(FileProblem::TooManyRows)
    );
    assert_eq!(parse(b"ID,name\n", 10).err(), Some(FileProblem::Empty));
}

#[test]
fn tabs_quotes_and_formula_defused_in_results() {
    let f = parse(
        "A123456789\t王小明\t0790101\ta@example.com\n\"B223456719\"\t\"陳,美麗\"\t0851225\tb@example.com\n"
            .as_bytes(),
        10,
    )
    .expect("tsv");
    assert!(f.rows.iter().all(|r| r.problem.is_none()));
    assert_eq!(f.rows[1].name, "陳,美麗");
    let out = result_file(
        FileEncoding::Utf8,
        &[(1, "X".into(), "=1+1".into(), RowReason::FormulaCell)],
    );
    let text = String::from_utf8(out).expect("utf8");
    assert!(text.contains(",'=1+1,"));
}

/// A minimal .xlsx: `sheet` is the worksheet XML, `shared` the shared strings part.
fn xlsx(sheet: &str, shared: Option<&str>) -> Vec<u8> {
    xlsx_parts(sheet, shared, &[])
}

fn xlsx_parts(sheet: &str, shared: Option<&str>, extra: &[(String, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write as _;
    let mut parts: Vec<(String, Vec<u8>)> = vec![
        ("[Content_Types].xml".into(), b"<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/></Types>".to_vec()),
        ("_rels/.rels".into(), b"<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>".to_vec()),
        ("xl/workbook.xml".into(), b"<?xml version=\"1.0\"?><workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets><sheet name=\"S\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>".to_vec()),
        ("xl/_rels/workbook.xml.rels".into(), b"<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/></Relationships>".to_vec()),
        ("xl/worksheets/sheet1.xml".into(), sheet.as_bytes().to_vec()),
    ];
    if let Some(sst) = shared {
        parts.push(("xl/sharedStrings.xml".into(), sst.as_bytes().to_vec()));
    }
    parts.extend(extra.iter().cloned());
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, body) in parts {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file(name, options).expect("entry");
        zip.write_all(&body).expect("write");
    }
    zip.finish().expect("zip").into_inner()
}

type Cells = Vec<(String, String)>;

fn cells(list: &[(&str, &str)]) -> Cells {
    list.iter()
        .map(|(c, t)| ((*c).to_owned(), (*t).to_owned()))
        .collect()
}

/// The test person's cells in row `r`, from column `first` on.
fn person(r: u32, first: u8) -> Cells {
    ["A123456789", "王小明", "0790101", "a@example.com"]
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("{}{r}", (first + i as u8) as char), (*t).to_owned()))
        .collect()
}

/// A worksheet with inline-string cells `(reference, text)` in the given rows; an empty
/// text is a styled cell without a value.
fn sheet(dimension: Option<&str>, rows: &[(u32, Cells)]) -> String {
    let mut x = String::from("<?xml version=\"1.0\"?><worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">");
    if let Some(d) = dimension {
        x.push_str(&format!("<dimension ref=\"{d}\"/>"));
    }
    x.push_str("<sheetData>");
    for (r, cells) in rows {
        x.push_str(&format!("<row r=\"{r}\">"));
        for (at, text) in cells {
            if text.is_empty() {
                x.push_str(&format!("<c r=\"{at}\" s=\"1\"/>"));
            } else {
                x.push_str(&format!(
                    "<c r=\"{at}\" t=\"inlineStr\"><is><t>{text}</t></is></c>"
                ));
            }
        }
        x.push_str("</row>");
    }
    x.push_str("</sheetData></worksheet>");
    x
}

#[test]
fn csv_limits_hold_while_reading() {
    let commas = ",".repeat(1_000_000);
    assert_eq!(
        parse(commas.as_bytes(), 10).err(),
        Some(FileProblem::TooManyColumns)
    );
    let wide = format!("A123456789{}\n", ",x".repeat(MAX_COLUMNS));
    assert_eq!(
        parse(wide.as_bytes(), 10).err(),
        Some(FileProblem::TooManyColumns)
    );
    // 26 fields is a malformed line, not a refused file.
    let ok = format!("A123456789{}\n", ",x".repeat(MAX_COLUMNS - 1));
    let f = parse(ok.as_bytes(), 10).expect("parses");
    assert_eq!(f.rows[0].problem, Some(RowReason::MalformedLine));
    let long = format!("A123456789,{},0790101,a@example.com\n", "x".repeat(5000));
    assert_eq!(
        parse(long.as_bytes(), 10).err(),
        Some(FileProblem::FieldTooLong)
    );
    let unclosed = format!(
        "\"A123456789,x,0790101,a@example.com\n{}",
        "y\n".repeat(3000)
    );
    assert_eq!(
        parse(unclosed.as_bytes(), 10).err(),
        Some(FileProblem::FieldTooLong)
    );
    let exactly = format!(
        "A123456789,{},0790101,a@example.com\n",
        "x".repeat(MAX_FIELD_BYTES)
    );
    assert!(parse(exactly.as_bytes(), 10).is_ok());
    // The reading stops at the first line over the limit.
    let many = "A123456789,王小明,0790101,a@example.com\n".repeat(1_000_000);
    let started = std::time::Instant::now();
    assert_eq!(
        parse(many.as_bytes(), 10).err(),
        Some(FileProblem::TooManyRows)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn csv_line_numbers_count_quoted_newlines_and_blank_lines() {
    let text = "\r\n\"A12345\r\n6789\",x,0790101,a@example.com\r\n\r\n\r\nB223456719,陳美麗,0851225,b@example.com";
    let f = parse(text.as_bytes(), 10).expect("parses");
    assert_eq!(
        f.rows.iter().map(|r| r.row_number).collect::<Vec<_>>(),
        vec![2, 6]
    );
    assert_eq!(f.rows[1].problem, None);
}

#[test]
fn xlsx_sparse_cells_far_away_are_refused_without_allocating() {
    let far = sheet(
        None,
        &[
            (1, cells(&[("A1", "x")])),
            (1_048_576, cells(&[("XFD1048576", "y")])),
        ],
    );
    assert_eq!(
        parse(&xlsx(&far, None), 10).err(),
        Some(FileProblem::TooManyColumns)
    );
    let low = sheet(
        None,
        &[
            (1, cells(&[("A1", "x")])),
            (1_048_576, cells(&[("A1048576", "y")])),
        ],
    );
    assert_eq!(
        parse(&xlsx(&low, None), 10).err(),
        Some(FileProblem::TooManyRows)
    );
    // max_rows 2: values may be in rows 1–3 (a header and 2 data lines), not in row 4.
    let edge = sheet(None, &[(3, person(3, b'A'))]);
    assert!(parse(&xlsx(&edge, None), 2).is_ok());
    let beyond = sheet(None, &[(4, person(4, b'A'))]);
    assert_eq!(
        parse(&xlsx(&beyond, None), 2).err(),
        Some(FileProblem::TooManyRows)
    );
}

#[test]
fn xlsx_declared_dimension_and_empty_styled_cells_do_not_matter() {
    let mut row = person(2, b'A');
    row.extend(cells(&[("XFD2", "")])); // styled, no value
    let x = sheet(
        Some("A1:XFD1048576"),
        &[(2, row), (1_048_576, cells(&[("XFD1048576", "")]))],
    );
    let f = parse(&xlsx(&x, None), 10).expect("accepted");
    assert_eq!(f.encoding, FileEncoding::Xlsx);
    assert_eq!(f.rows.len(), 1);
    assert_eq!((f.rows[0].row_number, f.rows[0].problem), (2, None));
}

#[test]
fn xlsx_rows_are_read_in_order_from_the_first_used_column() {
    let second = cells(&[
        ("B1", "B223456719"),
        ("C1", "陳美麗"),
        ("D1", "0851225"),
        ("E1", "b@example.com"),
    ]);
    // Column A empty everywhere; row 2 written before row 1.
    let x = sheet(None, &[(2, person(2, b'B')), (1, second)]);
    let f = parse(&xlsx(&x, None), 10).expect("parses");
    assert_eq!(
        f.rows
            .iter()
            .map(|r| (r.row_number, r.national_id.as_str(), r.problem))
            .collect::<Vec<_>>(),
        vec![(1, "B223456719", None), (2, "A123456789", None)]
    );
}

#[test]
fn xlsx_zip_bombs_are_cut_off() {
    let limits = Limits::new(64 * 1024, 100);
    // The sheet unpacks to 2 MiB from a few KiB; the budget is 512 KiB.
    let mut big = sheet(None, &[(2, person(2, b'A'))]);
    big = big.replace(
        "<sheetData>",
        &format!("<sheetData>{}", " ".repeat(2 << 20)),
    );
    let file = xlsx(&big, None);
    assert!(file.len() < 16 * 1024, "{}", file.len());
    assert_eq!(
        parse_with(&file, &limits).err(),
        Some(FileProblem::TooLargeDecompressed)
    );
    assert!(parse(&file, 100).is_ok(), "fine with the default budget");
    // Shared strings: too many bytes, too many entries, a declared count to reserve.
    let rows = sheet(None, &[(2, person(2, b'A'))]);
    let sst = |n: usize, declared: &str| {
        format!(
            "<?xml version=\"1.0\"?><sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"{declared}>{}</sst>",
            "<si><t>x</t></si>".repeat(n)
        )
    };
    assert!(parse_with(&xlsx(&rows, Some(&sst(10, ""))), &limits).is_ok());
    assert_eq!(
        parse_with(&xlsx(&rows, Some(&sst(10_000, ""))), &limits).err(),
        Some(FileProblem::TooLargeDecompressed),
        "170 KB over the 128 KiB shared-strings cap"
    );
    let many = Limits::new(1 << 20, 100);
    assert_eq!(
        parse_with(&xlsx(&rows, Some(&sst(10_600, ""))), &many).err(),
        Some(FileProblem::TooLargeDecompressed),
        "more entries than (100 + 1) × 5 + 10,000"
    );
    assert_eq!(
        parse_with(
            &xlsx(
                &rows,
                Some(&sst(1, " uniqueCount=\"0099999999999999999999\""))
            ),
            &many
        )
        .err(),
        Some(FileProblem::TooLargeDecompressed)
    );
    // Too many parts.
    let extra: Vec<(String, Vec<u8>)> = (0..MAX_ZIP_ENTRIES)
        .map(|i| (format!("docProps/p{i}.xml"), Vec::new()))
        .collect();
    assert_eq!(
        parse(&xlsx_parts(&rows, None, &extra), 100).err(),
        Some(FileProblem::TooLargeDecompressed)
    );
    // One shared string in many cells: the kept text is bounded too.
    let mut x = String::from("<?xml version=\"1.0\"?><worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>");
    for r in 1..=100 {
        x.push_str(&format!("<row r=\"{r}\">"));
        for c in ['A', 'B', 'C', 'D', 'E'] {
            x.push_str(&format!("<c r=\"{c}{r}\" t=\"s\"><v>0</v></c>"));
        }
        x.push_str("</row>");
    }
    x.push_str("</sheetData></worksheet>");
    let long = format!(
        "<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><si><t>{}</t></si></sst>",
        "y".repeat(4000)
    );
    assert_eq!(
        parse_with(&xlsx(&x, Some(&long)), &Limits::new(256 * 1024, 1000)).err(),
        Some(FileProblem::TooLargeDecompressed),
        "500 × 4000 bytes of cells over 512 KiB"
    );
}

#[test]
fn xlsx_crafted_references_do_not_panic() {
    for bad in ["A99999999999", "ZZZZZZZZZZ1", "A0", "1", ""] {
        let x = sheet(Some("B9:A1"), &[(1, cells(&[(bad, "x")]))]);
        let _ = parse(&xlsx(&x, None), 10);
    }
}

proptest::proptest! {
    #[test]
    fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
        let _ = parse(&bytes, 1000);
    }
}

// ---- issue 17: files as offices make them ----

/// `A123456789,王<0xFA40>明,0790101,a@example.com` in cp950 (王 0xA4FD, 明 0xA9FA).
const PUA_LINE: &[u8] = b"A123456789,\xA4\xFD\xFA\x40\xA9\xFA,0790101,a@example.com\r\n";

#[test]
fn big5_user_defined_characters_are_the_private_use_area_and_come_back_unchanged() {
    let f = parse(PUA_LINE, 10).expect("cp950 with a user-defined character");
    assert_eq!(f.encoding, FileEncoding::Big5);
    assert_eq!(
        f.rows[0].name, "王\u{E000}明",
        "0xFA40 is U+E000, not U+20547"
    );
    assert_eq!(f.rows[0].problem, None);
    // Every user-defined area, first and last code.
    for (code, pua) in [
        (b"\x81\x40", '\u{EEB8}'),
        (b"\xA0\xFE", '\u{EEB7}'),
        (b"\xC6\xA1", '\u{F6B1}'),
        (b"\xC8\xFE", '\u{F848}'),
        (b"\xFE\xFE", '\u{E310}'),
    ] {
        let mut line = b"A123456789,\xA4\xFD".to_vec();
        line.extend_from_slice(code);
        line.extend_from_slice(b",0790101,a@example.com\n");
        let f = parse(&line, 10).expect("user-defined area");
        assert_eq!(f.rows[0].name, format!("王{pua}"), "{code:02X?}");
    }
    let out = result_file(
        f.encoding,
        &[(
            1,
            "A123456789".into(),
            f.rows[0].name.clone(),
            RowReason::Accepted,
        )],
    );
    assert!(
        out.windows(6).any(|w| w == b"\xA4\xFD\xFA\x40\xA9\xFA"),
        "the name's cp950 bytes, 0xFA40 included"
    );
    assert!(!out.windows(2).any(|w| w == b"&#"), "no HTML entities");
}

#[test]
fn characters_cp950_lacks_are_written_as_a_question_mark_not_entities() {
    let out = result_file(
        FileEncoding::Big5,
        &[(
            2,
            "A123456789".into(),
            "陳\u{20547}ぁ犇".into(),
            RowReason::NameMismatch,
        )],
    );
    assert!(!out.windows(2).any(|w| w == b"&#"), "no HTML entities");
    // 陳 is 0xB3AF; the Hong Kong character, the kana and 犇 (U+7287, the issue's
    // `&#29319;`) have no cp950 code.
    assert!(out.windows(5).any(|w| w == b"\xB3\xAF???"), "{out:02X?}");
}

#[test]
fn result_file_fields_are_quoted_per_rfc_4180() {
    let names = ["陳,美麗", "say \"hi\"", "two\nlines", "plain"];
    let lines: Vec<_> = RowReason::ALL
        .iter()
        .zip(names.iter().cycle())
        .enumerate()
        .map(|(i, (r, n))| (i as i64 + 2, "A123456789".to_owned(), (*n).to_owned(), *r))
        .collect();
    for encoding in [FileEncoding::Utf8, FileEncoding::Big5] {
        let out = result_file(encoding, &lines);
        let text = match encoding {
            FileEncoding::Big5 => {
                let (t, bad) = encoding_rs::BIG5.decode_without_bom_handling(&out);
                assert!(!bad);
                t.into_owned()
            }
            _ => String::from_utf8(out).expect("utf8"),
        };
        let records = read_csv(text.trim_start_matches('\u{FEFF}'));
        assert_eq!(records.len(), lines.len() + 1);
        for (record, (row, _, name, reason)) in records.iter().skip(1).zip(&lines) {
            let (zh, en) = reason.text();
            assert_eq!(record.len(), 6, "{record:?}");
            assert_eq!(record[0], row.to_string());
            assert_eq!(&record[2], name);
            assert_eq!((record[4].as_str(), record[5].as_str()), (zh, en));
        }
    }
    // A reason with a comma stays one field.
    assert_eq!(csv_field("a, b"), "\"a, b\"");
}

/// An RFC 4180 reader (csv_core) for the tests.
fn read_csv(text: &str) -> Vec<Vec<String>> {
    let mut reader = csv_core::Reader::new();
    let mut input = text.as_bytes();
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = Vec::new();
    loop {
        let mut out = [0u8; 1024];
        let (result, read, written) = reader.read_field(input, &mut out);
        input = &input[read..];
        field.extend_from_slice(&out[..written]);
        match result {
            csv_core::ReadFieldResult::Field { record_end } => {
                record.push(String::from_utf8(std::mem::take(&mut field)).expect("utf8"));
                if record_end {
                    records.push(std::mem::take(&mut record));
                }
            }
            csv_core::ReadFieldResult::End => break,
            _ => {}
        }
    }
    records
}

#[test]
fn encoding_refusals_name_the_first_line_that_cannot_be_read() {
    let limits = Limits::new(1 << 20, 100);
    let line = |bytes: &[u8]| {
        parse_checked(bytes, &limits)
            .err()
            .map(|r| (r.problem, r.line))
    };
    // Line 3 has a byte that is neither UTF-8 nor cp950.
    assert_eq!(
        line(b"ID,name,birth,email\nA123456789,x,0790101,a@example.com\nB,\x80\x80,1,b\n"),
        Some((FileProblem::Encoding, Some(3)))
    );
    // UTF-8 for 3 lines, then a stray byte: the encoding that reads further names its line.
    let mut mostly_utf8 =
        "身分證號,姓名,出生日期,電子信箱\nA123456789,王小明,0790101,a@example.com\n\n"
            .as_bytes()
            .to_vec();
    mostly_utf8.extend_from_slice(b"B223456719,\xFF,0851225,b@example.com\n");
    assert_eq!(line(&mostly_utf8), Some((FileProblem::Encoding, Some(4))));
    assert_eq!(
        line(b"\xFF\xFEA\x00"),
        Some((FileProblem::Encoding, Some(1)))
    );
}

#[test]
fn a_utf8_bom_before_big5_bytes_is_refused_whole() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice("身分證號,姓名,出生日期,電子信箱\n".as_bytes());
    bytes.extend_from_slice(PUA_LINE);
    assert_eq!(parse(&bytes, 10).err(), Some(FileProblem::Encoding));
    let refusal = parse_checked(&bytes, &Limits::new(1 << 20, 10)).err();
    assert_eq!(refusal.and_then(|r| r.line), Some(2));
    // A BOM before Big5 on the first line: line 1.
    let mut first = b"\xEF\xBB\xBF".to_vec();
    first.extend_from_slice(PUA_LINE);
    assert_eq!(
        parse_checked(&first, &Limits::new(1 << 20, 10)).err(),
        Some(Refusal {
            problem: FileProblem::Encoding,
            line: Some(1)
        })
    );
}

#[test]
fn binary_files_are_not_text_or_spreadsheets() {
    let png = b"\x89PNG\r\n\x1A\n\x00\x00\x00\rIHDR\x00\x00\x00\x01".to_vec();
    assert_eq!(parse(&png, 10).err(), Some(FileProblem::NotText));
    assert_eq!(
        parse(b"\xFF\xD8\xFF\xE0\x00\x10JFIF", 10).err(),
        Some(FileProblem::NotText)
    );
    assert_eq!(
        parse(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n", 10).err(),
        Some(FileProblem::NotText)
    );
    assert_eq!(
        parse(b"GIF89a\x01\x00", 10).err(),
        Some(FileProblem::NotText)
    );
    // A NUL anywhere (a text file never has one).
    let mut nul = "A123456789,王小明,0790101,a@example.com\n"
        .repeat(5)
        .into_bytes();
    nul.push(0);
    assert_eq!(parse(&nul, 10).err(), Some(FileProblem::NotText));
    // A zip that is not a workbook.
    let zip = {
        use std::io::Write as _;
        let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
        z.start_file("photo.txt", zip::write::SimpleFileOptions::default())
            .expect("entry");
        z.write_all(b"hello").expect("write");
        z.finish().expect("zip").into_inner()
    };
    assert_eq!(parse(&zip, 10).err(), Some(FileProblem::NotText));
    // Old .xls stays `unsupported_type`.
    assert_eq!(
        parse(&[0xD0, 0xCF, 0x11, 0xE0, 0, 0], 10).err(),
        Some(FileProblem::UnsupportedType)
    );
}

#[test]
fn the_header_is_found_below_title_rows() {
    let text = "113年度 員工健保卡註冊名冊\n製表日期：113/05/01\n\
                身分證號,姓名,出生日期,電子信箱,手機\n\
                A123456789,王小明,0790101,a@example.com,0912345678\n";
    let f = parse(text.as_bytes(), 10).expect("parses");
    assert_eq!(reasons(&f), vec![(4, None)], "the titles are not data");
    // A data line before the header keeps its result.
    let text = "A123456788,壞號碼,0790101,b@example.com\n身分證號,姓名,出生日期,電子信箱\n";
    let f = parse(text.as_bytes(), 10).expect("parses");
    assert_eq!(reasons(&f), vec![(1, Some(RowReason::InvalidId))]);
    // An .xlsx with a title merged over A1:E1.
    let mut rows = vec![(1, cells(&[("A1", "員工名冊")]))];
    rows.push((
        2,
        cells(&[
            ("A2", "身分證號"),
            ("B2", "姓名"),
            ("C2", "出生日期"),
            ("D2", "電子信箱"),
        ]),
    ));
    rows.push((3, person(3, b'A')));
    let x = sheet(None, &rows).replace(
        "</sheetData>",
        "</sheetData><mergeCells count=\"1\"><mergeCell ref=\"A1:E1\"/></mergeCells>",
    );
    let f = parse(&xlsx(&x, None), 10).expect("xlsx");
    assert_eq!(reasons(&f), vec![(3, None)]);
}

/// A workbook of several sheets `(name, worksheet XML)`, with `styles` as xl/styles.xml.
fn workbook(sheets: &[(&str, String)], styles: Option<&str>) -> Vec<u8> {
    use std::io::Write as _;
    let mut book = String::from("<?xml version=\"1.0\"?><workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets>");
    let mut rels = String::from("<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">");
    let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, (name, xml)) in sheets.iter().enumerate() {
        let n = i + 1;
        book.push_str(&format!(
            "<sheet name=\"{name}\" sheetId=\"{n}\" r:id=\"rId{n}\"/>"
        ));
        rels.push_str(&format!("<Relationship Id=\"rId{n}\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet{n}.xml\"/>"));
        parts.push((
            format!("xl/worksheets/sheet{n}.xml"),
            xml.as_bytes().to_vec(),
        ));
    }
    book.push_str("</sheets></workbook>");
    rels.push_str("</Relationships>");
    parts.push(("[Content_Types].xml".into(), b"<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/></Types>".to_vec()));
    parts.push(("_rels/.rels".into(), b"<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>".to_vec()));
    parts.push(("xl/workbook.xml".into(), book.into_bytes()));
    parts.push(("xl/_rels/workbook.xml.rels".into(), rels.into_bytes()));
    if let Some(st) = styles {
        parts.push(("xl/styles.xml".into(), st.as_bytes().to_vec()));
    }
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, body) in parts {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("entry");
        zip.write_all(&body).expect("write");
    }
    zip.finish().expect("zip").into_inner()
}

/// Cell style 1 is a date (built-in format 14, `m/d/yyyy`); style 2 the number format `0`.
const DATE_STYLES: &str = "<?xml version=\"1.0\"?><styleSheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><cellXfs count=\"3\"><xf numFmtId=\"0\"/><xf numFmtId=\"14\" applyNumberFormat=\"1\"/><xf numFmtId=\"1\" applyNumberFormat=\"1\"/></cellXfs></styleSheet>";

#[test]
fn xlsx_date_cells_are_roc_dates_and_numbers_their_digits() {
    let x = "<?xml version=\"1.0\"?><worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>\
        <row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>A123456789</t></is></c><c r=\"B1\" t=\"inlineStr\"><is><t>王小明</t></is></c>\
        <c r=\"C1\" s=\"1\"><v>32874</v></c><c r=\"D1\" t=\"inlineStr\"><is><t>a@example.com</t></is></c><c r=\"E1\" s=\"2\"><v>912345678</v></c></row>\
        <row r=\"2\"><c r=\"A2\" t=\"inlineStr\"><is><t>B223456719</t></is></c><c r=\"B2\" t=\"inlineStr\"><is><t>陳美麗</t></is></c>\
        <c r=\"C2\" t=\"d\"><v>1996-12-25T00:00:00</v></c><c r=\"D2\" t=\"inlineStr\"><is><t>b@example.com</t></is></c><c r=\"E2\"><v>1234567890</v></c></row>\
        </sheetData></worksheet>".to_owned();
    let f = parse(&workbook(&[("S", x)], Some(DATE_STYLES)), 10).expect("xlsx");
    assert_eq!(f.rows[0].birth_date, "0790101", "1990-01-01 is 民國 79");
    assert_eq!(f.rows[0].problem, None);
    assert_eq!(f.rows[0].mobile.as_deref(), Some("0912345678"));
    assert_eq!(f.rows[1].birth_date, "0851225");
    assert_eq!(
        f.rows[1].mobile.as_deref(),
        Some("1234567890"),
        "never 1.23E+9"
    );
}

#[test]
fn xlsx_the_sheet_with_the_header_is_used_and_the_others_named() {
    let notes = sheet(None, &[(1, cells(&[("A1", "填寫說明：每列一人")]))]);
    let header = cells(&[
        ("A1", "身分證號"),
        ("B1", "姓名"),
        ("C1", "出生日期"),
        ("D1", "電子信箱"),
    ]);
    let list = sheet(None, &[(1, header), (2, person(2, b'A'))]);
    let other = sheet(None, &[(1, cells(&[("A1", "x"), ("B1", "y")]))]);
    let f = parse(
        &workbook(&[("說明", notes), ("名單", list), ("備註", other)], None),
        10,
    )
    .expect("xlsx");
    assert_eq!(reasons(&f), vec![(2, None)]);
    assert_eq!(f.sheet.as_deref(), Some("名單"));
    assert_eq!(f.other_sheets, vec!["說明".to_owned(), "備註".to_owned()]);
    // Without a header anywhere: the first sheet with values, the others named.
    let f = parse(
        &workbook(
            &[
                ("A", sheet(None, &[(1, person(1, b'A'))])),
                ("B", sheet(None, &[])),
            ],
            None,
        ),
        10,
    )
    .expect("xlsx");
    assert_eq!((f.sheet.as_deref(), f.other_sheets.len()), (Some("A"), 1));
}

#[test]
fn xlsx_every_sheet_read_shares_the_limits() {
    // Two sheets of 300 cells × 1000 bytes: each alone inside the 512 KiB cell-text budget
    // of a 256 KiB upload, together over it.
    let big = |first: u32| {
        let rows: Vec<(u32, Cells)> = (first..first + 60)
            .map(|r| {
                let c = ['A', 'B', 'C', 'D', 'E']
                    .iter()
                    .map(|c| (format!("{c}{r}"), "z".repeat(1000)))
                    .collect();
                (r, c)
            })
            .collect();
        sheet(None, &rows)
    };
    let limits = Limits::new(256 * 1024, 1000);
    assert!(parse_with(&workbook(&[("one", big(1))], None), &limits).is_ok());
    assert_eq!(
        parse_with(
            &workbook(&[("one", big(1)), ("two", big(1))], None),
            &limits
        )
        .err(),
        Some(FileProblem::TooLargeDecompressed)
    );
}

#[test]
fn a_user_defined_character_stands_for_exactly_one_character_of_the_record() {
    assert!(name_matches("王小明", "王小明"));
    assert!(name_matches(" 王小明 ", "王小明"));
    assert!(!name_matches("王小明", "王大明"));
    // U+E000 (0xFA40) for the record's rare character, in Unicode or as a PUA code.
    assert!(name_matches("王䶮明", "王\u{E000}明"));
    assert!(
        name_matches("王𠀋明", "王\u{E000}明"),
        "one character, even outside the BMP"
    );
    assert!(name_matches("王\u{E000}明", "王\u{E000}明"));
    assert!(name_matches("王䶮\u{20547}", "王\u{E000}\u{F848}"));
    // Every other character must match, and the lengths too.
    assert!(!name_matches("陳䶮明", "王\u{E000}明"));
    assert!(!name_matches("王明", "王\u{E000}明"));
    assert!(!name_matches("王大小明", "王\u{E000}明"));
    // The record's PUA character is not a wildcard for the file.
    assert!(!name_matches("王\u{E000}明", "王小明"));
    assert!(is_user_defined('\u{E000}') && is_user_defined('\u{F8FF}') && !is_user_defined('王'));
}
