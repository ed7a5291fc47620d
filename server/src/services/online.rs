//! Online services after login (FLOWS F9): what the health bank and the applications share —
//! the logged-in person behind a session cookie, the operator behind a
//! bearer token, and dates in Taiwan time.

use sha2::{Digest, Sha256};
use time::{Date, Month, OffsetDateTime};

use super::{ServiceError, ServiceResult, Services};
use crate::storage::accounts::{self, AccountRow};
use crate::storage::{self, sessions};

/// An authenticated operator of the applications API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub name: String,
}

impl Operator {
    /// The actor recorded in the audit log and the status timeline.
    pub fn actor(&self) -> String {
        format!("operator:{}", self.name)
    }
}

/// Today in Taiwan (UTC+8).
pub fn today() -> Date {
    OffsetDateTime::now_utc()
        .to_offset(time::macros::offset!(+8))
        .date()
}

/// `YYYY-MM-DD` → a date.
pub fn parse_iso(s: &str) -> Option<Date> {
    let mut parts = s.trim().splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

pub fn iso(d: Date) -> String {
    nhi_protocol::date::show_date(d)
}

/// Parses `name:sha256hex,name:sha256hex` (whitespace ignored); bad entries are skipped with
/// a warning.
pub fn parse_operators(spec: &str) -> Vec<(String, String)> {
    spec.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .filter_map(|entry| {
            let parsed = entry.split_once(':').and_then(|(name, hash)| {
                let hash = hash.trim().to_ascii_lowercase();
                let ok = !name.trim().is_empty()
                    && hash.len() == 64
                    && hash.bytes().all(|b| b.is_ascii_hexdigit());
                ok.then(|| (name.trim().to_owned(), hash))
            });
            if parsed.is_none() {
                tracing::warn!("ignoring a malformed `operators` entry (want name:sha256hex)");
            }
            parsed
        })
        .collect()
}

/// Compares without an early exit.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Services {
    /// The active account of a live session.
    pub async fn account_by_session(&self, token: Option<&str>) -> ServiceResult<AccountRow> {
        let hash = token
            .and_then(super::session::session_hash)
            .ok_or(ServiceError::SessionExpired)?;
        let mut conn = self.db.conn().await?;
        let id = sessions::account_of(&mut conn, &hash, storage::now())
            .await?
            .ok_or(ServiceError::SessionExpired)?;
        let account = accounts::by_id(&mut conn, id)
            .await?
            .ok_or(ServiceError::SessionExpired)?;
        if account.status != accounts::ACTIVE {
            return Err(ServiceError::SessionExpired);
        }
        Ok(account)
    }

    /// The operator whose bearer token this is.
    pub fn operator_by_token(&self, bearer: Option<&str>) -> ServiceResult<Operator> {
        let token = bearer
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ServiceError::OperatorUnauthenticated)?;
        let hash = hex::encode(Sha256::digest(token.as_bytes()));
        let mut found = None;
        for (name, expected) in parse_operators(&self.config.operators) {
            if same(hash.as_bytes(), expected.as_bytes()) {
                found = Some(name);
            }
        }
        found
            .map(|name| Operator { name })
            .ok_or(ServiceError::OperatorUnauthenticated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_operator_specs() {
        let d = parse_iso("2026-02-28").expect("date");
        assert_eq!(iso(d), "2026-02-28");
        assert!(parse_iso("2026-02-30").is_none());
        assert!(parse_iso("26-02-01").is_none());
        assert!(parse_iso("2026-2-1").is_none());
        let ops = parse_operators(&format!(" alice:{} , bad, bob:xyz ,", "AB".repeat(32)));
        assert_eq!(ops, vec![("alice".to_owned(), "ab".repeat(32))]);
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"ab", b"abc"));
    }
}
