//! argon2id password hashing, off the async runtime and bounded in concurrency: each hash
//! takes the configured memory (19 MiB by default), so a burst of sign-ins must queue rather
//! than exhaust memory.

use std::sync::Arc;

use anyhow::Context;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::config::Argon2Config;

#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    permits: Arc<Semaphore>,
    /// A real hash of a random password, verified against when the account does not exist,
    /// so an unknown email costs the same time as a wrong password.
    dummy_hash: Arc<String>,
}

impl PasswordHasher {
    pub fn new(config: Argon2Config) -> anyhow::Result<Self> {
        anyhow::ensure!(
            config.meets_minimum(),
            "argon2 parameters below OWASP's minimum (m=19456 KiB, t=2, p=1)"
        );
        let params = Params::new(
            config.memory_kib,
            config.iterations,
            config.parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
        let dummy = crate::auth::tokens::generate("");
        let dummy_hash = hash_with(&argon2, &dummy)?;
        Ok(PasswordHasher {
            argon2,
            permits: Arc::new(Semaphore::new(workers)),
            dummy_hash: Arc::new(dummy_hash),
        })
    }

    pub async fn hash(&self, password: String) -> anyhow::Result<String> {
        let _permit = self.permits.acquire().await?;
        let argon2 = self.argon2.clone();
        tokio::task::spawn_blocking(move || hash_with(&argon2, &password)).await?
    }

    /// Checks `password` against `stored`; with no stored hash, checks against the dummy
    /// hash and returns false, taking the same time.
    pub async fn verify(&self, password: String, stored: Option<String>) -> anyhow::Result<bool> {
        let _permit = self.permits.acquire().await?;
        let argon2 = self.argon2.clone();
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy_hash.as_str().to_owned());
        let ok = tokio::task::spawn_blocking(move || -> anyhow::Result<bool> {
            let parsed =
                PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
            Ok(argon2.verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await??;
        Ok(known && ok)
    }
}

fn hash_with(argon2: &Argon2<'_>, password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let hash = argon2
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("hashing password")?;
    Ok(hash.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let hasher = PasswordHasher::new(Argon2Config::default()).unwrap();
        let hash = hasher.hash("correct horse".into()).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(hasher
            .verify("correct horse".into(), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!hasher.verify("wrong".into(), Some(hash)).await.unwrap());
        assert!(!hasher.verify("correct horse".into(), None).await.unwrap());
    }

    #[test]
    fn weak_parameters_are_refused() {
        let weak = Argon2Config {
            memory_kib: 4096,
            iterations: 1,
            parallelism: 1,
        };
        assert!(PasswordHasher::new(weak).is_err());
    }
}
