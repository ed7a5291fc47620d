//! National ID numbers (身分證統一編號) and resident certificate numbers (居留證統一證號).
//!
//! Accepted forms (DESIGN.md "NHI card facts"):
//! - national ID: a letter, `1`/`2`, eight digits;
//! - new-format resident number (since 2021): a letter, `8`/`9`, eight digits;
//! - old-format resident number (until 2021, valid until 2031): two letters, eight digits.
//!
//! All share one checksum: the first letter becomes two digits (A=10 … Z=33, with the
//! historical order), the next character one digit (old format: the second letter's code
//! mod 10), then weights 1,9,8,7,6,5,4,3,2,1,1; valid when the sum is a multiple of 10.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A validated, upper-case ID number.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NationalId(String);

/// Which kind of holder an ID number belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    Citizen,
    ResidentNew,
    ResidentOld,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdError {
    /// Not a letter followed by 1/2/8/9 and eight digits, nor two letters and eight digits.
    #[error("an ID number is one letter, 1, 2, 8 or 9, and eight digits (or two letters and eight digits)")]
    Format,
    /// The form is right but the check digit is not.
    #[error("the ID number's check digit is wrong")]
    Checksum,
}

/// Two-digit code of a leading letter, in the order the Ministry of the Interior assigned.
fn letter_code(c: u8) -> Option<u32> {
    const CODES: [u32; 26] = [
        10, 11, 12, 13, 14, 15, 16, 17, 34, 18, 19, 20, 21, 22, 35, 23, 24, 25, 26, 27, 28, 29, 32,
        30, 31, 33,
    ];
    c.is_ascii_uppercase().then(|| CODES[usize::from(c - b'A')])
}

fn kind_of(b: &[u8]) -> Option<IdKind> {
    if b.len() != 10 || !b[2..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    letter_code(b[0])?;
    match b[1] {
        b'1' | b'2' => Some(IdKind::Citizen),
        b'8' | b'9' => Some(IdKind::ResidentNew),
        c if c.is_ascii_uppercase() => Some(IdKind::ResidentOld),
        _ => None,
    }
}

fn checksum_ok(b: &[u8]) -> bool {
    let Some(first) = letter_code(b[0]) else {
        return false;
    };
    let second = match letter_code(b[1]) {
        Some(code) => code % 10,
        None => u32::from(b[1] - b'0'),
    };
    let digits = [first / 10, first % 10, second]
        .into_iter()
        .chain(b[2..].iter().map(|d| u32::from(d - b'0')));
    const WEIGHTS: [u32; 11] = [1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1];
    digits.zip(WEIGHTS).map(|(d, w)| d * w).sum::<u32>() % 10 == 0
}

impl NationalId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn kind(&self) -> IdKind {
        kind_of(self.0.as_bytes()).unwrap_or(IdKind::Citizen)
    }

    /// `A12****789`: for display where the full number is not needed.
    pub fn masked(&self) -> String {
        crate::mask::mask_national_id(&self.0)
    }
}

impl FromStr for NationalId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        let upper = s.trim().to_ascii_uppercase();
        let b = upper.as_bytes();
        kind_of(b).ok_or(IdError::Format)?;
        if !checksum_ok(b) {
            return Err(IdError::Checksum);
        }
        Ok(Self(upper))
    }
}

impl TryFrom<String> for NationalId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        s.parse()
    }
}

impl From<NationalId> for String {
    fn from(id: NationalId) -> String {
        id.0
    }
}

impl fmt::Display for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NationalId {
    /// Masked, so that IDs do not end up in logs by accident.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NationalId({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_valid_numbers_of_every_kind() {
        for (s, kind) in [
            ("A123456789", IdKind::Citizen),
            ("B223456719", IdKind::Citizen),
            ("F135792464", IdKind::Citizen),
            ("A812345671", IdKind::ResidentNew),
            ("a123456789", IdKind::Citizen),
            (" A123456789 ", IdKind::Citizen),
        ] {
            let id: NationalId = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(id.kind(), kind, "{s}");
            assert_eq!(id.as_str(), s.trim().to_ascii_uppercase());
        }
    }

    #[test]
    fn old_format_resident_numbers_use_the_second_letter_mod_10() {
        // Find the valid check digit for AC0123456? by the rule, then check neighbours fail.
        let valid: Vec<NationalId> = (0..10)
            .filter_map(|d| format!("AC0123456{d}").parse().ok())
            .collect();
        assert_eq!(valid.len(), 1);
        assert_eq!(valid[0].kind(), IdKind::ResidentOld);
        // A=10 → 1,0; C=12 → 2; then 0123456 and d, weighted 1,9,8,7,6,5,4,3,2,1,1:
        // 1+0+16+0+6+10+12+12+10+6+d = 73+d ≡ 0 (mod 10) → d = 7
        assert_eq!(valid[0].as_str(), "AC01234567");
    }

    #[test]
    fn tells_format_from_checksum_errors() {
        for bad in [
            "",
            "A12345678",
            "A1234567890",
            "1234567890",
            "A323456789",
            "A12345678X",
            "Ａ123456789",
        ] {
            assert_eq!(bad.parse::<NationalId>(), Err(IdError::Format), "{bad:?}");
        }
        for bad in ["A123456788", "A812345670", "B223456710"] {
            assert_eq!(bad.parse::<NationalId>(), Err(IdError::Checksum), "{bad}");
        }
    }

    #[test]
    fn masks_and_serialises() {
        let id: NationalId = "A123456789".parse().expect("valid");
        assert_eq!(id.masked(), "A12****789");
        assert_eq!(format!("{id:?}"), "NationalId(A12****789)");
        assert_eq!(serde_json::to_string(&id).expect("json"), "\"A123456789\"");
        assert!(serde_json::from_str::<NationalId>("\"A123456788\"").is_err());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = s.parse::<NationalId>();
        }

        #[test]
        fn exactly_one_check_digit_is_valid(prefix in "[A-Z][1289][0-9]{7}") {
            let valid = (0..10).filter(|d| format!("{prefix}{d}").parse::<NationalId>().is_ok()).count();
            prop_assert_eq!(valid, 1);
        }

        #[test]
        fn display_round_trips(prefix in "[A-Z][A-Z1289][0-9]{7}") {
            for d in 0..10 {
                if let Ok(id) = format!("{prefix}{d}").parse::<NationalId>() {
                    prop_assert_eq!(id.to_string().parse::<NationalId>(), Ok(id));
                }
            }
        }
    }
}
