//! Configuration: defaults, then an optional TOML file, then `NHI_*` environment variables.
//!
//! Every key of [`Config`] can be set in the file (`--config path` or `NHI_CONFIG`) or through
//! the environment variable `NHI_` + the key in upper case (e.g. `NHI_DATABASE_URL`).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_origin: "http://localhost:8080".into(),
            database_url: "sqlite://.run/nhi.db?mode=rwc".into(),
            database_max_connections: 8,
            dist_dir: PathBuf::from("dist"),
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
        }
    }
}

/// Keys settable from the environment as `NHI_<KEY>`.
const ENV_KEYS: &[&str] = &[
    "listen",
    "public_origin",
    "database_url",
    "database_max_connections",
    "dist_dir",
    "card_master_key_hex",
    "registry",
    "registry_file",
    "registry_url",
    "registry_timeout_ms",
    "registry_ca_file",
    "registry_system_roots",
    "mailer",
    "mail_dir",
    "mail_from",
    "smtp_host",
    "smtp_port",
    "smtp_tls",
    "smtp_ca_file",
    "smtp_system_roots",
    "smtp_username",
    "smtp_password",
    "smtp_timeout_ms",
    "outbox_poll_ms",
    "outbox_batch",
    "outbox_max_attempts",
    "outbox_lease_seconds",
    "outbox_worker",
    "argon2_memory_kib",
    "argon2_iterations",
    "argon2_parallelism",
    "hash_concurrency",
    "session_ttl_minutes",
    "lockout_threshold",
    "lockout_base_seconds",
    "lockout_max_seconds",
    "login_per_card_per_hour",
    "allow_test_card_key",
    "rate_limit_per_minute",
    "rate_limit_burst",
    "resend_interval_seconds",
    "trusted_proxies",
    "metrics_listen",
    "metrics_token_sha256",
    "operators",
    "certificate_font",
    "certificate_font_index",
    "units_file",
    "upload_max_bytes",
    "upload_max_rows",
    "upload_parse_concurrency",
    "upload_parse_wait_ms",
    "bulk_worker",
    "bulk_chunk_rows",
    "bulk_lease_seconds",
    "bulk_poll_ms",
];

impl Config {
    /// Loads defaults ← file (if any) ← `NHI_*` variables from `env`.
    pub fn load(
        file: Option<&std::path::Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                text.parse::<toml::Table>()
                    .map_err(|source| ConfigError::Parse {
                        path: path.to_owned(),
                        source,
                    })?
            }
            None => toml::Table::new(),
        };
        if table.contains_key(REMOVED_TRUST_FORWARDED_FOR)
            || env("NHI_TRUST_FORWARDED_FOR").is_some()
        {
            return Err(ConfigError::Invalid {
                key: REMOVED_TRUST_FORWARDED_FOR,
                message: "was removed: list the reverse proxies whose X-Forwarded-For may be \
                          believed in trusted_proxies (e.g. trusted_proxies = [\"127.0.0.1\"], \
                          or NHI_TRUSTED_PROXIES=127.0.0.1,10.0.0.0/8); without it the header \
                          is ignored"
                    .into(),
            });
        }
        for key in ENV_KEYS {
            let var = format!("NHI_{}", key.to_ascii_uppercase());
            if let Some(raw) = env(&var) {
                table.insert((*key).to_owned(), env_value(key, &raw));
            }
        }
        let config: Config =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Env {
                    var: "NHI_*".into(),
                    message: e.to_string(),
                })?;
        config.validate()?;
        Ok(config)
    }

    /// Loads using the process environment and `NHI_CONFIG`.
    pub fn from_env(file: Option<PathBuf>) -> Result<Self, ConfigError> {
        let file = file.or_else(|| std::env::var_os("NHI_CONFIG").map(PathBuf::from));
        Self::load(file.as_deref(), |k| std::env::var(k).ok())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let origin = self.public_origin.trim_end_matches('/');
        if !(origin.starts_with("https://") || origin.starts_with("http://"))
            || origin.matches('/').count() != 2
        {
            return Err(ConfigError::Invalid {
                key: "public_origin",
                message: "must be scheme://host[:port] without a path".into(),
            });
        }
        nhi_protocol::card_proof::MasterKey::from_hex(&self.card_master_key_hex).map_err(|e| {
            ConfigError::Invalid {
                key: "card_master_key_hex",
                message: e.to_string(),
            }
        })?;
        if self.uses_test_master_key() && !self.allow_test_card_key && !self.is_loopback_only() {
            return Err(ConfigError::Invalid {
                key: "card_master_key_hex",
                message: format!(
                    "is the public TEST key, with which anyone can forge any card's proof; it is \
                     refused unless listen ({}) and public_origin ({}) are both loopback. Set \
                     the card authority's real master key (NHI_CARD_MASTER_KEY_HEX), or, for \
                     a shared demo only, allow_test_card_key = true",
                    self.listen,
                    self.origin()
                ),
            });
        }
        if self.outbox_lease_seconds.saturating_mul(1000) <= self.smtp_timeout_ms {
            return Err(ConfigError::Invalid {
                key: "outbox_lease_seconds",
                message:
                    "must be longer than smtp_timeout_ms, or a slow send could be claimed twice"
                        .into(),
            });
        }
        if self.registry == RegistryKind::Http && self.registry_url.is_none() {
            return Err(ConfigError::Invalid {
                key: "registry_url",
                message: "required when registry = \"http\"".into(),
            });
        }
        self.validate_registry_tls()?;
        self.validate_smtp_tls()?;
        self.validate_edge()?;
        if self.argon2_memory_kib < 8 * self.argon2_parallelism.max(1) {
            return Err(ConfigError::Invalid {
                key: "argon2_memory_kib",
                message: "too small".into(),
            });
        }
        Ok(())
    }

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

    /// The registry's URL rule (https, or http to loopback) and roots. Checked when
    /// `registry = "http"`, the only time the URL is used.
    fn validate_registry_tls(&self) -> Result<(), ConfigError> {
        let (RegistryKind::Http, Some(url)) = (self.registry, &self.registry_url) else {
            return Ok(());
        };
        let url =
            crate::adapters::registry::check_url(url).map_err(|message| ConfigError::Invalid {
                key: "registry_url",
                message,
            })?;
        if url.scheme() == "https" && !self.registry_system_roots && self.registry_ca_file.is_none()
        {
            return Err(ConfigError::Invalid {
                key: "registry_system_roots",
                message: "false leaves no trusted certificate: set registry_ca_file".into(),
            });
        }
        Ok(())
    }

    /// SMTP: plaintext only to loopback, credentials only over TLS, some root to trust.
    /// Checked when `mailer = "smtp"`.
    fn validate_smtp_tls(&self) -> Result<(), ConfigError> {
        if self.mailer != MailerKind::Smtp {
            return Ok(());
        }
        if self.smtp_username.is_some() != self.smtp_password.is_some() {
            return Err(ConfigError::Invalid {
                key: "smtp_username",
                message: "smtp_username and smtp_password are set together".into(),
            });
        }
        match self.smtp_tls() {
            SmtpTls::None if !crate::adapters::tls::is_loopback_host(&self.smtp_host) => {
                Err(ConfigError::Invalid {
                    key: "smtp_tls",
                    message: format!(
                        "\"none\" (plaintext) is allowed only to a loopback smtp_host \
                         (127.0.0.0/8, ::1, localhost), not {:?}: use \"starttls\" or \"implicit\"",
                        self.smtp_host
                    ),
                })
            }
            SmtpTls::None if self.smtp_username.is_some() => Err(ConfigError::Invalid {
                key: "smtp_tls",
                message: "smtp_username/smtp_password are never sent in plaintext: set \
                          smtp_tls = \"starttls\" or \"implicit\""
                    .into(),
            }),
            SmtpTls::Starttls | SmtpTls::Implicit
                if !self.smtp_system_roots && self.smtp_ca_file.is_none() =>
            {
                Err(ConfigError::Invalid {
                    key: "smtp_system_roots",
                    message: "false leaves no trusted certificate: set smtp_ca_file".into(),
                })
            }
            _ => Ok(()),
        }
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

/// Keys whose values stay strings even when they look like numbers.
const STRING_KEYS: &[&str] = &[
    "listen",
    "public_origin",
    "database_url",
    "dist_dir",
    "card_master_key_hex",
    "registry",
    "registry_file",
    "registry_url",
    "registry_ca_file",
    "mailer",
    "mail_dir",
    "mail_from",
    "smtp_host",
    "smtp_tls",
    "smtp_ca_file",
    "smtp_username",
    "smtp_password",
    "operators",
    "certificate_font",
    "metrics_listen",
    "metrics_token_sha256",
];

/// Environment values are strings; numbers and booleans are recognised for the typed keys.
fn env_value(key: &str, raw: &str) -> toml::Value {
    if key == "trusted_proxies" {
        return toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| toml::Value::String(v.to_owned()))
                .collect(),
        );
    }
    if STRING_KEYS.contains(&key) {
        return toml::Value::String(raw.to_owned());
    }
    if let Ok(i) = raw.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(raw.to_owned()),
    }
}

/// The key `trusted_proxies` replaced; a configuration still setting it is refused.
const REMOVED_TRUST_FORWARDED_FOR: &str = "trust_forwarded_for";

/// `trusted_proxies`: addresses (`127.0.0.1`, `::1`) and networks (`10.0.0.0/8`, `fd00::/8`).
/// IPv4-mapped IPv6 entries (`::ffff:10.0.0.1`) are stored as IPv4, as peers are compared in
/// their canonical form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` (compared in canonical form: `::ffff:a.b.c.d` is `a.b.c.d`) is listed.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

fn parse_proxy(entry: &str) -> Result<ipnet::IpNet, String> {
    let entry = entry.trim();
    let net = match entry.parse::<ipnet::IpNet>() {
        Ok(net) => net.trunc(),
        Err(_) => entry
            .parse::<IpAddr>()
            .map(ipnet::IpNet::from)
            .map_err(|_| format!("{entry:?} is neither an IP address nor a CIDR network"))?,
    };
    Ok(match net {
        ipnet::IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(ipnet::IpNet::V4)
                .unwrap_or(net),
            None => net,
        },
        other => other,
    })
}

impl TryFrom<Vec<String>> for TrustedProxies {
    type Error = String;

    fn try_from(entries: Vec<String>) -> Result<Self, String> {
        entries
            .iter()
            .map(|e| parse_proxy(e).map_err(|m| format!("trusted_proxies: {m}")))
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }
}

impl std::str::FromStr for TrustedProxies {
    type Err = String;

    /// Comma-separated, as in `NHI_TRUSTED_PROXIES`.
    fn from_str(s: &str) -> Result<Self, String> {
        s.split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .try_into()
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

    fn validate_edge(&self) -> Result<(), ConfigError> {
        let v = self.metrics_listen.trim();
        if !v.eq_ignore_ascii_case("off") && v.parse::<SocketAddr>().is_err() {
            return Err(ConfigError::Invalid {
                key: "metrics_listen",
                message: "must be a socket address (e.g. 127.0.0.1:9464) or \"off\"".into(),
            });
        }
        if let Some(h) = &self.metrics_token_sha256 {
            if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ConfigError::Invalid {
                    key: "metrics_token_sha256",
                    message: "must be the SHA-256 of the token as 64 hex digits \
                              (printf %s \"$token\" | sha256sum)"
                        .into(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod edge_tests {
    use super::*;

    fn proxies(s: &str) -> TrustedProxies {
        s.parse().expect("valid list")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn trusted_proxies_match_addresses_and_networks() {
        let p = proxies(" 127.0.0.1, 10.0.0.0/8 ,fd00::/8, 192.168.1.77/24, ::ffff:172.16.0.0/108");
        for yes in [
            "127.0.0.1",
            "10.255.0.3",
            "fd12::1",
            "192.168.1.1",
            "::ffff:10.1.2.3",
            "172.16.9.9",
        ] {
            assert!(p.contains(ip(yes)), "{yes}");
        }
        for no in [
            "127.0.0.2",
            "11.0.0.1",
            "fe80::1",
            "192.168.2.1",
            "::1",
            "172.32.0.1",
        ] {
            assert!(!p.contains(ip(no)), "{no}");
        }
        assert!(TrustedProxies::default().is_empty());
        assert!(!TrustedProxies::default().contains(ip("127.0.0.1")));
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("localhost".parse::<TrustedProxies>().is_err());
    }

    #[test]
    fn trusted_proxies_from_toml_and_env() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "trusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n")
            .expect("write");
        let cfg = Config::load(Some(&path), |_| None).expect("loads");
        assert_eq!(cfg.trusted_proxies, proxies("127.0.0.1,10.0.0.0/8"));
        let cfg = Config::load(Some(&path), |k| {
            (k == "NHI_TRUSTED_PROXIES").then(|| "::1, 192.168.0.0/16".to_owned())
        })
        .expect("env wins");
        assert_eq!(cfg.trusted_proxies, proxies("::1,192.168.0.0/16"));
        let cfg = Config::load(None, |k| (k == "NHI_TRUSTED_PROXIES").then(String::new))
            .expect("empty env");
        assert!(cfg.trusted_proxies.is_empty());
        assert!(Config::load(None, |k| {
            (k == "NHI_TRUSTED_PROXIES").then(|| "10.0.0.1,nope".to_owned())
        })
        .is_err());
        assert!(Config::default().trusted_proxies.is_empty());
    }

    #[test]
    fn the_removed_trust_forwarded_for_is_refused_with_a_pointer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "trust_forwarded_for = true\n").expect("write");
        for err in [
            Config::load(Some(&path), |_| None),
            Config::load(None, |k| {
                (k == "NHI_TRUST_FORWARDED_FOR").then(|| "false".to_owned())
            }),
        ] {
            let msg = err.expect_err("refused").to_string();
            assert!(msg.contains("trust_forwarded_for"), "{msg}");
            assert!(msg.contains("trusted_proxies"), "{msg}");
        }
    }

    #[test]
    fn metrics_listen_and_token() {
        let cfg = Config::default();
        assert_eq!(
            cfg.metrics_addr(),
            Some(SocketAddr::from(([127, 0, 0, 1], 9464)))
        );
        assert_eq!(cfg.metrics_token_sha256, None);
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let off = Config::load(None, env(&[("NHI_METRICS_LISTEN", "off")])).expect("off");
        assert_eq!(off.metrics_addr(), None);
        let other = Config::load(None, env(&[("NHI_METRICS_LISTEN", "[::1]:9100")])).expect("v6");
        assert_eq!(
            other.metrics_addr(),
            Some("[::1]:9100".parse().expect("addr"))
        );
        assert!(Config::load(None, env(&[("NHI_METRICS_LISTEN", "9464")])).is_err());
        let hash = "ab".repeat(32);
        let token = Config::load(None, move |k| {
            (k == "NHI_METRICS_TOKEN_SHA256").then(|| hash.clone())
        })
        .expect("token");
        assert_eq!(token.metrics_token_sha256, Some("ab".repeat(32)));
        assert!(Config::load(None, env(&[("NHI_METRICS_TOKEN_SHA256", "secret")])).is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_env_override_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            format!(
                "public_origin = \"https://nhi.example\"\nsmtp_port = 2525\ncard_master_key_hex = \"{}\"\n",
                "11".repeat(32)
            ),
        )
        .expect("write");
        let cfg = Config::load(Some(&path), |k| {
            (k == "NHI_SMTP_PORT").then(|| "2526".to_owned())
        })
        .expect("loads");
        assert_eq!(cfg.origin(), "https://nhi.example");
        assert_eq!(cfg.smtp_port, 2526);
        assert!(cfg.secure_cookies());
        assert_eq!(cfg.argon2_memory_kib, 19456);
    }

    #[test]
    fn the_test_card_key_is_refused_off_loopback() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        // A developer's machine: loopback listener and origin.
        assert!(Config::load(None, env(&[])).is_ok());
        assert!(Config::load(None, env(&[("NHI_PUBLIC_ORIGIN", "http://127.0.0.1:8080")])).is_ok());
        assert!(Config::load(None, env(&[("NHI_PUBLIC_ORIGIN", "http://[::1]:8080")])).is_ok());
        // Off loopback, either side: refused, with a message that names the key.
        let public = Config::load(None, env(&[("NHI_PUBLIC_ORIGIN", "https://nhi.example")]));
        let err = public.expect_err("test key on a public origin").to_string();
        assert!(
            err.contains("card_master_key_hex") && err.contains("TEST"),
            "{err}"
        );
        assert!(Config::load(None, env(&[("NHI_LISTEN", "0.0.0.0:8080")])).is_err());
        assert!(Config::load(
            None,
            env(&[("NHI_PUBLIC_ORIGIN", "http://localhost.evil.example")])
        )
        .is_err());
        // Unless explicitly allowed, or with a real key.
        let allowed = env(&[
            ("NHI_PUBLIC_ORIGIN", "https://demo.example"),
            ("NHI_ALLOW_TEST_CARD_KEY", "true"),
        ]);
        assert!(Config::load(None, allowed).is_ok());
        let real = env(&[
            ("NHI_PUBLIC_ORIGIN", "https://nhi.example"),
            (
                "NHI_CARD_MASTER_KEY_HEX",
                "2222222222222222222222222222222222222222222222222222222222222222",
            ),
        ]);
        assert!(Config::load(None, real).is_ok());
    }

    #[test]
    fn bad_values_are_reported() {
        assert!(Config::load(None, |k| (k == "NHI_PUBLIC_ORIGIN").then(|| "nope".into())).is_err());
        assert!(Config::load(None, |k| (k == "NHI_SMTP_PORT").then(|| "x".into())).is_err());
        assert!(Config::load(None, |k| (k == "NHI_REGISTRY").then(|| "http".into())).is_err());
    }
}

#[cfg(test)]
mod example_file {
    #[test]
    fn the_example_configuration_loads() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("nhi.example.toml");
        let cfg = super::Config::load(Some(&path), |_| None).expect("example loads");
        assert_eq!(cfg.argon2_memory_kib, 19456);
    }
}
