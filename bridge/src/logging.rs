//! Logging to a file (never to stdout, which is the browser's channel; never card data).

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

/// Size at which the log is rotated (at start-up) to `*.log.1`.
pub const MAX_LOG_BYTES: u64 = 1024 * 1024;

/// Routes `tracing` output to `path` (created with its folder). Logging stays off when the file
/// cannot be opened; the host works the same without it.
pub fn init_file(path: Option<&Path>, default_level: &str) {
    let Some(path) = path else { return };
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // Keep the log small: one previous generation.
    if std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_LOG_BYTES) {
        let _ = std::fs::rename(path, path.with_extension("log.1"));
    }
    let Ok(file) = OpenOptions::new().create(true).append(true).open(path) else {
        return;
    };
    let filter =
        std::env::var("NHI_BRIDGE_LOG_LEVEL").unwrap_or_else(|_| default_level.to_string());
    let level = match filter.to_ascii_lowercase().as_str() {
        "trace" => tracing::Level::TRACE,
        "debug" => tracing::Level::DEBUG,
        "warn" => tracing::Level::WARN,
        "error" => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_max_level(level)
        .with_thread_names(true)
        .try_init();
    // A panic anywhere is logged too (the default hook writes to stderr, which the browser
    // keeps in its own log).
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!("panic: {info}");
        default_hook(info);
    }));
}
