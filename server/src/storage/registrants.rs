//! Bulk registrants (F5, F7, F8): the people a unit registered, each with an activation
//! ticket (stored as SHA-256) until they activate their account.

use sqlx::AnyConnection;

use super::sql::{self, Sql};
use super::StorageError;

pub struct NewRegistrant<'a> {
    pub row_number: i64,
    pub national_id: &'a str,
    pub name: &'a str,
    pub birth_date: &'a str,
    pub email: &'a str,
    pub mobile: Option<&'a str>,
    pub token_hash: String,
}

pub async fn insert_registrants(
    conn: &mut AnyConnection,
    upload_id: i64,
    unit_code: &str,
    now: i64,
    expires_at: i64,
    rows: &[NewRegistrant<'_>],
) -> Result<(), StorageError> {
    sql::insert_rows(
        conn,
        "INSERT INTO bulk_registrants (upload_id, unit_code, token_created_at, created_at, expires_at, \
         status, row_number, national_id, name, birth_date, email, mobile, token_hash)",
        "",
        rows,
        |s| {
            s.param(upload_id).param(unit_code).param(now).param(expires_at);
        },
        |f, r| {
            f.raw("$1")
                .raw("$2")
                .raw("$3")
                .raw("$3")
                .raw("$4")
                .raw("'pending'")
                .bind(r.row_number)
                .bind(r.national_id)
                .bind(r.name)
                .bind(r.birth_date)
                .bind(r.email)
                .bind(r.mobile)
                .bind(&r.token_hash);
        },
    )
    .await
}

/// Which of `ids` have a bulk registration awaiting activation.
pub async fn pending_among(
    conn: &mut AnyConnection,
    ids: &[&str],
) -> Result<Vec<String>, StorageError> {
    let rows: Vec<(String,)> = sql::fetch_in(conn, ids, |s: &mut Sql<'_>| {
        s.push("SELECT national_id FROM bulk_registrants WHERE status = 'pending' AND national_id");
    })
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RegistrantRow {
    pub id: i64,
    pub unit_code: String,
    pub national_id: String,
    pub name: String,
    pub birth_date: String,
    pub email: String,
    pub mobile: Option<String>,
    pub status: String,
    pub token_created_at: Option<i64>,
    pub expires_at: Option<i64>,
}

const REGISTRANT_COLUMNS: &str = "id, unit_code, national_id, name, birth_date, email, mobile, \
    status, token_created_at, expires_at";

pub async fn registrant_by_token(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> Result<Option<RegistrantRow>, StorageError> {
    let sql = format!("SELECT {REGISTRANT_COLUMNS} FROM bulk_registrants WHERE token_hash = $1");
    Ok(sqlx::query_as(&sql)
        .bind(token_hash)
        .fetch_optional(conn)
        .await?)
}

pub async fn pending_registrant(
    conn: &mut AnyConnection,
    national_id: &str,
) -> Result<Option<RegistrantRow>, StorageError> {
    let sql = format!(
        "SELECT {REGISTRANT_COLUMNS} FROM bulk_registrants WHERE national_id = $1 AND status = 'pending'"
    );
    Ok(sqlx::query_as(&sql)
        .bind(national_id)
        .fetch_optional(conn)
        .await?)
}

/// pending → active, the ticket consumed; false if a concurrent activation won.
pub async fn activate_registrant(
    conn: &mut AnyConnection,
    id: i64,
    token_hash: &str,
    account_id: i64,
) -> Result<bool, StorageError> {
    let done = sqlx::query(
        "UPDATE bulk_registrants SET status = 'active', token_hash = NULL, account_id = $3 \
         WHERE id = $1 AND token_hash = $2 AND status = 'pending'",
    )
    .bind(id)
    .bind(token_hash)
    .bind(account_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// F8: a new ticket (the old one stops working) and possibly a new address.
pub async fn replace_ticket(
    conn: &mut AnyConnection,
    id: i64,
    token_hash: &str,
    email: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), StorageError> {
    sqlx::query(
        "UPDATE bulk_registrants SET token_hash = $2, email = $3, token_created_at = $4, expires_at = $5 \
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(token_hash)
    .bind(email)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}
