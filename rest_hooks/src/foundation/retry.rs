//! The retry policy: what happens after an attempt, decided by one pure function.
//!
//! [`RetryPolicy::decide`] takes the attempt number, what the receiver answered (or why it did not),
//! the delivery's age, the time and a random sample for the jitter, and returns a [`Verdict`]:
//! delivered, try again after a delay, give up, or disable the hook. It reads no clock and no
//! database, so every case is checked by unit tests.
//!
//! The rules:
//!
//! * 2xx: delivered.
//! * 410 Gone: the receiver unsubscribed; the hook is disabled at once (the REST Hooks convention).
//! * 3xx (never followed), other 4xx and 5xx, timeouts, connection and TLS errors, and a deliverer
//!   that panicked: tried again on the schedule.
//! * 429, 502, 503 and 504 slow down: the delay is at least twice the scheduled one and at least
//!   [`slow_down_min`](RetryPolicy::slow_down_min).
//! * `Retry-After` (seconds or an HTTP date) is honoured up to
//!   [`retry_after_max`](RetryPolicy::retry_after_max): the delay is at least what it asks.
//! * A target the SSRF guard refuses before connecting (an IP literal or a name it refuses, a
//!   scheme `https_only` refuses), and a request that cannot be signed (a malformed stored secret),
//!   give up at once: both follow from this process's configuration, not from a passing failure,
//!   and trying again for a day and a half would only hide them. Such deliveries stay visible as
//!   failed and can be replayed once the configuration is fixed. A host name that resolves only to
//!   refused addresses gives up at once the same way (the guard refuses it before connecting);
//!   replay it once the name points elsewhere or the allow-list admits it.
//! * After [`max_attempts`](RetryPolicy::max_attempts) attempts, or once the next attempt would come
//!   later than [`max_age`](RetryPolicy::max_age) after the delivery was created, the delivery gives
//!   up ("dead": failed, replayable).

use std::time::Duration;

use crate::foundation::error::DeliveryError;
use crate::foundation::wire::Response;

/// When deliveries are tried again. Cheap to clone.
///
/// ```
/// use std::time::Duration;
/// use rest_hooks::RetryPolicy;
///
/// // Three attempts a minute apart, no jitter.
/// let policy = RetryPolicy::new([Duration::ZERO, Duration::from_secs(60), Duration::from_secs(60)])
///     .jitter(0.0);
/// assert_eq!(policy.max_attempts(), 3);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    schedule: Vec<Duration>,
    max_attempts: u32,
    max_age: Duration,
    jitter: f64,
    retry_after_max: Duration,
    slow_down_min: Duration,
}

/// The default schedule: the delay before each attempt, the first one immediate.
pub const DEFAULT_SCHEDULE: [Duration; 8] = [
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

impl Default for RetryPolicy {
    /// [`DEFAULT_SCHEDULE`] (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts
    /// over about 28 hours), jitter ±10 %, at most 3 days of age, `Retry-After` honoured up to 6 h,
    /// slow-downs of at least 30 s.
    fn default() -> Self {
        Self::new(DEFAULT_SCHEDULE)
    }
}

impl RetryPolicy {
    /// A policy with `schedule`: the delay before each attempt, the first entry for the first
    /// attempt (normally zero; it is not applied, the first attempt is made when the event is
    /// dispatched). The number of attempts is the schedule's length (at least one); the other
    /// settings are the defaults.
    pub fn new(schedule: impl IntoIterator<Item = Duration>) -> Self {
        let schedule: Vec<Duration> = schedule.into_iter().collect();
        let max_attempts = u32::try_from(schedule.len()).unwrap_or(u32::MAX).max(1);
        Self {
            schedule,
            max_attempts,
            max_age: Duration::from_secs(3 * 24 * 3600),
            jitter: 0.1,
            retry_after_max: Duration::from_secs(6 * 3600),
            slow_down_min: Duration::from_secs(30),
        }
    }

    /// A policy that never tries again: one attempt.
    pub fn no_retries() -> Self {
        Self::new([Duration::ZERO])
    }

    /// The most attempts made, the first one included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Caps the attempts at `attempts` (at least 1); past the end of the schedule its last delay
    /// repeats. Default: the schedule's length.
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Gives up on a delivery whose next attempt would come later than `age` after it was created.
    /// Default: 3 days.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// Spreads each delay by up to ± `fraction` of it (clamped to 0..=1), so that deliveries that
    /// failed together do not come back together. Default: 0.1.
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = if fraction.is_nan() { 0.0 } else { fraction.clamp(0.0, 1.0) };
        self
    }

    /// The longest `Retry-After` honoured; longer requests wait this long. Default: 6 h.
    pub fn retry_after_max(mut self, max: Duration) -> Self {
        self.retry_after_max = max;
        self
    }

    /// The shortest delay after 429, 502, 503 or 504. Default: 30 s.
    pub fn slow_down_min(mut self, min: Duration) -> Self {
        self.slow_down_min = min;
        self
    }

    /// The scheduled delay before attempt `attempt` (from 1), without jitter.
    pub fn delay_before(&self, attempt: u32) -> Duration {
        let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
        self.schedule.get(index).or(self.schedule.last()).copied().unwrap_or_default()
    }

    /// Decides what follows attempt `attempt` (from 1) of a delivery created `age` ago, which got
    /// `outcome`, at `now_ms` (Unix ms, for `Retry-After` dates). `random` is a sample from
    /// `0.0..1.0` that places the jitter.
    pub fn decide(
        &self,
        attempt: u32,
        outcome: &Result<Response, DeliveryError>,
        age: Duration,
        now_ms: i64,
        random: f64,
    ) -> Verdict {
        let mut floor = Duration::ZERO;
        let mut slow_down = false;
        match outcome {
            Ok(response) if response.is_success() => return Verdict::Delivered,
            Ok(response) if response.status == 410 => {
                return Verdict::Disable { reason: "the target answered 410 Gone".to_owned() };
            }
            Ok(response) => {
                slow_down = matches!(response.status, 429 | 502 | 503 | 504);
                if let Some(asked) = response.retry_after.as_deref().and_then(|value| retry_after(value, now_ms)) {
                    floor = asked.min(self.retry_after_max);
                }
            }
            Err(DeliveryError::Forbidden(_)) => {
                return Verdict::GiveUp { reason: "the SSRF guard refuses the target".to_owned() };
            }
            Err(DeliveryError::Signing(_)) => {
                return Verdict::GiveUp { reason: "the request cannot be signed".to_owned() };
            }
            Err(_) => {}
        }
        if attempt >= self.max_attempts {
            return Verdict::GiveUp { reason: format!("{attempt} attempts made, the most allowed") };
        }
        let scheduled = self.delay_before(attempt.saturating_add(1));
        let mut delay = spread(scheduled, self.jitter, random);
        if slow_down {
            delay = delay.max(scheduled.saturating_mul(2)).max(self.slow_down_min);
        }
        delay = delay.max(floor);
        if age.saturating_add(delay) > self.max_age {
            return Verdict::GiveUp {
                reason: format!("the next attempt would come after the {:?} allowed", self.max_age),
            };
        }
        Verdict::Retry { after: delay }
    }
}

/// What follows an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// The receiver took it.
    Delivered,
    /// Try again after this delay.
    Retry {
        /// How long to wait.
        after: Duration,
    },
    /// No further attempt: the delivery is failed ("dead") and can be replayed.
    GiveUp {
        /// Why.
        reason: String,
    },
    /// Disable the hook: nothing more is sent to it.
    Disable {
        /// Why.
        reason: String,
    },
}

/// `delay` moved by up to ± `jitter` of itself, where `random` (0..1) falls.
fn spread(delay: Duration, jitter: f64, random: f64) -> Duration {
    let random = if random.is_finite() { random.clamp(0.0, 1.0) } else { 0.5 };
    let factor = 1.0 + jitter * (2.0 * random - 1.0);
    let millis = (delay.as_millis() as f64 * factor).round();
    if millis.is_finite() && millis >= 0.0 && millis < u64::MAX as f64 {
        Duration::from_millis(millis as u64)
    } else {
        delay
    }
}

/// The wait a `Retry-After` value asks for at `now_ms`: delay-seconds or an HTTP date. `None` when
/// it is neither.
pub fn retry_after(value: &str, now_ms: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.timestamp_millis().saturating_sub(now_ms);
    Some(Duration::from_millis(u64::try_from(wait).unwrap_or(0)))
}

/// A sample from `0.0..1.0` for the jitter: not cryptographic, only spread.
pub(crate) fn random_sample() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    // Each `RandomState` has fresh keys: hashing nothing with them gives a new number each time.
    let bits = std::collections::hash_map::RandomState::new().build_hasher().finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn status(status: u16) -> Result<Response, DeliveryError> {
        Ok(Response::new(status, ""))
    }

    fn after(status: u16, retry_after: &str) -> Result<Response, DeliveryError> {
        Ok(Response::new(status, "").with_retry_after(retry_after))
    }

    fn exact() -> RetryPolicy {
        RetryPolicy::default().jitter(0.0)
    }

    fn retry(seconds: u64) -> Verdict {
        Verdict::Retry { after: Duration::from_secs(seconds) }
    }

    #[test]
    fn success_is_delivered_whatever_the_attempt() {
        for code in [200, 201, 204, 299] {
            for attempt in [1, 8, 100] {
                assert_eq!(exact().decide(attempt, &status(code), Duration::ZERO, NOW, 0.5), Verdict::Delivered);
            }
        }
    }

    #[test]
    fn the_default_schedule_is_followed_then_given_up() {
        let expected = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];
        let mut age = Duration::ZERO;
        for (attempt, seconds) in (1..).zip(expected) {
            assert_eq!(exact().decide(attempt, &status(500), age, NOW, 0.9), retry(seconds), "after attempt {attempt}");
            age += Duration::from_secs(seconds);
        }
        let verdict = exact().decide(8, &status(500), age, NOW, 0.5);
        assert_eq!(verdict, Verdict::GiveUp { reason: "8 attempts made, the most allowed".to_owned() });
    }

    #[test]
    fn every_retried_failure_retries() {
        let failures = [
            status(300),
            status(301),
            status(302),
            status(400),
            status(401),
            status(404),
            status(500),
            status(501),
            Err(DeliveryError::Timeout("slow".into())),
            Err(DeliveryError::Connect("refused".into())),
            Err(DeliveryError::Request("tls".into())),
            Err(DeliveryError::Panicked("boom".into())),
        ];
        for outcome in &failures {
            assert_eq!(exact().decide(1, outcome, Duration::ZERO, NOW, 0.5), retry(5), "{outcome:?}");
        }
    }

    #[test]
    fn gone_disables_on_any_attempt() {
        for attempt in [1, 5, 8] {
            let verdict = exact().decide(attempt, &status(410), Duration::ZERO, NOW, 0.5);
            assert_eq!(verdict, Verdict::Disable { reason: "the target answered 410 Gone".to_owned() });
        }
    }

    #[test]
    fn refused_and_unsignable_requests_give_up_at_once() {
        let refused = exact().decide(1, &Err(DeliveryError::Forbidden("x".into())), Duration::ZERO, NOW, 0.5);
        assert_eq!(refused, Verdict::GiveUp { reason: "the SSRF guard refuses the target".to_owned() });
        let unsigned = exact().decide(1, &Err(DeliveryError::Signing("x".into())), Duration::ZERO, NOW, 0.5);
        assert_eq!(unsigned, Verdict::GiveUp { reason: "the request cannot be signed".to_owned() });
    }

    #[test]
    fn slow_down_statuses_wait_at_least_twice_as_long_and_30_s() {
        for code in [429, 502, 503, 504] {
            assert_eq!(exact().decide(1, &status(code), Duration::ZERO, NOW, 0.5), retry(30), "{code}");
            assert_eq!(exact().decide(2, &status(code), Duration::ZERO, NOW, 0.5), retry(600), "{code}");
        }
        assert_eq!(exact().decide(1, &status(500), Duration::ZERO, NOW, 0.5), retry(5));
    }

    #[test]
    fn retry_after_seconds_and_dates_are_honoured_within_the_clamp() {
        assert_eq!(exact().decide(1, &after(429, "120"), Duration::ZERO, NOW, 0.5), retry(120));
        assert_eq!(exact().decide(1, &after(503, " 45 "), Duration::ZERO, NOW, 0.5), retry(45));
        // Shorter than the schedule: the schedule wins.
        assert_eq!(exact().decide(2, &after(500, "10"), Duration::ZERO, NOW, 0.5), retry(300));
        // Longer than the clamp: the clamp.
        assert_eq!(exact().decide(1, &after(429, "999999"), Duration::ZERO, NOW, 0.5), retry(6 * 3600));
        // An HTTP date 10 minutes after now.
        let date = chrono::DateTime::from_timestamp_millis(NOW + 600_000).unwrap().to_rfc2822();
        let date = date.replace("+0000", "GMT");
        assert_eq!(exact().decide(1, &after(503, &date), Duration::ZERO, NOW, 0.5), retry(600));
        // A date in the past or garbage: the usual rules.
        let past = chrono::DateTime::from_timestamp_millis(NOW - 600_000).unwrap().to_rfc2822();
        assert_eq!(exact().decide(1, &after(500, &past), Duration::ZERO, NOW, 0.5), retry(5));
        assert_eq!(exact().decide(1, &after(500, "soon"), Duration::ZERO, NOW, 0.5), retry(5));
        assert_eq!(exact().decide(1, &after(500, "-5"), Duration::ZERO, NOW, 0.5), retry(5));
    }

    #[test]
    fn retry_after_parses_both_forms() {
        assert_eq!(retry_after("0", NOW), Some(Duration::ZERO));
        assert_eq!(retry_after("Tue, 14 Nov 2023 22:13:20 GMT", NOW), Some(Duration::ZERO));
        assert_eq!(retry_after("Tue, 14 Nov 2023 22:14:20 GMT", NOW), Some(Duration::from_secs(60)));
        assert_eq!(retry_after("tomorrow", NOW), None);
    }

    #[test]
    fn jitter_stays_within_its_bounds_and_spreads() {
        let policy = RetryPolicy::default().jitter(0.2);
        let at = |random| match policy.decide(2, &status(500), Duration::ZERO, NOW, random) {
            Verdict::Retry { after } => after,
            other => panic!("{other:?}"),
        };
        assert_eq!(at(0.0), Duration::from_secs(240));
        assert_eq!(at(0.5), Duration::from_secs(300));
        assert!(at(0.999_999) <= Duration::from_secs(360));
        assert!(at(0.999_999) > Duration::from_secs(359));
        for _ in 0..1000 {
            let delay = at(random_sample());
            assert!((Duration::from_secs(240)..=Duration::from_secs(360)).contains(&delay), "{delay:?}");
        }
        // Out-of-range samples and fractions are clamped.
        assert_eq!(at(7.0), Duration::from_secs(360));
        assert_eq!(at(f64::NAN), Duration::from_secs(300));
        assert_eq!(RetryPolicy::default().jitter(5.0).jitter, 1.0);
        assert_eq!(RetryPolicy::default().jitter(-1.0).jitter, 0.0);
    }

    #[test]
    fn the_age_cap_gives_up_before_a_late_attempt() {
        let policy = exact().max_age(Duration::from_secs(3600));
        assert_eq!(policy.decide(3, &status(500), Duration::from_secs(1000), NOW, 0.5), retry(1800));
        let verdict = policy.decide(3, &status(500), Duration::from_secs(2000), NOW, 0.5);
        assert!(matches!(verdict, Verdict::GiveUp { .. }), "{verdict:?}");
    }

    #[test]
    fn more_attempts_than_the_schedule_repeat_its_last_delay() {
        let policy = RetryPolicy::new([Duration::ZERO, Duration::from_secs(1)]).jitter(0.0).with_max_attempts(4);
        assert_eq!(policy.decide(1, &status(500), Duration::ZERO, NOW, 0.5), retry(1));
        assert_eq!(policy.decide(3, &status(500), Duration::ZERO, NOW, 0.5), retry(1));
        assert!(matches!(policy.decide(4, &status(500), Duration::ZERO, NOW, 0.5), Verdict::GiveUp { .. }));
        assert!(matches!(
            RetryPolicy::no_retries().decide(1, &status(500), Duration::ZERO, NOW, 0.5),
            Verdict::GiveUp { .. }
        ));
        assert_eq!(RetryPolicy::new([]).max_attempts(), 1);
    }

    #[test]
    fn random_samples_are_in_range() {
        for _ in 0..1000 {
            assert!((0.0..1.0).contains(&random_sample()));
        }
    }
}
