//! F1 registration, F2 confirmation and F8 resend.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use nhi_protocol::api::{
    AccountStatus, CardProof, ConfirmRequest, ConfirmResponse, HouseholdCheckRequest,
    HouseholdInfo, ProofPurpose, RegisterRequest, RegisterResponse, ResendRequest, ResendResponse,
    TICKET_TTL_SECONDS,
};
use nhi_protocol::mask::mask_name;
use nhi_protocol::password::{PasswordPolicy, PersonalData};
use nhi_protocol::CardBasicData;

use super::mails;
use super::proof::VerifiedCard;
use super::{mask_email, random_token, token_hash, Caller, ServiceError, ServiceResult, Services};
use crate::adapters::registry::RegistryQuery;
use crate::storage::accounts::{self, NewAccount};
use crate::storage::audit::{self, AuditEntry};
use crate::storage::{self, tickets};

/// A fresh link ticket: the token goes into the mail, its hash into the database.
pub(crate) struct Ticket {
    pub(crate) token: String,
    pub(crate) hash: String,
    pub(crate) expires_at: i64,
}

pub(crate) fn new_ticket(now: i64) -> Ticket {
    let raw = random_token();
    Ticket {
        token: URL_SAFE_NO_PAD.encode(raw),
        hash: token_hash(&raw),
        expires_at: now + i64::from(TICKET_TTL_SECONDS),
    }
}

/// Hash of the token as the user presents it (base64url of 32 bytes).
pub(crate) fn presented_ticket_hash(token: &str) -> Option<String> {
    let raw = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    (raw.len() == 32).then(|| token_hash(&raw))
}

impl Services {
    /// Verifies the card proof, then checks the household (F1 step 3) for the holder the card
    /// vouched for.
    async fn check_card_and_household(
        &self,
        caller: &Caller,
        proof: &CardProof,
        household: &HouseholdInfo,
    ) -> ServiceResult<VerifiedCard> {
        let card = self.verify_card(proof, ProofPurpose::Register).await?;
        let actor = card.card_number().as_str();
        let place_known =
            self.sample
                .has_place(&household.county, &household.township, &household.village);
        let query = RegistryQuery {
            national_id: card.national_id().as_str().to_owned(),
            name: card.name().to_owned(),
            birth_date: card.birth_date().to_string(),
            card_number: actor.to_owned(),
            household_number: household.household_number.as_str().to_owned(),
            county: household.county.clone(),
            township: household.township.clone(),
            village: household.village.clone(),
            neighbourhood: household.neighbourhood,
        };
        let matches = place_known
            && self.registry.check(&query).await.inspect_err(|e| {
                tracing::warn!(error = %e, "household registry failed");
            })?;
        if !matches {
            self.audit(caller, Some(actor), "household_check", "mismatch", None)
                .await;
            return Err(ServiceError::HouseholdMismatch);
        }
        Ok(card)
    }

    async fn ensure_not_registered(&self, card: &VerifiedCard) -> ServiceResult<()> {
        let mut conn = self.db.conn().await?;
        let existing = accounts::by_card_or_id(
            &mut conn,
            card.card_number().as_str(),
            card.national_id().as_str(),
        )
        .await?;
        match existing {
            Some(a) if a.status == accounts::PENDING => Err(ServiceError::RegistrationPending),
            Some(_) => Err(ServiceError::AlreadyRegistered),
            None => Ok(()),
        }
    }

    /// F1 step 3 (「下一步」).
    pub async fn household_check(
        &self,
        caller: &Caller,
        req: &HouseholdCheckRequest,
    ) -> ServiceResult<()> {
        let card = self
            .check_card_and_household(caller, &req.proof, &req.household)
            .await?;
        self.ensure_not_registered(&card).await
    }

    /// Policy check (zxcvbn) and Argon2id hash, both on the blocking pool.
    pub(crate) async fn checked_hash(
        &self,
        password: String,
        card: &CardBasicData,
        email: &str,
    ) -> ServiceResult<String> {
        let person = PersonalData {
            national_id: Some(card.national_id.clone()),
            card_number: Some(card.card_number.clone()),
            birth_date: Some(card.birth_date),
            other_inputs: vec![card.name.clone(), email.to_owned()],
        };
        let outcome = self
            .hasher
            .run(move |params| {
                let verdict = PasswordPolicy::default().check(&password, &person);
                if !verdict.is_acceptable() {
                    return Err(ServiceError::PasswordRejected(verdict.problems));
                }
                super::passwords::Hasher::hash_blocking(params, &password)
            })
            .await?;
        outcome
    }

    /// F1 「確認申請」: the account, its ticket, the mail and the audit entry in one transaction.
    pub async fn register(
        &self,
        caller: &Caller,
        req: RegisterRequest,
    ) -> ServiceResult<RegisterResponse> {
        let verified = self
            .check_card_and_household(caller, &req.proof, &req.household)
            .await?;
        self.ensure_not_registered(&verified).await?;
        let hash = self
            .checked_hash(req.password.clone(), verified.data(), req.email.as_str())
            .await?;
        let now = storage::now();
        let ticket = new_ticket(now);
        let (card, h) = (verified.data(), &req.household);
        let birth = card.birth_date.to_string();
        let sex = card.sex.to_string();
        let account = NewAccount {
            card_number: card.card_number.as_str(),
            national_id: card.national_id.as_str(),
            name: &card.name,
            birth_date: &birth,
            sex: &sex,
            household_number: h.household_number.as_str(),
            county: &h.county,
            township: &h.township,
            village: &h.village,
            neighbourhood: i64::from(h.neighbourhood),
            email: req.email.as_str(),
            mobile: req.mobile.as_ref().map(|m| m.as_str()),
            phone: req.phone.as_ref().map(|p| p.as_str()),
            password_hash: &hash,
        };
        let mail = mails::activation(
            &mask_name(&card.name),
            &mails::confirm_link(self.config.origin(), &ticket.token),
            ticket.expires_at,
        );
        let mut tx = self.db.begin().await?;
        let id = match accounts::insert_pending(&mut tx, &account, now).await {
            Ok(id) => id,
            Err(e) if e.is_unique_violation() => return Err(ServiceError::AlreadyRegistered),
            Err(e) => return Err(e.into()),
        };
        tickets::replace(
            &mut tx,
            id,
            &ticket.hash,
            req.email.as_str(),
            now,
            ticket.expires_at,
        )
        .await?;
        mails::enqueue(&mut tx, req.email.as_str(), &mail, now).await?;
        let entry = AuditEntry {
            actor: Some(card.card_number.as_str()),
            action: "registration",
            outcome: "accepted",
            ip: &caller.ip,
            detail: None,
        };
        audit::commit(tx, &entry, now).await?;
        self.metrics.inc(&self.metrics.registrations);
        self.outbox_wakeup.notify_one();
        Ok(RegisterResponse {
            status: AccountStatus::Pending,
            email_masked: mask_email(req.email.as_str()),
            link_expires_at: ticket.expires_at,
        })
    }

    /// F2: the ticket and a proof of the same card activate the account.
    pub async fn confirm_registration(
        &self,
        caller: &Caller,
        req: &ConfirmRequest,
    ) -> ServiceResult<ConfirmResponse> {
        let verified = self.verify_card(&req.proof, ProofPurpose::Confirm).await?;
        let card = verified.card_number().as_str();
        let refuse = |outcome, error| self.refused(caller, card, "confirmation", outcome, error);
        let Some(hash) = presented_ticket_hash(&req.ticket) else {
            return Err(refuse("ticket_invalid", ServiceError::TicketInvalid).await);
        };
        let now = storage::now();
        let mut tx = self.db.begin().await?;
        let Some(ticket) = tickets::find(&mut tx, &hash).await? else {
            drop(tx);
            return Err(refuse("ticket_invalid", ServiceError::TicketInvalid).await);
        };
        if ticket.expires_at < now {
            drop(tx);
            return Err(refuse("ticket_expired", ServiceError::TicketExpired).await);
        }
        let account = accounts::by_id(&mut tx, ticket.account_id)
            .await?
            .ok_or(ServiceError::TicketInvalid)?;
        if account.card_number != card || account.national_id != verified.national_id().as_str() {
            drop(tx);
            return Err(refuse("wrong_card", ServiceError::WrongCard).await);
        }
        if account.email != ticket.email
            || !tickets::consume(&mut tx, &hash).await?
            || !accounts::activate(&mut tx, account.id, now).await?
        {
            return Err(ServiceError::TicketInvalid);
        }
        let mail = mails::completion(&mask_name(&account.name), self.config.origin());
        mails::enqueue(&mut tx, &account.email, &mail, now).await?;
        let entry = AuditEntry {
            actor: Some(card),
            action: "confirmation",
            outcome: "activated",
            ip: &caller.ip,
            detail: None,
        };
        audit::commit(tx, &entry, now).await?;
        self.metrics.inc(&self.metrics.confirmations);
        self.outbox_wakeup.notify_one();
        Ok(ConfirmResponse {
            status: AccountStatus::Active,
        })
    }

    /// F8: replaces the ticket and mails a new link, if (and only if) an application is
    /// pending for the card. The answer is the same in every case.
    pub async fn resend_confirmation(
        &self,
        caller: &Caller,
        req: &ResendRequest,
    ) -> ServiceResult<ResendResponse> {
        let verified = self.verify_card(&req.proof, ProofPurpose::Resend).await?;
        let card = verified.card_number().as_str();
        let outcome = self.resend_inner(&verified, req.email.as_str()).await?;
        self.audit(caller, Some(card), "resend", outcome, None)
            .await;
        Ok(ResendResponse { accepted: true })
    }

    async fn resend_inner(&self, card: &VerifiedCard, email: &str) -> ServiceResult<&'static str> {
        let now = storage::now();
        let mut tx = self.db.begin().await?;
        let Some(account) = accounts::by_card(&mut tx, card.card_number().as_str())
            .await?
            .filter(|a| a.national_id == card.national_id().as_str())
        else {
            return Ok("no_account");
        };
        if account.status != accounts::PENDING {
            return Ok("not_pending");
        }
        if let Some(old) = tickets::for_account(&mut tx, account.id).await? {
            let interval = i64::try_from(self.config.resend_interval_seconds).unwrap_or(i64::MAX);
            if now.saturating_sub(old.created_at) < interval {
                return Ok("too_soon");
            }
        }
        let ticket = new_ticket(now);
        accounts::set_email(&mut tx, account.id, email, now).await?;
        tickets::replace(
            &mut tx,
            account.id,
            &ticket.hash,
            email,
            now,
            ticket.expires_at,
        )
        .await?;
        let mail = mails::activation(
            &mask_name(&account.name),
            &mails::confirm_link(self.config.origin(), &ticket.token),
            ticket.expires_at,
        );
        mails::enqueue(&mut tx, email, &mail, now).await?;
        mails::notify_old_address(&mut tx, &account.name, &account.email, email, now).await?;
        tx.commit().await.map_err(storage::StorageError::from)?;
        self.metrics.inc(&self.metrics.resends);
        self.outbox_wakeup.notify_one();
        Ok("sent")
    }
}
