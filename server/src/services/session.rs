//! F3 login (card proof + password), logout and the current user, with per-card lockout.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use nhi_protocol::api::{AccountStatus, LoginRequest, ProofPurpose, UserInfo};
use nhi_protocol::mask::{mask_card_number, mask_name, mask_national_id};

use super::{mask_email, random_token, token_hash, Caller, ServiceError, ServiceResult, Services};
use crate::storage::accounts::{self, AccountRow};
use crate::storage::{self, rate_counters, sessions, unit_sessions};

/// A new session: the cookie value and its lifetime.
pub struct NewSession {
    pub token: String,
    pub max_age_seconds: u64,
    pub user: UserInfo,
}

pub fn user_info(a: &AccountRow) -> UserInfo {
    UserInfo {
        card_number_masked: mask_card_number(&a.card_number),
        name_masked: mask_name(&a.name),
        national_id_masked: mask_national_id(&a.national_id),
        email_masked: mask_email(&a.email),
        status: if a.status == accounts::ACTIVE {
            AccountStatus::Active
        } else {
            AccountStatus::Pending
        },
        registered_at: a.created_at,
    }
}

/// Hash of a cookie token (what both session tables store); None for garbage.
pub(crate) fn session_hash(token: &str) -> Option<String> {
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    (raw.len() == 32).then(|| token_hash(&raw))
}

impl Services {
    /// Lock duration after `failures` consecutive wrong passwords: doubles per failure
    /// beyond the threshold, capped.
    pub fn lockout_seconds(&self, failures: i64) -> Option<u64> {
        let threshold = i64::from(self.config.lockout_threshold);
        if failures < threshold {
            return None;
        }
        let exp = u32::try_from(failures - threshold)
            .unwrap_or(u32::MAX)
            .min(30);
        Some(
            self.config
                .lockout_base_seconds
                .saturating_mul(1u64 << exp)
                .min(self.config.lockout_max_seconds),
        )
    }

    /// F3: card proof, then the per-card limit, then the password — with the attempt counted
    /// before the hash is computed ([`accounts::reserve_login_attempt`]).
    pub async fn login(&self, caller: &Caller, req: LoginRequest) -> ServiceResult<NewSession> {
        let card = self.verify_card(&req.proof, ProofPurpose::Login).await?;
        let card_number = card.card_number().as_str().to_owned();
        self.limit_card_logins(caller, &card_number).await?;
        let account = {
            let mut conn = self.db.conn().await?;
            // The account is the person's: a replacement card (same ID number) finds it too.
            accounts::by_card_or_id(&mut conn, &card_number, card.national_id().as_str()).await?
        };
        let Some(account) = account.filter(|a| a.national_id == card.national_id().as_str()) else {
            self.hasher.dummy_verify(req.password).await?;
            self.audit(caller, Some(&card_number), "login", "no_account", None)
                .await;
            self.metrics.inc(&self.metrics.logins_failed);
            return Err(ServiceError::LoginFailed);
        };
        if account.status != accounts::ACTIVE {
            self.audit(caller, Some(&card_number), "login", "not_active", None)
                .await;
            return Err(ServiceError::AccountNotActive);
        }
        let now = storage::now();
        let attempt = {
            let mut conn = self.db.conn().await?;
            accounts::reserve_login_attempt(&mut conn, account.id, now, |n| self.lockout_seconds(n))
                .await?
        };
        let (n, locks, previous_failure_at) = match attempt {
            accounts::Attempt::Locked { until } => {
                self.audit(caller, Some(&card_number), "login", "locked", None)
                    .await;
                return Err(ServiceError::AccountLocked {
                    retry_after: (until - now).unsigned_abs(),
                });
            }
            accounts::Attempt::Reserved {
                n,
                locked_until,
                previous_failure_at,
            } => (n, locked_until, previous_failure_at),
        };
        if !self
            .hasher
            .verify(req.password, account.password_hash.clone())
            .await?
        {
            return Err(self.wrong_password(caller, &account, n, locks, now).await);
        }
        // A success forgives earlier failures only when the newest of them is at least
        // `lockout_base_seconds` old: guesses running alongside the owner's login keep their
        // count, so a burst gets at most `lockout_threshold` passwords evaluated in all.
        let quiet = i64::try_from(self.config.lockout_base_seconds).unwrap_or(i64::MAX);
        let forgive = previous_failure_at.is_none_or(|t| now.saturating_sub(t) >= quiet);
        {
            let mut conn = self.db.conn().await?;
            accounts::login_succeeded(&mut conn, account.id, n, forgive).await?;
        }
        let account = if account.card_number != card_number {
            // Issue 16: the person's replacement card; the account follows it and what the
            // old card opened or enrolled ends.
            self.adopt_new_card(caller, &account, &card_number, None)
                .await?;
            let mut conn = self.db.conn().await?;
            accounts::by_id(&mut conn, account.id)
                .await?
                .ok_or(ServiceError::LoginFailed)?
        } else {
            account
        };
        self.open_session(caller, &account, &card_number, "card")
            .await
    }

    /// The per-card login limit (`login_per_card_per_hour`), in the database so every instance
    /// shares it. Counted only for verified proofs: a card number in an unverified request is
    /// a claim, and must not let anyone use up a victim's budget.
    async fn limit_card_logins(&self, caller: &Caller, card_number: &str) -> ServiceResult<()> {
        const WINDOW: i64 = 3600;
        let now = storage::now();
        let window = now - now.rem_euclid(WINDOW);
        let hits = {
            let mut conn = self.db.conn().await?;
            rate_counters::hit(&mut conn, &format!("login-card:{card_number}"), window).await?
        };
        if hits > i64::from(self.config.login_per_card_per_hour) {
            self.audit(
                caller,
                Some(card_number),
                "login",
                "card_rate_limited",
                None,
            )
            .await;
            return Err(ServiceError::RateLimited {
                retry_after: (window + WINDOW - now).unsigned_abs(),
            });
        }
        Ok(())
    }

    /// A wrong password: the attempt stays counted (it was reserved before the hash).
    async fn wrong_password(
        &self,
        caller: &Caller,
        account: &AccountRow,
        failures: i64,
        locked_until: Option<i64>,
        reserved_at: i64,
    ) -> ServiceError {
        self.metrics.inc(&self.metrics.logins_failed);
        self.audit(
            caller,
            Some(&account.card_number),
            "login",
            "wrong_password",
            None,
        )
        .await;
        match locked_until {
            Some(until) => {
                // The lock's length as set when the attempt was reserved (a slow hash must
                // not make it look shorter).
                let secs = (until - reserved_at).max(1).unsigned_abs();
                self.metrics.inc(&self.metrics.lockouts);
                let detail = format!("failures={failures} seconds={secs}");
                self.audit(
                    caller,
                    Some(&account.card_number),
                    "lockout",
                    "locked",
                    Some(&detail),
                )
                .await;
                ServiceError::AccountLocked { retry_after: secs }
            }
            None => ServiceError::LoginFailed,
        }
    }

    /// Opens a session of `account`, remembering the card behind it (`card_number`: the card
    /// of an F3 login, or the card that enrolled the passkey of a passkey login), so that a
    /// card reported lost or replaced ends it ([`Services::revoke_card`]).
    pub(crate) async fn open_session(
        &self,
        caller: &Caller,
        account: &AccountRow,
        card_number: &str,
        how: &str,
    ) -> ServiceResult<NewSession> {
        let raw = random_token();
        let now = storage::now();
        let ttl = self.config.session_ttl_minutes.saturating_mul(60);
        {
            let mut conn = self.db.conn().await?;
            let expires = now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX));
            sessions::insert(
                &mut conn,
                &token_hash(&raw),
                account.id,
                now,
                expires,
                &caller.ip,
                card_number,
            )
            .await?;
        }
        self.metrics.inc(&self.metrics.logins);
        self.audit(
            caller,
            Some(&account.card_number),
            "login",
            "success",
            Some(how),
        )
        .await;
        Ok(NewSession {
            token: URL_SAFE_NO_PAD.encode(raw),
            max_age_seconds: ttl,
            user: user_info(account),
        })
    }

    pub async fn current_user(&self, token: Option<&str>) -> ServiceResult<UserInfo> {
        let hash = token
            .and_then(session_hash)
            .ok_or(ServiceError::Unauthenticated)?;
        let mut conn = self.db.conn().await?;
        let id = sessions::account_of(&mut conn, &hash, storage::now())
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        let account = accounts::by_id(&mut conn, id)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        Ok(user_info(&account))
    }

    pub async fn logout(&self, caller: &Caller, token: Option<&str>) -> ServiceResult<()> {
        if let Some(hash) = token.and_then(session_hash) {
            let mut conn = self.db.conn().await?;
            sessions::delete(&mut conn, &hash).await?;
            unit_sessions::delete(&mut conn, &hash).await?;
            drop(conn);
            self.audit(caller, None, "logout", "ok", None).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 17: /home masked the card number `********5678`, the card page `0000****5678`.
    #[test]
    fn home_masks_as_the_card_page_does() -> Result<(), Box<dyn std::error::Error>> {
        let card: nhi_protocol::CardNumber = "000012345678".parse()?;
        let id: nhi_protocol::NationalId = "A123456789".parse()?;
        let row = AccountRow {
            id: 1,
            card_number: card.as_str().to_owned(),
            national_id: id.as_str().to_owned(),
            name: "王小明".into(),
            birth_date: "0790101".into(),
            email: "wang@example.com".into(),
            password_hash: String::new(),
            status: accounts::ACTIVE.into(),
            created_at: 0,
        };
        let me = user_info(&row);
        assert_eq!(me.card_number_masked, card.masked());
        assert_eq!(me.national_id_masked, id.masked());
        assert_eq!(me.card_number_masked, "0000****5678");
        Ok(())
    }
}
