//! The household registry (戶政即時聯線): does this person live in this household at this
//! address? The answer is yes/no only; the registry's data never reaches the user.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use nhi_protocol::api::{County, Township};
use serde::{Deserialize, Serialize};

use crate::adapters::tls::{
    error_chain, is_loopback_host, is_tls_error, TrustRoots, TrustSettings,
};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("the household registry did not answer in time")]
    Timeout,
    #[error("the household registry is unavailable: {0}")]
    Unavailable(String),
    /// The TLS handshake failed: unknown issuer, name mismatch, expired certificate…
    #[error("TLS with the household registry failed: {0}")]
    Tls(String),
    /// The adapter cannot be built (bad URL, CA file, trust store).
    #[error("the household registry adapter cannot be set up: {0}")]
    Setup(String),
    #[error("the sample registry file is invalid: {0}")]
    InvalidData(String),
}

/// What is checked. Also the JSON body the HTTP adapter POSTs (see server/README.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryQuery {
    pub national_id: String,
    pub name: String,
    /// ROC yyyMMdd.
    pub birth_date: String,
    pub card_number: String,
    pub household_number: String,
    pub county: String,
    pub township: String,
    pub village: String,
    pub neighbourhood: u16,
}

/// The HTTP adapter's expected answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryAnswer {
    #[serde(rename = "match")]
    pub matches: bool,
}

#[async_trait::async_trait]
pub trait HouseholdRegistry: Send + Sync {
    async fn check(&self, q: &RegistryQuery) -> Result<bool, RegistryError>;
}

/// One person of the sample registry file.
#[derive(Debug, Clone, Deserialize)]
pub struct SamplePerson {
    pub national_id: String,
    pub name: String,
    pub birth_date: String,
    pub sex: String,
    pub card_number: String,
    pub household_number: String,
    pub county: String,
    pub township: String,
    pub village: String,
    pub neighbourhood: u16,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SampleData {
    pub places: Vec<County>,
    pub people: Vec<SamplePerson>,
    /// Cards the embedded card authority refuses (lost / replaced).
    #[serde(default)]
    pub revoked_cards: Vec<super::card_authority::RevokedCard>,
}

/// The bundled sample data (server/data/sample-registry.json).
pub const BUNDLED_SAMPLE: &str = include_str!("../../data/sample-registry.json");

impl SampleData {
    pub fn bundled() -> Result<Self, RegistryError> {
        Self::parse(BUNDLED_SAMPLE)
    }

    pub fn from_file(path: &Path) -> Result<Self, RegistryError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RegistryError::InvalidData(format!("{}: {e}", path.display())))?;
        Self::parse(&text)
    }

    fn parse(text: &str) -> Result<Self, RegistryError> {
        serde_json::from_str(text).map_err(|e| RegistryError::InvalidData(e.to_string()))
    }

    pub fn has_place(&self, county: &str, township: &str, village: &str) -> bool {
        self.places.iter().filter(|c| c.name == county).any(|c| {
            c.townships
                .iter()
                .filter(|t: &&Township| t.name == township)
                .any(|t| t.villages.iter().any(|v| v == village))
        })
    }
}

/// The embedded default: the sample registry in memory.
pub struct SampleRegistry {
    people: HashMap<String, SamplePerson>,
}

impl SampleRegistry {
    pub fn new(data: &SampleData) -> Self {
        let people = data
            .people
            .iter()
            .map(|p| (p.national_id.clone(), p.clone()))
            .collect();
        Self { people }
    }
}

fn person_matches(p: &SamplePerson, q: &RegistryQuery) -> bool {
    p.name.trim() == q.name.trim()
        && p.birth_date == q.birth_date
        && p.card_number == q.card_number
        && p.household_number.eq_ignore_ascii_case(&q.household_number)
        && p.county == q.county
        && p.township == q.township
        && p.village == q.village
        && p.neighbourhood == q.neighbourhood
}

#[async_trait::async_trait]
impl HouseholdRegistry for SampleRegistry {
    async fn check(&self, q: &RegistryQuery) -> Result<bool, RegistryError> {
        Ok(self
            .people
            .get(&q.national_id)
            .is_some_and(|p| person_matches(p, q)))
    }
}

/// A remote registry: `POST {url}` with a [`RegistryQuery`] JSON body, answer
/// `{"match": true|false}` with status 200. Anything else, or no answer within the timeout,
/// is "unavailable".
///
/// The query holds the ID number, name, birth date and address, so the URL must be
/// `https://` (rustls, certificates verified against [`TrustSettings`], see
/// [`crate::adapters::tls`]); plain `http://` is accepted only to a loopback host (a test
/// double or a local TLS-terminating proxy). Redirects are not followed: a redirect could
/// point the query elsewhere or to plain http, and the contract has none.
pub struct HttpRegistry {
    client: reqwest::Client,
    url: reqwest::Url,
}

impl HttpRegistry {
    pub fn new(url: &str, timeout: Duration, trust: &TrustSettings) -> Result<Self, RegistryError> {
        let url = check_url(url).map_err(RegistryError::Setup)?;
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none());
        if url.scheme() == "https" {
            let roots = TrustRoots::load(trust).map_err(|e| RegistryError::Setup(e.to_string()))?;
            let tls = roots
                .client_config()
                .map_err(|e| RegistryError::Setup(e.to_string()))?;
            builder = builder.use_preconfigured_tls(tls).https_only(true);
        }
        let client = builder
            .build()
            .map_err(|e| RegistryError::Setup(error_chain(&e)))?;
        Ok(Self { client, url })
    }
}

/// The registry URL rule (also applied by the configuration): `https://host…`, or
/// `http://` to a loopback host only.
pub fn check_url(url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    let host = parsed.host_str().unwrap_or_default();
    match parsed.scheme() {
        "https" if !host.is_empty() => Ok(parsed),
        "http" if is_loopback_host(host) => Ok(parsed),
        "http" => Err(format!(
            "http:// is allowed only to a loopback host (127.0.0.0/8, ::1, localhost), not \
             {host:?}: the queries carry ID numbers and addresses, use https://"
        )),
        _ => Err("must be an https:// URL with a host".into()),
    }
}

/// Without the URL: it may carry credentials and ends up in the log.
fn request_error(e: reqwest::Error, what: &str) -> RegistryError {
    let e = &e.without_url();
    if e.is_timeout() {
        RegistryError::Timeout
    } else if is_tls_error(e) {
        RegistryError::Tls(error_chain(e))
    } else {
        RegistryError::Unavailable(format!("{what}{}", error_chain(e)))
    }
}

#[async_trait::async_trait]
impl HouseholdRegistry for HttpRegistry {
    async fn check(&self, q: &RegistryQuery) -> Result<bool, RegistryError> {
        let resp = self
            .client
            .post(self.url.clone())
            .json(q)
            .send()
            .await
            .map_err(|e| request_error(e, ""))?;
        if !resp.status().is_success() {
            return Err(RegistryError::Unavailable(format!(
                "status {}",
                resp.status()
            )));
        }
        let answer: RegistryAnswer = resp
            .json()
            .await
            .map_err(|e| request_error(e, "bad answer: "))?;
        Ok(answer.matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 17: place names had no English. Every county, township and village of the
    /// sample has its official romanisation.
    #[test]
    fn every_sample_place_has_its_english_name() -> Result<(), RegistryError> {
        let data = SampleData::bundled()?;
        let english = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphabetic() || " '-".contains(c))
        };
        let mut n = 0;
        for c in &data.places {
            assert!(english(&c.name_en), "{}: {:?}", c.name, c.name_en);
            for t in &c.townships {
                assert!(english(&t.name_en), "{}: {:?}", t.name, t.name_en);
                assert_eq!(t.villages.len(), t.villages_en.len(), "{}", t.name);
                for (v, en) in t.villages.iter().zip(&t.villages_en) {
                    assert!(en.ends_with(" Village") && english(en), "{v}: {en:?}");
                    n += 1;
                }
            }
        }
        assert!(n >= 40);
        let taipei = data.places.iter().find(|c| c.name == "臺北市");
        assert_eq!(taipei.map(|c| c.name_en.as_str()), Some("Taipei City"));
        Ok(())
    }

    #[test]
    fn bundled_sample_has_every_virtual_card_holder_exactly() {
        let data = SampleData::bundled().expect("bundled data parses");
        assert!(data.people.len() >= 300);
        let holders: serde_json::Value =
            serde_json::from_str(include_str!("../../../data/sample/card-holders.json"))
                .expect("json");
        let holders = holders["holders"].as_array().expect("holders");
        assert_eq!(holders.len(), 6);
        for h in holders {
            let p = data
                .people
                .iter()
                .find(|p| p.national_id == h["national_id"])
                .expect("holder present");
            assert_eq!(p.card_number, h["card_number"].as_str().expect("s"));
            assert_eq!(p.name, h["name"].as_str().expect("s"));
            assert_eq!(p.birth_date, h["birth_date"].as_str().expect("s"));
            assert_eq!(
                p.household_number,
                h["household_number"].as_str().expect("s")
            );
            assert_eq!(p.village, h["village"].as_str().expect("s"));
            assert_eq!(
                u64::from(p.neighbourhood),
                h["neighbourhood"].as_u64().expect("n")
            );
        }
        for p in &data.people {
            assert!(
                p.national_id.parse::<nhi_protocol::NationalId>().is_ok(),
                "{}",
                p.national_id
            );
            assert!(p.card_number.parse::<nhi_protocol::CardNumber>().is_ok());
            assert!(p
                .household_number
                .parse::<nhi_protocol::HouseholdNumber>()
                .is_ok());
            assert!(data.has_place(&p.county, &p.township, &p.village));
        }
        let mut ids: Vec<_> = data.people.iter().map(|p| &p.national_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), data.people.len());
    }
}
