//! F5 upload (accept the file, queue the job) and F6 records (list, progress, per-row
//! results, the result file). The rows are decided by `workers::bulk_jobs`.

use nhi_protocol::mask::mask_middle;
use nhi_protocol::units::{
    FileEncoding, Permission, RowReason, UploadAccepted, UploadRecord, UploadRowResult,
    UploadRowsResponse, UploadStatus, UploadsResponse,
};

use super::bulk_parse;
use super::units::{id_for_audit, Principal, UnitsError, UnitsResult};
use super::{Caller, Services};
use crate::storage::units::{self as store, NewUpload, UploadRow};
use crate::storage::{self, audit, StorageError};

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
    let stem = u
        .file_name
        .rsplit_once('.')
        .map_or(u.file_name.as_str(), |(s, _)| s);
    format!("{stem}-result-{}.txt", u.id)
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
    ) -> UnitsResult<UploadAccepted> {
        self.require(p, code, Permission::Upload).await?;
        if bytes.len() > self.config.upload_max_bytes {
            return Err(UnitsError::File(nhi_protocol::units::FileProblem::TooLarge));
        }
        let max_rows = self.config.upload_max_rows;
        let owned = bytes.to_vec();
        let parsed = tokio::task::spawn_blocking(move || bulk_parse::parse(&owned, max_rows))
            .await
            .map_err(|e| UnitsError::Service(super::ServiceError::Internal(e.to_string())))?
            .map_err(UnitsError::File)?;
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
                uploader_email: &p.email,
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
        audit::insert(
            &mut tx,
            &audit::AuditEntry {
                actor: Some(&actor),
                action: "bulk_upload",
                outcome: "queued",
                ip: &caller.ip,
                detail: Some(&detail),
            },
            now,
        )
        .await?;
        tx.commit().await.map_err(StorageError::from)?;
        self.bulk_wakeup.notify_one();
        Ok(UploadAccepted {
            upload_id: id,
            total_rows: total,
            encoding: parsed.encoding,
        })
    }

    /// F6: the uploads the principal may see (the rule is in the SQL).
    pub async fn uploads(&self, p: &Principal, code: &str) -> UnitsResult<UploadsResponse> {
        self.membership(p, code).await?;
        let mut conn = self.db.conn().await?;
        let rows = store::visible_uploads(&mut conn, code, &p.national_id).await?;
        Ok(UploadsResponse {
            uploads: rows.iter().map(record).collect(),
        })
    }

    /// One upload: visible by the F6 rule, or the uploader's own while they may upload
    /// (the upload page's progress bar).
    pub async fn upload(&self, p: &Principal, code: &str, id: i64) -> UnitsResult<UploadRow> {
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
        Err(UnitsError::NotFound)
    }

    pub async fn upload_rows(
        &self,
        p: &Principal,
        code: &str,
        id: i64,
        offset: i64,
        limit: i64,
    ) -> UnitsResult<UploadRowsResponse> {
        let u = self.upload(p, code, id).await?;
        let mut conn = self.db.conn().await?;
        let rows = store::row_decisions(&mut conn, u.id, offset.max(0), limit.clamp(1, 1000))
            .await?
            .into_iter()
            .map(|r| UploadRowResult {
                row_number: r.row_number,
                national_id_masked: mask_middle(&r.national_id, 3, 3),
                name: r.name,
                reason: RowReason::from_code(&r.reason).unwrap_or(RowReason::MalformedLine),
            })
            .collect();
        Ok(UploadRowsResponse {
            rows,
            total: u.processed_rows,
        })
    }

    /// The result file (the upload's encoding) and its name; only when the job is done.
    pub async fn result_file(
        &self,
        p: &Principal,
        code: &str,
        id: i64,
    ) -> UnitsResult<(String, Vec<u8>)> {
        let u = self.upload(p, code, id).await?;
        if u.status != "done" {
            return Err(UnitsError::NotFound);
        }
        let bytes = build_result_file(&self.db, &u).await?;
        Ok((result_file_name(&u), bytes))
    }
}

/// Reads every decision of an upload and renders the result file.
pub async fn build_result_file(db: &storage::Db, u: &UploadRow) -> UnitsResult<Vec<u8>> {
    let mut lines = Vec::with_capacity(usize::try_from(u.total_rows).unwrap_or(0));
    let mut conn = db.conn().await?;
    let mut offset = 0;
    loop {
        let page = store::row_decisions(&mut conn, u.id, offset, 20_000).await?;
        if page.is_empty() {
            break;
        }
        offset += i64::try_from(page.len()).unwrap_or(i64::MAX);
        lines.extend(page.into_iter().map(|r| {
            (
                r.row_number,
                r.national_id,
                r.name,
                RowReason::from_code(&r.reason).unwrap_or(RowReason::MalformedLine),
            )
        }));
    }
    drop(conn);
    Ok(bulk_parse::result_file(encoding_of(&u.encoding), &lines))
}
