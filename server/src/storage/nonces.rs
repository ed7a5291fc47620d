//! Card-proof nonces: issued for one purpose, single-use, short-lived. Stored as SHA-256 so a
//! database reader cannot replay one.

use sqlx::AnyConnection;

use super::StorageError;

pub async fn insert(
    conn: &mut AnyConnection,
    nonce_hash: &str,
    purpose: &str,
    expires_at: i64,
) -> Result<(), StorageError> {
    sqlx::query("INSERT INTO card_nonces (nonce_hash, purpose, expires_at) VALUES ($1, $2, $3)")
        .bind(nonce_hash)
        .bind(purpose)
        .bind(expires_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes the nonce, whatever its state; `Some(purpose)` when it existed and was unexpired,
/// so it was consumed now. One statement, so two requests racing for one nonce cannot both
/// have it.
pub async fn consume(
    conn: &mut AnyConnection,
    nonce_hash: &str,
    now: i64,
) -> Result<Option<String>, StorageError> {
    let row: Option<(String, i64)> = sqlx::query_as(
        "DELETE FROM card_nonces WHERE nonce_hash = $1 RETURNING purpose, expires_at",
    )
    .bind(nonce_hash)
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|(purpose, expires_at)| (expires_at >= now).then_some(purpose)))
}
