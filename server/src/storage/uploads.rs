//! Uploads of insured units (F5, F6) — also the durable bulk jobs (see [`super::bulk_jobs`])
//! — and the decision on each of their rows.
//!
//! Visibility of uploads (F6) is decided in SQL: the unit admin sees every upload of the
//! unit; staff with the query permission see only their own.

use sqlx::AnyConnection;

use super::sql;
use super::StorageError;

pub struct NewUpload<'a> {
    pub unit_code: &'a str,
    pub uploader_national_id: &'a str,
    pub uploader_name: &'a str,
    pub uploader_email: &'a str,
    pub file_name: &'a str,
    pub file_kind: &'a str,
    pub encoding: &'a str,
    pub content: &'a [u8],
    pub total_rows: i64,
}

pub async fn insert_upload(
    conn: &mut AnyConnection,
    u: &NewUpload<'_>,
    now: i64,
) -> Result<i64, StorageError> {
    let id: (i64,) = sqlx::query_as(
        "INSERT INTO bulk_uploads (unit_code, uploader_national_id, uploader_name, uploader_email, \
         file_name, file_kind, encoding, content, status, total_rows, processed_rows, accepted_rows, \
         rejected_rows, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9, 0, 0, 0, $10) \
         RETURNING id",
    )
    .bind(u.unit_code)
    .bind(u.uploader_national_id)
    .bind(u.uploader_name)
    .bind(u.uploader_email)
    .bind(u.file_name)
    .bind(u.file_kind)
    .bind(u.encoding)
    .bind(u.content)
    .bind(u.total_rows)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(id.0)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadRow {
    pub id: i64,
    pub unit_code: String,
    pub uploader_national_id: String,
    pub uploader_name: String,
    pub uploader_email: String,
    pub file_name: String,
    pub encoding: String,
    pub status: String,
    pub total_rows: i64,
    pub processed_rows: i64,
    pub accepted_rows: i64,
    pub rejected_rows: i64,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

const UPLOAD_COLUMNS: &str = "b.id, b.unit_code, b.uploader_national_id, b.uploader_name, \
    b.uploader_email, b.file_name, b.encoding, b.status, b.total_rows, b.processed_rows, \
    b.accepted_rows, b.rejected_rows, b.created_at, b.finished_at";

/// The F6 visibility rule as SQL: `$1` unit, `$2` the viewer's ID number.
const VISIBLE: &str = "b.unit_code = $1 AND (\
      EXISTS (SELECT 1 FROM insured_units u WHERE u.unit_code = $1 AND u.admin_national_id = $2) \
      OR (b.uploader_national_id = $2 AND EXISTS (SELECT 1 FROM unit_roles r \
            WHERE r.unit_code = $1 AND r.national_id = $2 AND r.can_query = 1)))";

/// F6: the uploads of the unit the viewer may see, newest first.
pub async fn visible_uploads(
    conn: &mut AnyConnection,
    code: &str,
    viewer: &str,
) -> Result<Vec<UploadRow>, StorageError> {
    let sql = format!(
        "SELECT {UPLOAD_COLUMNS} FROM bulk_uploads b WHERE {VISIBLE} ORDER BY b.id DESC LIMIT 500"
    );
    Ok(sqlx::query_as(&sql)
        .bind(code)
        .bind(viewer)
        .fetch_all(conn)
        .await?)
}

/// One upload if the viewer may see it (F6 rule).
pub async fn visible_upload(
    conn: &mut AnyConnection,
    code: &str,
    viewer: &str,
    id: i64,
) -> Result<Option<UploadRow>, StorageError> {
    let sql = format!("SELECT {UPLOAD_COLUMNS} FROM bulk_uploads b WHERE {VISIBLE} AND b.id = $3");
    Ok(sqlx::query_as(&sql)
        .bind(code)
        .bind(viewer)
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

/// The uploader's own upload (progress on the upload page, with the upload permission).
pub async fn own_upload(
    conn: &mut AnyConnection,
    code: &str,
    uploader: &str,
    id: i64,
) -> Result<Option<UploadRow>, StorageError> {
    let sql = format!(
        "SELECT {UPLOAD_COLUMNS} FROM bulk_uploads b \
         WHERE b.unit_code = $1 AND b.uploader_national_id = $2 AND b.id = $3"
    );
    Ok(sqlx::query_as(&sql)
        .bind(code)
        .bind(uploader)
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

pub async fn upload_by_id(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<UploadRow>, StorageError> {
    let sql = format!("SELECT {UPLOAD_COLUMNS} FROM bulk_uploads b WHERE b.id = $1");
    Ok(sqlx::query_as(&sql).bind(id).fetch_optional(conn).await?)
}

pub async fn upload_content(conn: &mut AnyConnection, id: i64) -> Result<Vec<u8>, StorageError> {
    let row: (Vec<u8>,) = sqlx::query_as("SELECT content FROM bulk_uploads WHERE id = $1")
        .bind(id)
        .fetch_one(conn)
        .await?;
    Ok(row.0)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RowDecision {
    pub row_number: i64,
    pub national_id: String,
    pub name: String,
    pub email: String,
    pub accepted: i64,
    pub reason: String,
}

pub async fn row_decisions(
    conn: &mut AnyConnection,
    upload_id: i64,
    offset: i64,
    limit: i64,
) -> Result<Vec<RowDecision>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT row_number, national_id, name, email, accepted, reason FROM bulk_rows \
         WHERE upload_id = $1 ORDER BY row_number LIMIT $2 OFFSET $3",
    )
    .bind(upload_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(conn)
    .await?)
}

/// One page of the records page (F6): like [`row_decisions`], and with `failed_only` only
/// the refused rows (the offset then counts refused rows). The primary key (upload_id,
/// row_number) gives the order; the caller bounds `limit` and `offset`.
pub async fn row_decisions_page(
    conn: &mut AnyConnection,
    upload_id: i64,
    failed_only: bool,
    offset: i64,
    limit: i64,
) -> Result<Vec<RowDecision>, StorageError> {
    if !failed_only {
        return row_decisions(conn, upload_id, offset, limit).await;
    }
    Ok(sqlx::query_as(
        "SELECT row_number, national_id, name, email, accepted, reason FROM bulk_rows \
         WHERE upload_id = $1 AND accepted = 0 ORDER BY row_number LIMIT $2 OFFSET $3",
    )
    .bind(upload_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(conn)
    .await?)
}

pub struct NewDecision<'a> {
    pub row_number: i64,
    pub national_id: &'a str,
    pub name: &'a str,
    pub email: &'a str,
    pub accepted: bool,
    pub reason: &'a str,
}

pub async fn insert_decisions(
    conn: &mut AnyConnection,
    upload_id: i64,
    rows: &[NewDecision<'_>],
) -> Result<(), StorageError> {
    sql::insert_rows(
        conn,
        "INSERT INTO bulk_rows (upload_id, row_number, national_id, name, email, accepted, reason)",
        "",
        rows,
        |s| {
            s.param(upload_id);
        },
        |f, r| {
            f.raw("$1")
                .bind(r.row_number)
                .bind(r.national_id)
                .bind(r.name)
                .bind(r.email)
                .bind(i64::from(r.accepted))
                .bind(r.reason);
        },
    )
    .await
}

/// How many rows of the upload are decided.
pub async fn decision_count(conn: &mut AnyConnection, upload_id: i64) -> Result<i64, StorageError> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM bulk_rows WHERE upload_id = $1")
        .bind(upload_id)
        .fetch_one(conn)
        .await?;
    Ok(n)
}
