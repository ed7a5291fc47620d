//! Accounts (one per card).

use sqlx::AnyConnection;

use super::StorageError;

pub const PENDING: &str = "pending";
pub const ACTIVE: &str = "active";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountRow {
    pub id: i64,
    pub card_number: String,
    pub national_id: String,
    pub name: String,
    pub birth_date: String,
    pub email: String,
    pub password_hash: String,
    pub status: String,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    pub created_at: i64,
}

const COLUMNS: &str =
    "id, card_number, national_id, name, birth_date, email, password_hash, status, \
                       failed_logins, locked_until, created_at";

pub struct NewAccount<'a> {
    pub card_number: &'a str,
    pub national_id: &'a str,
    pub name: &'a str,
    pub birth_date: &'a str,
    pub sex: &'a str,
    pub household_number: &'a str,
    pub county: &'a str,
    pub township: &'a str,
    pub village: &'a str,
    pub neighbourhood: i64,
    pub email: &'a str,
    pub mobile: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub password_hash: &'a str,
}

pub async fn by_card(
    conn: &mut AnyConnection,
    card_number: &str,
) -> Result<Option<AccountRow>, StorageError> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE card_number = $1");
    Ok(sqlx::query_as(&sql)
        .bind(card_number)
        .fetch_optional(conn)
        .await?)
}

pub async fn by_card_or_id(
    conn: &mut AnyConnection,
    card_number: &str,
    national_id: &str,
) -> Result<Option<AccountRow>, StorageError> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE card_number = $1 OR national_id = $2");
    Ok(sqlx::query_as(&sql)
        .bind(card_number)
        .bind(national_id)
        .fetch_optional(conn)
        .await?)
}

pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<Option<AccountRow>, StorageError> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE id = $1");
    Ok(sqlx::query_as(&sql).bind(id).fetch_optional(conn).await?)
}

/// Inserts a pending account; a unique violation means the card or ID is taken.
pub async fn insert_pending(
    conn: &mut AnyConnection,
    a: &NewAccount<'_>,
    now: i64,
) -> Result<i64, StorageError> {
    let id: (i64,) = sqlx::query_as(
        "INSERT INTO accounts (card_number, national_id, name, birth_date, sex, household_number, \
         county, township, village, neighbourhood, email, mobile, phone, password_hash, status, \
         failed_logins, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'pending', 0, $15, $15) \
         RETURNING id",
    )
    .bind(a.card_number)
    .bind(a.national_id)
    .bind(a.name)
    .bind(a.birth_date)
    .bind(a.sex)
    .bind(a.household_number)
    .bind(a.county)
    .bind(a.township)
    .bind(a.village)
    .bind(a.neighbourhood)
    .bind(a.email)
    .bind(a.mobile)
    .bind(a.phone)
    .bind(a.password_hash)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(id.0)
}

/// pending → active; false when it was not pending (a concurrent confirmation won).
pub async fn activate(conn: &mut AnyConnection, id: i64, now: i64) -> Result<bool, StorageError> {
    let done = sqlx::query(
        "UPDATE accounts SET status = 'active', activated_at = $2, updated_at = $2 \
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_email(
    conn: &mut AnyConnection,
    id: i64,
    email: &str,
    now: i64,
) -> Result<(), StorageError> {
    sqlx::query("UPDATE accounts SET email = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(email)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Counts a wrong password; returns the new count.
pub async fn record_failure(
    conn: &mut AnyConnection,
    id: i64,
    now: i64,
) -> Result<i64, StorageError> {
    let n: (i64,) = sqlx::query_as(
        "UPDATE accounts SET failed_logins = failed_logins + 1, updated_at = $2 WHERE id = $1 \
         RETURNING failed_logins",
    )
    .bind(id)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(n.0)
}

pub async fn lock_until(conn: &mut AnyConnection, id: i64, until: i64) -> Result<(), StorageError> {
    sqlx::query("UPDATE accounts SET locked_until = $2 WHERE id = $1")
        .bind(id)
        .bind(until)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn reset_failures(conn: &mut AnyConnection, id: i64) -> Result<(), StorageError> {
    sqlx::query("UPDATE accounts SET failed_logins = 0, locked_until = NULL WHERE id = $1 AND failed_logins <> 0")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
