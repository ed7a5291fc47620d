//! The outbox shared by several workers/instances: concurrent claims never hand out a mail
//! twice (FOR UPDATE SKIP LOCKED on PostgreSQL), and a claim's lease blocks others until it
//! runs out.

mod common;

use std::collections::BTreeSet;

use common::Harness;
use nhi_server::storage::outbox::{self, NewMail};
use nhi_server::storage::{self, Db};

async fn enqueue(db: &Db, n: usize) {
    let mut conn = db.conn().await.expect("conn");
    for i in 0..n {
        let id = format!("<{i}@test>");
        let mail = NewMail {
            message_id: &id,
            kind: "activation",
            recipient: "a@example.com",
            subject: "s",
            text_body: "t",
            html_body: "h",
        };
        outbox::enqueue(&mut conn, &mail, storage::now())
            .await
            .expect("enqueue");
    }
}

both_engines!(concurrent_claims_are_disjoint, |h: Harness| async move {
    let db = h.app.services.db.clone();
    enqueue(&db, 60).await;
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let mut conn = db.conn().await.expect("conn");
                    let rows = outbox::claim(&mut conn, db.backend(), storage::now(), 60, 5)
                        .await
                        .expect("claim");
                    if rows.is_empty() {
                        return mine;
                    }
                    mine.extend(rows.into_iter().map(|r| r.id));
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let unique: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 60, "every mail claimed once");
    assert_eq!(unique.len(), 60);
});

both_engines!(
    a_lease_blocks_other_workers_until_it_expires,
    |h: Harness| async move {
        let db = h.app.services.db.clone();
        enqueue(&db, 1).await;
        let mut conn = db.conn().await.expect("conn");
        let now = storage::now();
        assert_eq!(
            outbox::claim(&mut conn, db.backend(), now, 60, 10)
                .await
                .expect("claim")
                .len(),
            1
        );
        assert!(outbox::claim(&mut conn, db.backend(), now + 59, 60, 10)
            .await
            .expect("claim")
            .is_empty());
        let again = outbox::claim(&mut conn, db.backend(), now + 61, 60, 10)
            .await
            .expect("claim");
        assert_eq!(
            again.len(),
            1,
            "a crashed worker's mail is picked up after the lease"
        );
        assert_eq!(again[0].attempts, 2);
    }
);
