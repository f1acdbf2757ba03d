//! A delivery to make, as the dispatcher hands it out: the job, the lease that holds it, and the
//! request slot or queue place it goes to.

use std::collections::{HashMap, HashSet};
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
    /// Whether the delivery has its row in the store. A first attempt started at dispatch has
    /// none: its event holds it (see [`HeldEvents`]), and its row is written with its outcome.
    pub(crate) recorded: bool,
}

/// The events this process holds while some of their deliveries have no row yet — first attempts
/// started at dispatch, and deliveries waiting for their receiver whose rows the outcome writer
/// has still to write: each with its lease (the outbox row's `lease_until`) and the deliveries
/// whose row is not written yet. The dispatcher adds an event once its pass
/// commits; the outcome writer renews the leases, and marks an event dispatched in the
/// transaction that writes its last outcome.
#[derive(Debug, Default)]
pub(crate) struct HeldEvents {
    events: HashMap<i64, HeldEvent>,
}

#[derive(Debug)]
struct HeldEvent {
    lease_until: i64,
    open: HashSet<Uuid>,
}

impl HeldEvents {
    /// Holds event `outbox_id` under `lease_until` until the outcomes of `deliveries` are written.
    pub(crate) fn hold(&mut self, outbox_id: i64, lease_until: i64, deliveries: impl IntoIterator<Item = Uuid>) {
        let held = self.events.entry(outbox_id).or_insert_with(|| HeldEvent { lease_until, open: HashSet::new() });
        held.lease_until = lease_until;
        held.open.extend(deliveries);
    }

    /// The lease event `outbox_id` is held under here, if it is.
    pub(crate) fn lease_of(&self, outbox_id: i64) -> Option<i64> {
        self.events.get(&outbox_id).map(|held| held.lease_until)
    }

    /// Every event held, with its lease.
    pub(crate) fn leases(&self) -> Vec<(i64, i64)> {
        self.events.iter().map(|(id, held)| (*id, held.lease_until)).collect()
    }

    /// Records that event `outbox_id`'s lease was renewed until `until`.
    pub(crate) fn renewed(&mut self, outbox_id: i64, until: i64) {
        if let Some(held) = self.events.get_mut(&outbox_id) {
            held.lease_until = until;
        }
    }

    /// Stops holding event `outbox_id` (its lease was lost, or given back); returns the
    /// deliveries of it still under way here.
    pub(crate) fn release(&mut self, outbox_id: i64) -> Vec<Uuid> {
        self.events.remove(&outbox_id).map(|held| held.open.into_iter().collect()).unwrap_or_default()
    }

    /// The events, with their lease, whose last open deliveries are among `written` (delivery,
    /// event): those an outcome write of `written` completes.
    pub(crate) fn completed_by(&self, written: &[(Uuid, i64)]) -> Vec<(i64, i64)> {
        let mut by_event: HashMap<i64, usize> = HashMap::new();
        for (id, outbox_id) in written {
            if self.events.get(outbox_id).is_some_and(|held| held.open.contains(id)) {
                *by_event.entry(*outbox_id).or_default() += 1;
            }
        }
        by_event
            .into_iter()
            .filter_map(|(outbox_id, count)| {
                let held = &self.events[&outbox_id];
                (held.open.len() == count).then_some((outbox_id, held.lease_until))
            })
            .collect()
    }

    /// Records that the outcomes of `written` (delivery, event) are written; an event with no
    /// open delivery left is no longer held.
    pub(crate) fn written(&mut self, written: &[(Uuid, i64)]) {
        for (id, outbox_id) in written {
            if let Some(held) = self.events.get_mut(outbox_id) {
                held.open.remove(id);
                if held.open.is_empty() {
                    self.events.remove(outbox_id);
                }
            }
        }
    }
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
    /// The job.
    pub(crate) fn job(&self) -> &Job {
        match self {
            Ready::Run(_, leased) | Ready::Queue(_, leased) => &leased.job,
        }
    }

    /// The job, to be adjusted before it starts.
    pub(crate) fn job_mut(&mut self) -> &mut Job {
        match self {
            Ready::Run(_, leased) | Ready::Queue(_, leased) => &mut leased.job,
        }
    }
}

/// One delivery counted (in the engine's count of deliveries in flight, or of rows to write) until
/// this is dropped: with its outcome once that is written, or with its task if that is aborted.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    pub(crate) fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(counter))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_completed_by_the_write_of_its_last_open_delivery() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let mut held = HeldEvents::default();
        held.hold(10, 100, [a, b]);
        held.hold(11, 100, [c]);
        assert_eq!(held.completed_by(&[(a, 10)]), []);
        assert_eq!(held.completed_by(&[(a, 10), (c, 11)]), [(11, 100)]);
        held.written(&[(a, 10), (c, 11)]);
        assert_eq!(held.lease_of(11), None, "no longer held");
        held.renewed(10, 200);
        assert_eq!(held.completed_by(&[(b, 10), (a, 10)]), [(10, 200)], "a delivery written before counts no more");
        assert_eq!(held.release(10), [b]);
        assert!(held.leases().is_empty());
    }
}
