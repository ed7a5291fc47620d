//! Issue 16: passkeys (WebAuthn credentials) of accounts, their open ceremonies, and the
//! random WebAuthn user handle of an account.

use sqlx::AnyConnection;

use super::StorageError;

pub const REGISTRATION: &str = "registration";
pub const LOGIN: &str = "login";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PasskeyRow {
    pub id: i64,
    pub account_id: i64,
    pub credential_id: String,
    pub passkey: String,
    pub name: String,
    pub enrolled_card_number: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub sign_count: i64,
}

const COLUMNS: &str = "id, account_id, credential_id, passkey, name, enrolled_card_number, \
                       created_at, last_used_at, sign_count";

pub struct NewPasskey<'a> {
    pub account_id: i64,
    pub credential_id: &'a str,
    pub passkey: &'a str,
    pub name: &'a str,
    pub enrolled_card_number: &'a str,
    pub sign_count: i64,
}

/// The account's user handle (hex); sets `fresh` if it has none yet (and answers the one
/// stored, should two requests race).
pub async fn user_handle(
    conn: &mut AnyConnection,
    account_id: i64,
    fresh: &str,
) -> Result<Option<String>, StorageError> {
    sqlx::query(
        "UPDATE accounts SET passkey_user_handle = $1 WHERE id = $2 AND passkey_user_handle IS NULL",
    )
    .bind(fresh)
    .bind(account_id)
    .execute(&mut *conn)
    .await?;
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT passkey_user_handle FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.and_then(|r| r.0))
}

/// The account of a user handle.
pub async fn account_of_handle(
    conn: &mut AnyConnection,
    handle: &str,
) -> Result<Option<i64>, StorageError> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM accounts WHERE passkey_user_handle = $1")
            .bind(handle)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|r| r.0))
}

pub async fn insert_ceremony(
    conn: &mut AnyConnection,
    id_hash: &str,
    kind: &str,
    session_hash: Option<&str>,
    state: &str,
    expires_at: i64,
) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO passkey_ceremonies (id_hash, kind, session_hash, state, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id_hash)
    .bind(kind)
    .bind(session_hash)
    .bind(state)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Consumes a ceremony (whatever the outcome of what follows: single-use); its kind, session
/// hash and state if it existed. The caller checks expiry, kind and session.
pub async fn take_ceremony(
    conn: &mut AnyConnection,
    id_hash: &str,
    now: i64,
) -> Result<Option<(String, Option<String>, String)>, StorageError> {
    let row: Option<(String, Option<String>, String, i64)> = sqlx::query_as(
        "DELETE FROM passkey_ceremonies WHERE id_hash = $1 \
         RETURNING kind, session_hash, state, expires_at",
    )
    .bind(id_hash)
    .fetch_optional(conn)
    .await?;
    Ok(row
        .filter(|r| r.3 > now)
        .map(|(kind, session, state, _)| (kind, session, state)))
}

pub async fn insert(
    conn: &mut AnyConnection,
    p: &NewPasskey<'_>,
    now: i64,
) -> Result<i64, StorageError> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO passkeys (account_id, credential_id, passkey, name, enrolled_card_number, \
         created_at, sign_count) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(p.account_id)
    .bind(p.credential_id)
    .bind(p.passkey)
    .bind(p.name)
    .bind(p.enrolled_card_number)
    .bind(now)
    .bind(p.sign_count)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

pub async fn by_credential_id(
    conn: &mut AnyConnection,
    credential_id: &str,
) -> Result<Option<PasskeyRow>, StorageError> {
    let sql = format!("SELECT {COLUMNS} FROM passkeys WHERE credential_id = $1");
    Ok(sqlx::query_as(&sql)
        .bind(credential_id)
        .fetch_optional(conn)
        .await?)
}

/// The account's passkeys, oldest first.
pub async fn of_account(
    conn: &mut AnyConnection,
    account_id: i64,
) -> Result<Vec<PasskeyRow>, StorageError> {
    let sql = format!("SELECT {COLUMNS} FROM passkeys WHERE account_id = $1 ORDER BY id");
    Ok(sqlx::query_as(&sql)
        .bind(account_id)
        .fetch_all(conn)
        .await?)
}

/// One passkey of the account (None for another account's id).
pub async fn of_account_by_id(
    conn: &mut AnyConnection,
    account_id: i64,
    id: i64,
) -> Result<Option<PasskeyRow>, StorageError> {
    let sql = format!("SELECT {COLUMNS} FROM passkeys WHERE id = $1 AND account_id = $2");
    Ok(sqlx::query_as(&sql)
        .bind(id)
        .bind(account_id)
        .fetch_optional(conn)
        .await?)
}

/// Records a use: the updated serialised passkey, its counter, when. Only if the stored
/// counter is still `previous` (a concurrent use of a clone loses).
pub async fn record_use(
    conn: &mut AnyConnection,
    id: i64,
    passkey: &str,
    previous: i64,
    sign_count: i64,
    now: i64,
) -> Result<bool, StorageError> {
    let r = sqlx::query(
        "UPDATE passkeys SET passkey = $1, sign_count = $2, last_used_at = $3 \
         WHERE id = $4 AND sign_count = $5",
    )
    .bind(passkey)
    .bind(sign_count)
    .bind(now)
    .bind(id)
    .bind(previous)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn rename(
    conn: &mut AnyConnection,
    account_id: i64,
    id: i64,
    name: &str,
) -> Result<bool, StorageError> {
    let r = sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND account_id = $3")
        .bind(name)
        .bind(id)
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete(
    conn: &mut AnyConnection,
    account_id: i64,
    id: i64,
) -> Result<bool, StorageError> {
    let r = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND account_id = $2")
        .bind(id)
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Removes the passkeys a card enrolled; the number removed.
pub async fn delete_of_card(
    conn: &mut AnyConnection,
    card_number: &str,
) -> Result<u64, StorageError> {
    let r = sqlx::query("DELETE FROM passkeys WHERE enrolled_card_number = $1")
        .bind(card_number)
        .execute(conn)
        .await?;
    Ok(r.rows_affected())
}

/// The accounts with a passkey enrolled by, or a session opened by, a card.
pub async fn accounts_of_card(
    conn: &mut AnyConnection,
    card_number: &str,
) -> Result<Vec<i64>, StorageError> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT account_id FROM passkeys WHERE enrolled_card_number = $1 \
         UNION SELECT account_id FROM sessions WHERE card_number = $1",
    )
    .bind(card_number)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}
