//! Big5 as Windows in Taiwan writes it (code page 950), decoded and encoded.
//!
//! `encoding_rs`'s `Big5` is the WHATWG Big5, that is Big5-HKSCS: it reads the user-defined
//! areas of cp950 (造字) as Hong Kong characters (0xFA40 → U+20547) and a few cp950 codes
//! differently. Here:
//!
//! - **User-defined codes** (0x8140–0xA0FE, 0xC6A1–0xC8FE, 0xFA40–0xFEFE) map to the Private
//!   Use Area exactly as Windows maps them (row by row, 157 codes a row):
//!   0xFA40–0xFEFE → U+E000–U+E310, 0x8E40–0xA0FE → U+E311–U+EEB7,
//!   0x8140–0x8DFE → U+EEB8–U+F6B0, 0xC6A1–0xC8FE → U+F6B1–U+F848; and back.
//! - **Assigned codes** (0xA140–0xA3BF, 0xA3E1, 0xA440–0xC67E, 0xC940–0xF9FE) are read with
//!   `encoding_rs`'s table, which agrees with cp950 there except 0xF9FE (cp950: U+2593);
//!   0xA3C0–0xA3E0 (control pictures in HKSCS) are not cp950.
//! - Anything else (a lone lead byte, 0x80, 0xFF, an unassigned code) is not cp950.
//!
//! Encoding writes a character only if decoding the bytes gives it back (so a Hong Kong
//! character is never written as a code Windows reads as a user-defined one).

/// The position of a trail byte in its row (0–156), if it is one.
fn trail_index(trail: u8) -> Option<u16> {
    match trail {
        0x40..=0x7E => Some(u16::from(trail - 0x40)),
        0xA1..=0xFE => Some(u16::from(trail - 0xA1) + 63),
        _ => None,
    }
}

/// The trail byte at a position in a row.
fn trail_byte(index: u16) -> u8 {
    let i = u8::try_from(index).unwrap_or(0);
    if i < 63 {
        0x40 + i
    } else {
        0xA1 + (i - 63)
    }
}

/// The user-defined areas: (first lead, first trail index, last lead, first PUA code point).
const EUDC: [(u8, u16, u8, u32); 4] = [
    (0xFA, 0, 0xFE, 0xE000),
    (0x8E, 0, 0xA0, 0xE311),
    (0x81, 0, 0x8D, 0xEEB8),
    // 0xC6A1: the row's 64th position.
    (0xC6, 63, 0xC8, 0xF6B1),
];

/// The PUA character of a user-defined code.
fn eudc_char(lead: u8, trail: u16) -> Option<char> {
    EUDC.iter().find_map(|&(first, start, last, base)| {
        if !(first..=last).contains(&lead) || (lead == first && trail < start) {
            return None;
        }
        let offset = u32::from(lead - first) * 157 + u32::from(trail) - u32::from(start);
        char::from_u32(base + offset)
    })
}

/// The user-defined code of a PUA character.
fn eudc_code(c: char) -> Option<[u8; 2]> {
    let cp = u32::from(c);
    EUDC.iter().find_map(|&(first, start, last, base)| {
        let size = (u32::from(last - first) + 1) * 157 - u32::from(start);
        let offset = cp.checked_sub(base).filter(|o| *o < size)? + u32::from(start);
        let lead = first + u8::try_from(offset / 157).ok()?;
        let trail = u16::try_from(offset % 157).ok()?;
        Some([lead, trail_byte(trail)])
    })
}

/// Whether a code is assigned in cp950 outside the user-defined areas.
fn assigned(code: u16) -> bool {
    matches!(code, 0xA140..=0xA3BF | 0xA3E1 | 0xA440..=0xC67E | 0xC940..=0xF9FE)
}

/// One code, computed (the tables below are built from this once).
fn decode_pair_slow(lead: u8, trail: u8) -> Option<char> {
    let index = trail_index(trail)?;
    if let Some(c) = eudc_char(lead, index) {
        return Some(c);
    }
    let code = u16::from(lead) << 8 | u16::from(trail);
    if !assigned(code) {
        return None;
    }
    if code == 0xF9FE {
        return Some('\u{2593}');
    }
    let pair = [lead, trail];
    let s = encoding_rs::BIG5.decode_without_bom_handling_and_without_replacement(&pair)?;
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// Codes per lead byte (0x40–0x7E, 0xA1–0xFE) and lead bytes (0x81–0xFE).
const ROW: usize = 157;
const LEADS: usize = 126;

/// Every two-byte code's character, by (lead − 0x81) × 157 + trail index.
fn decode_table() -> &'static [Option<char>] {
    static TABLE: std::sync::OnceLock<Vec<Option<char>>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = vec![None; LEADS * ROW];
        for (l, lead) in (0x81..=0xFEu8).enumerate() {
            for index in 0..ROW {
                let trail = trail_byte(u16::try_from(index).unwrap_or(0));
                if let Some(slot) = table.get_mut(l * ROW + index) {
                    *slot = decode_pair_slow(lead, trail);
                }
            }
        }
        table
    })
}

fn decode_pair(lead: u8, trail: u8) -> Option<char> {
    let l = usize::from(lead.checked_sub(0x81)?);
    let index = usize::from(trail_index(trail)?);
    decode_table().get(l * ROW + index).copied().flatten()
}

/// Every character's code (see [`encode_char_slow`]), built once from the decode table.
fn encode_table() -> &'static std::collections::HashMap<char, [u8; 2]> {
    static TABLE: std::sync::OnceLock<std::collections::HashMap<char, [u8; 2]>> =
        std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        decode_table()
            .iter()
            .flatten()
            .filter_map(|&c| encode_char_slow(c).map(|code| (c, code)))
            .collect()
    })
}

/// Decodes cp950; on failure, the byte offset of the first code that is not cp950.
pub fn decode(bytes: &[u8]) -> Result<String, usize> {
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 2);
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b.is_ascii() {
            out.push(char::from(b));
            i += 1;
            continue;
        }
        let c = bytes
            .get(i + 1)
            .and_then(|&trail| (0x81..=0xFE).contains(&b).then(|| decode_pair(b, trail)))
            .flatten()
            .ok_or(i)?;
        out.push(c);
        i += 2;
    }
    Ok(out)
}

/// The cp950 bytes of one character, if it has them.
pub fn encode_char(c: char) -> Option<[u8; 2]> {
    encode_table().get(&c).copied()
}

/// The cp950 bytes of one character, computed: a user-defined code for a PUA character,
/// else `encoding_rs`'s code if it reads back as the character.
fn encode_char_slow(c: char) -> Option<[u8; 2]> {
    if let Some(code) = eudc_code(c) {
        return Some(code);
    }
    if c == '\u{2593}' {
        return Some([0xF9, 0xFE]);
    }
    let mut buf = [0u8; 4];
    let (bytes, _, unmappable) = encoding_rs::BIG5.encode(c.encode_utf8(&mut buf));
    match (unmappable, bytes.as_ref()) {
        (false, &[lead, trail]) if decode_pair_slow(lead, trail) == Some(c) => Some([lead, trail]),
        _ => None,
    }
}

/// Encodes text in cp950; a character cp950 has no code for is written as `?` (what Windows
/// writes for it), never as an HTML entity.
pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(u8::try_from(u32::from(c)).unwrap_or(b'?'));
        } else if let Some(code) = encode_char(c) {
            out.extend_from_slice(&code);
        } else {
            out.push(b'?');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_defined_codes_are_the_windows_private_use_area() {
        for (code, cp) in [
            ([0xFA, 0x40], 0xE000),
            ([0xFE, 0xFE], 0xE310),
            ([0x8E, 0x40], 0xE311),
            ([0xA0, 0xFE], 0xEEB7),
            ([0x81, 0x40], 0xEEB8),
            ([0x8D, 0xFE], 0xF6B0),
            ([0xC6, 0xA1], 0xF6B1),
            ([0xC8, 0xFE], 0xF848),
        ] {
            let c = char::from_u32(cp).expect("char");
            assert_eq!(
                decode(&code).as_deref(),
                Ok(c.to_string().as_str()),
                "{code:02X?}"
            );
            assert_eq!(encode_char(c), Some(code), "U+{cp:04X}");
        }
        // Every user-defined code round-trips, and they fill U+E000–U+F848 exactly.
        let mut seen = 0u32;
        for lead in 0x81..=0xFEu8 {
            for trail in (0x40..=0x7Eu8).chain(0xA1..=0xFE) {
                let Some(c) = trail_index(trail).and_then(|t| eudc_char(lead, t)) else {
                    continue;
                };
                assert!(('\u{E000}'..='\u{F848}').contains(&c));
                assert_eq!(encode_char(c), Some([lead, trail]));
                seen += 1;
            }
        }
        assert_eq!(seen, 0xF848 - 0xE000 + 1);
    }

    #[test]
    fn assigned_codes_as_cp950_and_hkscs_refused() {
        assert_eq!(decode(&[0xA4, 0x40]).as_deref(), Ok("一"));
        assert_eq!(decode(&[0xA3, 0xE1]).as_deref(), Ok("€"));
        assert_eq!(decode(&[0xF9, 0xFE]).as_deref(), Ok("\u{2593}"));
        assert_eq!(decode(&[0xA3, 0xC0]), Err(0));
        assert_eq!(decode(b"ab\x80"), Err(2));
        assert_eq!(decode(b"a\xA4"), Err(1));
        // A Hong Kong character (encoding_rs reads 0xFA40 as it) has no cp950 code.
        assert_eq!(encode_char('\u{20547}'), None);
        assert_eq!(encode_char('ぁ'), None);
        assert_eq!(encode("王\u{20547}x"), b"\xA4\xFD?x".to_vec());
    }

    proptest::proptest! {
        /// What decodes encodes back to bytes that decode to the same text, with no `?`
        /// added (every character read from cp950 has its code).
        #[test]
        fn what_decodes_encodes_back(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
            pairs in proptest::collection::vec((0x81u8..=0xFE, 0x40u8..=0xFE), 0..64),
        ) {
            let mut all = bytes;
            all.extend(pairs.into_iter().flat_map(|(l, t)| [l, t]));
            for input in [&all[..], &all[..all.len() / 2]] {
                if let Ok(text) = decode(input) {
                    let out = encode(&text);
                    proptest::prop_assert_eq!(decode(&out), Ok(text.clone()));
                    proptest::prop_assert_eq!(
                        out.iter().filter(|b| **b == b'?').count(),
                        text.matches('?').count()
                    );
                }
            }
        }
    }
}
