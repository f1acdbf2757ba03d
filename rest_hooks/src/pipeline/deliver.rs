//! Making an attempt: a leased job runs through the engine's deliverer, the application hears of
//! it, and the retry policy gives its [`Verdict`]. The delivery actor starts these as tasks; the
//! outcome writer records what they return.
//!
//! Each attempt runs in a `tracing` span, `rest_hooks.attempt`, carrying the delivery id, the hook
//! id, the event and the attempt number, and is counted in the engine's
//! [metrics](crate::foundation::metrics): its outcome, its duration and, for a first attempt, how
//! long after its event's recording it started.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use actix::Message;
use tracing::Instrument;
use uuid::Uuid;

use crate::foundation::delivery::Sent;
use crate::foundation::error::DeliveryError;
use crate::foundation::hook::HookTarget;
use crate::foundation::job::{InFlight, Job};
use crate::foundation::metrics::Outcome as Counted;
use crate::foundation::panics::{catch, catch_async};
use crate::foundation::retry::{Verdict, random_sample};
use crate::foundation::slots::receiver_of;
use crate::foundation::wire::{Request, Response};
use crate::runtime::shared::Shared;

/// Runs one job: gives it back when the engine stopped, skips it when its hook was disabled here
/// after it was leased (disabling fails its row), else makes the attempt.
pub(crate) async fn run(shared: &Arc<Shared>, job: Job) -> Outcome {
    if shared.stopped.load(Ordering::Acquire) {
        return Outcome::released(job);
    }
    let leased_at = job.lease_until.saturating_sub(shared.config.lease_ms());
    if shared.disabled_until(&job.hook.id.to_string()).is_some_and(|until| leased_at <= until) {
        return Outcome::skipped(job);
    }
    let span = tracing::info_span!(
        "rest_hooks.attempt",
        delivery_id = %job.id,
        hook_id = %job.hook.id,
        event = %job.event,
        attempt = job.attempt,
    );
    attempt(Arc::clone(shared), job).instrument(span).await
}

/// Sends `request` with the engine's deliverer, within the attempt deadline; a panicking deliverer
/// is an error like any other.
pub(crate) async fn send(shared: &Shared, request: &Request) -> Result<Response, DeliveryError> {
    let deadline = shared.config.attempt_deadline();
    tokio::time::timeout(deadline, catch_async(shared.deliverer.deliver(request)))
        .await
        .unwrap_or_else(|_| {
            Ok(Err(DeliveryError::Timeout(format!("the deliverer did not answer within {deadline:?}"))))
        })
        .unwrap_or_else(|panic| Err(DeliveryError::Panicked(panic)))
}

/// Makes one attempt, tells the application, and asks the retry policy what follows.
async fn attempt(shared: Arc<Shared>, job: Job) -> Outcome {
    let Job { id, hook, event, body, attempt, lease_until, outbox_id, created_at, recorded_at, order_key, recorded } =
        job;
    let request = Request { delivery_id: id, hook, event: event.to_string(), body, attempt };
    let metrics = &shared.config.metrics;
    let first_after = (attempt == 1).then(|| since(recorded_at, shared.clock.now_ms()));
    metrics.receiver_request(|| receiver_of(&request.hook.target), 1.0);
    let started = std::time::Instant::now();
    let outcome = send(&shared, &request).await;
    metrics.receiver_request(|| receiver_of(&request.hook.target), -1.0);
    let sent = Sent {
        delivery_id: request.delivery_id,
        hook: request.hook,
        event: request.event,
        body: request.body,
        attempt: request.attempt,
        outcome,
        duration: started.elapsed(),
    };
    for hook in &shared.on_sent {
        if let Err(panic) = catch(|| hook(&sent)) {
            tracing::error!(delivery_id = %sent.delivery_id, "a sent-notification handler panicked: {panic}");
        }
    }
    let at = shared.clock.now_ms();
    let age = since(created_at, at);
    let verdict = shared.retry_policy(&sent.hook).decide(sent.attempt, &sent.outcome, age, at, random_sample());
    metrics.attempted(Counted::of(&verdict, sent.outcome.as_ref().err()), sent.duration, first_after);
    if matches!(verdict, Verdict::Disable { .. }) {
        // Requests of this hook not started yet are not sent, even before the outcome is written.
        shared.hook_disabled(&sent.hook.id.to_string(), at.saturating_add(shared.config.lease_ms()));
    }
    let (status, error, excerpt) = match sent.outcome {
        Ok(response) => (Some(response.status), None, Some(response.body)),
        Err(error) => (None, Some(error), None),
    };
    let unrecorded = (!recorded).then(|| {
        Box::new(Unrecorded {
            outbox_id,
            hook_id: sent.hook.id.to_string(),
            event: sent.event,
            target: sent.hook.target.clone(),
            body: sent.body,
            created_at,
        })
    });
    Outcome {
        id: sent.delivery_id,
        lease_until: Some(lease_until),
        in_flight: None,
        unrecorded,
        attempt: Some(Attempted {
            hook: sent.hook,
            outbox_id,
            number: sent.attempt,
            lease_until,
            at,
            duration: sent.duration,
            status,
            error,
            excerpt,
            verdict,
            ordered: order_key.is_some(),
        }),
    }
}

/// The time from `then` to `now` (Unix ms), none if `then` is later.
fn since(then: i64, now: i64) -> Duration {
    Duration::from_millis(u64::try_from(now.saturating_sub(then)).unwrap_or(0))
}

/// The result of one attempt, as written to the attempt log and the delivery row.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Outcome {
    pub(crate) id: Uuid,
    /// What was attempted; `None` for a job that was not attempted (see `release`).
    pub(crate) attempt: Option<Attempted>,
    /// The lease the job held; a job not attempted because the engine stopped gives it back.
    pub(crate) lease_until: Option<i64>,
    /// Counts the delivery in flight (or, for one [waiting](Self::waiting), its row unwritten)
    /// until the outcome is written.
    pub(crate) in_flight: Option<InFlight>,
    /// For a delivery started without a row (its event held): what its row is written with.
    pub(crate) unrecorded: Option<Box<Unrecorded>>,
}

/// What the row of a delivery started without one is written with, beside its outcome.
#[derive(Debug)]
pub(crate) struct Unrecorded {
    /// The event, which holds the delivery until its row is written.
    pub(crate) outbox_id: i64,
    pub(crate) hook_id: String,
    pub(crate) event: String,
    pub(crate) target: String,
    pub(crate) body: String,
    /// When the delivery was created (Unix ms).
    pub(crate) created_at: i64,
}

impl Unrecorded {
    fn of(job: Job) -> Option<Box<Self>> {
        (!job.recorded).then(|| {
            Box::new(Self {
                outbox_id: job.outbox_id,
                hook_id: job.hook.id.to_string(),
                event: job.event.to_string(),
                target: job.hook.target,
                body: job.body,
                created_at: job.created_at,
            })
        })
    }
}

/// One attempt that was made.
#[derive(Debug)]
pub(crate) struct Attempted {
    pub(crate) hook: HookTarget,
    pub(crate) outbox_id: i64,
    pub(crate) number: u32,
    pub(crate) lease_until: i64,
    /// When it ended (engine clock, Unix ms).
    pub(crate) at: i64,
    pub(crate) duration: Duration,
    pub(crate) status: Option<u16>,
    pub(crate) error: Option<DeliveryError>,
    pub(crate) excerpt: Option<String>,
    pub(crate) verdict: Verdict,
    /// Whether the delivery was held in order: the next one about its instance waits for it.
    pub(crate) ordered: bool,
}

impl Outcome {
    /// A job not attempted because its hook was disabled after it was leased: the disabling failed
    /// its row, or, for a delivery without one, its row is written failed.
    pub(crate) fn skipped(job: Job) -> Self {
        Self { id: job.id, attempt: None, lease_until: None, in_flight: None, unrecorded: Unrecorded::of(job) }
    }

    /// A job not attempted because the engine stopped: its lease is given back (a delivery without
    /// a row gets one, unleased) so that the next start takes it at once.
    pub(crate) fn released(job: Job) -> Self {
        let (id, lease_until) = (job.id, job.lease_until);
        Self { id, attempt: None, lease_until: Some(lease_until), in_flight: None, unrecorded: Unrecorded::of(job) }
    }

    /// A new delivery that waits for its receiver (no slot or queue place free at dispatch), handed
    /// to the outcome writer to be written unleased — its event held until then — so that the
    /// dispatch pass does not wait for the rows of a slow receiver's backlog. `unwritten` counts it
    /// until its row is written.
    pub(crate) fn waiting(mut job: Job, unwritten: InFlight) -> Self {
        job.recorded = false;
        let mut outcome = Self::released(job);
        outcome.in_flight = Some(unwritten);
        outcome
    }

    /// Whether this is the row of a new delivery waiting for its receiver (see [`Self::waiting`]),
    /// or of one given back at shutdown: once written, its receiver has work waiting in the
    /// database.
    pub(crate) fn waits(&self) -> bool {
        self.attempt.is_none() && self.lease_until.is_some() && self.unrecorded.is_some()
    }

    /// The outcome as written under `lease_until`, the lease its delivery (or its event) holds now.
    pub(crate) fn under(&mut self, lease_until: i64) {
        if self.lease_until.is_some() {
            self.lease_until = Some(lease_until);
        }
        if let Some(attempted) = &mut self.attempt {
            attempted.lease_until = lease_until;
        }
    }
}
