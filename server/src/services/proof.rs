//! Card-proof nonces and verification.

use nhi_protocol::api::{CardProof, NonceResponse, NONCE_TTL_SECONDS};
use nhi_protocol::card_proof::Nonce;

use super::{random_token, token_hash, ServiceError, ServiceResult, Services};
use crate::storage::{self, nonces};

impl Services {
    /// Issues a fresh single-use nonce (stored as its hash, valid 5 minutes).
    pub async fn issue_nonce(&self) -> ServiceResult<NonceResponse> {
        let nonce = Nonce(random_token());
        let expires = storage::now() + i64::from(NONCE_TTL_SECONDS);
        let mut conn = self.db.conn().await?;
        nonces::insert(&mut conn, &token_hash(&nonce.0), expires).await?;
        Ok(NonceResponse {
            nonce,
            expires_in_seconds: NONCE_TTL_SECONDS,
        })
    }

    /// Consumes the nonce (whatever the outcome: a proof is tried once) and checks the MAC
    /// for the origin this server serves.
    pub async fn verify_proof(&self, proof: &CardProof) -> ServiceResult<()> {
        let consumed = {
            let mut conn = self.db.conn().await?;
            nonces::consume(&mut conn, &token_hash(&proof.nonce.0), storage::now()).await?
        };
        if !consumed {
            self.metrics.inc(&self.metrics.proofs_rejected);
            return Err(ServiceError::NonceInvalid);
        }
        self.authority
            .verify(
                &proof.card_number,
                self.config.origin(),
                &proof.nonce,
                &proof.mac,
            )
            .map_err(|_| {
                self.metrics.inc(&self.metrics.proofs_rejected);
                ServiceError::CardProofInvalid
            })
    }
}
