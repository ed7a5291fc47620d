//! `/download`'s files (issues 17 and 13): whatever `downloads_dir` holds — the packages
//! `scripts/package.sh` built for this server's deployment (deb, rpm, msi, the extension zips,
//! `SHA256SUMS`), or the `nhi-bridge` host binary and extension zip `scripts/run.sh` puts
//! there for a developer — listed with their size and SHA-256, with the deployment's store
//! pages (`deployment_file`) and the server's version, and served as attachments, streamed
//! from the file.
//!
//! Only plain file names of the folder itself are offered
//! (`nhi_protocol::downloads::is_offerable_name`), and only regular files whose real path is
//! inside the folder: a symbolic link is followed only when it stays inside. No path reaches
//! outside it.

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use nhi_protocol::api::{ApiError, ErrorCode};
use nhi_protocol::downloads::{is_offerable_name, DownloadFile, DownloadKind, DownloadsResponse};
use sha2::{Digest, Sha256};
use tower_http::services::ServeFile;
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

/// The real path and metadata of the offered file `name` of `dir`: an offerable name, a
/// regular file (after following links) whose real path is directly inside the folder's real
/// path. `None` for anything else (blocking).
fn resolve(dir: &FsPath, name: &str) -> Option<(PathBuf, std::fs::Metadata)> {
    if !is_offerable_name(name) {
        return None;
    }
    let real_dir = dir.canonicalize().ok()?;
    let real = real_dir.join(name).canonicalize().ok()?;
    if real.parent() != Some(real_dir.as_path()) {
        return None;
    }
    let meta = std::fs::metadata(&real).ok()?;
    meta.is_file().then_some((real, meta))
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
        let Some((path, meta)) = resolve(dir, &name) else {
            continue;
        };
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
    responses((status = 200, description = "The files /download offers, with their SHA-256 (none when downloads_dir is unset), the extension's store pages (deployment_file) and the server's version", body = DownloadsResponse)))]
async fn downloads(State(s): State<AppState>) -> ApiResult<Json<DownloadsResponse>> {
    let config = &s.services.config;
    let stores = config
        .deployment
        .as_ref()
        .map(|d| d.stores.clone())
        .unwrap_or_default();
    let version = env!("CARGO_PKG_VERSION").to_owned();
    let files = match config.downloads_dir.clone() {
        None => Vec::new(),
        Some(dir) => tokio::task::spawn_blocking(move || list(&dir))
            .await
            .map_err(|e| io_error(std::io::Error::other(e)))?
            .map_err(io_error)?,
    };
    Ok(Json(DownloadsResponse {
        files,
        stores,
        version,
    }))
}

#[utoipa::path(get, path = "/api/v1/downloads/{name}", tag = "downloads",
    params(("name" = String, Path, description = "a file name of the listing")),
    responses((status = 200, description = "The file, as an attachment (streamed, with Content-Length; ranges supported)", content_type = "application/octet-stream"),
              (status = 404, description = "not_found: not an offered file", body = ApiError)))]
async fn download(
    State(s): State<AppState>,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let dir = s
        .services
        .config
        .downloads_dir
        .clone()
        .ok_or(ServiceError::NotFound)?;
    let lookup = name.clone();
    let (path, _) = tokio::task::spawn_blocking(move || resolve(&dir, &lookup))
        .await
        .map_err(|e| io_error(std::io::Error::other(e)))?
        .ok_or(ServiceError::NotFound)?;
    // ServeFile streams the file in chunks with its Content-Length (and answers ranges and
    // conditional requests); the headers below make it an attachment of a fixed type.
    let (parts, _) = req.into_parts();
    let req = Request::from_parts(parts, axum::body::Body::empty());
    let resp = ServeFile::new(&path)
        .try_call(req)
        .await
        .map_err(io_error)?
        .map(axum::body::Body::new)
        .into_response();
    if resp.status() == StatusCode::NOT_FOUND {
        // Removed between the check and the open.
        return Err(ServiceError::NotFound.into());
    }
    let content_type = if name.ends_with(".zip") {
        "application/zip"
    } else {
        "application/octet-stream"
    };
    // Sent as it is, with the file's length: CompressionLayer leaves these types alone
    // (http/mod.rs).
    Ok(attachment(resp, content_type, &name))
}
