//! The origin-bound card proof, version 2 (DESIGN.md "Card proof"; issue 10).
//!
//! 1. The server issues a one-time [`Nonce`] (32 random bytes) for one purpose
//!    ([`crate::api::ProofPurpose`]).
//! 2. The bridge computes [`challenge`]` = SHA-256(origin ‖ nonce)` with the origin the browser
//!    reports, and sends it to the card in INTERNAL AUTHENTICATE v2 ([`crate::apdu`]).
//! 3. The card answers `AES-128-CMAC(K_card, "NHI-PROOF/v2" ‖ challenge ‖ SHA-256(record))`
//!    ([`card_mac`]), where `record` is the 57-byte basic record *stored on the card* — the
//!    bridge only passes the challenge and cannot choose the record — and
//!    `K_card = HMAC-SHA256(master, "NHI-CARD-KEY/v2" ‖ card number ‖ ID number)[..16]`
//!    ([`derive_card_key`]), so a key extracted from one card cannot vouch for another
//!    person's ID number. The card refuses a challenge of any other length than 32 bytes.
//! 4. The request carries the raw record ([`CardRecord`]); the server's card authority
//!    recomputes the MAC for the origin it serves, the nonce it issued and that record
//!    ([`verify`]); only then does the server decode the record. Another origin, another
//!    nonce, another card or any change to the record fails.
//!
//! Version 1 (MAC over the challenge alone, key from the card number alone) is gone from the
//! card, the bridge and the server.

use aes::Aes128;
use cmac::digest::KeyInit;
use cmac::{Cmac, Mac as _};
use hmac::Hmac;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::card::{CardBasicData, CardDataError, RECORD_LEN};

pub const NONCE_LEN: usize = 32;
pub const CHALLENGE_LEN: usize = 32;
pub const MAC_LEN: usize = 16;
pub const MASTER_KEY_LEN: usize = 32;
/// The proof format this build makes and accepts.
pub const PROOF_VERSION: u32 = 2;
const KDF_LABEL: &[u8] = b"NHI-CARD-KEY/v2";
/// Domain separation of the card's MAC input.
pub const PROOF_LABEL: &[u8] = b"NHI-PROOF/v2";
/// Where the card number and the ID number lie in the raw record (the key derivation uses the
/// raw bytes, so the server derives the key before it decodes anything).
const RECORD_CARD_NUMBER: std::ops::Range<usize> = 0..12;
const RECORD_NATIONAL_ID: std::ops::Range<usize> = 32..42;

/// A server-issued one-time nonce, hex-encoded on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = "hex"))]
pub struct Nonce(pub [u8; NONCE_LEN]);

/// The card's answer, hex-encoded on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = "hex"))]
pub struct CardMac(pub [u8; MAC_LEN]);

/// The master key a card authority derives card keys from (an HSM holds it in production).
#[derive(Clone)]
pub struct MasterKey([u8; MASTER_KEY_LEN]);

/// The 57-byte basic record exactly as the card stores it, hex-encoded on the wire. What it
/// says is a claim until [`verify`] has checked the card's MAC over it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = "hex"))]
pub struct CardRecord(pub [u8; RECORD_LEN]);

impl CardRecord {
    /// The record's SHA-256, as the card puts it into its MAC.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.0).into()
    }

    /// Decodes the record. Call it on a record whose proof verified; before that, what it
    /// says is only a claim.
    pub fn decode(&self) -> Result<CardBasicData, CardDataError> {
        CardBasicData::decode(&self.0)
    }

    /// The record of a card holder, as a card would store it.
    pub fn encode(data: &CardBasicData) -> Result<Self, CardDataError> {
        data.encode().map(Self)
    }
}

/// A card's own key, derived from the master key, the card number and the ID number.
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
hex_bytes!(CardRecord, RECORD_LEN);

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

/// `K_card = HMAC-SHA256(master, "NHI-CARD-KEY/v2" ‖ card number ‖ ID number)[..16]`, over
/// the raw record fields (12 and 10 bytes), so issuing a card and checking its proof derive
/// the same key without decoding the record.
pub fn derive_card_key(master: &MasterKey, record: &CardRecord) -> CardKey {
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&hmac_block_key(master).into());
    hmac::Mac::update(&mut mac, KDF_LABEL);
    hmac::Mac::update(&mut mac, &record.0[RECORD_CARD_NUMBER]);
    hmac::Mac::update(&mut mac, &record.0[RECORD_NATIONAL_ID]);
    let full = hmac::Mac::finalize(mac).into_bytes();
    let mut key = [0u8; 16];
    key.copy_from_slice(&full[..16]);
    CardKey(key)
}

/// The master key zero-padded to SHA-256's 64-byte block: HMAC pads a shorter key so
/// (RFC 2104), so this gives the same MAC through the infallible constructor.
fn hmac_block_key(master: &MasterKey) -> [u8; 64] {
    const _: () = assert!(MASTER_KEY_LEN <= 64, "the master key fits one HMAC block");
    let mut block = [0u8; 64];
    block[..MASTER_KEY_LEN].copy_from_slice(&master.0);
    block
}

/// What the card computes over its own record:
/// `AES-128-CMAC(K_card, "NHI-PROOF/v2" ‖ challenge ‖ SHA-256(record))`.
pub fn card_mac(key: &CardKey, challenge: &[u8; CHALLENGE_LEN], record: &CardRecord) -> CardMac {
    let mut mac = <Cmac<Aes128> as KeyInit>::new(&key.0.into());
    mac.update(PROOF_LABEL);
    mac.update(challenge);
    mac.update(&record.digest());
    CardMac(mac.finalize().into_bytes().into())
}

/// The card authority's check: recomputes, in constant time, the MAC the card holding
/// `record` gives for `origin` and `nonce`.
pub fn verify(
    master: &MasterKey,
    record: &CardRecord,
    origin: &str,
    nonce: &Nonce,
    mac: &CardMac,
) -> Result<(), ProofError> {
    let expected = card_mac(
        &derive_card_key(master, record),
        &challenge(origin, nonce),
        record,
    );
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

    fn holder(card: &str, id: &str) -> CardRecord {
        let data: CardBasicData = serde_json::from_value(serde_json::json!({
            "card_number": card, "name": "王小明", "national_id": id,
            "birth_date": "0700101", "sex": "M", "issue_date": "1100101"
        }))
        .expect("valid holder");
        CardRecord::encode(&data).expect("encodes")
    }

    fn master() -> MasterKey {
        MasterKey::from_hex(TEST_MASTER_KEY_HEX).expect("valid test key")
    }

    #[test]
    fn the_infallible_key_constructors_give_the_slice_constructors_macs() {
        let (m, record) = (master(), holder("000012345678", "A123456789"));
        let mut by_slice = <Hmac<Sha256> as hmac::Mac>::new_from_slice(&m.0).unwrap();
        hmac::Mac::update(&mut by_slice, KDF_LABEL);
        hmac::Mac::update(&mut by_slice, &record.0[RECORD_CARD_NUMBER]);
        hmac::Mac::update(&mut by_slice, &record.0[RECORD_NATIONAL_ID]);
        let full = hmac::Mac::finalize(by_slice).into_bytes();
        let key = derive_card_key(&m, &record);
        assert_eq!(key.as_bytes()[..], full[..16]);

        let challenge = [7u8; CHALLENGE_LEN];
        let mut by_slice = <Cmac<Aes128> as cmac::Mac>::new_from_slice(&key.0).unwrap();
        by_slice.update(PROOF_LABEL);
        by_slice.update(&challenge);
        by_slice.update(&record.digest());
        let expected: [u8; 16] = by_slice.finalize().into_bytes().into();
        assert_eq!(card_mac(&key, &challenge, &record).0, expected);
    }

    fn answer(record: &CardRecord, origin: &str, nonce: &Nonce) -> CardMac {
        card_mac(
            &derive_card_key(&master(), record),
            &challenge(origin, nonce),
            record,
        )
    }

    #[test]
    fn a_proof_verifies_only_for_its_origin_nonce_and_record() {
        let nonce = Nonce([9; 32]);
        let origin = "https://nhi.example";
        let record = holder("000012345678", "A123456789");
        let mac = answer(&record, origin, &nonce);
        assert_eq!(verify(&master(), &record, origin, &nonce, &mac), Ok(()));
        let other_origin = verify(&master(), &record, "https://evil.example", &nonce, &mac);
        assert_eq!(other_origin, Err(ProofError::Mismatch));
        let other_nonce = verify(&master(), &record, origin, &Nonce([8; 32]), &mac);
        assert_eq!(other_nonce, Err(ProofError::Mismatch));
        let other_card = holder("000012345679", "A123456789");
        assert_eq!(
            verify(&master(), &other_card, origin, &nonce, &mac),
            Err(ProofError::Mismatch)
        );
        // Any byte of the record changed (here the birth date) breaks the proof.
        let mut tampered = record;
        tampered.0[45] ^= 1;
        assert_eq!(
            verify(&master(), &tampered, origin, &nonce, &mac),
            Err(ProofError::Mismatch)
        );
    }

    #[test]
    fn the_card_key_depends_on_the_id_number_too() {
        // An attacker's record with their own card number but a victim's ID number, MACed
        // with the attacker's real key, does not verify.
        let own = holder("000011112222", "B223456719");
        let forged = holder("000011112222", "A123456789");
        let nonce = Nonce([1; 32]);
        let origin = "https://nhi.example";
        let key_of_own_card = derive_card_key(&master(), &own);
        let mac = card_mac(&key_of_own_card, &challenge(origin, &nonce), &forged);
        assert_eq!(
            verify(&master(), &forged, origin, &nonce, &mac),
            Err(ProofError::Mismatch)
        );
        assert_ne!(
            key_of_own_card.as_bytes(),
            derive_card_key(&master(), &forged).as_bytes()
        );
    }

    #[test]
    fn records_round_trip_as_hex() {
        let r = holder("000012345678", "A123456789");
        let json = serde_json::to_value(r).expect("serialises");
        assert_eq!(json.as_str().map(str::len), Some(2 * RECORD_LEN));
        assert_eq!(
            serde_json::from_value::<CardRecord>(json).expect("parses"),
            r
        );
        assert!("00".repeat(56).parse::<CardRecord>().is_err());
        assert_eq!(
            r.decode().expect("decodes").national_id.as_str(),
            "A123456789"
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
