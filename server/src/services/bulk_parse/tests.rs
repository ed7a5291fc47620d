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
