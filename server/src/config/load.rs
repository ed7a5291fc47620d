//! Loading: defaults ← the TOML file ← `NHI_*` environment variables.

use std::path::PathBuf;

use super::{Config, ConfigError};

/// Keys settable from the environment as `NHI_<KEY>`.
const ENV_KEYS: &[&str] = &[
    "listen",
    "public_origin",
    "database_url",
    "database_max_connections",
    "dist_dir",
    "downloads_dir",
    "deployment_file",
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
    "certificate_issuing_cas",
    "certificate_policy_oids",
    "certificate_crl",
    "certificate_id_verification",
    "certificate_id_table",
    "certificate_id_url",
    "certificate_id_token",
    "certificate_login_per_hour",
    "certificate_tls_ca_file",
    "upload_max_bytes",
    "upload_max_rows",
    "upload_parse_concurrency",
    "upload_parse_wait_ms",
    "bulk_worker",
    "bulk_chunk_rows",
    "bulk_lease_seconds",
    "bulk_poll_ms",
    "bulk_result_mail_max_bytes",
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
        let mut config = config;
        config.validate()?;
        config.load_deployment()?;
        Ok(config)
    }

    /// Loads using the process environment and `NHI_CONFIG`.
    pub fn from_env(file: Option<PathBuf>) -> Result<Self, ConfigError> {
        let file = file.or_else(|| std::env::var_os("NHI_CONFIG").map(PathBuf::from));
        Self::load(file.as_deref(), |k| std::env::var(k).ok())
    }
}

/// Keys whose values stay strings even when they look like numbers.
const STRING_KEYS: &[&str] = &[
    "listen",
    "public_origin",
    "database_url",
    "dist_dir",
    "downloads_dir",
    "deployment_file",
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
    "certificate_issuing_cas",
    "certificate_policy_oids",
    "certificate_crl",
    "certificate_id_verification",
    "certificate_id_table",
    "certificate_id_url",
    "certificate_id_token",
    "certificate_tls_ca_file",
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
        // The certificate login (issue 12) needs its policies, CRL and ID verification.
        let cert = |extra: &[(&'static str, &'static str)]| {
            // The extras first: they override the complete set ("" = unset).
            let mut all = extra.to_vec();
            all.extend_from_slice(&[
                ("NHI_CERTIFICATE_ISSUING_CAS", "/etc/nhi/moica.pem"),
                ("NHI_CERTIFICATE_POLICY_OIDS", "2.16.886.101.0.3.3"),
                (
                    "NHI_CERTIFICATE_CRL",
                    "https://moica.nat.gov.tw/repository/MOICA/CRL2/complete.crl",
                ),
                ("NHI_CERTIFICATE_ID_TABLE", "/etc/nhi/id-table.json"),
            ]);
            Config::load(None, move |k| {
                all.iter()
                    .find(|(n, _)| *n == k)
                    .and_then(|(_, v)| (!v.is_empty()).then(|| (*v).to_owned()))
            })
        };
        let ok = cert(&[]).expect("a complete certificate login configuration");
        assert_eq!(ok.certificate_policy_oids, "2.16.886.101.0.3.3");
        assert!(cert(&[("NHI_CERTIFICATE_POLICY_OIDS", "")]).is_err());
        assert!(cert(&[("NHI_CERTIFICATE_CRL", "")]).is_err());
        assert!(cert(&[("NHI_CERTIFICATE_CRL", "http://moica.example/crl")]).is_err());
        assert!(cert(&[("NHI_CERTIFICATE_ID_TABLE", "")]).is_err());
        assert!(cert(&[("NHI_CERTIFICATE_ID_VERIFICATION", "http")]).is_err());
        assert!(cert(&[
            ("NHI_CERTIFICATE_ID_VERIFICATION", "http"),
            ("NHI_CERTIFICATE_ID_URL", "http://moica.example/verify")
        ])
        .is_err());
        assert!(cert(&[
            ("NHI_CERTIFICATE_ID_VERIFICATION", "http"),
            ("NHI_CERTIFICATE_ID_URL", "https://moica.example/verify")
        ])
        .is_ok());
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
