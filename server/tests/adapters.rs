//! Adapters against real processes: SMTP (Debian's python3-aiosmtpd), the HTTP household
//! registry (a server started here), and outbox retries with a failing mailer.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use common::{free_port, holder, Engine, Harness};
use nhi_protocol::api::ProofPurpose;
use nhi_server::adapters::mailer::{Mail, MailError, Mailer};
use nhi_server::adapters::registry::{RegistryAnswer, RegistryQuery};
use nhi_server::app::Overrides;
use nhi_server::config::{MailerKind, RegistryKind};

/// An aiosmtpd process writing every message into a maildir; killed on drop.
struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl SmtpServer {
    fn python() -> Option<&'static str> {
        let found = ["/usr/bin/python3", "python3"].into_iter().find(|p| {
            Command::new(p)
                .args(["-c", "import aiosmtpd"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        if found.is_none() {
            eprintln!("SKIPPED: SMTP test: python3-aiosmtpd is not installed (apt-get install python3-aiosmtpd)");
        }
        found
    }

    fn start(dir: &Path) -> Option<Self> {
        Self::start_on(dir, free_port())
    }

    fn start_on(dir: &Path, port: u16) -> Option<Self> {
        let python = Self::python()?;
        let maildir = dir.join(format!("smtp-maildir-{port}"));
        let child = Command::new(python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn aiosmtpd");
        let server = Self {
            child,
            port,
            maildir,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("aiosmtpd did not start on port {port}");
    }

    fn messages(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.maildir.join("new"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

both_engines!(
    mails_go_out_through_a_real_smtp_server,
    |h: Harness| async move {
        let Some(smtp) = SmtpServer::start(h.dir.path()) else {
            return;
        };
        // A second app on the same database, configured for SMTP.
        let url = h.app.services.config.database_url.clone();
        let port = smtp.port;
        let h2 = Harness::new(h.engine, move |c| {
            c.database_url = url;
            c.mailer = MailerKind::Smtp;
            c.smtp_port = port;
            c.smtp_timeout_ms = 5000;
        })
        .await
        .expect("harness");
        assert_eq!(
            h2.register(&holder(0), "wang@example.com").await.status,
            StatusCode::ACCEPTED
        );
        h2.drain_outbox().await;
        let msgs = smtp.messages();
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        let m = &msgs[0];
        assert!(m.contains("To: wang@example.com"), "{m}");
        assert!(m.contains("Message-ID: <") && m.contains("@nhi-registration>"));
        assert!(
            m.contains("multipart/alternative")
                && m.contains("text/html")
                && m.contains("text/plain")
        );
        assert!(h2.outbox().await.iter().all(|m| m.3), "marked sent");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_down_means_retry_later_not_loss() {
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let h = Harness::new(Engine::Sqlite, |c| {
        c.mailer = MailerKind::Smtp;
        c.smtp_port = port;
        c.smtp_timeout_ms = 2000;
    })
    .await
    .expect("harness");
    h.register(&holder(1), "chen@example.com").await;
    h.drain_outbox().await; // connection refused → retry scheduled
    let (attempts, next, err): (i64, i64, Option<String>) =
        sqlx::query_as("SELECT attempts, next_attempt_at, last_error FROM outbox")
            .fetch_one(h.app.services.db.pool())
            .await
            .expect("row");
    assert_eq!(attempts, 1);
    assert!(next > nhi_server::storage::now(), "backoff");
    assert!(err.is_some());
    // The server comes up on that port; once due, the mail goes out exactly once.
    let Some(smtp) = SmtpServer::start_on(dir.path(), port) else {
        return;
    };
    h.exec("UPDATE outbox SET next_attempt_at = 0").await;
    h.drain_outbox().await;
    h.drain_outbox().await;
    assert_eq!(smtp.messages().len(), 1);
}

/// Fails the first `fail` sends, then records.
struct FlakyMailer {
    fail: AtomicU32,
    sent: Mutex<Vec<Mail>>,
}

#[async_trait::async_trait]
impl Mailer for FlakyMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        if self.fail.load(Ordering::SeqCst) > 0 {
            self.fail.fetch_sub(1, Ordering::SeqCst);
            return Err(MailError::Smtp("451 try again later".into()));
        }
        self.sent.lock().expect("lock").push(mail.clone());
        Ok(())
    }
}

both_engines!(
    outbox_retries_with_backoff_and_gives_up_after_max_attempts,
    |h: Harness| async move {
        let mailer = Arc::new(FlakyMailer {
            fail: AtomicU32::new(2),
            sent: Mutex::new(Vec::new()),
        });
        let url = h.app.services.config.database_url.clone();
        let h = Harness::with_overrides(
            h.engine,
            move |c| {
                c.database_url = url;
                c.outbox_max_attempts = 3;
            },
            Overrides {
                mailer: Some(mailer.clone()),
                ..Overrides::default()
            },
        )
        .await
        .expect("harness");
        h.register(&holder(2), "lin@example.com").await;
        for expected_attempts in 1..=2 {
            h.drain_outbox().await;
            let (attempts, next): (i64, i64) =
                sqlx::query_as("SELECT attempts, next_attempt_at - created_at FROM outbox")
                    .fetch_one(h.app.services.db.pool())
                    .await
                    .expect("row");
            assert_eq!(attempts, expected_attempts);
            assert!(
                next >= 5 * (1 << (expected_attempts - 1)),
                "backoff grows: {next}"
            );
            assert!(mailer.sent.lock().expect("lock").is_empty());
            h.exec("UPDATE outbox SET next_attempt_at = 0").await;
        }
        h.drain_outbox().await;
        assert_eq!(mailer.sent.lock().expect("lock").len(), 1);
        h.drain_outbox().await;
        assert_eq!(mailer.sent.lock().expect("lock").len(), 1, "sent once");

        // A mail that keeps failing is given up after outbox_max_attempts and kept for inspection.
        mailer.fail.store(100, Ordering::SeqCst);
        h.register(&holder(3), "huang@example.com").await;
        for _ in 0..5 {
            h.drain_outbox().await;
            h.exec("UPDATE outbox SET next_attempt_at = 0").await;
        }
        let failed: (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM outbox WHERE failed_at IS NOT NULL AND attempts = 3",
        )
        .fetch_one(h.app.services.db.pool())
        .await
        .expect("row");
        assert_eq!(failed.0, 1);
    }
);

async fn start_registry(delay: Duration) -> String {
    let app = Router::new().route(
        "/check",
        post(move |Json(q): Json<RegistryQuery>| async move {
            tokio::time::sleep(delay).await;
            Json(RegistryAnswer {
                matches: q.national_id == "B223456719"
                    && q.household_number == "B0012345"
                    && q.neighbourhood == 12,
            })
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/check")
}

both_engines!(
    http_registry_adapter_follows_the_contract_and_times_out,
    |h: Harness| async move {
        let url = start_registry(Duration::ZERO).await;
        let db = h.app.services.config.database_url.clone();
        let h = Harness::new(h.engine, move |c| {
            c.database_url = db;
            c.registry = RegistryKind::Http;
            c.registry_url = Some(url);
            c.registry_timeout_ms = 500;
        })
        .await
        .expect("harness");
        let chen = holder(1);
        let body = serde_json::json!({ "proof": h.proof(&chen, ProofPurpose::Register).await, "household": chen.household });
        assert_eq!(
            h.post("/api/v1/registrations/household-check", body)
                .await
                .status,
            StatusCode::OK
        );
        let mut other = chen.household.clone();
        other.neighbourhood = 13;
        let body = serde_json::json!({ "proof": h.proof(&chen, ProofPurpose::Register).await, "household": other });
        assert_eq!(
            h.post("/api/v1/registrations/household-check", body)
                .await
                .code(),
            "household_mismatch"
        );

        let slow = start_registry(Duration::from_secs(3)).await;
        let db = h.app.services.config.database_url.clone();
        let h = Harness::new(h.engine, move |c| {
            c.database_url = db;
            c.registry = RegistryKind::Http;
            c.registry_url = Some(slow);
            c.registry_timeout_ms = 300;
        })
        .await
        .expect("harness");
        let started = std::time::Instant::now();
        let r = h.register(&chen, "chen@example.com").await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::SERVICE_UNAVAILABLE, "registry_unavailable")
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "bounded by the timeout"
        );
        assert!(h.outbox().await.is_empty(), "nothing half-done");

        let dead = format!("http://127.0.0.1:{}/check", free_port());
        let db = h.app.services.config.database_url.clone();
        let h = Harness::new(h.engine, move |c| {
            c.database_url = db;
            c.registry = RegistryKind::Http;
            c.registry_url = Some(dead);
        })
        .await
        .expect("harness");
        assert_eq!(
            h.register(&chen, "chen@example.com").await.code(),
            "registry_unavailable"
        );
    }
);

struct PanickingMailer;

#[async_trait::async_trait]
impl Mailer for PanickingMailer {
    async fn send(&self, _: &Mail) -> Result<(), MailError> {
        panic!("mailer bug");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_mailer_is_a_failed_attempt_not_a_dead_worker() {
    let h = Harness::with_overrides(
        Engine::Sqlite,
        |_| {},
        Overrides {
            mailer: Some(Arc::new(PanickingMailer)),
            ..Overrides::default()
        },
    )
    .await
    .expect("harness");
    h.register(&holder(0), "wang@example.com").await;
    h.drain_outbox().await;
    let (attempts, err): (i64, Option<String>) =
        sqlx::query_as("SELECT attempts, last_error FROM outbox")
            .fetch_one(h.app.services.db.pool())
            .await
            .expect("row");
    assert_eq!(attempts, 1);
    assert!(err.is_some_and(|e| e.contains("panicked")));
}
