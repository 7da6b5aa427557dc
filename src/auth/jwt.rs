//! HS256 access tokens with strict validation: fixed algorithm, issuer,
//! audience, required claims, and time checks against the app clock.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::ApiError;

pub const ISSUER: &str = "griddesk";
pub const AUDIENCE: &str = "griddesk-api";
/// Tolerated clock skew between replicas, in seconds.
const LEEWAY_SECONDS: i64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub role: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    /// The user's token version: bumped by deactivation, logout everywhere
    /// and password changes, which ends every token issued before.
    pub ver: i64,
    /// The session (refresh-token family) this token belongs to.
    pub sid: String,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub access_ttl: Duration,
    /// Tokens whose signature and claims were checked, by their whole text:
    /// a client sends the same token on every request for its lifetime, and
    /// decoding it (two base64 parts, the HMAC, two JSON parses) was 6% of
    /// the CPU of reading one ticket. Only a token this key signed gets in;
    /// the times are checked again on every use.
    verified: Arc<Mutex<HashMap<String, Claims>>>,
}

/// Verified tokens remembered at most; past it the memory starts again empty.
const VERIFIED_CAPACITY: usize = 2048;

impl JwtKeys {
    pub fn new(secret: &[u8], access_ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        // Time is checked below against the app clock, not the library's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl,
            verified: Arc::default(),
        }
    }

    pub fn issue(
        &self,
        user_id: i64,
        role: &str,
        token_version: i64,
        session_id: &str,
        now: DateTime<Utc>,
    ) -> Result<String, ApiError> {
        let claims = Claims {
            sub: user_id.to_string(),
            role: role.to_owned(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: (now + self.access_ttl).timestamp(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            ver: token_version,
            sid: session_id.to_owned(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(ApiError::internal)
    }

    /// Checks signature, algorithm, issuer, audience and times.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, ApiError> {
        let invalid = || ApiError::unauthorized("invalid_token", "The access token is invalid.", "访问令牌无效。");
        let remembered = self.verified.lock().ok().and_then(|v| v.get(token).cloned());
        let claims = match remembered {
            Some(claims) => claims,
            None => {
                let claims = decode::<Claims>(token, &self.decoding, &self.validation)
                    .map_err(|_| invalid())?
                    .claims;
                if let Ok(mut verified) = self.verified.lock() {
                    if verified.len() >= VERIFIED_CAPACITY {
                        verified.clear();
                    }
                    verified.insert(token.to_owned(), claims.clone());
                }
                claims
            }
        };
        let now = now.timestamp();
        if claims.exp <= now - LEEWAY_SECONDS {
            return Err(ApiError::unauthorized(
                "token_expired",
                "The access token has expired; refresh it or sign in again.",
                "访问令牌已过期，请刷新或重新登录。",
            ));
        }
        if claims.nbf > now + LEEWAY_SECONDS || claims.iat > now + LEEWAY_SECONDS {
            return Err(invalid());
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new(b"0123456789abcdef0123456789abcdef", Duration::minutes(15))
    }

    #[test]
    fn tokens_round_trip() {
        let now = Utc::now();
        let token = keys().issue(7, "staff", 3, "sid", now).unwrap();
        let claims = keys().verify(&token, now).unwrap();
        assert_eq!((claims.sub.as_str(), claims.ver, claims.sid.as_str()), ("7", 3, "sid"));
        assert_eq!(claims.exp - claims.iat, 900);
    }

    #[test]
    fn expired_future_and_foreign_tokens_are_refused() {
        let now = Utc::now();
        let token = keys().issue(7, "staff", 0, "sid", now).unwrap();
        assert!(keys().verify(&token, now + Duration::minutes(16)).is_err());
        assert!(keys().verify(&token, now - Duration::minutes(1)).is_err());
        let other = JwtKeys::new(b"another secret of thirty-two bytes", Duration::minutes(15));
        assert!(other.verify(&token, now).is_err());
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = parts[1].chars().rev().collect();
        assert!(keys().verify(&parts.join("."), now).is_err());
        // Once verified (and remembered), a token is still refused outside
        // its times, and a changed one is checked afresh.
        let remembering = keys();
        assert!(remembering.verify(&token, now).is_ok());
        assert!(remembering.verify(&token, now + Duration::minutes(16)).is_err());
        assert!(remembering.verify(&token, now - Duration::minutes(1)).is_err());
        assert!(remembering.verify(&parts.join("."), now).is_err());
        assert!(remembering.verify(&token, now).is_ok());
    }
}
