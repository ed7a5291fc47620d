//! A bulk job survives a real crash: the `nhi-server` binary is killed (SIGKILL) in the middle
//! of a 20,000-row job, a new process takes the job over when the lease runs out, and in the
//! end every row is decided once and every mail queued once — on SQLite and PostgreSQL.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::ChildServer;

use nhi_protocol::units::LoginMethod;
use nhi_server::app::{build, Overrides};
use nhi_server::services::units::{generate_people, Principal};
use nhi_server::services::Caller;
use nhi_server::storage::units as store;
use nhi_server::storage::Db;

const UNIT: &str = "12345678";
const ROWS: usize = 20_000;

fn start(dir: &Path, db: &str) -> ChildServer {
    let port = common::free_port();
    let child = common::server_command(dir, db, port)
        .env("NHI_OUTBOX_WORKER", "false")
        .env("NHI_BULK_CHUNK_ROWS", "100")
        .env("NHI_METRICS_LISTEN", "off")
        .env("NHI_BULK_LEASE_SECONDS", "2")
        .env("NHI_BULK_POLL_MS", "100")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join(format!("server-{port}.log"))).expect("log"),
        ))
        .spawn()
        .expect("spawn nhi-server");
    ChildServer(child)
}

async fn counts(db: &Db, id: i64) -> (String, i64, i64, i64, i64, i64, i64) {
    let pool = db.pool();
    let (status, processed, accepted): (String, i64, i64) = sqlx::query_as(
        "SELECT status, processed_rows, accepted_rows FROM bulk_uploads WHERE id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .expect("upload");
    let one = |sql: &'static str| async move {
        let r: (i64,) = sqlx::query_as(sql).fetch_one(pool).await.expect(sql);
        r.0
    };
    (
        status,
        processed,
        accepted,
        one("SELECT COUNT(*) FROM bulk_rows").await,
        one("SELECT COUNT(DISTINCT row_number) FROM bulk_rows").await,
        one("SELECT COUNT(*) FROM outbox WHERE kind = 'bulk_activation'").await,
        one("SELECT COUNT(*) FROM bulk_registrants").await,
    )
}

async fn scenario(db_url: String) {
    let dir = tempfile::tempdir().expect("dir");
    // The unit's people and the upload, written by an in-process instance without workers.
    let mut config = common::test_config(dir.path());
    config.database_url = db_url.clone();
    config.upload_max_bytes = 64 * 1024 * 1024;
    let app = build(config, Overrides::default()).await.expect("app");
    let people = generate_people(99, ROWS);
    {
        let mut conn = app.services.db.conn().await.expect("conn");
        store::insert_insured(&mut conn, UNIT, &people)
            .await
            .expect("insured");
    }
    let csv = common::people_csv(&people, "c");
    let admin = Principal {
        national_id: "A123456789".into(),
        name: "王小明".into(),
        email: "wang@example.com".into(),
        method: LoginMethod::NhiCard,
    };
    let caller = Caller {
        ip: "127.0.0.1".into(),
    };
    let accepted = app
        .services
        .upload_file(&caller, &admin, UNIT, "crash.csv", csv.as_bytes(), None)
        .await
        .expect("upload");
    let id = accepted.upload_id;
    let db = app.services.db.clone();

    // First process: killed once it is part-way through.
    let first = start(dir.path(), &db_url);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, processed, ..) = counts(&db, id).await;
        if processed >= 300 {
            break;
        }
        assert!(Instant::now() < deadline, "the job did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(first); // SIGKILL
    let (status, processed, acc, rows, distinct, mails, registrants) = counts(&db, id).await;
    assert_eq!(status, "processing");
    assert!(
        processed < ROWS as i64,
        "killed in the middle ({processed})"
    );
    assert_eq!(
        (rows, distinct),
        (processed, processed),
        "progress and rows agree"
    );
    assert_eq!(
        (mails, registrants),
        (acc, acc),
        "mails and registrants agree"
    );

    // Second process: takes over when the lease (2 s) runs out and finishes.
    let _second = start(dir.path(), &db_url);
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (status, ..) = counts(&db, id).await;
        if status == "done" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the job did not finish after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, processed, acc, rows, distinct, mails, registrants) = counts(&db, id).await;
    let n = ROWS as i64;
    assert_eq!((processed, acc), (n, n));
    assert_eq!((rows, distinct), (n, n), "every row decided exactly once");
    assert_eq!(
        (mails, registrants),
        (n, n),
        "every mail queued exactly once"
    );
    let results: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE kind = 'bulk_result'")
        .fetch_one(db.pool())
        .await
        .expect("results");
    assert_eq!(results.0, 1, "one result mail");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_job_resumes_on_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("crash.db").display()
    );
    scenario(url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_job_resumes_on_postgres() {
    let Some(url) = common::postgres_url().await else {
        return;
    };
    scenario(url).await;
}
