//! F3 login (card proof + password), logout and the current user, with per-card lockout.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use nhi_protocol::api::{AccountStatus, LoginRequest, UserInfo};
use nhi_protocol::mask::{mask_middle, mask_name};

use super::{mask_email, random_token, token_hash, Caller, ServiceError, ServiceResult, Services};
use crate::storage::accounts::{self, AccountRow};
use crate::storage::{self, sessions};

/// A new session: the cookie value and its lifetime.
pub struct NewSession {
    pub token: String,
    pub max_age_seconds: u64,
    pub user: UserInfo,
}

pub fn user_info(a: &AccountRow) -> UserInfo {
    UserInfo {
        card_number_masked: mask_middle(&a.card_number, 0, 4),
        name_masked: mask_name(&a.name),
        national_id_masked: mask_middle(&a.national_id, 3, 3),
        email_masked: mask_email(&a.email),
        status: if a.status == accounts::ACTIVE {
            AccountStatus::Active
        } else {
            AccountStatus::Pending
        },
        registered_at: a.created_at,
    }
}

/// Hash of a cookie token; None for garbage.
fn session_hash(token: &str) -> Option<String> {
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

    pub async fn login(&self, caller: &Caller, req: LoginRequest) -> ServiceResult<NewSession> {
        self.verify_proof(&req.proof).await?;
        let card = req.proof.card_number.as_str().to_owned();
        let account = {
            let mut conn = self.db.conn().await?;
            accounts::by_card(&mut conn, &card).await?
        };
        let Some(account) = account else {
            self.hasher.dummy_verify(req.password).await?;
            self.audit(caller, Some(&card), "login", "no_account", None)
                .await;
            self.metrics.inc(&self.metrics.logins_failed);
            return Err(ServiceError::LoginFailed);
        };
        let now = storage::now();
        if let Some(until) = account.locked_until.filter(|u| *u > now) {
            self.audit(caller, Some(&card), "login", "locked", None)
                .await;
            return Err(ServiceError::AccountLocked {
                retry_after: (until - now).unsigned_abs(),
            });
        }
        if account.status != accounts::ACTIVE {
            self.audit(caller, Some(&card), "login", "not_active", None)
                .await;
            return Err(ServiceError::AccountNotActive);
        }
        if !self
            .hasher
            .verify(req.password, account.password_hash.clone())
            .await?
        {
            return Err(self.wrong_password(caller, &account).await?);
        }
        self.open_session(caller, &account).await
    }

    async fn wrong_password(
        &self,
        caller: &Caller,
        account: &AccountRow,
    ) -> ServiceResult<ServiceError> {
        let now = storage::now();
        let failures = {
            let mut conn = self.db.conn().await?;
            let n = accounts::record_failure(&mut conn, account.id, now).await?;
            if let Some(secs) = self.lockout_seconds(n) {
                let until = now.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX));
                accounts::lock_until(&mut conn, account.id, until).await?;
            }
            n
        };
        self.metrics.inc(&self.metrics.logins_failed);
        self.audit(
            caller,
            Some(&account.card_number),
            "login",
            "wrong_password",
            None,
        )
        .await;
        match self.lockout_seconds(failures) {
            Some(secs) => {
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
                Ok(ServiceError::AccountLocked { retry_after: secs })
            }
            None => Ok(ServiceError::LoginFailed),
        }
    }

    async fn open_session(
        &self,
        caller: &Caller,
        account: &AccountRow,
    ) -> ServiceResult<NewSession> {
        let raw = random_token();
        let now = storage::now();
        let ttl = self.config.session_ttl_minutes.saturating_mul(60);
        {
            let mut conn = self.db.conn().await?;
            accounts::reset_failures(&mut conn, account.id).await?;
            let expires = now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX));
            sessions::insert(
                &mut conn,
                &token_hash(&raw),
                account.id,
                now,
                expires,
                &caller.ip,
            )
            .await?;
        }
        self.metrics.inc(&self.metrics.logins);
        self.audit(caller, Some(&account.card_number), "login", "success", None)
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
            drop(conn);
            self.audit(caller, None, "logout", "ok", None).await;
        }
        Ok(())
    }
}
