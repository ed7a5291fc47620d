//! Card-proof nonces: issued, single-use, short-lived. Stored as SHA-256 so a database
//! reader cannot replay one.

use sqlx::AnyConnection;

use super::StorageError;

pub async fn insert(
    conn: &mut AnyConnection,
    nonce_hash: &str,
    expires_at: i64,
) -> Result<(), StorageError> {
    sqlx::query("INSERT INTO card_nonces (nonce_hash, expires_at) VALUES ($1, $2)")
        .bind(nonce_hash)
        .bind(expires_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes the nonce if it exists and is unexpired; true when it was consumed now.
pub async fn consume(
    conn: &mut AnyConnection,
    nonce_hash: &str,
    now: i64,
) -> Result<bool, StorageError> {
    let done = sqlx::query("DELETE FROM card_nonces WHERE nonce_hash = $1 AND expires_at >= $2")
        .bind(nonce_hash)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
