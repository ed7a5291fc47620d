//! `nhi-bench`: registrations/s and logins/s through the real HTTP server with the production
//! Argon2id parameters, next to the raw Argon2id hashes/s measured in the same run.
//!
//! ```text
//! cargo run --release -p nhi-server --bin nhi-bench -- [--clients 32] [--seconds 10] [--rounds 3]
//!     [--database-url sqlite://... | postgres://...]
//! ```
//! The server runs in this process on 127.0.0.1 (file mailer and outbox worker on, rate limits
//! off); the clients are HTTP clients in the same process, each doing nonce → card proof →
//! request, so client work shares the CPU with the server (a conservative setup).
//!
//! One file over 450 lines on purpose: a benchmark reads best top to bottom (arguments, the
//! server, the clients, the phases, the report), and its parts serve nothing else.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use nhi_protocol::card_proof::{self, MasterKey, Nonce, TEST_MASTER_KEY_HEX};
use nhi_server::adapters::registry::{HouseholdRegistry, RegistryError, RegistryQuery};
use nhi_server::app::{build, Overrides};
use nhi_server::config::Config;
use nhi_server::services::passwords::Hasher;
use serde_json::{json, Value};

const ORIGIN: &str = "http://localhost:8080";
const PASSWORD: &str = "Tea-Pot-42!";

struct Args {
    clients: usize,
    seconds: u64,
    rounds: u32,
    database_url: Option<String>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        clients: 32,
        seconds: 10,
        rounds: 3,
        database_url: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().with_context(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--clients" => a.clients = v.parse()?,
            "--seconds" => a.seconds = v.parse()?,
            "--rounds" => a.rounds = v.parse::<u32>()?.max(1),
            "--database-url" => a.database_url = Some(v),
            _ => anyhow::bail!("unknown argument {k}"),
        }
    }
    Ok(a)
}

/// The bench's registry says yes to the synthetic people (the sample has only a few hundred).
struct AcceptAll;

#[async_trait::async_trait]
impl HouseholdRegistry for AcceptAll {
    async fn check(&self, _: &RegistryQuery) -> Result<bool, RegistryError> {
        Ok(true)
    }
}

/// A checksum-valid national ID for sequence number `n` (A1xxxxxxx?).
fn national_id(n: u32) -> String {
    let body = format!("1{:07}", n % 10_000_000);
    let digits: Vec<u32> = [1, 0]
        .into_iter()
        .chain(body.chars().filter_map(|c| c.to_digit(10)))
        .collect();
    let weights = [1, 9, 8, 7, 6, 5, 4, 3, 2, 1];
    let sum: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
    format!("A{body}{}", (10 - sum % 10) % 10)
}

fn person(n: u32) -> Value {
    json!({
        "card_number": format!("{:012}", 900_000_000_000u64 + u64::from(n)),
        "name": "測試人",
        "national_id": national_id(n),
        "birth_date": "0800101",
        "sex": "M",
        "issue_date": "1100101",
    })
}

/// User + system CPU seconds of this process (Linux /proc; 100 ticks per second).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// A raw-hash measurement: per wall-clock second and per CPU second.
#[derive(Clone, Copy)]
struct Ceiling {
    wall: f64,
    cpu: f64,
}

/// Raw Argon2id hashes with `threads` threads for `secs` seconds.
fn raw_hash_rate(cfg: &Config, threads: usize, secs: f64) -> anyhow::Result<Ceiling> {
    let cpu_start = cpu_seconds();
    let hasher = Hasher::new(
        cfg.argon2_memory_kib,
        cfg.argon2_iterations,
        cfg.argon2_parallelism,
        1,
    )?;
    let params = hasher.params().clone();
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (params, count) = (params.clone(), count.clone());
            std::thread::spawn(move || {
                while Instant::now() < stop {
                    let _ = Hasher::hash_blocking(&params, PASSWORD);
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let n = count.load(Ordering::Relaxed) as f64;
    let cpu = (cpu_seconds() - cpu_start).max(0.01);
    Ok(Ceiling {
        wall: n / started.elapsed().as_secs_f64(),
        cpu: n / cpu,
    })
}

struct Client {
    http: reqwest::Client,
    base: String,
    master: MasterKey,
}

impl Client {
    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("x-nhi-request", "1")
            .header("origin", ORIGIN)
            .json(body)
            .send()
            .await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    }

    /// Nonce for `purpose` → what a card storing person `n`'s record answers (proof v2).
    async fn proof(&self, n: u32, purpose: &str) -> anyhow::Result<Value> {
        let (_, answer) = self
            .post("/api/v1/card-proof/nonce", &json!({ "purpose": purpose }))
            .await?;
        let nonce: Nonce = serde_json::from_value(answer["nonce"].clone())?;
        let data: nhi_protocol::CardBasicData = serde_json::from_value(person(n))?;
        let record = card_proof::CardRecord::encode(&data)?;
        let mac = card_proof::card_mac(
            &card_proof::derive_card_key(&self.master, &record),
            &card_proof::challenge(ORIGIN, &nonce),
            &record,
        );
        Ok(serde_json::to_value(nhi_protocol::api::CardProof::new(
            nonce, record, mac,
        ))?)
    }

    async fn register(&self, n: u32) -> anyhow::Result<()> {
        let body = json!({
            "proof": self.proof(n, "register").await?,
            "household": { "household_number": "F1234567", "county": "臺北市", "township": "大安區", "village": "龍坡里", "neighbourhood": 5 },
            "password": PASSWORD,
            "email": format!("p{n}@example.com"),
        });
        let (status, answer) = self.post("/api/v1/registrations", &body).await?;
        anyhow::ensure!(status == 202, "registration {n}: {status} {answer}");
        Ok(())
    }

    async fn login(&self, n: u32) -> anyhow::Result<()> {
        let body = json!({ "proof": self.proof(n, "login").await?, "password": PASSWORD });
        let (status, answer) = self.post("/api/v1/session", &body).await?;
        anyhow::ensure!(status == 200, "login {n}: {status} {answer}");
        Ok(())
    }
}

struct Outcome {
    ops: usize,
    elapsed: Duration,
    /// CPU seconds this process used during the phase (server + clients).
    cpu: f64,
    latencies: Vec<Duration>,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i =
            ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len()) - 1;
        self.latencies[i]
    }
}

/// Runs `op(n)` from `clients` tasks for `secs` seconds.
async fn load<F, Fut>(clients: usize, secs: u64, op: F) -> anyhow::Result<Outcome>
where
    F: Fn(u32) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let cpu_start = cpu_seconds();
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (op, next, stop) = (op.clone(), next.clone(), stop.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(secs)
                {
                    let n = u32::try_from(next.fetch_add(1, Ordering::Relaxed)).unwrap_or(u32::MAX);
                    let t = Instant::now();
                    if let Err(e) = op(n).await {
                        stop.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                    lat.push(t.elapsed());
                }
                Ok(lat)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Ok(Outcome {
        ops: latencies.len(),
        elapsed,
        cpu: cpu_seconds() - cpu_start,
        latencies,
    })
}

/// CPU cost of the server-side password policy check that every registration runs.
fn policy_check_ms() -> f64 {
    use nhi_protocol::password::{PasswordPolicy, PersonalData};
    let person = PersonalData {
        other_inputs: vec!["測試人".into(), "p1@example.com".into()],
        ..PersonalData::default()
    };
    let started = Instant::now();
    let n = 200;
    for _ in 0..n {
        let _ = PasswordPolicy::default().check(PASSWORD, &person);
    }
    started.elapsed().as_secs_f64() * 1000.0 / f64::from(n)
}

/// The raw hash rate, measured off the async threads.
async fn blocking_ceiling(cfg: &Config, threads: usize, secs: f64) -> anyhow::Result<Ceiling> {
    let cfg = cfg.clone();
    tokio::task::spawn_blocking(move || raw_hash_rate(&cfg, threads, secs)).await?
}

/// Totals over all rounds, compared with the ceiling measured around each phase, both per
/// wall-clock second (meaningful on an otherwise idle machine) and per CPU second (robust when
/// other processes share the CPU).
fn summary(what: &str, phases: Vec<(Outcome, Ceiling)>) {
    let ops: usize = phases.iter().map(|(o, _)| o.ops).sum();
    let secs: f64 = phases.iter().map(|(o, _)| o.elapsed.as_secs_f64()).sum();
    let cpu: f64 = phases.iter().map(|(o, _)| o.cpu).sum();
    let ceiling_wall: f64 = phases
        .iter()
        .map(|(o, c)| c.wall * o.elapsed.as_secs_f64())
        .sum::<f64>()
        / secs;
    let ceiling_cpu: f64 = phases.iter().map(|(o, c)| c.cpu * o.cpu).sum::<f64>() / cpu.max(0.01);
    let mut all = Outcome {
        ops,
        elapsed: Duration::from_secs_f64(secs),
        cpu,
        latencies: Vec::new(),
    };
    for (o, _) in phases {
        all.latencies.extend(o.latencies);
    }
    all.latencies.sort();
    let per_cpu = ops as f64 / cpu.max(0.01);
    println!(
        "{what}: {:.1}/s (raw ceiling {:.1} hashes/s: {:.0} %); {:.1} per CPU-s (raw {:.1} hashes per CPU-s: {:.0} %); p50 {} p99 {}",
        all.rate(),
        ceiling_wall,
        100.0 * all.rate() / ceiling_wall,
        per_cpu,
        ceiling_cpu,
        100.0 * per_cpu / ceiling_cpu,
        ms(all.percentile(0.5)),
        ms(all.percentile(0.99))
    );
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let dir = tempfile_dir()?;
    let mut config = Config {
        public_origin: ORIGIN.into(),
        database_url: format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()),
        mail_dir: dir.join("mail"),
        dist_dir: dir.join("dist"),
        rate_limit_per_minute: 0,
        login_per_card_per_hour: u32::MAX,
        ..Config::default()
    };
    if let Some(url) = &args.database_url {
        config.database_url = url.clone();
        config.database_max_connections = 40;
    }
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    println!(
        "Argon2id m={} KiB t={} p={}; {} CPUs; {} clients; database {}",
        config.argon2_memory_kib,
        config.argon2_iterations,
        config.argon2_parallelism,
        threads,
        args.clients,
        if config.database_url.starts_with("sqlite") {
            "SQLite"
        } else {
            "PostgreSQL"
        }
    );
    println!(
        "password policy check (zxcvbn): {:.2} ms per call",
        policy_check_ms()
    );
    let app = build(
        config.clone(),
        Overrides {
            registry: Some(Arc::new(AcceptAll)),
            ..Overrides::default()
        },
    )
    .await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(app.worker.clone().run(stop_rx));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let router = app
        .router
        .clone()
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let client = Arc::new(Client {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()?,
        base,
        master: MasterKey::from_hex(TEST_MASTER_KEY_HEX)?,
    });

    // Rounds of: ceiling → registrations → ceiling → logins → ceiling …, so that each load
    // phase is compared with the raw hash rate measured right before and after it (the
    // machine is shared; its speed drifts).
    let phase = args.seconds;
    let ceiling_secs = (phase as f64 / 2.0).max(2.0);
    let mut ceilings = vec![blocking_ceiling(&config, threads, ceiling_secs).await?];
    let (mut regs, mut logins) = (Vec::new(), Vec::new());
    let registered = Arc::new(AtomicUsize::new(0));
    for round in 1..=args.rounds {
        let (c, next) = (client.clone(), registered.clone());
        let reg = load(args.clients, phase, move |_| {
            let (c, next) = (c.clone(), next.clone());
            async move {
                c.register(u32::try_from(next.fetch_add(1, Ordering::Relaxed)).unwrap_or(u32::MAX))
                    .await
            }
        })
        .await?;
        ceilings.push(blocking_ceiling(&config, threads, ceiling_secs).await?);
        nhi_server::storage::accounts::activate_all(&mut *app.services.db.conn().await?).await?;
        let accounts = u32::try_from(registered.load(Ordering::Relaxed))
            .unwrap_or(u32::MAX)
            .max(1);
        let c = client.clone();
        let login = load(args.clients, phase, move |n| {
            let c = c.clone();
            async move { c.login(n % accounts).await }
        })
        .await?;
        ceilings.push(blocking_ceiling(&config, threads, ceiling_secs).await?);
        let k = ceilings.len();
        let mean = |a: Ceiling, b: Ceiling| Ceiling {
            wall: (a.wall + b.wall) / 2.0,
            cpu: (a.cpu + b.cpu) / 2.0,
        };
        let (c_reg, c_login) = (
            mean(ceilings[k - 3], ceilings[k - 2]),
            mean(ceilings[k - 2], ceilings[k - 1]),
        );
        println!(
            "round {round}: raw {:.1} | {:.1} | {:.1} hashes/s ({:.1} | {:.1} | {:.1} per CPU-s); registrations {:.1}/s ({:.1} per CPU-s); logins {:.1}/s ({:.1} per CPU-s)",
            ceilings[k - 3].wall,
            ceilings[k - 2].wall,
            ceilings[k - 1].wall,
            ceilings[k - 3].cpu,
            ceilings[k - 2].cpu,
            ceilings[k - 1].cpu,
            reg.rate(),
            reg.ops as f64 / reg.cpu.max(0.01),
            login.rate(),
            login.ops as f64 / login.cpu.max(0.01),
        );
        regs.push((reg, c_reg));
        logins.push((login, c_login));
    }
    let _ = stop_tx.send(true);
    let _ = worker.await;
    summary("registrations", regs);
    summary("logins", logins);
    app.services.db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("nhi-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
