//! Configuration: defaults, then an optional TOML file, then `NHI_*` environment variables.
//!
//! Every key of [`Config`] can be set in the file (`--config path` or `NHI_CONFIG`) or through
//! the environment variable `NHI_` + the key in upper case (e.g. `NHI_DATABASE_URL`).
//!
//! Parts: [`load`] (file and environment), [`validate`] (the rules a configuration must
//! keep), [`edge`] (what sits in front of the server: trusted proxies, the metrics listener).

mod edge;
mod load;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use nhi_protocol::deployment::Deployment;
use serde::Deserialize;

pub use self::edge::TrustedProxies;
pub use crate::adapters::mailer::SmtpTls;
use crate::adapters::tls::TrustSettings;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration file {path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("configuration key {key}: {message}")]
    Invalid { key: &'static str, message: String },
    #[error("the deployment file {path} (deployment_file) is not valid: {source}")]
    Deployment {
        path: PathBuf,
        source: nhi_protocol::deployment::DeploymentError,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryKind {
    /// The bundled sample registry (server/data/sample-registry.json or `registry_file`).
    Sample,
    /// A remote registry speaking the JSON contract in server/README.md.
    Http,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailerKind {
    /// One `.eml` file per mail in `mail_dir`.
    File,
    Smtp,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    /// The origin the site is served from; card proofs are verified for this origin and
    /// state-changing requests must come from it.
    pub public_origin: String,
    pub database_url: String,
    pub database_max_connections: u32,
    pub dist_dir: PathBuf,
    /// A folder whose files `/download` offers (the bridge host binary and the extension's
    /// zip, say), each listed with its SHA-256; none when unset.
    pub downloads_dir: Option<PathBuf>,
    /// The deployment file (`deploy/<name>.json`, issue 13) the packages of `downloads_dir`
    /// were built from: `public_origin` must be one of its origins (card proofs bind to it,
    /// and the extension talks only to those), and `/download` links its store pages.
    pub deployment_file: Option<PathBuf>,
    /// The deployment read from `deployment_file` (by [`Config::load`], or by the app's
    /// build when the configuration was made in code).
    #[serde(skip)]
    pub deployment: Option<Deployment>,
    /// 64 hex digits; the default is the public test key of the virtual card.
    pub card_master_key_hex: String,
    /// Start even though `card_master_key_hex` is the public test key on a non-loopback
    /// `listen` or `public_origin` (a shared demo). Anyone can forge any card's proof then.
    pub allow_test_card_key: bool,
    pub registry: RegistryKind,
    /// JSON file replacing the bundled sample registry (same format).
    pub registry_file: Option<PathBuf>,
    /// `https://…` (required), or `http://` to a loopback host only.
    pub registry_url: Option<String>,
    pub registry_timeout_ms: u64,
    /// PEM file of CA certificates trusted for the registry (the GRCA root, say), added to
    /// the system store, or replacing it with `registry_system_roots = false`.
    pub registry_ca_file: Option<PathBuf>,
    /// Trust the system store (Debian ca-certificates) for the registry.
    pub registry_system_roots: bool,
    pub mailer: MailerKind,
    pub mail_dir: PathBuf,
    pub mail_from: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    /// `starttls`, `implicit` or `none`; unset: `none` for a loopback `smtp_host`, `starttls`
    /// otherwise (see [`Config::smtp_tls`]).
    pub smtp_tls: Option<SmtpTls>,
    /// PEM file of CA certificates trusted for SMTP, like `registry_ca_file`.
    pub smtp_ca_file: Option<PathBuf>,
    /// Trust the system store (Debian ca-certificates) for SMTP.
    pub smtp_system_roots: bool,
    /// Sent only over TLS (`smtp_tls` = `starttls` or `implicit`).
    pub smtp_username: Option<String>,
    pub smtp_password: Option<String>,
    pub smtp_timeout_ms: u64,
    pub outbox_poll_ms: u64,
    pub outbox_batch: u32,
    pub outbox_max_attempts: u32,
    pub outbox_lease_seconds: u64,
    /// false: only enqueue; another instance (or a later start) sends.
    pub outbox_worker: bool,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Parallel Argon2id computations (default: number of CPUs).
    pub hash_concurrency: usize,
    pub session_ttl_minutes: u64,
    pub lockout_threshold: u32,
    pub lockout_base_seconds: u64,
    pub lockout_max_seconds: u64,
    /// Logins per card and hour, counted for verified card proofs only, shared by every
    /// instance (in the database).
    pub login_per_card_per_hour: u32,
    /// Requests per minute and IP for each state-changing endpoint class; 0 disables.
    pub rate_limit_per_minute: u32,
    pub rate_limit_burst: u32,
    /// Minimum seconds between two resends for the same card.
    pub resend_interval_seconds: u64,
    /// Reverse proxies (addresses or CIDRs) whose `X-Forwarded-For` is believed; empty: the
    /// header is ignored and the client is the TCP peer.
    pub trusted_proxies: TrustedProxies,
    /// Where `/metrics` is served (a second listener of this process), or `off`.
    pub metrics_listen: String,
    /// SHA-256 (hex) of a bearer token that lets `/metrics` also answer on the site's
    /// listener (`Authorization: Bearer <token>`). None: the site listener has no `/metrics`.
    pub metrics_token_sha256: Option<String>,
    /// Operators of the online applications API (F9): comma-separated `name:sha256hex`, the
    /// SHA-256 (hex) of each operator's bearer token. Empty: the operator API refuses all.
    pub operators: String,
    /// The CJK font embedded (subset) in the 投保證明 PDF: a TrueType/OpenType file or
    /// collection (Debian fonts-noto-cjk).
    pub certificate_font: PathBuf,
    /// Index of the face in a font collection (.ttc); 3 is Noto Sans CJK TC.
    pub certificate_font_index: u32,
    /// Insured units (F4–F8): JSON file replacing the bundled sample units (same format).
    pub units_file: Option<PathBuf>,
    /// Largest bulk registration file accepted (bytes).
    pub upload_max_bytes: usize,
    /// Most data lines in one bulk registration file.
    pub upload_max_rows: usize,
    /// Bulk registration files parsed at the same time (each on a blocking thread); further
    /// uploads wait for a slot (issue 10).
    pub upload_parse_concurrency: usize,
    /// How long an upload waits for a parse slot before it is refused as busy (503).
    pub upload_parse_wait_ms: u64,
    /// false: only accept uploads; another instance processes them.
    pub bulk_worker: bool,
    /// Rows decided per transaction (progress is recorded per chunk).
    pub bulk_chunk_rows: usize,
    pub bulk_lease_seconds: u64,
    pub bulk_poll_ms: u64,
    /// The largest result file the uploader's result mail attaches as it is (bytes). Above
    /// it the mail attaches the file compressed (.zip); if that is still larger, only the
    /// failed rows (compressed) with a link to the records page for the full file; if even
    /// those are larger, no file, only the link (issue 17).
    pub bulk_result_mail_max_bytes: usize,
    /// Citizen digital certificate (自然人憑證) login of unit staff (issue 12): a PEM file of
    /// the *issuing* CA certificate(s) whose certificates may log in (production: MOICA's
    /// issuing CA certificates, never the government root, which also signs other CAs). Unset:
    /// the certificate login is off (its endpoint answers 404).
    pub certificate_issuing_cas: Option<PathBuf>,
    /// Comma-separated certificate policy OIDs a login certificate must carry (one of them).
    pub certificate_policy_oids: String,
    /// The issuing CA's CRL: a file path or an `https://` URL, DER or PEM (production: MOICA's
    /// CRL distribution point, or a file a job mirrors it to); comma-separated, one per issuing
    /// CA when there are several. Required when `certificate_issuing_cas` is set; a CRL that
    /// cannot be read, is not the CA's or is past its nextUpdate refuses every login (fail
    /// closed).
    pub certificate_crl: Option<String>,
    /// Which ID-verification service says whether a typed ID number is the certificate
    /// holder's: `table` (a file, the embedded default) or `http` (MOICA's verification
    /// service for agencies).
    pub certificate_id_verification: IdVerificationKind,
    /// The table of `table` (JSON: `{"certificates":[{"certificate_sha256":…,"national_id":…}]}`).
    pub certificate_id_table: Option<PathBuf>,
    /// The service of `http`: an `https://` URL.
    pub certificate_id_url: Option<String>,
    /// Bearer token for `certificate_id_url`, if the service wants one.
    pub certificate_id_token: Option<String>,
    /// Certificate logins per certificate and hour, shared by every instance.
    pub certificate_login_per_hour: u32,
    /// PEM file of CA certificates trusted for the https CRL and ID-verification services
    /// (the TLS of those connections, not the citizen certificates), added to the system
    /// store.
    pub certificate_tls_ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdVerificationKind {
    /// A JSON table (`certificate_id_table`).
    Table,
    /// An HTTPS service (`certificate_id_url`).
    Http,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_origin: "http://localhost:8080".into(),
            database_url: "sqlite://.run/nhi.db?mode=rwc".into(),
            database_max_connections: 8,
            dist_dir: PathBuf::from("dist"),
            downloads_dir: None,
            deployment_file: None,
            deployment: None,
            card_master_key_hex: nhi_protocol::card_proof::TEST_MASTER_KEY_HEX.into(),
            allow_test_card_key: false,
            registry: RegistryKind::Sample,
            registry_file: None,
            registry_url: None,
            registry_timeout_ms: 3000,
            registry_ca_file: None,
            registry_system_roots: true,
            mailer: MailerKind::File,
            mail_dir: PathBuf::from(".run/mail"),
            mail_from: "健保卡網路服務 <no-reply@nhi.localhost>".into(),
            smtp_host: "127.0.0.1".into(),
            smtp_port: 25,
            smtp_tls: None,
            smtp_ca_file: None,
            smtp_system_roots: true,
            smtp_username: None,
            smtp_password: None,
            smtp_timeout_ms: 10_000,
            outbox_poll_ms: 500,
            outbox_batch: 16,
            outbox_max_attempts: 10,
            outbox_lease_seconds: 60,
            outbox_worker: true,
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            hash_concurrency: std::thread::available_parallelism().map_or(2, usize::from),
            session_ttl_minutes: 30,
            lockout_threshold: 5,
            lockout_base_seconds: 60,
            lockout_max_seconds: 24 * 3600,
            login_per_card_per_hour: 30,
            rate_limit_per_minute: 30,
            rate_limit_burst: 10,
            resend_interval_seconds: 60,
            trusted_proxies: TrustedProxies::default(),
            metrics_listen: "127.0.0.1:9464".into(),
            metrics_token_sha256: None,
            operators: String::new(),
            certificate_font: PathBuf::from(
                "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
            ),
            certificate_font_index: 3,
            units_file: None,
            upload_max_bytes: 20 * 1024 * 1024,
            upload_max_rows: 200_000,
            upload_parse_concurrency: 2,
            upload_parse_wait_ms: 10_000,
            bulk_worker: true,
            bulk_chunk_rows: 2000,
            bulk_lease_seconds: 60,
            bulk_poll_ms: 500,
            bulk_result_mail_max_bytes: 5 * 1024 * 1024,
            certificate_issuing_cas: None,
            certificate_policy_oids: String::new(),
            certificate_crl: None,
            certificate_id_verification: IdVerificationKind::Table,
            certificate_id_table: None,
            certificate_id_url: None,
            certificate_id_token: None,
            certificate_login_per_hour: 30,
            certificate_tls_ca_file: None,
        }
    }
}

impl Config {
    pub fn origin(&self) -> &str {
        self.public_origin.trim_end_matches('/')
    }

    /// Cookies lose `Secure` only when the site is plain http on localhost.
    pub fn secure_cookies(&self) -> bool {
        let o = self.origin();
        !(o.starts_with("http://localhost")
            || o.starts_with("http://127.0.0.1")
            || o.starts_with("http://[::1]"))
    }

    pub fn registry_timeout(&self) -> Duration {
        Duration::from_millis(self.registry_timeout_ms)
    }

    /// Whether both the listening address and the public origin are loopback (a developer's
    /// machine).
    pub fn is_loopback_only(&self) -> bool {
        self.listen.ip().is_loopback() && origin_is_loopback(self.origin())
    }

    /// `smtp_tls`, or its default: `none` for a loopback `smtp_host` (a local MTA, the
    /// behaviour before TLS support), `starttls` for any other host.
    pub fn smtp_tls(&self) -> SmtpTls {
        self.smtp_tls.unwrap_or_else(|| {
            if crate::adapters::tls::is_loopback_host(&self.smtp_host) {
                SmtpTls::None
            } else {
                SmtpTls::Starttls
            }
        })
    }

    pub fn registry_trust(&self) -> TrustSettings {
        TrustSettings {
            ca_file: self.registry_ca_file.clone(),
            system_roots: self.registry_system_roots,
        }
    }

    /// TLS roots of the certificate login's https adapters (CRL, ID verification).
    pub fn certificate_trust(&self) -> TrustSettings {
        TrustSettings {
            ca_file: self.certificate_tls_ca_file.clone(),
            system_roots: true,
        }
    }

    pub fn smtp_trust(&self) -> TrustSettings {
        TrustSettings {
            ca_file: self.smtp_ca_file.clone(),
            system_roots: self.smtp_system_roots,
        }
    }

    pub fn uses_test_master_key(&self) -> bool {
        self.card_master_key_hex
            .trim()
            .eq_ignore_ascii_case(nhi_protocol::card_proof::TEST_MASTER_KEY_HEX)
    }
}

impl Config {
    /// The metrics listener's address; None when `metrics_listen = "off"`.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        let v = self.metrics_listen.trim();
        if v.eq_ignore_ascii_case("off") {
            None
        } else {
            v.parse().ok()
        }
    }
}

/// Whether `origin` (`scheme://host[:port]`) names a loopback host.
pub fn origin_is_loopback(origin: &str) -> bool {
    let Some((_, rest)) = origin.split_once("://") else {
        return false;
    };
    let host = match rest.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => rest.rsplit_once(':').map_or(rest, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
