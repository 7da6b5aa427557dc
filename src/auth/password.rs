//! Argon2id password hashes (OWASP minimum parameters: m=19 MiB, t=2, p=1),
//! and the gate every hash made for a request goes through.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Argon2's working memory (19 MiB with the default parameters). The gate
/// lends one to each hash in turn while hashes keep coming, and lets them
/// all go when none is running or waiting.
///
/// It is reserved larger than glibc ever serves from its heaps (32 MiB, the
/// most its adaptive mmap threshold reaches), so it is always a mapping of
/// its own: only the pages the hash touches are resident, and freeing it
/// gives them back to the system at once. Allocated at its real size, a
/// freed one raised glibc's threshold and the next ones were carved from
/// per-thread heaps that glibc kept: hundreds of MiB after a flood of
/// sign-ins (see `bench/hash-flood.sh`), 19–38 MiB after a single one.
#[derive(Default)]
pub struct Memory(Vec<Block>);

/// Blocks reserved at least (33 MiB of 1 KiB blocks): above glibc's largest
/// mmap threshold, see [`Memory`].
const RESERVED_BLOCKS: usize = 33 * 1024;

impl Memory {
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.0.len() < count {
            if self.0.capacity() < count {
                self.0 = Vec::with_capacity(count.max(RESERVED_BLOCKS));
            }
            self.0.resize(count, Block::new());
        }
        &mut self.0[..count]
    }
}

/// Hashes a password in a PHC string. Slow on purpose: on a request path,
/// call it through [`HashGate`].
pub fn hash(password: &str) -> Result<String, ApiError> {
    hash_with(password, &mut Memory::default())
}

/// [`hash`] in the given working memory.
pub fn hash_with(password: &str, memory: &mut Memory) -> Result<String, ApiError> {
    let params = Params::default();
    let salt = argon2::password_hash::try_generate_salt().map_err(ApiError::internal)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            password.as_bytes(),
            &salt,
            &mut out,
            memory.blocks(params.block_count()),
        )
        .map_err(ApiError::internal)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(ApiError::internal)?,
        salt: Some(Salt::new(&salt).map_err(ApiError::internal)?),
        hash: Some(Output::new(&out).map_err(ApiError::internal)?),
    };
    Ok(phc.to_string())
}

/// Checks a password against a stored hash.
pub fn verify(password: &str, stored: &str) -> bool {
    verify_with(password, stored, &mut Memory::default())
}

/// [`verify`] in the given working memory, with the stored hash's own
/// algorithm, version and parameters.
pub fn verify_with(password: &str, stored: &str, memory: &mut Memory) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str());
    let version = parsed.version.map_or(Ok(Version::default()), Version::try_from);
    let (Ok(algorithm), Ok(version), Ok(params)) = (algorithm, version, Params::try_from(&parsed)) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let count = params.block_count();
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        &mut out,
        memory.blocks(count),
    );
    // `Output`'s equality is constant-time.
    computed.is_ok() && Output::new(&out).is_ok_and(|out| out == *expected)
}

/// Does the work of a real verification for an unknown user, so the answer
/// takes as long as for a wrong password and does not reveal accounts. The
/// dummy hash is made once per process (by the first unknown user).
pub fn verify_dummy(password: &str, memory: &mut Memory) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    if let Some(dummy) = DUMMY.get_or_init(|| hash_with("griddesk-dummy-password", memory).ok()) {
        let _ = verify_with(password, dummy, memory);
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
    /// Working memory lent to the hashes running, at most one per permit.
    memory: Arc<Mutex<Vec<Memory>>>,
    /// Hashes running or waiting for a permit: at none, the memory goes.
    demand: Arc<AtomicUsize>,
    wait: Duration,
}

impl HashGate {
    /// At most `concurrency` (at least one) hashes at once; a request waits
    /// `wait` at most for its turn.
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            memory: Arc::new(Mutex::new(Vec::new())),
            demand: Arc::new(AtomicUsize::new(0)),
            wait,
        }
    }

    /// One permit per core, waiting up to five seconds (the defaults).
    pub fn per_core() -> Self {
        Self::new(cores(), Duration::from_secs(5))
    }

    /// Runs `work` (password hashing and checking, in the working memory it
    /// is lent) on the blocking thread pool once a permit is free. The permit
    /// goes with the work, so it is held until the hashing ends even if the
    /// client goes away meanwhile.
    pub async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut Memory) -> T + Send + 'static,
        T: Send + 'static,
    {
        let demand = Demand::enter(&self.demand);
        let permit = match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(closed)) => return Err(ApiError::internal(closed)),
            Err(_) => {
                return Err(ApiError::Busy {
                    retry_after: self.wait.as_secs().max(1),
                });
            }
        };
        let pool = self.memory.clone();
        actix_web::web::block(move || {
            let mut memory = pool
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()
                .unwrap_or_default();
            let out = work(&mut memory);
            let mut pooled = pool.lock().unwrap_or_else(PoisonError::into_inner);
            if demand.leave() {
                // Nothing running or waiting: give the memory back.
                pooled.clear();
            } else {
                pooled.push(memory);
            }
            drop(pooled);
            drop(permit);
            out
        })
        .await
        .map_err(ApiError::internal)
    }

    /// Working memories kept for the next hashes (tests).
    pub fn pooled(&self) -> usize {
        self.memory.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// [`hash`] through the gate.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.run(move |memory| hash_with(&password, memory)).await?
    }
}

/// One hash wanted (running or waiting) while it lives.
struct Demand {
    count: Arc<AtomicUsize>,
    left: bool,
}

impl Demand {
    fn enter(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self {
            count: count.clone(),
            left: false,
        }
    }

    /// Ends this demand; whether it was the last.
    fn leave(mut self) -> bool {
        self.left = true;
        self.count.fetch_sub(1, Ordering::SeqCst) == 1
    }
}

impl Drop for Demand {
    fn drop(&mut self) {
        if !self.left {
            self.count.fetch_sub(1, Ordering::SeqCst);
        }
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

    #[test]
    fn hashes_are_standard_phc_strings_that_verify_in_reused_memory() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let mut memory = Memory::default();
        let ours = hash_with("correct horse", &mut memory).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"wrong horse", &parsed).is_err());
        let theirs = Argon2::default().hash_password(b"battery staple").unwrap().to_string();
        assert_eq!(ours.split('$').nth(3), theirs.split('$').nth(3), "the same parameters");
        assert!(verify_with("battery staple", &theirs, &mut memory));
        assert!(!verify_with("battery stapler", &theirs, &mut memory));
        assert!(verify_with("correct horse", &ours, &mut memory));
        // Other parameters than ours (a hash made before a change) still verify.
        let cheap = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 3, 1, None).unwrap(),
        )
        .hash_password(b"old password")
        .unwrap()
        .to_string();
        assert!(verify_with("old password", &cheap, &mut memory));
        assert!(!verify_with("old passwort", &cheap, &mut memory));
    }

    #[actix_web::test]
    async fn the_gate_answers_busy_when_no_permit_frees_in_time() {
        let gate = Arc::new(HashGate::new(1, Duration::from_millis(50)));
        let (started, wait_started) = tokio::sync::oneshot::channel();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let holder = {
            let gate = gate.clone();
            actix_web::rt::spawn(async move {
                gate.run(move |_| {
                    let _ = started.send(());
                    let _ = held.recv();
                })
                .await
            })
        };
        wait_started.await.unwrap();
        let busy = gate.run(|_| ()).await;
        assert!(matches!(busy, Err(ApiError::Busy { retry_after: 1 })));
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        assert!(gate.run(|_| 7).await.is_ok_and(|n| n == 7), "the permit came back");
    }

    #[actix_web::test]
    async fn working_memory_is_kept_while_hashes_queue_and_freed_when_none_is_left() {
        let gate = Arc::new(HashGate::new(1, Duration::from_secs(5)));
        let (started, wait_started) = tokio::sync::oneshot::channel();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let first = {
            let gate = gate.clone();
            actix_web::rt::spawn(async move {
                gate.run(move |memory| {
                    memory.blocks(8);
                    let _ = started.send(());
                    let _ = held.recv();
                })
                .await
            })
        };
        wait_started.await.unwrap();
        let (second_ran, second_done) = tokio::sync::oneshot::channel();
        let second = {
            let gate = gate.clone();
            actix_web::rt::spawn(async move {
                gate.run(move |memory| {
                    // The first hash's memory, lent on: no new mapping.
                    let _ = second_ran.send(memory.0.capacity());
                })
                .await
            })
        };
        // The second waits for the permit: the first's memory stays pooled.
        tokio::time::sleep(Duration::from_millis(50)).await;
        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        assert_eq!(
            second_done.await.unwrap(),
            RESERVED_BLOCKS,
            "reused while hashes queued"
        );
        second.await.unwrap().unwrap();
        assert_eq!(gate.pooled(), 0, "nothing running or waiting: the memory is given back");
    }
}
