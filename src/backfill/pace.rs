//! A bound on the request rate: a year of days is a burst no live poll makes, and
//! WeChat counts every call against the app's quotas.

use std::time::Duration;

use tokio::time::Instant;

/// Spaces requests `gap` apart on average. A collector's day may take several
/// requests (one per performance query, two for the interface summary); the pacer
/// is told afterwards how many went out and holds the next day back to match.
pub struct Pacer {
    gap: Duration,
    next: Instant,
}

impl Pacer {
    pub fn new(per_second: f64) -> Pacer {
        let gap = Duration::from_secs_f64(1.0 / per_second.clamp(1e-3, 1e6));
        Pacer { gap, next: Instant::now() }
    }

    /// Waits until the next request may go; returns when that was.
    pub async fn ready(&self) -> Instant {
        tokio::time::sleep_until(self.next).await;
        Instant::now()
    }

    /// `requests` went out from `started` on.
    pub fn spent(&mut self, started: Instant, requests: u64) {
        let n = u32::try_from(requests).unwrap_or(u32::MAX);
        self.next = self.next.max(started) + self.gap.saturating_mul(n);
    }

    /// When the next request may go.
    pub fn next(&self) -> Instant {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_spaced_by_the_rate_and_idle_time_is_not_banked() {
        let mut p = Pacer::new(4.0);
        let t0 = p.next();
        p.spent(t0, 3);
        assert_eq!(p.next() - t0, Duration::from_millis(750), "three requests at 4/s take 0.75s of budget");
        p.spent(t0, 0);
        assert_eq!(p.next() - t0, Duration::from_millis(750));
        // After a pause (a long answer), the budget counts from the later start, not before.
        let late = t0 + Duration::from_secs(10);
        p.spent(late, 1);
        assert_eq!(p.next() - late, Duration::from_millis(250));
    }
}
