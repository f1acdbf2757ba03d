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
//! A receiver is one hook at one host: its *lane* ([`lane_of`]), the target's origin (scheme, host
//! and port) and the hook's id. Queues, the time requests take, and work waiting in the database are
//! per lane, and the running slots are capped twice: per lane and per host (`per_target_concurrency`
//! each). A host's slots are shared between its lanes with work: each lane runs at most its share
//! (the host's slots divided among them), no lane holds all of several slots until its requests
//! are known to be quick, and a request that ends hands its slot to the lane of its host that runs
//! the fewest. So one hook whose requests time out holds only its share of its host,
//! and every other hook on that host (every Zap of every customer posts to one Zapier host) keeps
//! going. The lanes of a host share its queue as well: together they queue what the host's slots
//! get through in [`QUEUE_WINDOW`].
//!
//! Retries have room of their own: while a host runs requests of lanes not known to be quick
//! (which may hang until they time out), its first attempts hold at most three quarters of its
//! slots, and the rest is kept for retries and replays — else a retry due 5 s after a timeout
//! would wait for the next round of first attempts to time out too.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use uuid::Uuid;

/// The host of `target`: its origin, or the target itself when it is not a URL.
pub(crate) fn receiver_of(target: &str) -> String {
    match reqwest::Url::parse(target) {
        Ok(url) if url.origin().is_tuple() => url.origin().ascii_serialization(),
        _ => target.to_owned(),
    }
}

/// What separates a lane's host from its hook; an origin never contains it.
const LANE_MARK: char = '#';

/// The longest lane: what the delivery table's `receiver` column holds.
const MAX_LANE: usize = 300;

/// The lane of hook `hook` at `target`: its host ([`receiver_of`]), `#`, the hook's id. A lane too
/// long for the delivery table names its host by a hash.
pub(crate) fn lane_of(target: &str, hook: &str) -> String {
    let host = receiver_of(target);
    let lane = format!("{host}{LANE_MARK}{hook}");
    if lane.len() <= MAX_LANE {
        return lane;
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, host.as_bytes());
    let short: String = digest.as_ref()[..12].iter().map(|byte| format!("{byte:02x}")).collect();
    let lane = format!("host-{short}{LANE_MARK}{hook}");
    // A hook id too long to fit is cut at a character boundary: lanes only group work.
    let mut end = lane.len().min(MAX_LANE);
    while !lane.is_char_boundary(end) {
        end -= 1;
    }
    lane[..end].to_owned()
}

/// The host part of `lane`; a lane written before lanes carried hooks is a host alone.
fn host_of(lane: &str) -> &str {
    lane.split_once(LANE_MARK).map_or(lane, |(host, _)| host)
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
    /// The lanes with work running, queued or waiting.
    receivers: HashMap<String, Receiver<Q>>,
    /// The hosts of those lanes.
    hosts: HashMap<String, Host>,
    /// The deliveries running or queued here: never claimed again by this process meanwhile.
    deliveries: HashSet<Uuid>,
    /// How many receivers have work waiting in the database.
    waiting: usize,
    /// How long the requests of lanes and hosts forgotten while idle took (their `mean`), so that
    /// a hook whose requests are quick is known to be quick again when its next delivery comes. At
    /// most [`KNOWN`] entries; emptied when full.
    known: HashMap<String, f64>,
}

/// How many idle lanes and hosts the slots remember the request times of.
const KNOWN: usize = 65_536;

/// One host: its running requests, its queue places taken (reserved ones included), how many
/// lanes it has, and how long its requests take.
#[derive(Debug, Default)]
struct Host {
    running: usize,
    /// Of `running`, the first attempts of lanes not known to be quick when they started.
    unsure_first: usize,
    queued: usize,
    /// Of `queued`, the places taken by retries.
    queued_retries: usize,
    lanes: usize,
    /// How long its requests take, on a moving average over all its lanes (seconds); `None`
    /// until one has ended.
    mean: Option<f64>,
}

impl Host {
    /// How many running slots each of its lanes may hold: the host's `per_host` divided among its
    /// lanes, rounded up.
    fn share(&self, per_host: usize) -> usize {
        per_host.div_ceil(self.lanes.max(1))
    }

    /// How many queue places its lanes have together: what its `per_host` slots get through in
    /// [`QUEUE_WINDOW`], at most `most`. Without this bound, a host with many hooks would queue a
    /// lane's worth for each, and a retry claimed for it would wait behind all of them.
    fn places(&self, per_host: usize, most: usize) -> usize {
        places(self.mean, per_host, most)
    }

    /// Whether a delivery (`retry` or not) may take one more of its queue places. Retries have
    /// places of their own, as many again, beside those of first attempts: the retry of a hook
    /// beside a backlog of first attempts at its host so never waits for that backlog to go through
    /// the queue (nor for a queue filled while its requests looked quicker than they are), and it
    /// goes first from there (see [`Slots::next`]).
    fn has_a_place(&self, retry: bool, per_host: usize, most: usize) -> bool {
        let places = self.places(per_host, most);
        if retry { self.queued_retries < places } else { self.queued < places }
    }

    /// Records that one of its requests took `took`.
    fn took(&mut self, took: Duration) {
        self.mean = Some(moving(self.mean, took));
    }

    /// Whether a delivery may start beside `unsure_first` first attempts of lanes not known to be
    /// quick: a retry, or the first attempt of a lane known to be quick, always (as far as the
    /// other bounds allow); the first attempt of another lane while fewer than three quarters of the
    /// host's `per_host` slots run such first attempts. Those requests may hang until they time
    /// out, and the rest of the host's slots is so kept for the retries of the ones that did (else
    /// they would wait for the next round of hanging first attempts to time out too) and for the
    /// hooks whose requests are quick. A hook not heard from yet (`probe`: nothing of it runs, and
    /// how long its requests take is not known) may start one request even so, as long as that
    /// does not take the host's last slot: else a new hook would wait for the hanging requests of
    /// another to time out before its speed could be known.
    fn may_start(unsure_first: usize, counted: bool, probe: bool, per_host: usize) -> bool {
        !counted || unsure_first < per_host - per_host / RETRY_SHARE || probe
    }
}

/// A host not known to be quick keeps one in this many of its slots for retries.
const RETRY_SHARE: usize = 4;

/// `mean` (seconds) moved toward `took`.
fn moving(mean: Option<f64>, took: Duration) -> f64 {
    let took = took.as_secs_f64();
    mean.map_or(took, |mean| mean + (took - mean) / 5.0)
}

/// What `slots` slots get through in [`QUEUE_WINDOW`] when a request takes `mean` seconds (one
/// place per slot while that is not known), at most `most`.
fn places(mean: Option<f64>, slots: usize, most: usize) -> usize {
    match mean {
        None => slots.min(most),
        Some(mean) => {
            let places = slots as f64 * QUEUE_WINDOW.as_secs_f64() / mean.max(1e-6);
            if places >= most as f64 { most } else { places as usize }
        }
    }
}

#[derive(Debug)]
struct Receiver<Q> {
    running: usize,
    /// Queue places reserved by a claim not yet committed.
    reserved: usize,
    /// Each queued delivery, with whether it is a retry.
    queue: VecDeque<(Uuid, bool, Q)>,
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
    /// Whether it may start a request as a hook not heard from yet, on a host running `host_running`
    /// of its `per_host` slots (see [`Host::may_start`]).
    fn probe(&self, host_running: usize, per_host: usize) -> bool {
        self.running == 0 && self.mean.is_none() && host_running + 1 < per_host
    }

    /// Whether its requests are known to be quick: they take less than [`QUEUE_WINDOW`].
    fn quick(&self) -> bool {
        self.mean.is_some_and(|mean| mean < QUEUE_WINDOW.as_secs_f64())
    }

    /// Whether it may run one more request, holding `running` of its host's `per_host` slots with
    /// `share` its share: below its share, and never all of several slots unless its requests are
    /// known to be quick. A lane with no work is forgotten at once, so a share alone would let a
    /// hook that is momentarily alone on its host take every slot with requests that hang; the
    /// last slot so stays for the hook that comes next.
    fn may_run(&self, share: usize, per_host: usize) -> bool {
        self.running < share && (per_host <= 1 || self.running + 1 < per_host || self.quick())
    }

    fn idle(&self) -> bool {
        self.running == 0 && self.reserved == 0 && self.queue.is_empty() && !self.waiting
    }

    /// Records that one of its requests took `took`.
    fn took(&mut self, took: Duration) {
        self.mean = Some(moving(self.mean, took));
    }

    /// Its queue places, reserved ones included.
    fn queued(&self) -> usize {
        self.queue.len() + self.reserved
    }

    /// How many places its queue has: what its `per_receiver` slots get through in
    /// [`QUEUE_WINDOW`], at most `most`.
    fn places(&self, per_receiver: usize, most: usize) -> usize {
        places(self.mean, per_receiver, most)
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
    /// Whether its delivery is a first attempt of a lane not known to be quick when it started
    /// (counted in its host's `unsure_first`).
    counted: bool,
    since: Instant,
}

impl<Q> Drop for Slot<Q> {
    fn drop(&mut self) {
        self.slots.free(&self.receiver, self.delivery, self.counted, self.since.elapsed());
    }
}

/// A queue place reserved for one delivery until it is queued; dropping it unqueued gives the
/// place back.
#[derive(Debug)]
pub(crate) struct Reserved<Q> {
    slots: Arc<Slots<Q>>,
    receiver: String,
    delivery: Uuid,
    retry: bool,
    used: bool,
}

impl<Q> Drop for Reserved<Q> {
    fn drop(&mut self) {
        if !self.used {
            self.slots.unreserve(&self.receiver, self.delivery, self.retry);
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
                hosts: HashMap::new(),
                deliveries: HashSet::new(),
                waiting: 0,
                known: HashMap::new(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State<Q>> {
        // Every change below is complete before the lock is let go: the state stays consistent
        // whatever panicked elsewhere while holding it.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Finds `delivery` to `receiver` (a lane) a running slot, else a queue place, else marks the
    /// lane as having work waiting. A delivery already running or queued here gets nothing.
    /// `retry` says whether it was attempted before: a slow host keeps some slots for retries.
    pub(crate) fn place(self: &Arc<Self>, receiver: &str, delivery: Uuid, retry: bool) -> Place<Q> {
        let mut state = self.state();
        if state.deliveries.contains(&delivery) {
            return Place::Wait;
        }
        let (running, queued) = (state.running, state.queued);
        let State { receivers, hosts, known, .. } = &mut *state;
        let (entry, host) = lane(receivers, hosts, known, receiver);
        let share = host.share(self.per_receiver);
        let place = if running < self.total
            && host.running < self.per_receiver
            && entry.may_run(share, self.per_receiver)
            && Host::may_start(
                host.unsure_first,
                !retry && !entry.quick(),
                entry.probe(host.running, self.per_receiver),
                self.per_receiver,
            )
            && entry.queue.is_empty()
            && entry.reserved == 0
        {
            let counted = !retry && !entry.quick();
            entry.running += 1;
            host.running += 1;
            host.unsure_first += usize::from(counted);
            state.running += 1;
            Place::Run(Slot {
                slots: Arc::clone(self),
                receiver: receiver.to_owned(),
                delivery,
                counted,
                since: Instant::now(),
            })
        } else if queued < self.queue_total
            && entry.queued() < entry.places(share, self.queue_per_receiver)
            && host.has_a_place(retry, self.per_receiver, self.queue_per_receiver)
        {
            entry.reserved += 1;
            host.queued += 1;
            host.queued_retries += usize::from(retry);
            state.queued += 1;
            Place::Queue(Reserved {
                slots: Arc::clone(self),
                receiver: receiver.to_owned(),
                delivery,
                retry,
                used: false,
            })
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
            entry.queue.push_back((reserved.delivery, reserved.retry, item));
        }
    }

    fn unreserve(&self, receiver: &str, delivery: Uuid, retry: bool) {
        let mut state = self.state();
        state.queued = state.queued.saturating_sub(1);
        state.deliveries.remove(&delivery);
        unqueued(&mut state, receiver, retry);
        if let Some(entry) = state.receivers.get_mut(receiver) {
            entry.reserved = entry.reserved.saturating_sub(1);
        }
        forget_if_idle(&mut state, receiver);
    }

    fn free(&self, receiver: &str, delivery: Uuid, counted: bool, took: Duration) {
        let mut state = self.state();
        state.running = state.running.saturating_sub(1);
        state.deliveries.remove(&delivery);
        if let Some(entry) = state.receivers.get_mut(receiver) {
            entry.running = entry.running.saturating_sub(1);
            entry.took(took);
        }
        if let Some(host) = state.hosts.get_mut(host_of(receiver)) {
            host.running = host.running.saturating_sub(1);
            host.unsure_first = host.unsure_first.saturating_sub(usize::from(counted));
            host.took(took);
        }
        forget_if_idle(&mut state, receiver);
    }

    /// The next delivery for `slot` when its request ended: a retry at the head of a queue of its
    /// host first, else from the lane of its host that runs the fewest requests (its own lane on a
    /// tie), which then runs in `slot`. A first attempt at the head of a queue does not take a slot
    /// its host keeps for retries.
    pub(crate) fn next(&self, slot: &mut Slot<Q>) -> Option<(Uuid, Q)> {
        let mut state = self.state();
        let took = slot.since.elapsed();
        let host_name = host_of(&slot.receiver).to_owned();
        let host = state.hosts.get_mut(&host_name)?;
        host.took(took);
        // What runs once this slot's request is counted out.
        let unsure_first = host.unsure_first.saturating_sub(usize::from(slot.counted));
        let (lanes, share) = (host.lanes, host.share(self.per_receiver));
        let host_running = host.running.saturating_sub(1);
        let entry = state.receivers.get_mut(&slot.receiver)?;
        entry.took(took);
        slot.since = Instant::now();
        let per_host = self.per_receiver;
        let may_start = |lane: &Receiver<Q>| {
            lane.queue.front().is_some_and(|(_, retry, _)| {
                Host::may_start(unsure_first, !*retry && !lane.quick(), lane.probe(host_running, per_host), per_host)
            })
        };
        // Lanes by what goes first: a retry at the head of the queue, then fewer requests running.
        let first_attempt = |lane: &Receiver<Q>| lane.queue.front().is_none_or(|(_, retry, _)| !*retry);
        let own = may_start(entry).then(|| (first_attempt(entry), entry.running.saturating_sub(1)));
        let mut chosen: Option<((bool, usize), String)> = own.map(|key| (key, slot.receiver.clone()));
        if lanes > 1 {
            for (lane, other) in &state.receivers {
                // Another lane takes the slot only where it may run one more.
                let key = (first_attempt(other), other.running);
                if lane != &slot.receiver
                    && may_start(other)
                    && other.may_run(share, self.per_receiver)
                    && host_of(lane) == host_name
                    && chosen.as_ref().is_none_or(|(best, _)| key < *best)
                {
                    chosen = Some((key, lane.clone()));
                }
            }
        }
        let (_, lane) = chosen?;
        if lane != slot.receiver {
            if let Some(entry) = state.receivers.get_mut(&slot.receiver) {
                entry.running = entry.running.saturating_sub(1);
            }
            let left = std::mem::replace(&mut slot.receiver, lane.clone());
            if let Some(entry) = state.receivers.get_mut(&lane) {
                entry.running += 1;
            }
            forget_if_idle(&mut state, &left);
        }
        let next = state.receivers.get_mut(&lane)?;
        let quick = next.quick();
        let (id, retry, item) = next.queue.pop_front()?;
        let counted = !retry && !quick;
        state.queued = state.queued.saturating_sub(1);
        if let Some(host) = state.hosts.get_mut(&host_name) {
            host.queued = host.queued.saturating_sub(1);
            host.queued_retries = host.queued_retries.saturating_sub(usize::from(retry));
            host.unsure_first = unsure_first + usize::from(counted);
        }
        state.deliveries.remove(&slot.delivery);
        (slot.delivery, slot.counted) = (id, counted);
        Some((id, item))
    }

    /// Queued deliveries that can run now, each in a slot of its own: those whose receiver has a
    /// running slot free (a request of it was stopped rather than ending).
    pub(crate) fn runnable(self: &Arc<Self>) -> Vec<(Slot<Q>, Q)> {
        let mut state = self.state();
        let mut found = Vec::new();
        let mut running = state.running;
        let State { receivers, hosts, .. } = &mut *state;
        for (receiver, entry) in receivers.iter_mut() {
            let Some(host) = hosts.get_mut(host_of(receiver)) else { continue };
            let share = host.share(self.per_receiver);
            while running < self.total
                && host.running < self.per_receiver
                && entry.may_run(share, self.per_receiver)
                && self.head_may_start(entry, host)
            {
                let quick = entry.quick();
                let Some((delivery, retry, item)) = entry.queue.pop_front() else { break };
                let counted = !retry && !quick;
                entry.running += 1;
                host.running += 1;
                host.unsure_first += usize::from(counted);
                host.queued = host.queued.saturating_sub(1);
                host.queued_retries = host.queued_retries.saturating_sub(usize::from(retry));
                running += 1;
                let slot = Slot {
                    slots: Arc::clone(self),
                    receiver: receiver.clone(),
                    delivery,
                    counted,
                    since: Instant::now(),
                };
                found.push((slot, item));
            }
        }
        state.queued = state.queued.saturating_sub(found.len());
        state.running = running;
        found
    }

    /// Whether a queued delivery could run now: its lane and host have a free slot, and the engine
    /// too (all slots were taken when it was queued, by other receivers).
    pub(crate) fn any_runnable(&self) -> bool {
        let state = self.state();
        state.queued > 0
            && state.running < self.total
            && state.receivers.iter().any(|(receiver, entry)| {
                state.hosts.get(host_of(receiver)).is_some_and(|host| {
                    host.running < self.per_receiver
                        && entry.may_run(host.share(self.per_receiver), self.per_receiver)
                        && self.head_may_start(entry, host)
                })
            })
    }

    /// Whether the head of `entry`'s queue may start on `host` as it runs now (see
    /// [`Host::may_start`]).
    fn head_may_start(&self, entry: &Receiver<Q>, host: &Host) -> bool {
        entry.queue.front().is_some_and(|(_, retry, _)| {
            Host::may_start(
                host.unsure_first,
                !*retry && !entry.quick(),
                entry.probe(host.running, self.per_receiver),
                self.per_receiver,
            )
        })
    }

    /// Takes queued delivery `id` out of its queue, if it is there.
    pub(crate) fn unqueue(&self, id: Uuid) -> Option<Q> {
        let mut state = self.state();
        let (receiver, at) = state
            .receivers
            .iter()
            .find_map(|(receiver, entry)| Some((receiver.clone(), entry.queue.iter().position(|(d, ..)| *d == id)?)))?;
        let (_, retry, item) = state.receivers.get_mut(&receiver)?.queue.remove(at)?;
        state.queued = state.queued.saturating_sub(1);
        unqueued(&mut state, &receiver, retry);
        state.deliveries.remove(&id);
        forget_if_idle(&mut state, &receiver);
        Some(item)
    }

    /// Whether some receiver has work waiting in the database.
    #[cfg(test)]
    fn any_waiting(&self) -> bool {
        self.state().waiting > 0
    }

    /// Whether `slot`'s receiver has work waiting in the database and its queue, and its host's,
    /// are at most half full: time to claim more of its work. (Asked at the end of every request:
    /// a claim per request would cost a claim's queries per delivery.)
    pub(crate) fn wants_more(&self, slot: &Slot<Q>) -> bool {
        let state = self.state();
        let host_half_empty = state
            .hosts
            .get(host_of(&slot.receiver))
            .is_none_or(|host| host.queued <= host.places(self.per_receiver, self.queue_per_receiver) / 2);
        state.waiting > 0
            && host_half_empty
            && state.receivers.get(&slot.receiver).is_some_and(|entry| {
                entry.waiting && entry.queued() <= entry.places(self.per_receiver, self.queue_per_receiver) / 2
            })
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
    /// deliveries each can take now. At most `limit` in all, and for the lanes of one host together
    /// no more than the host's free slots and queue places.
    pub(crate) fn waiting_with_room(&self, limit: usize) -> Vec<(String, usize)> {
        let state = self.state();
        let mut left =
            limit.min(self.queue_total.saturating_sub(state.queued) + self.total.saturating_sub(state.running));
        // What each host has left to give its lanes: free slots, free queue places.
        let mut hosts: HashMap<&str, (usize, usize)> = HashMap::new();
        let mut found = Vec::new();
        for (receiver, entry) in &state.receivers {
            if left == 0 {
                break;
            }
            let queued = entry.queue.len() + entry.reserved;
            if !entry.waiting || queued > self.queue_per_receiver / 2 {
                continue;
            }
            let Some(host) = state.hosts.get(host_of(receiver)) else { continue };
            let share = host.share(self.per_receiver);
            let (host_free, host_places) = hosts.entry(host_of(receiver)).or_insert_with(|| {
                (
                    self.per_receiver.saturating_sub(host.running),
                    host.places(self.per_receiver, self.queue_per_receiver).saturating_sub(host.queued),
                )
            });
            // What it can take now: free slots of its share (and of its host), and free places of
            // its queue (and of its host's). A lane with none (its host full, its requests slow)
            // spends nothing of `limit`, which so goes to the lanes that can use it.
            let run = share.saturating_sub(entry.running).min(*host_free);
            let places = entry.places(share, self.queue_per_receiver).saturating_sub(queued).min(*host_places);
            let room = (run + places).min(left);
            if room == 0 {
                continue;
            }
            *host_free -= run.min(room);
            *host_places -= room - run.min(room);
            left -= room;
            found.push((receiver.clone(), room));
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
            .filter(|(receiver, entry)| {
                let host = state.hosts.get(host_of(receiver));
                let share = host.map_or(self.per_receiver, |host| host.share(self.per_receiver));
                let host_full = host.is_some_and(|host| host.running >= self.per_receiver);
                let host_queue_full =
                    host.is_some_and(|host| host.queued >= host.places(self.per_receiver, self.queue_per_receiver));
                entry.waiting
                    || ((entry.running >= share || host_full)
                        && (entry.queued() >= entry.places(share, self.queue_per_receiver) || host_queue_full))
            })
            .map(|(receiver, _)| receiver.clone())
            .collect()
    }

    /// Whether `receiver` has work waiting in the database.
    #[cfg(test)]
    fn is_waiting(&self, receiver: &str) -> bool {
        self.state().receivers.get(receiver).is_some_and(|entry| entry.waiting)
    }

    /// Records that lane `receiver` has work waiting in the database: rows written after a claim
    /// may have found it drained.
    pub(crate) fn waits(&self, receiver: &str) {
        let mut state = self.state();
        let State { receivers, hosts, known, .. } = &mut *state;
        let (entry, _) = lane(receivers, hosts, known, receiver);
        let newly = !std::mem::replace(&mut entry.waiting, true);
        state.waiting += usize::from(newly);
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

/// The entry of lane `receiver` and of its host, made (and the lane counted) if missing.
fn lane<'s, Q>(
    receivers: &'s mut HashMap<String, Receiver<Q>>,
    hosts: &'s mut HashMap<String, Host>,
    known: &HashMap<String, f64>,
    receiver: &str,
) -> (&'s mut Receiver<Q>, &'s mut Host) {
    let name = host_of(receiver);
    let host =
        hosts.entry(name.to_owned()).or_insert_with(|| Host { mean: known.get(name).copied(), ..Host::default() });
    let entry = receivers.entry(receiver.to_owned()).or_insert_with(|| {
        host.lanes += 1;
        Receiver { mean: known.get(receiver).copied(), ..Receiver::default() }
    });
    (entry, host)
}

/// Gives a queue place of lane `receiver` (a `retry`'s or not) back to its host.
fn unqueued<Q>(state: &mut State<Q>, receiver: &str, retry: bool) {
    if let Some(host) = state.hosts.get_mut(host_of(receiver)) {
        host.queued = host.queued.saturating_sub(1);
        host.queued_retries = host.queued_retries.saturating_sub(usize::from(retry));
    }
}

/// Drops the entry of `receiver` when nothing of it runs, waits or is queued, and its host's when
/// it has no lane left.
fn forget_if_idle<Q>(state: &mut State<Q>, receiver: &str) {
    if !state.receivers.get(receiver).is_some_and(Receiver::idle) {
        return;
    }
    let mean = state.receivers.remove(receiver).and_then(|entry| entry.mean);
    remember(&mut state.known, receiver, mean);
    let host = host_of(receiver);
    if let Some(entry) = state.hosts.get_mut(host) {
        entry.lanes = entry.lanes.saturating_sub(1);
        if entry.lanes == 0 && entry.running == 0 {
            let mean = state.hosts.remove(host).and_then(|entry| entry.mean);
            remember(&mut state.known, host, mean);
        }
    }
}

/// Keeps `mean`, how long the requests of lane or host `name` took, for when it comes back.
fn remember(known: &mut HashMap<String, f64>, name: &str, mean: Option<f64>) {
    let Some(mean) = mean else { return };
    if known.len() >= KNOWN && !known.contains_key(name) {
        known.clear();
    }
    known.insert(name.to_owned(), mean);
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

    /// Makes `receiver`'s requests, and its host's, look as if they took `took` each.
    fn taking(slots: &Slots<&'static str>, receiver: &str, took: Duration) {
        let mut state = slots.state();
        let State { receivers, hosts, known, .. } = &mut *state;
        let (entry, host) = lane(receivers, hosts, known, receiver);
        (entry.mean, host.mean) = (None, None);
        entry.took(took);
        host.took(took);
    }

    #[test]
    fn a_receiver_at_its_limit_holds_only_its_own_slots_and_places() {
        // Two running slots per receiver; a fast receiver's queue has up to 32 places, 40 in all.
        let slots = slots(4, 2, 40);
        // Its requests are known to be quick: it may hold all of its host's slots.
        taking(&slots, "http://busy", Duration::from_millis(1));
        let running: Vec<_> = (0..2).map(|_| run(slots.place("http://busy", Uuid::now_v7(), false))).collect();
        for _ in 0..32 {
            queue(&slots, slots.place("http://busy", Uuid::now_v7(), false), "busy");
        }
        assert!(matches!(slots.place("http://busy", Uuid::now_v7(), false), Place::Wait));
        assert!(slots.is_waiting("http://busy") && slots.any_waiting());
        let other = run(slots.place("http://other", Uuid::now_v7(), false));
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
        taking(&slots, "http://r", Duration::from_millis(1));
        let _running: Vec<_> = (0..4).map(|_| run(slots.place("http://r", Uuid::now_v7(), false))).collect();
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
        assert!(
            matches!(slots.place("http://r", Uuid::now_v7(), false), Place::Wait),
            "the slow receiver's work waits"
        );
    }

    #[test]
    fn an_ending_request_starts_the_next_of_its_queue_in_its_slot() {
        let slots = slots(2, 1, 16);
        let first = Uuid::now_v7();
        let mut slot = run(slots.place("http://a", first, false));
        let second = Uuid::now_v7();
        queue(&slots, slots.place("http://a", second, false), "second");
        assert!(
            matches!(slots.place("http://a", first, false), Place::Wait),
            "a running delivery gets no second place"
        );
        assert_eq!(slots.next(&mut slot), Some((second, "second")));
        assert!(!slots.holds(first) && slots.holds(second));
        assert_eq!(slots.next(&mut slot), None);
        drop(slot);
        assert!(!slots.holds(second));
        assert!(slots.state().receivers.is_empty(), "idle receivers are forgotten");
        assert!(slots.state().hosts.is_empty(), "and their hosts");
    }

    #[test]
    fn a_half_empty_queue_asks_for_more_and_a_short_claim_ends_the_wait() {
        let slots = slots(1, 1, 100);
        let _slot = run(slots.place("http://a", Uuid::now_v7(), false));
        taking(&slots, "http://a", Duration::from_millis(1));
        for _ in 0..16 {
            queue(&slots, slots.place("http://a", Uuid::now_v7(), false), "a");
        }
        assert!(matches!(slots.place("http://a", Uuid::now_v7(), false), Place::Wait));
        assert!(slots.waiting_with_room(100).is_empty(), "a full queue asks for nothing");
        let ids: Vec<Uuid> = slots.state().receivers["http://a"].queue.iter().map(|(id, ..)| *id).collect();
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
        let _a = run(slots.place("http://a", Uuid::now_v7(), false));
        let _b = run(slots.place("http://b", Uuid::now_v7(), false));
        let reserved = slots.place("http://c", Uuid::now_v7(), false);
        assert!(matches!(reserved, Place::Queue(_)));
        assert!(matches!(slots.place("http://c", Uuid::now_v7(), false), Place::Wait));
        assert!(!slots.has_room());
        drop(reserved);
        assert!(slots.has_room(), "an unused reservation gives its place back");
    }

    #[test]
    fn a_slow_hook_holds_only_its_share_of_its_host_and_an_ending_request_serves_the_lane_running_fewest() {
        // Four slots per host; two hooks on one host: two slots each.
        let slots = slots(16, 4, 100);
        let (slow, fast) = ("http://zap#1", "http://zap#2");
        let mut held: Vec<_> = (0..2).map(|_| run(slots.place(slow, Uuid::now_v7(), false))).collect();
        let first_fast = run(slots.place(fast, Uuid::now_v7(), false));
        assert!(!matches!(slots.place(slow, Uuid::now_v7(), false), Place::Run(_)), "the slow hook has its share");
        // The host's last slot is kept for retries: a first attempt queues, a retry runs.
        queue(&slots, slots.place(fast, Uuid::now_v7(), false), "fast");
        let retry = run(slots.place("http://zap#3", Uuid::now_v7(), true));
        drop(first_fast);
        drop(retry);
        // A slow request ends: the fast lane runs fewer, so the slot goes to it.
        let mut slot = held.pop().unwrap();
        let (_, item) = slots.next(&mut slot).unwrap();
        assert_eq!(item, "fast");
        assert_eq!(slot.receiver, fast);
    }

    #[test]
    fn a_host_with_requests_not_known_to_be_quick_keeps_a_quarter_of_its_slots_for_retries() {
        let slots = slots(16, 4, 1);
        // Its requests take half a second: not quick, and a queue of two places.
        taking(&slots, "http://h#1", Duration::from_millis(500));
        let _first: Vec<_> =
            (1..=3).map(|hook| run(slots.place(&format!("http://h#{hook}"), Uuid::now_v7(), false))).collect();
        let waiting = Uuid::now_v7();
        queue(&slots, slots.place("http://h#4", waiting, false), "first");
        assert!(
            slots.runnable().is_empty() && !slots.any_runnable(),
            "a queued first attempt does not take the last slot"
        );
        let retry = run(slots.place("http://h#5", Uuid::now_v7(), true));
        assert!(matches!(slots.place("http://h#6", Uuid::now_v7(), true), Place::Wait), "the host is full");
        // The retry ends: its slot does not go to the first attempt either.
        let mut retry = retry;
        assert!(slots.next(&mut retry).is_none());
        drop(retry);

        // Once the requests running are of lanes known to be quick, first attempts take every slot.
        drop(_first);
        let _quick: Vec<_> = (1..=3)
            .map(|hook| {
                let lane = format!("http://h#{hook}");
                taking(&slots, &lane, Duration::from_millis(1));
                run(slots.place(&lane, Uuid::now_v7(), false))
            })
            .collect();
        taking(&slots, "http://h#4", Duration::from_millis(1));
        let started = slots.runnable();
        assert_eq!(started.len(), 1);
        assert!(slots.holds(waiting));
    }

    #[test]
    fn a_hook_not_known_to_be_quick_never_holds_all_of_its_hosts_slots() {
        let alone = slots(16, 1, 0);
        let slots = slots(16, 2, 0);
        let _first = run(slots.place("http://h#slow", Uuid::now_v7(), false));
        assert!(matches!(slots.place("http://h#slow", Uuid::now_v7(), false), Place::Wait), "the last slot stays free");
        let _other = run(slots.place("http://h#next", Uuid::now_v7(), false));
        let _only = run(alone.place("http://one#a", Uuid::now_v7(), false));
        assert!(matches!(alone.place("http://one#a", Uuid::now_v7(), false), Place::Wait), "one slot is all there is");
    }

    #[test]
    fn a_hosts_slots_bound_all_its_lanes_together() {
        let slots = slots(16, 2, 0);
        let _a = run(slots.place("http://h#a", Uuid::now_v7(), false));
        let _b = run(slots.place("http://h#b", Uuid::now_v7(), false));
        assert!(matches!(slots.place("http://h#c", Uuid::now_v7(), false), Place::Wait), "the host runs two at most");
        let _other = run(slots.place("http://other#a", Uuid::now_v7(), false));
    }

    #[test]
    fn the_lanes_of_a_host_share_its_queue_and_a_claim_gives_them_no_more_than_it_has() {
        // One slot per host, requests of 100 ms: the host gets through two in a quarter second,
        // however many hooks it has.
        let slots = slots(16, 1, 1000);
        taking(&slots, "http://zap#a", Duration::from_millis(100));
        let _running = run(slots.place("http://zap#a", Uuid::now_v7(), false));
        let lanes: Vec<String> = (0..20).map(|hook| format!("http://zap#{hook}")).collect();
        let mut queued = 0;
        for lane in &lanes {
            taking(&slots, lane, Duration::from_millis(100));
            match slots.place(lane, Uuid::now_v7(), false) {
                Place::Queue(reserved) => {
                    slots.enqueue(reserved, "zap");
                    queued += 1;
                }
                Place::Wait => {}
                Place::Run(_) => panic!("the host's one slot is taken"),
            }
        }
        assert_eq!(queued, 2, "twenty hooks queue what their host gets through, not a queue each");
        assert_eq!(slots.waiting_with_room(100), [], "the host's queue is full: no claim for its lanes");
        let first = slots.state().receivers.values().find_map(|entry| entry.queue.front().map(|(id, ..)| *id));
        assert_eq!(slots.unqueue(first.unwrap()), Some("zap"));
        let rooms = slots.waiting_with_room(100);
        assert_eq!(rooms.iter().map(|(_, room)| room).sum::<usize>(), 1, "one place came free: {rooms:?}");
    }

    #[test]
    fn a_retry_beside_a_hosts_backlog_of_first_attempts_finds_a_place_and_goes_first() {
        // One slot per host: while its requests looked quick, its queue filled with sixteen first
        // attempts; they take 100 ms, which the host gets through two of in a quarter second.
        let slots = slots(16, 1, 1000);
        taking(&slots, "http://zap#0", Duration::from_millis(1));
        let mut slot = run(slots.place("http://zap#0", Uuid::now_v7(), false));
        for hook in 1..=16 {
            let lane = format!("http://zap#{hook}");
            taking(&slots, &lane, Duration::from_millis(1));
            queue(&slots, slots.place(&lane, Uuid::now_v7(), false), "first");
        }
        taking(&slots, "http://zap#0", Duration::from_millis(100));
        assert!(matches!(slots.place("http://zap#17", Uuid::now_v7(), false), Place::Wait));
        // Retries have two places of their own.
        let retries: Vec<Uuid> = (0..2).map(|_| Uuid::now_v7()).collect();
        for (hook, retry) in retries.iter().enumerate() {
            let lane = format!("http://zap#retried{hook}");
            taking(&slots, &lane, Duration::from_millis(100));
            queue(&slots, slots.place(&lane, *retry, true), "retry");
        }
        assert!(matches!(slots.place("http://zap#retried9", Uuid::now_v7(), true), Place::Wait));
        // The retries go before the first attempts queued before them.
        for _ in 0..2 {
            let (id, item) = slots.next(&mut slot).unwrap();
            assert!(item == "retry" && retries.contains(&id), "{item}");
        }
        assert_eq!(slots.next(&mut slot).map(|(_, item)| item), Some("first"));
        // Places retries gave back are retries' again.
        let again: Vec<Uuid> = (0..2).map(|_| Uuid::now_v7()).collect();
        for (hook, retry) in again.iter().enumerate() {
            taking(&slots, &format!("http://zap#again{hook}"), Duration::from_millis(100));
            queue(&slots, slots.place(&format!("http://zap#again{hook}"), *retry, true), "retry");
        }
        assert!(matches!(slots.place("http://zap#again9", Uuid::now_v7(), true), Place::Wait));
        assert_eq!(slots.unqueue(again[0]), Some("retry"));
        queue(&slots, slots.place("http://zap#again9", Uuid::now_v7(), true), "retry");
    }

    #[test]
    fn a_quick_hook_beside_hanging_ones_goes_on_and_is_known_to_be_quick_when_it_comes_back() {
        let slots = slots(64, 16, 0);
        // The fast hook was heard from, then idle (forgotten, but not its speed).
        drop(run(slots.place("http://zap#fast", Uuid::now_v7(), false)));
        taking(&slots, "http://zap#fast", Duration::from_millis(1));
        slots.drained("http://zap#fast");
        assert!(!slots.state().receivers.contains_key("http://zap#fast"), "idle lanes are forgotten");
        // A hook whose requests hang, alone on the host: twelve first attempts of sixteen slots.
        let _hanging: Vec<_> = (0..12).map(|_| run(slots.place("http://zap#slow", Uuid::now_v7(), false))).collect();
        assert!(matches!(slots.place("http://zap#slow", Uuid::now_v7(), false), Place::Wait));
        // The fast hook comes back known to be quick: the slots kept for retries do not hold it back.
        let fast: Vec<_> = (0..4).map(|_| run(slots.place("http://zap#fast", Uuid::now_v7(), false))).collect();
        assert_eq!(fast.len(), 4);
        // A hook not heard from yet may start one request, but not in the host's last slot.
        drop(fast);
        let _probe = run(slots.place("http://zap#new", Uuid::now_v7(), false));
        assert!(matches!(slots.place("http://zap#new", Uuid::now_v7(), false), Place::Wait));
    }

    #[test]
    fn lanes_are_a_hook_at_its_origin_and_fit_the_delivery_table() {
        assert_eq!(lane_of("https://Example.com:443/hooks?x=1", "42"), "https://example.com#42");
        assert_eq!(host_of("https://example.com#4#2"), "https://example.com");
        assert_eq!(host_of("https://example.com"), "https://example.com", "a lane written before hooks had lanes");
        let long = format!("https://{}.example.com/", vec!["a".repeat(60); 5].join("."));
        let lane = lane_of(&long, "7");
        assert!(lane.len() <= MAX_LANE && lane.starts_with("host-") && lane.ends_with("#7"), "{lane}");
        assert_eq!(host_of(&lane), host_of(&lane_of(&format!("{long}other"), "8")), "one host, one hash");
    }

    #[test]
    fn receivers_are_origins() {
        assert_eq!(receiver_of("https://Example.com:443/hooks?x=1"), "https://example.com");
        assert_eq!(receiver_of("http://127.0.0.1:8080/a"), "http://127.0.0.1:8080");
        assert_eq!(receiver_of("not a url"), "not a url");
    }
}
