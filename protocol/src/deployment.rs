//! A deployment (issue 13): the web origins one installation of the service is reached at,
//! the extension ids the browsers' stores gave its extension, and its store pages — set once,
//! in one file (`deploy/<name>.json`), from which the packaging tool (`nhi-package`,
//! `scripts/package.sh`) produces the extension's `content_scripts.matches`, `sw.js`'s
//! allow-list, the native host's `nhi-bridge.json` and its native-messaging manifests, and
//! which the server reads (`deployment_file`) to check that its `public_origin` — the origin
//! card proofs bind to — is one of them and to link the stores on `/download`.
//!
//! Each server has one public origin; a deployment may list several (e.g. a second hostname
//! during a move). A development deployment (`"development": true`) may list loopback
//! origins with any port (`http://localhost:*`); any other must list only `https://` origins
//! of real hosts with fixed ports, which is what [`Deployment::store_ready`] checks before an
//! extension is packaged for a store.
//!
//! ```json
//! {
//!   "name": "example",
//!   "origins": ["https://card.nhi-registration.example"],
//!   "chromium_extension_ids": ["…32 letters a–p…"],
//!   "firefox_extension_id": "card-bridge@nhi-registration.example",
//!   "stores": { "chrome": "https://chromewebstore.google.com/detail/…", "edge": null, "firefox": null }
//! }
//! ```

use serde::{Deserialize, Serialize};

use crate::bridge::origin_allowed;

/// One deployment's settings (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// A short name (`[a-z0-9-]`), used in artefact folder names.
    pub name: String,
    /// A development deployment: loopback origins, any port; never packaged for a store.
    #[serde(default)]
    pub development: bool,
    /// Web origins (`scheme://host[:port]`; `:*` = any port, development only) whose pages may
    /// use the card bridge.
    pub origins: Vec<String>,
    /// Chromium-family extension ids (Chrome Web Store, Edge Add-ons, development key) allowed
    /// to start the native host.
    pub chromium_extension_ids: Vec<String>,
    /// The Firefox add-on id (`browser_specific_settings.gecko.id`).
    pub firefox_extension_id: String,
    /// Where people install the extension from, per store (`https://` pages).
    #[serde(default)]
    pub stores: Stores,
}

/// The extension's store pages, where it is published.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Stores {
    /// Chrome Web Store (also serves Chromium, Brave, Opera).
    #[serde(default)]
    pub chrome: Option<String>,
    /// Microsoft Edge Add-ons.
    #[serde(default)]
    pub edge: Option<String>,
    /// Firefox Add-ons (AMO).
    #[serde(default)]
    pub firefox: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeploymentError {
    #[error("the deployment file is not valid JSON of the expected shape: {0}")]
    Parse(String),
    #[error("the deployment's name {0:?} is not 1–40 of a–z, 0–9 and -")]
    Name(String),
    #[error("the deployment lists no origin")]
    NoOrigin,
    #[error("{0:?} is not an origin (scheme://host[:port], http or https, lower case, no path)")]
    Origin(String),
    #[error("{0:?} is a development origin (http, loopback or any port) in a deployment that is not marked development")]
    DevelopmentOrigin(String),
    #[error("the deployment lists no Chromium extension id")]
    NoExtensionId,
    #[error("{0:?} is not a Chromium extension id (32 letters a–p)")]
    ExtensionId(String),
    #[error("{0:?} is not a Firefox add-on id (name@domain or {{uuid}})")]
    FirefoxId(String),
    #[error("the store page {0:?} is not an https:// address")]
    Store(String),
    #[error("the development deployment {0:?} cannot be packaged for a store")]
    Development(String),
}

/// Whether `id` looks like a Chromium extension id (32 letters `a`–`p`).
pub fn is_chromium_extension_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| (b'a'..=b'p').contains(&b))
}

fn is_firefox_extension_id(id: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "-._".contains(c);
    if let Some(uuid) = id.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        return uuid.len() == 36 && uuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    }
    match id.split_once('@') {
        Some((name, domain)) => {
            !name.is_empty()
                && !domain.is_empty()
                && id.len() <= 80
                && name.chars().all(ok_char)
                && domain.chars().all(ok_char)
        }
        None => false,
    }
}

/// An origin pattern taken apart: scheme, host, port (`None` = default, `Some(None)` = any).
struct OriginParts<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<Option<u16>>,
}

fn parse_origin(p: &str) -> Option<OriginParts<'_>> {
    let (scheme, rest) = p.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, "*")) => (host, Some(None)),
        Some((host, port)) => {
            let n: u16 = port.parse().ok().filter(|n| *n > 0)?;
            if port.starts_with('0') || port.len() > 5 {
                return None;
            }
            (host, Some(Some(n)))
        }
        None => (rest, None),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
        return None;
    }
    Some(OriginParts { scheme, host, port })
}

/// Whether `pattern` is a development origin: http, a loopback host, or any port.
pub fn is_development_origin(pattern: &str) -> bool {
    match parse_origin(pattern) {
        Some(o) => {
            o.scheme != "https"
                || o.port == Some(None)
                || o.host == "localhost"
                || o.host.ends_with(".localhost")
                || o.host.starts_with("127.")
        }
        None => true,
    }
}

/// The content-script match pattern that covers an origin pattern (`https://h[:p]` →
/// `https://h/*`: match patterns ignore ports, the service worker checks them).
pub fn match_pattern(pattern: &str) -> Option<String> {
    let o = parse_origin(pattern)?;
    Some(format!("{}://{}/*", o.scheme, o.host))
}

impl Deployment {
    /// Reads and checks a deployment file's text.
    pub fn parse(json: &str) -> Result<Self, DeploymentError> {
        let d: Deployment =
            serde_json::from_str(json).map_err(|e| DeploymentError::Parse(e.to_string()))?;
        d.validate()?;
        Ok(d)
    }

    /// Checks every field (see [`DeploymentError`]).
    pub fn validate(&self) -> Result<(), DeploymentError> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 40
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return Err(DeploymentError::Name(self.name.clone()));
        }
        if self.origins.is_empty() {
            return Err(DeploymentError::NoOrigin);
        }
        for o in &self.origins {
            if parse_origin(o).is_none() {
                return Err(DeploymentError::Origin(o.clone()));
            }
            if !self.development && is_development_origin(o) {
                return Err(DeploymentError::DevelopmentOrigin(o.clone()));
            }
        }
        if self.chromium_extension_ids.is_empty() {
            return Err(DeploymentError::NoExtensionId);
        }
        if let Some(id) = self
            .chromium_extension_ids
            .iter()
            .find(|id| !is_chromium_extension_id(id))
        {
            return Err(DeploymentError::ExtensionId(id.clone()));
        }
        if !is_firefox_extension_id(&self.firefox_extension_id) {
            return Err(DeploymentError::FirefoxId(
                self.firefox_extension_id.clone(),
            ));
        }
        for url in [&self.stores.chrome, &self.stores.edge, &self.stores.firefox]
            .into_iter()
            .flatten()
        {
            let ok = url
                .strip_prefix("https://")
                .is_some_and(|r| !r.is_empty() && !r.contains(char::is_whitespace));
            if !ok {
                return Err(DeploymentError::Store(url.clone()));
            }
        }
        Ok(())
    }

    /// Whether a page of `origin` (as a browser reports it) is served by this deployment.
    pub fn allows(&self, origin: &str) -> bool {
        origin_allowed(origin, &self.origins)
    }

    /// The extension's `content_scripts[].matches`, in order, without repeats.
    pub fn content_script_matches(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for m in self.origins.iter().filter_map(|o| match_pattern(o)) {
            if !out.contains(&m) {
                out.push(m);
            }
        }
        out
    }

    /// Whether the extension of this deployment may go to a store: not a development
    /// deployment and no development origin.
    pub fn store_ready(&self) -> Result<(), DeploymentError> {
        self.validate()?;
        if self.development {
            return Err(DeploymentError::Development(self.name.clone()));
        }
        match self.origins.iter().find(|o| is_development_origin(o)) {
            Some(o) => Err(DeploymentError::DevelopmentOrigin(o.clone())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV_ID: &str = "iabeigkbcleonjchbhkaajnjdgncoiao";

    fn dev() -> Deployment {
        Deployment {
            name: "development".into(),
            development: true,
            origins: vec!["http://127.0.0.1:*".into(), "http://localhost:*".into()],
            chromium_extension_ids: vec![DEV_ID.into()],
            firefox_extension_id: "card-bridge@nhi-registration.example".into(),
            stores: Stores::default(),
        }
    }

    fn prod() -> Deployment {
        Deployment {
            name: "example".into(),
            development: false,
            origins: vec!["https://card.nhi-registration.example".into()],
            stores: Stores {
                chrome: Some("https://chromewebstore.google.com/detail/x".into()),
                ..Stores::default()
            },
            ..dev()
        }
    }

    #[test]
    fn the_deployment_files_in_the_repository_are_valid() {
        for (name, text) in [
            ("development", include_str!("../../deploy/development.json")),
            ("example", include_str!("../../deploy/example.json")),
        ] {
            let d = Deployment::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(d.name, name);
            assert_eq!(d.development, name == "development");
        }
    }

    #[test]
    fn development_deployments_are_never_store_ready() {
        assert!(dev().validate().is_ok());
        assert_eq!(
            dev().store_ready(),
            Err(DeploymentError::Development("development".into()))
        );
        assert!(prod().store_ready().is_ok());
    }

    #[test]
    fn a_production_deployment_refuses_development_origins() {
        for o in [
            "http://card.example.tw",
            "https://localhost",
            "https://app.localhost",
            "https://127.0.0.1",
            "https://card.example.tw:*",
        ] {
            let d = Deployment {
                origins: vec![o.into()],
                ..prod()
            };
            assert_eq!(
                d.validate(),
                Err(DeploymentError::DevelopmentOrigin(o.into())),
                "{o}"
            );
        }
        let fixed_port = Deployment {
            origins: vec!["https://card.example.tw:8443".into()],
            ..prod()
        };
        assert!(fixed_port.store_ready().is_ok());
    }

    #[test]
    fn malformed_values_are_refused() {
        for o in [
            "card.example.tw",
            "ftp://card.example.tw",
            "https://card.example.tw/",
            "https://Card.example.tw",
            "https://card.example.tw:0",
            "https://card.example.tw:65536",
            "https://card.example.tw:080",
            "https://-bad.example.tw",
            "https://",
            "https://a..b",
        ] {
            let d = Deployment {
                origins: vec![o.into()],
                ..dev()
            };
            assert_eq!(d.validate(), Err(DeploymentError::Origin(o.into())), "{o}");
        }
        let bad_id = Deployment {
            chromium_extension_ids: vec!["abcdefghijklmnopqrstuvwxyzabcdef".into()],
            ..dev()
        };
        assert!(matches!(
            bad_id.validate(),
            Err(DeploymentError::ExtensionId(_))
        ));
        let bad_ff = Deployment {
            firefox_extension_id: "no-at-sign".into(),
            ..dev()
        };
        assert!(matches!(
            bad_ff.validate(),
            Err(DeploymentError::FirefoxId(_))
        ));
        let http_store = Deployment {
            stores: Stores {
                edge: Some("http://edge.example".into()),
                ..Stores::default()
            },
            ..prod()
        };
        assert!(matches!(
            http_store.validate(),
            Err(DeploymentError::Store(_))
        ));
        assert!(matches!(
            Deployment::parse(r#"{"name":"x","origins":[],"unknown":1}"#),
            Err(DeploymentError::Parse(_))
        ));
    }

    #[test]
    fn match_patterns_drop_ports_and_repeats() {
        assert_eq!(
            dev().content_script_matches(),
            vec!["http://127.0.0.1/*", "http://localhost/*"]
        );
        let d = Deployment {
            origins: vec![
                "https://card.example.tw".into(),
                "https://card.example.tw:8443".into(),
            ],
            ..prod()
        };
        assert_eq!(
            d.content_script_matches(),
            vec!["https://card.example.tw/*"]
        );
    }

    #[test]
    fn allows_uses_the_bridge_rule() {
        assert!(dev().allows("http://localhost:8080"));
        assert!(!dev().allows("http://localhost.evil.example:8080"));
        assert!(prod().allows("https://card.nhi-registration.example"));
        assert!(!prod().allows("https://card.nhi-registration.example:444"));
    }
}
