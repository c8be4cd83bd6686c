//! Rate limits on public and login endpoints, keyed by client IP and by WeChat user.
//!
//! In-process (GCRA, `governor`): each server process limits on its own, which bounds
//! abuse per process; a shared limit across processes would need Redis or PostgreSQL.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::LimitsConfig;
use crate::error::AppError;

/// The limiters of one server process.
pub struct RateLimits {
    login_ip: DefaultKeyedRateLimiter<IpAddr>,
    public_ip: DefaultKeyedRateLimiter<IpAddr>,
    public_user: DefaultKeyedRateLimiter<i64>,
    clock: DefaultClock,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl RateLimits {
    /// Limiters with the configured quotas.
    pub fn new(cfg: &LimitsConfig) -> Self {
        Self {
            login_ip: RateLimiter::keyed(per_minute(cfg.login_per_ip_per_minute)),
            public_ip: RateLimiter::keyed(per_minute(cfg.public_per_ip_per_minute)),
            public_user: RateLimiter::keyed(per_minute(cfg.public_per_user_per_minute)),
            clock: DefaultClock::default(),
        }
    }

    fn verdict<K: std::hash::Hash + Eq + Clone>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
    ) -> Result<(), AppError> {
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            AppError::RateLimited {
                retry_after_secs: wait.as_secs().max(1),
            }
        })
    }

    /// A login attempt (staff or WeChat) from `ip`.
    pub fn check_login(&self, ip: IpAddr) -> Result<(), AppError> {
        self.verdict(&self.login_ip, &ip)
    }

    /// A public mutation from `ip`, by the WeChat user `tipster` when logged in.
    pub fn check_public(&self, ip: IpAddr, tipster: Option<i64>) -> Result<(), AppError> {
        self.verdict(&self.public_ip, &ip)?;
        if let Some(t) = tipster {
            self.verdict(&self.public_user, &t)?;
        }
        Ok(())
    }
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

    #[test]
    fn limits_bite_after_the_quota() {
        let cfg = LimitsConfig {
            login_per_ip_per_minute: 3,
            ..LimitsConfig::default()
        };
        let l = RateLimits::new(&cfg);
        let a = ip("1.1.1.1");
        for _ in 0..3 {
            l.check_login(a).unwrap();
        }
        match l.check_login(a) {
            Err(AppError::RateLimited { retry_after_secs }) => assert!(retry_after_secs >= 1),
            other => panic!("{other:?}"),
        }
        l.check_login(ip("2.2.2.2")).unwrap();
    }
}
