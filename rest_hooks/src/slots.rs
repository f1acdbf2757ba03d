//! Request slots: how many requests run at once, in all and per receiver.
//!
//! A delivery is leased to this process only when a slot is free for it: its receiver's (at most
//! `per_target_concurrency`) and one of the engine's (at most `concurrency`). Deliveries that
//! cannot start stay in the database, unleased, and the receiver is marked as having work
//! waiting; when one of its requests ends, the freed slot asks the dispatcher for more of that
//! receiver's work. So a slow receiver holds only its own slots, and a backlog costs no memory.
//!
//! A receiver is a target's origin: scheme, host and port.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use uuid::Uuid;

/// The receiver of `target`: its origin, or the target itself when it is not a URL.
pub(crate) fn receiver_of(target: &str) -> String {
    match reqwest::Url::parse(target) {
        Ok(url) if url.origin().is_tuple() => url.origin().ascii_serialization(),
        _ => target.to_owned(),
    }
}

/// The request slots of one engine.
#[derive(Debug)]
pub(crate) struct Slots {
    total: usize,
    per_receiver: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    running: usize,
    receivers: HashMap<String, Receiver>,
    /// The deliveries holding a slot: never claimed again by this process while they run.
    deliveries: HashSet<Uuid>,
    /// How many receivers have work waiting.
    waiting: usize,
}

#[derive(Debug, Default)]
struct Receiver {
    running: usize,
    /// Deliveries of this receiver were left in the database for want of a slot.
    waiting: bool,
}

/// A slot held by one delivery; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Arc<Slots>,
    receiver: String,
    delivery: Uuid,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.free(&self.receiver, self.delivery);
    }
}

impl Slots {
    pub(crate) fn new(total: usize, per_receiver: usize) -> Self {
        Self { total, per_receiver, state: Mutex::new(State::default()) }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent whatever panicked while holding the lock: every change is
        // one step.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes a slot for `delivery` to `receiver`, or marks the receiver as having work waiting
    /// and returns `None`. A delivery that already holds a slot gets none.
    pub(crate) fn take(self: &Arc<Self>, receiver: &str, delivery: Uuid) -> Option<Slot> {
        let mut state = self.state();
        let full = state.running >= self.total || state.deliveries.contains(&delivery);
        let entry = state.receivers.entry(receiver.to_owned()).or_default();
        if full || entry.running >= self.per_receiver {
            let newly = !std::mem::replace(&mut entry.waiting, true);
            state.waiting += usize::from(newly);
            return None;
        }
        entry.running += 1;
        state.running += 1;
        state.deliveries.insert(delivery);
        Some(Slot { slots: Arc::clone(self), receiver: receiver.to_owned(), delivery })
    }

    fn free(&self, receiver: &str, delivery: Uuid) {
        let mut state = self.state();
        state.running = state.running.saturating_sub(1);
        state.deliveries.remove(&delivery);
        if let Some(entry) = state.receivers.get_mut(receiver) {
            entry.running = entry.running.saturating_sub(1);
            if entry.running == 0 && !entry.waiting {
                state.receivers.remove(receiver);
            }
        }
    }

    /// Whether some receiver has work waiting in the database.
    pub(crate) fn any_waiting(&self) -> bool {
        self.state().waiting > 0
    }

    /// Whether `delivery` holds a slot: it is running in this process.
    pub(crate) fn holds(&self, delivery: Uuid) -> bool {
        self.state().deliveries.contains(&delivery)
    }

    /// Free slots in all.
    pub(crate) fn free_total(&self) -> usize {
        self.total.saturating_sub(self.state().running)
    }

    /// Receivers with work waiting in the database and a free slot, with how many: their work can
    /// be claimed now. At most `limit` slots in all.
    pub(crate) fn waiting_with_room(&self, limit: usize) -> Vec<(String, usize)> {
        let state = self.state();
        let mut left = limit.min(self.total.saturating_sub(state.running));
        let mut found = Vec::new();
        for (receiver, entry) in &state.receivers {
            if left == 0 {
                break;
            }
            if entry.waiting && entry.running < self.per_receiver {
                let room = (self.per_receiver - entry.running).min(left);
                left -= room;
                found.push((receiver.clone(), room));
            }
        }
        found
    }

    /// Receivers a general claim leaves out: those with no free slot, and those with work waiting
    /// (claimed receiver by receiver).
    pub(crate) fn left_out(&self) -> Vec<String> {
        let state = self.state();
        state
            .receivers
            .iter()
            .filter(|(_, entry)| entry.waiting || entry.running >= self.per_receiver)
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
        if let Some(entry) = state.receivers.get_mut(receiver) {
            let was = std::mem::replace(&mut entry.waiting, false);
            if entry.running == 0 {
                state.receivers.remove(receiver);
            }
            state.waiting -= usize::from(was);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn slots(total: usize, per_receiver: usize) -> Arc<Slots> {
        Arc::new(Slots::new(total, per_receiver))
    }

    #[test]
    fn a_receiver_at_its_limit_holds_only_its_own_slots() {
        let slots = slots(4, 2);
        let slow: Vec<_> = (0..2).map(|_| slots.take("http://slow", Uuid::now_v7()).unwrap()).collect();
        assert!(slots.take("http://slow", Uuid::now_v7()).is_none());
        assert!(slots.is_waiting("http://slow") && slots.any_waiting());
        assert!(slots.take("http://fast", Uuid::now_v7()).is_some());
        assert_eq!(slots.free_total(), 2, "the fast slot was given back on drop");
        assert_eq!(slots.left_out(), ["http://slow"]);
        assert!(slots.waiting_with_room(10).is_empty(), "no room for the slow receiver yet");
        drop(slow);
        assert_eq!(slots.waiting_with_room(10), [("http://slow".to_owned(), 2)]);
        assert_eq!(slots.waiting_with_room(1), [("http://slow".to_owned(), 1)]);
        slots.drained("http://slow");
        assert!(slots.left_out().is_empty() && !slots.any_waiting());
        assert!(slots.state().receivers.is_empty(), "idle receivers are forgotten");
    }

    #[test]
    fn the_total_bounds_every_receiver() {
        let slots = slots(2, 2);
        let _a = slots.take("http://a", Uuid::now_v7()).unwrap();
        let _b = slots.take("http://b", Uuid::now_v7()).unwrap();
        assert!(slots.take("http://c", Uuid::now_v7()).is_none());
        assert_eq!(slots.free_total(), 0);
        assert!(slots.waiting_with_room(5).is_empty());
    }

    #[test]
    fn a_running_delivery_gets_no_second_slot() {
        let slots = slots(4, 4);
        let id = Uuid::now_v7();
        let slot = slots.take("http://a", id).unwrap();
        assert!(slots.holds(id));
        assert!(slots.take("http://a", id).is_none());
        drop(slot);
        assert!(!slots.holds(id));
        assert!(slots.take("http://a", id).is_some());
    }

    #[test]
    fn receivers_are_origins() {
        assert_eq!(receiver_of("https://Example.com:443/hooks?x=1"), "https://example.com");
        assert_eq!(receiver_of("http://127.0.0.1:8080/a"), "http://127.0.0.1:8080");
        assert_eq!(receiver_of("not a url"), "not a url");
    }
}
