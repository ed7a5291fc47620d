//! The NHI card number and the card's 57-byte basic-data record.
//!
//! Record layout (DESIGN.md "NHI card facts"; agrees with magiclen/tw-nhi-icc-service and
//! windperson/TaiwanHealthCardDemo):
//!
//! | bytes  | field                                  |
//! |--------|----------------------------------------|
//! | 0..12  | card number, ASCII digits              |
//! | 12..32 | name, Big5, padded with NUL or space   |
//! | 32..42 | ID number, ASCII                       |
//! | 42..49 | birth date, ROC `yyyMMdd`              |
//! | 49     | sex, `M` / `F`                         |
//! | 50..57 | card issue date, ROC `yyyMMdd`         |

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::date::{RocDate, RocDateError};
use crate::id::{IdError, NationalId};
use crate::mask::{mask_middle, mask_name};
use crate::sex::Sex;

pub const RECORD_LEN: usize = 57;
const CARD_NUMBER: Range<usize> = 0..12;
const NAME: Range<usize> = 12..32;
const NATIONAL_ID: Range<usize> = 32..42;
const BIRTH_DATE: Range<usize> = 42..49;
const SEX: usize = 49;
const ISSUE_DATE: Range<usize> = 50..57;
pub const NAME_MAX_BYTES: usize = NAME.end - NAME.start;

/// The 12-digit number printed on the NHI card (健保卡號).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CardNumber(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardNumberError {
    #[error("a card number is 12 digits")]
    Format,
}

impl CardNumber {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `0000****5678`.
    pub fn masked(&self) -> String {
        crate::mask::mask_card_number(&self.0)
    }
}

impl FromStr for CardNumber {
    type Err = CardNumberError;
    fn from_str(s: &str) -> Result<Self, CardNumberError> {
        let s = s.trim();
        let ok = s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| Self(s.to_string()))
            .ok_or(CardNumberError::Format)
    }
}

impl TryFrom<String> for CardNumber {
    type Error = CardNumberError;
    fn try_from(s: String) -> Result<Self, CardNumberError> {
        s.parse()
    }
}

impl From<CardNumber> for String {
    fn from(c: CardNumber) -> String {
        c.0
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({})", self.masked())
    }
}

/// What the card tells about its holder, without a PIN. Reading it proves nothing: see
/// [`crate::card_proof`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CardBasicData {
    pub card_number: CardNumber,
    pub name: String,
    pub national_id: NationalId,
    pub birth_date: RocDate,
    pub sex: Sex,
    pub issue_date: RocDate,
}

/// Why a record could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "field")]
pub enum CardDataError {
    #[error("the card returned {len} bytes of basic data, expected {RECORD_LEN}")]
    Length { len: usize },
    #[error("the card number on the card is not 12 digits")]
    CardNumber,
    #[error("the name on the card is empty or not valid Big5")]
    Name,
    #[error("the name needs {bytes} bytes in Big5; the card holds {NAME_MAX_BYTES}")]
    NameTooLong { bytes: usize },
    #[error("the ID number on the card is invalid: {0}")]
    NationalId(IdError),
    #[error("the birth date on the card is invalid: {0}")]
    BirthDate(RocDateError),
    #[error("the sex on the card is not M or F")]
    Sex,
    #[error("the issue date on the card is invalid: {0}")]
    IssueDate(RocDateError),
}

/// The byte real cards use after the name; both are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamePadding {
    Nul,
    Space,
}

fn ascii(bytes: &[u8]) -> Option<&str> {
    bytes
        .is_ascii()
        .then(|| std::str::from_utf8(bytes).ok())
        .flatten()
}

fn decode_name(raw: &[u8]) -> Result<String, CardDataError> {
    // NUL and space are never Big5 trail bytes, so trimming them cannot cut a character.
    let end = raw
        .iter()
        .rposition(|&b| b != 0 && b != b' ')
        .map_or(0, |p| p + 1);
    let start = raw[..end].iter().position(|&b| b != b' ').unwrap_or(end);
    let name = encoding_rs::BIG5
        .decode_without_bom_handling_and_without_replacement(&raw[start..end])
        .ok_or(CardDataError::Name)?;
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(CardDataError::Name);
    }
    Ok(name.into_owned())
}

impl CardBasicData {
    /// Decodes the 57 data bytes of a READ response (without the status word).
    pub fn decode(record: &[u8]) -> Result<Self, CardDataError> {
        if record.len() != RECORD_LEN {
            return Err(CardDataError::Length { len: record.len() });
        }
        let text = |r: Range<usize>| ascii(&record[r]);
        let card_number = text(CARD_NUMBER)
            .and_then(|s| s.parse().ok())
            .ok_or(CardDataError::CardNumber)?;
        let name = decode_name(&record[NAME])?;
        let national_id = text(NATIONAL_ID)
            .ok_or(CardDataError::NationalId(IdError::Format))?
            .parse()
            .map_err(CardDataError::NationalId)?;
        let birth_date = text(BIRTH_DATE)
            .ok_or(CardDataError::BirthDate(RocDateError::Format))?
            .parse()
            .map_err(CardDataError::BirthDate)?;
        let sex = Sex::from_code(record[SEX]).map_err(|_| CardDataError::Sex)?;
        let issue_date = text(ISSUE_DATE)
            .ok_or(CardDataError::IssueDate(RocDateError::Format))?
            .parse()
            .map_err(CardDataError::IssueDate)?;
        Ok(Self {
            card_number,
            name,
            national_id,
            birth_date,
            sex,
            issue_date,
        })
    }

    /// Encodes the record as a card stores it, the name padded with NUL bytes.
    pub fn encode(&self) -> Result<[u8; RECORD_LEN], CardDataError> {
        self.encode_padded(NamePadding::Nul)
    }

    pub fn encode_padded(&self, padding: NamePadding) -> Result<[u8; RECORD_LEN], CardDataError> {
        let (big5, _, unmappable) = encoding_rs::BIG5.encode(&self.name);
        if unmappable || self.name.is_empty() {
            return Err(CardDataError::Name);
        }
        if big5.len() > NAME_MAX_BYTES {
            return Err(CardDataError::NameTooLong { bytes: big5.len() });
        }
        let mut out = [0u8; RECORD_LEN];
        out[CARD_NUMBER].copy_from_slice(self.card_number.as_str().as_bytes());
        out[NAME].fill(match padding {
            NamePadding::Nul => 0,
            NamePadding::Space => b' ',
        });
        out[NAME.start..NAME.start + big5.len()].copy_from_slice(&big5);
        out[NATIONAL_ID].copy_from_slice(self.national_id.as_str().as_bytes());
        out[BIRTH_DATE].copy_from_slice(self.birth_date.to_string().as_bytes());
        out[SEX] = self.sex.code();
        out[ISSUE_DATE].copy_from_slice(self.issue_date.to_string().as_bytes());
        Ok(out)
    }

    /// The holder's data as shown on screen before the card is proven: 王○明, A12****789.
    pub fn masked(&self) -> MaskedCardData {
        MaskedCardData {
            card_number: self.card_number.masked(),
            name: mask_name(&self.name),
            national_id: self.national_id.masked(),
            birth_date: mask_middle(&self.birth_date.to_string(), 3, 0),
            sex: self.sex,
        }
    }
}

/// A display-only copy of [`CardBasicData`] with the identifying parts hidden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskedCardData {
    pub card_number: String,
    pub name: String,
    pub national_id: String,
    pub birth_date: String,
    pub sex: Sex,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> CardBasicData {
        CardBasicData {
            card_number: "000012345678".parse().expect("valid"),
            name: "王小明".into(),
            national_id: "A123456789".parse().expect("valid"),
            birth_date: "0790101".parse().expect("valid"),
            sex: Sex::Male,
            issue_date: "1050315".parse().expect("valid"),
        }
    }

    #[test]
    fn encodes_the_documented_layout() {
        let rec = sample().encode().expect("encodes");
        assert_eq!(&rec[0..12], b"000012345678");
        assert_eq!(&rec[12..18], &[0xA4, 0xFD, 0xA4, 0x70, 0xA9, 0xFA]); // 王小明 in Big5
        assert!(rec[18..32].iter().all(|&b| b == 0));
        assert_eq!(&rec[32..42], b"A123456789");
        assert_eq!(&rec[42..49], b"0790101"); // not from 43: a known bug in public code
        assert_eq!(rec[49], b'M');
        assert_eq!(&rec[50..57], b"1050315");
    }

    #[test]
    fn decodes_both_paddings_and_full_length_names() {
        for padding in [NamePadding::Nul, NamePadding::Space] {
            let rec = sample().encode_padded(padding).expect("encodes");
            assert_eq!(CardBasicData::decode(&rec), Ok(sample()));
        }
        let long = CardBasicData {
            name: "司馬司馬司馬司馬司馬".into(),
            ..sample()
        }; // 20 bytes
        let rec = long.encode().expect("fits exactly");
        assert_eq!(CardBasicData::decode(&rec).map(|d| d.name), Ok(long.name));
    }

    #[test]
    fn rejects_bad_records_with_their_own_error() {
        let good = sample().encode().expect("encodes");
        assert_eq!(
            CardBasicData::decode(&good[..56]),
            Err(CardDataError::Length { len: 56 })
        );
        assert_eq!(
            CardBasicData::decode(&[]),
            Err(CardDataError::Length { len: 0 })
        );
        let with = |i: usize, b: u8| {
            let mut r = good;
            r[i] = b;
            CardBasicData::decode(&r)
        };
        assert_eq!(with(3, b'x'), Err(CardDataError::CardNumber));
        assert_eq!(with(12, 0xFF), Err(CardDataError::Name));
        assert_eq!(
            with(41, b'0'),
            Err(CardDataError::NationalId(IdError::Checksum))
        );
        assert_eq!(
            with(45, b'9'),
            Err(CardDataError::BirthDate(RocDateError::Impossible))
        );
        assert_eq!(
            with(44, 0xA4),
            Err(CardDataError::BirthDate(RocDateError::Format))
        );
        assert_eq!(with(49, b'X'), Err(CardDataError::Sex));
        assert_eq!(
            with(52, b'x'),
            Err(CardDataError::IssueDate(RocDateError::Format))
        );
        let mut blank = good;
        blank[12..32].fill(0);
        assert_eq!(CardBasicData::decode(&blank), Err(CardDataError::Name));
    }

    #[test]
    fn encoding_rejects_names_the_card_cannot_hold() {
        let emoji = CardBasicData {
            name: "王😀".into(),
            ..sample()
        };
        assert_eq!(emoji.encode(), Err(CardDataError::Name));
        let long = CardBasicData {
            name: "司馬司馬司馬司馬司馬司".into(),
            ..sample()
        };
        assert_eq!(long.encode(), Err(CardDataError::NameTooLong { bytes: 22 }));
    }

    #[test]
    fn masks_for_display() {
        let m = sample().masked();
        assert_eq!(m.name, "王○明");
        assert_eq!(m.national_id, "A12****789");
        assert_eq!(m.card_number, "0000****5678");
        assert_eq!(m.birth_date, "079****");
    }

    #[test]
    fn card_numbers() {
        assert!("000012345678".parse::<CardNumber>().is_ok());
        for bad in [
            "",
            "00001234567",
            "0000123456789",
            "00001234567a",
            "００００12345678",
        ] {
            assert_eq!(
                bad.parse::<CardNumber>(),
                Err(CardNumberError::Format),
                "{bad}"
            );
        }
    }

    fn arb_data() -> impl Strategy<Value = CardBasicData> {
        (
            "[0-9]{12}",
            prop::sample::select(vec!["王小明", "陳美麗", "歐陽娜娜", "林", "NGUYEN VAN A"]),
            prop::sample::select(vec!["A123456789", "B223456719", "A812345671", "AC01234567"]),
            (1u16..=200, 1u8..=12, 1u8..=28),
            any::<bool>(),
        )
            .prop_map(|(card, name, id, (y, m, d), male)| CardBasicData {
                card_number: card.parse().expect("12 digits"),
                name: name.into(),
                national_id: id.parse().expect("valid"),
                birth_date: RocDate::from_roc(y, m, d).expect("valid day"),
                sex: if male { Sex::Male } else { Sex::Female },
                issue_date: RocDate::from_roc(y.max(80), m, d).expect("valid day"),
            })
    }

    proptest! {
        #[test]
        fn round_trips(data in arb_data()) {
            let rec = data.encode().expect("encodes");
            prop_assert_eq!(CardBasicData::decode(&rec), Ok(data));
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
            let _ = CardBasicData::decode(&bytes);
        }

        #[test]
        fn never_panics_on_corrupted_records(data in arb_data(), i in 0usize..RECORD_LEN, b in any::<u8>()) {
            let mut rec = data.encode().expect("encodes");
            rec[i] = b;
            let _ = CardBasicData::decode(&rec);
        }
    }
}
