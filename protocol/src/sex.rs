//! Sex as recorded on the NHI card (`M` / `F`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sex {
    #[serde(rename = "M")]
    Male,
    #[serde(rename = "F")]
    Female,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("sex is recorded as M or F")]
pub struct SexError;

impl Sex {
    pub fn code(self) -> u8 {
        match self {
            Sex::Male => b'M',
            Sex::Female => b'F',
        }
    }

    pub fn from_code(code: u8) -> Result<Self, SexError> {
        match code {
            b'M' | b'm' | b'1' => Ok(Sex::Male),
            b'F' | b'f' | b'2' => Ok(Sex::Female),
            _ => Err(SexError),
        }
    }
}

impl FromStr for Sex {
    type Err = SexError;
    fn from_str(s: &str) -> Result<Self, SexError> {
        match s.trim().as_bytes() {
            [c] => Self::from_code(*c),
            _ => Err(SexError),
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sex::Male => "M",
            Sex::Female => "F",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        assert_eq!("M".parse::<Sex>(), Ok(Sex::Male));
        assert_eq!("f".parse::<Sex>(), Ok(Sex::Female));
        assert_eq!("2".parse::<Sex>(), Ok(Sex::Female));
        assert_eq!("X".parse::<Sex>(), Err(SexError));
        assert_eq!("MF".parse::<Sex>(), Err(SexError));
        assert_eq!(Sex::Female.to_string().parse::<Sex>(), Ok(Sex::Female));
        assert_eq!(serde_json::to_string(&Sex::Male).expect("json"), "\"M\"");
    }
}
