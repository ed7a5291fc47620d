//! Insured units (F4): the units, their insured people and the staff roles.

use sqlx::AnyConnection;

use super::sql::{self, Sql};
use super::StorageError;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnitRow {
    pub unit_code: String,
    pub name: String,
    pub admin_national_id: String,
}

/// A unit the person acts for, with their permissions (admin: all).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MembershipRow {
    pub unit_code: String,
    pub name: String,
    pub is_admin: i64,
    pub can_upload: i64,
    pub can_query: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InsuredRow {
    pub national_id: String,
    pub name: String,
    pub birth_date: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StaffRow {
    pub national_id: String,
    pub name: String,
    pub can_upload: i64,
    pub can_query: i64,
}

pub async fn insert_unit(
    conn: &mut AnyConnection,
    code: &str,
    name: &str,
    admin: &str,
) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO insured_units (unit_code, name, admin_national_id) VALUES ($1, $2, $3) \
         ON CONFLICT (unit_code) DO NOTHING",
    )
    .bind(code)
    .bind(name)
    .bind(admin)
    .execute(conn)
    .await?;
    Ok(())
}

/// Inserts insured people in multi-row statements (existing ones are kept).
pub async fn insert_insured(
    conn: &mut AnyConnection,
    code: &str,
    people: &[InsuredRow],
) -> Result<(), StorageError> {
    sql::insert_rows(
        conn,
        "INSERT INTO unit_insured (unit_code, national_id, name, birth_date)",
        " ON CONFLICT (unit_code, national_id) DO NOTHING",
        people,
        |s| {
            s.param(code);
        },
        |f, p| {
            f.raw("$1")
                .bind(&p.national_id)
                .bind(&p.name)
                .bind(&p.birth_date);
        },
    )
    .await
}

pub async fn unit(conn: &mut AnyConnection, code: &str) -> Result<Option<UnitRow>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT unit_code, name, admin_national_id FROM insured_units WHERE unit_code = $1",
    )
    .bind(code)
    .fetch_optional(conn)
    .await?)
}

/// Every unit the person administers or holds a permission in.
pub async fn memberships(
    conn: &mut AnyConnection,
    national_id: &str,
) -> Result<Vec<MembershipRow>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT u.unit_code, u.name, \
           CASE WHEN u.admin_national_id = $1 THEN 1 ELSE 0 END AS is_admin, \
           CASE WHEN u.admin_national_id = $1 THEN 1 ELSE COALESCE(r.can_upload, 0) END AS can_upload, \
           CASE WHEN u.admin_national_id = $1 THEN 1 ELSE COALESCE(r.can_query, 0) END AS can_query \
         FROM insured_units u LEFT JOIN unit_roles r \
           ON r.unit_code = u.unit_code AND r.national_id = $1 \
         WHERE u.admin_national_id = $1 OR (r.national_id IS NOT NULL AND (r.can_upload = 1 OR r.can_query = 1)) \
         ORDER BY u.unit_code",
    )
    .bind(national_id)
    .fetch_all(conn)
    .await?)
}

pub async fn insured_person(
    conn: &mut AnyConnection,
    code: &str,
    national_id: &str,
) -> Result<Option<InsuredRow>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT national_id, name, birth_date FROM unit_insured WHERE unit_code = $1 AND national_id = $2",
    )
    .bind(code)
    .bind(national_id)
    .fetch_optional(conn)
    .await?)
}

pub async fn staff(conn: &mut AnyConnection, code: &str) -> Result<Vec<StaffRow>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT r.national_id, COALESCE(i.name, '') AS name, r.can_upload, r.can_query \
         FROM unit_roles r LEFT JOIN unit_insured i \
           ON i.unit_code = r.unit_code AND i.national_id = r.national_id \
         WHERE r.unit_code = $1 ORDER BY r.national_id",
    )
    .bind(code)
    .fetch_all(conn)
    .await?)
}

pub async fn set_role(
    conn: &mut AnyConnection,
    code: &str,
    national_id: &str,
    can_upload: bool,
    can_query: bool,
    by: &str,
    now: i64,
) -> Result<(), StorageError> {
    if !can_upload && !can_query {
        sqlx::query("DELETE FROM unit_roles WHERE unit_code = $1 AND national_id = $2")
            .bind(code)
            .bind(national_id)
            .execute(conn)
            .await?;
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO unit_roles (unit_code, national_id, can_upload, can_query, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (unit_code, national_id) DO UPDATE SET \
         can_upload = $3, can_query = $4, updated_at = $5, updated_by = $6",
    )
    .bind(code)
    .bind(national_id)
    .bind(i64::from(can_upload))
    .bind(i64::from(can_query))
    .bind(now)
    .bind(by)
    .execute(conn)
    .await?;
    Ok(())
}

/// The unit's insured people among `ids`.
pub async fn insured_among(
    conn: &mut AnyConnection,
    code: &str,
    ids: &[&str],
) -> Result<Vec<InsuredRow>, StorageError> {
    sql::fetch_in(conn, ids, |s: &mut Sql<'_>| {
        s.push("SELECT national_id, name, birth_date FROM unit_insured WHERE unit_code = ")
            .bind(code)
            .push(" AND national_id");
    })
    .await
}
