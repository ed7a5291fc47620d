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
    pub created_at: i64,
}

/// The lockout state (`failed_logins`, `locked_until`, `last_failed_at`) is not part of the
/// row: [`reserve_login_attempt`] reads it afresh inside its compare-and-swap.
const COLUMNS: &str =
    "id, card_number, national_id, name, birth_date, email, password_hash, status, created_at";

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

/// The active account of a person, by ID number (a certificate login's email, issue 12).
pub async fn active_by_national_id(
    conn: &mut AnyConnection,
    national_id: &str,
) -> Result<Option<AccountRow>, StorageError> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE national_id = $1 AND status = $2");
    Ok(sqlx::query_as(&sql)
        .bind(national_id)
        .bind(ACTIVE)
        .fetch_optional(conn)
        .await?)
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

/// The outcome of [`reserve_login_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// This attempt is counted as the `n`-th failure until it succeeds; when it reached the
    /// threshold the account is already locked until `locked_until`. `previous_failure_at`:
    /// when the failure before it was reserved.
    Reserved {
        n: i64,
        locked_until: Option<i64>,
        previous_failure_at: Option<i64>,
    },
    /// Locked: no password may be tried before this time.
    Locked { until: i64 },
}

/// Reserves a password attempt *before* the password is checked (issue 10): the failure
/// counter goes up first, and the attempt that reaches the threshold locks the account at
/// once, so N requests sent together get at most `threshold` passwords evaluated. A
/// compare-and-swap on the counter (one conditional UPDATE, retried when another attempt won
/// the race) keeps it atomic on SQLite and PostgreSQL alike. `lock_for(n)` is the lock length
/// in seconds after `n` failures, `None` below the threshold.
pub async fn reserve_login_attempt(
    conn: &mut AnyConnection,
    id: i64,
    now: i64,
    lock_for: impl Fn(i64) -> Option<u64>,
) -> Result<Attempt, StorageError> {
    loop {
        let (failed, locked, previous): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT failed_logins, locked_until, last_failed_at FROM accounts WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
        if let Some(until) = locked.filter(|u| *u > now) {
            return Ok(Attempt::Locked { until });
        }
        let n = failed.saturating_add(1);
        let locked_until =
            lock_for(n).map(|secs| now.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX)));
        let done = sqlx::query(
            "UPDATE accounts SET failed_logins = $2, locked_until = $3, last_failed_at = $4, \
             updated_at = $4 \
             WHERE id = $1 AND failed_logins = $5 AND (locked_until IS NULL OR locked_until <= $4)",
        )
        .bind(id)
        .bind(n)
        .bind(locked_until.or(locked))
        .bind(now)
        .bind(failed)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(Attempt::Reserved {
                n,
                locked_until,
                previous_failure_at: previous.filter(|_| failed > 0),
            });
        }
    }
}

/// The password of reserved attempt `n` was right. With `forgive`, and when no attempt was
/// reserved after this one, the failures start again from zero (and a lock this attempt set is
/// lifted); otherwise only this attempt is taken back, so guesses racing the owner's login keep
/// their count.
pub async fn login_succeeded(
    conn: &mut AnyConnection,
    id: i64,
    n: i64,
    forgive: bool,
) -> Result<(), StorageError> {
    if forgive {
        let done = sqlx::query(
            "UPDATE accounts SET failed_logins = 0, locked_until = NULL, last_failed_at = NULL \
             WHERE id = $1 AND failed_logins = $2",
        )
        .bind(id)
        .bind(n)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
    }
    sqlx::query(
        "UPDATE accounts SET failed_logins = failed_logins - 1 WHERE id = $1 AND failed_logins > 0",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Which of `ids` have an account (registered or self-registration pending).
pub async fn registered_among(
    conn: &mut AnyConnection,
    ids: &[&str],
) -> Result<Vec<String>, StorageError> {
    let rows: Vec<(String,)> = super::sql::fetch_in(conn, ids, |s: &mut super::sql::Sql<'_>| {
        s.push("SELECT national_id FROM accounts WHERE national_id");
    })
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Activates every account (the benchmark's logins need active accounts).
pub async fn activate_all(conn: &mut AnyConnection) -> Result<u64, StorageError> {
    let done = sqlx::query("UPDATE accounts SET status = 'active'")
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Issue 16: the account follows the person's replacement card.
pub async fn set_card_number(
    conn: &mut AnyConnection,
    id: i64,
    card_number: &str,
) -> Result<(), StorageError> {
    sqlx::query("UPDATE accounts SET card_number = $1 WHERE id = $2")
        .bind(card_number)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
