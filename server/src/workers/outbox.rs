//! The outbox worker: claims due mails, sends them, marks them sent, or schedules a retry
//! with exponential backoff. A crash after the claim leaves the lease to expire and another
//! worker (or the restarted one) retries; a crash after the send but before the mark re-sends
//! the same outbox entry, which the file mailer overwrites and SMTP receivers can de-duplicate
//! by its stable Message-ID.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::adapters::mailer::{Mail, MailError, Mailer};
use crate::metrics::Metrics;
use crate::storage::outbox::{self, MailRow};
use crate::storage::{self, Db, StorageError};

#[derive(Clone)]
pub struct OutboxWorker {
    pub db: Db,
    pub mailer: Arc<dyn Mailer>,
    pub metrics: Arc<Metrics>,
    pub wakeup: Arc<Notify>,
    pub poll: Duration,
    pub batch: i64,
    pub lease_seconds: i64,
    pub max_attempts: i64,
}

/// Seconds to wait before attempt `attempts + 1`: 5, 10, 20, … capped at one hour.
pub fn backoff_seconds(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    (5i64 << exp).min(3600)
}

/// Test hook: abort the process right after a successful send (crash-safety test only).
fn abort_after_send() -> bool {
    std::env::var_os("NHI_FAULT_ABORT_AFTER_SEND").is_some()
}

impl OutboxWorker {
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!("outbox worker started");
        loop {
            match self.tick().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "outbox worker"),
            }
            tokio::select! {
                _ = self.wakeup.notified() => {}
                _ = tokio::time::sleep(self.poll) => {}
                _ = shutdown.changed() => break,
            }
            if *shutdown.borrow() {
                break;
            }
        }
        tracing::info!("outbox worker stopped");
    }

    /// One round: returns how many mails were handled.
    pub async fn tick(&self) -> Result<usize, StorageError> {
        let now = storage::now();
        let rows = {
            let mut conn = self.db.conn().await?;
            outbox::claim(
                &mut conn,
                self.db.backend(),
                now,
                self.lease_seconds,
                self.batch,
            )
            .await?
        };
        let n = rows.len();
        for row in rows {
            self.deliver(row).await?;
        }
        Ok(n)
    }

    async fn deliver(&self, row: MailRow) -> Result<(), StorageError> {
        let mail = Mail {
            outbox_id: row.id,
            message_id: row.message_id.clone(),
            kind: row.kind.clone(),
            to: row.recipient.clone(),
            subject: row.subject.clone(),
            text: row.text_body.clone(),
            html: row.html_body.clone(),
            // Only the bulk upload result mail has attachments: no extra query for the others
            // (a large upload sends 100,000 verification mails).
            attachments: if row.kind != "bulk_result" {
                Vec::new()
            } else {
                let mut conn = self.db.conn().await?;
                crate::storage::outbox::attachments(&mut conn, row.id)
                    .await?
                    .into_iter()
                    .map(|(file_name, content_type, content)| {
                        crate::adapters::mailer::MailAttachment {
                            file_name,
                            content_type,
                            content,
                        }
                    })
                    .collect()
            },
        };
        // A panicking mailer must not take the worker down: it counts as a failed attempt.
        let mailer = self.mailer.clone();
        let result = match tokio::spawn(async move { mailer.send(&mail).await }).await {
            Ok(result) => result,
            Err(e) => Err(MailError::Build(format!("the mailer panicked: {e}"))),
        };
        let now = storage::now();
        let mut conn = self.db.conn().await?;
        match result {
            Ok(()) => {
                if abort_after_send() {
                    tracing::error!(
                        id = row.id,
                        "NHI_FAULT_ABORT_AFTER_SEND: aborting after the send"
                    );
                    std::process::abort();
                }
                outbox::mark_sent(&mut conn, row.id, now).await?;
                self.metrics.inc(&self.metrics.mails_sent);
                tracing::info!(id = row.id, kind = %row.kind, "mail sent");
            }
            Err(e) if row.attempts >= self.max_attempts => {
                self.metrics.inc(&self.metrics.mail_failures);
                tracing::error!(id = row.id, error = %e, attempts = row.attempts, "mail given up");
                outbox::mark_failed(&mut conn, row.id, now, &e.to_string()).await?;
            }
            Err(e) => {
                self.metrics.inc(&self.metrics.mail_failures);
                let next = now + backoff_seconds(row.attempts);
                tracing::warn!(id = row.id, error = %e, attempts = row.attempts, next, "mail failed; will retry");
                outbox::mark_retry(&mut conn, row.id, next, &e.to_string()).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(super::backoff_seconds(1), 5);
        assert_eq!(super::backoff_seconds(2), 10);
        assert_eq!(super::backoff_seconds(4), 40);
        assert_eq!(super::backoff_seconds(50), 3600);
    }
}
