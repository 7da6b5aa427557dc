//! Authentication: password hashing, access tokens (JWT), refresh tokens and
//! the extractor that turns a bearer token into a [`crate::policy::Caller`].

pub mod extractor;
pub mod jwt;
pub mod password;
pub mod secrets;
pub mod session_cache;

pub use extractor::{Auth, MaybeAuth};
