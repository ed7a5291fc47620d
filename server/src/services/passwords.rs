//! Argon2id hashing off the async threads, bounded by a semaphore so that memory
//! (m × concurrency) and CPU stay predictable under load.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use super::ServiceError;

#[derive(Clone)]
pub struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
}

impl Hasher {
    pub fn new(
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
        concurrency: usize,
    ) -> Result<Self, ServiceError> {
        let params = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|e| ServiceError::Internal(format!("argon2 parameters: {e}")))?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        })
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// Hashes synchronously (benchmarks; never call this on an async thread).
    pub fn hash_blocking(params: &Params, password: &str) -> Result<String, ServiceError> {
        let salt = SaltString::generate(&mut OsRng);
        Self::argon2(params.clone())
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ServiceError::Internal(format!("argon2: {e}")))
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Runs `f` on the blocking pool while holding a hashing permit.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Params) -> T + Send + 'static,
    ) -> Result<T, ServiceError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let params = self.params.clone();
        tokio::task::spawn_blocking(move || f(&params))
            .await
            .map_err(|e| ServiceError::Internal(format!("hash task: {e}")))
    }

    pub async fn hash(&self, password: String) -> Result<String, ServiceError> {
        self.run(move |p| Self::hash_blocking(p, &password)).await?
    }

    /// Constant-work verification; an unparsable stored hash counts as a mismatch.
    pub async fn verify(&self, password: String, stored: String) -> Result<bool, ServiceError> {
        self.run(move |p| {
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return false;
            };
            Self::argon2(p.clone())
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .await
    }

    /// Spends the same work as a verification (for callers without an account).
    pub async fn dummy_verify(&self, password: String) -> Result<(), ServiceError> {
        self.run(move |p| {
            let _ = Self::hash_blocking(p, &password);
        })
        .await
    }
}
