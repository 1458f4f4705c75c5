//! How often an app's token may be replaced because WeChat rejected it.
//!
//! A forced `stable_token` refresh (and any classic `/cgi-bin/token` call) invalidates
//! the token every other service of the app holds. WeChat allows a forced refresh at
//! most once every 30 s and 20 times a day. So a rejected token is replaced at most
//! once per gap; the gap doubles each time the new token is rejected as well (a
//! gateway that answers 40001 to everything would otherwise burn the day's allowance
//! in ten minutes), and no more than 20 go in any 24 hours.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// WeChat's minimum time between two forced refreshes.
pub const MIN_GAP: Duration = Duration::from_secs(30);
/// The longest the gap grows to while new tokens keep being rejected.
pub const MAX_GAP: Duration = Duration::from_secs(3600);
/// WeChat's daily allowance of forced refreshes, kept over any 24 hours (stricter
/// than a calendar day in whatever time zone WeChat counts).
pub const DAILY: usize = 20;
const DAY: Duration = Duration::from_secs(86_400);

#[derive(Debug, Default)]
pub struct RefreshBudget {
    /// Forced refreshes of the last 24 hours, oldest first.
    recent: VecDeque<Instant>,
    /// Forced refreshes in a row whose new token WeChat rejected too.
    futile: u32,
}

impl RefreshBudget {
    /// The gap now required after the last forced refresh.
    pub fn gap(&self) -> Duration {
        MIN_GAP.saturating_mul(1u32 << self.futile.min(8)).min(MAX_GAP)
    }

    /// Takes one forced refresh at `now`, or says how long until one is allowed.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        while self.recent.front().is_some_and(|t| now.saturating_duration_since(*t) >= DAY) {
            self.recent.pop_front();
        }
        let by_gap = self.recent.back().map(|t| *t + self.gap());
        let by_day = (self.recent.len() >= DAILY).then(|| self.recent[self.recent.len() - DAILY] + DAY);
        match by_gap.max(by_day) {
            Some(at) if at > now => Err(at - now),
            _ => {
                self.recent.push_back(now);
                Ok(())
            }
        }
    }

    /// The token of the last forced refresh was rejected as well.
    pub fn futile(&mut self) {
        self.futile = self.futile.saturating_add(1);
    }

    /// A token worked: the gap is back to [`MIN_GAP`].
    pub fn worked(&mut self) {
        self.futile = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn at_most_one_a_gap_and_the_gap_doubles_while_futile() {
        let t0 = Instant::now();
        let mut b = RefreshBudget::default();
        assert_eq!(b.take(t0), Ok(()));
        assert_eq!(b.take(t0 + S(1)), Err(S(29)));
        assert_eq!(b.take(t0 + S(29)), Err(S(1)));
        assert_eq!(b.take(t0 + S(30)), Ok(()));
        // The new token was rejected too: 60 s, then 120 s.
        b.futile();
        assert_eq!(b.take(t0 + S(60)), Err(S(30)));
        assert_eq!(b.take(t0 + S(90)), Ok(()));
        b.futile();
        assert_eq!(b.take(t0 + S(200)), Err(S(10)));
        assert_eq!(b.take(t0 + S(210)), Ok(()));
        // Capped, however long it goes on.
        for _ in 0..40 {
            b.futile();
        }
        assert_eq!(b.gap(), MAX_GAP);
        // A token that works brings the gap back to 30 s.
        b.worked();
        assert_eq!(b.take(t0 + S(240)), Ok(()));
    }

    #[test]
    fn never_more_than_the_daily_allowance_in_any_24_hours() {
        let t0 = Instant::now();
        let mut b = RefreshBudget::default();
        let mut t = t0;
        let mut taken = Vec::new();
        // Asked every 10 s for two days: one per 30 s until 20 are spent in 24 hours.
        while t < t0 + S(2 * 86_400) {
            if b.take(t).is_ok() {
                taken.push(t);
            }
            t += S(10);
        }
        for (i, at) in taken.iter().enumerate() {
            let in_day = taken[i..].iter().take_while(|u| **u < *at + DAY).count();
            assert!(in_day <= DAILY, "{in_day} forced refreshes within 24 h of {i}");
        }
        for w in taken.windows(2) {
            assert!(w[1] - w[0] >= MIN_GAP);
        }
        assert_eq!(taken.len(), 2 * DAILY, "the allowance renews after 24 hours");
        assert_eq!(taken[DAILY] - taken[0], DAY);
    }
}
