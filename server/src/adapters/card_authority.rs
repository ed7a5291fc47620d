//! The card authority checks card proofs and knows which cards are current (DESIGN.md "Card
//! proof"; issue 10). The default holds the master key from configuration and resolves card
//! numbers from the sample card holders; a production one calls an HSM / the NHI SAM or the
//! card issuer's records.

use std::collections::HashMap;

use nhi_protocol::card_proof::{self, CardMac, CardRecord, MasterKey, Nonce, ProofError};
use nhi_protocol::CardNumber;
use serde::Deserialize;

use super::registry::SampleData;

/// What the issuer's records say about a card number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardStanding {
    /// The holder's current card.
    Current { national_id: String },
    /// Reported lost (掛失): refused.
    Lost,
    /// Replaced by a newer card (換發): refused.
    Replaced,
    /// The issuer never issued this number: refused.
    NotIssued,
    /// This authority cannot resolve card numbers (or not this one): the proof alone decides.
    Unknown,
}

pub trait CardAuthority: Send + Sync {
    /// Ok when `mac` is the answer, for `origin` and `nonce`, of the card that stores `record`.
    fn verify(
        &self,
        record: &CardRecord,
        origin: &str,
        nonce: &Nonce,
        mac: &CardMac,
    ) -> Result<(), ProofError>;

    /// The card's standing in the issuer's records, where this authority can resolve it.
    fn standing(&self, card: &CardNumber) -> CardStanding;
}

/// A card the sample says is no longer usable (`revoked_cards` in the sample registry file).
#[derive(Debug, Clone, Deserialize)]
pub struct RevokedCard {
    pub card_number: String,
    pub national_id: String,
    /// `lost` or `replaced`.
    pub status: String,
}

/// The embedded default: the configured master key, and card number → holder from the sample
/// registry's people (their current cards) and its revoked cards. Card numbers it has never
/// seen are [`CardStanding::Unknown`] (load-test and unit-test cards).
pub struct MasterKeyAuthority {
    key: MasterKey,
    cards: HashMap<String, CardStanding>,
}

impl MasterKeyAuthority {
    /// An authority that resolves no card numbers.
    pub fn new(key: MasterKey) -> Self {
        Self {
            key,
            cards: HashMap::new(),
        }
    }

    /// An authority that also knows the sample's cards.
    pub fn with_sample(key: MasterKey, sample: &SampleData) -> Self {
        let mut cards: HashMap<String, CardStanding> = sample
            .people
            .iter()
            .map(|p| {
                (
                    p.card_number.clone(),
                    CardStanding::Current {
                        national_id: p.national_id.clone(),
                    },
                )
            })
            .collect();
        for r in &sample.revoked_cards {
            let standing = match r.status.as_str() {
                "lost" => CardStanding::Lost,
                _ => CardStanding::Replaced,
            };
            cards.insert(r.card_number.clone(), standing);
        }
        Self { key, cards }
    }
}

impl CardAuthority for MasterKeyAuthority {
    fn verify(
        &self,
        record: &CardRecord,
        origin: &str,
        nonce: &Nonce,
        mac: &CardMac,
    ) -> Result<(), ProofError> {
        card_proof::verify(&self.key, record, origin, nonce, mac)
    }

    fn standing(&self, card: &CardNumber) -> CardStanding {
        self.cards
            .get(card.as_str())
            .cloned()
            .unwrap_or(CardStanding::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_authority_knows_current_and_revoked_cards() {
        let sample = SampleData::bundled().expect("bundled sample");
        let key = MasterKey::from_hex(card_proof::TEST_MASTER_KEY_HEX).expect("key");
        let a = MasterKeyAuthority::with_sample(key, &sample);
        let card = |s: &str| s.parse::<CardNumber>().expect("card number");
        assert_eq!(
            a.standing(&card("000012345678")),
            CardStanding::Current {
                national_id: "A123456789".into()
            }
        );
        assert!(sample.revoked_cards.iter().any(|r| r.status == "lost"));
        for r in &sample.revoked_cards {
            assert_ne!(
                a.standing(&card(&r.card_number)),
                CardStanding::Unknown,
                "{}",
                r.card_number
            );
        }
        assert_eq!(a.standing(&card("999999999999")), CardStanding::Unknown);
    }
}
