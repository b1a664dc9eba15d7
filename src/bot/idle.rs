//! Idle policies for polling threads: `spin` (production), `yield`, `park` (tests, small boxes).

use std::time::Duration;

use mio::{Events, Poll};

use crate::bot::settings::IdlePolicy;

/// Applies an idle policy, spinning a little before yielding or parking so that bursts are
/// caught without a syscall.
#[derive(Clone, Debug)]
pub struct Idler {
    policy: IdlePolicy,
    park_timeout: Duration,
    idle_rounds: u32,
}

/// Idle rounds spent spinning before a `yield` or `park` policy gives the core away.
const SPIN_ROUNDS_BEFORE_BACKING_OFF: u32 = 64;

impl Idler {
    /// An idler with the given policy; `park_timeout` bounds a park.
    pub fn new(policy: IdlePolicy, park_timeout: Duration) -> Idler {
        Idler {
            policy,
            park_timeout,
            idle_rounds: 0,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> IdlePolicy {
        self.policy
    }

    /// Work was found: the next idle round starts spinning again.
    #[inline]
    pub fn reset(&mut self) {
        self.idle_rounds = 0;
    }

    /// One idle round for a thread that has nothing to wait on but time.
    #[inline]
    pub fn idle(&mut self) {
        if self.spin_first() {
            return;
        }
        match self.policy {
            IdlePolicy::Spin => std::hint::spin_loop(),
            IdlePolicy::Yield => std::thread::yield_now(),
            IdlePolicy::Park => std::thread::park_timeout(self.park_timeout),
        }
    }

    /// One idle round for a thread whose work arrives on sockets registered with `poll`: a park
    /// waits for readiness (or the park timeout) instead of sleeping blindly.
    ///
    /// A park goes straight to the readiness wait: `poll` returns at once when a socket already
    /// has data, so spinning first would only keep the core from the threads it shares it with.
    #[inline]
    pub fn idle_on(&mut self, poll: &mut Poll, events: &mut Events) {
        if self.policy != IdlePolicy::Park && self.spin_first() {
            return;
        }
        match self.policy {
            IdlePolicy::Spin => std::hint::spin_loop(),
            IdlePolicy::Yield => std::thread::yield_now(),
            IdlePolicy::Park => {
                // Readiness is re-checked by reading every socket; an error here only ends the wait.
                let _ = poll.poll(events, Some(self.park_timeout));
            }
        }
    }

    fn spin_first(&mut self) -> bool {
        if self.idle_rounds < SPIN_ROUNDS_BEFORE_BACKING_OFF {
            self.idle_rounds += 1;
            std::hint::spin_loop();
            return true;
        }
        false
    }
}
