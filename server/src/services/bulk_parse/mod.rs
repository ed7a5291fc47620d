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
//!
//! **Bounded work** ([`Limits`], issue 10): nothing is allocated from what a file *declares*
//! (row counts, sheet dimensions, zip sizes), only from what it really contains, and every
//! count is checked while reading:
//!
//! - CSV/TXT is read field by field ([`csv_core`]): a line with more than [`MAX_COLUMNS`]
//!   fields (`too_many_columns`), a field longer than [`MAX_FIELD_BYTES`] (`field_too_long`)
//!   or a data line past `upload_max_rows` (`too_many_rows`) stops the reading at once.
//! - .xlsx is first walked with the `zip` crate (the same version calamine reads with): at
//!   most [`MAX_ZIP_ENTRIES`] parts, and every part is decompressed through a counting
//!   `Read::take`, so the bytes *actually* produced are measured, not the sizes the headers
//!   claim; all parts together may unpack to [`UNPACKED_FACTOR`] × `upload_max_bytes`, the
//!   shared strings to [`SHARED_STRINGS_FACTOR`] × `upload_max_bytes` and at most
//!   [`Limits::max_shared_strings`] entries (declared `uniqueCount` included: calamine reserves
//!   it). Over any of these: `too_large_decompressed`. Only then does calamine open the file,
//!   and the first sheet is streamed cell by cell (`worksheet_cells_reader`): the declared
//!   `<dimension>` is ignored; a cell *with a value* right of column Z (`too_many_columns`)
//!   or below row `upload_max_rows + 1` (`too_many_rows`) refuses the file. Empty styled
//!   cells anywhere are fine.

//!
//! Parts: [`limits`] (the bounds), `text` (CSV/TXT and their encoding), `xlsx` (the zip
//! checks and the first sheet); the row checks and the result file are here.

mod limits;
mod text;
mod xlsx;

use std::collections::HashSet;

use nhi_protocol::units::{FileEncoding, FileProblem, RowReason};
use nhi_protocol::{Email, MobileNumber, NationalId, RocDate};

pub use self::limits::*;
pub use self::text::decode_text;
use self::text::text_rows;
use self::xlsx::xlsx_rows;

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

/// Detects the format and encoding and parses every line, with the limits of a file of up to
/// [`DEFAULT_UPLOAD_MAX_BYTES`] (or its own size, when larger) and `max_rows` data lines.
pub fn parse(bytes: &[u8], max_rows: usize) -> Result<ParsedFile, FileProblem> {
    parse_with(
        bytes,
        &Limits::new(DEFAULT_UPLOAD_MAX_BYTES.max(bytes.len()), max_rows),
    )
}

/// Detects the format and encoding and parses every line within `limits`.
pub fn parse_with(bytes: &[u8], limits: &Limits) -> Result<ParsedFile, FileProblem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(FileProblem::Empty);
    }
    let mut rows = Rows::new(limits.max_rows);
    let encoding = if bytes.starts_with(XLSX_MAGIC) {
        xlsx_rows(bytes, limits, &mut rows)?;
        FileEncoding::Xlsx
    } else if bytes.starts_with(OLE_MAGIC) || bytes.starts_with(b"%PDF") {
        return Err(FileProblem::UnsupportedType);
    } else {
        let (encoding, text) = decode_text(bytes)?;
        text_rows(&text, &mut rows)?;
        encoding
    };
    if rows.rows.is_empty() {
        return Err(FileProblem::Empty);
    }
    Ok(ParsedFile {
        encoding,
        rows: rows.rows,
    })
}

/// The data lines so far: skips blank lines and the header, checks each line, stops at the
/// row limit.
struct Rows {
    max_rows: usize,
    rows: Vec<ParsedRow>,
    seen: HashSet<String>,
    first: bool,
}

impl Rows {
    fn new(max_rows: usize) -> Self {
        Self {
            max_rows,
            rows: Vec::new(),
            seen: HashSet::new(),
            first: true,
        }
    }

    fn push(&mut self, row_number: i64, cells: Vec<String>) -> Result<(), FileProblem> {
        if cells.iter().all(|c| c.trim().is_empty()) {
            return Ok(());
        }
        if std::mem::take(&mut self.first) && is_header(&cells) {
            return Ok(());
        }
        if self.rows.len() >= self.max_rows {
            return Err(FileProblem::TooManyRows);
        }
        let mut row = check_cells(row_number, cells);
        if row.problem.is_none() && !self.seen.insert(row.national_id.clone()) {
            row.problem = Some(RowReason::DuplicateInFile);
        }
        self.rows.push(row);
        Ok(())
    }
}

fn is_header(cells: &[String]) -> bool {
    let first = cells.first().map(|c| c.trim()).unwrap_or_default();
    first.contains("身分證")
        || first.contains("身份證")
        || first.to_ascii_lowercase().contains("id")
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
mod tests;
