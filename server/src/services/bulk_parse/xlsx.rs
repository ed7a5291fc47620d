//! .xlsx: the zip is checked with counting readers first, then calamine streams the first
//! sheet cell by cell.

use std::collections::BTreeMap;
use std::io::{BufReader, Cursor, Read};

use nhi_protocol::units::FileProblem;

use super::*;

/// Checks the zip, then streams the first sheet's cells and hands its rows to `rows`.
pub(super) fn xlsx_rows(bytes: &[u8], limits: &Limits, rows: &mut Rows) -> Result<(), FileProblem> {
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
