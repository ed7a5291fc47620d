//! Rate-limit state in the database, shared by every instance. One statement per counted
//! request in both forms:
//!
//! - fixed-window counters (`rate_counters`, issue 10): hourly budgets of verified events
//!   (logins per card or certificate, passkey step-ups) — an upsert that returns the count;
//! - token buckets (`rate_buckets`, issue 14): the per-client API rate limit on PostgreSQL,
//!   stored as GCRA (one theoretical arrival time per bucket) — an upsert that returns the
//!   decision ([`take_token`]).

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

/// What [`take_token`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    Taken,
    /// The bucket is empty: the next token is there in this many microseconds.
    Empty {
        wait_micros: i64,
    },
}

/// The GCRA upsert. `statement_timestamp()` (the database's clock, one value for the whole
/// statement, so the upsert and its RETURNING see the same instant) in microseconds is
/// "now"; `EXCLUDED.tat - $2` is that now again (a fresh bucket's row is now + interval).
const TAKE_TOKEN: &str = "INSERT INTO rate_buckets AS b (bucket, tat, allowed) \
     VALUES ($1, CAST(EXTRACT(EPOCH FROM statement_timestamp()) * 1000000 AS BIGINT) + $2, TRUE) \
     ON CONFLICT (bucket) DO UPDATE SET \
       allowed = b.tat <= EXCLUDED.tat - $2 + $3, \
       tat = CASE WHEN b.tat <= EXCLUDED.tat - $2 + $3 \
                  THEN GREATEST(b.tat, EXCLUDED.tat - $2) + $2 ELSE b.tat END \
     RETURNING allowed, \
       tat - CAST(EXTRACT(EPOCH FROM statement_timestamp()) * 1000000 AS BIGINT)";

/// PostgreSQL only: takes one token from `bucket`, a token bucket refilled one token every
/// `interval_micros` and holding `burst` tokens — as GCRA: the row holds the bucket's
/// theoretical arrival time `tat`; a request at `now` is allowed when
/// `tat <= now + (burst - 1) · interval`, and then moves `tat` to `max(tat, now) + interval`.
/// One upsert: concurrent requests for one bucket queue on its row lock, so no more pass than
/// the bucket holds, on any number of instances. The database's clock is the only clock, so
/// instances whose clocks disagree still share one budget.
pub async fn take_token(
    conn: &mut AnyConnection,
    bucket: &str,
    interval_micros: i64,
    burst: u32,
) -> Result<Take, StorageError> {
    let tolerance = interval_micros.saturating_mul(i64::from(burst.max(1)) - 1);
    let (allowed, debt): (bool, i64) = sqlx::query_as(TAKE_TOKEN)
        .bind(bucket)
        .bind(interval_micros)
        .bind(tolerance)
        .fetch_one(conn)
        .await?;
    Ok(if allowed {
        Take::Taken
    } else {
        Take::Empty {
            wait_micros: debt.saturating_sub(tolerance).max(1),
        }
    })
}

/// Drops counter windows that started before `before` (unix seconds), and token buckets full
/// since then (a bucket whose arrival time is past is the same as no row).
pub async fn purge_before(conn: &mut AnyConnection, before: i64) -> Result<(), StorageError> {
    sqlx::query("DELETE FROM rate_counters WHERE window_start < $1")
        .bind(before)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM rate_buckets WHERE tat < $1")
        .bind(before.saturating_mul(1_000_000))
        .execute(&mut *conn)
        .await?;
    Ok(())
}
