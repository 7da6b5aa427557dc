//! Random secrets: session secrets, refresh tokens and the generated JWT
//! key, and the hashes the database keeps of the first two.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// How long a spent refresh token still buys its successor (the same token
/// again) instead of ending the session: two refreshes sent at once by an
/// app whose access token expired, or a retry after an answer lost on a bad
/// network. Outside the window a spent token is a replay and ends the
/// session, as does presenting it after its successor's own refresh.
pub const REFRESH_GRACE: Duration = Duration::seconds(30);

/// Random bytes after the dot of a refresh token.
const REFRESH_TAIL_BYTES: usize = 32;

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
    format!("{session_secret}.{}", random_token(REFRESH_TAIL_BYTES))
}

/// The successor of a spent refresh token, sealed for the grace window: its
/// random tail XOR-ed with a pad only the spent token yields. The database
/// keeps this and the SHA-256 of the spent token, never the spent token, so
/// what it holds opens to nothing; the client who presents the spent token
/// again opens it ([`open_successor`]). Each pad seals exactly one value.
/// `None` if `successor` is not a refresh token made by [`refresh_token`].
pub fn seal_successor(spent: &str, successor: &str) -> Option<String> {
    let (_, tail) = successor.split_once('.')?;
    let tail = URL_SAFE_NO_PAD.decode(tail).ok()?;
    Some(hex::encode(xor_pad(spent, &tail)?))
}

/// The successor sealed by [`seal_successor`], given the spent token.
pub fn open_successor(spent: &str, sealed: &str) -> Option<String> {
    let secret = session_secret_of(spent)?;
    let tail = xor_pad(spent, &hex::decode(sealed).ok()?)?;
    Some(format!("{secret}.{}", URL_SAFE_NO_PAD.encode(tail)))
}

/// `bytes` XOR HMAC-SHA256(key: the spent token, a fixed label). The label
/// keeps the pad apart from [`token_hash`], which the database does hold.
fn xor_pad(spent: &str, bytes: &[u8]) -> Option<Vec<u8>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(spent.as_bytes()).ok()?;
    mac.update(b"griddesk refresh successor pad v1");
    let pad = mac.finalize().into_bytes();
    if bytes.len() != REFRESH_TAIL_BYTES || pad.len() != REFRESH_TAIL_BYTES {
        return None;
    }
    Some(bytes.iter().zip(pad.iter()).map(|(b, p)| b ^ p).collect())
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

    #[test]
    fn a_sealed_successor_opens_only_with_the_spent_token() {
        let secret = new_session_secret();
        let spent = refresh_token(&secret);
        let successor = refresh_token(&secret);
        let sealed = seal_successor(&spent, &successor).unwrap();
        assert_eq!(open_successor(&spent, &sealed).as_deref(), Some(successor.as_str()));
        // Nothing the database holds opens it, and it shows nothing of the tail.
        let tail = successor.split_once('.').unwrap().1;
        assert!(!sealed.contains(tail) && !successor.contains(&sealed));
        for wrong in [token_hash(&spent), refresh_token(&secret), successor.clone()] {
            assert_ne!(open_successor(&wrong, &sealed).as_deref(), Some(successor.as_str()));
        }
        assert_eq!(seal_successor(&spent, "no-dot"), None);
        assert_eq!(open_successor(&spent, "zz"), None);
        assert_eq!(open_successor(&spent, "abcd"), None);
    }
}
