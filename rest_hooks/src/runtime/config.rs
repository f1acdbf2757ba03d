//! The tunables of a running engine, as the builder set them.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::Resolve;

use crate::foundation::delivery::HttpSettings;
use crate::foundation::metrics::Metrics;
use crate::foundation::net::TargetPolicy;
use crate::foundation::retry::RetryPolicy;

/// Tunables of a running engine.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) poll_interval: Duration,
    pub(crate) recheck_window: Duration,
    pub(crate) lease: Duration,
    pub(crate) batch_size: usize,
    pub(crate) concurrency: usize,
    pub(crate) per_target_concurrency: usize,
    pub(crate) retention: Option<Duration>,
    pub(crate) max_in_flight: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) response_excerpt: usize,
    pub(crate) process_wide: bool,
    pub(crate) deliver: bool,
    pub(crate) max_payload: usize,
    pub(crate) secret_grace: Duration,
    pub(crate) policy: Arc<TargetPolicy>,
    /// The resolver of [`Builder::resolver`], also used to check host names when hooks are saved.
    pub(crate) resolver: CustomResolver,
    pub(crate) retry: RetryPolicy,
    pub(crate) disable_after: Duration,
    pub(crate) shutdown_deadline: Duration,
    /// Where hooks are found, when not in the crate's own table: `entity `…`` or `a custom finder`.
    pub(crate) hooks_elsewhere: Option<String>,
    /// The events whose deliveries about one instance go in order, for every hook.
    pub(crate) ordered_events: Arc<HashSet<String>>,
    /// How the engine records its metrics.
    pub(crate) metrics: Metrics,
    /// How often the backlog gauges are measured.
    pub(crate) backlog_interval: Duration,
}

/// An application's resolver, if it set one.
#[derive(Clone, Default)]
pub(crate) struct CustomResolver(pub(crate) Option<Arc<dyn Resolve>>);

impl std::fmt::Debug for CustomResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "CustomResolver(set)" } else { "CustomResolver(system)" })
    }
}

impl Config {
    /// What the default HTTP deliverer is built with.
    pub(crate) fn http(&self) -> HttpSettings {
        HttpSettings {
            connect_timeout: self.connect_timeout,
            timeout: self.timeout,
            excerpt: self.response_excerpt,
            policy: Arc::clone(&self.policy),
        }
    }

    /// The lease in milliseconds, as stored.
    pub(crate) fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX)
    }

    /// How long a deliverer may take before its attempt counts as timed out: the HTTP timeout and a
    /// little slack for custom deliverers that do more than one request.
    pub(crate) fn attempt_deadline(&self) -> Duration {
        self.timeout.saturating_add(Duration::from_secs(5))
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            recheck_window: Duration::from_millis(250),
            lease: Duration::from_secs(10),
            batch_size: 256,
            concurrency: 64,
            per_target_concurrency: 16,
            retention: Some(Duration::from_secs(30 * 24 * 3600)),
            max_in_flight: 4096,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            response_excerpt: 4096,
            process_wide: true,
            deliver: true,
            max_payload: 1024 * 1024,
            secret_grace: Duration::from_secs(24 * 3600),
            policy: Arc::new(TargetPolicy::default()),
            resolver: CustomResolver::default(),
            retry: RetryPolicy::default(),
            disable_after: Duration::from_secs(5 * 24 * 3600),
            shutdown_deadline: Duration::from_secs(10),
            hooks_elsewhere: None,
            ordered_events: Arc::default(),
            metrics: Metrics::default(),
            backlog_interval: Duration::from_secs(5),
        }
    }
}
