//! A delivery to make, as the dispatcher hands it out: the job, the lease that holds it, and the
//! request slot or queue place it goes to.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use uuid::Uuid;

use crate::foundation::hook::HookTarget;
use crate::foundation::slots::{Reserved, Slot};

/// One delivery to make.
#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub(crate) id: Uuid,
    pub(crate) hook: HookTarget,
    pub(crate) event: Arc<str>,
    pub(crate) body: String,
    pub(crate) attempt: u32,
    /// Until when this process holds the delivery (Unix ms); outcomes are written only under it.
    pub(crate) lease_until: i64,
    /// The outbox row (the event) it came from.
    pub(crate) outbox_id: i64,
    /// When the delivery was created (Unix ms), for the retry policy's age cap.
    pub(crate) created_at: i64,
    /// When its event was recorded (the outbox row's `created_at`, Unix ms), for the latency of
    /// first attempts.
    pub(crate) recorded_at: i64,
    /// The instance it is about, when its hook's deliveries about one instance go in order.
    pub(crate) order_key: Option<String>,
}

/// A job leased to this process, counted in flight until its outcome is written.
#[derive(Debug)]
pub(crate) struct Leased {
    pub(crate) job: Job,
    pub(crate) in_flight: InFlight,
}

impl Leased {
    /// `job`, counted in `in_flight` (the engine's count of deliveries leased here).
    pub(crate) fn new(job: Job, in_flight: &Arc<AtomicUsize>) -> Self {
        Self { job, in_flight: InFlight::new(in_flight) }
    }
}

/// A leased job and where it goes: a running slot, or a place in its receiver's queue.
#[derive(Debug)]
pub(crate) enum Ready {
    /// Starts now.
    Run(Slot<Leased>, Leased),
    /// Waits in its receiver's queue.
    Queue(Reserved<Leased>, Leased),
}

impl Ready {
    /// The job, to be adjusted before it starts.
    pub(crate) fn job_mut(&mut self) -> &mut Job {
        match self {
            Ready::Run(_, leased) | Ready::Queue(_, leased) => &mut leased.job,
        }
    }
}

/// One delivery counted in the engine's count of deliveries in flight until this is dropped: with its outcome once that
/// is written, or with its task if that is aborted.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(counter))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
