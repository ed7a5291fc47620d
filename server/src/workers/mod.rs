//! Background workers.

pub mod bulk_jobs;
pub mod outbox;

use std::time::Duration;

use tokio::sync::watch;

use crate::storage::{self, Db};

/// Deletes expired nonces and sessions every `every` until shutdown.
pub async fn janitor(db: Db, every: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        let result = async {
            let mut conn = db.conn().await?;
            storage::purge_expired(&mut conn, storage::now()).await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "janitor");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => break,
        }
        if *shutdown.borrow() {
            break;
        }
    }
}
