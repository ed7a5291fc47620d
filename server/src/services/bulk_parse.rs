//! The bulk registration file (F5): CSV/TXT in UTF-8 or Big5 (detected), or .xlsx.
//!
//! Columns, in this order: ID number (身分證號), name (姓名), birth date (出生日期, ROC
//! `yyyMMdd`), email (電子信箱), mobile (手機, optional). An optional first line that names
//! the columns is skipped. Empty lines are skipped. CSV/TXT separate fields by commas (or
//! tabs when the first line has tabs and no commas) and may quote them (`"…"`).
//!
//! The parser is pure (no I/O) and deterministic: a resumed job parses the stored file again
//! and gets exactly the same rows and numbers. Whole-file problems ([`FileProblem`]) refuse
//! the file; line problems become that row's [`RowReason`].

use std::collections::HashSet;
use std::io::Cursor;

use nhi_protocol::units::{FileEncoding, FileProblem, RowReason};
use nhi_protocol::{Email, MobileNumber, NationalId, RocDate};

/// One data line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRow {
    /// Line number in the file (1-based, the header line counts), or the spreadsheet row.
    pub row_number: i64,
    pub national_id: String,
    pub name: String,
    pub birth_date: String,
    pub email: String,
    pub mobile: Option<String>,
    /// `None` when the line passed every check the file alone can tell.
    pub problem: Option<RowReason>,
}

#[derive(Debug, Clone)]
pub struct ParsedFile {
    pub encoding: FileEncoding,
    pub rows: Vec<ParsedRow>,
}

const XLSX_MAGIC: &[u8] = b"PK\x03\x04";
const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0];

/// Detects the format and encoding and parses every line.
pub fn parse(bytes: &[u8], max_rows: usize) -> Result<ParsedFile, FileProblem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(FileProblem::Empty);
    }
    let (encoding, records) = if bytes.starts_with(XLSX_MAGIC) {
        (FileEncoding::Xlsx, xlsx_records(bytes)?)
    } else if bytes.starts_with(OLE_MAGIC) || bytes.starts_with(b"%PDF") {
        return Err(FileProblem::UnsupportedType);
    } else {
        let (encoding, text) = decode_text(bytes)?;
        (encoding, text_records(&text))
    };
    let mut rows = Vec::with_capacity(records.len());
    let mut seen = HashSet::with_capacity(records.len());
    let mut first = true;
    for (row_number, cells) in records {
        let blank = cells.iter().all(|c| c.trim().is_empty());
        if blank {
            continue;
        }
        if std::mem::take(&mut first) && is_header(&cells) {
            continue;
        }
        if rows.len() >= max_rows {
            return Err(FileProblem::TooManyRows);
        }
        let mut row = check_cells(row_number, cells);
        if row.problem.is_none() && !seen.insert(row.national_id.clone()) {
            row.problem = Some(RowReason::DuplicateInFile);
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(FileProblem::Empty);
    }
    Ok(ParsedFile { encoding, rows })
}

/// UTF-8 (with or without BOM) when valid, else Big5 when valid, else an encoding error.
pub fn decode_text(bytes: &[u8]) -> Result<(FileEncoding, String), FileProblem> {
    if bytes.contains(&0) {
        return Err(FileProblem::Encoding);
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(body) {
        return Ok((FileEncoding::Utf8, s.to_owned()));
    }
    encoding_rs::BIG5
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|s| (FileEncoding::Big5, s.into_owned()))
        .ok_or(FileProblem::Encoding)
}

fn is_header(cells: &[String]) -> bool {
    let first = cells.first().map(|c| c.trim()).unwrap_or_default();
    first.contains("身分證")
        || first.contains("身份證")
        || first.to_ascii_lowercase().contains("id")
}

type Records = Vec<(i64, Vec<String>)>;

fn text_records(text: &str) -> Records {
    let first_line = text.lines().next().unwrap_or_default();
    let delimiter = if first_line.contains('\t') && !first_line.contains(',') {
        b'\t'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line_before = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                // The position is where the reader started, before any blank lines it
                // skipped: count those to get the record's own line.
                let line = record.position().map_or(line_before, |p| {
                    let skipped = text
                        .as_bytes()
                        .get(usize::try_from(p.byte()).unwrap_or(usize::MAX)..)
                        .unwrap_or_default()
                        .iter()
                        .take_while(|b| **b == b'\n' || **b == b'\r')
                        .filter(|b| **b == b'\n')
                        .count();
                    p.line() + u64::try_from(skipped).unwrap_or(0)
                });
                out.push((
                    i64::try_from(line).unwrap_or(i64::MAX),
                    record.iter().map(str::to_owned).collect(),
                ));
            }
            // An unreadable record: keep its line as malformed (one cell that cannot pass).
            Err(e) => {
                let line = e.position().map_or(line_before, |p| p.line());
                out.push((
                    i64::try_from(line).unwrap_or(i64::MAX),
                    vec![String::new(); 1],
                ));
            }
        }
    }
    out
}

fn xlsx_records(bytes: &[u8]) -> Result<Records, FileProblem> {
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> =
        Xlsx::new(Cursor::new(bytes.to_vec())).map_err(|_| FileProblem::Unreadable)?;
    let range = book
        .worksheet_range_at(0)
        .ok_or(FileProblem::Empty)?
        .map_err(|_| FileProblem::Unreadable)?;
    let start_row = range.start().map_or(0, |(r, _)| r);
    let mut out = Vec::new();
    for (i, row) in range.rows().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(col, cell)| match cell {
                Data::Empty => String::new(),
                Data::String(s) => s.clone(),
                // Numbers lose leading zeros in spreadsheets: restore them where the column
                // has a fixed width (ROC birth date 7 digits, mobile 10 digits).
                Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
                    pad_number(col, format!("{}", *f as i64))
                }
                Data::Int(n) => pad_number(col, n.to_string()),
                other => other.to_string(),
            })
            .collect();
        let number = u64::from(start_row) + u64::try_from(i).unwrap_or(u64::MAX) + 1;
        out.push((i64::try_from(number).unwrap_or(i64::MAX), cells));
    }
    // Trailing empty columns in a spreadsheet are not columns.
    for (_, cells) in &mut out {
        while cells.len() > 5 && cells.last().is_some_and(|c| c.trim().is_empty()) {
            cells.pop();
        }
    }
    Ok(out)
}

fn pad_number(col: usize, digits: String) -> String {
    match col {
        2 if digits.len() < 7 => format!("{digits:0>7}"),
        4 if digits.len() == 9 && digits.starts_with('9') => format!("0{digits}"),
        _ => digits,
    }
}

/// A cell a spreadsheet would run as a formula (CSV injection).
fn is_formula(raw: &str) -> bool {
    raw.starts_with(['\t', '\r'])
        || raw.trim_start().starts_with([
            '=', '+', '-', '@', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
        ])
}

/// The checks one line allows on its own: column count, formulas, ID checksum, birth date,
/// email, mobile.
pub fn check_cells(row_number: i64, cells: Vec<String>) -> ParsedRow {
    let get = |i: usize| {
        cells
            .get(i)
            .map(|c| c.trim().to_owned())
            .unwrap_or_default()
    };
    let mut row = ParsedRow {
        row_number,
        national_id: get(0).to_ascii_uppercase(),
        name: get(1),
        birth_date: get(2),
        email: get(3),
        mobile: Some(get(4)).filter(|m| !m.is_empty()),
        problem: None,
    };
    // Keep what is stored short even for garbage lines.
    for field in [
        &mut row.national_id,
        &mut row.name,
        &mut row.birth_date,
        &mut row.email,
    ] {
        if field.chars().count() > 100 {
            *field = field.chars().take(100).collect();
        }
    }
    row.problem = if !(4..=5).contains(&cells.len()) {
        Some(RowReason::MalformedLine)
    } else if cells.iter().any(|c| is_formula(c)) {
        Some(RowReason::FormulaCell)
    } else if row.national_id.parse::<NationalId>().is_err() {
        Some(RowReason::InvalidId)
    } else if row.birth_date.parse::<RocDate>().is_err() {
        Some(RowReason::InvalidBirthDate)
    } else if row.email.is_empty() {
        Some(RowReason::EmailMissing)
    } else if row.email.parse::<Email>().is_err() {
        Some(RowReason::EmailInvalid)
    } else if row
        .mobile
        .as_ref()
        .is_some_and(|m| m.parse::<MobileNumber>().is_err())
    {
        Some(RowReason::MobileInvalid)
    } else {
        None
    };
    row
}

/// The result file: one line per row with its outcome and reason, in the upload's encoding
/// (Big5 uploads get Big5, UTF-8 and .xlsx get UTF-8 with BOM). CRLF line ends.
pub fn result_file(encoding: FileEncoding, lines: &[(i64, String, String, RowReason)]) -> Vec<u8> {
    let mut text = String::with_capacity(lines.len() * 64 + 128);
    text.push_str("列號,身分證號,姓名,結果,原因,Reason\r\n");
    for (row, id, name, reason) in lines {
        let (zh, en) = reason.text();
        let outcome = if *reason == RowReason::Accepted {
            "成功"
        } else {
            "失敗"
        };
        let masked = nhi_protocol::mask::mask_middle(id, 3, 3);
        text.push_str(&format!(
            "{row},{},{},{outcome},{zh},{en}\r\n",
            csv_field(&masked),
            csv_field(name),
        ));
    }
    match encoding {
        FileEncoding::Big5 => encoding_rs::BIG5.encode(&text).0.into_owned(),
        FileEncoding::Utf8 | FileEncoding::Xlsx => {
            let mut out = b"\xEF\xBB\xBF".to_vec();
            out.extend_from_slice(text.as_bytes());
            out
        }
    }
}

/// Quotes a field for the result file and defuses formulas (a leading `'`).
fn csv_field(s: &str) -> String {
    let s = if is_formula(s) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
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
        let (bytes, _, bad) =
            encoding_rs::BIG5.encode("A123456789,王小明,0790101,a@example.com\r\n");
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

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse(&bytes, 1000);
        }
    }
}
