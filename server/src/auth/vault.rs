//! Personal data at rest: tipster openids and phone numbers, staff phone numbers.
//!
//! One master key (`vault.key`, `GRIDWATCH__VAULT__KEY`: base64 of 32 random bytes)
//! yields two sub-keys by HMAC-SHA256 with fixed labels, so that a leak of one use
//! does not hand over the other:
//!
//! - the **encryption key** (AES-256-GCM). A blob is
//!   `version (1 byte) || nonce (12 random bytes) || ciphertext || tag (16 bytes)`.
//!   Callers pass the `table.column` the blob is stored in as associated data (see
//!   [`aad`]), so a blob copied into another column (say, an openid into a phone
//!   column that staff may reveal) fails to decrypt instead of leaking.
//! - the **lookup key** (HMAC-SHA256), for equality lookups without clear text
//!   ([`Vault::lookup_hash`], e.g. `tipster.openid_hmac`) and for the pseudonymous
//!   handles staff see ([`Vault::pseudonym`]).
//!
//! Changing the master key makes every stored blob, lookup hash and handle unreadable
//! or different; rotating it needs a re-encryption migration.

use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use secrecy::zeroize::Zeroize;
use sha2::Sha256;

use crate::config::VaultConfig;
use crate::error::AppError;

/// The master key used in development when `vault.key` is not set.
///
/// **Public and insecure**: it is in the source code, so anything encrypted with it is
/// readable by anyone. Production refuses to start without a key of its own and
/// [`Vault::from_config`] refuses this one there.
pub const INSECURE_DEVELOPMENT_KEY: [u8; 32] = *b"gridwatch-DEVELOPMENT-ONLY-key!!";

/// The associated data ("where this blob lives") to pass to [`Vault::encrypt`] and
/// [`Vault::decrypt`]: the `table.column` of the blob.
pub mod aad {
    /// `tipster.openid_enc`.
    pub const TIPSTER_OPENID: &str = "tipster.openid_enc";
    /// `tipster.phone_enc`.
    pub const TIPSTER_PHONE: &str = "tipster.phone_enc";
    /// `app_user.phone_enc`.
    pub const APP_USER_PHONE: &str = "app_user.phone_enc";
    /// `supervised_site.contact_phone_enc`.
    pub const SITE_CONTACT_PHONE: &str = "supervised_site.contact_phone_enc";
    /// `webhook.secret_enc`.
    pub const WEBHOOK_SECRET: &str = "webhook.secret_enc";
    /// `wechat_token.token_enc`.
    pub const WECHAT_TOKEN: &str = "wechat_token.token_enc";
}

/// The `kind` of a lookup hash of a WeChat openid (`tipster.openid_hmac`).
pub const LOOKUP_WECHAT_OPENID: &str = "wechat.openid";

/// The `kind` of lookup hash of an Open311 reporter's identity (per client app): a
/// different kind from WeChat's, so the two can never collide.
pub const LOOKUP_OPEN311_REPORTER: &str = "open311.reporter";

/// The `kind` of a tipster's pseudonym; also the handle's visible prefix (举报人 =
/// "informant").
pub const PSEUDONYM_TIPSTER: &str = "举报人";

/// The format version written as the first byte of every blob.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// 32 characters without 0/O or 1/I, so a handle read aloud or copied by hand survives.
const HANDLE_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// Characters in a handle (30 bits).
const HANDLE_LEN: usize = 6;

type HmacSha256 = Hmac<Sha256>;

/// Encrypts personal data and derives keyed hashes from it. Cheap to clone.
#[derive(Clone)]
pub struct Vault {
    cipher: Aes256Gcm,
    lookup: HmacSha256,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Vault { keys: <redacted> }")
    }
}

impl Vault {
    /// The vault for the configured key; the [`INSECURE_DEVELOPMENT_KEY`] when none is
    /// set outside production. Fails on a key that is not base64 of exactly 32 bytes,
    /// and in production on a missing key or the development key.
    pub fn from_config(cfg: &VaultConfig, production: bool) -> anyhow::Result<Self> {
        let mut master = match &cfg.key {
            Some(key) => {
                // The decoder's message would quote part of the key; say only what is wrong.
                STANDARD
                    .decode(key.expose_secret().trim())
                    .map_err(|_| {
                        anyhow!(
                            "`vault.key` (GRIDWATCH__VAULT__KEY): not valid base64 (standard alphabet, with padding)"
                        )
                    })?
            }
            None if production => {
                bail!("`vault.key` (GRIDWATCH__VAULT__KEY): production needs a base64 32-byte key")
            }
            None => {
                tracing::warn!(
                    "vault.key not set: using the public development key; personal data is NOT protected"
                );
                INSECURE_DEVELOPMENT_KEY.to_vec()
            }
        };
        let result = Self::from_master(&master, production);
        master.zeroize();
        result
    }

    /// The vault for a raw 32-byte master key.
    fn from_master(master: &[u8], production: bool) -> anyhow::Result<Self> {
        if master.len() != 32 {
            bail!(
                "`vault.key` (GRIDWATCH__VAULT__KEY): must decode to 32 bytes, got {}",
                master.len()
            );
        }
        if production && master == INSECURE_DEVELOPMENT_KEY {
            bail!(
                "`vault.key` (GRIDWATCH__VAULT__KEY): the public development key cannot be used in production"
            );
        }
        let mut enc_key = derive(master, b"gridwatch/vault/v1/encryption")?;
        let mut lookup_key = derive(master, b"gridwatch/vault/v1/lookup")?;
        let cipher = Aes256Gcm::new_from_slice(&enc_key)
            .map_err(|_| anyhow!("AES-256-GCM key of the wrong length"))?;
        let lookup = <HmacSha256 as Mac>::new_from_slice(&lookup_key).context("lookup key")?;
        enc_key.zeroize();
        lookup_key.zeroize();
        Ok(Self { cipher, lookup })
    }

    /// Encrypts `plaintext` for storage in the column named by `aad` (see [`aad`]).
    /// Every call draws a fresh random nonce, so equal inputs give different blobs.
    ///
    /// Fails only for inputs beyond AES-GCM's limit (64 GiB).
    pub fn encrypt(&self, plaintext: &[u8], aad: &str) -> Result<Vec<u8>, AppError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = versioned_aad(aad);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| AppError::Internal(anyhow!("vault: encryption failed")))?;
        let mut blob = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        blob.push(VERSION);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        Ok(blob)
    }

    /// Decrypts a blob made by [`Vault::encrypt`] with the same `aad`. A truncated,
    /// altered or misplaced blob, or one encrypted under another key, is an `INTERNAL`
    /// error: stored data should never be in that state.
    pub fn decrypt(&self, blob: &[u8], aad: &str) -> Result<Vec<u8>, AppError> {
        let fail = |why: &str| AppError::Internal(anyhow!("vault: cannot decrypt {aad}: {why}"));
        let Some((&version, rest)) = blob.split_first() else {
            return Err(fail("empty blob"));
        };
        if version != VERSION {
            return Err(fail("unknown format version"));
        }
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(fail("blob too short"));
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let aad_bytes = versioned_aad(aad);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad_bytes,
                },
            )
            .map_err(|_| fail("authentication failed (wrong key, column or altered data)"))
    }

    /// A stable keyed hash of `value` (64 hex characters) for unique lookups without
    /// storing the value in clear, e.g. `lookup_hash(LOOKUP_WECHAT_OPENID, openid)` for
    /// `tipster.openid_hmac`. `kind` keeps hashes of different things apart.
    pub fn lookup_hash(&self, kind: &str, value: &str) -> String {
        let mut mac = self.lookup.clone();
        mac.update(b"lookup\0");
        update_framed(&mut mac, kind.as_bytes());
        update_framed(&mut mac, value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A stable, non-reversible handle for the record `id` of `kind`, shown to staff
    /// instead of a name: `{kind}-XXXXXX` with six characters from an alphabet without
    /// look-alikes, e.g. `举报人-7F3K9Q` for [`PSEUDONYM_TIPSTER`].
    ///
    /// Without the vault key, the id cannot be recovered from the handle nor the handle
    /// predicted from the id. Handles are not guaranteed unique (one in about 10⁹ per
    /// pair), so a unique column needs a fallback on collision.
    pub fn pseudonym(&self, kind: &str, id: i64) -> String {
        let mut mac = self.lookup.clone();
        mac.update(b"pseudonym\0");
        update_framed(&mut mac, kind.as_bytes());
        mac.update(&id.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let mut bits = u64::from_be_bytes([
            digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
        ]);
        let mut handle = String::with_capacity(kind.len() + 1 + HANDLE_LEN);
        handle.push_str(kind);
        handle.push('-');
        for _ in 0..HANDLE_LEN {
            handle.push(char::from(HANDLE_ALPHABET[(bits >> 59) as usize]));
            bits <<= 5;
        }
        handle
    }
}

/// A sub-key: HMAC-SHA256 of a fixed label under the master key.
fn derive(master: &[u8], label: &[u8]) -> anyhow::Result<[u8; 32]> {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(master).context("master key")?;
    mac.update(label);
    Ok(mac.finalize().into_bytes().into())
}

/// Length-prefixes a field so that `("ab", "c")` and `("a", "bc")` hash differently.
fn update_framed(mac: &mut HmacSha256, bytes: &[u8]) {
    mac.update(&(bytes.len() as u64).to_be_bytes());
    mac.update(bytes);
}

/// The AEAD associated data: the format version, then the caller's `table.column`.
fn versioned_aad(aad: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(1 + aad.len());
    bytes.push(VERSION);
    bytes.extend_from_slice(aad.as_bytes());
    bytes
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn vault_with(key: Option<&str>, production: bool) -> anyhow::Result<Vault> {
        let cfg = VaultConfig {
            key: key.map(|k| SecretString::from(k.to_owned())),
        };
        Vault::from_config(&cfg, production)
    }

    fn dev() -> Vault {
        vault_with(None, false).unwrap()
    }

    fn random_key_b64() -> String {
        STANDARD.encode(rand::random::<[u8; 32]>())
    }

    #[test]
    fn round_trip() {
        let v = dev();
        for plain in [
            &b""[..],
            b"13800138000",
            "oABCdef-中文".as_bytes(),
            &[0u8; 1000],
        ] {
            let blob = v.encrypt(plain, aad::TIPSTER_PHONE).unwrap();
            assert_eq!(blob[0], VERSION);
            assert_eq!(blob.len(), 1 + NONCE_LEN + plain.len() + TAG_LEN);
            assert_eq!(v.decrypt(&blob, aad::TIPSTER_PHONE).unwrap(), plain);
        }
    }

    #[test]
    fn wrong_aad_fails() {
        let v = dev();
        let blob = v.encrypt(b"oOPENID", aad::TIPSTER_OPENID).unwrap();
        let err = v.decrypt(&blob, aad::TIPSTER_PHONE).unwrap_err();
        assert_eq!(err.code(), "INTERNAL");
    }

    #[test]
    fn any_altered_byte_fails() {
        let v = dev();
        let blob = v.encrypt(b"13800138000", aad::APP_USER_PHONE).unwrap();
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            let err = v.decrypt(&bad, aad::APP_USER_PHONE).unwrap_err();
            assert_eq!(err.code(), "INTERNAL", "byte {i}");
        }
        for len in 0..blob.len() {
            assert!(
                v.decrypt(&blob[..len], aad::APP_USER_PHONE).is_err(),
                "len {len}"
            );
        }
    }

    #[test]
    fn another_key_cannot_decrypt() {
        let a = vault_with(Some(&random_key_b64()), true).unwrap();
        let b = vault_with(Some(&random_key_b64()), true).unwrap();
        let blob = a.encrypt(b"x", aad::TIPSTER_OPENID).unwrap();
        assert!(b.decrypt(&blob, aad::TIPSTER_OPENID).is_err());
    }

    #[test]
    fn same_plaintext_gets_different_nonces() {
        let v = dev();
        let a = v.encrypt(b"13800138000", aad::TIPSTER_PHONE).unwrap();
        let b = v.encrypt(b"13800138000", aad::TIPSTER_PHONE).unwrap();
        assert_ne!(a[1..1 + NONCE_LEN], b[1..1 + NONCE_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn lookup_hash_is_stable_keyed_and_kind_separated() {
        let key = random_key_b64();
        let v1 = vault_with(Some(&key), false).unwrap();
        let v2 = vault_with(Some(&key), false).unwrap();
        let h = v1.lookup_hash(LOOKUP_WECHAT_OPENID, "oOPENID");
        assert_eq!(h, v2.lookup_hash(LOOKUP_WECHAT_OPENID, "oOPENID"));
        assert_eq!(h.len(), 64);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(!h.contains("OPENID"));
        assert_ne!(h, v1.lookup_hash(LOOKUP_WECHAT_OPENID, "oOPENID2"));
        assert_ne!(h, v1.lookup_hash("phone", "oOPENID"));
        assert_ne!(h, dev().lookup_hash(LOOKUP_WECHAT_OPENID, "oOPENID"));
        assert_ne!(v1.lookup_hash("ab", "c"), v1.lookup_hash("a", "bc"));
    }

    #[test]
    fn derivations_are_pinned() {
        // Stored hashes and handles depend on these derivations; a change orphans every
        // row. Values computed independently with Python's hmac module from the
        // documented construction.
        assert_eq!(
            dev().lookup_hash(LOOKUP_WECHAT_OPENID, "oTEST"),
            "0926c90e81d6f60c85845bd08ad51fa57744eacc6cf927b00bd8305bcb114b8c"
        );
        assert_eq!(dev().pseudonym(PSEUDONYM_TIPSTER, 7), "举报人-GAXFXR");
    }

    #[test]
    fn pseudonyms_are_stable_distinct_and_well_formed() {
        let v = dev();
        let mut seen = std::collections::HashSet::new();
        for id in 1..=2_000 {
            let h = v.pseudonym(PSEUDONYM_TIPSTER, id);
            assert_eq!(h, v.pseudonym(PSEUDONYM_TIPSTER, id));
            let code = h.strip_prefix("举报人-").unwrap();
            assert_eq!(code.len(), HANDLE_LEN);
            assert!(code.bytes().all(|c| HANDLE_ALPHABET.contains(&c)), "{h}");
            assert!(!code.contains(['0', 'O', '1', 'I']), "{h}");
            seen.insert(h);
        }
        assert_eq!(seen.len(), 2_000, "collisions among 2000 handles");
        let other = vault_with(Some(&random_key_b64()), false).unwrap();
        assert_ne!(
            v.pseudonym(PSEUDONYM_TIPSTER, 7),
            other.pseudonym(PSEUDONYM_TIPSTER, 7)
        );
        assert_ne!(
            v.pseudonym(PSEUDONYM_TIPSTER, 7).split('-').nth(1),
            v.pseudonym("用户", 7).split('-').nth(1)
        );
    }

    #[test]
    fn keys_are_checked() {
        assert!(vault_with(Some(&random_key_b64()), true).is_ok());
        let bad = [
            "not base64!!".to_owned(),
            STANDARD.encode([7u8; 16]),
            STANDARD.encode([7u8; 33]),
            String::new(),
        ];
        for key in bad {
            let err = vault_with(Some(&key), false).unwrap_err().to_string();
            assert!(err.contains("GRIDWATCH__VAULT__KEY"), "{err}");
        }
        let err = vault_with(None, true).unwrap_err().to_string();
        assert!(err.contains("GRIDWATCH__VAULT__KEY"), "{err}");
        let dev_key = STANDARD.encode(INSECURE_DEVELOPMENT_KEY);
        assert!(vault_with(Some(&dev_key), true).is_err());
        assert!(vault_with(Some(&dev_key), false).is_ok());
    }

    #[test]
    fn debug_shows_no_key_material() {
        assert_eq!(format!("{:?}", dev()), "Vault { keys: <redacted> }");
    }
}
