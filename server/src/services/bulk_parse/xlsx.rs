//! .xlsx: the zip is checked with counting readers first, then calamine streams the sheets
//! cell by cell, in order, until one has the header row: that sheet is used (without one,
//! the first sheet with values), the others are named in the result. All sheets read share
//! one cell-text budget. Date cells become the ROC date they show; numbers their digits.

use std::collections::BTreeMap;
use std::io::{BufReader, Cursor, Read};

use nhi_protocol::units::FileProblem;

use super::*;

/// The sheet used and the workbook's other sheets.
pub(super) type SheetNames = (Option<String>, Vec<String>);

/// Checks the zip, then streams the sheets' cells (see the module documentation) and hands
/// the chosen sheet's rows to `rows`.
pub(super) fn xlsx_rows(
    bytes: &[u8],
    limits: &Limits,
    rows: &mut Rows,
) -> Result<SheetNames, FileProblem> {
    check_zip(bytes, limits)?;
    // calamine does arithmetic on cell references without overflow checks: a crafted
    // reference panics where overflow checks are on (debug builds). Such a file is unreadable.
    let (mut names, chosen, sheet) =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_sheets(bytes, limits)))
            .map_err(|_| FileProblem::Unreadable)??;
    sheet.into_rows(rows)?;
    let used = (chosen < names.len()).then(|| names.remove(chosen));
    Ok((used, names))
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
    // A zip without a workbook part is some other zip (a photo album, a program…).
    let workbook = zip.file_names().any(|n| {
        n.is_ok_and(|n| {
            let n = n.to_ascii_lowercase();
            n == "workbook.xml" || n.ends_with("/workbook.xml")
        })
    });
    if !workbook {
        return Err(FileProblem::NotText);
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

/// The workbook's sheet names, the index of the one to use and its cells.
fn read_sheets(bytes: &[u8], limits: &Limits) -> Result<(Vec<String>, usize, Sheet), FileProblem> {
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|_| FileProblem::Unreadable)?;
    let names = book.sheet_names();
    if names.is_empty() {
        // A zip that opens as a workbook has sheets: this one is some other zip.
        return Err(FileProblem::NotText);
    }
    let mut text_bytes = 0u64;
    let mut first_with_values = None;
    for (i, name) in names.iter().enumerate() {
        let sheet = read_sheet(&mut book, name, limits, &mut text_bytes)?;
        if sheet.has_header() {
            return Ok((names, i, sheet));
        }
        if first_with_values.is_none() && sheet.first_col.is_some() {
            first_with_values = Some((i, sheet));
        }
    }
    let (i, sheet) = first_with_values.unwrap_or((0, Sheet::default()));
    Ok((names, i, sheet))
}

/// One sheet's cells with a value; `text_bytes` counts the kept text of all sheets read.
fn read_sheet<RS: std::io::Read + std::io::Seek>(
    book: &mut calamine::Xlsx<RS>,
    name: &str,
    limits: &Limits,
    text_bytes: &mut u64,
) -> Result<Sheet, FileProblem> {
    use calamine::{Data, XlsxError};
    let mut cells = match book.worksheet_cells_reader(name) {
        Ok(cells) => cells,
        // A chart sheet: no cells.
        Err(XlsxError::NotAWorksheet(_)) => return Ok(Sheet::default()),
        Err(_) => return Err(FileProblem::Unreadable),
    };
    let mut sheet = Sheet::default();
    while let Some(cell) = cells.next_cell().map_err(|_| FileProblem::Unreadable)? {
        let (row, col) = cell.get_position();
        let (text, numeric) = match Data::from(cell.get_value().clone()) {
            Data::Empty => continue,
            Data::String(s) => (s, false),
            // A date cell: the ROC date it shows (民國年月日).
            Data::DateTime(d) if d.is_datetime() => {
                let (y, m, day, ..) = d.to_ymd_hms_milli();
                (roc_date(i64::from(y), m, day), false)
            }
            Data::DateTimeIso(iso) => (iso_to_roc(&iso).unwrap_or(iso), false),
            // Numbers lose leading zeros in spreadsheets: restored later, where the column
            // has a fixed width (ROC birth date 7 digits, mobile 10 digits). A whole number
            // is its digits (never `1.23E+9`).
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
        *text_bytes = text_bytes.saturating_add(u64::try_from(text.len()).unwrap_or(u64::MAX));
        if *text_bytes > limits.max_cell_text_bytes {
            return Err(FileProblem::TooLargeDecompressed);
        }
        let row_cells = sheet.rows.entry(row).or_default();
        // The same cell twice: the last one counts.
        row_cells.retain(|(c, _, _)| *c != col);
        row_cells.push((col, text, numeric));
    }
    sheet.find_columns();
    Ok(sheet)
}

/// A Gregorian date as the ROC date `yyyMMdd`; before 民國 1 it stays `yyyy-MM-dd` (and is
/// an invalid birth date).
fn roc_date(year: i64, month: u8, day: u8) -> String {
    let roc = year - 1911;
    if roc >= 1 {
        format!("{roc:03}{month:02}{day:02}")
    } else {
        format!("{year:04}-{month:02}-{day:02}")
    }
}

/// `yyyy-MM-dd…` (a cell of type `d`) as the ROC date.
fn iso_to_roc(iso: &str) -> Option<String> {
    let date = iso.get(..10)?;
    let mut parts = date.split('-');
    let year = parts.next()?.parse::<i64>().ok()?;
    let month = parts.next()?.parse::<u8>().ok()?;
    let day = parts.next()?.parse::<u8>().ok()?;
    Some(roc_date(year, month, day))
}

impl Sheet {
    /// The used columns: from the first column of the rows with two or more values (a
    /// title merged over the columns has one), or of all rows when none has.
    fn find_columns(&mut self) {
        let any_wide = self.rows.values().any(|r| r.len() >= 2);
        let cols = self
            .rows
            .values()
            .filter(|r| !any_wide || r.len() >= 2)
            .flat_map(|r| r.iter().map(|(c, _, _)| *c));
        let (min, max) = cols.fold((None, 0), |(min, max): (Option<u32>, u32), c| {
            (Some(min.map_or(c, |m| m.min(c))), max.max(c))
        });
        self.first_col = min;
        self.last_col = max;
    }

    /// Whether one of the first rows (as many as may stand above a header, and the header)
    /// is the header.
    fn has_header(&self) -> bool {
        let Some(first_col) = self.first_col else {
            return false;
        };
        self.rows.values().take(MAX_TITLE_ROWS + 1).any(|r| {
            let mut cells: Vec<(u32, &str)> = r
                .iter()
                .filter(|(c, _, _)| *c >= first_col)
                .map(|(c, t, _)| (*c, t.as_str()))
                .collect();
            cells.sort_unstable();
            let first = cells.first().is_some_and(|(c, _)| *c == first_col);
            let texts: Vec<String> = cells.iter().map(|(_, t)| (*t).to_owned()).collect();
            first && is_header(&texts)
        })
    }

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
                if col < first_col {
                    // A title left of the used columns.
                    continue;
                }
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
