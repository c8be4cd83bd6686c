//! Rate limits on public and login endpoints, keyed by client IP and by WeChat user,
//! shared by every server process through the database.
//!
//! Each key is a GCRA bucket (the algorithm of `governor`, kept in a row): a limit of
//! `n` per minute lets `n` requests through at once and then one every `60/n` seconds.
//! The row holds the "theoretical arrival time" (TAT); one conditional upsert per
//! request both decides and records, atomically, so two processes never double a
//! limit. A database that cannot be reached answers `UNAVAILABLE` (the request would
//! fail anyway).

use std::net::IpAddr;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::clock::Clock;
use crate::config::LimitsConfig;
use crate::error::AppError;

/// The length of a limit's window.
const PERIOD_MS: i64 = 60_000;

/// The limits, shared with every process on the same database.
pub struct RateLimits {
    db: DatabaseConnection,
    clock: Clock,
    login_ip: u32,
    public_ip: u32,
    public_user: u32,
    public_read_ip: u32,
}

impl RateLimits {
    /// Limits with the configured quotas (per minute), kept in `db`.
    pub fn new(cfg: &LimitsConfig, db: DatabaseConnection, clock: Clock) -> Self {
        Self {
            db,
            clock,
            login_ip: cfg.login_per_ip_per_minute.max(1),
            public_ip: cfg.public_per_ip_per_minute.max(1),
            public_user: cfg.public_per_user_per_minute.max(1),
            public_read_ip: cfg.public_reads_per_ip_per_minute.max(1),
        }
    }

    /// Counts one request against `key` (`per_minute` allowed); `RATE_LIMITED` with the
    /// wait when the bucket is empty.
    async fn take(&self, key: &str, per_minute: u32) -> Result<(), AppError> {
        let now = self.clock.now().timestamp_millis();
        let step = PERIOD_MS / i64::from(per_minute);
        let backend = self.db.get_database_backend();
        let (p, max) = if backend == DbBackend::Postgres {
            ('$', "GREATEST")
        } else {
            ('?', "MAX")
        };
        let sql = format!(
            "INSERT INTO rate_limit (key, tat_ms) VALUES ({p}1, {p}2 + {p}3) \
             ON CONFLICT (key) DO UPDATE SET tat_ms = {max}(rate_limit.tat_ms, {p}2) + {p}3 \
             WHERE {max}(rate_limit.tat_ms, {p}2) + {p}3 - {p}2 <= {p}4 RETURNING tat_ms"
        );
        let taken = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [key.into(), now.into(), step.into(), PERIOD_MS.into()],
            ))
            .await?;
        if taken.is_some() {
            return Ok(());
        }
        let tat = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                format!("SELECT tat_ms FROM rate_limit WHERE key = {p}1"),
                [key.into()],
            ))
            .await?
            .and_then(|r| r.try_get::<i64>("", "tat_ms").ok())
            .unwrap_or(now);
        // The next request fits once the TAT is within one period of now.
        let wait_ms = tat.max(now) + step - PERIOD_MS - now;
        Err(AppError::RateLimited {
            retry_after_secs: u64::try_from((wait_ms + 999) / 1000).unwrap_or(1).max(1),
        })
    }

    /// A login attempt (staff or WeChat) from `ip`.
    pub async fn check_login(&self, ip: IpAddr) -> Result<(), AppError> {
        self.take(&format!("login:ip:{ip}"), self.login_ip).await
    }

    /// An anonymous read of published cases from `ip`.
    pub async fn check_public_read(&self, ip: IpAddr) -> Result<(), AppError> {
        self.take(&format!("read:ip:{ip}"), self.public_read_ip)
            .await
    }

    /// A public mutation from `ip`, by the WeChat user `tipster` when logged in.
    pub async fn check_public(&self, ip: IpAddr, tipster: Option<i64>) -> Result<(), AppError> {
        self.take(&format!("public:ip:{ip}"), self.public_ip)
            .await?;
        if let Some(t) = tipster {
            self.take(&format!("public:user:{t}"), self.public_user)
                .await?;
        }
        Ok(())
    }
}

/// Forgets buckets that are full again (they hold nothing a missing row does not).
pub async fn purge(
    db: &DatabaseConnection,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, AppError> {
    let backend = db.get_database_backend();
    let p = if backend == DbBackend::Postgres {
        '$'
    } else {
        '?'
    };
    let r = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            format!("DELETE FROM rate_limit WHERE tat_ms < {p}1"),
            [now.timestamp_millis().into()],
        ))
        .await?;
    Ok(r.rows_affected())
}

/// The client's address: the peer, unless the peer is a trusted proxy, in which case
/// the right-most address in `X-Forwarded-For` that is not itself a trusted proxy. A
/// forged header from an untrusted peer is ignored, so it cannot reset a limit.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    let hops: Vec<IpAddr> = header
        .split(',')
        .filter_map(|h| h.trim().parse::<IpAddr>().ok())
        .collect();
    hops.iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy = ip("10.0.0.1");
        let trusted = [proxy];
        assert_eq!(
            client_ip(ip("1.2.3.4"), Some("9.9.9.9"), &trusted),
            ip("1.2.3.4")
        );
        assert_eq!(client_ip(proxy, Some("5.6.7.8"), &trusted), ip("5.6.7.8"));
        // A client-forged left part does not win over what the proxy appended.
        assert_eq!(
            client_ip(proxy, Some("9.9.9.9, 5.6.7.8"), &trusted),
            ip("5.6.7.8")
        );
        assert_eq!(client_ip(proxy, None, &trusted), proxy);
        assert_eq!(client_ip(proxy, Some("garbage"), &trusted), proxy);
    }
}
