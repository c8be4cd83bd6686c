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
    /// Tokens whose signature and claims were checked, by their exact text, with what
    /// the per-request check still needs (subject, expiry, not-before). Every request
    /// carries its token: decoding and HMAC-checking it again was ~2.5 % of the
    /// server's CPU for an inspector's `myTasks` (perf, issue 14). The time checks run
    /// on every request; only tokens that passed everything else are kept.
    checked: std::sync::RwLock<std::collections::HashMap<String, Checked>>,
}

/// What [`TokenKeys::verify`] needs of a token whose signature and claims it checked.
#[derive(Debug, Clone, Copy)]
struct Checked {
    subject: Subject,
    exp: i64,
    nbf: i64,
}

/// Checked tokens kept at most (access tokens live 15 minutes: a county's active users
/// hold far fewer); when full the cache starts over.
const CHECKED_ENTRIES: usize = 4096;
/// Longer texts are checked every time, never kept (ours are about 250 bytes).
const MAX_KEPT_TOKEN_BYTES: usize = 1024;

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
            checked: std::sync::RwLock::default(),
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
        let kept = self
            .checked
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(token)
            .copied();
        let c = match kept {
            Some(c) => c,
            None => {
                let c = self.check(token)?;
                if token.len() <= MAX_KEPT_TOKEN_BYTES {
                    let mut kept = self
                        .checked
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if kept.len() >= CHECKED_ENTRIES {
                        kept.clear();
                    }
                    kept.insert(token.to_owned(), c);
                }
                c
            }
        };
        let leeway = i64::try_from(self.validation.leeway).unwrap_or(0);
        let t = now.timestamp();
        if c.exp + leeway < t || c.nbf - leeway > t {
            return Err(AppError::Unauthenticated);
        }
        Ok(c.subject)
    }

    /// Signature, algorithm, issuer, audience, kind and subject of a token: everything
    /// but the time.
    fn check(&self, token: &str) -> Result<Checked, AppError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| AppError::Unauthenticated)?;
        if data.claims.typ != "access" {
            return Err(AppError::Unauthenticated);
        }
        let subject = Subject::decode(&data.claims.sub).ok_or(AppError::Unauthenticated)?;
        Ok(Checked {
            subject,
            exp: data.claims.exp,
            nbf: data.claims.nbf,
        })
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

    /// A checked token is kept: later requests with it pass without a second check,
    /// still expire on time, and nothing else passes for it (a changed signature, a
    /// token of other keys, a wrong kind).
    #[test]
    fn kept_tokens_change_only_the_cost() {
        let k = keys();
        let now = Utc::now();
        let (t, _) = k.issue(Subject::User(7), now).unwrap();
        assert_eq!(k.verify(&t, now).unwrap(), Subject::User(7));
        assert_eq!(k.checked.read().unwrap().len(), 1);
        assert_eq!(k.verify(&t, now).unwrap(), Subject::User(7));
        assert_eq!(k.checked.read().unwrap().len(), 1, "kept once");
        let later = now + Duration::minutes(16);
        assert_eq!(k.verify(&t, later).unwrap_err().code(), "UNAUTHENTICATED");
        // Another signature on the same claims.
        let (head, sig) = t.rsplit_once('.').unwrap();
        let mut forged = sig.as_bytes().to_vec();
        forged[0] = if forged[0] == b'A' { b'B' } else { b'A' };
        let forged = format!("{head}.{}", String::from_utf8(forged).unwrap());
        assert_eq!(
            k.verify(&forged, now).unwrap_err().code(),
            "UNAUTHENTICATED"
        );
        // Claims of other keys.
        let other = TokenKeys::from_config(&AuthConfig {
            jwt_secret: Some(SecretString::from("another-key-entirely-0123456789abcdef")),
            ..AuthConfig::default()
        })
        .unwrap();
        let (theirs, _) = other.issue(Subject::User(7), now).unwrap();
        assert_eq!(
            k.verify(&theirs, now).unwrap_err().code(),
            "UNAUTHENTICATED"
        );
        assert_eq!(
            k.checked.read().unwrap().len(),
            1,
            "refused tokens are not kept"
        );
        // Bounded.
        for i in 0..CHECKED_ENTRIES as i64 + 10 {
            let (t, _) = k.issue(Subject::Tipster(i), now).unwrap();
            assert_eq!(k.verify(&t, now).unwrap(), Subject::Tipster(i));
        }
        assert!(k.checked.read().unwrap().len() <= CHECKED_ENTRIES);
    }

    fn k_rejects(t: &str) -> bool {
        keys().verify(t, Utc::now()).is_err()
    }
}
