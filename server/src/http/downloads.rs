//! `/download`'s files (issue 17): whatever `downloads_dir` holds — `scripts/run.sh` puts the
//! `nhi-bridge` host binary and the extension zip it built there — listed with their size and
//! SHA-256, and served as attachments. Only plain file names of the folder itself are
//! offered (`nhi_protocol::downloads::is_offerable_name`): no path reaches outside it.

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use nhi_protocol::api::{ApiError, ErrorCode};
use nhi_protocol::downloads::{is_offerable_name, DownloadFile, DownloadKind, DownloadsResponse};
use sha2::{Digest, Sha256};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, HttpError};
use super::{attachment, AppState};
use crate::services::ServiceError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(downloads))
        .routes(routes!(download))
}

/// Checksums already computed, by (path, size, modification time).
type SumCache = Mutex<HashMap<(PathBuf, u64, Option<SystemTime>), String>>;

fn sums() -> &'static SumCache {
    static SUMS: OnceLock<SumCache> = OnceLock::new();
    SUMS.get_or_init(|| Mutex::new(HashMap::new()))
}

fn sha256_of(path: &FsPath) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// The offered files of `dir`, by name (blocking: reads the folder, hashes new files).
fn list(dir: &FsPath) -> std::io::Result<Vec<DownloadFile>> {
    let mut files = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(e),
    };
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if !meta.is_file() || !is_offerable_name(&name) {
            continue;
        }
        let path = entry.path();
        let key = (path.clone(), meta.len(), meta.modified().ok());
        let cached = sums()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let sha256 = match cached {
            Some(s) => s,
            None => {
                let s = sha256_of(&path)?;
                sums()
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, s.clone());
                s
            }
        };
        files.push(DownloadFile {
            kind: DownloadKind::of_name(&name),
            bytes: meta.len(),
            sha256,
            url: format!("/api/v1/downloads/{name}"),
            name,
        });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// A folder that cannot be read: logged, answered 500 `internal`.
fn io_error(e: std::io::Error) -> HttpError {
    tracing::error!(error = %e, "downloads_dir cannot be read");
    HttpError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Internal,
        "the downloads folder cannot be read",
    )
}

#[utoipa::path(get, path = "/api/v1/downloads", tag = "downloads",
    responses((status = 200, description = "The files /download offers, with their SHA-256 (none when downloads_dir is unset)", body = DownloadsResponse)))]
async fn downloads(State(s): State<AppState>) -> ApiResult<Json<DownloadsResponse>> {
    let Some(dir) = s.services.config.downloads_dir.clone() else {
        return Ok(Json(DownloadsResponse::default()));
    };
    let files = tokio::task::spawn_blocking(move || list(&dir))
        .await
        .map_err(|e| io_error(std::io::Error::other(e)))?
        .map_err(io_error)?;
    Ok(Json(DownloadsResponse { files }))
}

#[utoipa::path(get, path = "/api/v1/downloads/{name}", tag = "downloads",
    params(("name" = String, Path, description = "a file name of the listing")),
    responses((status = 200, description = "The file, as an attachment", content_type = "application/octet-stream"),
              (status = 404, description = "not_found: not an offered file", body = ApiError)))]
async fn download(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult<Response> {
    let dir = s
        .services
        .config
        .downloads_dir
        .clone()
        .ok_or(ServiceError::NotFound)?;
    if !is_offerable_name(&name) {
        return Err(ServiceError::NotFound.into());
    }
    let path = dir.join(&name);
    let body = match tokio::fs::metadata(&path).await {
        Ok(m) if m.is_file() => tokio::fs::read(&path).await.map_err(io_error)?,
        _ => return Err(ServiceError::NotFound.into()),
    };
    let content_type = if name.ends_with(".zip") {
        "application/zip"
    } else {
        "application/octet-stream"
    };
    Ok(attachment(body, content_type, &name))
}
