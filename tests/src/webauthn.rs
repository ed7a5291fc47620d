//! WebDriver's virtual authenticators (WebDriver spec, "Virtual Authenticators"; chromedriver
//! has them): a platform authenticator with resident keys and user verification that always
//! verifies and consents, so the passkey ceremonies run headless with no prompt.
//!
//! fantoccini has no methods for these commands: they go through its `issue_cmd` as raw
//! commands on the session.

use anyhow::{Context, Result};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::Client;
use serde_json::{json, Value};

/// One raw WebDriver command on the session: `path` below `/session/{id}/`.
#[derive(Debug)]
struct Raw {
    method: http::Method,
    path: String,
    body: Option<Value>,
}

impl WebDriverCompatibleCommand for Raw {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            self.method.clone(),
            self.body.as_ref().map(Value::to_string),
        )
    }
}

/// Sends one raw WebDriver command on the session (`path` below `/session/{id}/`): the
/// virtual authenticators here, geckodriver's `moz/addon/install` in [`crate::firefox`].
pub(crate) async fn raw(
    client: &Client,
    method: http::Method,
    path: String,
    body: Option<Value>,
) -> Result<Value> {
    client
        .issue_cmd(Raw {
            method,
            path: path.clone(),
            body,
        })
        .await
        .with_context(|| format!("WebDriver {path}"))
}

/// A virtual authenticator added to the browser session; [`VirtualAuthenticator::remove`]
/// takes it away again (with its credentials).
pub struct VirtualAuthenticator {
    pub id: String,
}

impl VirtualAuthenticator {
    /// `POST /session/{id}/webauthn/authenticator`: CTAP2, internal (a platform
    /// authenticator), resident keys, user verification that succeeds, consent given.
    pub async fn add(client: &Client) -> Result<Self> {
        let v = raw(
            client,
            http::Method::POST,
            "webauthn/authenticator".into(),
            Some(json!({
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserVerified": true,
                "isUserConsenting": true,
            })),
        )
        .await?;
        let id = v
            .as_str()
            .with_context(|| format!("an authenticator id, not {v}"))?
            .to_string();
        Ok(Self { id })
    }

    /// The credentials the authenticator holds (`GET …/credentials`).
    pub async fn credentials(&self, client: &Client) -> Result<Vec<Value>> {
        let v = raw(
            client,
            http::Method::GET,
            format!("webauthn/authenticator/{}/credentials", self.id),
            None,
        )
        .await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// Whether the authenticator says the user was verified (`POST …/uv`).
    pub async fn set_user_verified(&self, client: &Client, verified: bool) -> Result<()> {
        raw(
            client,
            http::Method::POST,
            format!("webauthn/authenticator/{}/uv", self.id),
            Some(json!({ "isUserVerified": verified })),
        )
        .await?;
        Ok(())
    }

    /// Removes the authenticator and its credentials.
    pub async fn remove(self, client: &Client) -> Result<()> {
        raw(
            client,
            http::Method::DELETE,
            format!("webauthn/authenticator/{}", self.id),
            None,
        )
        .await?;
        Ok(())
    }
}
