//! Access tokens (JWT, HS256 pinned, short-lived) and refresh tokens (opaque, stored
//! hashed, rotated on every use; presenting a used one revokes its whole family).

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::AuthConfig;
use crate::error::AppError;

/// A publicly known key used only when development runs without a configured secret.
/// Production refuses to start without `GRIDWATCH__AUTH__JWT_SECRET`.
const DEVELOPMENT_JWT_KEY: &str = "gridwatch-development-only-jwt-key-not-secret";

/// Who a token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A staff user (`app_user.id`).
    User(i64),
    /// A member of the public (`tipster.id`).
    Tipster(i64),
}

impl Subject {
    fn encode(self) -> String {
        match self {
            Self::User(id) => format!("user:{id}"),
            Self::Tipster(id) => format!("tipster:{id}"),
        }
    }

    fn decode(s: &str) -> Option<Self> {
        let (kind, id) = s.split_once(':')?;
        let id: i64 = id.parse().ok()?;
        match kind {
            "user" => Some(Self::User(id)),
            "tipster" => Some(Self::Tipster(id)),
            _ => None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    exp: i64,
    nbf: i64,
    iat: i64,
    /// Token kind: always `access`; anything else is refused.
    typ: String,
}

/// Issues and checks access tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    /// Keys from config (the development key when none is set outside production).
    pub fn from_config(cfg: &AuthConfig) -> anyhow::Result<Self> {
        let dev = SecretString::from(DEVELOPMENT_JWT_KEY);
        let secret = cfg.jwt_secret.as_ref().unwrap_or(&dev);
        let bytes = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&cfg.issuer]);
        validation.set_audience(&[&cfg.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        // Expiry and not-before are checked in `verify` against the server's clock (the
        // one every rule reads), not the library's own reading of the system time.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = true;
        validation.leeway = 30;
        Ok(Self {
            encoding: EncodingKey::from_secret(bytes)?,
            decoding: DecodingKey::from_secret(bytes)?,
            validation,
            issuer: cfg.issuer.clone(),
            audience: cfg.audience.clone(),
            ttl: Duration::seconds(i64::try_from(cfg.access_ttl_secs.min(900)).unwrap_or(900)),
        })
    }

    /// A signed access token for `subject` and its expiry.
    pub fn issue(
        &self,
        subject: Subject,
        now: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), AppError> {
        let exp = now + self.ttl;
        let claims = Claims {
            sub: subject.encode(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: exp.timestamp(),
            nbf: now.timestamp(),
            iat: now.timestamp(),
            typ: "access".into(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("jwt encode: {e}")))?;
        Ok((token, exp))
    }

    /// Checks signature, algorithm, issuer, audience, and expiry and not-before at
    /// `now` (with the validation's leeway).
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Subject, AppError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| AppError::Unauthenticated)?;
        let leeway = i64::try_from(self.validation.leeway).unwrap_or(0);
        let t = now.timestamp();
        if data.claims.exp + leeway < t || data.claims.nbf - leeway > t {
            return Err(AppError::Unauthenticated);
        }
        if data.claims.typ != "access" {
            return Err(AppError::Unauthenticated);
        }
        Subject::decode(&data.claims.sub).ok_or(AppError::Unauthenticated)
    }
}

/// A new opaque refresh token (256 random bits, URL-safe) and the hash stored for it.
pub fn new_refresh_token() -> (String, String) {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut bytes);
    let token = format!(
        "rt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = hash_refresh_token(&token);
    (token, hash)
}

/// The stored form of a refresh token.
pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::from_config(&AuthConfig::default()).unwrap()
    }

    #[test]
    fn round_trip() {
        let k = keys();
        let now = Utc::now();
        let (t, exp) = k.issue(Subject::User(7), now).unwrap();
        assert!(exp > now);
        assert_eq!(k.verify(&t, now).unwrap(), Subject::User(7));
        let (t, _) = k.issue(Subject::Tipster(3), now).unwrap();
        assert_eq!(k.verify(&t, now).unwrap(), Subject::Tipster(3));
        // Expiry and not-before follow the clock it is checked against.
        let later = now + Duration::minutes(16);
        assert_eq!(k.verify(&t, later).unwrap_err().code(), "UNAUTHENTICATED");
        let earlier = now - Duration::minutes(5);
        assert_eq!(k.verify(&t, earlier).unwrap_err().code(), "UNAUTHENTICATED");
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let (a, ha) = new_refresh_token();
        let (b, hb) = new_refresh_token();
        assert_ne!(a, b);
        assert_ne!(ha, hb);
        assert_eq!(hash_refresh_token(&a), ha);
        assert!(k_rejects(&a));
    }

    fn k_rejects(t: &str) -> bool {
        keys().verify(t, Utc::now()).is_err()
    }
}
