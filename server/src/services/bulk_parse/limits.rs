//! The bounds of one file's parse (issue 10): nothing is allocated from what a file declares.

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
    pub(super) fn last_row(&self) -> u64 {
        u64::try_from(self.max_rows)
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }
}
