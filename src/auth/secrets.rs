//! Random secrets: session secrets, refresh tokens and the generated JWT
//! key, and the hashes the database keeps of the first two.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// `bytes` random bytes from the OS generator, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Session secrets and refresh tokens are stored only as their SHA-256: a
/// copy of the database holds nothing a client could present. (They are
/// long random values, so no salt is needed.)
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A session's secret: 128 random bits. Access tokens carry it as `sid` and
/// every refresh token of the session starts with it; the database keeps
/// only [`session_id`] of it, so even with the JWT key a copy of the
/// database cannot be turned into a live session.
pub fn new_session_secret() -> String {
    random_token(16)
}

/// The id a session is stored under: the hash of its secret.
pub fn session_id(session_secret: &str) -> String {
    token_hash(session_secret)
}

/// A new refresh token of a session: `<session secret>.<256 random bits>`.
/// Refreshing needs the session's secret again to put it in the new access
/// token, and the server must not keep it, so the client brings it back.
pub fn refresh_token(session_secret: &str) -> String {
    format!("{session_secret}.{}", random_token(32))
}

/// The session secret at the head of a refresh token, if it has one.
pub fn session_secret_of(refresh_token: &str) -> Option<&str> {
    refresh_token
        .split_once('.')
        .map(|(secret, _)| secret)
        .filter(|secret| !secret.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let a = random_token(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token(32));
        assert_eq!(token_hash("abc"), token_hash("abc"));
        assert_eq!(token_hash("abc").len(), 64);
    }

    #[test]
    fn refresh_tokens_carry_their_session_secret_and_only_its_hash_is_stored() {
        let secret = new_session_secret();
        let token = refresh_token(&secret);
        assert_eq!(session_secret_of(&token), Some(secret.as_str()));
        assert_ne!(refresh_token(&secret), token);
        assert_ne!(session_id(&secret), secret);
        assert_eq!(session_id(&secret), token_hash(&secret));
        assert_eq!(session_secret_of("no-dot"), None);
        assert_eq!(session_secret_of(".x"), None);
    }
}
