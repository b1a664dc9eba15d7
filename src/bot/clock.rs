//! The latency clock: raw TSC ticks from quanta, converted to nanoseconds off the hot path.
//!
//! Feed and strategy threads stamp events with `raw()` (a few nanoseconds, no syscall); segment
//! latencies are `nanos_between(start, end)`. The deterministic core never touches it.

/// A shared, calibrated clock. Cloning is cheap; every clone reads the same time base.
#[derive(Clone, Debug)]
pub struct Clock(quanta::Clock);

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    /// Calibrates the clock (once per process; later calls reuse the calibration).
    pub fn new() -> Clock {
        Clock(quanta::Clock::new())
    }

    /// Raw ticks now.
    #[inline]
    pub fn raw(&self) -> u64 {
        self.0.raw()
    }

    /// Nanoseconds from `start` to `end` (raw ticks); zero if `end` is before `start`.
    #[inline]
    pub fn nanos_between(&self, start: u64, end: u64) -> u64 {
        if end <= start {
            return 0;
        }
        self.0.delta_as_nanos(start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_forward_intervals_and_clamps_backward_ones() {
        let clock = Clock::new();
        let a = clock.raw();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = clock.raw();
        assert!(clock.nanos_between(a, b) >= 1_000_000);
        assert_eq!(clock.nanos_between(b, a), 0);
    }
}
