//! Server-side sessions; the cookie holds a random token, the table its SHA-256.

use sqlx::AnyConnection;

use super::StorageError;

pub async fn insert(
    conn: &mut AnyConnection,
    token_hash: &str,
    account_id: i64,
    now: i64,
    expires_at: i64,
    ip: &str,
) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, account_id, created_at, expires_at, ip) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(account_id)
    .bind(now)
    .bind(expires_at)
    .bind(ip)
    .execute(conn)
    .await?;
    Ok(())
}

/// The account of a live session.
pub async fn account_of(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: i64,
) -> Result<Option<i64>, StorageError> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT account_id FROM sessions WHERE token_hash = $1 AND expires_at > $2")
            .bind(token_hash)
            .bind(now)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|r| r.0))
}

pub async fn delete(conn: &mut AnyConnection, token_hash: &str) -> Result<(), StorageError> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(conn)
        .await?;
    Ok(())
}
