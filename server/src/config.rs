//! Configuration: defaults, then an optional TOML file, then `NHI_*` environment variables.
//!
//! Every key of [`Config`] can be set in the file (`--config path` or `NHI_CONFIG`) or through
//! the environment variable `NHI_` + the key in upper case (e.g. `NHI_DATABASE_URL`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

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
    pub registry: RegistryKind,
    /// JSON file replacing the bundled sample registry (same format).
    pub registry_file: Option<PathBuf>,
    pub registry_url: Option<String>,
    pub registry_timeout_ms: u64,
    pub mailer: MailerKind,
    pub mail_dir: PathBuf,
    pub mail_from: String,
    pub smtp_host: String,
    pub smtp_port: u16,
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
    /// Requests per minute and IP for each state-changing endpoint class; 0 disables.
    pub rate_limit_per_minute: u32,
    pub rate_limit_burst: u32,
    /// Minimum seconds between two resends for the same card.
    pub resend_interval_seconds: u64,
    /// Take the client address from X-Forwarded-For (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
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
            registry: RegistryKind::Sample,
            registry_file: None,
            registry_url: None,
            registry_timeout_ms: 3000,
            mailer: MailerKind::File,
            mail_dir: PathBuf::from(".run/mail"),
            mail_from: "健保卡網路服務 <no-reply@nhi.localhost>".into(),
            smtp_host: "127.0.0.1".into(),
            smtp_port: 25,
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
            rate_limit_per_minute: 30,
            rate_limit_burst: 10,
            resend_interval_seconds: 60,
            trust_forwarded_for: false,
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
    "mailer",
    "mail_dir",
    "mail_from",
    "smtp_host",
    "smtp_port",
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
    "rate_limit_per_minute",
    "rate_limit_burst",
    "resend_interval_seconds",
    "trust_forwarded_for",
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

    pub fn uses_test_master_key(&self) -> bool {
        self.card_master_key_hex
            .trim()
            .eq_ignore_ascii_case(nhi_protocol::card_proof::TEST_MASTER_KEY_HEX)
    }
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
    "mailer",
    "mail_dir",
    "mail_from",
    "smtp_host",
    "smtp_username",
    "smtp_password",
    "operators",
    "certificate_font",
];

/// Environment values are strings; numbers and booleans are recognised for the typed keys.
fn env_value(key: &str, raw: &str) -> toml::Value {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_env_override_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "public_origin = \"https://nhi.example\"\nsmtp_port = 2525\n",
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
