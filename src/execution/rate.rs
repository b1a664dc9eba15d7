//! Token buckets that keep order traffic under the venue's rate limits (HTTP 429 otherwise).
//!
//! A bucket holds up to `burst` tokens and refills at `per_window` tokens per `window_ms`,
//! continuously. Sizes come from configuration, never from constants: the venue changes them.
//! Exact integer arithmetic: tokens are counted in units of 1/`window_ns` token.

/// One rate limit: a burst allowance refilled at a sustained rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenBucket {
    /// Capacity, in scaled units (`burst × window_ns`).
    capacity: u128,
    /// Tokens held, in scaled units.
    level: u128,
    /// Scaled units added per nanosecond (`per_window`).
    per_ns: u128,
    /// Nanoseconds per window: one token in scaled units.
    window_ns: u128,
    /// The time of the last refill, nanoseconds on the caller's clock.
    last_ns: u64,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens refilled at `per_window` tokens every `window_ms`
    /// (a zero window is treated as one millisecond).
    pub fn new(burst: u32, per_window: u32, window_ms: u64) -> Self {
        let window_ns = u128::from(window_ms.max(1)) * 1_000_000;
        let capacity = u128::from(burst) * window_ns;
        TokenBucket {
            capacity,
            level: capacity,
            per_ns: u128::from(per_window),
            window_ns,
            last_ns: 0,
        }
    }

    /// Takes `n` tokens if the bucket holds them at `now_ns` (a monotonic clock in
    /// nanoseconds); otherwise takes nothing and returns false. Time going backwards adds nothing.
    pub fn try_take(&mut self, now_ns: u64, n: u32) -> bool {
        self.refill(now_ns);
        let need = u128::from(n) * self.window_ns;
        if need > self.level {
            return false;
        }
        self.level -= need;
        true
    }

    /// Whole tokens available at `now_ns`.
    pub fn available(&mut self, now_ns: u64) -> u32 {
        self.refill(now_ns);
        u32::try_from(self.level / self.window_ns).unwrap_or(u32::MAX)
    }

    fn refill(&mut self, now_ns: u64) {
        if now_ns > self.last_ns {
            let added = u128::from(now_ns - self.last_ns) * self.per_ns;
            self.level = (self.level + added).min(self.capacity);
            self.last_ns = now_ns;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_full_bucket_allows_the_burst_then_refuses() {
        let mut b = TokenBucket::new(5, 10, 1_000);
        let t = 7 * MS;
        assert!(b.try_take(t, 3));
        assert!(b.try_take(t, 2));
        assert!(!b.try_take(t, 1));
        assert_eq!(b.available(t), 0);
    }

    #[test]
    fn refills_at_the_sustained_rate_up_to_the_burst() {
        // 10 per second: one token every 100 ms.
        let mut b = TokenBucket::new(4, 10, 1_000);
        assert!(b.try_take(0, 4));
        assert!(!b.try_take(99 * MS, 1));
        assert!(b.try_take(100 * MS, 1));
        assert!(!b.try_take(150 * MS, 1));
        assert_eq!(b.available(10_000 * MS), 4);
    }

    #[test]
    fn a_refused_take_consumes_nothing() {
        let mut b = TokenBucket::new(3, 3, 10_000);
        assert!(!b.try_take(0, 4));
        assert_eq!(b.available(0), 3);
        assert!(b.try_take(0, 3));
    }

    #[test]
    fn time_going_backwards_adds_nothing() {
        let mut b = TokenBucket::new(2, 1_000, 1);
        assert!(b.try_take(50 * MS, 2));
        assert!(!b.try_take(10 * MS, 1));
        assert!(b.try_take(51 * MS, 1));
    }

    #[test]
    fn venue_sized_limits_do_not_overflow() {
        // POST /order: 3500 per 10 s burst, sustained 36 000 per 10 minutes.
        let mut burst = TokenBucket::new(3_500, 3_500, 10_000);
        let mut sustained = TokenBucket::new(36_000, 36_000, 600_000);
        assert!(burst.try_take(u64::MAX / 2, 3_500));
        assert!(sustained.try_take(u64::MAX / 2, 36_000));
        assert_eq!(burst.available(u64::MAX), 3_500);
        assert_eq!(sustained.available(u64::MAX), 36_000);
    }
}
