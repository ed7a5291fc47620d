//! Crash safety of the mail outbox, with the real `nhi-server` binary killed by SIGKILL:
//! 1. killed after the registration committed but before its mail was sent → the restarted
//!    server sends it, once;
//! 2. aborted right after the mail was sent but before it was marked sent → the restarted
//!    server re-delivers the same outbox entry, which the file mailer writes to the same
//!    file: still exactly one mail.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{free_port, holder, ChildServer, Holder, ORIGIN, PASSWORD};
use nhi_protocol::api::CSRF_HEADER;
use nhi_protocol::card_proof::{self, MasterKey, Nonce, TEST_MASTER_KEY_HEX};
use serde_json::{json, Value};

struct Server {
    child: ChildServer,
    base: String,
}

async fn start(dir: &Path, db: &str, worker: bool, abort_after_send: bool) -> Server {
    let port = free_port();
    let mut cmd = common::server_command(dir, db, port);
    cmd.env("NHI_OUTBOX_WORKER", if worker { "true" } else { "false" })
        .env("NHI_OUTBOX_POLL_MS", "100")
        .env("NHI_ARGON2_MEMORY_KIB", "1024")
        .env("NHI_ARGON2_ITERATIONS", "1")
        .env("NHI_RATE_LIMIT_PER_MINUTE", "0")
        .env("NHI_METRICS_LISTEN", "off")
        .env("RUST_LOG", "warn")
        .env_remove("NHI_FAULT_ABORT_AFTER_SEND")
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join(format!("server-{port}.log"))).expect("log"),
        ));
    if abort_after_send {
        cmd.env("NHI_FAULT_ABORT_AFTER_SEND", "1");
    }
    let server = Server {
        child: ChildServer(cmd.spawn().expect("spawn nhi-server")),
        base: format!("http://127.0.0.1:{port}"),
    };
    common::wait_healthy(&server.base).await;
    server
}

async fn post(base: &str, path: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header(CSRF_HEADER, "1")
        .header("origin", ORIGIN)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn register(base: &str, h: &Holder) {
    let (_, n) = post(
        base,
        "/api/v1/card-proof/nonce",
        json!({ "purpose": "register" }),
    )
    .await;
    let nonce: Nonce = serde_json::from_value(n["nonce"].clone()).expect("nonce");
    let master = MasterKey::from_hex(TEST_MASTER_KEY_HEX).expect("key");
    let record = card_proof::CardRecord::encode(&h.card).expect("record");
    let mac = card_proof::card_mac(
        &card_proof::derive_card_key(&master, &record),
        &card_proof::challenge(ORIGIN, &nonce),
        &record,
    );
    let body = json!({
        "proof": nhi_protocol::api::CardProof::new(nonce, record, mac),
        "household": h.household, "password": PASSWORD, "email": "wang@example.com",
    });
    let (status, answer) = post(base, "/api/v1/registrations", body).await;
    assert_eq!(status, 202, "{answer}");
}

fn mail_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir.join("mail"))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect()
        })
        .unwrap_or_default()
}

async fn wait_for_mails(dir: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while mail_files(dir).len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if mail_files(dir).len() < n {
        dump_logs(dir);
    }
}

/// Prints the servers' logs (on failure).
fn dump_logs(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().ends_with(".log") {
            eprintln!("--- {}", entry.path().display());
            eprintln!(
                "{}",
                std::fs::read_to_string(entry.path()).unwrap_or_default()
            );
        }
    }
}

async fn outbox_state(db: &str) -> Vec<(i64, bool)> {
    let db = nhi_server::storage::Db::connect(db, 2).await.expect("db");
    let mut conn = db.conn().await.expect("conn");
    let rows = nhi_server::storage::outbox::all(&mut conn)
        .await
        .expect("rows");
    drop(conn);
    db.close().await;
    rows.into_iter()
        .map(|(m, sent)| (m.attempts, sent.is_some()))
        .collect()
}

async fn killed_before_sending(db: String) {
    let dir = tempfile::tempdir().expect("dir");
    let mut s = start(dir.path(), &db, false, false).await;
    register(&s.base, &holder(0)).await;
    s.child.0.kill().expect("SIGKILL");
    let _ = s.child.0.wait();
    assert!(mail_files(dir.path()).is_empty(), "killed before any send");
    assert_eq!(
        outbox_state(&db).await,
        vec![(0, false)],
        "the mail survived the crash in the outbox"
    );

    let s = start(dir.path(), &db, true, false).await;
    wait_for_mails(dir.path(), 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await; // several more worker rounds
    drop(s);
    assert_eq!(mail_files(dir.path()).len(), 1);
    assert_eq!(outbox_state(&db).await, vec![(1, true)]);

    // Yet another start sends nothing more.
    let s = start(dir.path(), &db, true, false).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(s);
    assert_eq!(mail_files(dir.path()).len(), 1);
}

async fn aborted_after_sending(db: String) {
    let dir = tempfile::tempdir().expect("dir");
    let mut s = start(dir.path(), &db, true, true).await;
    register(&s.base, &holder(0)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.child.0.try_wait().expect("wait").is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        s.child.0.try_wait().expect("wait").is_some(),
        "the fault hook aborted the server"
    );
    assert_eq!(mail_files(dir.path()).len(), 1);
    assert_eq!(
        outbox_state(&db).await,
        vec![(1, false)],
        "sent but not marked"
    );

    // The lease of the crashed claim must run out before another worker may retry.
    let db_url = db.clone();
    let conn_db = nhi_server::storage::Db::connect(&db_url, 2)
        .await
        .expect("db");
    sqlx::query("UPDATE outbox SET claimed_until = 0")
        .execute(conn_db.pool())
        .await
        .expect("expire lease");
    conn_db.close().await;

    let s = start(dir.path(), &db, true, false).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while outbox_state(&db).await != vec![(2, true)] && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(s);
    assert_eq!(outbox_state(&db).await, vec![(2, true)]);
    assert_eq!(
        mail_files(dir.path()).len(),
        1,
        "re-delivery overwrote the same mail file"
    );
}

fn sqlite_url() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("nhi.db").display());
    (dir, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_kill_before_send_delivers_once() {
    let (_d, url) = sqlite_url();
    killed_before_sending(url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_abort_after_send_delivers_once() {
    let (_d, url) = sqlite_url();
    aborted_after_sending(url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_kill_before_send_delivers_once() {
    if let Some(url) = common::postgres_url().await {
        killed_before_sending(url).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_abort_after_send_delivers_once() {
    if let Some(url) = common::postgres_url().await {
        aborted_after_sending(url).await;
    }
}
