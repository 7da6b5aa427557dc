//! Argon2id password hashes (OWASP minimum parameters: m=19 MiB, t=2, p=1),
//! and the gate every hash made for a request goes through.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Hashes a password. Slow on purpose: on a request path, call it through
/// [`HashGate`].
pub fn hash(password: &str) -> Result<String, ApiError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(ApiError::internal)
}

/// Checks a password against a stored hash.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Does the work of a real verification for an unknown user, so the answer
/// takes as long as for a wrong password and does not reveal accounts. The
/// dummy hash is made once per process (by the first unknown user).
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    if let Some(dummy) = DUMMY.get_or_init(|| hash("griddesk-dummy-password").ok()) {
        let _ = verify(password, dummy);
    }
}

/// The CPU cores this process may use (the default hash concurrency).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Bounds the argon2 computations running at once: each takes 19 MiB and a
/// core for tens of milliseconds, and unauthenticated requests (sign-in,
/// registration) start them. A request waits for a permit in arrival order
/// for at most `wait`, then gets 503 `server_busy` with `Retry-After`, so a
/// flood queues instead of taking the server's memory.
#[derive(Clone)]
pub struct HashGate {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl HashGate {
    /// At most `concurrency` (at least one) hashes at once; a request waits
    /// `wait` at most for its turn.
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            wait,
        }
    }

    /// One permit per core, waiting up to five seconds (the defaults).
    pub fn per_core() -> Self {
        Self::new(cores(), Duration::from_secs(5))
    }

    /// Runs `work` (password hashing and checking) on the blocking thread
    /// pool once a permit is free. The permit goes with the work, so it is
    /// held until the hashing ends even if the client goes away meanwhile.
    pub async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(closed)) => return Err(ApiError::internal(closed)),
            Err(_) => {
                return Err(ApiError::Busy {
                    retry_after: self.wait.as_secs().max(1),
                });
            }
        };
        actix_web::web::block(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(ApiError::internal)
    }

    /// [`hash`] through the gate.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.run(move || hash(&password)).await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_password() {
        let stored = hash("correct horse").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse", &stored));
        assert!(!verify("wrong horse", &stored));
        assert!(!verify("correct horse", "not a hash"));
    }

    #[actix_web::test]
    async fn the_gate_answers_busy_when_no_permit_frees_in_time() {
        let gate = Arc::new(HashGate::new(1, Duration::from_millis(50)));
        let (started, wait_started) = tokio::sync::oneshot::channel();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let holder = {
            let gate = gate.clone();
            actix_web::rt::spawn(async move {
                gate.run(move || {
                    let _ = started.send(());
                    let _ = held.recv();
                })
                .await
            })
        };
        wait_started.await.unwrap();
        let busy = gate.run(|| ()).await;
        assert!(matches!(busy, Err(ApiError::Busy { retry_after: 1 })));
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        assert!(gate.run(|| 7).await.is_ok_and(|n| n == 7), "the permit came back");
    }
}
