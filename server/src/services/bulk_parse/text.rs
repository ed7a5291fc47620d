//! CSV/TXT: UTF-8 or Big5 as Windows writes it (cp950, detected), read field by field with
//! `csv_core`.

use std::borrow::Cow;

use nhi_protocol::units::{FileEncoding, FileProblem};

use super::*;

/// The 1-based line of a byte offset (`\n` is never part of a Big5 or UTF-8 sequence).
fn line_at(bytes: &[u8], offset: usize) -> u64 {
    let before = bytes.get(..offset).unwrap_or(bytes);
    let newlines = before.iter().filter(|b| **b == b'\n').count();
    u64::try_from(newlines)
        .unwrap_or(u64::MAX)
        .saturating_add(1)
}

/// UTF-8 (with or without BOM) when valid, else cp950 ([`super::cp950`]) when valid, else an
/// encoding refusal naming the first line that cannot be read: with a UTF-8 BOM, the first
/// line that is not UTF-8 (the BOM contradicts the file, so no other encoding is tried);
/// without, the encoding that reads further names its first unreadable line. A UTF-16 BOM is
/// an encoding refusal at line 1. UTF-8 is not copied. Binary files are told apart before
/// (see [`super::sniff`]).
pub fn decode_text(bytes: &[u8]) -> Result<(FileEncoding, Cow<'_, str>), Refusal> {
    let refuse = |offset: usize| Refusal {
        problem: FileProblem::Encoding,
        line: Some(line_at(bytes, offset)),
    };
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(refuse(0));
    }
    let (bom, body) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(body) => (3, body),
        None => (0, bytes),
    };
    let utf8_error = match std::str::from_utf8(body) {
        Ok(s) => return Ok((FileEncoding::Utf8, Cow::Borrowed(s))),
        Err(e) => bom + e.valid_up_to(),
    };
    if bom > 0 {
        return Err(refuse(utf8_error));
    }
    match cp950::decode(bytes) {
        Ok(s) => Ok((FileEncoding::Big5, Cow::Owned(s))),
        Err(big5_error) => Err(refuse(big5_error.max(utf8_error))),
    }
}

/// Reads the text field by field (never a whole line at once) and hands each line to `rows`.
pub(super) fn text_rows(text: &str, rows: &mut Rows) -> Result<(), FileProblem> {
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
