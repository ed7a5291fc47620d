//! The rules a configuration must keep; [`Config::load`] refuses one that breaks them.

use std::net::SocketAddr;

use nhi_protocol::deployment::Deployment;

use super::{Config, ConfigError, MailerKind, RegistryKind, SmtpTls};

impl Config {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
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
        self.validate_certificate_login()?;
        if self.argon2_memory_kib < 8 * self.argon2_parallelism.max(1) {
            return Err(ConfigError::Invalid {
                key: "argon2_memory_kib",
                message: "too small".into(),
            });
        }
        Ok(())
    }

    /// The citizen certificate login (issue 12): when `certificate_issuing_cas` is set, the
    /// policies, the CRL and the ID verification it needs, each over https when remote.
    fn validate_certificate_login(&self) -> Result<(), ConfigError> {
        if self.certificate_issuing_cas.is_none() {
            return Ok(());
        }
        let invalid = |key, message: &str| ConfigError::Invalid {
            key,
            message: message.into(),
        };
        if self
            .certificate_policy_oids
            .split(',')
            .all(|o| o.trim().is_empty())
        {
            return Err(invalid(
                "certificate_policy_oids",
                "required with certificate_issuing_cas: the citizen certificate policy OID(s)",
            ));
        }
        match self.certificate_crl.as_deref().map(str::trim) {
            None | Some("") => {
                return Err(invalid(
                    "certificate_crl",
                    "required with certificate_issuing_cas (a file or an https:// URL): without \
                     a revocation status no login is possible",
                ))
            }
            Some(url) if url.starts_with("http://") => {
                return Err(invalid(
                    "certificate_crl",
                    "must be a file or an https:// URL",
                ))
            }
            Some(_) => {}
        }
        match self.certificate_id_verification {
            super::IdVerificationKind::Table if self.certificate_id_table.is_none() => {
                Err(invalid(
                    "certificate_id_table",
                    "required with certificate_id_verification = \"table\"",
                ))
            }
            super::IdVerificationKind::Http
                if !self
                    .certificate_id_url
                    .as_deref()
                    .is_some_and(|u| u.starts_with("https://")) =>
            {
                Err(invalid(
                    "certificate_id_url",
                    "an https:// URL is required with certificate_id_verification = \"http\"",
                ))
            }
            _ => Ok(()),
        }
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

impl Config {
    /// Reads `deployment_file` (if set and not read yet) into [`Config::deployment`] and checks
    /// that this server belongs to it: `public_origin` is one of its origins — card proofs
    /// bind to the public origin, and the deployment's extension talks only to its origins, so
    /// a server outside them could never be used — and a development deployment (any
    /// loopback port, never in a store) is served only on a loopback listener, so that no one
    /// is offered packages whose extension lets every local web server drive their card.
    pub fn load_deployment(&mut self) -> Result<(), ConfigError> {
        let Some(path) = self.deployment_file.clone() else {
            self.deployment = None;
            return Ok(());
        };
        let deployment = match self.deployment.take() {
            Some(d) => d,
            None => {
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                Deployment::parse(&text)
                    .map_err(|source| ConfigError::Deployment { path, source })?
            }
        };
        if !deployment.allows(self.origin()) {
            return Err(ConfigError::Invalid {
                key: "public_origin",
                message: format!(
                    "{} is not an origin of the deployment {:?} (deployment_file {}: {}); card \
                     proofs bind to the public origin and the deployment's extension and card \
                     reader program serve only its origins: add it to the deployment's \
                     \"origins\" (and rebuild the packages) or correct public_origin",
                    self.origin(),
                    deployment.name,
                    self.deployment_file
                        .as_deref()
                        .unwrap_or(std::path::Path::new(""))
                        .display(),
                    deployment.origins.join(", "),
                ),
            });
        }
        if deployment.development && !self.listen.ip().is_loopback() {
            return Err(ConfigError::Invalid {
                key: "deployment_file",
                message: format!(
                    "the deployment {:?} is a development deployment (its extension accepts \
                     every loopback port), served only on a loopback listen address, not {}: \
                     use a deployment of the real origins for a server others reach",
                    deployment.name, self.listen
                ),
            });
        }
        self.deployment = Some(deployment);
        Ok(())
    }
}
