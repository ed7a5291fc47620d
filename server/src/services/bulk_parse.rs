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

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::io::{BufReader, Cursor, Read};

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

/// Most columns a line may have (A–Z): the format has 5, a few more are a malformed line,
/// more than this refuses the file.
pub const MAX_COLUMNS: usize = 26;
/// Longest field or cell, in bytes of UTF-8 (no field of the format needs more than 254).
pub const MAX_FIELD_BYTES: usize = 4096;
/// Most parts in an .xlsx zip (Excel writes 10–20, one more per sheet, drawing or image).
pub const MAX_ZIP_ENTRIES: usize = 1000;
/// Most bytes of part names in an .xlsx zip (each name is copied a few times).
pub const MAX_ZIP_NAME_BYTES: usize = 256 * 1024;
/// All parts of an .xlsx together may unpack to this many times `upload_max_bytes`.
///
/// Why 8: spreadsheet XML compresses 5–10×; a list of 200,000 people (the default
/// `upload_max_rows`) as Excel writes it is ≈ 8 MiB as .xlsx and unpacks to ≈ 55 MiB (38 MiB
/// sheet, 17 MiB shared strings), well inside 8 × 20 MiB = 160 MiB, while a zip bomb (deflate
/// reaches 1000:1) is cut off after 160 MiB of decompression (CPU only, no memory: every part
/// is streamed through a small buffer).
pub const UNPACKED_FACTOR: u64 = 8;
/// The shared-strings part (which calamine keeps in memory) may unpack to this many times
/// `upload_max_bytes`.
pub const SHARED_STRINGS_FACTOR: u64 = 2;
/// The cell text kept from a sheet (one shared string can fill many cells) may total this
/// many times `upload_max_bytes`.
pub const CELL_TEXT_FACTOR: u64 = 2;
/// `upload_max_bytes` assumed by [`parse`] (the configuration's default).
pub const DEFAULT_UPLOAD_MAX_BYTES: usize = 20 * 1024 * 1024;

/// What one file may cost; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most data lines (`upload_max_rows`).
    pub max_rows: usize,
    /// Decompressed bytes of all .xlsx parts together.
    pub max_unpacked_bytes: u64,
    /// Decompressed bytes of the shared-strings part.
    pub max_shared_strings_bytes: u64,
    /// Entries of the shared-strings table (declared or real).
    pub max_shared_strings: u64,
    /// Bytes of cell text kept from a sheet.
    pub max_cell_text_bytes: u64,
}

impl Limits {
    /// The limits for files of at most `upload_max_bytes` with at most `max_rows` data lines.
    pub fn new(upload_max_bytes: usize, max_rows: usize) -> Self {
        let bytes = u64::try_from(upload_max_bytes).unwrap_or(u64::MAX);
        let rows = u64::try_from(max_rows).unwrap_or(u64::MAX);
        Self {
            max_rows,
            max_unpacked_bytes: bytes.saturating_mul(UNPACKED_FACTOR),
            max_shared_strings_bytes: bytes.saturating_mul(SHARED_STRINGS_FACTOR),
            // Every cell of every allowed row its own string, and room for other sheets.
            max_shared_strings: rows
                .saturating_add(1)
                .saturating_mul(5)
                .saturating_add(10_000),
            max_cell_text_bytes: bytes.saturating_mul(CELL_TEXT_FACTOR),
        }
    }

    /// The last spreadsheet row (1-based) a value may be in: the data lines and a header.
    fn last_row(&self) -> u64 {
        u64::try_from(self.max_rows)
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }
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

/// UTF-8 (with or without BOM) when valid, else Big5 when valid, else an encoding error.
/// UTF-8 is not copied.
pub fn decode_text(bytes: &[u8]) -> Result<(FileEncoding, Cow<'_, str>), FileProblem> {
    if bytes.contains(&0) {
        return Err(FileProblem::Encoding);
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(body) {
        return Ok((FileEncoding::Utf8, Cow::Borrowed(s)));
    }
    encoding_rs::BIG5
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|s| (FileEncoding::Big5, s))
        .ok_or(FileProblem::Encoding)
}

fn is_header(cells: &[String]) -> bool {
    let first = cells.first().map(|c| c.trim()).unwrap_or_default();
    first.contains("身分證")
        || first.contains("身份證")
        || first.to_ascii_lowercase().contains("id")
}

/// Reads the text field by field (never a whole line at once) and hands each line to `rows`.
fn text_rows(text: &str, rows: &mut Rows) -> Result<(), FileProblem> {
    use csv_core::ReadFieldResult;
    let first_line = text.lines().next().unwrap_or_default();
    let delimiter = if first_line.contains('\t') && !first_line.contains(',') {
        b'\t'
    } else {
        b','
    };
    let mut reader = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
    let bytes = text.as_bytes();
    // One byte more than a field may have: a field that fills it is too long.
    let mut field = vec![0u8; MAX_FIELD_BYTES + 1];
    let mut field_len = 0usize;
    let mut cells: Vec<String> = Vec::new();
    let mut pos = 0usize;
    let mut record_start = None;
    let mut lines = LineCounter::default();
    loop {
        let input = bytes.get(pos..).unwrap_or_default();
        if record_start.is_none() {
            // The reader skips the empty lines before a record: the record starts after them.
            let skipped = input
                .iter()
                .take_while(|b| **b == b'\n' || **b == b'\r')
                .count();
            record_start = Some(pos + skipped);
        }
        let out = field.get_mut(field_len..).unwrap_or_default();
        let (result, read, written) = reader.read_field(input, out);
        pos += read;
        field_len += written;
        match result {
            ReadFieldResult::InputEmpty if input.is_empty() => break,
            // The field goes on in the next input (here: the end of the text).
            ReadFieldResult::InputEmpty => {}
            ReadFieldResult::OutputFull => return Err(FileProblem::FieldTooLong),
            ReadFieldResult::Field { record_end } => {
                if field_len > MAX_FIELD_BYTES {
                    return Err(FileProblem::FieldTooLong);
                }
                if cells.len() >= MAX_COLUMNS {
                    return Err(FileProblem::TooManyColumns);
                }
                let value = field
                    .get(..std::mem::take(&mut field_len))
                    .unwrap_or_default();
                cells.push(String::from_utf8_lossy(value).into_owned());
                if record_end {
                    let start = record_start.take().unwrap_or(pos);
                    let line = lines.line_of(bytes, start);
                    rows.push(line, std::mem::take(&mut cells))?;
                }
            }
            ReadFieldResult::End => break,
        }
    }
    Ok(())
}

/// Line numbers (1-based) of increasing byte offsets, counting each `\n` once.
#[derive(Default)]
struct LineCounter {
    offset: usize,
    newlines: u64,
}

impl LineCounter {
    fn line_of(&mut self, bytes: &[u8], offset: usize) -> i64 {
        if offset > self.offset {
            let seen = bytes.get(self.offset..offset).unwrap_or_default();
            let n = seen.iter().filter(|b| **b == b'\n').count();
            self.newlines += u64::try_from(n).unwrap_or(u64::MAX);
            self.offset = offset;
        }
        i64::try_from(self.newlines.saturating_add(1)).unwrap_or(i64::MAX)
    }
}

/// Checks the zip, then streams the first sheet's cells and hands its rows to `rows`.
fn xlsx_rows(bytes: &[u8], limits: &Limits, rows: &mut Rows) -> Result<(), FileProblem> {
    check_zip(bytes, limits)?;
    // calamine does arithmetic on cell references without overflow checks: a crafted
    // reference panics where overflow checks are on (debug builds). Such a file is unreadable.
    let sheet = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        read_first_sheet(bytes, limits)
    }))
    .map_err(|_| FileProblem::Unreadable)??;
    sheet.into_rows(rows)
}

/// A reader that counts the bytes it hands out.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count = self
            .count
            .saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        Ok(n)
    }
}

/// Walks every part of the zip, decompressing it (bounded) to measure what it really unpacks
/// to; counts the shared strings. calamine reads the same parts with the same zip crate, so
/// after this check what it decompresses is bounded by `limits`.
fn check_zip(bytes: &[u8], limits: &Limits) -> Result<(), FileProblem> {
    // The zip crate parses as many central-directory records as the archive declares; each
    // starts with this signature, so the file cannot hold more than it has signatures.
    let signatures = bytes.windows(4).filter(|w| *w == b"PK\x01\x02").count();
    if signatures > MAX_ZIP_ENTRIES {
        return Err(FileProblem::TooLargeDecompressed);
    }
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| FileProblem::Unreadable)?;
    let name_bytes: usize = zip.file_names().map(|n| n.map_or(0, |n| n.len())).sum();
    if zip.len() > MAX_ZIP_ENTRIES || name_bytes > MAX_ZIP_NAME_BYTES {
        return Err(FileProblem::TooLargeDecompressed);
    }
    let mut remaining = limits.max_unpacked_bytes;
    for i in 0..zip.len() {
        // A part that cannot be opened (encrypted, unknown compression) cannot be
        // decompressed by calamine either.
        let Ok(part) = zip.by_index(i) else {
            continue;
        };
        let shared = part
            .name()
            .is_ok_and(|n| n.to_ascii_lowercase().ends_with("sharedstrings.xml"));
        let cap = if shared {
            remaining.min(limits.max_shared_strings_bytes)
        } else {
            remaining
        };
        let mut reader = Counting {
            inner: part.take(cap.saturating_add(1)),
            count: 0,
        };
        let counted = if shared {
            count_shared_strings(&mut reader, limits)
        } else {
            Ok(())
        };
        // The rest of the part (a read error just ends it: calamine would stop there too).
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
        if reader.count > cap {
            return Err(FileProblem::TooLargeDecompressed);
        }
        counted?;
        remaining = remaining.saturating_sub(reader.count);
    }
    Ok(())
}

/// Counts the `<si>` entries of a shared-strings part (and checks the declared
/// `uniqueCount`, which calamine reserves room for), with calamine's XML settings.
fn count_shared_strings<R: Read>(part: &mut R, limits: &Limits) -> Result<(), FileProblem> {
    use quick_xml::events::Event;
    let mut xml = quick_xml::Reader::from_reader(BufReader::new(part));
    let config = xml.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    config.check_comments = false;
    config.expand_empty_elements = true;
    let mut buf = Vec::with_capacity(1024);
    let mut count = 0u64;
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e)) if e.local_name().as_ref() == "si" => {
                count += 1;
                if count > limits.max_shared_strings {
                    return Err(FileProblem::TooLargeDecompressed);
                }
            }
            Ok(Event::Start(e)) if e.local_name().as_ref() == "sst" => {
                if let Ok(Some(a)) = e.try_get_attribute("uniqueCount") {
                    if declared_count(a.value.as_bytes()) > limits.max_shared_strings {
                        return Err(FileProblem::TooLargeDecompressed);
                    }
                }
            }
            Ok(Event::Eof) => return Ok(()),
            // calamine reads this part when it opens the file and fails the same way.
            Err(_) => return Err(FileProblem::Unreadable),
            Ok(_) => {}
        }
    }
}

/// A declared count as calamine reads it (digits, leading zeros skipped); anything else is
/// ignored by calamine, so 0. Saturates instead of overflowing.
fn declared_count(raw: &[u8]) -> u64 {
    if raw.is_empty() || !raw.iter().all(u8::is_ascii_digit) {
        return 0;
    }
    raw.iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    })
}

/// The cells with a value of a sheet, by row (0-based), each `(column, text, numeric)`.
#[derive(Default)]
struct Sheet {
    rows: BTreeMap<u32, Vec<(u32, String, bool)>>,
    first_col: Option<u32>,
    last_col: u32,
}

fn read_first_sheet(bytes: &[u8], limits: &Limits) -> Result<Sheet, FileProblem> {
    use calamine::{Data, Reader, Xlsx, XlsxError};
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|_| FileProblem::Unreadable)?;
    let name = book
        .sheet_names()
        .into_iter()
        .next()
        .ok_or(FileProblem::Empty)?;
    let mut cells = match book.worksheet_cells_reader(&name) {
        Ok(cells) => cells,
        // A chart sheet first: no cells.
        Err(XlsxError::NotAWorksheet(_)) => return Ok(Sheet::default()),
        Err(_) => return Err(FileProblem::Unreadable),
    };
    let mut sheet = Sheet::default();
    let mut text_bytes = 0u64;
    while let Some(cell) = cells.next_cell().map_err(|_| FileProblem::Unreadable)? {
        let (row, col) = cell.get_position();
        let (text, numeric) = match Data::from(cell.get_value().clone()) {
            Data::Empty => continue,
            Data::String(s) => (s, false),
            // Numbers lose leading zeros in spreadsheets: restored later, where the column
            // has a fixed width (ROC birth date 7 digits, mobile 10 digits).
            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => (format!("{}", f as i64), true),
            Data::Int(n) => (n.to_string(), true),
            other => (other.to_string(), false),
        };
        if text.trim().is_empty() {
            continue;
        }
        if usize::try_from(col).map_or(true, |c| c >= MAX_COLUMNS) {
            return Err(FileProblem::TooManyColumns);
        }
        if u64::from(row) >= limits.last_row() {
            return Err(FileProblem::TooManyRows);
        }
        if text.len() > MAX_FIELD_BYTES {
            return Err(FileProblem::FieldTooLong);
        }
        text_bytes = text_bytes.saturating_add(u64::try_from(text.len()).unwrap_or(u64::MAX));
        if text_bytes > limits.max_cell_text_bytes {
            return Err(FileProblem::TooLargeDecompressed);
        }
        sheet.first_col = Some(sheet.first_col.map_or(col, |c| c.min(col)));
        sheet.last_col = sheet.last_col.max(col);
        let row_cells = sheet.rows.entry(row).or_default();
        // The same cell twice: the last one counts.
        row_cells.retain(|(c, _, _)| *c != col);
        row_cells.push((col, text, numeric));
    }
    Ok(sheet)
}

impl Sheet {
    /// The rows as the sheet's used range would give them: columns counted from the first
    /// used one, every row as wide as the range but trailing empty cells beyond the fifth
    /// dropped.
    fn into_rows(self, rows: &mut Rows) -> Result<(), FileProblem> {
        let Some(first_col) = self.first_col else {
            return Ok(());
        };
        let width =
            usize::try_from(self.last_col.saturating_sub(first_col)).unwrap_or(MAX_COLUMNS) + 1;
        for (row, row_cells) in self.rows {
            let last = row_cells
                .iter()
                .map(|(c, _, _)| {
                    usize::try_from(c.saturating_sub(first_col)).unwrap_or(MAX_COLUMNS)
                })
                .max()
                .unwrap_or(0);
            let len = if width >= 5 { (last + 1).max(5) } else { width };
            let mut cells = vec![String::new(); len];
            for (col, text, numeric) in row_cells {
                let rel = usize::try_from(col.saturating_sub(first_col)).unwrap_or(MAX_COLUMNS);
                if let Some(slot) = cells.get_mut(rel) {
                    *slot = if numeric { pad_number(rel, text) } else { text };
                }
            }
            rows.push(i64::from(row) + 1, cells)?;
        }
        Ok(())
    }
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
}
