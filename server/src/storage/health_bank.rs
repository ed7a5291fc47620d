//! 健康存摺 (F9): a person's stored claims — visits with their medications, and enrolment
//! periods — and the seed row that says they were fetched from the claims source once.
//! Dates are `YYYY-MM-DD` text (sortable on both engines).

use nhi_protocol::online::Medication;
use sqlx::AnyConnection;

use super::StorageError;

pub struct NewVisit<'a> {
    pub date: &'a str,
    pub institution: &'a str,
    pub diagnosis_code: &'a str,
    pub diagnosis_zh: &'a str,
    pub diagnosis_en: &'a str,
    pub cost: i64,
    pub copayment: i64,
    pub medications: &'a [Medication],
}

pub struct NewEnrolment<'a> {
    pub unit_name: &'a str,
    pub unit_code: &'a str,
    pub category: &'a str,
    pub start_date: &'a str,
    pub end_date: Option<&'a str>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VisitRow {
    pub id: i64,
    pub visit_date: String,
    pub institution: String,
    pub diagnosis_code: String,
    pub diagnosis_zh: String,
    pub diagnosis_en: String,
    pub cost: i64,
    pub copayment: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MedicationRow {
    pub visit_id: i64,
    pub name: String,
    pub quantity: i64,
    pub days: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EnrolmentRow {
    pub unit_name: String,
    pub unit_code: String,
    pub category: String,
    pub start_date: String,
    pub end_date: Option<String>,
}

pub async fn is_seeded(conn: &mut AnyConnection, account_id: i64) -> Result<bool, StorageError> {
    let seeded: Option<(i64,)> =
        sqlx::query_as("SELECT account_id FROM health_bank_seeds WHERE account_id = $1")
            .bind(account_id)
            .fetch_optional(conn)
            .await?;
    Ok(seeded.is_some())
}

/// Claims the right to store the person's records: false if another transaction already
/// did (the seed row's primary key lets exactly one insert them).
pub async fn claim_seed(
    conn: &mut AnyConnection,
    account_id: i64,
    anchor_date: &str,
    now: i64,
) -> Result<bool, StorageError> {
    let claimed = sqlx::query(
        "INSERT INTO health_bank_seeds (account_id, anchor_date, seeded_at) VALUES ($1, $2, $3)",
    )
    .bind(account_id)
    .bind(anchor_date)
    .bind(now)
    .execute(conn)
    .await;
    match claimed.map_err(StorageError::from) {
        Ok(_) => Ok(true),
        Err(e) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(e),
    }
}

pub async fn insert_visit(
    conn: &mut AnyConnection,
    account_id: i64,
    v: &NewVisit<'_>,
) -> Result<(), StorageError> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO medical_visits (account_id, visit_date, institution, diagnosis_code, \
         diagnosis_zh, diagnosis_en, cost, copayment) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         RETURNING id",
    )
    .bind(account_id)
    .bind(v.date)
    .bind(v.institution)
    .bind(v.diagnosis_code)
    .bind(v.diagnosis_zh)
    .bind(v.diagnosis_en)
    .bind(v.cost)
    .bind(v.copayment)
    .fetch_one(&mut *conn)
    .await?;
    for m in v.medications {
        sqlx::query(
            "INSERT INTO medications (visit_id, name, quantity, days) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(&m.name)
        .bind(i64::from(m.quantity))
        .bind(i64::from(m.days))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn insert_enrolment(
    conn: &mut AnyConnection,
    account_id: i64,
    e: &NewEnrolment<'_>,
) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO enrolments (account_id, unit_name, unit_code, category, start_date, end_date) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(account_id)
    .bind(e.unit_name)
    .bind(e.unit_code)
    .bind(e.category)
    .bind(e.start_date)
    .bind(e.end_date)
    .execute(conn)
    .await?;
    Ok(())
}

/// The visits from `from` to `to` (inclusive), newest first.
pub async fn visits(
    conn: &mut AnyConnection,
    account_id: i64,
    from: &str,
    to: &str,
) -> Result<Vec<VisitRow>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT id, visit_date, institution, diagnosis_code, diagnosis_zh, diagnosis_en, cost, copayment \
         FROM medical_visits WHERE account_id = $1 AND visit_date >= $2 AND visit_date <= $3 \
         ORDER BY visit_date DESC, id DESC",
    )
    .bind(account_id)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?)
}

/// The medications of the visits from `from` to `to`, in the order they were stored.
pub async fn medications(
    conn: &mut AnyConnection,
    account_id: i64,
    from: &str,
    to: &str,
) -> Result<Vec<MedicationRow>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT m.visit_id, m.name, m.quantity, m.days FROM medications m \
         JOIN medical_visits v ON v.id = m.visit_id \
         WHERE v.account_id = $1 AND v.visit_date >= $2 AND v.visit_date <= $3 ORDER BY m.id",
    )
    .bind(account_id)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?)
}

/// The person's enrolment periods, oldest first.
pub async fn enrolments(
    conn: &mut AnyConnection,
    account_id: i64,
) -> Result<Vec<EnrolmentRow>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT unit_name, unit_code, category, start_date, end_date FROM enrolments \
         WHERE account_id = $1 ORDER BY start_date",
    )
    .bind(account_id)
    .fetch_all(conn)
    .await?)
}
