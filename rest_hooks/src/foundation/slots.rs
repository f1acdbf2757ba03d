//! Request slots: how many requests run at once, in all and per receiver, and the short queue of
//! each receiver.
//!
//! A delivery is leased to this process only when it can start now or soon: a running slot is free
//! for it (its receiver's, at most `per_target_concurrency`, and one of the engine's, at most
//! `concurrency`), or a place in its receiver's queue is. A receiver's queue holds what its
//! requests get through in about [`QUEUE_WINDOW`], judged by how long they have been taking (one
//! place per slot until a request has ended; none for a receiver that takes seconds; at most
//! [`QUEUE_PER_SLOT`] per slot), and all queues together at most `max_in_flight`. A request that ends starts the next of its
//! receiver's queue at once, with no database round trip. Deliveries that find neither stay in
//! the database, unleased, and the receiver is marked as having work waiting; as its queue drains,
//! the dispatcher claims more of that receiver's work. So a slow receiver holds only its own slots
//! and its own queue places, whatever its backlog, and a backlog costs no memory.
//!
//! A receiver is a target's origin: scheme, host and port.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use uuid::Uuid;

/// The receiver of `target`: its origin, or the target itself when it is not a URL.
pub(crate) fn receiver_of(target: &str) -> String {
    match reqwest::Url::parse(target) {
        Ok(url) if url.origin().is_tuple() => url.origin().ascii_serialization(),
        _ => target.to_owned(),
    }
}

/// Queue places per running slot of a receiver, at most.
pub(crate) const QUEUE_PER_SLOT: usize = 16;

/// How much work a receiver's queue holds: what its requests get through in this long.
pub(crate) const QUEUE_WINDOW: Duration = Duration::from_millis(250);

/// The request slots and queues of one engine; `Q` is what waits in a queue.
#[derive(Debug)]
pub(crate) struct Slots<Q> {
    total: usize,
    per_receiver: usize,
    queue_per_receiver: usize,
    queue_total: usize,
    state: Mutex<State<Q>>,
}

#[derive(Debug)]
struct State<Q> {
    running: usize,
    /// Queue places taken, reserved ones included.
    queued: usize,
    receivers: HashMap<String, Receiver<Q>>,
    /// The deliveries running or queued here: never claimed again by this process meanwhile.
    deliveries: HashSet<Uuid>,
    /// How many receivers have work waiting in the database.
    waiting: usize,
}

#[derive(Debug)]
struct Receiver<Q> {
    running: usize,
    /// Queue places reserved by a claim not yet committed.
    reserved: usize,
    queue: VecDeque<(Uuid, Q)>,
    /// Deliveries of this receiver were left in the database for want of a slot or a place.
    waiting: bool,
    /// How long its requests take, on a moving average (seconds); `None` until one has ended.
    mean: Option<f64>,
}

impl<Q> Default for Receiver<Q> {
    fn default() -> Self {
        Self { running: 0, reserved: 0, queue: VecDeque::new(), waiting: false, mean: None }
    }
}

impl<Q> Receiver<Q> {
    fn idle(&self) -> bool {
        self.running == 0 && self.reserved == 0 && self.queue.is_empty() && !self.waiting
    }

    /// Records that one of its requests took `took`.
    fn took(&mut self, took: Duration) {
        let took = took.as_secs_f64();
        self.mean = Some(self.mean.map_or(took, |mean| mean + (took - mean) / 5.0));
    }

    /// Its queue places, reserved ones included.
    fn queued(&self) -> usize {
        self.queue.len() + self.reserved
    }

    /// How many places its queue has: what its `per_receiver` slots get through in
    /// [`QUEUE_WINDOW`], at most `most`.
    fn places(&self, per_receiver: usize, most: usize) -> usize {
        match self.mean {
            None => per_receiver.min(most),
            Some(mean) => {
                let places = per_receiver as f64 * QUEUE_WINDOW.as_secs_f64() / mean.max(1e-6);
                if places >= most as f64 { most } else { places as usize }
            }
        }
    }
}

/// Where a delivery goes.
#[derive(Debug)]
pub(crate) enum Place<Q> {
    /// It starts now, in this slot.
    Run(Slot<Q>),
    /// It waits in its receiver's queue, in this place.
    Queue(Reserved<Q>),
    /// It stays in the database.
    Wait,
}

/// A running slot held by one delivery; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct Slot<Q> {
    slots: Arc<Slots<Q>>,
    receiver: String,
    delivery: Uuid,
    since: Instant,
}

impl<Q> Drop for Slot<Q> {
    fn drop(&mut self) {
        self.slots.free(&self.receiver, self.delivery, self.since.elapsed());
    }
}

/// A queue place reserved for one delivery until it is queued; dropping it unqueued gives the
/// place back.
#[derive(Debug)]
pub(crate) struct Reserved<Q> {
    slots: Arc<Slots<Q>>,
    receiver: String,
    delivery: Uuid,
    used: bool,
}

impl<Q> Drop for Reserved<Q> {
    fn drop(&mut self) {
        if !self.used {
            self.slots.unreserve(&self.receiver, self.delivery);
        }
    }
}

impl<Q> Slots<Q> {
    pub(crate) fn new(total: usize, per_receiver: usize, queue_total: usize) -> Self {
        Self {
            total,
            per_receiver,
            queue_per_receiver: per_receiver.saturating_mul(QUEUE_PER_SLOT),
            queue_total,
            state: Mutex::new(State {
                running: 0,
                queued: 0,
                receivers: HashMap::new(),
                deliveries: HashSet::new(),
                waiting: 0,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State<Q>> {
        // Every change below is complete before the lock is let go: the state stays consistent
        // whatever panicked elsewhere while holding it.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Finds `delivery` to `receiver` a running slot, else a queue place, else marks the receiver
    /// as having work waiting. A delivery already running or queued here gets nothing.
    pub(crate) fn place(self: &Arc<Self>, receiver: &str, delivery: Uuid) -> Place<Q> {
        let mut state = self.state();
        if state.deliveries.contains(&delivery) {
            return Place::Wait;
        }
        let (running, queued) = (state.running, state.queued);
        let entry = state.receivers.entry(receiver.to_owned()).or_default();
        let place = if running < self.total
            && entry.running < self.per_receiver
            && entry.queue.is_empty()
            && entry.reserved == 0
        {
            entry.running += 1;
            state.running += 1;
            Place::Run(Slot { slots: Arc::clone(self), receiver: receiver.to_owned(), delivery, since: Instant::now() })
        } else if queued < self.queue_total && entry.queued() < entry.places(self.per_receiver, self.queue_per_receiver)
        {
            entry.reserved += 1;
            state.queued += 1;
            Place::Queue(Reserved { slots: Arc::clone(self), receiver: receiver.to_owned(), delivery, used: false })
        } else {
            let newly = !std::mem::replace(&mut entry.waiting, true);
            state.waiting += usize::from(newly);
            return Place::Wait;
        };
        state.deliveries.insert(delivery);
        place
    }

    /// Queues `item` in the place `reserved` for it.
    pub(crate) fn enqueue(&self, mut reserved: Reserved<Q>, item: Q) {
        reserved.used = true;
        let mut state = self.state();
        if let Some(entry) = state.receivers.get_mut(&reserved.receiver) {
            entry.reserved = entry.reserved.saturating_sub(1);
            entry.queue.push_back((reserved.delivery, item));
        }
    }

    fn unreserve(&self, receiver: &str, delivery: Uuid) {
        let mut state = self.state();
        state.queued = state.queued.saturating_sub(1);
        state.deliveries.remove(&delivery);
        if let Some(entry) = state.receivers.get_mut(receiver) {
            entry.reserved = entry.reserved.saturating_sub(1);
        }
        forget_if_idle(&mut state, receiver);
    }

    fn free(&self, receiver: &str, delivery: Uuid, took: Duration) {
        let mut state = self.state();
        state.running = state.running.saturating_sub(1);
        state.deliveries.remove(&delivery);
        if let Some(entry) = state.receivers.get_mut(receiver) {
            entry.running = entry.running.saturating_sub(1);
            entry.took(took);
        }
        forget_if_idle(&mut state, receiver);
    }

    /// The next delivery of `slot`'s receiver's queue, which then runs in `slot`.
    pub(crate) fn next(&self, slot: &mut Slot<Q>) -> Option<(Uuid, Q)> {
        let mut state = self.state();
        let entry = state.receivers.get_mut(&slot.receiver)?;
        entry.took(slot.since.elapsed());
        slot.since = Instant::now();
        let (id, item) = entry.queue.pop_front()?;
        state.queued = state.queued.saturating_sub(1);
        state.deliveries.remove(&slot.delivery);
        slot.delivery = id;
        Some((id, item))
    }

    /// Queued deliveries that can run now, each in a slot of its own: those whose receiver has a
    /// running slot free (a request of it was stopped rather than ending).
    pub(crate) fn runnable(self: &Arc<Self>) -> Vec<(Slot<Q>, Q)> {
        let mut state = self.state();
        let mut found = Vec::new();
        let mut running = state.running;
        for (receiver, entry) in &mut state.receivers {
            while running < self.total && entry.running < self.per_receiver {
                let Some((delivery, item)) = entry.queue.pop_front() else { break };
                entry.running += 1;
                running += 1;
                let slot =
                    Slot { slots: Arc::clone(self), receiver: receiver.clone(), delivery, since: Instant::now() };
                found.push((slot, item));
            }
        }
        state.queued = state.queued.saturating_sub(found.len());
        state.running = running;
        found
    }

    /// Whether a queued delivery could run now: its receiver has a free slot, and the engine too
    /// (all slots were taken when it was queued, by other receivers).
    pub(crate) fn any_runnable(&self) -> bool {
        let state = self.state();
        state.queued > 0
            && state.running < self.total
            && state.receivers.values().any(|entry| !entry.queue.is_empty() && entry.running < self.per_receiver)
    }

    /// Takes queued delivery `id` out of its queue, if it is there.
    pub(crate) fn unqueue(&self, id: Uuid) -> Option<Q> {
        let mut state = self.state();
        let (receiver, at) = state
            .receivers
            .iter()
            .find_map(|(receiver, entry)| Some((receiver.clone(), entry.queue.iter().position(|(d, _)| *d == id)?)))?;
        let (_, item) = state.receivers.get_mut(&receiver)?.queue.remove(at)?;
        state.queued = state.queued.saturating_sub(1);
        state.deliveries.remove(&id);
        forget_if_idle(&mut state, &receiver);
        Some(item)
    }

    /// Whether some receiver has work waiting in the database.
    #[cfg(test)]
    fn any_waiting(&self) -> bool {
        self.state().waiting > 0
    }

    /// Whether `slot`'s receiver has work waiting in the database and its queue is at most half
    /// full: time to claim more of its work.
    pub(crate) fn wants_more(&self, slot: &Slot<Q>) -> bool {
        let state = self.state();
        state.waiting > 0
            && state
                .receivers
                .get(&slot.receiver)
                .is_some_and(|entry| entry.waiting && entry.queue.len() + entry.reserved <= self.queue_per_receiver / 2)
    }

    /// Whether `delivery` is running or queued here.
    pub(crate) fn holds(&self, delivery: Uuid) -> bool {
        self.state().deliveries.contains(&delivery)
    }

    /// Whether any delivery could be placed now, running or queued.
    pub(crate) fn has_room(&self) -> bool {
        let state = self.state();
        state.running < self.total || state.queued < self.queue_total
    }

    /// Receivers with work waiting in the database whose queue is at most half full, with how many
    /// deliveries each can take now. At most `limit` in all.
    pub(crate) fn waiting_with_room(&self, limit: usize) -> Vec<(String, usize)> {
        let state = self.state();
        let mut left =
            limit.min(self.queue_total.saturating_sub(state.queued) + self.total.saturating_sub(state.running));
        let mut found = Vec::new();
        for (receiver, entry) in &state.receivers {
            if left == 0 {
                break;
            }
            let queued = entry.queue.len() + entry.reserved;
            if entry.waiting && queued <= self.queue_per_receiver / 2 {
                let room =
                    (self.queue_per_receiver - queued + self.per_receiver.saturating_sub(entry.running)).min(left);
                left -= room;
                found.push((receiver.clone(), room));
            }
        }
        found
    }

    /// Receivers a general claim leaves out: those with work waiting (claimed receiver by
    /// receiver), and those with no room at all.
    pub(crate) fn left_out(&self) -> Vec<String> {
        let state = self.state();
        state
            .receivers
            .iter()
            .filter(|(_, entry)| {
                entry.waiting
                    || (entry.running >= self.per_receiver
                        && entry.queued() >= entry.places(self.per_receiver, self.queue_per_receiver))
            })
            .map(|(receiver, _)| receiver.clone())
            .collect()
    }

    /// Whether `receiver` has work waiting in the database.
    #[cfg(test)]
    fn is_waiting(&self, receiver: &str) -> bool {
        self.state().receivers.get(receiver).is_some_and(|entry| entry.waiting)
    }

    /// Records that `receiver` has no more work waiting (a claim found less than it had room for).
    pub(crate) fn drained(&self, receiver: &str) {
        let mut state = self.state();
        let Some(entry) = state.receivers.get_mut(receiver) else { return };
        let was = std::mem::replace(&mut entry.waiting, false);
        state.waiting -= usize::from(was);
        forget_if_idle(&mut state, receiver);
    }
}

/// Drops the entry of `receiver` when nothing of it runs, waits or is queued.
fn forget_if_idle<Q>(state: &mut State<Q>, receiver: &str) {
    if state.receivers.get(receiver).is_some_and(Receiver::idle) {
        state.receivers.remove(receiver);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn slots(total: usize, per_receiver: usize, queue_total: usize) -> Arc<Slots<&'static str>> {
        Arc::new(Slots::new(total, per_receiver, queue_total))
    }

    fn run(place: Place<&'static str>) -> Slot<&'static str> {
        match place {
            Place::Run(slot) => slot,
            other => panic!("expected a running slot, got {other:?}"),
        }
    }

    fn queue(slots: &Slots<&'static str>, place: Place<&'static str>, item: &'static str) {
        match place {
            Place::Queue(reserved) => slots.enqueue(reserved, item),
            other => panic!("expected a queue place, got {other:?}"),
        }
    }

    /// Makes `receiver`'s requests look as if they took `took` each.
    fn taking(slots: &Slots<&'static str>, receiver: &str, took: Duration) {
        let mut state = slots.state();
        let entry = state.receivers.entry(receiver.to_owned()).or_default();
        entry.mean = None;
        entry.took(took);
    }

    #[test]
    fn a_receiver_at_its_limit_holds_only_its_own_slots_and_places() {
        // Two running slots per receiver; a fast receiver's queue has up to 32 places, 40 in all.
        let slots = slots(4, 2, 40);
        let running: Vec<_> = (0..2).map(|_| run(slots.place("http://busy", Uuid::now_v7()))).collect();
        taking(&slots, "http://busy", Duration::from_millis(1));
        for _ in 0..32 {
            queue(&slots, slots.place("http://busy", Uuid::now_v7()), "busy");
        }
        assert!(matches!(slots.place("http://busy", Uuid::now_v7()), Place::Wait));
        assert!(slots.is_waiting("http://busy") && slots.any_waiting());
        let other = run(slots.place("http://other", Uuid::now_v7()));
        assert_eq!(slots.left_out(), ["http://busy"]);
        assert!(slots.waiting_with_room(100).is_empty(), "the busy receiver's queue is full");
        drop(other);
        drop(running);
        assert!(slots.any_runnable());
        let started = slots.runnable();
        assert_eq!(started.len(), 2, "stopped requests leave their slots to the queue");
        assert!(!slots.any_runnable());
    }

    #[test]
    fn a_queue_holds_what_its_receiver_gets_through_in_a_quarter_second() {
        let slots = slots(8, 4, 1000);
        let _running: Vec<_> = (0..4).map(|_| run(slots.place("http://r", Uuid::now_v7()))).collect();
        let places = |took: Duration| {
            taking(&slots, "http://r", took);
            let state = slots.state();
            state.receivers["http://r"].places(4, 64)
        };
        assert_eq!(places(Duration::from_millis(1)), 64, "at most 16 places per slot");
        assert_eq!(places(Duration::from_millis(50)), 20);
        assert_eq!(places(Duration::from_secs(2)), 0, "a receiver that takes seconds gets no queue");
        assert_eq!(slots.state().receivers["http://r"].places(4, 64), 0);
        let unknown = Receiver::<&str>::default();
        assert_eq!(unknown.places(4, 64), 4, "one place per slot until a request has ended");
        assert!(matches!(slots.place("http://r", Uuid::now_v7()), Place::Wait), "the slow receiver's work waits");
    }

    #[test]
    fn an_ending_request_starts_the_next_of_its_queue_in_its_slot() {
        let slots = slots(2, 1, 16);
        let first = Uuid::now_v7();
        let mut slot = run(slots.place("http://a", first));
        let second = Uuid::now_v7();
        queue(&slots, slots.place("http://a", second), "second");
        assert!(matches!(slots.place("http://a", first), Place::Wait), "a running delivery gets no second place");
        assert_eq!(slots.next(&mut slot), Some((second, "second")));
        assert!(!slots.holds(first) && slots.holds(second));
        assert_eq!(slots.next(&mut slot), None);
        drop(slot);
        assert!(!slots.holds(second));
        assert!(slots.state().receivers.is_empty(), "idle receivers are forgotten");
    }

    #[test]
    fn a_half_empty_queue_asks_for_more_and_a_short_claim_ends_the_wait() {
        let slots = slots(1, 1, 100);
        let _slot = run(slots.place("http://a", Uuid::now_v7()));
        taking(&slots, "http://a", Duration::from_millis(1));
        for _ in 0..16 {
            queue(&slots, slots.place("http://a", Uuid::now_v7()), "a");
        }
        assert!(matches!(slots.place("http://a", Uuid::now_v7()), Place::Wait));
        assert!(slots.waiting_with_room(100).is_empty(), "a full queue asks for nothing");
        let ids: Vec<Uuid> = slots.state().receivers["http://a"].queue.iter().map(|(id, _)| *id).collect();
        for id in &ids[..8] {
            assert_eq!(slots.unqueue(*id), Some("a"));
        }
        assert_eq!(slots.waiting_with_room(100), [("http://a".to_owned(), 8)]);
        assert_eq!(slots.waiting_with_room(3), [("http://a".to_owned(), 3)]);
        slots.drained("http://a");
        assert!(slots.left_out().is_empty() && !slots.any_waiting());
    }

    #[test]
    fn the_totals_bound_every_receiver() {
        let slots = slots(2, 2, 1);
        let _a = run(slots.place("http://a", Uuid::now_v7()));
        let _b = run(slots.place("http://b", Uuid::now_v7()));
        let reserved = slots.place("http://c", Uuid::now_v7());
        assert!(matches!(reserved, Place::Queue(_)));
        assert!(matches!(slots.place("http://c", Uuid::now_v7()), Place::Wait));
        assert!(!slots.has_room());
        drop(reserved);
        assert!(slots.has_room(), "an unused reservation gives its place back");
    }

    #[test]
    fn receivers_are_origins() {
        assert_eq!(receiver_of("https://Example.com:443/hooks?x=1"), "https://example.com");
        assert_eq!(receiver_of("http://127.0.0.1:8080/a"), "http://127.0.0.1:8080");
        assert_eq!(receiver_of("not a url"), "not a url");
    }
}
