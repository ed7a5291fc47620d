//! The bulk job queue (F5): an upload is a job, claimed with a lease and advanced under a
//! fence (see `workers::bulk_jobs`).

use sqlx::AnyConnection;

use super::{Backend, StorageError};

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

/// PostgreSQL: fresh planner statistics after the insured people were bulk-loaded (no-op on
/// SQLite).
pub async fn refresh_insured_statistics(
    conn: &mut AnyConnection,
    backend: Backend,
) -> Result<(), StorageError> {
    if backend == Backend::Postgres {
        sqlx::query("ANALYZE unit_insured").execute(conn).await?;
    }
    Ok(())
}

/// PostgreSQL: keeps the rest of this transaction's lookups on their indexes whatever the
/// planner believes — registrants grow by whole files within one job, faster than the
/// statistics (no-op on SQLite).
pub async fn prefer_indexes(
    conn: &mut AnyConnection,
    backend: Backend,
) -> Result<(), StorageError> {
    if backend == Backend::Postgres {
        sqlx::query("SET LOCAL enable_seqscan = off")
            .execute(conn)
            .await?;
    }
    Ok(())
}
