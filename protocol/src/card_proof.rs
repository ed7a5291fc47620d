//! The origin-bound card proof (DESIGN.md "Card proof").
//!
//! 1. The server issues a one-time [`Nonce`] (32 random bytes).
//! 2. The bridge computes [`challenge`]` = SHA-256(origin ‖ nonce)` with the origin the browser
//!    reports, and sends it to the card in INTERNAL AUTHENTICATE ([`crate::apdu`]).
//! 3. The card answers `AES-128-CMAC(K_card, challenge)` where
//!    `K_card = HMAC-SHA256(master, "NHI-CARD-KEY/v1" ‖ card number)[..16]` ([`derive_card_key`]).
//! 4. The server's card authority recomputes the MAC for the origin it serves and the nonce it
//!    issued ([`verify`]); any other origin, another nonce or another card fails.

use aes::Aes128;
use cmac::{Cmac, Mac as _};
use hmac::Hmac;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::card::CardNumber;

pub const NONCE_LEN: usize = 32;
pub const CHALLENGE_LEN: usize = 32;
pub const MAC_LEN: usize = 16;
pub const MASTER_KEY_LEN: usize = 32;
const KDF_LABEL: &[u8] = b"NHI-CARD-KEY/v1";

/// A server-issued one-time nonce, hex-encoded on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Nonce(pub [u8; NONCE_LEN]);

/// The card's answer, hex-encoded on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CardMac(pub [u8; MAC_LEN]);

/// The master key a card authority derives card keys from (an HSM holds it in production).
#[derive(Clone)]
pub struct MasterKey([u8; MASTER_KEY_LEN]);

/// A card's own key, derived from the master key and the card number.
#[derive(Clone)]
pub struct CardKey([u8; 16]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("expected {expected} hex-encoded bytes")]
    Encoding { expected: usize },
    #[error("the card proof does not verify")]
    Mismatch,
}

fn decode_fixed<const N: usize>(s: &str) -> Result<[u8; N], ProofError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).map_err(|_| ProofError::Encoding { expected: N })?;
    Ok(out)
}

macro_rules! hex_bytes {
    ($t:ident, $n:expr) => {
        impl std::str::FromStr for $t {
            type Err = ProofError;
            fn from_str(s: &str) -> Result<Self, ProofError> {
                decode_fixed::<{ $n }>(s).map($t)
            }
        }
        impl TryFrom<String> for $t {
            type Error = ProofError;
            fn try_from(s: String) -> Result<Self, ProofError> {
                s.parse()
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                hex::encode(v.0)
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($t), hex::encode(self.0))
            }
        }
    };
}
hex_bytes!(Nonce, NONCE_LEN);
hex_bytes!(CardMac, MAC_LEN);

impl MasterKey {
    pub fn from_bytes(bytes: [u8; MASTER_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Parses the 64-hex-digit form used in configuration files.
    pub fn from_hex(s: &str) -> Result<Self, ProofError> {
        decode_fixed::<MASTER_KEY_LEN>(s.trim()).map(Self)
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl CardKey {
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

/// `SHA-256(origin ‖ nonce)`: what the bridge sends to the card.
pub fn challenge(origin: &str, nonce: &Nonce) -> [u8; CHALLENGE_LEN] {
    let mut h = Sha256::new();
    h.update(origin.as_bytes());
    h.update(nonce.0);
    h.finalize().into()
}

/// `K_card = HMAC-SHA256(master, "NHI-CARD-KEY/v1" ‖ card number)[..16]`.
pub fn derive_card_key(master: &MasterKey, card: &CardNumber) -> CardKey {
    let mut mac = <Hmac<Sha256> as hmac::Mac>::new_from_slice(&master.0)
        .expect("HMAC accepts keys of any length");
    hmac::Mac::update(&mut mac, KDF_LABEL);
    hmac::Mac::update(&mut mac, card.as_str().as_bytes());
    let full = hmac::Mac::finalize(mac).into_bytes();
    let mut key = [0u8; 16];
    key.copy_from_slice(&full[..16]);
    CardKey(key)
}

/// What the card computes: `AES-128-CMAC(K_card, challenge)`.
pub fn card_mac(key: &CardKey, challenge: &[u8; CHALLENGE_LEN]) -> CardMac {
    let mut mac =
        <Cmac<Aes128> as cmac::Mac>::new_from_slice(&key.0).expect("AES-128 takes a 16-byte key");
    mac.update(challenge);
    CardMac(mac.finalize().into_bytes().into())
}

/// The card authority's check: recomputes the MAC for `origin` and `nonce` in constant time.
pub fn verify(
    master: &MasterKey,
    card: &CardNumber,
    origin: &str,
    nonce: &Nonce,
    mac: &CardMac,
) -> Result<(), ProofError> {
    let expected = card_mac(&derive_card_key(master, card), &challenge(origin, nonce));
    if bool::from(expected.0.ct_eq(&mac.0)) {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

/// The master key of the development and test environment (the virtual card and the default
/// server configuration share it). Never configure it in production.
pub const TEST_MASTER_KEY_HEX: &str =
    "4e48492d746573742d6d61737465722d6b65792d6e6f742d666f722d70726f64";

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> CardNumber {
        "000012345678".parse().expect("valid card number")
    }

    fn master() -> MasterKey {
        MasterKey::from_hex(TEST_MASTER_KEY_HEX).expect("valid test key")
    }

    #[test]
    fn a_proof_verifies_only_for_its_origin_nonce_and_card() {
        let nonce = Nonce([9; 32]);
        let origin = "https://nhi.example";
        let mac = card_mac(
            &derive_card_key(&master(), &card()),
            &challenge(origin, &nonce),
        );
        assert_eq!(verify(&master(), &card(), origin, &nonce, &mac), Ok(()));
        let other_origin = verify(&master(), &card(), "https://evil.example", &nonce, &mac);
        assert_eq!(other_origin, Err(ProofError::Mismatch));
        let other_nonce = verify(&master(), &card(), origin, &Nonce([8; 32]), &mac);
        assert_eq!(other_nonce, Err(ProofError::Mismatch));
        let other_card: CardNumber = "000012345679".parse().expect("valid");
        assert_eq!(
            verify(&master(), &other_card, origin, &nonce, &mac),
            Err(ProofError::Mismatch)
        );
    }

    #[test]
    fn hex_round_trips_and_rejects_bad_lengths() {
        let n = Nonce([0xAB; 32]);
        let s = n.to_string();
        assert_eq!(s.parse::<Nonce>(), Ok(n));
        assert_eq!(
            "abcd".parse::<Nonce>(),
            Err(ProofError::Encoding { expected: 32 })
        );
        assert!("zz".repeat(16).parse::<CardMac>().is_err());
        let json = serde_json::to_string(&n).expect("serialises");
        assert_eq!(serde_json::from_str::<Nonce>(&json).expect("parses"), n);
    }

    #[test]
    fn cmac_matches_rfc4493_example() {
        // RFC 4493 example 2 key and 16-byte message, checked through the public API.
        let key = CardKey(hex_array("2b7e151628aed2a6abf7158809cf4f3c"));
        let mut mac = <Cmac<Aes128> as cmac::Mac>::new_from_slice(&key.0).expect("key");
        mac.update(&hex_array::<16>("6bc1bee22e409f96e93d7e117393172a"));
        let tag: [u8; 16] = mac.finalize().into_bytes().into();
        assert_eq!(hex::encode(tag), "070a16b46b4d4144f79bdd9dd04a287c");
    }

    fn hex_array<const N: usize>(s: &str) -> [u8; N] {
        decode_fixed::<N>(s).expect("hex")
    }
}
