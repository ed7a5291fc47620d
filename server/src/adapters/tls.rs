//! TLS for the connections that leave the machine: the HTTP household registry and SMTP.
//! Both carry national ID numbers, names and addresses, so both use rustls (no OpenSSL) with
//! the *ring* provider, TLS 1.2 or 1.3, full certificate-chain and host-name verification.
//!
//! # Which certificates are trusted
//!
//! Each adapter has its own [`TrustSettings`] (`registry_ca_file` / `registry_system_roots`,
//! `smtp_ca_file` / `smtp_system_roots`):
//!
//! * **The system store** (default on), read with `rustls-native-certs`: on Debian that is
//!   `/etc/ssl/certs/ca-certificates.crt` from the `ca-certificates` package (`SSL_CERT_FILE`
//!   and `SSL_CERT_DIR` override it, as for OpenSSL). We chose it over the roots compiled in by
//!   `webpki-roots` because the system store is updated by the distribution's security
//!   updates without rebuilding the server, removes distrusted CAs the same way, and is where
//!   operators already put their own CAs (`/usr/local/share/ca-certificates` +
//!   `update-ca-certificates`). A compiled-in list would freeze the trust decisions of the
//!   build day into the binary.
//! * **A CA file** (PEM, one or more certificates), ADDED to the system store. Government
//!   services (戶政 for example) use certificates issued under the GRCA (政府憑證管理中心),
//!   which generic root bundles do not carry: configure the GRCA root (or the intermediate
//!   that signs the service) here.
//! * With `*_system_roots = false` the CA file REPLACES the system store: only certificates
//!   chaining to that file are accepted (pinning the registry to the GRCA, say). Without a CA
//!   file that would trust nothing, so the configuration refuses it.
//!
//! The store is read once, when the adapter is built (at start-up); an empty store is an
//! error then, not a silent "everything fails later".

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the CA file {path}: {message}")]
    CaFile { path: PathBuf, message: String },
    #[error("the CA file {0} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    EmptyCaFile(PathBuf),
    #[error("no trusted root certificate: {0}")]
    NoRoots(String),
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

/// Where an adapter's trusted roots come from (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustSettings {
    /// PEM file of CA certificates added to (or, without `system_roots`, replacing) the
    /// system store.
    pub ca_file: Option<PathBuf>,
    /// Trust the system store (Debian ca-certificates).
    pub system_roots: bool,
}

impl Default for TrustSettings {
    fn default() -> Self {
        Self {
            ca_file: None,
            system_roots: true,
        }
    }
}

/// The certificates one adapter trusts, loaded.
#[derive(Clone)]
pub struct TrustRoots {
    store: RootCertStore,
    /// The same certificates as DER (lettre takes them one by one).
    certs: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for TrustRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustRoots")
            .field("roots", &self.certs.len())
            .finish()
    }
}

impl TrustRoots {
    /// Reads the system store and/or the CA file. A CA file that cannot be read, holds no
    /// certificate or holds one that is not usable as a trust anchor is an error; so is an
    /// empty result. Unparsable certificates of the *system* store are skipped (with a
    /// warning), as every TLS client does.
    pub fn load(settings: &TrustSettings) -> Result<Self, TlsError> {
        let mut roots = Self {
            store: RootCertStore::empty(),
            certs: Vec::new(),
        };
        let mut system_problem = None;
        if settings.system_roots {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::warn!(error = %e, "reading the system certificate store");
            }
            let mut skipped = 0usize;
            for cert in found.certs {
                if roots.add(cert).is_err() {
                    skipped += 1;
                }
            }
            if skipped > 0 {
                tracing::warn!(skipped, "unusable certificates in the system store skipped");
            }
            if roots.certs.is_empty() {
                system_problem = Some(match found.errors.first() {
                    Some(e) => format!("the system store is empty ({e})"),
                    None => "the system store is empty (is ca-certificates installed?)".into(),
                });
            }
        }
        if let Some(path) = &settings.ca_file {
            roots.add_file(path)?;
        }
        if roots.certs.is_empty() {
            return Err(TlsError::NoRoots(system_problem.unwrap_or_else(|| {
                "the system store is not used and no CA file is configured".into()
            })));
        }
        Ok(roots)
    }

    fn add(&mut self, cert: CertificateDer<'static>) -> Result<(), rustls::Error> {
        self.store.add(cert.clone())?;
        self.certs.push(cert);
        Ok(())
    }

    fn add_file(&mut self, path: &Path) -> Result<(), TlsError> {
        let ca_file = |message: String| TlsError::CaFile {
            path: path.to_owned(),
            message,
        };
        let pem = std::fs::read(path).map_err(|e| ca_file(e.to_string()))?;
        let mut added = 0usize;
        for (i, cert) in CertificateDer::pem_slice_iter(&pem).enumerate() {
            let cert = cert.map_err(|e| ca_file(format!("certificate {}: {e}", i + 1)))?;
            self.add(cert)
                .map_err(|e| ca_file(format!("certificate {}: {e}", i + 1)))?;
            added += 1;
        }
        if added == 0 {
            return Err(TlsError::EmptyCaFile(path.to_owned()));
        }
        tracing::info!(path = %path.display(), certificates = added, "CA file loaded");
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.certs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certs
    }

    /// A client configuration verifying against these roots: *ring*, TLS 1.2+, the
    /// standard WebPKI verifier (chain, validity, key usage and the host name or IP address
    /// of the URL), no client certificate.
    pub fn client_config(&self) -> Result<ClientConfig, TlsError> {
        Ok(ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .with_root_certificates(self.store.clone())
            .with_no_client_auth())
    }
}

/// The rustls crypto provider of the whole server: *ring* (pure Rust + assembly, builds
/// offline; aws-lc-rs would need cmake and a C toolchain).
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Whether traffic to `host` stays on this machine: `localhost`, 127.0.0.0/8 or ::1
/// (brackets allowed). Names are compared as written: `localhost` comes from /etc/hosts,
/// but other names (`*.localhost` included) could resolve anywhere.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `error: cause: cause…` — reqwest and lettre keep the interesting part (say
/// "invalid peer certificate: UnknownIssuer") in the source chain, not in `Display`.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Whether a TLS failure (a rustls error) is somewhere in the chain, looking through
/// `io::Error`s too: their `source()` skips the error they wrap (hyper wraps the handshake's
/// `io::Error(InvalidData, rustls::Error)` in another `io::Error`).
pub fn is_tls_error(e: &(dyn std::error::Error + 'static)) -> bool {
    if e.is::<rustls::Error>() {
        return true;
    }
    if let Some(inner) = e
        .downcast_ref::<std::io::Error>()
        .and_then(std::io::Error::get_ref)
    {
        if is_tls_error(inner) {
            return true;
        }
    }
    e.source().is_some_and(is_tls_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "example.com",
            "localhost.example.com",
            "a.localhost",
            "10.0.0.1",
            "128.0.0.1",
            "::",
            "[::2]",
            "",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn the_system_store_loads_and_a_bad_ca_file_is_reported() {
        // Debian ca-certificates is installed here (scripts/tools.sh).
        let roots = TrustRoots::load(&TrustSettings::default()).expect("system roots");
        assert!(roots.len() > 10, "{roots:?}");
        assert!(roots.client_config().is_ok());

        let dir = tempfile::tempdir().expect("dir");
        let missing = dir.path().join("missing.pem");
        let err = TrustRoots::load(&TrustSettings {
            ca_file: Some(missing),
            system_roots: true,
        })
        .expect_err("missing file");
        assert!(matches!(err, TlsError::CaFile { .. }), "{err}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let err = TrustRoots::load(&TrustSettings {
            ca_file: Some(empty),
            system_roots: false,
        })
        .expect_err("empty file");
        assert!(matches!(err, TlsError::EmptyCaFile(_)), "{err}");

        let err = TrustRoots::load(&TrustSettings {
            ca_file: None,
            system_roots: false,
        })
        .expect_err("nothing trusted");
        assert!(matches!(err, TlsError::NoRoots(_)), "{err}");
    }
}
