//! The audit log: who, what, when, from where. Every entry is stored (table `audit_log`)
//! and written as one `tracing` line with target `audit`, both through [`AuditEntry`]:
//! [`record`] on its own, or [`insert`] in the transaction of the change it audits and
//! [`AuditEntry::trace`] once that transaction committed.

use sqlx::AnyConnection;

use super::{Db, StorageError, Tx};

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

impl AuditEntry<'_> {
    /// The entry's line in the service log.
    pub fn trace(&self) {
        tracing::info!(
            target: "audit",
            actor = self.actor,
            action = self.action,
            outcome = self.outcome,
            ip = %self.ip,
            detail = self.detail,
            "audit"
        );
    }
}

/// Stores the entry outside any transaction and traces it; a failure to store is logged,
/// not returned (the audited action already happened).
pub async fn record(db: &Db, e: &AuditEntry<'_>) {
    let stored = async {
        let mut conn = db.conn().await?;
        insert(&mut conn, e, super::now()).await
    }
    .await;
    if let Err(err) = stored {
        tracing::error!(error = %err, action = e.action, outcome = e.outcome, "cannot write the audit log");
    }
    e.trace();
}

/// Stores the entry in `tx`, commits, then traces it: the audited change and its entry are
/// one transaction.
pub async fn commit(mut tx: Tx, e: &AuditEntry<'_>, now: i64) -> Result<(), StorageError> {
    insert(&mut tx, e, now).await?;
    tx.commit().await?;
    e.trace();
    Ok(())
}

/// Stores the entry in the caller's transaction (trace it after the commit).
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
