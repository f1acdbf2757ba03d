//! When dispatch passes run: a plain state machine that the registry actor drives.
//!
//! One pass runs at a time; a pass asked for while one runs follows it at once. A pass that found
//! work is followed by another at once. A save's nudge comes before its transaction commits, so
//! the first pass may find nothing: for a short window after a nudge the dispatcher then looks
//! every millisecond — a look is one cheap read of whether any event waits, not a pass — and runs a
//! pass as soon as the commit shows, then falls back to the idle poll. A failed pass is retried after 100 ms,
//! doubling with each failure in a row up to 5 s.

use std::time::{Duration, Instant};

/// How long to wait before running a pass again after one failed (a busy database, a lost
/// connection); it doubles with each failure in a row, up to [`MAX_RETRY_AFTER_ERROR`].
pub(crate) const RETRY_AFTER_ERROR: Duration = Duration::from_millis(100);

/// The longest wait after failed passes: a database that comes back is used again within it.
pub(crate) const MAX_RETRY_AFTER_ERROR: Duration = Duration::from_secs(5);

/// How often the dispatcher looks for a commit during the window after a nudge.
pub(crate) const LOOK_EVERY: Duration = Duration::from_millis(1);

/// What the driver does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Start a pass now (any timer waiting for one is cancelled).
    Run,
    /// Look now whether an event waits, and say what was found with [`Schedule::finished`].
    Look,
    /// Start a pass after this delay, unless something asks for one sooner.
    After(Duration),
    /// Look after this delay ([`Schedule::look`]), unless something asks for a pass sooner.
    LookAfter(Duration),
    /// Nothing: a pass is under way and another follows it.
    Nothing,
}

/// The scheduling state: whether a pass or look runs, whether a pass was asked for meanwhile, and
/// the window of looks after a nudge.
#[derive(Debug)]
pub(crate) struct Schedule {
    poll_interval: Duration,
    recheck_window: Duration,
    running: bool,
    again: bool,
    burst_until: Option<Instant>,
    /// Passes failed in a row.
    failures: u32,
}

impl Schedule {
    /// A schedule that polls every `poll_interval` when idle and looks for a commit for
    /// `recheck_window` after a nudge.
    pub(crate) fn new(poll_interval: Duration, recheck_window: Duration) -> Self {
        Self { poll_interval, recheck_window, running: false, again: false, burst_until: None, failures: 0 }
    }

    /// A pass is wanted (a timer fired, a slot freed, a retry fell due).
    pub(crate) fn wanted(&mut self) -> Next {
        if self.running {
            self.again = true;
            return Next::Nothing;
        }
        self.running = true;
        self.again = false;
        Next::Run
    }

    /// A save recorded an event at `now`: a pass now, and looks for a while.
    pub(crate) fn nudged(&mut self, now: Instant) -> Next {
        self.burst_until = Some(now + self.recheck_window);
        self.wanted()
    }

    /// A look is due: it starts unless a pass or look runs (a pass then follows anyway if asked).
    pub(crate) fn look(&mut self) -> Next {
        if self.running {
            return Next::Nothing;
        }
        self.running = true;
        Next::Look
    }

    /// The pass or look under way ended at `now`, having `found` work (a look: an event waiting)
    /// or not.
    pub(crate) fn finished(&mut self, found: bool, now: Instant) -> Next {
        self.running = false;
        self.failures = 0;
        if found || std::mem::take(&mut self.again) {
            return self.wanted();
        }
        match self.burst_until {
            Some(until) if now < until => Next::LookAfter(LOOK_EVERY),
            _ => {
                self.burst_until = None;
                Next::After(self.poll_interval)
            }
        }
    }

    /// The pass under way failed: try again shortly, later after each failure in a row.
    pub(crate) fn failed(&mut self) -> Next {
        self.running = false;
        let delay = RETRY_AFTER_ERROR.saturating_mul(1 << self.failures.min(16)).min(MAX_RETRY_AFTER_ERROR);
        self.failures = self.failures.saturating_add(1);
        Next::After(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLL: Duration = Duration::from_secs(1);
    const WINDOW: Duration = Duration::from_millis(250);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn one_pass_at_a_time_and_one_more_when_asked_meanwhile() {
        let (mut schedule, now) = (Schedule::new(POLL, WINDOW), Instant::now());
        assert_eq!(schedule.wanted(), Next::Run);
        assert_eq!(schedule.wanted(), Next::Nothing);
        assert_eq!(schedule.wanted(), Next::Nothing, "many asks while running make one more pass");
        assert_eq!(schedule.finished(false, now), Next::Run);
        assert_eq!(schedule.finished(false, now), Next::After(POLL), "then the idle poll");
    }

    #[test]
    fn a_pass_that_found_work_is_followed_by_another_at_once() {
        let (mut schedule, now) = (Schedule::new(POLL, WINDOW), Instant::now());
        schedule.wanted();
        assert_eq!(schedule.finished(true, now), Next::Run);
        assert_eq!(schedule.finished(false, now), Next::After(POLL));
    }

    #[test]
    fn after_a_nudge_the_schedule_looks_every_millisecond_within_its_window_then_polls() {
        let (mut schedule, start) = (Schedule::new(POLL, WINDOW), Instant::now());
        assert_eq!(schedule.nudged(start), Next::Run);
        for elapsed in [0, 1, 2, 100, 249] {
            assert_eq!(schedule.finished(false, start + ms(elapsed)), Next::LookAfter(LOOK_EVERY));
            assert_eq!(schedule.look(), Next::Look);
        }
        assert_eq!(schedule.finished(false, start + WINDOW), Next::After(POLL), "the window is over");
        schedule.wanted();
        assert_eq!(schedule.finished(false, start + ms(10)), Next::After(POLL), "the window does not come back");
    }

    #[test]
    fn a_look_that_finds_an_event_runs_a_pass_and_none_starts_beside_a_pass() {
        let (mut schedule, start) = (Schedule::new(POLL, WINDOW), Instant::now());
        schedule.nudged(start);
        assert_eq!(schedule.look(), Next::Nothing, "a pass runs");
        assert_eq!(schedule.finished(false, start), Next::LookAfter(LOOK_EVERY));
        assert_eq!(schedule.look(), Next::Look);
        assert_eq!(schedule.wanted(), Next::Nothing, "asked during the look: follows it");
        assert_eq!(schedule.finished(false, start), Next::Run);
        assert_eq!(schedule.finished(false, start), Next::LookAfter(LOOK_EVERY));
        assert_eq!(schedule.look(), Next::Look);
        assert_eq!(schedule.finished(true, start), Next::Run, "the commit showed");
    }

    #[test]
    fn a_failed_pass_is_retried_shortly_and_a_pass_asked_meanwhile_runs_then() {
        let (mut schedule, now) = (Schedule::new(POLL, WINDOW), Instant::now());
        schedule.wanted();
        schedule.wanted();
        assert_eq!(schedule.failed(), Next::After(RETRY_AFTER_ERROR));
        assert_eq!(schedule.wanted(), Next::Run, "not running any more");
        assert_eq!(schedule.finished(false, now), Next::After(POLL), "the ask made during the failed pass is spent");
    }

    #[test]
    fn failures_in_a_row_back_off_up_to_five_seconds_and_a_pass_that_ends_resets_them() {
        let (mut schedule, now) = (Schedule::new(POLL, WINDOW), Instant::now());
        let delays: Vec<Next> = (0..8)
            .map(|_| {
                schedule.wanted();
                schedule.failed()
            })
            .collect();
        let expected = [100, 200, 400, 800, 1600, 3200, 5000, 5000].map(|n| Next::After(ms(n)));
        assert_eq!(delays, expected);
        schedule.wanted();
        schedule.finished(false, now);
        schedule.wanted();
        assert_eq!(schedule.failed(), Next::After(RETRY_AFTER_ERROR), "a pass that ended resets the backoff");
    }
}
