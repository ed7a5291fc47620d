//! Bulk registration benchmark (issue 6): a unit with N (default 100,000) generated insured
//! people, a CSV of all of them uploaded by the unit admin, timed from the upload until every
//! row is decided and every mail is queued in the outbox (the mail worker is off: sending is
//! not part of the figure). Prints rows/s and the peak resident memory of the process.
//!
//! ```sh
//! cargo run --release -p nhi-server --bin nhi-units-bench                       # SQLite
//! cargo run --release -p nhi-server --bin nhi-units-bench -- --database-url postgres://postgres@127.0.0.1:55432/postgres
//! # options: --rows 100000 --chunk 2000 --xlsx-free (CSV only)
//! ```
//! `--write-files DIR` only writes `DIR/units-100k.json` (a `units_file` whose unit 99999999
//! has the N people and 王小明, the virtual card's default holder, as admin) and
//! `DIR/upload-100k.csv`, to try the same upload through the browser:
//! `NHI_UNITS_FILE=DIR/units-100k.json cargo run -p nhi-server`.
//!
//! On PostgreSQL a fresh database `nhi_units_bench_<random>` is created next to the one in
//! the URL and dropped afterwards; on SQLite a temporary file is used.

use std::sync::Arc;
use std::time::Instant;

use nhi_protocol::units::LoginMethod;
use nhi_server::app::{build, Overrides};
use nhi_server::config::Config;
use nhi_server::services::units::{generate_people, Principal};
use nhi_server::services::Caller;
use nhi_server::storage::{self, units as store, uploads};
use nhi_server::workers::bulk_jobs::BulkWorker;

const UNIT: &str = "99999999";

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Peak and current resident set size (KiB) from /proc/self/status.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,nhi_server=warn".into()),
        )
        .init();
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = arg(&args, "--rows")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(100_000);
    let chunk: usize = arg(&args, "--chunk")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(2000);
    if let Some(out) = arg(&args, "--write-files") {
        return write_files(std::path::Path::new(&out), rows);
    }
    let dir = std::env::temp_dir().join(format!("nhi-units-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (url, drop_db) = match arg(&args, "--database-url") {
        Some(base) if base.starts_with("postgres") => {
            let name = format!("nhi_units_bench_{}", hex::encode(rand::random::<[u8; 4]>()));
            storage::create_postgres_database(&base, &name).await?;
            let (prefix, _) = base
                .rsplit_once('/')
                .ok_or_else(|| anyhow::anyhow!("URL without a database name"))?;
            (format!("{prefix}/{name}"), Some((base.clone(), name)))
        }
        Some(other) => (other, None),
        None => (
            format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()),
            None,
        ),
    };
    let engine = if url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let config = Config {
        database_url: url,
        mail_dir: dir.join("mail"),
        outbox_worker: false,
        bulk_worker: false,
        bulk_chunk_rows: chunk,
        upload_max_rows: rows.max(1),
        upload_max_bytes: 512 * 1024 * 1024,
        ..Config::default()
    };
    let app = build(config, Overrides::default()).await?;
    let services = app.services.clone();

    // The unit and its insured people (not timed), and the file.
    let people = generate_people(2026, rows + 1);
    let admin = &people[rows];
    {
        let mut conn = services.db.conn().await?;
        store::insert_unit(&mut conn, UNIT, "效能測試股份有限公司", &admin.national_id).await?;
        store::insert_insured(&mut conn, UNIT, &people).await?;
    }
    let mut csv = String::with_capacity(rows * 64);
    csv.push_str("身分證號,姓名,出生日期,電子信箱,手機\n");
    for (i, p) in people[..rows].iter().enumerate() {
        csv.push_str(&format!(
            "{},{},{},person{i}@bench.example,09{:08}\n",
            p.national_id, p.name, p.birth_date, i
        ));
    }
    let bytes = csv.into_bytes();
    let principal = Principal {
        national_id: admin.national_id.clone(),
        name: admin.name.clone(),
        email: "admin@bench.example".into(),
        method: LoginMethod::NhiCard,
    };
    let caller = Caller {
        ip: "127.0.0.1".into(),
    };
    let (hwm_before, _) = rss_kib();
    println!(
        "{engine}: {rows} rows, file {:.1} MiB, chunk {chunk}; RSS before upload {:.0} MiB",
        bytes.len() as f64 / 1048576.0,
        hwm_before as f64 / 1024.0
    );

    let start = Instant::now();
    let accepted = services
        .upload_file(&caller, &principal, UNIT, "bench.csv", &bytes, None)
        .await?;
    let uploaded = start.elapsed();
    drop(bytes);
    let worker = BulkWorker::new(Arc::clone(&services));
    while worker.tick().await? {}
    let total = start.elapsed();
    let (hwm, _) = rss_kib();

    // Check: every row decided, every mail queued.
    let mut conn = services.db.conn().await?;
    let upload = uploads::upload_by_id(&mut conn, accepted.upload_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("upload vanished"))?;
    let decided = uploads::decision_count(&mut conn, accepted.upload_id).await?;
    let mails = storage::outbox::count_of_kind(&mut conn, "bulk_activation").await?;
    let results = storage::outbox::count_of_kind(&mut conn, "bulk_result").await?;
    drop(conn);
    println!(
        "upload accepted (parse + store) in {:.2} s; all rows decided and mails queued in {:.2} s",
        uploaded.as_secs_f64(),
        total.as_secs_f64()
    );
    println!(
        "status {}, decided {}, accepted {}, rejected {}, activation mails {}, result mails {}",
        upload.status, decided, upload.accepted_rows, upload.rejected_rows, mails, results
    );
    println!(
        "RESULT {engine}: {:.0} rows/s, {:.2} s, peak RSS {:.0} MiB (before upload {:.0} MiB)",
        rows as f64 / total.as_secs_f64(),
        total.as_secs_f64(),
        hwm as f64 / 1024.0,
        hwm_before as f64 / 1024.0
    );
    let ok = upload.status == "done"
        && decided == i64::try_from(rows)?
        && mails == upload.accepted_rows
        && results == 1;
    services.db.close().await;
    if let Some((base, name)) = drop_db {
        storage::drop_postgres_database(&base, &name).await?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    if !ok {
        anyhow::bail!("the benchmark's checks failed");
    }
    Ok(())
}

/// The units file and the upload file of the benchmark, for a manual run through the SPA.
fn write_files(dir: &std::path::Path, rows: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let people = generate_people(2026, rows);
    let mut insured: Vec<serde_json::Value> = people
        .iter()
        .map(|p| {
            serde_json::json!({"national_id": p.national_id, "name": p.name, "birth_date": p.birth_date})
        })
        .collect();
    insured.push(
        serde_json::json!({"national_id": "A123456789", "name": "王小明", "birth_date": "0790101"}),
    );
    let units = serde_json::json!({"units": [{
        "unit_code": UNIT, "name": "效能測試股份有限公司", "admin": "A123456789", "insured": insured
    }]});
    std::fs::write(dir.join("units-100k.json"), serde_json::to_vec(&units)?)?;
    let mut csv = String::with_capacity(rows * 64);
    csv.push_str("身分證號,姓名,出生日期,電子信箱,手機\n");
    for (i, p) in people.iter().enumerate() {
        csv.push_str(&format!(
            "{},{},{},person{i}@bench.example,09{:08}\n",
            p.national_id, p.name, p.birth_date, i
        ));
    }
    std::fs::write(dir.join("upload-100k.csv"), csv)?;
    println!(
        "wrote {}/units-100k.json and upload-100k.csv",
        dir.display()
    );
    Ok(())
}
