//! The engine's metrics: every name, type and label is defined here once, with the helpers that
//! record them through the [`metrics`] facade.
//!
//! The application installs whatever recorder or exporter it likes (Prometheus, StatsD, …); without
//! one, recording is a no-op. Names follow Prometheus conventions (units in the name, `_total` on
//! counters) and no label takes unbounded values by default: no URLs, hook ids or owners. The
//! constant labels of [`Builder::metrics_label`](crate::Builder::metrics_label) go on every metric;
//! the receiver label goes on the per-receiver gauge only, which the application opts into.

use std::time::Duration;

use metrics::{Label, Unit};

use crate::foundation::error::DeliveryError;
use crate::foundation::retry::Verdict;

/// Attempts by what came of them (label `outcome`, see [`Outcome`]).
pub(crate) const DELIVERIES: &str = "rest_hooks_deliveries_total";
/// How long each attempt took, from the request's start to its answer or failure.
pub(crate) const ATTEMPT_DURATION: &str = "rest_hooks_attempt_duration_seconds";
/// From the event's recording (its outbox row) to the start of its delivery's first attempt.
pub(crate) const FIRST_ATTEMPT_LATENCY: &str = "rest_hooks_first_attempt_latency_seconds";
/// Events recorded and not yet dispatched (an event held while its first attempts are under way is
/// not counted).
pub(crate) const OUTBOX_PENDING: &str = "rest_hooks_outbox_pending";
/// Delivery rows not yet delivered nor given up (a first attempt started at dispatch has its row
/// once its outcome is written).
pub(crate) const DELIVERIES_PENDING: &str = "rest_hooks_deliveries_pending";
/// Pending deliveries due now that no process holds.
pub(crate) const DELIVERIES_DUE: &str = "rest_hooks_deliveries_due";
/// Pending deliveries under a live lease, of any process.
pub(crate) const DELIVERIES_LEASED: &str = "rest_hooks_deliveries_leased";
/// Deliveries this process holds: requests under way or queued, outcomes not yet written.
pub(crate) const IN_FLIGHT: &str = "rest_hooks_deliveries_in_flight";
/// Requests under way to one receiver (label `receiver`); only when the application opts in.
pub(crate) const RECEIVER_IN_FLIGHT: &str = "rest_hooks_receiver_requests_in_flight";
/// How long each dispatch pass took.
pub(crate) const DISPATCH_DURATION: &str = "rest_hooks_dispatch_pass_duration_seconds";
/// Hooks the engine disabled (a 410 answer, or failing for the whole `disable_after` period).
pub(crate) const HOOKS_DISABLED: &str = "rest_hooks_hooks_disabled_total";
/// Events a dispatch pass could not turn into deliveries, by `outcome`: `deferred` (a database
/// error: the event stays pending and is tried again later) or `failed` (the event itself cannot
/// be dispatched: it is marked failed, and can be replayed once the cause is fixed).
pub(crate) const DISPATCH_ERRORS: &str = "rest_hooks_dispatch_errors_total";

/// Statements the engine ran on its own connection: dispatching, claiming, outcomes, leases,
/// retention and the subscription API (not the outbox inserts, made through the application's).
pub(crate) const ENGINE_STATEMENTS: &str = "rest_hooks_engine_statements_total";

/// A metric's kind, for its description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every metric: name, kind, unit and description, as described when an engine starts.
pub(crate) const ALL: &[(&str, Kind, Unit, &str)] = &[
    (DELIVERIES, Kind::Counter, Unit::Count, "Attempts by outcome: delivered, retried, dead, refused, disabled."),
    (ATTEMPT_DURATION, Kind::Histogram, Unit::Seconds, "How long each attempt took."),
    (
        FIRST_ATTEMPT_LATENCY,
        Kind::Histogram,
        Unit::Seconds,
        "From an event's recording to the start of its delivery's first attempt.",
    ),
    (OUTBOX_PENDING, Kind::Gauge, Unit::Count, "Events recorded and not yet dispatched."),
    (DELIVERIES_PENDING, Kind::Gauge, Unit::Count, "Deliveries not yet delivered nor given up."),
    (DELIVERIES_DUE, Kind::Gauge, Unit::Count, "Pending deliveries due now that no process holds."),
    (DELIVERIES_LEASED, Kind::Gauge, Unit::Count, "Pending deliveries under a live lease, of any process."),
    (IN_FLIGHT, Kind::Gauge, Unit::Count, "Deliveries this process holds: under way, queued, or being written."),
    (RECEIVER_IN_FLIGHT, Kind::Gauge, Unit::Count, "Requests under way to one receiver (opt-in)."),
    (DISPATCH_DURATION, Kind::Histogram, Unit::Seconds, "How long each dispatch pass took."),
    (HOOKS_DISABLED, Kind::Counter, Unit::Count, "Hooks the engine disabled."),
    (
        DISPATCH_ERRORS,
        Kind::Counter,
        Unit::Count,
        "Events not dispatched by outcome: deferred (a database error, tried again) or failed (replayable).",
    ),
    (
        ENGINE_STATEMENTS,
        Kind::Counter,
        Unit::Count,
        "Statements the engine ran on its own connection (the outbox inserts of saves excluded).",
    ),
];

/// What came of one attempt, the `outcome` label of [`DELIVERIES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A 2xx answer.
    Delivered,
    /// A failure that will be tried again.
    Retried,
    /// A failure after which the delivery is given up ("dead", replayable).
    Dead,
    /// Never sent: the SSRF guard refused the target, or the request could not be signed.
    Refused,
    /// A 410 answer: the hook is disabled.
    Disabled,
}

impl Outcome {
    /// The outcome of an attempt that failed with `error` (if it did) and got `verdict`.
    pub(crate) fn of(verdict: &Verdict, error: Option<&DeliveryError>) -> Self {
        match (verdict, error) {
            (_, Some(DeliveryError::Forbidden(_) | DeliveryError::Signing(_))) => Self::Refused,
            (Verdict::Delivered, _) => Self::Delivered,
            (Verdict::Retry { .. }, _) => Self::Retried,
            (Verdict::Disable { .. }, _) => Self::Disabled,
            _ => Self::Dead,
        }
    }

    /// The label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retried => "retried",
            Self::Dead => "dead",
            Self::Refused => "refused",
            Self::Disabled => "disabled",
        }
    }
}

/// How one engine records: the constant labels it puts on every metric, and whether it keeps the
/// per-receiver gauge.
#[derive(Clone, Debug, Default)]
pub(crate) struct Metrics {
    labels: Vec<Label>,
    per_receiver: bool,
}

/// The sample backlog gauges are set from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Backlog {
    pub(crate) outbox_pending: u64,
    pub(crate) pending: u64,
    pub(crate) due: u64,
    pub(crate) leased: u64,
}

impl Metrics {
    /// Adds a constant label put on every metric.
    pub(crate) fn label(&mut self, key: String, value: String) {
        self.labels.push(Label::new(key, value));
    }

    /// Keeps the per-receiver gauge, or not.
    pub(crate) fn per_receiver(&mut self, on: bool) {
        self.per_receiver = on;
    }

    /// Describes every metric to the recorder installed now.
    pub(crate) fn describe() {
        for &(name, kind, unit, description) in ALL {
            match kind {
                Kind::Counter => metrics::describe_counter!(name, unit, description),
                Kind::Gauge => metrics::describe_gauge!(name, unit, description),
                Kind::Histogram => metrics::describe_histogram!(name, unit, description),
            }
        }
    }

    /// One attempt: its outcome and duration, and for a first attempt how long after the event's
    /// recording it started.
    pub(crate) fn attempted(&self, outcome: Outcome, duration: Duration, first_after: Option<Duration>) {
        let mut labels = self.labels.clone();
        labels.push(Label::from_static_parts("outcome", outcome.as_str()));
        metrics::counter!(DELIVERIES, labels).increment(1);
        metrics::histogram!(ATTEMPT_DURATION, self.labels.clone()).record(duration.as_secs_f64());
        if let Some(latency) = first_after {
            metrics::histogram!(FIRST_ATTEMPT_LATENCY, self.labels.clone()).record(latency.as_secs_f64());
        }
    }

    /// A request to `receiver` starts (`+1`) or ends (`-1`), when the per-receiver gauge is kept.
    pub(crate) fn receiver_request(&self, receiver: impl FnOnce() -> String, change: f64) {
        if self.per_receiver {
            let mut labels = self.labels.clone();
            labels.push(Label::new("receiver", receiver()));
            metrics::gauge!(RECEIVER_IN_FLIGHT, labels).increment(change);
        }
    }

    /// Deliveries this process holds now.
    pub(crate) fn in_flight(&self, count: usize) {
        metrics::gauge!(IN_FLIGHT, self.labels.clone()).set(count as f64);
    }

    /// The backlog as just measured.
    pub(crate) fn backlog(&self, backlog: Backlog) {
        for (name, value) in [
            (OUTBOX_PENDING, backlog.outbox_pending),
            (DELIVERIES_PENDING, backlog.pending),
            (DELIVERIES_DUE, backlog.due),
            (DELIVERIES_LEASED, backlog.leased),
        ] {
            metrics::gauge!(name, self.labels.clone()).set(value as f64);
        }
    }

    /// One dispatch pass took `duration`.
    pub(crate) fn dispatch_pass(&self, duration: Duration) {
        metrics::histogram!(DISPATCH_DURATION, self.labels.clone()).record(duration.as_secs_f64());
    }

    /// A pass could not dispatch an event: `failed` for good, or deferred to a later pass.
    pub(crate) fn dispatch_error(&self, failed: bool) {
        let mut labels = self.labels.clone();
        labels.push(Label::from_static_parts("outcome", if failed { "failed" } else { "deferred" }));
        metrics::counter!(DISPATCH_ERRORS, labels).increment(1);
    }

    /// What counts the statements of the engine's connection: a callback for
    /// [`DatabaseConnection::set_metric_callback`](sea_orm::DatabaseConnection::set_metric_callback).
    pub(crate) fn statement_counter(&self) -> impl Fn(&sea_orm::metric::Info<'_>) + Send + Sync + 'static {
        let labels = self.labels.clone();
        move |_| metrics::counter!(ENGINE_STATEMENTS, labels.clone()).increment(1)
    }

    /// The engine disabled `count` hooks.
    pub(crate) fn hooks_disabled(&self, count: usize) {
        if count > 0 {
            metrics::counter!(HOOKS_DISABLED, self.labels.clone()).increment(count as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_s_outcome_follows_its_verdict_and_error() {
        let retry = Verdict::Retry { after: Duration::from_secs(1) };
        let give_up = Verdict::GiveUp { reason: String::new() };
        let refused = DeliveryError::Forbidden("loopback".to_owned());
        let timeout = DeliveryError::Timeout(String::new());
        assert_eq!(Outcome::of(&Verdict::Delivered, None), Outcome::Delivered);
        assert_eq!(Outcome::of(&retry, Some(&timeout)), Outcome::Retried);
        assert_eq!(Outcome::of(&give_up, Some(&timeout)), Outcome::Dead);
        assert_eq!(Outcome::of(&give_up, Some(&refused)), Outcome::Refused);
        assert_eq!(Outcome::of(&Verdict::Disable { reason: String::new() }, None), Outcome::Disabled);
    }

    #[test]
    fn names_follow_prometheus_conventions_and_the_guide_lists_each() {
        let guide = include_str!("../../guide/operating.md");
        for &(name, kind, unit, _) in ALL {
            assert!(name.starts_with("rest_hooks_"), "{name}");
            assert_eq!(kind == Kind::Counter, name.ends_with("_total"), "{name}");
            assert_eq!(unit == Unit::Seconds, name.ends_with("_seconds"), "{name}");
            assert!(guide.contains(&format!("`{name}`")), "rest_hooks/guide/operating.md does not list `{name}`");
        }
    }
}
