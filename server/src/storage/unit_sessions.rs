//! Sessions of a citizen digital certificate login (issue 12): for the insured units' pages
//! only. The cookie holds a random token, the table its SHA-256; no account is behind them.

use sqlx::AnyConnection;

use super::StorageError;

/// A new certificate session.
pub struct NewUnitSession<'a> {
    pub token_hash: &'a str,
    pub national_id: &'a str,
    pub holder_name: &'a str,
    pub certificate_sha256: &'a str,
    pub now: i64,
    pub expires_at: i64,
    pub ip: &'a str,
}

pub async fn insert(conn: &mut AnyConnection, s: &NewUnitSession<'_>) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO unit_sessions (token_hash, national_id, holder_name, certificate_sha256, created_at, expires_at, ip) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(s.token_hash)
    .bind(s.national_id)
    .bind(s.holder_name)
    .bind(s.certificate_sha256)
    .bind(s.now)
    .bind(s.expires_at)
    .bind(s.ip)
    .execute(conn)
    .await?;
    Ok(())
}

/// The person of a live certificate session: (national ID, name).
pub async fn holder_of(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: i64,
) -> Result<Option<(String, String)>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT national_id, holder_name FROM unit_sessions WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

pub async fn delete(conn: &mut AnyConnection, token_hash: &str) -> Result<(), StorageError> {
    sqlx::query("DELETE FROM unit_sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(conn)
        .await?;
    Ok(())
}
