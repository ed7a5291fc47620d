//! Issue 16: passkeys rooted in the card — the step-up, the WebAuthn registration and login
//! ceremonies (relying party: `webauthn-rs`), their management, and revoking what a lost or
//! replaced card opened or enrolled.
//!
//! - Enrolment needs a *step-up* in this session within [`STEP_UP_TTL_SECONDS`]: a card
//!   proof (purpose `step_up`) whose verified ID number is the account's, plus the
//!   registration password. The passkey is stored bound to the account and to the card of
//!   the step-up.
//! - Each ceremony's state lives server-side (`passkey_ceremonies`), single-use, 5 minutes;
//!   a registration's is tied to the session that started it.
//! - The WebAuthn user handle is 16 random bytes per account, never the ID number; the user
//!   name shown by the authenticator is the masked name.
//! - Login: discoverable (no `allowCredentials`), user verification required, the signature
//!   counter must grow (else refused and audited `counter_regressed`), with its own limit of
//!   failures per account, independent of the password lockout.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use nhi_protocol::api::ProofPurpose;
use nhi_protocol::mask::{mask_card_number, mask_name};
use nhi_protocol::passkeys::{
    normalize_name, CeremonyOptions, PasskeyInfo, PasskeyProblem, PasskeysResponse, StepUpRequest,
    CEREMONY_TTL_SECONDS, STEP_UP_TTL_SECONDS,
};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    CredentialID, DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, WebauthnError,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use super::session::NewSession;
use super::{mails, random_token, token_hash, Caller, ServiceError, ServiceResult, Services};
use crate::storage::accounts::{self, AccountRow};
use crate::storage::passkeys::{self as store, NewPasskey, PasskeyRow};
use crate::storage::{self, rate_counters, sessions};

/// Wrong step-up passwords (or proofs) allowed per account per hour.
pub const STEP_UPS_PER_HOUR: i64 = 10;
/// Refused passkey logins allowed per account per hour; then `rate_limited` until the
/// window ends. Independent of the password lockout (which a card thief can trigger).
pub const PASSKEY_FAILURES_PER_HOUR: i64 = 10;
const WINDOW: i64 = 3600;

/// What a registration ceremony keeps server-side.
#[derive(Serialize, Deserialize)]
struct RegistrationState {
    account_id: i64,
    /// The card of the step-up: the passkey's enrolling card.
    card_number: String,
    state: PasskeyRegistration,
}

/// The caller of revocations the server learns of from the card authority, for the audit.
fn authority_caller() -> Caller {
    Caller {
        ip: "card-authority".into(),
    }
}

fn rejected(p: PasskeyProblem) -> ServiceError {
    ServiceError::PasskeyRejected(p)
}

/// What a refused ceremony means for the person.
fn problem_of(e: &WebauthnError) -> PasskeyProblem {
    match e {
        WebauthnError::InvalidRPOrigin => PasskeyProblem::WrongOrigin,
        WebauthnError::InvalidRPIDHash => PasskeyProblem::WrongRpId,
        WebauthnError::MismatchedChallenge | WebauthnError::ChallengeNotFound => {
            PasskeyProblem::CeremonyInvalid
        }
        WebauthnError::CredentialPossibleCompromise => PasskeyProblem::CounterRegressed,
        WebauthnError::UserNotVerified => PasskeyProblem::UserNotVerified,
        WebauthnError::CredentialAlteredAlgFromRequest
        | WebauthnError::CredentialNotFound
        | WebauthnError::InvalidUserUniqueId => PasskeyProblem::UnknownCredential,
        _ => PasskeyProblem::BadSignature,
    }
}

/// A ceremony id (base64url of 32 random bytes) → its stored hash; None for garbage.
fn ceremony_hash(id: &str) -> Option<String> {
    let raw = URL_SAFE_NO_PAD.decode(id).ok()?;
    (raw.len() == 32).then(|| token_hash(&raw))
}

/// Drops `null` members (the JSON forms the browsers parse want absent members, not nulls).
fn strip_nulls(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

fn info(row: &PasskeyRow) -> PasskeyInfo {
    PasskeyInfo {
        id: row.id,
        name: row.name.clone(),
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        card_number_masked: mask_card_number(&row.enrolled_card_number),
    }
}

fn internal(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(e.to_string())
}

impl Services {
    /// The relying party: RP id = the host of `public_origin`, origin = `public_origin`.
    fn relying_party(&self) -> ServiceResult<Webauthn> {
        let origin = Url::parse(self.config.origin()).map_err(internal)?;
        let rp_id = origin
            .host_str()
            .ok_or_else(|| internal("public_origin has no host"))?
            .to_owned();
        WebauthnBuilder::new(&rp_id, &origin)
            .and_then(|b| b.rp_name("NHI card online services").build())
            .map_err(internal)
    }

    /// Counts one event in `bucket`'s hourly window; `rate_limited` beyond `limit`.
    async fn count_limited(&self, bucket: &str, limit: i64) -> ServiceResult<()> {
        let now = storage::now();
        let window = now - now.rem_euclid(WINDOW);
        let hits = {
            let mut conn = self.db.conn().await?;
            rate_counters::hit(&mut conn, bucket, window).await?
        };
        if hits > limit {
            return Err(ServiceError::RateLimited {
                retry_after: (window + WINDOW - now).unsigned_abs(),
            });
        }
        Ok(())
    }

    /// `rate_limited` when `bucket`'s hourly window already holds `limit` events.
    async fn check_limited(&self, bucket: &str, limit: i64) -> ServiceResult<()> {
        let now = storage::now();
        let window = now - now.rem_euclid(WINDOW);
        let hits = {
            let mut conn = self.db.conn().await?;
            rate_counters::peek(&mut conn, bucket, window).await?
        };
        if hits >= limit {
            return Err(ServiceError::RateLimited {
                retry_after: (window + WINDOW - now).unsigned_abs(),
            });
        }
        Ok(())
    }

    /// `POST /api/v1/passkeys/step-up`: a proof of the account's own (current) card and the
    /// registration password; this session may then start a registration for 5 minutes.
    pub async fn passkey_step_up(
        &self,
        caller: &Caller,
        account: &AccountRow,
        session_hash: &str,
        req: StepUpRequest,
    ) -> ServiceResult<()> {
        let card = self
            .verify_card_in_session(&req.proof, ProofPurpose::StepUp, session_hash)
            .await?;
        let card_number = card.card_number().as_str().to_owned();
        if card.national_id().as_str() != account.national_id {
            return Err(self
                .refused(
                    caller,
                    &account.card_number,
                    "passkey_step_up",
                    "other_person",
                    ServiceError::WrongCard,
                )
                .await);
        }
        let bucket = format!("passkey-step-up:{}", account.id);
        if let Err(e) = self.count_limited(&bucket, STEP_UPS_PER_HOUR).await {
            return Err(self
                .refused(
                    caller,
                    &account.card_number,
                    "passkey_step_up",
                    "rate_limited",
                    e,
                )
                .await);
        }
        if !self
            .hasher
            .verify(req.password, account.password_hash.clone())
            .await?
        {
            return Err(self
                .refused(
                    caller,
                    &account.card_number,
                    "passkey_step_up",
                    "wrong_password",
                    ServiceError::LoginFailed,
                )
                .await);
        }
        if card_number != account.card_number {
            // The person's replacement card: the account follows it; this session is now
            // the new card's, and what the old card opened or enrolled ends.
            self.adopt_new_card(caller, account, &card_number, Some(session_hash))
                .await?;
        }
        let ok = {
            let mut conn = self.db.conn().await?;
            sessions::set_stepped_up(
                &mut conn,
                session_hash,
                account.id,
                storage::now(),
                &card_number,
            )
            .await?
        };
        if !ok {
            return Err(ServiceError::SessionExpired);
        }
        self.audit(caller, Some(&card_number), "passkey_step_up", "ok", None)
            .await;
        Ok(())
    }

    /// The account follows the person's new card (verified, same ID number): the stored card
    /// number changes, the session `keep` (if any) moves to the new card, and the old card's
    /// sessions and passkeys are revoked.
    pub(crate) async fn adopt_new_card(
        &self,
        caller: &Caller,
        account: &AccountRow,
        new_card: &str,
        keep: Option<&str>,
    ) -> ServiceResult<()> {
        {
            let mut tx = self.db.begin().await?;
            accounts::set_card_number(&mut tx, account.id, new_card).await?;
            if let Some(hash) = keep {
                sessions::set_card(&mut tx, hash, new_card).await?;
            }
            tx.commit().await.map_err(storage::StorageError::from)?;
        }
        self.audit(
            caller,
            Some(new_card),
            "card_changed",
            "adopted",
            Some(&format!("old={}", mask_card_number(&account.card_number))),
        )
        .await;
        self.revoke_card(caller, &account.card_number, "replaced")
            .await
    }

    /// A card reported lost or replaced: the sessions it opened and the passkeys it enrolled
    /// end, and the person is mailed (once per revocation that ended something).
    pub async fn revoke_card(
        &self,
        caller: &Caller,
        card_number: &str,
        reason: &str,
    ) -> ServiceResult<()> {
        let now = storage::now();
        let mut tx = self.db.begin().await?;
        let owners = store::accounts_of_card(&mut tx, card_number).await?;
        let keys = store::delete_of_card(&mut tx, card_number).await?;
        let ended = sessions::delete_of_card(&mut tx, card_number).await?;
        if keys + ended == 0 {
            return Ok(());
        }
        for id in &owners {
            if let Some(a) = accounts::by_id(&mut tx, *id).await? {
                let mail = mails::passkeys_revoked(
                    &mask_name(&a.name),
                    &mask_card_number(card_number),
                    keys,
                );
                mails::enqueue(&mut tx, &a.email, &mail, now).await?;
            }
        }
        tx.commit().await.map_err(storage::StorageError::from)?;
        self.outbox_wakeup.notify_one();
        self.audit(
            caller,
            Some(card_number),
            "card_revoked",
            reason,
            Some(&format!("passkeys={keys} sessions={ended}")),
        )
        .await;
        Ok(())
    }

    /// The card authority refused a proof of `card_number` as lost or replaced.
    pub(crate) async fn card_reported_revoked(&self, card_number: &str, lost: bool) {
        let reason = if lost { "lost" } else { "replaced" };
        if let Err(e) = self
            .revoke_card(&authority_caller(), card_number, reason)
            .await
        {
            tracing::error!(error = %e, "revoking a lost or replaced card failed");
        }
    }

    /// `POST /api/v1/passkeys/registration`: options for `navigator.credentials.create`
    /// (`step_up_required` without a fresh step-up in this session).
    pub async fn passkey_registration_start(
        &self,
        caller: &Caller,
        account: &AccountRow,
        session_hash: &str,
    ) -> ServiceResult<CeremonyOptions> {
        let now = storage::now();
        let step_up = {
            let mut conn = self.db.conn().await?;
            sessions::step_up_of(&mut conn, session_hash, now).await?
        };
        let fresh = step_up.filter(|(at, card)| {
            (0..=i64::from(STEP_UP_TTL_SECONDS)).contains(&(now - at))
                && *card == account.card_number
        });
        let Some((_, card_number)) = fresh else {
            return Err(self
                .refused(
                    caller,
                    &account.card_number,
                    "passkey_registration",
                    "step_up_required",
                    ServiceError::StepUpRequired,
                )
                .await);
        };
        let (handle, existing) = {
            let mut conn = self.db.conn().await?;
            let fresh_handle = hex::encode(&random_token()[..16]);
            let handle = store::user_handle(&mut conn, account.id, &fresh_handle)
                .await?
                .ok_or(ServiceError::SessionExpired)?;
            (handle, store::of_account(&mut conn, account.id).await?)
        };
        let uuid = Uuid::try_parse(&handle).map_err(internal)?;
        let exclude: Vec<CredentialID> = existing
            .iter()
            .filter_map(|p| URL_SAFE_NO_PAD.decode(&p.credential_id).ok())
            .map(CredentialID::from)
            .collect();
        let shown = mask_name(&account.name);
        let (ccr, state) = self
            .relying_party()?
            .start_passkey_registration(uuid, &shown, &shown, Some(exclude))
            .map_err(internal)?;
        let mut options = serde_json::to_value(&ccr).map_err(internal)?;
        strip_nulls(&mut options);
        // A discoverable credential (resident key): logging in needs no typing.
        if let Some(sel) = options
            .get_mut("publicKey")
            .and_then(|p| p.get_mut("authenticatorSelection"))
            .and_then(serde_json::Value::as_object_mut)
        {
            sel.insert("residentKey".into(), "required".into());
            sel.insert("requireResidentKey".into(), true.into());
            sel.insert("userVerification".into(), "required".into());
        }
        let state = serde_json::to_string(&RegistrationState {
            account_id: account.id,
            card_number,
            state,
        })
        .map_err(internal)?;
        let ceremony_id = self
            .store_ceremony(store::REGISTRATION, Some(session_hash), &state)
            .await?;
        self.audit(
            caller,
            Some(&account.card_number),
            "passkey_registration",
            "started",
            None,
        )
        .await;
        Ok(CeremonyOptions {
            ceremony_id,
            options,
        })
    }

    async fn store_ceremony(
        &self,
        kind: &str,
        session_hash: Option<&str>,
        state: &str,
    ) -> ServiceResult<String> {
        let raw = random_token();
        let expires = storage::now() + i64::from(CEREMONY_TTL_SECONDS);
        let mut conn = self.db.conn().await?;
        store::insert_ceremony(
            &mut conn,
            &token_hash(&raw),
            kind,
            session_hash,
            state,
            expires,
        )
        .await?;
        Ok(URL_SAFE_NO_PAD.encode(raw))
    }

    /// Consumes the ceremony `id` of `kind` (and of `session_hash` for a registration).
    async fn take_ceremony(
        &self,
        id: &str,
        kind: &str,
        session_hash: Option<&str>,
    ) -> ServiceResult<Option<String>> {
        let Some(hash) = ceremony_hash(id) else {
            return Ok(None);
        };
        let taken = {
            let mut conn = self.db.conn().await?;
            store::take_ceremony(&mut conn, &hash, storage::now()).await?
        };
        Ok(taken
            .filter(|(k, s, _)| k == kind && s.as_deref() == session_hash)
            .map(|(_, _, state)| state))
    }

    /// `POST /api/v1/passkeys/registration/finish`: verifies and stores the new passkey,
    /// mails the person.
    pub async fn passkey_registration_finish(
        &self,
        caller: &Caller,
        account: &AccountRow,
        session_hash: &str,
        req: nhi_protocol::passkeys::RegistrationFinish,
    ) -> ServiceResult<PasskeyInfo> {
        let name = normalize_name(&req.name)
            .ok_or_else(|| ServiceError::bad("name", "1 to 64 characters"))?;
        let actor = account.card_number.as_str();
        let state = self
            .take_ceremony(&req.ceremony_id, store::REGISTRATION, Some(session_hash))
            .await?
            .and_then(|s| serde_json::from_str::<RegistrationState>(&s).ok())
            .filter(|s| s.account_id == account.id);
        let Some(state) = state else {
            return Err(self
                .refused(
                    caller,
                    actor,
                    "passkey_registration",
                    "ceremony_invalid",
                    rejected(PasskeyProblem::CeremonyInvalid),
                )
                .await);
        };
        let credential: RegisterPublicKeyCredential = serde_json::from_value(req.credential)
            .map_err(|_| ServiceError::bad("credential", "not a WebAuthn credential"))?;
        let passkey = match self
            .relying_party()?
            .finish_passkey_registration(&credential, &state.state)
        {
            Ok(p) => p,
            Err(e) => {
                let p = problem_of(&e);
                tracing::info!(error = %e, "passkey registration refused");
                return Err(self
                    .refused(
                        caller,
                        actor,
                        "passkey_registration",
                        p.as_str(),
                        rejected(p),
                    )
                    .await);
            }
        };
        let credential_id = URL_SAFE_NO_PAD.encode(passkey.cred_id());
        let serialised = serde_json::to_string(&passkey).map_err(internal)?;
        let now = storage::now();
        let row = {
            let mut tx = self.db.begin().await?;
            let new = NewPasskey {
                account_id: account.id,
                credential_id: &credential_id,
                passkey: &serialised,
                name: &name,
                enrolled_card_number: &state.card_number,
                sign_count: 0,
            };
            let id = match store::insert(&mut tx, &new, now).await {
                Ok(id) => id,
                Err(e) if e.is_unique_violation() => {
                    drop(tx);
                    return Err(self
                        .refused(
                            caller,
                            actor,
                            "passkey_registration",
                            "already_registered",
                            rejected(PasskeyProblem::AlreadyRegistered),
                        )
                        .await);
                }
                Err(e) => return Err(e.into()),
            };
            let mail =
                mails::passkey_added(&mask_name(&account.name), &name, self.config.origin(), now);
            mails::enqueue(&mut tx, &account.email, &mail, now).await?;
            tx.commit().await.map_err(storage::StorageError::from)?;
            PasskeyRow {
                id,
                account_id: account.id,
                credential_id,
                passkey: serialised,
                name,
                enrolled_card_number: state.card_number,
                created_at: now,
                last_used_at: None,
                sign_count: 0,
            }
        };
        self.outbox_wakeup.notify_one();
        self.audit(
            caller,
            Some(actor),
            "passkey_registration",
            "added",
            Some(&format!("passkey={}", row.id)),
        )
        .await;
        Ok(info(&row))
    }

    /// `POST /api/v1/passkeys/login`: a discoverable request (no `allowCredentials`).
    pub async fn passkey_login_start(&self) -> ServiceResult<CeremonyOptions> {
        let (rcr, state) = self
            .relying_party()?
            .start_discoverable_authentication()
            .map_err(internal)?;
        let mut options = serde_json::to_value(&rcr).map_err(internal)?;
        strip_nulls(&mut options);
        if let Some(pk) = options
            .get_mut("publicKey")
            .and_then(serde_json::Value::as_object_mut)
        {
            pk.remove("allowCredentials");
        }
        let options = serde_json::json!({ "publicKey": options.get("publicKey").cloned() });
        let state = serde_json::to_string(&state).map_err(internal)?;
        let ceremony_id = self.store_ceremony(store::LOGIN, None, &state).await?;
        Ok(CeremonyOptions {
            ceremony_id,
            options,
        })
    }

    /// `POST /api/v1/passkeys/login/finish`: the same session an F3 login opens.
    pub async fn passkey_login_finish(
        &self,
        caller: &Caller,
        req: nhi_protocol::passkeys::LoginFinish,
    ) -> ServiceResult<NewSession> {
        let state = self
            .take_ceremony(&req.ceremony_id, store::LOGIN, None)
            .await?
            .and_then(|s| serde_json::from_str::<DiscoverableAuthentication>(&s).ok());
        let Some(state) = state else {
            self.audit(caller, None, "passkey_login", "ceremony_invalid", None)
                .await;
            return Err(rejected(PasskeyProblem::CeremonyInvalid));
        };
        let credential: PublicKeyCredential = serde_json::from_value(req.credential)
            .map_err(|_| ServiceError::bad("credential", "not a WebAuthn credential"))?;
        let rp = self.relying_party()?;
        let (handle, cred_id) = match rp.identify_discoverable_authentication(&credential) {
            Ok(x) => x,
            Err(_) => {
                self.audit(caller, None, "passkey_login", "unknown_credential", None)
                    .await;
                return Err(rejected(PasskeyProblem::UnknownCredential));
            }
        };
        let credential_id = URL_SAFE_NO_PAD.encode(cred_id);
        let handle = hex::encode(handle.as_bytes());
        let found = {
            let mut conn = self.db.conn().await?;
            match store::by_credential_id(&mut conn, &credential_id).await? {
                Some(row)
                    if store::account_of_handle(&mut conn, &handle).await?
                        == Some(row.account_id) =>
                {
                    accounts::by_id(&mut conn, row.account_id)
                        .await?
                        .map(|a| (row, a))
                }
                _ => None,
            }
        };
        let Some((row, account)) = found else {
            self.audit(caller, None, "passkey_login", "unknown_credential", None)
                .await;
            return Err(rejected(PasskeyProblem::UnknownCredential));
        };
        let actor = account.card_number.clone();
        let bucket = format!("passkey-fail:{}", account.id);
        if let Err(e) = self.check_limited(&bucket, PASSKEY_FAILURES_PER_HOUR).await {
            return Err(self
                .refused(caller, &actor, "passkey_login", "rate_limited", e)
                .await);
        }
        let mut passkey: Passkey = serde_json::from_str(&row.passkey).map_err(internal)?;
        let result = match rp.finish_discoverable_authentication(
            &credential,
            state,
            &[DiscoverableKey::from(&passkey)],
        ) {
            Ok(r) => r,
            Err(e) => {
                let p = problem_of(&e);
                tracing::info!(error = %e, "passkey login refused");
                let _ = self.count_limited(&bucket, i64::MAX).await;
                let detail = format!("passkey={}", row.id);
                self.audit(
                    caller,
                    Some(&actor),
                    "passkey_login",
                    p.as_str(),
                    Some(&detail),
                )
                .await;
                return Err(rejected(p));
            }
        };
        if account.status != accounts::ACTIVE {
            return Err(self
                .refused(
                    caller,
                    &actor,
                    "passkey_login",
                    "not_active",
                    ServiceError::AccountNotActive,
                )
                .await);
        }
        passkey.update_credential(&result);
        let serialised = serde_json::to_string(&passkey).map_err(internal)?;
        let now = storage::now();
        let recorded = {
            let mut conn = self.db.conn().await?;
            store::record_use(
                &mut conn,
                row.id,
                &serialised,
                row.sign_count,
                i64::from(result.counter()),
                now,
            )
            .await?
        };
        if !recorded {
            // Another login with this credential won the race: one of them is a clone.
            let detail = format!("passkey={} race", row.id);
            self.audit(
                caller,
                Some(&actor),
                "passkey_login",
                "counter_regressed",
                Some(&detail),
            )
            .await;
            return Err(rejected(PasskeyProblem::CounterRegressed));
        }
        let detail = format!("passkey={}", row.id);
        self.audit(caller, Some(&actor), "passkey_login", "ok", Some(&detail))
            .await;
        self.open_session(caller, &account, &row.enrolled_card_number, "passkey")
            .await
    }

    /// `GET /api/v1/passkeys`.
    pub async fn passkeys_of(&self, account: &AccountRow) -> ServiceResult<PasskeysResponse> {
        let mut conn = self.db.conn().await?;
        let rows = store::of_account(&mut conn, account.id).await?;
        Ok(PasskeysResponse {
            passkeys: rows.iter().map(info).collect(),
        })
    }

    /// `PATCH /api/v1/passkeys/{id}`: only the account's own (another's → `not_found`).
    pub async fn rename_passkey(
        &self,
        caller: &Caller,
        account: &AccountRow,
        id: i64,
        name: &str,
    ) -> ServiceResult<PasskeyInfo> {
        let name =
            normalize_name(name).ok_or_else(|| ServiceError::bad("name", "1 to 64 characters"))?;
        let row = {
            let mut conn = self.db.conn().await?;
            if !store::rename(&mut conn, account.id, id, &name).await? {
                return Err(ServiceError::NotFound);
            }
            store::of_account_by_id(&mut conn, account.id, id)
                .await?
                .ok_or(ServiceError::NotFound)?
        };
        self.audit(
            caller,
            Some(&account.card_number),
            "passkey_renamed",
            "ok",
            Some(&format!("passkey={id}")),
        )
        .await;
        Ok(info(&row))
    }

    /// `DELETE /api/v1/passkeys/{id}`: only the account's own (another's → `not_found`).
    pub async fn delete_passkey(
        &self,
        caller: &Caller,
        account: &AccountRow,
        id: i64,
    ) -> ServiceResult<()> {
        let deleted = {
            let mut conn = self.db.conn().await?;
            store::delete(&mut conn, account.id, id).await?
        };
        if !deleted {
            return Err(ServiceError::NotFound);
        }
        self.audit(
            caller,
            Some(&account.card_number),
            "passkey_removed",
            "ok",
            Some(&format!("passkey={id}")),
        )
        .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_are_dropped_at_every_depth() {
        let mut v = serde_json::json!({"a": null, "b": {"c": null, "d": 1}, "e": [{"f": null}]});
        strip_nulls(&mut v);
        assert_eq!(v, serde_json::json!({"b": {"d": 1}, "e": [{}]}));
    }

    #[test]
    fn ceremony_ids_must_be_32_bytes() {
        assert!(ceremony_hash(&URL_SAFE_NO_PAD.encode([7u8; 32])).is_some());
        assert!(ceremony_hash(&URL_SAFE_NO_PAD.encode([7u8; 31])).is_none());
        assert!(ceremony_hash("not base64!").is_none());
    }
}
