//! The bulk registration file parser (F5) on arbitrary bytes: any input gives rows or a
//! whole-file problem, never a panic; the result file renders for whatever rows came out.
//!
//! Issue 17 adds the properties a file that *is* accepted must keep:
//! - an encoding refusal names a line inside the file, and only an encoding refusal has one;
//! - a Big5 (cp950) file's names — user-defined characters (PUA) included — come back from
//!   the Big5 result file exactly (every character read from cp950 has its code back), and
//!   the result file never holds an HTML entity;
//! - a name always matches itself (PUA characters included) and `name_matches` never panics.
//!
//! The limits are those of a 1 MiB upload (so an .xlsx may unpack to 8 MiB): small enough
//! that the zip-bomb seed in the corpus hits the decompression budget quickly.
//!
//! `cd server/fuzz && cargo +nightly fuzz run bulk_parse`
#![no_main]

use libfuzzer_sys::fuzz_target;
use nhi_protocol::units::{FileEncoding, FileProblem, RowReason};
use nhi_server::services::bulk_parse::{cp950, name_matches, parse_checked, result_file, Limits};

fuzz_target!(|data: &[u8]| {
    let file = match parse_checked(data, &Limits::new(1 << 20, 10_000)) {
        Ok(file) => file,
        Err(refusal) => {
            match refusal.line {
                Some(line) => {
                    assert_eq!(refusal.problem, FileProblem::Encoding);
                    let lines = data.iter().filter(|b| **b == b'\n').count() as u64 + 1;
                    assert!((1..=lines).contains(&line), "line {line} of {lines}");
                }
                None => assert_ne!(refusal.problem, FileProblem::Encoding),
            }
            return;
        }
    };
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
    let out = result_file(file.encoding, &lines);
    assert!(!out.windows(2).any(|w| w == b"&#"), "no HTML entity");
    if file.encoding == FileEncoding::Big5 {
        let text = cp950::decode(&out).expect("the Big5 result file is cp950");
        for row in &file.rows {
            assert!(text.contains(&row.name), "{:?} comes back", row.name);
        }
    }
    for row in &file.rows {
        assert!(name_matches(&row.name, &row.name));
        let _ = name_matches(&row.national_id, &row.name);
    }
});
