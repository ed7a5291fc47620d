//! Storage: one schema on SQLite (embedded default) and PostgreSQL, through sqlx's `Any`
//! driver with runtime-checked queries (`$n` placeholders work on both engines). Every SQL
//! statement of the server is in this module, one file per concern: accounts, tickets,
//! sessions, nonces, rate counters and the outbox (F1–F3, F8); units and roles, uploads,
//! bulk jobs and registrants (F4–F8); health bank and applications (F9); the audit log.
//! Statements built at run time (multi-row INSERTs, chunked `IN (…)` lookups) go through
//! [`sql`]. PostgreSQL sums a BIGINT column as numeric, which `Any` cannot decode as `i64`:
//! cast such sums (`CAST(SUM(x) AS BIGINT)`); `COUNT` and sums of INTEGER are BIGINT already.

pub mod accounts;
pub mod applications;
pub mod audit;
pub mod bulk_jobs;
pub mod health_bank;
pub mod nonces;
pub mod outbox;
pub mod passkeys;
pub mod rate_counters;
pub mod registrants;
pub mod sessions;
pub mod sql;
pub mod tickets;
pub mod unit_sessions;
pub mod units;
pub mod uploads;

use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyConnection, AnyPool, Connection as _, Executor as _};

pub type Tx = sqlx::Transaction<'static, Any>;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL (use sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error("cannot create the database directory {0}: {1}")]
    Directory(String, std::io::Error),
}

impl StorageError {
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StorageError::Sqlx(e) => e
                .as_database_error()
                .is_some_and(|d| d.is_unique_violation()),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Db {
    /// Connects and runs the migrations. SQLite uses WAL and a single writer connection
    /// (SQLite serialises writers anyway; one connection avoids SQLITE_BUSY under load).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StorageError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StorageError::UnsupportedUrl);
        };
        if backend == Backend::Sqlite {
            ensure_sqlite_dir(url)?;
        }
        let options = AnyConnectOptions::from_str(url)?;
        let pool_options = AnyPoolOptions::new();
        let pool = match backend {
            Backend::Sqlite => {
                pool_options
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
            Backend::Postgres => {
                pool_options
                    .max_connections(max_connections)
                    .connect_with(options)
                    .await?
            }
        };
        let db = Db { pool, backend };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), StorageError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn begin(&self) -> Result<Tx, StorageError> {
        Ok(self.pool.begin().await?)
    }

    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<Any>, StorageError> {
        Ok(self.pool.acquire().await?)
    }

    pub async fn ping(&self) -> Result<(), StorageError> {
        let mut conn = self.conn().await?;
        conn.ping().await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Creates the parent directory of a `sqlite://path` file.
fn ensure_sqlite_dir(url: &str) -> Result<(), StorageError> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)
                .map_err(|e| StorageError::Directory(parent.display().to_string(), e))?;
        }
    }
    Ok(())
}

/// Unix seconds now.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Removes expired nonces, sessions (both kinds) and rate-limit windows older than a day.
pub async fn purge_expired(conn: &mut AnyConnection, now: i64) -> Result<(), StorageError> {
    rate_counters::purge_before(conn, now.saturating_sub(24 * 3600)).await?;
    sqlx::query("DELETE FROM card_nonces WHERE expires_at < $1")
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM unit_sessions WHERE expires_at < $1")
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at < $1")
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// PostgreSQL: creates the database `name` (a plain identifier: letters, digits, `_`) on the
/// server of `server_url` (the benchmarks' throw-away databases).
pub async fn create_postgres_database(server_url: &str, name: &str) -> Result<(), StorageError> {
    postgres_admin(
        server_url,
        &format!("CREATE DATABASE {}", identifier(name)?),
    )
    .await
}

/// PostgreSQL: drops the database `name` if it exists.
pub async fn drop_postgres_database(server_url: &str, name: &str) -> Result<(), StorageError> {
    postgres_admin(
        server_url,
        &format!("DROP DATABASE IF EXISTS {}", identifier(name)?),
    )
    .await
}

fn identifier(name: &str) -> Result<&str, StorageError> {
    let plain = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        Ok(name)
    } else {
        Err(StorageError::Sqlx(sqlx::Error::Protocol(format!(
            "{name:?} is not a plain database name"
        ))))
    }
}

async fn postgres_admin(server_url: &str, statement: &str) -> Result<(), StorageError> {
    let mut conn = sqlx::PgConnection::connect(server_url).await?;
    sqlx::query(statement).execute(&mut conn).await?;
    conn.close().await?;
    Ok(())
}
