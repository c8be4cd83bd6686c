//! Staff passwords: argon2id with OWASP parameters.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{AppError, Msg};

fn argon2() -> Argon2<'static> {
    // OWASP: m = 19 MiB, t = 2, p = 1.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of nothing anyone knows, verified against when the username does not exist
/// so that a wrong username and a wrong password take the same time.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash("timing-equaliser-not-a-password").unwrap_or_default());

/// Hashes a password into a PHC string.
pub fn hash(password: &str) -> Result<String, AppError> {
    let mut salt = [0u8; 16];
    rand::Rng::fill(&mut rand::rng(), &mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("salt: {e}")))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("argon2: {e}")))
}

/// Whether `password` matches `phc`; `None` verifies against a dummy hash and fails.
pub fn verify(password: &str, phc: Option<&str>) -> bool {
    let phc = phc.unwrap_or(DUMMY_HASH.as_str());
    let ok = PasswordHash::new(phc)
        .map(|parsed| {
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false);
    ok && phc != DUMMY_HASH.as_str()
}

/// A password a staff member may choose: 8–128 characters, not all of one kind.
pub fn check_strength(password: &str) -> Result<(), AppError> {
    let n = password.chars().count();
    let kinds = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|k| **k)
    .count();
    if !(8..=128).contains(&n) || kinds < 2 {
        return Err(AppError::bad_input(
            "WEAK_PASSWORD",
            Msg::new(
                "密码需 8 到 128 个字符，且至少包含字母、数字、符号中的两类",
                "password must be 8–128 characters and mix at least two of letters, digits and symbols",
            ),
        ).at("password"));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("Correct-Horse-9").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("Correct-Horse-9", Some(&h)));
        assert!(!verify("correct-horse-9", Some(&h)));
        assert!(!verify("Correct-Horse-9", None));
        assert!(!verify("x", Some("not a phc string")));
    }

    #[test]
    fn strength_rules() {
        for bad in [
            "short1",
            "alllowercaseletters",
            "12345678901",
            &"a1".repeat(70),
        ] {
            assert!(check_strength(bad).is_err(), "{bad}");
        }
        for ok in ["grid2026watch", "Qinshui-Admin", "巡查员密码2026ab"] {
            assert!(check_strength(ok).is_ok(), "{ok}");
        }
    }
}
