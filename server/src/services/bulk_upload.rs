//! F5 upload (accept the file, queue the job) and F6 records (list, progress, per-row
//! results, the result file). The rows are decided by `workers::bulk_jobs`.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use nhi_protocol::mask::mask_national_id;
use nhi_protocol::units::{
    FileEncoding, FileProblem, Permission, RowReason, UploadAccepted, UploadRecord,
    UploadRowResult, UploadRowsResponse, UploadStatus, UploadsResponse,
};

use super::bulk_parse;
use super::units::{id_for_audit, Principal};
use super::{Caller, Services};
use super::{ServiceError, ServiceResult};
use crate::config::Config;
use crate::storage::uploads::{self as store, NewUpload, UploadRow};
use crate::storage::{self, audit};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub fn encoding_name(e: FileEncoding) -> &'static str {
    match e {
        FileEncoding::Utf8 => "utf-8",
        FileEncoding::Big5 => "big5",
        FileEncoding::Xlsx => "xlsx",
    }
}

pub fn encoding_of(name: &str) -> FileEncoding {
    match name {
        "big5" => FileEncoding::Big5,
        "xlsx" => FileEncoding::Xlsx,
        _ => FileEncoding::Utf8,
    }
}

fn status_of(s: &str) -> UploadStatus {
    match s {
        "processing" => UploadStatus::Processing,
        "done" => UploadStatus::Done,
        "failed" => UploadStatus::Failed,
        _ => UploadStatus::Queued,
    }
}

pub fn record(u: &UploadRow) -> UploadRecord {
    UploadRecord {
        id: u.id,
        unit_code: u.unit_code.clone(),
        created_at: u.created_at,
        uploader_name: u.uploader_name.clone(),
        file_name: u.file_name.clone(),
        encoding: encoding_of(&u.encoding),
        status: status_of(&u.status),
        total_rows: u.total_rows,
        processed_rows: u.processed_rows,
        accepted_rows: u.accepted_rows,
        rejected_rows: u.rejected_rows,
        finished_at: u.finished_at,
    }
}

/// A file name safe to store and show: no path, no control characters, at most 120 chars.
pub fn clean_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(120).collect();
    if cleaned.trim().is_empty() {
        "upload.csv".into()
    } else {
        cleaned
    }
}

/// Name of the result file for an upload.
pub fn result_file_name(u: &UploadRow) -> String {
    format!("{}-result-{}.txt", file_stem(u), u.id)
}

fn file_stem(u: &UploadRow) -> &str {
    u.file_name
        .rsplit_once('.')
        .map_or(u.file_name.as_str(), |(s, _)| s)
}

/// Where an upload's result goes: the login's NHI account email, or — for a certificate
/// login of someone with no NHI registration (`email` empty) — the `result_email` the page
/// asked for, checked as an email address. A `result_email` beside an account email is
/// ignored: the account's address is the verified one.
fn result_recipient(p: &Principal, result_email: Option<&str>) -> ServiceResult<String> {
    if !p.email.is_empty() {
        return Ok(p.email.clone());
    }
    let typed = result_email.map(str::trim).unwrap_or_default();
    if typed.is_empty() {
        return Err(ServiceError::BadRequest {
            field: "result_email",
            message: "required: this login has no NHI account email".into(),
        });
    }
    typed
        .parse::<nhi_protocol::Email>()
        .map(|e| e.as_str().to_owned())
        .map_err(|e| ServiceError::BadRequest {
            field: "result_email",
            message: e.to_string(),
        })
}

impl Services {
    /// F5 「上傳檔案」: checks the permission, the size and the whole file, stores it and
    /// queues the job (one transaction with the audit entry). Nothing is stored when the file
    /// is refused.
    pub async fn upload_file(
        &self,
        caller: &Caller,
        p: &Principal,
        code: &str,
        file_name: &str,
        bytes: &[u8],
        result_email: Option<&str>,
    ) -> ServiceResult<UploadAccepted> {
        self.require_permission(p, code, Permission::Upload).await?;
        let email = result_recipient(p, result_email)?;
        if bytes.len() > self.config.upload_max_bytes {
            return Err(ServiceError::File(FileProblem::TooLarge));
        }
        let limits =
            bulk_parse::Limits::new(self.config.upload_max_bytes, self.config.upload_max_rows);
        let permit = self.parse_slot().await?;
        let owned = bytes.to_vec();
        let parsed = tokio::task::spawn_blocking(move || {
            // Held until the parse really ends, even when the request is gone (timeout,
            // closed connection): the slot counts blocking threads, not requests.
            let _permit = permit;
            bulk_parse::parse_checked(&owned, &limits)
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
        .map_err(|r| match r.line {
            Some(line) => ServiceError::FileAtLine(r.problem, line),
            None => ServiceError::File(r.problem),
        })?;
        let file_name = clean_file_name(file_name);
        let total = i64::try_from(parsed.rows.len()).unwrap_or(i64::MAX);
        let encoding = encoding_name(parsed.encoding);
        let now = storage::now();
        let mut tx = self.db.begin().await?;
        let id = store::insert_upload(
            &mut tx,
            &NewUpload {
                unit_code: code,
                uploader_national_id: &p.national_id,
                uploader_name: &p.name,
                uploader_email: &email,
                file_name: &file_name,
                file_kind: if parsed.encoding == FileEncoding::Xlsx {
                    "xlsx"
                } else {
                    "text"
                },
                encoding,
                content: bytes,
                total_rows: total,
            },
            now,
        )
        .await?;
        let actor = format!("id:{}", id_for_audit(&p.national_id));
        let detail = format!("unit={code} upload={id} rows={total} encoding={encoding}");
        let entry = audit::AuditEntry {
            actor: Some(&actor),
            action: "bulk_upload",
            outcome: "queued",
            ip: &caller.ip,
            detail: Some(&detail),
        };
        audit::commit(tx, &entry, now).await?;
        self.bulk_wakeup.notify_one();
        Ok(UploadAccepted {
            upload_id: id,
            total_rows: total,
            encoding: parsed.encoding,
            sheet: parsed.sheet,
            other_sheets: parsed.other_sheets,
        })
    }

    /// The upload parse pool of these services: `upload_parse_concurrency` slots.
    pub fn upload_parse_pool(&self) -> Arc<Semaphore> {
        parse_pool(&self.config)
    }

    /// A slot to parse one file in.
    ///
    /// Parsing runs on tokio's blocking threads (512 by default, shared with the SQLite
    /// driver, file I/O and the password hasher's callers): without a bound, N simultaneous
    /// uploads would take N threads and N × the parse memory. With it, at most
    /// `upload_parse_concurrency` files are parsed at once; the others wait — each holding
    /// only its already-read body (≤ `upload_max_bytes`) and no thread — for at most
    /// `upload_parse_wait_ms`. The wait is bounded rather than refused at once because
    /// uploads come in small bursts (one admin, a few files) and a parse takes a second or
    /// two at most, so a short queue absorbs a burst without errors; and it is bounded (10 s
    /// by default, well inside the 30 s request timeout) so that under a flood the request
    /// ends with a clear 503 `busy` (with Retry-After) instead of a timeout, and waiting
    /// bodies are not held for long.
    async fn parse_slot(&self) -> ServiceResult<OwnedSemaphorePermit> {
        let wait = Duration::from_millis(self.config.upload_parse_wait_ms);
        match tokio::time::timeout(wait, self.upload_parse_pool().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) | Err(_) => Err(ServiceError::File(FileProblem::Busy)),
        }
    }

    /// F6: the uploads the principal may see (the rule is in the SQL).
    pub async fn upload_records(
        &self,
        p: &Principal,
        code: &str,
    ) -> ServiceResult<UploadsResponse> {
        self.membership(p, code).await?;
        let mut conn = self.db.conn().await?;
        let rows = store::visible_uploads(&mut conn, code, &p.national_id).await?;
        Ok(UploadsResponse {
            uploads: rows.iter().map(record).collect(),
        })
    }

    /// One upload: visible by the F6 rule, or the uploader's own while they may upload
    /// (the upload page's progress bar).
    pub async fn upload_record(
        &self,
        p: &Principal,
        code: &str,
        id: i64,
    ) -> ServiceResult<UploadRow> {
        let m = self.membership(p, code).await?;
        let mut conn = self.db.conn().await?;
        if let Some(u) = store::visible_upload(&mut conn, code, &p.national_id, id).await? {
            return Ok(u);
        }
        if m.allows(Permission::Upload) {
            if let Some(u) = store::own_upload(&mut conn, code, &p.national_id, id).await? {
                return Ok(u);
            }
        }
        Err(ServiceError::NotFound)
    }

    /// One page of the row results (F6): `offset` and `limit` are the caller's claims,
    /// clamped by [`nhi_protocol::units::RowsPage::clamp`] against the rows that match.
    pub async fn upload_rows(
        &self,
        p: &Principal,
        code: &str,
        id: i64,
        failed_only: bool,
        offset: i64,
        limit: i64,
    ) -> ServiceResult<UploadRowsResponse> {
        let u = self.upload_record(p, code, id).await?;
        let matching = if failed_only {
            u.rejected_rows
        } else {
            u.processed_rows
        };
        let page = nhi_protocol::units::RowsPage::clamp(offset, limit, matching);
        let mut conn = self.db.conn().await?;
        let rows = store::row_decisions_page(&mut conn, u.id, failed_only, page.offset, page.limit)
            .await?
            .into_iter()
            .map(|r| UploadRowResult {
                row_number: r.row_number,
                national_id_masked: mask_national_id(&r.national_id),
                name: r.name,
                reason: RowReason::from_code(&r.reason).unwrap_or(RowReason::MalformedLine),
            })
            .collect();
        Ok(UploadRowsResponse {
            rows,
            total: u.processed_rows,
            matching,
            offset: page.offset,
            limit: page.limit,
            failed_only,
        })
    }

    /// The result file (the upload's encoding) and its name; only when the job is done.
    pub async fn upload_result_file(
        &self,
        p: &Principal,
        code: &str,
        id: i64,
    ) -> ServiceResult<(String, Vec<u8>)> {
        let u = self.upload_record(p, code, id).await?;
        if u.status != "done" {
            return Err(ServiceError::NotFound);
        }
        let bytes = build_result_file(&self.db, &u).await?;
        Ok((result_file_name(&u), bytes))
    }
}

/// The parse pool of one configuration instance — that is, of one `Services` (which owns its
/// `Arc<Config>`; the pool lives here, keyed by that allocation, rather than as a field of
/// `Services`, to keep the parse limits in this module). Entries of dropped services are
/// removed on the next lookup.
fn parse_pool(config: &Arc<Config>) -> Arc<Semaphore> {
    type Pools = Vec<(Weak<Config>, Arc<Semaphore>)>;
    static POOLS: Mutex<Pools> = Mutex::new(Vec::new());
    let mut pools = POOLS.lock().unwrap_or_else(PoisonError::into_inner);
    pools.retain(|(owner, _)| owner.strong_count() > 0);
    if let Some((_, pool)) = pools
        .iter()
        .find(|(owner, _)| std::ptr::eq(owner.as_ptr(), Arc::as_ptr(config)))
    {
        return pool.clone();
    }
    let pool = Arc::new(Semaphore::new(config.upload_parse_concurrency.max(1)));
    pools.push((Arc::downgrade(config), pool.clone()));
    pool
}

/// Reads every decision of an upload and renders the result file.
pub async fn build_result_file(db: &storage::Db, u: &UploadRow) -> ServiceResult<Vec<u8>> {
    build_result(db, u, false).await
}

/// The result file of every row, or of the failed rows only.
async fn build_result(
    db: &storage::Db,
    u: &UploadRow,
    failures_only: bool,
) -> ServiceResult<Vec<u8>> {
    let mut lines = Vec::with_capacity(usize::try_from(u.total_rows).unwrap_or(0));
    let mut conn = db.conn().await?;
    let mut offset = 0;
    loop {
        let page = store::row_decisions(&mut conn, u.id, offset, 20_000).await?;
        if page.is_empty() {
            break;
        }
        offset += i64::try_from(page.len()).unwrap_or(i64::MAX);
        lines.extend(
            page.into_iter()
                .map(|r| {
                    (
                        r.row_number,
                        r.national_id,
                        r.name,
                        RowReason::from_code(&r.reason).unwrap_or(RowReason::MalformedLine),
                    )
                })
                .filter(|l| !failures_only || l.3 != RowReason::Accepted),
        );
    }
    drop(conn);
    Ok(bulk_parse::result_file(encoding_of(&u.encoding), &lines))
}

/// What the uploader's result mail carries (issue 17: a 14 MB result made a 20 MB mail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultAttachment {
    /// The result file as it is (at most `bulk_result_mail_max_bytes`).
    Whole,
    /// The result file in a .zip.
    Compressed,
    /// Only the failed rows, in a .zip; the full file is on the records page.
    FailuresCompressed,
    /// Nothing attached: the full file is on the records page.
    LinkOnly,
}

/// An attachment: file name, content type, content.
pub type MailFile = (String, &'static str, Vec<u8>);

/// The content type of an upload's result file (its encoding).
pub fn result_content_type(u: &UploadRow) -> &'static str {
    match u.encoding.as_str() {
        "big5" => "text/plain; charset=Big5",
        _ => "text/plain; charset=utf-8",
    }
}

/// One file in a .zip (deflate), for the result mail.
pub fn zip_one(name: &str, content: &[u8]) -> ServiceResult<Vec<u8>> {
    use std::io::Write as _;
    let internal = |e: &dyn std::fmt::Display| ServiceError::Internal(format!("result zip: {e}"));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    // A result file is far below 4 GiB (no zip64 needed): upload_max_rows lines of ~100 B.
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file(name, options).map_err(|e| internal(&e))?;
    zip.write_all(content).map_err(|e| internal(&e))?;
    Ok(zip.finish().map_err(|e| internal(&e))?.into_inner())
}

/// The result mail's attachment: the whole file while it is at most `max` bytes, else the
/// whole file compressed, else the failed rows compressed, else none (see
/// [`ResultAttachment`]).
pub async fn result_mail_file(
    db: &storage::Db,
    u: &UploadRow,
    max: usize,
) -> ServiceResult<(ResultAttachment, Option<MailFile>)> {
    let name = result_file_name(u);
    let whole = build_result_file(db, u).await?;
    if whole.len() <= max {
        return Ok((
            ResultAttachment::Whole,
            Some((name, result_content_type(u), whole)),
        ));
    }
    let zipped = zip_one(&name, &whole)?;
    drop(whole);
    let zip_name = |n: &str| format!("{}.zip", n.trim_end_matches(".txt"));
    if zipped.len() <= max {
        return Ok((
            ResultAttachment::Compressed,
            Some((zip_name(&name), "application/zip", zipped)),
        ));
    }
    drop(zipped);
    let failures_name = failures_file_name(u);
    let failures = zip_one(&failures_name, &build_result(db, u, true).await?)?;
    if failures.len() <= max {
        return Ok((
            ResultAttachment::FailuresCompressed,
            Some((zip_name(&failures_name), "application/zip", failures)),
        ));
    }
    Ok((ResultAttachment::LinkOnly, None))
}

/// Name of the failed-rows file for an upload.
pub fn failures_file_name(u: &UploadRow) -> String {
    format!("{}-failures-{}.txt", file_stem(u), u.id)
}
