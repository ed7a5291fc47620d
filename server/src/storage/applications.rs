//! 線上申辦 (F9): applications and their status timeline. Kind and status are stored as
//! the protocol's `as_str()` names; the service parses them back.

use sqlx::AnyConnection;

use super::StorageError;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApplicationRow {
    pub id: i64,
    pub account_id: i64,
    pub kind: String,
    pub status: String,
    pub reason: Option<String>,
    pub postal_code: Option<String>,
    pub mailing_address: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub status: String,
    pub at: i64,
    pub note: Option<String>,
    /// `internal` (staff only) or `citizen` (see `NoteVisibility`).
    pub note_visibility: String,
}

/// What an operator's status change needs to know first.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OwnedApplication {
    pub kind: String,
    pub status: String,
    /// The applicant's card number.
    pub card_number: String,
}

pub struct NewApplication<'a> {
    pub account_id: i64,
    pub kind: &'a str,
    pub reason: Option<&'a str>,
    pub postal_code: Option<&'a str>,
    pub mailing_address: Option<&'a str>,
}

const COLUMNS: &str =
    "id, account_id, kind, status, reason, postal_code, mailing_address, created_at, updated_at";

/// Which applications a listing reads.
#[derive(Debug, Clone, Copy)]
pub enum Filter<'a> {
    /// The person's, newest first.
    Account(i64),
    /// One application of the person (another person's is not found).
    OfAccount { id: i64, account_id: i64 },
    /// One application, whoever's.
    Id(i64),
    /// Those in one status, oldest first (at most 500).
    Status(&'a str),
    /// All, newest first (at most 500).
    All,
}

pub async fn list(
    conn: &mut AnyConnection,
    filter: Filter<'_>,
) -> Result<Vec<ApplicationRow>, StorageError> {
    let rows = match filter {
        Filter::Account(account) => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM applications WHERE account_id = $1 ORDER BY id DESC"
            ))
            .bind(account)
            .fetch_all(conn)
            .await?
        }
        Filter::OfAccount { id, account_id } => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM applications WHERE id = $1 AND account_id = $2"
            ))
            .bind(id)
            .bind(account_id)
            .fetch_all(conn)
            .await?
        }
        Filter::Id(id) => {
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM applications WHERE id = $1"))
                .bind(id)
                .fetch_all(conn)
                .await?
        }
        Filter::Status(status) => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM applications WHERE status = $1 ORDER BY id LIMIT 500"
            ))
            .bind(status)
            .fetch_all(conn)
            .await?
        }
        Filter::All => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM applications ORDER BY id DESC LIMIT 500"
            ))
            .fetch_all(conn)
            .await?
        }
    };
    Ok(rows)
}

/// The timeline of one application, oldest first.
pub async fn events(
    conn: &mut AnyConnection,
    application_id: i64,
) -> Result<Vec<EventRow>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT status, at, note, note_visibility FROM application_events WHERE application_id = $1 ORDER BY id",
    )
    .bind(application_id)
    .fetch_all(conn)
    .await?)
}

/// A new application in status `submitted`; its id. A second pending card replacement of
/// the same person breaks the unique index `applications_one_pending_replacement`
/// ([`StorageError::is_unique_violation`]).
pub async fn insert(
    conn: &mut AnyConnection,
    a: &NewApplication<'_>,
    now: i64,
) -> Result<i64, StorageError> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO applications (account_id, kind, status, reason, postal_code, mailing_address, created_at, updated_at) \
         VALUES ($1, $2, 'submitted', $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(a.account_id)
    .bind(a.kind)
    .bind(a.reason)
    .bind(a.postal_code)
    .bind(a.mailing_address)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

pub async fn insert_event(
    conn: &mut AnyConnection,
    application_id: i64,
    status: &str,
    at: i64,
    actor: &str,
    note: Option<&str>,
    note_visibility: &str,
) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO application_events (application_id, status, at, actor, note, note_visibility) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(application_id)
    .bind(status)
    .bind(at)
    .bind(actor)
    .bind(note)
    .bind(note_visibility)
    .execute(conn)
    .await?;
    Ok(())
}

/// Kind, status and applicant of an application.
pub async fn with_owner(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<OwnedApplication>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT a.kind, a.status, acc.card_number FROM applications a \
         JOIN accounts acc ON acc.id = a.account_id WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// `from` → `to`; false if the application is no longer in `from` (a concurrent change won).
pub async fn set_status(
    conn: &mut AnyConnection,
    id: i64,
    from: &str,
    to: &str,
    now: i64,
) -> Result<bool, StorageError> {
    let changed = sqlx::query(
        "UPDATE applications SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
    )
    .bind(to)
    .bind(now)
    .bind(id)
    .bind(from)
    .execute(conn)
    .await?;
    Ok(changed.rows_affected() == 1)
}
