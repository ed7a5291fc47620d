//! The virtual citizen certificate card (自然人憑證): the PKI applet of
//! [`nhi_protocol::apdu`] (SELECT, READ BINARY of the certificate, VERIFY with a retry
//! counter, PSO COMPUTE DIGITAL SIGNATURE with an ES256 key), and the test PKI loader
//! (`pki.json`, written by `nhi-testpki init`).
//!
//! Like a real card: the PIN's verified state lasts until the card is reset or powered off;
//! the retry counter lives outside the card's session state (a shared [`PinCounter`]) so that
//! it survives resets, removal and reinsertion for the life of `nhi-vcard`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use nhi_protocol::apdu::{
    StatusWord, CERTIFICATE_FILE, INS_PSO, INS_READ_BINARY, INS_VERIFY, PIN_MAX_LEN, PIN_REFERENCE,
    PKI_AID, PSO_CDS,
};
use nhi_protocol::certificate::PIN_TRIES;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use serde::Deserialize;
use subtle_eq::ct_eq;
use zeroize::Zeroizing;

/// The certificate card's ATR (T=1, historical bytes "NHI TEST PKI", valid TCK). It differs
/// from [`crate::vcard::NHI_ATR`], so the host tells the two cards apart before any APDU.
pub const CERT_ATR: [u8; 17] = [
    0x3B, 0x8C, 0x80, 0x01, b'N', b'H', b'I', b' ', b'T', b'E', b'S', b'T', b' ', b'P', b'K', b'I',
    0x06,
];

/// A card's PIN retry counter, shared between the card and `nhi-vcard`'s control socket.
#[derive(Debug, Clone)]
pub struct PinCounter(Arc<AtomicU8>);

impl Default for PinCounter {
    fn default() -> Self {
        Self(Arc::new(AtomicU8::new(PIN_TRIES)))
    }
}

impl PinCounter {
    pub fn tries_left(&self) -> u8 {
        self.0.load(Ordering::SeqCst)
    }
    /// Back to [`PIN_TRIES`] (the issuer's unblock; `nhi-vcard ctl unblock`).
    pub fn unblock(&self) {
        self.0.store(PIN_TRIES, Ordering::SeqCst);
    }
    fn set(&self, n: u8) {
        self.0.store(n, Ordering::SeqCst);
    }
}

/// Which file is selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Selected {
    None,
    Application,
    Certificate,
}

/// The PKI applet. No I/O.
pub struct CertificateCard {
    label: String,
    certificate: Vec<u8>,
    key: SigningKey,
    pin: Zeroizing<Vec<u8>>,
    tries: PinCounter,
    verified: bool,
    selected: Selected,
}

mod subtle_eq {
    /// Constant-time comparison of two byte strings (length leaks, content does not).
    pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl CertificateCard {
    pub fn new(
        label: impl Into<String>,
        certificate: Vec<u8>,
        key: SigningKey,
        pin: &[u8],
        tries: PinCounter,
    ) -> Self {
        Self {
            label: label.into(),
            certificate,
            key,
            pin: Zeroizing::new(pin.to_vec()),
            tries,
            verified: false,
            selected: Selected::None,
        }
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn atr(&self) -> &'static [u8] {
        &CERT_ATR
    }

    pub fn tries_left(&self) -> u8 {
        self.tries.tries_left()
    }

    /// Power off, power on and reset: the PIN is no longer verified, nothing is selected.
    pub fn reset(&mut self) {
        self.verified = false;
        self.selected = Selected::None;
    }

    /// Answers one command APDU (response data + SW1 SW2).
    pub fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        let sw = |s: StatusWord| vec![s.0, s.1];
        let [cla, ins, p1, p2, rest @ ..] = apdu else {
            return sw(StatusWord::WRONG_LENGTH);
        };
        if *cla != 0x00 {
            return sw(StatusWord::CLA_NOT_SUPPORTED);
        }
        match (*ins, *p1, *p2) {
            (0xA4, 0x04, 0x00) => match lc_data(rest) {
                Some(aid) if aid == PKI_AID => {
                    self.selected = Selected::Application;
                    sw(StatusWord::OK)
                }
                Some(_) => {
                    self.selected = Selected::None;
                    sw(StatusWord::FILE_NOT_FOUND)
                }
                None => sw(StatusWord::WRONG_LENGTH),
            },
            (0xA4, 0x02, 0x0C) => {
                if self.selected == Selected::None {
                    return sw(StatusWord::CONDITIONS_NOT_SATISFIED);
                }
                match lc_data(rest) {
                    Some(fid) if fid == CERTIFICATE_FILE => {
                        self.selected = Selected::Certificate;
                        sw(StatusWord::OK)
                    }
                    Some(_) => sw(StatusWord::FILE_NOT_FOUND),
                    None => sw(StatusWord::WRONG_LENGTH),
                }
            }
            (0xA4, _, _) => sw(StatusWord::FILE_NOT_FOUND),
            (INS_READ_BINARY, hi, lo) => {
                if self.selected != Selected::Certificate {
                    return sw(StatusWord::CONDITIONS_NOT_SATISFIED);
                }
                if hi & 0x80 != 0 {
                    return sw(StatusWord::INCORRECT_P1_P2);
                }
                let offset = usize::from(u16::from_be_bytes([hi, lo]));
                let le = match rest {
                    [] | [0] => 256,
                    [n] => usize::from(*n),
                    _ => return sw(StatusWord::WRONG_LENGTH),
                };
                if offset >= self.certificate.len() {
                    return sw(StatusWord::WRONG_OFFSET);
                }
                let end = (offset + le).min(self.certificate.len());
                let mut r = self.certificate[offset..end].to_vec();
                let s = if end - offset < le {
                    StatusWord::END_OF_FILE
                } else {
                    StatusWord::OK
                };
                r.extend_from_slice(&[s.0, s.1]);
                r
            }
            (INS_VERIFY, 0x00, PIN_REFERENCE) => {
                if self.selected == Selected::None {
                    return sw(StatusWord::CONDITIONS_NOT_SATISFIED);
                }
                let tries = self.tries.tries_left();
                if rest.is_empty() {
                    return if tries == 0 {
                        sw(StatusWord::PIN_BLOCKED)
                    } else if self.verified {
                        sw(StatusWord::OK)
                    } else {
                        sw(StatusWord::pin_wrong(tries))
                    };
                }
                let Some(pin) = lc_data(rest) else {
                    return sw(StatusWord::WRONG_LENGTH);
                };
                if pin.is_empty() || pin.len() > PIN_MAX_LEN {
                    return sw(StatusWord::WRONG_LENGTH);
                }
                if tries == 0 {
                    return sw(StatusWord::PIN_BLOCKED);
                }
                if ct_eq(pin, &self.pin) {
                    self.tries.set(PIN_TRIES);
                    self.verified = true;
                    sw(StatusWord::OK)
                } else {
                    let left = tries - 1;
                    self.tries.set(left);
                    self.verified = false;
                    sw(StatusWord::pin_wrong(left))
                }
            }
            (INS_VERIFY, _, _) => sw(StatusWord::INCORRECT_P1_P2),
            (INS_PSO, p1, p2) if [p1, p2] == PSO_CDS => {
                if self.selected == Selected::None {
                    return sw(StatusWord::CONDITIONS_NOT_SATISFIED);
                }
                if !self.verified {
                    return sw(StatusWord::SECURITY_NOT_SATISFIED);
                }
                // Lc = 32, the hash, and an optional Le.
                let hash = match rest.split_first() {
                    Some((&0x20, data)) if data.len() == 32 || data.len() == 33 => &data[..32],
                    _ => return sw(StatusWord::WRONG_LENGTH),
                };
                let sig: Signature = match self.key.sign_prehash(hash) {
                    Ok(s) => s,
                    Err(_) => return sw(StatusWord::CONDITIONS_NOT_SATISFIED),
                };
                let mut r = sig.to_bytes().to_vec();
                r.extend_from_slice(&[0x90, 0x00]);
                r
            }
            (INS_PSO, _, _) => sw(StatusWord::INCORRECT_P1_P2),
            _ => sw(StatusWord::INS_NOT_SUPPORTED),
        }
    }
}

/// The data of a command with `Lc` (an extra trailing `Le` byte is tolerated); `None` when the
/// length does not match.
fn lc_data(rest: &[u8]) -> Option<&[u8]> {
    let (&lc, data) = rest.split_first()?;
    let lc = usize::from(lc);
    (data.len() == lc || data.len() == lc + 1).then(|| &data[..lc])
}

impl crate::vcard::Applet for CertificateCard {
    fn atr(&self) -> &[u8] {
        CertificateCard::atr(self)
    }
    fn reset(&mut self) {
        CertificateCard::reset(self)
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        CertificateCard::process(self, apdu)
    }
}

/// `pki.json` (section 1 of the issue 12 plan), the fields the card needs.
#[derive(Debug, Deserialize)]
struct PkiFile {
    cards: Vec<PkiCardEntry>,
}

#[derive(Debug, Deserialize)]
struct PkiCardEntry {
    label: String,
    #[serde(default)]
    algorithm: Option<String>,
    certificate: PathBuf,
    key: PathBuf,
    pin: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid pki.json: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path} holds no PEM certificate")]
    Certificate { path: PathBuf },
    #[error("{path} is not a PKCS#8 P-256 key")]
    Key { path: PathBuf },
    #[error("no certificate card {0:?} in the test PKI")]
    NotFound(String),
    #[error(
        "certificate card {label:?} uses {algorithm}; the virtual card plays ES256 cards only"
    )]
    Unsupported { label: String, algorithm: String },
}

/// One card of the test PKI, loaded.
pub struct PkiCard {
    pub label: String,
    pub certificate: Vec<u8>,
    pub key: SigningKey,
    pub pin: Zeroizing<Vec<u8>>,
}

/// The certificate cards of a test PKI directory. RSA cards (`RS256`) are listed but cannot
/// be inserted (the virtual card signs ES256 only).
pub struct Pki {
    cards: Vec<Result<PkiCard, PkiError>>,
    labels: Vec<String>,
}

impl Pki {
    pub fn load(dir: &Path) -> Result<Pki, PkiError> {
        let path = dir.join("pki.json");
        let text = std::fs::read(&path).map_err(|source| PkiError::Read {
            path: path.clone(),
            source,
        })?;
        let file: PkiFile =
            serde_json::from_slice(&text).map_err(|source| PkiError::Parse { path, source })?;
        let mut cards = Vec::new();
        let mut labels = Vec::new();
        for c in file.cards {
            labels.push(c.label.clone());
            cards.push(load_card(dir, c));
        }
        Ok(Pki { cards, labels })
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The card `label`, or why it cannot be played.
    pub fn card(&self, label: &str) -> Result<&PkiCard, PkiError> {
        for (l, c) in self.labels.iter().zip(&self.cards) {
            if l == label {
                return match c {
                    Ok(c) => Ok(c),
                    Err(PkiError::Unsupported { label, algorithm }) => Err(PkiError::Unsupported {
                        label: label.clone(),
                        algorithm: algorithm.clone(),
                    }),
                    Err(e) => Err(PkiError::NotFound(format!("{label} ({e})"))),
                };
            }
        }
        Err(PkiError::NotFound(label.into()))
    }
}

fn load_card(dir: &Path, c: PkiCardEntry) -> Result<PkiCard, PkiError> {
    let algorithm = c.algorithm.unwrap_or_else(|| "ES256".into());
    if algorithm != "ES256" {
        return Err(PkiError::Unsupported {
            label: c.label,
            algorithm,
        });
    }
    let cert_path = dir.join(&c.certificate);
    let pem = std::fs::read_to_string(&cert_path).map_err(|source| PkiError::Read {
        path: cert_path.clone(),
        source,
    })?;
    let certificate =
        pem_block(&pem, "CERTIFICATE").ok_or(PkiError::Certificate { path: cert_path })?;
    let key_path = dir.join(&c.key);
    let key_pem =
        Zeroizing::new(
            std::fs::read_to_string(&key_path).map_err(|source| PkiError::Read {
                path: key_path.clone(),
                source,
            })?,
        );
    use p256::pkcs8::DecodePrivateKey as _;
    let key = SigningKey::from_pkcs8_pem(&key_pem).map_err(|_| PkiError::Key { path: key_path })?;
    Ok(PkiCard {
        label: c.label,
        certificate,
        key,
        pin: Zeroizing::new(c.pin.into_bytes()),
    })
}

/// The DER of the first PEM block labelled `label`.
pub fn pem_block(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let b64: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nhi_protocol::apdu::{
        compute_signature, read_binary, verify_pin, SELECT_CERTIFICATE_FILE, SELECT_NHI, SELECT_PKI,
    };
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    use p256::ecdsa::VerifyingKey;

    fn card() -> (CertificateCard, VerifyingKey, Vec<u8>) {
        let key = SigningKey::from_slice(&[7u8; 32]).expect("key");
        let vk = *key.verifying_key();
        let cert: Vec<u8> = (0..700u32).map(|i| (i % 251) as u8).collect();
        (
            CertificateCard::new("t", cert.clone(), key, b"123456", PinCounter::default()),
            vk,
            cert,
        )
    }

    #[test]
    fn atr_checksum_is_valid_and_differs_from_the_nhi_card() {
        assert_eq!(CERT_ATR[1..].iter().fold(0u8, |a, b| a ^ b), 0);
        assert_ne!(&CERT_ATR[..], &crate::vcard::NHI_ATR[..]);
    }

    #[test]
    fn reads_the_certificate_in_chunks() {
        let (mut c, _, cert) = card();
        assert_eq!(c.process(&SELECT_NHI), [0x6A, 0x82]);
        assert_eq!(c.process(&SELECT_CERTIFICATE_FILE), [0x69, 0x85]);
        assert_eq!(c.process(&read_binary(0, 0x10)), [0x69, 0x85]);
        assert_eq!(c.process(&SELECT_PKI), [0x90, 0x00]);
        assert_eq!(c.process(&SELECT_CERTIFICATE_FILE), [0x90, 0x00]);
        let mut got = Vec::new();
        loop {
            let r = c.process(&read_binary(got.len() as u16, 0xE0));
            let (data, sw) = r.split_at(r.len() - 2);
            got.extend_from_slice(data);
            if sw != [0x90, 0x00] {
                assert_eq!(sw, [0x62, 0x82]);
                break;
            }
        }
        assert_eq!(got, cert);
        assert_eq!(c.process(&read_binary(700, 0x10)), [0x6B, 0x00]);
    }

    #[test]
    fn wrong_pins_count_down_then_block_and_the_right_pin_restores() {
        let (mut c, _, _) = card();
        c.process(&SELECT_PKI);
        assert_eq!(c.process(&verify_pin(b"")), [0x63, 0xC3]);
        assert_eq!(c.process(&verify_pin(b"000000")), [0x63, 0xC2]);
        assert_eq!(c.process(&verify_pin(b"123456")), [0x90, 0x00]);
        assert_eq!(c.tries_left(), 3);
        assert_eq!(c.process(&verify_pin(b"")), [0x90, 0x00]);
        assert_eq!(c.process(&verify_pin(b"1")), [0x63, 0xC2]);
        assert_eq!(c.process(&verify_pin(b"2")), [0x63, 0xC1]);
        assert_eq!(c.process(&verify_pin(b"3")), [0x63, 0xC0]);
        // Blocked: even the right PIN is refused, and the empty VERIFY says so.
        assert_eq!(c.process(&verify_pin(b"123456")), [0x69, 0x83]);
        assert_eq!(c.process(&verify_pin(b"")), [0x69, 0x83]);
        // The counter survives a reset (it is the card's, not the session's).
        c.reset();
        c.process(&SELECT_PKI);
        assert_eq!(c.process(&verify_pin(b"123456")), [0x69, 0x83]);
        c.tries.unblock();
        assert_eq!(c.process(&verify_pin(b"123456")), [0x90, 0x00]);
        // Garbage lengths.
        assert_eq!(c.process(&[0, 0x20, 0, 0x81, 5, 1, 2]), [0x67, 0x00]);
        assert_eq!(c.process(&verify_pin(&[b'1'; 13])), [0x67, 0x00]);
        assert_eq!(c.process(&[0, 0x20, 0, 0x82, 1, 1]), [0x6A, 0x86]);
    }

    #[test]
    fn signing_needs_a_pin_verified_since_the_last_reset() {
        let (mut c, vk, _) = card();
        let hash = [0x42u8; 32];
        c.process(&SELECT_PKI);
        assert_eq!(c.process(&compute_signature(&hash)), [0x69, 0x82]);
        assert_eq!(c.process(&verify_pin(b"123456")), [0x90, 0x00]);
        let r = c.process(&compute_signature(&hash));
        assert_eq!(r.len(), 66);
        assert_eq!(&r[64..], [0x90, 0x00]);
        let sig = Signature::from_slice(&r[..64]).expect("r‖s");
        assert!(vk.verify_prehash(&hash, &sig).is_ok());
        // The verified state persists until reset (a second signature rides on it)…
        assert_eq!(c.process(&compute_signature(&hash)).len(), 66);
        // …and a reset ends it.
        c.reset();
        c.process(&SELECT_PKI);
        assert_eq!(c.process(&compute_signature(&hash)), [0x69, 0x82]);
        // A wrong PIN clears a verified state too.
        c.process(&verify_pin(b"123456"));
        c.process(&verify_pin(b"999999"));
        assert_eq!(c.process(&compute_signature(&hash)), [0x69, 0x82]);
        // Only 32-byte hashes.
        c.process(&verify_pin(b"123456"));
        let mut long = vec![0, 0x2A, 0x9E, 0x9A, 0x40];
        long.extend_from_slice(&[1; 64]);
        assert_eq!(c.process(&long), [0x67, 0x00]);
        assert_eq!(c.process(&[0, 0x2A, 0x9E, 0x9A]), [0x67, 0x00]);
    }

    #[test]
    fn garbage_apdus_get_status_words() {
        let (mut c, _, _) = card();
        for apdu in [
            &[][..],
            &[0],
            &[0, 0xA4],
            &[0x80, 0xA4, 4, 0],
            &[0, 0xA4, 4, 0, 8, 1],
            &[0, 0xFF, 0, 0],
            &[0, 0xB0, 0x80, 0, 1],
        ] {
            let r = c.process(apdu);
            assert_eq!(r.len(), 2, "{apdu:02X?} → {r:02X?}");
            assert_ne!(r, [0x90, 0x00]);
        }
    }

    #[test]
    fn pem_blocks_decode() {
        let pem = "junk\n-----BEGIN CERTIFICATE-----\nAQID\nBA==\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_block(pem, "CERTIFICATE"), Some(vec![1, 2, 3, 4]));
        assert_eq!(pem_block(pem, "PRIVATE KEY"), None);
    }
}
