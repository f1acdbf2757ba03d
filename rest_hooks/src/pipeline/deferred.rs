//! Events whose dispatch met a database error (a lost connection, a deadlock, a lock timeout, a
//! column missing until a migration runs): they stay pending, and the dispatcher leaves them out of
//! its claims until their next try, which comes later after each failure in a row, so that one
//! such event neither fails for good nor holds up the events behind it.

use std::collections::HashMap;

/// The first wait before a deferred event is tried again; it doubles with each failure in a
/// row, up to [`MAX_DEFER_MS`].
pub(crate) const DEFER_MS: i64 = 500;

/// The longest wait before a deferred event is tried again.
pub(crate) const MAX_DEFER_MS: i64 = 60_000;

/// How many deferred events a claim leaves out by id; past that, the oldest are tried again early.
const MAX_DEFERRED: usize = 1_000;

/// The events of this process whose dispatch met a database error: their failures in a row and
/// when they may be tried again (engine clock, Unix ms). Kept in memory only: after a restart, or
/// in another process, they are simply tried at once.
#[derive(Default)]
pub(crate) struct Deferred(HashMap<i64, (u32, i64)>);

impl Deferred {
    /// Event `id` failed at `now`: its failures in a row, and how long until it is tried again.
    pub(crate) fn defer(&mut self, id: i64, now: i64) -> (u32, i64) {
        let failures = self.0.get(&id).map_or(1, |(failures, _)| failures.saturating_add(1));
        let wait = DEFER_MS.saturating_mul(1 << (failures - 1).min(20)).min(MAX_DEFER_MS);
        self.0.insert(id, (failures, now.saturating_add(wait)));
        if self.0.len() > MAX_DEFERRED
            && let Some(oldest) = self.0.iter().min_by_key(|(_, (_, until))| *until).map(|(&id, _)| id)
        {
            self.0.remove(&oldest);
        }
        (failures, wait)
    }

    /// Event `id` was dispatched.
    pub(crate) fn forget(&mut self, id: i64) {
        if !self.0.is_empty() {
            self.0.remove(&id);
        }
    }

    /// The events not to claim at `now`.
    pub(crate) fn waiting(&self, now: i64) -> Vec<i64> {
        self.0.iter().filter(|(_, (_, until))| *until > now).map(|(id, _)| *id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deferred_event_waits_longer_after_each_failure_up_to_a_minute() {
        let mut deferred = Deferred::default();
        let waits: Vec<i64> = (0..10).map(|_| deferred.defer(7, 0).1).collect();
        assert_eq!(waits, [500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
        assert_eq!(deferred.defer(7, 0).0, 11, "failures in a row are counted");
    }

    #[test]
    fn a_deferred_event_is_left_out_until_its_time_and_forgotten_once_dispatched() {
        let mut deferred = Deferred::default();
        deferred.defer(1, 1_000);
        deferred.defer(2, 1_200);
        assert_eq!(sorted(deferred.waiting(1_499)), [1, 2]);
        assert_eq!(deferred.waiting(1_500), [2], "event 1 is due again");
        deferred.forget(2);
        assert!(deferred.waiting(1_500).is_empty(), "event 2 was dispatched");
        assert_eq!(deferred.defer(2, 0).0, 1, "a dispatched event starts again from one failure");
    }

    #[test]
    fn past_the_limit_the_event_due_soonest_is_no_longer_left_out() {
        let mut deferred = Deferred::default();
        for id in 0..=MAX_DEFERRED as i64 {
            deferred.defer(id, id);
        }
        let waiting = deferred.waiting(0);
        assert_eq!(waiting.len(), MAX_DEFERRED);
        assert!(!waiting.contains(&0), "the one due soonest goes first");
    }

    fn sorted(mut ids: Vec<i64>) -> Vec<i64> {
        ids.sort_unstable();
        ids
    }
}
