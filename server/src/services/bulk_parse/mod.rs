//! The bulk registration file (F5): CSV/TXT in UTF-8 or Big5 (cp950, detected), or .xlsx.
//!
//! Columns, in this order: ID number (身分證號), name (姓名), birth date (出生日期, ROC
//! `yyyMMdd`), email (電子信箱), mobile (手機, optional). An optional line that names the
//! columns is skipped, and title lines above it (`Rows`). Empty lines are skipped.
//! Binary files are refused before decoding (`not_text`); an encoding refusal names its line
//! ([`Refusal`], [`parse_checked`]). cp950's user-defined characters are PUA characters
//! ([`cp950`]), and [`name_matches`] lets each stand for one character of the record. CSV/TXT separate fields by commas (or
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
//!   and the sheets are streamed cell by cell (`worksheet_cells_reader`), in order until one
//!   has the header, sharing one cell-text budget: the declared
//!   `<dimension>` is ignored; a cell *with a value* right of column Z (`too_many_columns`)
//!   or below row `upload_max_rows + 1` (`too_many_rows`) refuses the file. Empty styled
//!   cells anywhere are fine.

//!
//! Parts: [`limits`] (the bounds), [`cp950`] (Big5 as Windows writes it), `text` (CSV/TXT and
//! their encoding), `xlsx` (the zip checks and the sheets); the row checks and the result
//! file are here.

pub mod cp950;
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
    /// .xlsx: the sheet the rows come from.
    pub sheet: Option<String>,
    /// .xlsx: the workbook's other sheets, in order (not read as data).
    pub other_sheets: Vec<String>,
}

/// A whole-file refusal: the problem and, for an encoding refusal, the first line (1-based)
/// that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub problem: FileProblem,
    pub line: Option<u64>,
}

impl From<FileProblem> for Refusal {
    fn from(problem: FileProblem) -> Self {
        Self {
            problem,
            line: None,
        }
    }
}

const XLSX_MAGIC: &[u8] = b"PK\x03\x04";
const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0];

/// Signatures of files that are neither text nor a spreadsheet (checked before decoding).
const BINARY_MAGIC: &[&[u8]] = &[
    b"\x89PNG\r\n\x1A\n",
    b"\xFF\xD8\xFF", // JPEG
    b"GIF87a",
    b"GIF89a",
    b"%PDF",
    b"PK\x05\x06", // an empty zip
    b"PK\x07\x08", // a spanned zip
    b"\x1F\x8B",   // gzip
    b"Rar!\x1A\x07",
    b"7z\xBC\xAF\x27\x1C",
    b"{\\rtf", // RTF (Word's \"rich text\")
    b"\x7FELF",
    b"MZ", // a Windows program
];

/// Not a text file or a spreadsheet: a known binary signature, or a NUL byte (text never has
/// one). The old Excel format (OLE) is `unsupported_type`; a UTF-16 BOM is left to the
/// decoder (an encoding refusal at line 1: text, in an encoding that is not accepted).
fn sniff(bytes: &[u8]) -> Result<(), FileProblem> {
    if bytes.starts_with(OLE_MAGIC) {
        return Err(FileProblem::UnsupportedType);
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Ok(());
    }
    if BINARY_MAGIC.iter().any(|m| bytes.starts_with(m)) || bytes.contains(&0) {
        return Err(FileProblem::NotText);
    }
    Ok(())
}

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
    parse_checked(bytes, limits).map_err(|r| r.problem)
}

/// [`parse_with`], with the line an encoding refusal is at.
pub fn parse_checked(bytes: &[u8], limits: &Limits) -> Result<ParsedFile, Refusal> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(FileProblem::Empty.into());
    }
    let mut rows = Rows::new(limits.max_rows);
    let mut sheets = (None, Vec::new());
    let encoding = if bytes.starts_with(XLSX_MAGIC) {
        sheets = xlsx_rows(bytes, limits, &mut rows)?;
        FileEncoding::Xlsx
    } else {
        sniff(bytes)?;
        let (encoding, text) = decode_text(bytes)?;
        text_rows(&text, &mut rows)?;
        encoding
    };
    rows.finish()?;
    if rows.rows.is_empty() {
        return Err(FileProblem::Empty.into());
    }
    Ok(ParsedFile {
        encoding,
        rows: rows.rows,
        sheet: sheets.0,
        other_sheets: sheets.1,
    })
}

/// How many non-empty lines may stand above the header (a title, a date, a unit name).
pub const MAX_TITLE_ROWS: usize = 10;

/// The data lines so far: skips blank lines, finds the header (even below title rows),
/// checks each line, stops at the row limit.
///
/// Until the header is found, lines are held back: a header among the first
/// [`MAX_TITLE_ROWS`] + 1 non-empty lines drops the lines above it that have fewer than four
/// values (titles, not data; the others stay data lines); a line that is a valid data line, or more lines than that, ends the search and the held
/// lines are data.
struct Rows {
    max_rows: usize,
    rows: Vec<ParsedRow>,
    seen: HashSet<String>,
    /// `Some` while looking for the header: the lines held back.
    pending: Option<Vec<(i64, Vec<String>)>>,
}

impl Rows {
    fn new(max_rows: usize) -> Self {
        Self {
            max_rows,
            rows: Vec::new(),
            seen: HashSet::new(),
            pending: Some(Vec::new()),
        }
    }

    fn push(&mut self, row_number: i64, cells: Vec<String>) -> Result<(), FileProblem> {
        if cells.iter().all(|c| c.trim().is_empty()) {
            return Ok(());
        }
        let Some(pending) = self.pending.as_mut() else {
            return self.data(row_number, cells);
        };
        if is_header(&cells) {
            // The lines above the header with fewer than four values are titles; the
            // others are (misplaced) data lines and keep their results.
            let held = self.pending.take().unwrap_or_default();
            for (row_number, cells) in held {
                if filled(&cells) >= 4 {
                    self.data(row_number, cells)?;
                }
            }
            return Ok(());
        }
        let is_data = check_cells(row_number, cells.clone()).problem.is_none();
        pending.push((row_number, cells));
        if is_data || pending.len() > MAX_TITLE_ROWS {
            self.finish()?;
        }
        Ok(())
    }

    /// Ends the header search: the held lines are data.
    fn finish(&mut self) -> Result<(), FileProblem> {
        for (row_number, cells) in self.pending.take().unwrap_or_default() {
            self.data(row_number, cells)?;
        }
        Ok(())
    }

    fn data(&mut self, row_number: i64, cells: Vec<String>) -> Result<(), FileProblem> {
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

/// A header line: the first cell names the ID column and at least one other cell is filled
/// (a title merged over the columns fills only its first cell).
fn is_header(cells: &[String]) -> bool {
    let first = cells.first().map(|c| c.trim()).unwrap_or_default();
    let names_id = first.contains("身分證")
        || first.contains("身份證")
        || first.to_ascii_lowercase().contains("id");
    names_id && filled(cells) >= 2
}

fn filled(cells: &[String]) -> usize {
    cells.iter().filter(|c| !c.trim().is_empty()).count()
}

/// Whether a user-defined character (造字, cp950's private-use codes, read as U+E000–U+F8FF).
pub fn is_user_defined(c: char) -> bool {
    ('\u{E000}'..='\u{F8FF}').contains(&c)
}

/// Whether the file's name matches the insurance record's (both trimmed): the same
/// characters, except that each user-defined character of the file's name (a PUA character:
/// the office's own font has the rare character the record writes in Unicode, or in its own
/// PUA code) stands for exactly one character, any, of the record's. So `王\u{E000}明`
/// matches 王䶮明 and 王𠀋明 but not 王明 or 王大小明; a name without user-defined
/// characters must be equal.
pub fn name_matches(record: &str, file: &str) -> bool {
    let (record, file) = (record.trim(), file.trim());
    if !file.chars().any(is_user_defined) {
        return record == file;
    }
    record.chars().count() == file.chars().count()
        && record
            .chars()
            .zip(file.chars())
            .all(|(r, f)| r == f || is_user_defined(f))
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
/// (Big5 uploads get cp950, UTF-8 and .xlsx get UTF-8 with BOM). CRLF line ends; every field
/// quoted per RFC 4180 where it needs to be (a comma, a quote, a line break).
///
/// In cp950 the user-defined characters (PUA, see [`cp950`]) are written back as their codes,
/// so a name comes back byte for byte as it was uploaded; a character cp950 has no code for
/// (only text the server adds could have one: every name read from a Big5 file has its code)
/// is written as `?`, as Windows writes it, never as an HTML entity.
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
        let masked = nhi_protocol::mask::mask_national_id(id);
        text.push_str(&format!(
            "{row},{},{},{outcome},{},{}\r\n",
            csv_field(&masked),
            csv_field(name),
            csv_field(zh),
            csv_field(en),
        ));
    }
    match encoding {
        FileEncoding::Big5 => cp950::encode(&text),
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
