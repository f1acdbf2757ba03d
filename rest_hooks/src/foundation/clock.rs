//! The engine's clock: wall time as Unix milliseconds, moved by tokio's clock when a test pauses it.
//!
//! Every scheduling column (leases, the next attempt, the attempt log) holds Unix milliseconds
//! read from [`Clock::now_ms`]. In a running application that is the wall clock, exactly. A test
//! that pauses tokio's clock (`#[tokio::test(start_paused = true)]`) and calls
//! `tokio::time::advance` moves the engine's time by the same amount: the clock adds how far
//! tokio's clock has drifted from the real monotonic clock since the engine started. Unpaused, the
//! two are the same clock and the drift is zero.
//!
//! The drift is read on the runtime that asks, so the engine reads the time only in tasks on the
//! application's runtime (the one [`start`](crate::Builder::start) ran on), never on the actor
//! thread.

use std::time::Instant;

/// Wall time, moved by tokio's paused clock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    tokio_base: tokio::time::Instant,
    std_base: Instant,
}

impl Clock {
    /// A clock whose drift is measured from now, on the current runtime.
    pub(crate) fn new() -> Self {
        Self { tokio_base: tokio::time::Instant::now(), std_base: Instant::now() }
    }

    /// Milliseconds since the Unix epoch.
    pub(crate) fn now_ms(&self) -> i64 {
        // In nanoseconds, rounded once at the end: on a paused clock the real time read by the wall
        // clock and by the monotonic one cancels out to within a few microseconds.
        let tokio_elapsed = tokio::time::Instant::now().saturating_duration_since(self.tokio_base).as_nanos();
        let std_elapsed = self.std_base.elapsed().as_nanos();
        let wall = chrono::Utc::now()
            .timestamp_nanos_opt()
            .map_or(i128::from(crate::foundation::store::now_ms()) * 1_000_000, i128::from);
        let now =
            wall + i128::try_from(tokio_elapsed).unwrap_or(i128::MAX / 4) - i128::try_from(std_elapsed).unwrap_or(0);
        i64::try_from(now.div_euclid(1_000_000)).unwrap_or(i64::MAX)
    }
}
