//! The card authority checks card proofs (DESIGN.md "Card proof"). The default holds the
//! master key from configuration; a production one would call an HSM / the NHI SAM service.

use nhi_protocol::card_proof::{self, CardMac, MasterKey, Nonce, ProofError};
use nhi_protocol::CardNumber;

pub trait CardAuthority: Send + Sync {
    /// Ok when `mac` is the card's answer for `origin` and `nonce`.
    fn verify(
        &self,
        card: &CardNumber,
        origin: &str,
        nonce: &Nonce,
        mac: &CardMac,
    ) -> Result<(), ProofError>;
}

pub struct MasterKeyAuthority {
    key: MasterKey,
}

impl MasterKeyAuthority {
    pub fn new(key: MasterKey) -> Self {
        Self { key }
    }
}

impl CardAuthority for MasterKeyAuthority {
    fn verify(
        &self,
        card: &CardNumber,
        origin: &str,
        nonce: &Nonce,
        mac: &CardMac,
    ) -> Result<(), ProofError> {
        card_proof::verify(&self.key, card, origin, nonce, mac)
    }
}
