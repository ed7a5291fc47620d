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
    card_number: &str,
) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, account_id, created_at, expires_at, ip, card_number) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash)
    .bind(account_id)
    .bind(now)
    .bind(expires_at)
    .bind(ip)
    .bind(card_number)
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

/// Issue 16: records a step-up (card proof + password) of a live session of `account_id`.
pub async fn set_stepped_up(
    conn: &mut AnyConnection,
    token_hash: &str,
    account_id: i64,
    now: i64,
    card_number: &str,
) -> Result<bool, StorageError> {
    let r = sqlx::query(
        "UPDATE sessions SET stepped_up_at = $1, stepped_up_card = $2 \
         WHERE token_hash = $3 AND account_id = $4 AND expires_at > $1",
    )
    .bind(now)
    .bind(card_number)
    .bind(token_hash)
    .bind(account_id)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// When (and with which card) a live session last stepped up.
pub async fn step_up_of(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: i64,
) -> Result<Option<(i64, String)>, StorageError> {
    let row: Option<(Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT stepped_up_at, stepped_up_card FROM sessions WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|(at, card)| Some((at?, card?))))
}

/// Ends every session a card opened (issue 16: the card was reported lost or replaced);
/// the number ended.
pub async fn delete_of_card(
    conn: &mut AnyConnection,
    card_number: &str,
) -> Result<u64, StorageError> {
    let r = sqlx::query("DELETE FROM sessions WHERE card_number = $1")
        .bind(card_number)
        .execute(conn)
        .await?;
    Ok(r.rows_affected())
}

/// Moves a session to another card of the same person (issue 16: the account adopted the
/// person's replacement card in this session).
pub async fn set_card(
    conn: &mut AnyConnection,
    token_hash: &str,
    card_number: &str,
) -> Result<(), StorageError> {
    sqlx::query("UPDATE sessions SET card_number = $1 WHERE token_hash = $2")
        .bind(card_number)
        .bind(token_hash)
        .execute(conn)
        .await?;
    Ok(())
}
