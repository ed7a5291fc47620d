//! Insured units (F4–F8): units and their insured people, staff roles, uploads (which are
//! also the durable bulk jobs), row decisions and bulk registrants.
//!
//! Visibility of uploads (F6) is decided in SQL: the unit admin sees every upload of the
//! unit; staff with the query permission see only their own.

use sqlx::AnyConnection;

use super::{Backend, StorageError};

/// Rows per multi-row INSERT: large statements bind slowly (cost grows faster than the
/// number of parameters), small ones pay a round trip each; measured best around 100–250.
const ROWS_PER_STATEMENT: usize = 64;

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
    for chunk in people.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT INTO unit_insured (unit_code, national_id, name, birth_date) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 3;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("($1, ${}, ${}, ${})", b + 2, b + 3, b + 4));
        }
        sql.push_str(" ON CONFLICT (unit_code, national_id) DO NOTHING");
        let mut q = sqlx::query(&sql).bind(code);
        for p in chunk {
            q = q.bind(&p.national_id).bind(&p.name).bind(&p.birth_date);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
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

/// Claims one open job whose lease ran out (or that nobody holds): `FOR UPDATE SKIP LOCKED`
/// on PostgreSQL; one atomic UPDATE on SQLite.
pub async fn claim_job(
    conn: &mut AnyConnection,
    backend: Backend,
    worker: &str,
    now: i64,
    lease: i64,
) -> Result<Option<i64>, StorageError> {
    let lock = match backend {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE bulk_uploads SET status = 'processing', claimed_by = $1, claimed_until = $2 \
         WHERE id = (SELECT id FROM bulk_uploads WHERE status IN ('queued', 'processing') \
           AND (claimed_until IS NULL OR claimed_until < $3) ORDER BY id LIMIT 1 {lock}) \
         AND status IN ('queued', 'processing') AND (claimed_until IS NULL OR claimed_until < $3) \
         RETURNING id"
    );
    let row: Option<(i64,)> = sqlx::query_as(&sql)
        .bind(worker)
        .bind(now + lease)
        .bind(now)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| r.0))
}

/// The fence of a chunk: moves the progress from `from` to `to` only if this worker still
/// holds the job and nobody moved it meanwhile. False: give the job up (roll back).
#[allow(clippy::too_many_arguments)]
pub async fn advance(
    conn: &mut AnyConnection,
    id: i64,
    worker: &str,
    from: i64,
    to: i64,
    accepted: i64,
    rejected: i64,
    lease_until: i64,
) -> Result<bool, StorageError> {
    let done = sqlx::query(
        "UPDATE bulk_uploads SET processed_rows = $4, accepted_rows = accepted_rows + $5, \
         rejected_rows = rejected_rows + $6, claimed_until = $7 \
         WHERE id = $1 AND claimed_by = $2 AND processed_rows = $3 AND status = 'processing'",
    )
    .bind(id)
    .bind(worker)
    .bind(from)
    .bind(to)
    .bind(accepted)
    .bind(rejected)
    .bind(lease_until)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks the job done (or failed) if this worker still holds it.
pub async fn finish(
    conn: &mut AnyConnection,
    id: i64,
    worker: &str,
    status: &str,
    error: Option<&str>,
    now: i64,
) -> Result<bool, StorageError> {
    let done = sqlx::query(
        "UPDATE bulk_uploads SET status = $3, error = $4, finished_at = $5, claimed_until = NULL \
         WHERE id = $1 AND claimed_by = $2 AND status = 'processing'",
    )
    .bind(id)
    .bind(worker)
    .bind(status)
    .bind(error)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// `(a, b, …)` placeholders `$start … $start+n-1`.
pub fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The unit's insured people among `ids`.
pub async fn insured_among(
    conn: &mut AnyConnection,
    code: &str,
    ids: &[&str],
) -> Result<Vec<InsuredRow>, StorageError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(ids.len());
    for part in ids.chunks(ROWS_PER_STATEMENT * 2) {
        let sql = format!(
            "SELECT national_id, name, birth_date FROM unit_insured WHERE unit_code = $1 AND national_id IN ({})",
            placeholders(2, part.len())
        );
        let mut q = sqlx::query_as(&sql).bind(code);
        for id in part {
            q = q.bind(*id);
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// Which of `ids` have an account (registered or self-registration pending).
pub async fn registered_among(
    conn: &mut AnyConnection,
    ids: &[&str],
) -> Result<Vec<String>, StorageError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for part in ids.chunks(ROWS_PER_STATEMENT * 2) {
        let sql = format!(
            "SELECT national_id FROM accounts WHERE national_id IN ({})",
            placeholders(1, part.len())
        );
        let mut q = sqlx::query_as::<_, (String,)>(&sql);
        for id in part {
            q = q.bind(*id);
        }
        out.extend(q.fetch_all(&mut *conn).await?.into_iter().map(|r| r.0));
    }
    Ok(out)
}

/// Which of `ids` have a bulk registration awaiting activation.
pub async fn pending_among(
    conn: &mut AnyConnection,
    ids: &[&str],
) -> Result<Vec<String>, StorageError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for part in ids.chunks(ROWS_PER_STATEMENT * 2) {
        let sql = format!(
            "SELECT national_id FROM bulk_registrants WHERE status = 'pending' AND national_id IN ({})",
            placeholders(1, part.len())
        );
        let mut q = sqlx::query_as::<_, (String,)>(&sql);
        for id in part {
            q = q.bind(*id);
        }
        out.extend(q.fetch_all(&mut *conn).await?.into_iter().map(|r| r.0));
    }
    Ok(out)
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
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT INTO bulk_rows (upload_id, row_number, national_id, name, email, accepted, reason) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 6;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "($1, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7
            ));
        }
        let mut q = sqlx::query(&sql).bind(upload_id);
        for r in chunk {
            q = q
                .bind(r.row_number)
                .bind(r.national_id)
                .bind(r.name)
                .bind(r.email)
                .bind(i64::from(r.accepted))
                .bind(r.reason);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

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
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT INTO bulk_registrants (upload_id, unit_code, token_created_at, created_at, expires_at, \
             status, row_number, national_id, name, birth_date, email, mobile, token_hash) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 7;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "($1, $2, $3, $3, $4, 'pending', ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9,
                b + 10,
                b + 11
            ));
        }
        let mut q = sqlx::query(&sql)
            .bind(upload_id)
            .bind(unit_code)
            .bind(now)
            .bind(expires_at);
        for r in chunk {
            q = q
                .bind(r.row_number)
                .bind(r.national_id)
                .bind(r.name)
                .bind(r.birth_date)
                .bind(r.email)
                .bind(r.mobile)
                .bind(&r.token_hash);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A mail for the multi-row outbox insert.
pub struct BulkMail {
    pub message_id: String,
    pub kind: &'static str,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
}

/// Enqueues many mails in multi-row statements (same columns as `outbox::enqueue`).
pub async fn enqueue_mails(
    conn: &mut AnyConnection,
    mails: &[BulkMail],
    now: i64,
) -> Result<(), StorageError> {
    for chunk in mails.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT INTO outbox (created_at, next_attempt_at, attempts, message_id, kind, recipient, \
             subject, text_body, html_body) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 6;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "($1, $1, 0, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7
            ));
        }
        let mut q = sqlx::query(&sql).bind(now);
        for m in chunk {
            q = q
                .bind(&m.message_id)
                .bind(m.kind)
                .bind(&m.recipient)
                .bind(&m.subject)
                .bind(&m.text_body)
                .bind(&m.html_body);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn attach(
    conn: &mut AnyConnection,
    outbox_id: i64,
    file_name: &str,
    content_type: &str,
    content: &[u8],
) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO outbox_attachments (outbox_id, file_name, content_type, content) VALUES ($1, $2, $3, $4)",
    )
    .bind(outbox_id)
    .bind(file_name)
    .bind(content_type)
    .bind(content)
    .execute(conn)
    .await?;
    Ok(())
}

/// (file name, content type, content) of a mail's attachments.
pub async fn attachments(
    conn: &mut AnyConnection,
    outbox_id: i64,
) -> Result<Vec<(String, String, Vec<u8>)>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT file_name, content_type, content FROM outbox_attachments WHERE outbox_id = $1",
    )
    .bind(outbox_id)
    .fetch_all(conn)
    .await?)
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
