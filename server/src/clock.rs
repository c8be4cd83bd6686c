//! The one source of "now" for every rule.
//!
//! The server runs on [`Clock::system`]. Tests build the app with
//! [`Clock::adjustable`] and move it ([`Clock::advance`]) instead of sleeping: time
//! still flows, only shifted, so ordering by time keeps working.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

/// A shareable clock; clones see the same time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Milliseconds added to the system time; `None` for the plain system clock.
    offset_ms: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self { offset_ms: None }
    }

    /// The system clock plus an offset that [`Clock::advance`] moves (tests).
    pub fn adjustable() -> Self {
        Self {
            offset_ms: Some(Arc::new(AtomicI64::new(0))),
        }
    }

    /// Now.
    pub fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        match &self.offset_ms {
            None => now,
            Some(off) => now + Duration::milliseconds(off.load(Ordering::Relaxed)),
        }
    }

    /// Moves an adjustable clock by `by` (backwards when negative). Returns false, and
    /// changes nothing, on the system clock.
    pub fn advance(&self, by: Duration) -> bool {
        match &self.offset_ms {
            None => false,
            Some(off) => {
                off.fetch_add(by.num_milliseconds(), Ordering::Relaxed);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_adjustable_clock_moves_and_clones_follow() {
        let c = Clock::adjustable();
        let twin = c.clone();
        let before = twin.now();
        assert!(c.advance(Duration::hours(5)));
        let after = twin.now();
        assert!(after - before >= Duration::hours(5));
        assert!(after - before < Duration::hours(5) + Duration::seconds(5));
        assert!(!Clock::system().advance(Duration::hours(1)));
    }
}
