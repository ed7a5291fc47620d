//! Household number (戶號): eight letters or digits, one per household.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct HouseholdNumber(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HouseholdNumberError {
    #[error("a household number has 8 characters")]
    Length,
    #[error("a household number has only letters A–Z and digits")]
    Characters,
}

impl HouseholdNumber {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for HouseholdNumber {
    type Err = HouseholdNumberError;

    /// Trims, and normalises to upper case.
    fn from_str(s: &str) -> Result<Self, HouseholdNumberError> {
        let s = s.trim();
        if !s.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(HouseholdNumberError::Characters);
        }
        if s.len() != 8 {
            return Err(HouseholdNumberError::Length);
        }
        Ok(Self(s.to_ascii_uppercase()))
    }
}

impl TryFrom<String> for HouseholdNumber {
    type Error = HouseholdNumberError;
    fn try_from(s: String) -> Result<Self, HouseholdNumberError> {
        s.parse()
    }
}

impl From<HouseholdNumber> for String {
    fn from(h: HouseholdNumber) -> String {
        h.0
    }
}

impl fmt::Display for HouseholdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for HouseholdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HouseholdNumber({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalises_and_validates() {
        assert_eq!(
            "f1234567".parse::<HouseholdNumber>().map(|h| h.to_string()),
            Ok("F1234567".into())
        );
        assert_eq!(
            " 12345678 "
                .parse::<HouseholdNumber>()
                .map(|h| h.to_string()),
            Ok("12345678".into())
        );
        assert_eq!(
            "1234567".parse::<HouseholdNumber>(),
            Err(HouseholdNumberError::Length)
        );
        assert_eq!(
            "123456789".parse::<HouseholdNumber>(),
            Err(HouseholdNumberError::Length)
        );
        assert_eq!(
            "1234-567".parse::<HouseholdNumber>(),
            Err(HouseholdNumberError::Characters)
        );
        assert_eq!(
            "一二三四五六七八".parse::<HouseholdNumber>(),
            Err(HouseholdNumberError::Characters)
        );
    }

    proptest! {
        #[test]
        fn round_trips(s in "[A-Za-z0-9]{8}") {
            let h: HouseholdNumber = s.parse().expect("valid");
            prop_assert_eq!(h.as_str(), s.to_ascii_uppercase());
            prop_assert_eq!(h.to_string().parse::<HouseholdNumber>(), Ok(h));
        }

        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = s.parse::<HouseholdNumber>();
        }
    }
}
