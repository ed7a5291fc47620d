//! The server's verification cost per citizen-certificate login (issue 12):
//! `TrustConfig::verify`, `VerifiedCertificate::verify_signature`, the CRL status (cached)
//! and the table ID check, for an ES256 card (wang) and an RS256 card (huang-rsa), against the
//! floor of a bare signature verification of the same data with a key parsed beforehand
//! (p256 for ES256, rsa for RS256: SHA-256 + verify and nothing else).
//!
//! ```sh
//! cargo bench -p nhi-server --bench certificate            # release (the bench profile)
//! cargo bench -p nhi-server --bench certificate -- 2000    # iterations per measurement
//! ```
//!
//! The test PKI is generated into a temporary directory at the start (not timed).

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nhi_protocol::card_proof::Nonce;
use nhi_protocol::certificate::{signed_data, SignatureAlgorithm};
use nhi_protocol::NationalId;
use nhi_server::adapters::id_verification::{IdMatch, IdVerifier, TableIdVerifier};
use nhi_server::adapters::revocation::{CrlChecker, RevocationStatus};
use nhi_server::services::certificate::TrustConfig;
use sha2::{Digest, Sha256};

type R<T = ()> = Result<T, Box<dyn Error>>;

/// Median and 95th percentile in µs.
fn summary(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i.min(samples.len() - 1)].as_secs_f64() * 1e6
    };
    (at(0.5), at(0.95))
}

struct Case<'a> {
    label: &'static str,
    national_id: &'static str,
    algorithm: SignatureAlgorithm,
    card: &'a nhi_testpki::Card,
}

fn main() -> R {
    // `cargo bench` passes `--bench`; a number is the iteration count
    let iterations = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(500)
        .max(200);
    let dir = tempfile::tempdir()?;
    let pki = nhi_testpki::TestPki::init(dir.path())?;
    let pem = std::fs::read(pki.issuing_ca_path())?;
    let trust = Arc::new(TrustConfig::new(
        &pem,
        &[nhi_testpki::POLICY_OID.to_owned()],
    )?);
    let crl = CrlChecker::new(&pki.crl_path().display().to_string(), trust.clone(), None)?;
    let table = TableIdVerifier::from_file(&pki.id_table_path())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let origin = "https://nhi.example";
    let nonce = Nonce([0x42; 32]);
    let data = signed_data(origin, &nonce);

    let mut cases = Vec::new();
    for (label, national_id, algorithm) in [
        ("wang", "A123456789", SignatureAlgorithm::ES256),
        ("huang-rsa", "S224680133", SignatureAlgorithm::RS256),
    ] {
        let card = pki.card(label).ok_or(format!("no card {label}"))?;
        cases.push(Case {
            label,
            national_id,
            algorithm,
            card,
        });
    }

    println!("certificate login verification, {iterations} iterations each (µs; median / p95)");
    println!(
        "{:<10} {:>7} {:>16} {:>16} {:>7}",
        "card", "alg", "login checks", "floor (verify)", "ratio"
    );
    for case in &cases {
        let der = case.card.der().to_vec();
        let sig = case.card.sign(&data);
        let id: NationalId = case.national_id.parse()?;

        // the floor: the card key parsed beforehand, SHA-256 + signature verification only
        let floor_once: Box<dyn Fn() -> bool> = match case.algorithm {
            SignatureAlgorithm::ES256 => {
                use p256::ecdsa::signature::Verifier as _;
                use p256::pkcs8::DecodePublicKey as _;
                let spki = spki_der(&der)?;
                let key = p256::ecdsa::VerifyingKey::from_public_key_der(&spki)
                    .map_err(|e| e.to_string())?;
                let s = p256::ecdsa::Signature::from_slice(&sig).map_err(|e| e.to_string())?;
                // Verifier::verify hashes the message with SHA-256: the card's ES256
                Box::new(move || key.verify(&data, &s).is_ok())
            }
            SignatureAlgorithm::RS256 => {
                use rsa::pkcs8::DecodePublicKey as _;
                let spki = spki_der(&der)?;
                let key =
                    rsa::RsaPublicKey::from_public_key_der(&spki).map_err(|e| e.to_string())?;
                let sig = sig.clone();
                Box::new(move || {
                    let hash = Sha256::digest(data);
                    key.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &hash, &sig)
                        .is_ok()
                })
            }
        };

        let (login, floor) = rt.block_on(async {
            let mut login = Vec::with_capacity(iterations);
            let mut floor = Vec::with_capacity(iterations);
            // warm-up: the CRL is read and cached here
            for _ in 0..20 {
                login_checks(
                    &trust,
                    &crl,
                    &table,
                    &der,
                    &id,
                    case.algorithm,
                    &data,
                    &sig,
                    now,
                )
                .await?;
                if !floor_once() {
                    return Err("the floor signature does not verify".into());
                }
            }
            // interleaved, so both see the same machine load
            for _ in 0..iterations {
                let t = Instant::now();
                login_checks(
                    &trust,
                    &crl,
                    &table,
                    &der,
                    &id,
                    case.algorithm,
                    &data,
                    &sig,
                    now,
                )
                .await?;
                login.push(t.elapsed());
                let t = Instant::now();
                let ok = floor_once();
                floor.push(t.elapsed());
                if !ok {
                    return Err("the floor signature does not verify".into());
                }
            }
            Ok::<_, Box<dyn Error>>((login, floor))
        })?;
        let (mut login, mut floor) = (login, floor);
        let (lm, lp) = summary(&mut login);
        let (fm, fp) = summary(&mut floor);
        println!(
            "{:<10} {:>7} {:>7.1} / {:>6.1} {:>7.1} / {:>6.1} {:>6.2}x",
            case.label,
            case.algorithm.as_str(),
            lm,
            lp,
            fm,
            fp,
            lm / fm
        );
    }
    println!("ratio = median of the login checks / median of the floor");
    Ok(())
}

/// What the server does per login, besides the nonce and the database.
#[allow(clippy::too_many_arguments)]
async fn login_checks(
    trust: &TrustConfig,
    crl: &CrlChecker,
    table: &TableIdVerifier,
    der: &[u8],
    id: &NationalId,
    algorithm: SignatureAlgorithm,
    data: &[u8; 64],
    sig: &[u8],
    now: i64,
) -> R {
    let cert = trust.verify(der, now).map_err(|p| p.code())?;
    cert.verify_signature(algorithm, data, sig)
        .map_err(|p| p.code())?;
    if crl.status_at(&cert, now).await != RevocationStatus::Good {
        return Err("CRL status is not good".into());
    }
    if table.check(&cert, id).await != IdMatch::Match {
        return Err("the ID does not match".into());
    }
    Ok(())
}

/// The SubjectPublicKeyInfo of a certificate, DER.
fn spki_der(cert_der: &[u8]) -> R<Vec<u8>> {
    use x509_parser::prelude::FromDer as _;
    let (_, cert) =
        x509_parser::certificate::X509Certificate::from_der(cert_der).map_err(|e| e.to_string())?;
    Ok(cert.public_key().raw.to_vec())
}
