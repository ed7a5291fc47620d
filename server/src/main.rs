//! `nhi-server [--config FILE]`: see server/README.md for the configuration keys.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

fn config_path() -> anyhow::Result<Option<PathBuf>> {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" | "-c" => {
                path = Some(PathBuf::from(
                    args.next()
                        .ok_or_else(|| anyhow::anyhow!("--config needs a file"))?,
                ))
            }
            "--help" | "-h" => {
                println!("usage: nhi-server [--config FILE]\nEvery key can also be set as NHI_<KEY> (see server/README.md).");
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument {other:?} (try --help)"),
        }
    }
    Ok(path)
}

async fn shutdown_signal(tx: watch::Sender<bool>) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    let _ = tx.send(true);
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    let _ = tx.send(true);
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        // No colour codes in a log file or journal.
        .with_ansi(std::io::stdout().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .init();
    let config = nhi_server::config::Config::from_env(config_path()?)?;
    let (tx, rx) = watch::channel(false);
    tokio::spawn(shutdown_signal(tx));
    nhi_server::app::serve(config, rx).await
}
