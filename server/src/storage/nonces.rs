//! Card-proof nonces: issued for one purpose, single-use, short-lived. Stored as SHA-256 so a
//! database reader cannot replay one.

use sqlx::AnyConnection;

use super::StorageError;

/// A new nonce; `session_hash`: the session it is issued to (step-up nonces), else None.
pub async fn insert(
    conn: &mut AnyConnection,
    nonce_hash: &str,
    purpose: &str,
    expires_at: i64,
    session_hash: Option<&str>,
) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO card_nonces (nonce_hash, purpose, expires_at, session_hash) VALUES ($1, $2, $3, $4)",
    )
    .bind(nonce_hash)
    .bind(purpose)
    .bind(expires_at)
    .bind(session_hash)
    .execute(conn)
    .await?;
    Ok(())
}

/// A consumed nonce: its purpose and the session it was issued to (if any).
pub struct Consumed {
    pub purpose: String,
    pub session_hash: Option<String>,
}

/// Deletes the nonce, whatever its state; `Some(purpose)` when it existed and was unexpired,
/// so it was consumed now. One statement, so two requests racing for one nonce cannot both
/// have it.
pub async fn consume(
    conn: &mut AnyConnection,
    nonce_hash: &str,
    now: i64,
) -> Result<Option<Consumed>, StorageError> {
    let row: Option<(String, i64, Option<String>)> = sqlx::query_as(
        "DELETE FROM card_nonces WHERE nonce_hash = $1 RETURNING purpose, expires_at, session_hash",
    )
    .bind(nonce_hash)
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|(purpose, expires_at, session_hash)| {
        (expires_at >= now).then_some(Consumed {
            purpose,
            session_hash,
        })
    }))
}
