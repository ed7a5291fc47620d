//! Contact values: email address, mobile number (行動電話), contact phone (聯絡電話).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! string_value {
    ($t:ident, $err:ty) => {
        impl $t {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $t {
            type Error = $err;
            fn try_from(s: String) -> Result<Self, $err> {
                s.parse()
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "{}({})",
                    stringify!($t),
                    crate::mask::mask_middle(&self.0, 2, 4)
                )
            }
        }
    };
}

/// An email address, checked for the form mail servers accept (RFC 5321 lengths, a dotted
/// domain of letters, digits and hyphens). The domain is stored in lower case.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct Email(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailError {
    #[error("an email address is required")]
    Empty,
    #[error("an email address looks like name@example.com")]
    Format,
    #[error("the email address is too long")]
    TooLong,
}

const LOCAL_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~.-";

fn valid_local(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(c))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
}

impl FromStr for Email {
    type Err = EmailError;

    fn from_str(s: &str) -> Result<Self, EmailError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = s.rsplit_once('@').ok_or(EmailError::Format)?;
        if !valid_local(local) || !valid_domain(domain) {
            return Err(EmailError::Format);
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }
}
string_value!(Email, EmailError);

/// A Taiwanese mobile number, normalised to `09xxxxxxxx` (accepts `+886 9…`, spaces, dashes).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct MobileNumber(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MobileNumberError {
    #[error("a mobile number is 10 digits starting with 09, e.g. 0912-345-678")]
    Format,
}

/// Removes the separators people type: spaces, dashes, dots and parentheses.
fn strip_separators(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{3000}'))
        .collect()
}

impl FromStr for MobileNumber {
    type Err = MobileNumberError;

    fn from_str(s: &str) -> Result<Self, MobileNumberError> {
        let compact = strip_separators(s.trim());
        let national = match compact
            .strip_prefix("+886")
            .or_else(|| compact.strip_prefix("00886"))
        {
            Some(rest) => format!("0{}", rest.strip_prefix('0').unwrap_or(rest)),
            None => compact,
        };
        let ok = national.len() == 10
            && national.starts_with("09")
            && national.bytes().all(|b| b.is_ascii_digit());
        ok.then_some(Self(national))
            .ok_or(MobileNumberError::Format)
    }
}
string_value!(MobileNumber, MobileNumberError);

/// A contact phone number: an area code and number, optionally an extension after `#`.
/// Stored as digits with the extension, e.g. `0223456789#123`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct PhoneNumber(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneNumberError {
    #[error(
        "a phone number has 7 to 15 digits, an optional +886, and an optional extension after #"
    )]
    Format,
}

impl FromStr for PhoneNumber {
    type Err = PhoneNumberError;

    fn from_str(s: &str) -> Result<Self, PhoneNumberError> {
        let compact = strip_separators(s.trim());
        let (number, ext) = match compact.split_once(['#', 'x', 'X']) {
            Some((n, e)) => (n, Some(e)),
            None => (compact.as_str(), None),
        };
        let number = match number.strip_prefix("+886") {
            Some(rest) => format!("0{}", rest.strip_prefix('0').unwrap_or(rest)),
            None => number.to_string(),
        };
        let digits_ok = |d: &str, range: std::ops::RangeInclusive<usize>| {
            range.contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits_ok(&number, 7..=15) || ext.is_some_and(|e| !digits_ok(e, 1..=6)) {
            return Err(PhoneNumberError::Format);
        }
        Ok(Self(match ext {
            Some(e) => format!("{number}#{e}"),
            None => number,
        }))
    }
}
string_value!(PhoneNumber, PhoneNumberError);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails() {
        assert_eq!(
            "Wang.Xiao-Ming+nhi@Example.COM.tw"
                .parse::<Email>()
                .map(String::from),
            Ok("Wang.Xiao-Ming+nhi@example.com.tw".into())
        );
        assert_eq!("".parse::<Email>(), Err(EmailError::Empty));
        for bad in [
            "a",
            "a@b",
            "a@@b.tw",
            "a b@c.tw",
            ".a@b.tw",
            "a..b@c.tw",
            "a@-b.tw",
            "a@b.t",
            "a@b.123",
            "王@b.tw",
            "a@b..tw",
        ] {
            assert_eq!(bad.parse::<Email>(), Err(EmailError::Format), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(long.parse::<Email>(), Err(EmailError::TooLong));
    }

    #[test]
    fn mobiles() {
        for ok in [
            "0912345678",
            "0912-345-678",
            "+886 912 345 678",
            "+886-0912345678",
            "00886912345678",
            "(0912)345678",
        ] {
            assert_eq!(
                ok.parse::<MobileNumber>().map(String::from),
                Ok("0912345678".into()),
                "{ok}"
            );
        }
        for bad in [
            "",
            "0812345678",
            "091234567",
            "09123456789",
            "+886 812345678",
            "09l2345678",
        ] {
            assert_eq!(
                bad.parse::<MobileNumber>(),
                Err(MobileNumberError::Format),
                "{bad}"
            );
        }
    }

    #[test]
    fn phones() {
        assert_eq!(
            "(02) 2345-6789 #123"
                .parse::<PhoneNumber>()
                .map(String::from),
            Ok("0223456789#123".into())
        );
        assert_eq!(
            "+886 2 2345 6789".parse::<PhoneNumber>().map(String::from),
            Ok("0223456789".into())
        );
        assert_eq!(
            "0912345678".parse::<PhoneNumber>().map(String::from),
            Ok("0912345678".into())
        );
        for bad in [
            "",
            "123",
            "02-2345-6789#",
            "02-2345-6789#1234567",
            "02-ABCD-6789",
        ] {
            assert_eq!(
                bad.parse::<PhoneNumber>(),
                Err(PhoneNumberError::Format),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_masks() {
        let m: MobileNumber = "0912345678".parse().expect("valid");
        assert_eq!(format!("{m:?}"), "MobileNumber(09****5678)");
    }

    proptest! {
        #[test]
        fn never_panic(s in "\\PC{0,80}") {
            let _ = s.parse::<Email>();
            let _ = s.parse::<MobileNumber>();
            let _ = s.parse::<PhoneNumber>();
        }

        #[test]
        fn round_trip(local in "[a-z0-9][a-z0-9._+-]{0,20}[a-z0-9]", domain in "[a-z0-9]{1,10}\\.(tw|com|gov\\.tw)", m in "9[0-9]{8}") {
            let e: Email = format!("{local}@{domain}").parse().or_else(|_| "x@example.tw".parse()).expect("valid");
            prop_assert_eq!(e.to_string().parse::<Email>(), Ok(e.clone()));
            let mobile: MobileNumber = format!("+886{m}").parse().expect("valid");
            prop_assert_eq!(mobile.as_str(), format!("0{m}"));
            prop_assert_eq!(mobile.to_string().parse::<MobileNumber>(), Ok(mobile));
        }
    }
}
