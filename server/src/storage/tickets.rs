//! Email confirmation tickets: one per account, stored as SHA-256, bound to the address.

use sqlx::AnyConnection;

use super::StorageError;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketRow {
    pub account_id: i64,
    pub email: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Replaces the account's ticket (a resend makes the old link stop working).
pub async fn replace(
    conn: &mut AnyConnection,
    account_id: i64,
    token_hash: &str,
    email: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), StorageError> {
    sqlx::query("DELETE FROM email_tickets WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO email_tickets (token_hash, account_id, email, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(account_id)
    .bind(email)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> Result<Option<TicketRow>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT account_id, email, created_at, expires_at FROM email_tickets WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(conn)
    .await?)
}

pub async fn for_account(
    conn: &mut AnyConnection,
    account_id: i64,
) -> Result<Option<TicketRow>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT account_id, email, created_at, expires_at FROM email_tickets WHERE account_id = $1",
    )
    .bind(account_id)
    .fetch_optional(conn)
    .await?)
}

/// Deletes the ticket; false if someone else used it first.
pub async fn consume(conn: &mut AnyConnection, token_hash: &str) -> Result<bool, StorageError> {
    let done = sqlx::query("DELETE FROM email_tickets WHERE token_hash = $1")
        .bind(token_hash)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
