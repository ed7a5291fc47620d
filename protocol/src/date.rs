//! ROC (民國) calendar dates as written on NHI cards: `yyyMMdd`, year 1 = 1912.
//!
//! And the one way dates and times are shown (issue 17): every page, mail and result file
//! writes a date as [`show_date`] (`2026-11-26`) and a moment as [`show_time`]
//! (`2026-11-26 14:05`, Taiwan time); the enrolment certificate, an official document, dates
//! itself in the ROC calendar with [`RocDate::formal`] (`中華民國115年11月26日`) and
//! [`RocDate::formal_short`] (`115/11/26`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

/// Year 1 of the ROC calendar is 1912.
pub const ROC_EPOCH_OFFSET: i32 = 1911;

/// A real calendar date, read and written in the ROC `yyyMMdd` form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RocDate(Date);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RocDateError {
    #[error("a ROC date is seven digits: year (3), month (2), day (2), e.g. 0790101")]
    Format,
    #[error("there is no such day in the calendar")]
    Impossible,
    #[error("the date is before the ROC calendar (year 1 = 1912)")]
    BeforeEpoch,
}

impl RocDate {
    /// From ROC year, month and day; rejects impossible dates such as 0790230.
    pub fn from_roc(year: u16, month: u8, day: u8) -> Result<Self, RocDateError> {
        if year == 0 {
            return Err(RocDateError::Impossible);
        }
        let month = Month::try_from(month).map_err(|_| RocDateError::Impossible)?;
        Date::from_calendar_date(i32::from(year) + ROC_EPOCH_OFFSET, month, day)
            .map(Self)
            .map_err(|_| RocDateError::Impossible)
    }

    /// From a Gregorian date; fails for dates before 1912-01-01 or after ROC year 999.
    pub fn from_date(date: Date) -> Result<Self, RocDateError> {
        let year = date.year() - ROC_EPOCH_OFFSET;
        if year < 1 {
            return Err(RocDateError::BeforeEpoch);
        }
        if year > 999 {
            return Err(RocDateError::Impossible);
        }
        Ok(Self(date))
    }

    pub fn date(self) -> Date {
        self.0
    }

    pub fn roc_year(self) -> u16 {
        // from_roc/from_date keep the year within 1..=999
        u16::try_from(self.0.year() - ROC_EPOCH_OFFSET).unwrap_or(0)
    }

    pub fn month(self) -> u8 {
        u8::from(self.0.month())
    }

    pub fn day(self) -> u8 {
        self.0.day()
    }

    /// ISO 8601 (`1990-01-01`), for display next to the ROC form and for `<input type=date>`.
    pub fn iso(self) -> String {
        show_date(self.0)
    }
}

/// Taiwan's time zone (UTC+8, no daylight saving): the one every shown time is in.
pub const TAIPEI_OFFSET_HOURS: i8 = 8;

/// A date as every page, mail and result file shows it: `2026-11-26` (ISO 8601).
pub fn show_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// A moment (Unix seconds) as every page and mail shows it: `2026-11-26 14:05`, Taiwan time.
pub fn show_time(unix: i64) -> String {
    let offset =
        time::UtcOffset::from_hms(TAIPEI_OFFSET_HOURS, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let t = time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset);
    format!("{} {:02}:{:02}", show_date(t.date()), t.hour(), t.minute())
}

impl RocDate {
    /// The certificate's long form: `中華民國115年11月26日`.
    pub fn formal(self) -> String {
        format!(
            "中華民國{}年{:02}月{:02}日",
            self.roc_year(),
            self.month(),
            self.day()
        )
    }

    /// The certificate's table form: `115/11/26`.
    pub fn formal_short(self) -> String {
        format!(
            "{:03}/{:02}/{:02}",
            self.roc_year(),
            self.month(),
            self.day()
        )
    }
}

fn digits(s: &str) -> Option<u32> {
    s.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| s.parse().ok())
        .flatten()
}

impl FromStr for RocDate {
    type Err = RocDateError;

    /// Parses `yyyMMdd`; also accepts `yyy/MM/dd`, `yyy-MM-dd` and `yyy.MM.dd`.
    fn from_str(s: &str) -> Result<Self, RocDateError> {
        let s = s.trim();
        let compact: String = if s.contains(['/', '-', '.']) {
            let parts: Vec<&str> = s.split(['/', '-', '.']).collect();
            let [y, m, d] = parts.as_slice() else {
                return Err(RocDateError::Format);
            };
            if !(1..=3).contains(&y.len())
                || !(1..=2).contains(&m.len())
                || !(1..=2).contains(&d.len())
            {
                return Err(RocDateError::Format);
            }
            format!("{y:0>3}{m:0>2}{d:0>2}")
        } else {
            s.to_string()
        };
        if compact.len() != 7 || !compact.is_ascii() {
            return Err(RocDateError::Format);
        }
        let (Some(y), Some(m), Some(d)) = (
            digits(&compact[0..3]),
            digits(&compact[3..5]),
            digits(&compact[5..7]),
        ) else {
            return Err(RocDateError::Format);
        };
        // y ≤ 999, m and d ≤ 99: the narrowing casts cannot truncate
        Self::from_roc(y as u16, m as u8, d as u8)
    }
}

impl fmt::Display for RocDate {
    /// The card's form, `yyyMMdd`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:03}{:02}{:02}",
            self.roc_year(),
            self.month(),
            self.day()
        )
    }
}

impl fmt::Debug for RocDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RocDate({self} = {})", self.iso())
    }
}

impl TryFrom<String> for RocDate {
    type Error = RocDateError;
    fn try_from(s: String) -> Result<Self, RocDateError> {
        s.parse()
    }
}

impl From<RocDate> for String {
    fn from(d: RocDate) -> String {
        d.to_string()
    }
}

#[cfg(test)]
mod tests {
    /// Issue 17: one date format, one time format, one time zone.
    #[test]
    fn one_way_to_show_dates_and_times() {
        let d = Date::from_calendar_date(2026, Month::November, 26).expect("date");
        assert_eq!(show_date(d), "2026-11-26");
        // 06:05 UTC is 14:05 in Taiwan.
        assert_eq!(show_time(1_795_673_100), "2026-11-26 14:05");
        assert_eq!(show_time(0), "1970-01-01 08:00");
        let r = RocDate::from_date(d).expect("roc");
        assert_eq!(
            (r.formal(), r.formal_short()),
            ("中華民國115年11月26日".into(), "115/11/26".into())
        );
        assert_eq!(r.iso(), "2026-11-26");
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn converts_both_ways() {
        let d: RocDate = "0790101".parse().expect("valid");
        assert_eq!(d.iso(), "1990-01-01");
        assert_eq!(d.to_string(), "0790101");
        assert_eq!(d.roc_year(), 79);
        let d: RocDate = "1130229".parse().expect("2024 is a leap year");
        assert_eq!(d.iso(), "2024-02-29");
        assert_eq!(
            "79/1/1".parse::<RocDate>(),
            Ok("0790101".parse().expect("valid"))
        );
        assert_eq!(
            "113-02-29".parse::<RocDate>().map(|d| d.iso()),
            Ok("2024-02-29".into())
        );
    }

    #[test]
    fn rejects_impossible_and_malformed_dates() {
        for s in [
            "1120229", "0790230", "0791301", "0790100", "0790001", "0000101", "0790431",
        ] {
            assert_eq!(s.parse::<RocDate>(), Err(RocDateError::Impossible), "{s}");
        }
        for s in [
            "", "790101", "07901011", "079O101", "+790101", "79/1", "1/2/3/4", "0001/1/1",
        ] {
            assert_eq!(s.parse::<RocDate>(), Err(RocDateError::Format), "{s:?}");
        }
    }

    #[test]
    fn from_date_checks_the_epoch() {
        let before = Date::from_calendar_date(1911, Month::December, 31).expect("date");
        assert_eq!(RocDate::from_date(before), Err(RocDateError::BeforeEpoch));
        let first = Date::from_calendar_date(1912, Month::January, 1).expect("date");
        assert_eq!(
            RocDate::from_date(first).map(|d| d.to_string()),
            Ok("0010101".into())
        );
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,12}") {
            let _ = s.parse::<RocDate>();
        }

        #[test]
        fn round_trips(y in 1u16..=999, m in 1u8..=12, d in 1u8..=31) {
            if let Ok(date) = RocDate::from_roc(y, m, d) {
                prop_assert_eq!(date.to_string().parse::<RocDate>(), Ok(date));
                prop_assert_eq!(RocDate::from_date(date.date()), Ok(date));
                let json = serde_json::to_string(&date).expect("json");
                prop_assert_eq!(serde_json::from_str::<RocDate>(&json).expect("parse"), date);
            }
        }
    }
}
