//! Fixed-window counters in the database, shared by every instance (issue 10: the per-card
//! login limit). One statement per counted request: an upsert that returns the new count.

use sqlx::AnyConnection;

use super::StorageError;

/// Counts one hit in `bucket`'s window starting at `window_start`; returns the hits so far in
/// that window, this one included.
pub async fn hit(
    conn: &mut AnyConnection,
    bucket: &str,
    window_start: i64,
) -> Result<i64, StorageError> {
    let (hits,): (i64,) = sqlx::query_as(
        "INSERT INTO rate_counters (bucket, window_start, hits) VALUES ($1, $2, 1) \
         ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_counters.hits + 1 \
         RETURNING hits",
    )
    .bind(bucket)
    .bind(window_start)
    .fetch_one(conn)
    .await?;
    Ok(hits)
}

/// The hits so far in `bucket`'s window starting at `window_start` (0 when none).
pub async fn peek(
    conn: &mut AnyConnection,
    bucket: &str,
    window_start: i64,
) -> Result<i64, StorageError> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT hits FROM rate_counters WHERE bucket = $1 AND window_start = $2")
            .bind(bucket)
            .bind(window_start)
            .fetch_optional(conn)
            .await?;
    Ok(row.map_or(0, |r| r.0))
}

/// Drops windows that started before `before`.
pub async fn purge_before(conn: &mut AnyConnection, before: i64) -> Result<(), StorageError> {
    sqlx::query("DELETE FROM rate_counters WHERE window_start < $1")
        .bind(before)
        .execute(conn)
        .await?;
    Ok(())
}
