//! Passwords (argon2id) and tokens (256 random bits, stored only as their SHA-256).
//!
//! Hashing is deliberately slow; callers run it on the blocking pool, never on the writer.

use argon2::Argon2;
use chat_protocol::{ErrorCode, UserRef};
use password_hash::rand_core::{OsRng, RngCore};
use password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};

/// Prefix that makes a token recognisable in logs and config files.
const TOKEN_PREFIX: &str = "chat_";

pub fn hash_password(password: &str) -> Result<String, password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A new random token, as given to the user.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let mut token = String::with_capacity(TOKEN_PREFIX.len() + 64);
    token.push_str(TOKEN_PREFIX);
    for b in bytes {
        token.push_str(&format!("{b:02x}"));
    }
    token
}

/// What is stored for a token. Tokens carry 256 random bits, so a fast hash is enough: nobody
/// can brute-force them, and the database alone never lets anyone log in.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Why a username or password is refused, or Ok.
pub fn check_username(username: &str) -> Result<(), (ErrorCode, String)> {
    let valid_chars = username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    let starts_well = username
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if username.is_empty() || username.len() > 32 || !valid_chars || !starts_well {
        return Err((
            ErrorCode::BadRequest,
            "usernames are 1 to 32 characters: letters, digits, '_', '-' and '.', starting with a letter or digit"
                .to_string(),
        ));
    }
    Ok(())
}

pub fn check_password(password: &str) -> Result<(), (ErrorCode, String)> {
    let chars = password.chars().count();
    if chars < 8 {
        return Err((
            ErrorCode::BadRequest,
            "passwords need at least 8 characters".to_string(),
        ));
    }
    if chars > 1024 {
        return Err((
            ErrorCode::TooLarge,
            "passwords are at most 1024 characters".to_string(),
        ));
    }
    Ok(())
}

/// Who a connection is, once authenticated.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: UserRef,
    /// The token the connection authenticated with (or was issued); revoking it closes the
    /// connection.
    pub token_id: i64,
    /// A token issued by this handshake (password login or registration).
    pub issued_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_with_the_right_password() {
        let hash = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn tokens_are_unique_and_hash_stably() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 64);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
    }

    #[test]
    fn usernames_are_checked() {
        assert!(check_username("alice").is_ok());
        assert!(check_username("bob_2.x-y").is_ok());
        assert!(check_username("").is_err());
        assert!(check_username("_alice").is_err());
        assert!(check_username("a b").is_err());
        assert!(check_username(&"a".repeat(33)).is_err());
    }
}
