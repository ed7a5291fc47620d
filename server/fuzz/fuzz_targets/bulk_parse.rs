//! The bulk registration file parser (F5) on arbitrary bytes: any input gives rows or a
//! whole-file problem, never a panic; the result file renders for whatever rows came out.
//!
//! The limits are those of a 1 MiB upload (so an .xlsx may unpack to 8 MiB): small enough
//! that the zip-bomb seed in the corpus hits the decompression budget quickly.
//!
//! `cd server/fuzz && cargo +nightly fuzz run bulk_parse`
#![no_main]

use libfuzzer_sys::fuzz_target;
use nhi_protocol::units::RowReason;
use nhi_server::services::bulk_parse::{parse_with, result_file, Limits};

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = parse_with(data, &Limits::new(1 << 20, 10_000)) {
        let lines: Vec<_> = file
            .rows
            .iter()
            .map(|r| {
                (
                    r.row_number,
                    r.national_id.clone(),
                    r.name.clone(),
                    r.problem.unwrap_or(RowReason::Accepted),
                )
            })
            .collect();
        let _ = result_file(file.encoding, &lines);
    }
});
