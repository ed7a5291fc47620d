//! The bulk registration job (F5): claims an uploaded file with a lease, decides its rows in
//! chunks — each chunk one transaction with the row decisions, the registrants, their mails
//! (outbox) and the job's progress — and finally mails the result file to the uploader.
//!
//! Durability: progress (`processed_rows`) moves only in the chunk's transaction and only if
//! this worker still holds the job and nobody advanced it (a fence), so a crash or a lost
//! lease repeats at most an uncommitted chunk: nothing is lost and nothing is duplicated
//! (the rows are also unique by `(upload_id, row_number)`). A restarted or other instance
//! claims the job when the lease runs out and resumes from `processed_rows`: the stored file
//! is parsed again, deterministically. On PostgreSQL the claim uses `FOR UPDATE SKIP LOCKED`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use nhi_protocol::mask::mask_name;
use nhi_protocol::units::RowReason;
use tokio::sync::watch;

use crate::services::bulk_activation::{
    activate_link, bulk_activation_mail, result_mail, same_birth_date, ResultSummary,
};
use crate::services::bulk_parse::{self, name_matches, ParsedRow};
use crate::services::bulk_upload::result_mail_file;
use crate::services::mails;
use crate::services::registration::new_ticket;
use crate::services::Services;
use crate::services::{ServiceError, ServiceResult};
use crate::storage::outbox;
use crate::storage::outbox::BulkMail;
use crate::storage::registrants::NewRegistrant;
use crate::storage::uploads::{self, NewDecision};
use crate::storage::{self, StorageError};
use crate::storage::{accounts, bulk_jobs as jobs, registrants, units};

/// How a call to [`BulkWorker::process`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// Every row decided, the result mail queued.
    Done,
    /// Stopped after the allowed number of chunks (tests: a crash in the middle).
    Paused,
    /// Another worker holds the job now (our lease ran out).
    LostLease,
    /// The stored file cannot be parsed any more (should not happen: it was checked).
    Failed,
}

#[derive(Clone)]
pub struct BulkWorker {
    pub services: Arc<Services>,
    /// Unique per process (and per worker): the lease owner.
    pub id: String,
}

impl BulkWorker {
    pub fn new(services: Arc<Services>) -> Self {
        let id = format!(
            "{}-{}",
            std::process::id(),
            hex::encode(&crate::services::random_token()[..6])
        );
        Self { services, id }
    }

    fn lease(&self) -> i64 {
        i64::try_from(self.services.config.bulk_lease_seconds).unwrap_or(60)
    }

    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.services.config.bulk_poll_ms.max(10));
        loop {
            if *shutdown.borrow() {
                break;
            }
            match self.tick().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "bulk job"),
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = self.services.bulk_wakeup.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Claims and processes one job; false when none was due.
    pub async fn tick(&self) -> ServiceResult<bool> {
        let Some(id) = self.claim().await? else {
            return Ok(false);
        };
        self.process(id, None).await?;
        Ok(true)
    }

    pub async fn claim(&self) -> ServiceResult<Option<i64>> {
        let db = &self.services.db;
        let mut conn = db.conn().await?;
        Ok(jobs::claim_job(
            &mut conn,
            db.backend(),
            &self.id,
            storage::now(),
            self.lease(),
        )
        .await?)
    }

    /// Decides the remaining rows of a claimed job; `max_chunks` stops early (tests).
    pub async fn process(&self, id: i64, max_chunks: Option<usize>) -> ServiceResult<JobOutcome> {
        let s = &self.services;
        let (upload, content) = {
            let mut conn = s.db.conn().await?;
            let u = uploads::upload_by_id(&mut conn, id)
                .await?
                .ok_or(ServiceError::NotFound)?;
            let c = uploads::upload_content(&mut conn, id).await?;
            (u, c)
        };
        // The limits the upload was accepted under (the file's own size, if larger).
        let limits = bulk_parse::Limits::new(
            s.config.upload_max_bytes.max(content.len()),
            s.config.upload_max_rows,
        );
        let parsed = tokio::task::spawn_blocking(move || bulk_parse::parse_with(&content, &limits))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let (rows, sheets) = match parsed {
            Ok(p) => (p.rows, (p.sheet, p.other_sheets)),
            Err(problem) => {
                let mut conn = s.db.conn().await?;
                jobs::finish(
                    &mut conn,
                    id,
                    &self.id,
                    "failed",
                    Some(problem.code()),
                    storage::now(),
                )
                .await?;
                return Ok(JobOutcome::Failed);
            }
        };
        let unit_name = {
            let mut conn = s.db.conn().await?;
            // The insured people are bulk-loaded: fresh statistics for their lookups.
            jobs::refresh_insured_statistics(&mut conn, s.db.backend()).await?;
            units::unit(&mut conn, &upload.unit_code)
                .await?
                .map(|u| u.name)
                .unwrap_or_default()
        };
        let chunk = s.config.bulk_chunk_rows.clamp(1, 5000);
        let mut done = usize::try_from(upload.processed_rows).unwrap_or(0);
        let mut chunks = 0;
        while done < rows.len() {
            if max_chunks.is_some_and(|m| chunks >= m) {
                return Ok(JobOutcome::Paused);
            }
            let end = (done + chunk).min(rows.len());
            if !self
                .decide_chunk(id, &upload.unit_code, &unit_name, done, &rows[done..end])
                .await?
            {
                return Ok(JobOutcome::LostLease);
            }
            done = end;
            chunks += 1;
        }
        self.finish(id, sheets).await
    }

    /// One chunk in one transaction. False: the fence failed (lease lost), rolled back.
    async fn decide_chunk(
        &self,
        id: i64,
        unit: &str,
        unit_name: &str,
        from: usize,
        rows: &[ParsedRow],
    ) -> ServiceResult<bool> {
        let s = &self.services;
        let now = storage::now();
        let t0 = std::time::Instant::now();
        let mut tx = s.db.begin().await?;
        jobs::prefer_indexes(&mut tx, s.db.backend()).await?;
        let ids: Vec<&str> = rows
            .iter()
            .filter(|r| r.problem.is_none())
            .map(|r| r.national_id.as_str())
            .collect();
        let insured: HashMap<String, units::InsuredRow> = units::insured_among(&mut tx, unit, &ids)
            .await?
            .into_iter()
            .map(|r| (r.national_id.clone(), r))
            .collect();
        let ta = t0.elapsed();
        let registered: HashSet<String> = accounts::registered_among(&mut tx, &ids)
            .await?
            .into_iter()
            .collect();
        let tb = t0.elapsed();
        let pending: HashSet<String> = registrants::pending_among(&mut tx, &ids)
            .await?
            .into_iter()
            .collect();

        let t1 = t0.elapsed();
        let mut decisions = Vec::with_capacity(rows.len());
        let mut registrants = Vec::new();
        let mut mails = Vec::new();
        let origin = s.config.origin();
        for r in rows {
            let reason = r
                .problem
                .unwrap_or_else(|| match insured.get(&r.national_id) {
                    None => RowReason::NotInsured,
                    Some(p) if !name_matches(&p.name, &r.name) => RowReason::NameMismatch,
                    Some(p) if !same_birth_date(&p.birth_date, &r.birth_date) => {
                        RowReason::BirthDateMismatch
                    }
                    Some(_) if registered.contains(&r.national_id) => RowReason::AlreadyRegistered,
                    Some(_) if pending.contains(&r.national_id) => RowReason::AlreadyPending,
                    Some(_) => RowReason::Accepted,
                });
            let accepted = reason == RowReason::Accepted;
            if accepted {
                let ticket = new_ticket(now);
                let mail = bulk_activation_mail(
                    &mask_name(&r.name),
                    unit_name,
                    &activate_link(origin, &ticket.token),
                    ticket.expires_at,
                );
                mails.push(BulkMail {
                    // Ordered by upload and row (plus randomness): the unique index grows
                    // at its end instead of splitting pages all over.
                    message_id: format!(
                        "<{id:012}.{:09}.{}.{}@nhi-registration>",
                        r.row_number,
                        hex::encode(&crate::services::random_token()[..6]),
                        mail.kind
                    ),
                    kind: mail.kind,
                    recipient: r.email.clone(),
                    subject: mail.subject,
                    text_body: mail.text,
                    html_body: mail.html,
                });
                registrants.push(NewRegistrant {
                    row_number: r.row_number,
                    national_id: &r.national_id,
                    name: &r.name,
                    birth_date: &r.birth_date,
                    email: &r.email,
                    mobile: r.mobile.as_deref(),
                    token_hash: ticket.hash,
                });
            }
            decisions.push(NewDecision {
                row_number: r.row_number,
                national_id: &r.national_id,
                name: &r.name,
                email: &r.email,
                accepted,
                reason: reason.code(),
            });
        }
        let accepted = i64::try_from(registrants.len()).unwrap_or(i64::MAX);
        let total = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        if !jobs::advance(
            &mut tx,
            id,
            &self.id,
            from,
            from + total,
            accepted,
            total - accepted,
            now + self.lease(),
        )
        .await?
        {
            return Ok(false);
        }
        let t2 = t0.elapsed();
        uploads::insert_decisions(&mut tx, id, &decisions).await?;
        let t3 = t0.elapsed();
        let expires = now + crate::services::bulk_activation::BULK_TICKET_TTL;
        registrants::insert_registrants(&mut tx, id, unit, now, expires, &registrants).await?;
        let t4 = t0.elapsed();
        outbox::enqueue_mails(&mut tx, &mails, now).await?;
        let t5 = t0.elapsed();
        tx.commit().await.map_err(StorageError::from)?;
        tracing::debug!(
            upload = id,
            insured = ?ta,
            registered = ?tb,
            lookups = ?t1,
            decided = ?t2,
            rows = ?t3,
            registrants = ?t4,
            mails = ?t5,
            committed = ?t0.elapsed(),
            "bulk chunk (cumulative times)"
        );
        if !mails.is_empty() {
            s.outbox_wakeup.notify_one();
        }
        Ok(true)
    }

    /// Marks the job done and queues the uploader's result mail with the file attached (or,
    /// over `bulk_result_mail_max_bytes`, compressed, or only the failures, or a link; see
    /// `bulk_upload::ResultAttachment`) — one transaction, fenced, so the mail is queued once.
    async fn finish(
        &self,
        id: i64,
        (sheet, other_sheets): (Option<String>, Vec<String>),
    ) -> ServiceResult<JobOutcome> {
        let s = &self.services;
        let upload = {
            let mut conn = s.db.conn().await?;
            uploads::upload_by_id(&mut conn, id)
                .await?
                .ok_or(ServiceError::NotFound)?
        };
        let (attachment, file) =
            result_mail_file(&s.db, &upload, s.config.bulk_result_mail_max_bytes).await?;
        let mail = result_mail(
            &ResultSummary {
                uploader: &upload.uploader_name,
                file_name: &upload.file_name,
                unit_code: &upload.unit_code,
                accepted: upload.accepted_rows,
                rejected: upload.rejected_rows,
                sheet: sheet.as_deref(),
                other_sheets: &other_sheets,
                attachment,
            },
            s.config.origin(),
        );
        let now = storage::now();
        let mut tx = s.db.begin().await?;
        if !jobs::finish(&mut tx, id, &self.id, "done", None, now).await? {
            return Ok(JobOutcome::LostLease);
        }
        let outbox_id = mails::enqueue(&mut tx, &upload.uploader_email, &mail, now).await?;
        if let Some((name, content_type, content)) = file {
            outbox::attach(&mut tx, outbox_id, &name, content_type, &content).await?;
        }
        tx.commit().await.map_err(StorageError::from)?;
        s.outbox_wakeup.notify_one();
        tracing::info!(
            upload = id,
            accepted = upload.accepted_rows,
            rejected = upload.rejected_rows,
            "bulk upload processed"
        );
        Ok(JobOutcome::Done)
    }
}
