//! The audit log: who, what, when, from where.

use sqlx::AnyConnection;

use super::StorageError;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub at: i64,
    pub actor: Option<String>,
    pub action: String,
    pub outcome: String,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

pub struct AuditEntry<'a> {
    /// The card number (the person acting), when known.
    pub actor: Option<&'a str>,
    pub action: &'a str,
    pub outcome: &'a str,
    pub ip: &'a str,
    pub detail: Option<&'a str>,
}

pub async fn insert(
    conn: &mut AnyConnection,
    e: &AuditEntry<'_>,
    now: i64,
) -> Result<(), StorageError> {
    sqlx::query("INSERT INTO audit_log (at, actor, action, outcome, ip, detail) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(now)
        .bind(e.actor)
        .bind(e.action)
        .bind(e.outcome)
        .bind(e.ip)
        .bind(e.detail)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn recent(conn: &mut AnyConnection, limit: i64) -> Result<Vec<AuditRow>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT at, actor, action, outcome, ip, detail FROM audit_log ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?)
}
