//! Wiring: configuration → adapters → services → router and workers.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use nhi_protocol::api::PlacesResponse;
use nhi_protocol::card_proof::MasterKey;
use tokio::sync::{watch, Notify};

use crate::adapters::card_authority::{CardAuthority, MasterKeyAuthority};
use crate::adapters::claims::{ClaimsSource, SampleClaims};
use crate::adapters::id_verification::{HttpIdVerifier, IdVerifier, TableIdVerifier};
use crate::adapters::mailer::{self, FileMailer, Mailer, SmtpMailer, SmtpSettings};
use crate::adapters::registry::{HouseholdRegistry, HttpRegistry, SampleData, SampleRegistry};
use crate::adapters::revocation::{https_client, CrlChecker, CrlSet, RevocationChecker};
use crate::config::{Config, IdVerificationKind, MailerKind, RegistryKind};
use crate::metrics::Metrics;
use crate::services::certificate::TrustConfig;
use crate::services::certificate_login::CertificateLogin;
use crate::services::passwords::Hasher;
use crate::services::Services;
use crate::storage::Db;
use crate::workers::outbox::OutboxWorker;

/// The citizen certificate login's trust and adapters (issue 12), when
/// `certificate_issuing_cas` is set: the issuing CAs and policies, the CRL checker
/// (`certificate_crl`, a file or an https URL) and the ID verification (`table` or `http`).
fn build_certificate_login(cfg: &Config) -> anyhow::Result<Option<CertificateLogin>> {
    let Some(cas) = &cfg.certificate_issuing_cas else {
        return Ok(None);
    };
    let pem = std::fs::read(cas)
        .map_err(|e| anyhow::anyhow!("certificate_issuing_cas {}: {e}", cas.display()))?;
    let oids: Vec<String> = cfg
        .certificate_policy_oids
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect();
    let trust =
        Arc::new(TrustConfig::new(&pem, &oids).map_err(|e| {
            anyhow::anyhow!("certificate_issuing_cas / certificate_policy_oids: {e}")
        })?);
    // https CRLs: the system's roots plus certificate_tls_ca_file. One checker per CRL
    // (comma-separated: one per issuing CA).
    let crls = cfg.certificate_crl.as_deref().unwrap_or_default();
    let sources: Vec<&str> = crls
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    // One https client (roots loaded once) for every https CRL; none when all are files.
    let client = if sources.iter().any(|s| s.starts_with("https://")) {
        Some(https_client(&cfg.certificate_trust())?)
    } else {
        None
    };
    let mut checkers = Vec::new();
    for source in sources {
        checkers.push(CrlChecker::new(source, trust.clone(), client.clone())?);
    }
    if checkers.is_empty() {
        anyhow::bail!("certificate_crl is required with certificate_issuing_cas");
    }
    let revocation: Arc<dyn RevocationChecker> = Arc::new(CrlSet::new(checkers));
    let ids: Arc<dyn IdVerifier> = match cfg.certificate_id_verification {
        IdVerificationKind::Table => {
            let table = cfg.certificate_id_table.as_deref().ok_or_else(|| {
                anyhow::anyhow!(
                    "certificate_id_table is required with certificate_id_verification = \"table\""
                )
            })?;
            Arc::new(TableIdVerifier::from_file(table)?)
        }
        IdVerificationKind::Http => {
            let url = cfg.certificate_id_url.as_deref().ok_or_else(|| {
                anyhow::anyhow!(
                    "certificate_id_url is required with certificate_id_verification = \"http\""
                )
            })?;
            Arc::new(HttpIdVerifier::new(
                url,
                cfg.certificate_id_token.clone(),
                &cfg.certificate_trust(),
            )?)
        }
    };
    Ok(Some(CertificateLogin {
        trust,
        revocation,
        ids,
    }))
}

/// Adapters a caller (tests, a production build) may replace.
#[derive(Default)]
pub struct Overrides {
    pub registry: Option<Arc<dyn HouseholdRegistry>>,
    pub mailer: Option<Arc<dyn Mailer>>,
    pub authority: Option<Arc<dyn CardAuthority>>,
    pub claims: Option<Arc<dyn ClaimsSource>>,
}

pub struct App {
    pub services: Arc<Services>,
    /// The site (`listen`).
    pub router: Router,
    /// `GET /metrics` (`metrics_listen`).
    pub metrics_router: Router,
    pub worker: OutboxWorker,
}

fn build_mailer(cfg: &Config) -> anyhow::Result<Arc<dyn Mailer>> {
    let from = mailer::parse_from(&cfg.mail_from)?;
    Ok(match cfg.mailer {
        MailerKind::File => Arc::new(FileMailer::new(cfg.mail_dir.clone(), from)?),
        MailerKind::Smtp => Arc::new(SmtpMailer::new(SmtpSettings {
            host: cfg.smtp_host.clone(),
            port: cfg.smtp_port,
            tls: cfg.smtp_tls(),
            trust: cfg.smtp_trust(),
            credentials: cfg.smtp_username.clone().zip(cfg.smtp_password.clone()),
            from,
            timeout: Duration::from_millis(cfg.smtp_timeout_ms),
        })?),
    })
}

fn build_registry(cfg: &Config, sample: &SampleData) -> anyhow::Result<Arc<dyn HouseholdRegistry>> {
    Ok(match (cfg.registry, &cfg.registry_url) {
        (RegistryKind::Http, Some(url)) => Arc::new(HttpRegistry::new(
            url,
            cfg.registry_timeout(),
            &cfg.registry_trust(),
        )?),
        _ => Arc::new(SampleRegistry::new(sample)),
    })
}

pub async fn build(mut config: Config, overrides: Overrides) -> anyhow::Result<App> {
    // Config::load has read it already; a configuration made in code (tests) reads it here.
    config.load_deployment()?;
    let config = Arc::new(config);
    if config.uses_test_master_key() {
        if config.is_loopback_only() {
            tracing::warn!("card_master_key_hex is the public TEST key: fine on a developer's machine, never anywhere else");
        } else {
            // Only reachable with allow_test_card_key = true (Config::validate refuses it else).
            for _ in 0..3 {
                tracing::error!(
                    origin = config.origin(),
                    "DANGER: allow_test_card_key = true: the server runs with the PUBLIC TEST card \
                     key on a non-loopback address; anyone can forge any card's proof"
                );
            }
        }
    }
    let sample = Arc::new(match &config.registry_file {
        Some(path) => SampleData::from_file(path)?,
        None => SampleData::bundled()?,
    });
    let db = Db::connect(&config.database_url, config.database_max_connections).await?;
    let units_json = match &config.units_file {
        Some(path) => std::fs::read_to_string(path)?,
        None => crate::services::units::BUNDLED_UNITS.to_owned(),
    };
    crate::services::units::seed_units(&db, &units_json).await?;
    let registry = match overrides.registry {
        Some(r) => r,
        None => build_registry(&config, &sample)?,
    };
    let mailer = match overrides.mailer {
        Some(m) => m,
        None => build_mailer(&config)?,
    };
    let authority = match overrides.authority {
        Some(a) => a,
        None => Arc::new(MasterKeyAuthority::with_sample(
            MasterKey::from_hex(&config.card_master_key_hex)?,
            &sample,
        )),
    };
    let claims = match overrides.claims {
        Some(c) => c,
        // The current enrolment of a unit's insured person is that unit (the certificate).
        None => Arc::new(SampleClaims::with_current_units(
            crate::services::units::current_units(&units_json)?,
        )) as Arc<dyn ClaimsSource>,
    };
    let hasher = Hasher::new(
        config.argon2_memory_kib,
        config.argon2_iterations,
        config.argon2_parallelism,
        config.hash_concurrency,
    )?;
    let metrics = Arc::new(Metrics::default());
    let wakeup = Arc::new(Notify::new());
    let services = Arc::new(Services {
        config: config.clone(),
        db: db.clone(),
        registry,
        authority,
        claims,
        hasher,
        places: Arc::new(PlacesResponse {
            counties: sample.places.clone(),
        }),
        sample,
        metrics: metrics.clone(),
        outbox_wakeup: wakeup.clone(),
        bulk_wakeup: Arc::new(Notify::new()),
        certificate_login: build_certificate_login(&config)?.map(Arc::new),
    });
    let worker = OutboxWorker {
        db,
        mailer,
        metrics,
        wakeup,
        poll: Duration::from_millis(config.outbox_poll_ms),
        batch: i64::from(config.outbox_batch),
        lease_seconds: i64::try_from(config.outbox_lease_seconds).unwrap_or(60),
        max_attempts: i64::from(config.outbox_max_attempts),
    };
    let router = crate::http::router(services.clone());
    let metrics_router = crate::http::metrics_router(services.clone());
    Ok(App {
        services,
        router,
        metrics_router,
        worker,
    })
}

/// Runs the server until `shutdown` turns true (or Ctrl-C / SIGTERM when run from main).
pub async fn serve(config: Config, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let listen = config.listen;
    let worker_enabled = config.outbox_worker;
    let app = build(config, Overrides::default()).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = worker_enabled.then(|| tokio::spawn(app.worker.clone().run(stop_rx.clone())));
    let bulk = app.services.config.bulk_worker.then(|| {
        tokio::spawn(
            crate::workers::bulk_jobs::BulkWorker::new(app.services.clone()).run(stop_rx.clone()),
        )
    });
    let janitor = tokio::spawn(crate::workers::janitor(
        app.services.db.clone(),
        Duration::from_secs(60),
        stop_rx,
    ));
    let metrics = match app.services.config.metrics_addr() {
        Some(addr) => serve_metrics(addr, app.metrics_router.clone(), shutdown.clone()).await,
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let origin = app.services.config.origin();
    // The address to open, first: the listen address is not necessarily it (127.0.0.1 is not
    // localhost to the browser's Origin rule).
    tracing::info!(%listen, origin, "open {origin} in the browser (listening on {listen})");
    let service = app
        .router
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|s| *s).await;
        })
        .await?;
    let _ = stop_tx.send(true);
    if let Some(m) = metrics {
        let _ = m.await;
    }
    if let Some(w) = worker {
        let _ = w.await;
    }
    if let Some(b) = bulk {
        let _ = b.await;
    }
    let _ = janitor.await;
    app.services.db.close().await;
    Ok(())
}

/// Starts the metrics listener. A failed bind (e.g. the port is taken by another instance on
/// this host) is logged as an error but does not stop the site: metrics are then unavailable.
async fn serve_metrics(
    addr: std::net::SocketAddr,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%addr, error = %e, "cannot listen for /metrics (metrics_listen); metrics are unavailable");
            return None;
        }
    };
    let local = listener.local_addr().unwrap_or(addr);
    if !local.ip().is_loopback() {
        tracing::warn!(metrics_listen = %local, "/metrics is reachable beyond this host: allow only your monitoring network to it");
    }
    tracing::info!(metrics_listen = %local, "serving /metrics");
    Some(tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "metrics listener");
        }
    }))
}
