//! Passwords (argon2id) and tokens (256 random bits, stored only as their SHA-256).
//!
//! Hashing is deliberately slow; the server runs it on the [`crate::hasher`] pool, never on
//! the writer or the async workers.

use argon2::{Algorithm, Argon2, Block, Params, Version};
use chat_protocol::{ErrorCode, UserRef};
use password_hash::rand_core::{OsRng, RngCore};
use password_hash::{Output, ParamsString, PasswordHash, SaltString};
use sha2::{Digest, Sha256};

/// Prefix that makes a token recognisable in logs and config files.
const TOKEN_PREFIX: &str = "chat_";

pub fn hash_password(password: &str) -> Result<String, password_hash::Error> {
    hash_password_with(password, &mut Vec::new())
}

pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    verify_password_with(password, stored_hash, &mut Vec::new())
}

/// Hash with argon2id at its default parameters, in `memory` (grown to the size the
/// parameters need and kept, so a caller that keeps it allocates it once).
pub fn hash_password_with(
    password: &str,
    memory: &mut Vec<Block>,
) -> Result<String, password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    let argon = Argon2::default();
    let output = compute(
        &argon,
        password,
        &salt.as_salt(),
        Params::DEFAULT_OUTPUT_LEN,
        memory,
    )?;
    Ok(PasswordHash {
        algorithm: Algorithm::default().ident(),
        version: Some(Version::default().into()),
        params: ParamsString::try_from(&Params::default())?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    }
    .to_string())
}

/// Check `password` against a PHC string, with the algorithm, version and parameters it
/// names, in `memory`. The comparison takes constant time.
pub fn verify_password_with(password: &str, stored_hash: &str, memory: &mut Vec<Block>) -> bool {
    let mut verify = || -> Result<bool, password_hash::Error> {
        let parsed = PasswordHash::new(stored_hash)?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Ok(false);
        };
        let algorithm = Algorithm::try_from(parsed.algorithm)?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v)?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed)?;
        let argon = Argon2::new(algorithm, version, params);
        let output = compute(&argon, password, &salt, expected.len(), memory)?;
        Ok(output == expected)
    };
    verify().unwrap_or(false)
}

fn compute(
    argon: &Argon2<'_>,
    password: &str,
    salt: &password_hash::Salt<'_>,
    output_len: usize,
    memory: &mut Vec<Block>,
) -> Result<Output, password_hash::Error> {
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
    let blocks = argon.params().block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    Output::init_with(output_len, |out| {
        argon
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt_bytes,
                out,
                &mut memory[..blocks],
            )
            .map_err(password_hash::Error::from)
    })
}

/// A hash of a password nobody knows, to verify against when there is no real one (an
/// unknown username, a bot account): the answer then takes as long as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        // Cannot fail at the default parameters with a generated salt; an empty string would
        // still verify nothing, only faster.
        hash_password(&new_token()).unwrap_or_default()
    })
}

/// A new random token, as given to the user.
pub fn new_token() -> String {
    format!("{TOKEN_PREFIX}{}", random_hex(32))
}

/// `bytes` random bytes from the OS, in hex: tokens, and names nobody may guess or repeat.
pub fn random_hex(bytes: usize) -> String {
    let mut random = vec![0u8; bytes];
    OsRng.fill_bytes(&mut random);
    crate::files::hex(&random)
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
            ErrorCode::BadRequest,
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
        assert!(!verify_password("", dummy_hash()));
    }

    #[test]
    fn hashes_are_standard_phc_strings_both_ways() {
        use password_hash::{PasswordHasher, PasswordVerifier};
        let ours = hash_password("correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default()
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(
            verify_password("correct horse", &theirs),
            "hashes stored before still verify"
        );
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
