//! Card-proof nonces and verification: the only way to a [`VerifiedCard`] (issue 10).
//!
//! The server believes only what a proof proves. A request's card proof carries the raw
//! 57-byte record the card stores and the card's MAC over it; [`Services::verify_card`]
//! consumes the nonce (issued for one [`ProofPurpose`]), has the card authority check the MAC
//! for this server's origin, asks the authority whether the card is current and whose it is,
//! and only then decodes the record. Services read the holder's card number, name, ID number
//! and birth date from the [`VerifiedCard`] alone; no request field carries them.

use nhi_protocol::api::{CardProof, NonceResponse, ProofPurpose, NONCE_TTL_SECONDS};
use nhi_protocol::card_proof::Nonce;
use nhi_protocol::{CardBasicData, CardNumber, NationalId, RocDate, Sex};

use super::{random_token, token_hash, ServiceError, ServiceResult, Services};
use crate::adapters::card_authority::CardStanding;
use crate::storage::{self, nonces};

/// A card whose proof verified: the holder's data as the card itself vouched for them.
/// Only [`Services::verify_card`] constructs one (the field is private to this module).
#[derive(Debug, Clone)]
pub struct VerifiedCard {
    data: CardBasicData,
}

impl VerifiedCard {
    pub fn card_number(&self) -> &CardNumber {
        &self.data.card_number
    }

    pub fn national_id(&self) -> &NationalId {
        &self.data.national_id
    }

    pub fn name(&self) -> &str {
        &self.data.name
    }

    pub fn birth_date(&self) -> RocDate {
        self.data.birth_date
    }

    pub fn sex(&self) -> Sex {
        self.data.sex
    }

    /// The whole verified record.
    pub fn data(&self) -> &CardBasicData {
        &self.data
    }
}

impl Services {
    /// Issues a fresh single-use nonce for `purpose` (stored as its hash, valid 5 minutes).
    /// A step-up nonce is issued to the caller's session (`session_hash`, the hash of its
    /// cookie token): only that session's step-up accepts a proof on it (issue 16).
    pub async fn issue_nonce(
        &self,
        purpose: ProofPurpose,
        session_hash: Option<&str>,
    ) -> ServiceResult<NonceResponse> {
        let nonce = Nonce(random_token());
        let expires = storage::now() + i64::from(NONCE_TTL_SECONDS);
        let bound = session_hash.filter(|_| purpose == ProofPurpose::StepUp);
        let mut conn = self.db.conn().await?;
        nonces::insert(
            &mut conn,
            &token_hash(&nonce.0),
            purpose.as_str(),
            expires,
            bound,
        )
        .await?;
        Ok(NonceResponse {
            nonce,
            purpose,
            expires_in_seconds: NONCE_TTL_SECONDS,
        })
    }

    /// Verifies a card proof made for `purpose`; the one way to a [`VerifiedCard`].
    ///
    /// The nonce is consumed whatever the outcome (a proof is tried once). Refused: a proof
    /// of another format ([`ServiceError::CardProofOutdated`]); an unknown, used, expired
    /// nonce or one issued for another purpose ([`ServiceError::NonceInvalid`]); a MAC that
    /// does not verify for this origin, nonce and record ([`ServiceError::CardProofInvalid`]);
    /// a card the authority knows as lost, replaced or never issued
    /// ([`ServiceError::CardRevoked`]) or as another person's ([`ServiceError::CardMismatch`]);
    /// a record that does not decode after its MAC verified ([`ServiceError::CardProofInvalid`]).
    pub async fn verify_card(
        &self,
        proof: &CardProof,
        purpose: ProofPurpose,
    ) -> ServiceResult<VerifiedCard> {
        self.verify_card_for(proof, purpose, None).await
    }

    /// [`Services::verify_card`] for a step-up: the nonce must also have been issued to this
    /// session (`session_hash`), so a proof made in one session cannot step up another.
    pub async fn verify_card_in_session(
        &self,
        proof: &CardProof,
        purpose: ProofPurpose,
        session_hash: &str,
    ) -> ServiceResult<VerifiedCard> {
        self.verify_card_for(proof, purpose, Some(session_hash))
            .await
    }

    async fn verify_card_for(
        &self,
        proof: &CardProof,
        purpose: ProofPurpose,
        session_hash: Option<&str>,
    ) -> ServiceResult<VerifiedCard> {
        let reject = |e: ServiceError| {
            self.metrics.inc(&self.metrics.proofs_rejected);
            tracing::info!(reason = %e, purpose = purpose.as_str(), "card proof refused");
            Err(e)
        };
        let consumed = {
            let mut conn = self.db.conn().await?;
            nonces::consume(&mut conn, &token_hash(&proof.nonce.0), storage::now()).await?
        };
        let Some(record) = proof.current_record() else {
            return reject(ServiceError::CardProofOutdated);
        };
        let fits = consumed.is_some_and(|c| {
            c.purpose == purpose.as_str()
                && match (purpose, session_hash) {
                    // A step-up nonce counts only in the session it was issued to.
                    (ProofPurpose::StepUp, Some(s)) => c.session_hash.as_deref() == Some(s),
                    (ProofPurpose::StepUp, None) => false,
                    _ => true,
                }
        });
        if !fits {
            return reject(ServiceError::NonceInvalid);
        }
        if self
            .authority
            .verify(record, self.config.origin(), &proof.nonce, &proof.mac)
            .is_err()
        {
            return reject(ServiceError::CardProofInvalid);
        }
        // The MAC covers the record: from here on its content is the card's word.
        let Ok(data) = record.decode() else {
            return reject(ServiceError::CardProofInvalid);
        };
        match self.authority.standing(&data.card_number) {
            CardStanding::Current { national_id } if national_id != data.national_id.as_str() => {
                reject(ServiceError::CardMismatch)
            }
            CardStanding::Current { .. } | CardStanding::Unknown => Ok(VerifiedCard { data }),
            standing @ (CardStanding::Lost | CardStanding::Replaced) => {
                // Issue 16: what this card opened or enrolled ends with it.
                let lost = standing == CardStanding::Lost;
                self.card_reported_revoked(data.card_number.as_str(), lost)
                    .await;
                reject(ServiceError::CardRevoked)
            }
            CardStanding::NotIssued => reject(ServiceError::CardRevoked),
        }
    }
}
