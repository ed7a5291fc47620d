//! The mail outbox: written in the same transaction as the state change; claimed by workers
//! with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so many instances can share it).

use sqlx::AnyConnection;

use super::sql;
use super::{Backend, StorageError};

#[derive(Debug, Clone)]
pub struct NewMail<'a> {
    pub message_id: &'a str,
    pub kind: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub text_body: &'a str,
    pub html_body: &'a str,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MailRow {
    pub id: i64,
    pub message_id: String,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub created_at: i64,
    pub attempts: i64,
}

pub async fn enqueue(
    conn: &mut AnyConnection,
    m: &NewMail<'_>,
    now: i64,
) -> Result<i64, StorageError> {
    let id: (i64,) = sqlx::query_as(
        "INSERT INTO outbox (message_id, kind, recipient, subject, text_body, html_body, created_at, \
         attempts, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $7) RETURNING id",
    )
    .bind(m.message_id)
    .bind(m.kind)
    .bind(m.recipient)
    .bind(m.subject)
    .bind(m.text_body)
    .bind(m.html_body)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(id.0)
}

/// Claims up to `limit` due mails for `lease` seconds and counts the attempt.
pub async fn claim(
    conn: &mut AnyConnection,
    backend: Backend,
    now: i64,
    lease: i64,
    limit: i64,
) -> Result<Vec<MailRow>, StorageError> {
    let lock = match backend {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE outbox SET claimed_until = $1, attempts = attempts + 1 WHERE id IN (\
           SELECT id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $2 \
           AND (claimed_until IS NULL OR claimed_until < $2) ORDER BY id LIMIT $3 {lock}) \
         RETURNING id, message_id, kind, recipient, subject, text_body, html_body, created_at, attempts"
    );
    let mut rows: Vec<MailRow> = sqlx::query_as(&sql)
        .bind(now + lease)
        .bind(now)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

pub async fn mark_sent(conn: &mut AnyConnection, id: i64, now: i64) -> Result<(), StorageError> {
    sqlx::query(
        "UPDATE outbox SET sent_at = $2, claimed_until = NULL, last_error = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn mark_retry(
    conn: &mut AnyConnection,
    id: i64,
    next_at: i64,
    error: &str,
) -> Result<(), StorageError> {
    sqlx::query("UPDATE outbox SET next_attempt_at = $2, claimed_until = NULL, last_error = $3 WHERE id = $1")
        .bind(id)
        .bind(next_at)
        .bind(error)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn mark_failed(
    conn: &mut AnyConnection,
    id: i64,
    now: i64,
    error: &str,
) -> Result<(), StorageError> {
    sqlx::query(
        "UPDATE outbox SET failed_at = $2, claimed_until = NULL, last_error = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// (pending, sent, failed) counts.
pub async fn counts(conn: &mut AnyConnection) -> Result<(i64, i64, i64), StorageError> {
    let row: (i64, i64, i64) = sqlx::query_as(
        "SELECT \
           COALESCE(SUM(CASE WHEN sent_at IS NULL AND failed_at IS NULL THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN sent_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END), 0) FROM outbox",
    )
    .fetch_one(conn)
    .await?;
    Ok(row)
}

/// All mails, oldest first (tests and the admin CLI).
pub async fn all(conn: &mut AnyConnection) -> Result<Vec<(MailRow, Option<i64>)>, StorageError> {
    let rows: Vec<MailRow> = sqlx::query_as(
        "SELECT id, message_id, kind, recipient, subject, text_body, html_body, created_at, attempts \
         FROM outbox ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let sent: Vec<(i64, Option<i64>)> =
        sqlx::query_as("SELECT id, sent_at FROM outbox ORDER BY id")
            .fetch_all(conn)
            .await?;
    Ok(rows
        .into_iter()
        .zip(sent)
        .map(|(r, (_, s))| (r, s))
        .collect())
}

/// A mail for the multi-row outbox insert.
pub struct BulkMail {
    pub message_id: String,
    pub kind: &'static str,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
}

/// Enqueues many mails in multi-row statements (same columns as `outbox::enqueue`).
/// Enqueues many mails in multi-row statements (same columns as [`enqueue`]).
pub async fn enqueue_mails(
    conn: &mut AnyConnection,
    mails: &[BulkMail],
    now: i64,
) -> Result<(), StorageError> {
    sql::insert_rows(
        conn,
        "INSERT INTO outbox (created_at, next_attempt_at, attempts, message_id, kind, recipient, \
         subject, text_body, html_body)",
        "",
        mails,
        |s| {
            s.param(now);
        },
        |f, m| {
            f.raw("$1")
                .raw("$1")
                .raw("0")
                .bind(&m.message_id)
                .bind(m.kind)
                .bind(&m.recipient)
                .bind(&m.subject)
                .bind(&m.text_body)
                .bind(&m.html_body);
        },
    )
    .await
}

pub async fn attach(
    conn: &mut AnyConnection,
    outbox_id: i64,
    file_name: &str,
    content_type: &str,
    content: &[u8],
) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO outbox_attachments (outbox_id, file_name, content_type, content) VALUES ($1, $2, $3, $4)",
    )
    .bind(outbox_id)
    .bind(file_name)
    .bind(content_type)
    .bind(content)
    .execute(conn)
    .await?;
    Ok(())
}

/// (file name, content type, content) of a mail's attachments.
pub async fn attachments(
    conn: &mut AnyConnection,
    outbox_id: i64,
) -> Result<Vec<(String, String, Vec<u8>)>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT file_name, content_type, content FROM outbox_attachments WHERE outbox_id = $1",
    )
    .bind(outbox_id)
    .fetch_all(conn)
    .await?)
}

/// How many mails of `kind` the outbox holds (sent or not).
pub async fn count_of_kind(conn: &mut AnyConnection, kind: &str) -> Result<i64, StorageError> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE kind = $1")
        .bind(kind)
        .fetch_one(conn)
        .await?;
    Ok(n)
}
