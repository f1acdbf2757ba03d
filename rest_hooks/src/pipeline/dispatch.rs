//! The dispatcher: committed outbox rows in, leased deliveries out.
//!
//! One pass claims a batch of committed outbox rows, finds the hooks of each and renders one body
//! per hook, all in one transaction: a process that dies mid-pass leaves the rows pending for the
//! next pass. A new delivery that a request [slot](crate::foundation::slots) is free for starts at
//! once and gets no row: its event is held instead (the outbox row's lease), and the delivery's row
//! is written with its outcome — one write on the happy path. The others (no slot free, held in
//! order) are recorded unleased and wait in the database: those held in order by the pass, the
//! others by the outcome writer, with the outcomes it writes anyway, so that a fast receiver's
//! first attempts never wait for the rows of a slow receiver's backlog (their event is held
//! until they are written). An event is marked dispatched when it has no delivery left without a
//! row: at once, or in the transaction that writes the last.
//!
//! Delivery ids derive from the event and the hook ([`delivery::id_for`]): an event whose holder
//! died is dispatched again once its lease runs out, keeps the deliveries that have their row, and
//! sends the others again under the same `webhook-id`.
//!
//! The pass then claims due deliveries while slots are free: first those of receivers known to
//! have work waiting, one receiver at a time, then any other due delivery (retries, replays, the
//! work of a process that died). The registry actor decides when passes run.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, IsolationLevel, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use crate::foundation::changes::from_stored_payload;
use crate::foundation::event::{Action, Event};
use crate::foundation::finder::Finder;
use crate::foundation::hook::{HookId, HookTarget};
use crate::foundation::hookable::{Audience, Owner};
use crate::foundation::job::{InFlight, Job, Leased, Ready};
use crate::foundation::panics::{catch, catch_async};
use crate::foundation::slots::{Place, lane_of};
use crate::foundation::store::outbox::{self, Format};
use crate::foundation::store::shapes::{CHUNK, padded, runs};
use crate::foundation::store::{delivery, hook_state};
use crate::pipeline::deferred::Deferred;
use crate::pipeline::deliver::Outcome;
use crate::runtime::shared::Shared;

/// What a pass produced.
#[derive(Debug, Default)]
pub(crate) struct Pass {
    /// Outbox rows handled (dispatched or failed).
    pub(crate) events: usize,
    /// Deliveries to make now, leased to this process, each with its slot.
    pub(crate) jobs: Vec<Ready>,
    /// New deliveries that wait for their receiver, for the outcome writer to write (see
    /// [`Outcome::waiting`]).
    pub(crate) waiting: Vec<Outcome>,
}

/// Rows of waiting deliveries handed to the outcome writer and not written yet, at most: past it,
/// a pass writes its own, so that a backlog growing faster than it is written is not held in memory.
const UNWRITTEN_MAX: usize = 10_000;

pub(crate) struct Dispatcher {
    shared: Arc<Shared>,
    /// When the last general claim (of receivers not known to have work waiting) ran, and whether a
    /// pass is asked for when it may run again.
    general_claimed: std::sync::Mutex<(Option<std::time::Instant>, bool)>,
    /// Events a database error kept from being dispatched, left pending until their next try.
    deferred: std::sync::Mutex<Deferred>,
}

impl Dispatcher {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared, general_claimed: std::sync::Mutex::default(), deferred: std::sync::Mutex::default() }
    }

    fn deferred(&self) -> std::sync::MutexGuard<'_, Deferred> {
        self.deferred.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Claims up to `limit` committed events and turns them into deliveries, leasing those that
    /// can start now, then claims due deliveries while slots are free.
    pub(crate) async fn pass(&self, limit: usize) -> Result<Pass, DbErr> {
        let _running = self.shared.passes.read().await;
        if self.shared.stopped.load(Ordering::Acquire) {
            return Ok(Pass::default());
        }
        let started = std::time::Instant::now();
        let pass = self.dispatch_and_claim(limit).await;
        let metrics = &self.shared.config.metrics;
        metrics.dispatch_pass(started.elapsed());
        metrics.in_flight(self.shared.in_flight.load(Ordering::Acquire));
        crate::pipeline::backlog::measure_if_due(&self.shared);
        pass
    }

    async fn dispatch_and_claim(&self, limit: usize) -> Result<Pass, DbErr> {
        self.shared.prepare().await?;
        let mut pass = self.dispatch_events(limit).await?;
        // Queued deliveries whose request was stopped before it ended take its slot.
        let runnable = self.shared.slots.runnable();
        pass.jobs.extend(runnable.into_iter().map(|(slot, leased)| Ready::Run(slot, leased)));
        if self.shared.slots.has_room() {
            match self.claim_due(limit).await {
                Ok(jobs) => pass.jobs.extend(jobs),
                // The events above are committed and leased to us: deliver them regardless.
                Err(error) => tracing::warn!(%error, "cannot claim due deliveries; retrying later"),
            }
        }
        crate::pipeline::retention::purge_if_due(&self.shared);
        Ok(pass)
    }

    /// Claims and fans out up to `limit` events in one transaction. The first try takes the whole
    /// batch at once: one lookup per distinct (event, audience), one multi-row insert of the
    /// deliveries. If any event fails there, the transaction is rolled back and the batch is done
    /// again one event at a time, each under its own savepoint, so that only the failing event is
    /// marked failed (on PostgreSQL an error aborts the whole transaction).
    async fn dispatch_events(&self, limit: usize) -> Result<Pass, DbErr> {
        match self.dispatch_batch(limit, Mode::Batch).await {
            Err(Failed::Event) => self.dispatch_batch(limit, Mode::EventByEvent).await,
            result => result,
        }
        .map_err(Failed::into_db)
    }

    async fn dispatch_batch(&self, limit: usize, mode: Mode) -> Result<Pass, Failed> {
        let db = &self.shared.db;
        let backend = db.get_database_backend();
        if backend == DbBackend::Sqlite && !self.any_pending().await? {
            // Nothing to do: SQLite's write lock, which every save needs too, stays untouched.
            return Ok(Pass::default());
        }
        let txn = match backend {
            // Under REPEATABLE READ the locking scan would also lock the gap after the last row and
            // hold up every save that records an event until the pass commits.
            DbBackend::MySql => db.begin_with_config(Some(IsolationLevel::ReadCommitted), None).await?,
            // With SQLite's write lock taken before reading: a deferred transaction that reads and
            // then writes fails outright (it cannot wait) when another writer committed in between.
            _ => crate::runtime::pool::begin_write(db).await?,
        };
        let now = self.shared.clock.now_ms();
        let waiting = self.deferred().waiting(now);
        let mut query = outbox::Entity::find()
            .filter(outbox::Column::State.eq(outbox::state::PENDING))
            .filter(not_held(now))
            .order_by_asc(outbox::Column::Id)
            .limit(limit as u64);
        if !waiting.is_empty() {
            query = query.filter(outbox::Column::Id.is_not_in(waiting));
        }
        if backend != DbBackend::Sqlite {
            query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let mut rows = query.all(&txn).await?;
        // An event whose lease ran out in the database while this process still holds it (its
        // renewal late): not dispatched twice here.
        {
            let held = self.shared.held();
            rows.retain(|row| row.lease_until.is_none() || held.lease_of(row.id).is_none());
        }
        if rows.is_empty() {
            txn.commit().await?;
            return Ok(Pass::default());
        }
        let lease_until = now.saturating_add(self.shared.config.lease_ms());
        // The rows of deliveries that wait for their receiver go to the outcome writer, so that the
        // deliveries that start now do not wait for them — unless too many wait to be written
        // already, or this is the careful retry of a batch that failed.
        let defer = mode == Mode::Batch && self.shared.unwritten.load(Ordering::Acquire) < UNWRITTEN_MAX;
        let mut hooks = HookCache::default();
        let mut pass = Pass::default();
        let mut dispatched = Vec::with_capacity(rows.len());
        let mut deliveries = Vec::new();
        // The deliveries started without a row, by event.
        let mut held: HashMap<i64, Vec<Uuid>> = HashMap::new();
        for row in rows {
            pass.events += 1;
            let id = row.id;
            match mode {
                Mode::Batch => {
                    let Ok(jobs) = self.deliveries_for(&txn, &mut hooks, row, now, lease_until).await else {
                        txn.rollback().await?;
                        return Err(Failed::Event);
                    };
                    let waiting = pass.waiting.len();
                    let ready = self.start_or_wait(jobs, &mut deliveries, defer.then_some(&mut pass.waiting), now);
                    dispatched.push(id);
                    hold(&mut held, id, &ready, &pass.waiting[waiting..]);
                    pass.jobs.extend(ready);
                }
                Mode::EventByEvent => {
                    let savepoint = txn.begin().await?;
                    match self.dispatch_event(&savepoint, &mut hooks, row, now, lease_until).await {
                        Ok(ready) => {
                            savepoint.commit().await?;
                            self.deferred().forget(id);
                            dispatched.push(id);
                            hold(&mut held, id, &ready, &[]);
                            pass.jobs.extend(ready);
                        }
                        Err(EventError::Database(error)) => {
                            savepoint.rollback().await?;
                            let (failures, retry_in) = self.deferred().defer(id, now);
                            self.shared.config.metrics.dispatch_error(false);
                            let retry_in = std::time::Duration::from_millis(retry_in.unsigned_abs());
                            if failures >= LOUD_AFTER {
                                tracing::error!(outbox_id = id, %error, failures, ?retry_in, "cannot dispatch event: a database error; it stays pending");
                            } else {
                                tracing::warn!(outbox_id = id, %error, failures, ?retry_in, "cannot dispatch event yet: a database error; it stays pending");
                            }
                        }
                        Err(EventError::Unusable(error)) => {
                            savepoint.rollback().await?;
                            self.shared.config.metrics.dispatch_error(true);
                            tracing::error!(outbox_id = id, %error, "cannot dispatch event: marked failed; replay it once the cause is fixed");
                            mark_failed(&txn, id, &error, now).await?;
                        }
                    }
                }
            }
        }
        if insert_deliveries(&txn, deliveries).await.is_err() {
            txn.rollback().await?;
            return Err(Failed::Event);
        }
        // Events with deliveries under way without a row are held; the others are dispatched.
        let (holding, done): (Vec<i64>, Vec<i64>) = dispatched.into_iter().partition(|id| held.contains_key(id));
        for chunk in done.chunks(CHUNK) {
            outbox::mark_dispatched(now).filter(outbox::Column::Id.is_in(padded(chunk))).exec(&txn).await?;
        }
        for chunk in holding.chunks(CHUNK) {
            outbox::Entity::update_many()
                .col_expr(outbox::Column::LeaseUntil, Expr::value(lease_until))
                .filter(outbox::Column::Id.is_in(padded(chunk)))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        let mut holds = self.shared.held();
        for (outbox_id, deliveries) in held {
            holds.hold(outbox_id, lease_until, deliveries);
        }
        Ok(pass)
    }

    /// Renders and records the deliveries of one event.
    async fn dispatch_event(
        &self,
        txn: &DatabaseTransaction,
        hooks: &mut HookCache,
        row: outbox::Model,
        now: i64,
        lease_until: i64,
    ) -> Result<Vec<Ready>, EventError> {
        let jobs = self.deliveries_for(txn, hooks, row, now, lease_until).await?;
        let mut rows = Vec::with_capacity(jobs.len());
        let ready = self.start_or_wait(jobs, &mut rows, None, now);
        insert_deliveries(txn, rows)
            .await
            .map_err(|e| EventError::Database(format!("cannot record its deliveries: {e}")))?;
        Ok(ready)
    }

    /// Gives each job a running slot or a queue place when its receiver has one (see
    /// [`slots`](crate::foundation::slots)); the job is then returned, without a row (its event
    /// holds it). The others are recorded unleased, to wait in the database for their receiver's
    /// turn: in `rows`, written by the pass, or when `waiting` is given and they are not held in
    /// order, in `waiting`, for the outcome writer to write (their event holds them until then).
    fn start_or_wait(
        &self,
        jobs: Vec<Job>,
        rows: &mut Vec<delivery::ActiveModel>,
        mut waiting: Option<&mut Vec<Outcome>>,
        now: i64,
    ) -> Vec<Ready> {
        let mut ready = Vec::new();
        for mut job in jobs {
            let receiver = lane_of(&job.hook.target, &job.hook.id.to_string());
            if job.order_key.is_some() {
                // Recorded unleased: the claim that follows the pass leases it once every earlier
                // delivery about its instance is done.
                rows.push(new_delivery(&job, &receiver, None, now));
                continue;
            }
            match self.shared.slots.place(&receiver, job.id, false) {
                Place::Wait => match waiting.as_deref_mut() {
                    Some(waiting) => {
                        let unwritten = InFlight::new(&self.shared.unwritten);
                        waiting.push(Outcome::waiting(job, unwritten));
                    }
                    None => rows.push(new_delivery(&job, &receiver, None, now)),
                },
                place => {
                    job.recorded = false;
                    ready.extend(self.ready(place, job));
                }
            }
        }
        ready
    }

    /// `job`, leased, in `place`.
    fn ready(&self, place: Place<Leased>, job: Job) -> Option<Ready> {
        match place {
            Place::Run(slot) => Some(Ready::Run(slot, Leased::new(job, &self.shared.in_flight))),
            Place::Queue(reserved) => Some(Ready::Queue(reserved, Leased::new(job, &self.shared.in_flight))),
            Place::Wait => None,
        }
    }

    /// Whether any committed event waits for dispatch, those a database error deferred aside: a
    /// plain read, no lock.
    async fn any_pending(&self) -> Result<bool, DbErr> {
        let waiting = self.deferred().waiting(self.shared.clock.now_ms());
        let mut query = outbox::Entity::find()
            .select_only()
            .column(outbox::Column::Id)
            .filter(outbox::Column::State.eq(outbox::state::PENDING))
            .filter(not_held(self.shared.clock.now_ms()));
        if !waiting.is_empty() {
            query = query.filter(outbox::Column::Id.is_not_in(waiting));
        }
        let found = query.limit(1).into_tuple::<i64>().one(&self.shared.db).await?;
        Ok(found.is_some())
    }

    /// Whether a committed event waits for dispatch: what the schedule's looks after a nudge ask,
    /// one cheap read each, until the save's commit shows.
    pub(crate) async fn look(&self) -> Result<bool, DbErr> {
        if self.shared.stopped.load(Ordering::Acquire) {
            return Ok(false);
        }
        self.any_pending().await
    }

    /// Finds the hooks of one event and renders a job for each. User code is guarded: a panic
    /// fails this event, not the pass.
    async fn deliveries_for(
        &self,
        txn: &DatabaseTransaction,
        hooks: &mut HookCache,
        row: outbox::Model,
        now: i64,
        lease_until: i64,
    ) -> Result<Vec<Job>, EventError> {
        let (outbox_id, recorded_at, again) = (row.id, row.created_at, row.lease_until.is_some());
        let format = Format::parse(&row.format)
            .ok_or_else(|| EventError::Unusable(format!("unknown stored format `{}`", row.format)))?;
        let object = row.object.clone();
        let event = event_from_row(row, format).map_err(EventError::Unusable)?;
        let targets = hooks.find(&*self.shared.finder, txn, &event).await?;
        let event_name: Arc<str> = Arc::from(event.name.as_str());
        let ordered_event = self.shared.config.ordered_events.contains(&event.name);
        let ids: Vec<Uuid> =
            targets.iter().map(|(hook, _)| delivery::id_for(outbox_id, &hook.id.to_string(), recorded_at)).collect();
        // Dispatched before by a process whose hold ran out: the deliveries that have their row
        // are accounted for.
        let recorded = match again {
            true => recorded_among(txn, &ids)
                .await
                .map_err(|e| EventError::Database(format!("cannot read its deliveries: {e}")))?,
            false => HashSet::new(),
        };
        targets
            .iter()
            .zip(ids)
            .filter(|(_, id)| !recorded.contains(id))
            .map(|((hook, ordered_hook), id)| {
                let order_key = object.clone().filter(|_| ordered_event || *ordered_hook);
                let body = catch(|| self.shared.renderer.render(hook, &event, format))
                    .map_err(|panic| EventError::Unusable(format!("the serializer panicked: {panic}")))?;
                let body = serde_json::to_string(&body)
                    .map_err(|e| EventError::Unusable(format!("cannot encode the body: {e}")))?;
                Ok(Job {
                    id,
                    hook: hook.clone(),
                    event: Arc::clone(&event_name),
                    body,
                    attempt: 1,
                    lease_until,
                    outbox_id,
                    created_at: now,
                    recorded_at,
                    order_key,
                    recorded: true,
                })
            })
            .collect()
    }

    /// Claims due deliveries, at most `limit`, while slots are free: first the work waiting for
    /// receivers that now have room — their retries first, across all of them, then their first
    /// attempts receiver by receiver (oldest due first) — then any other due delivery no live
    /// process holds, of receivers with room. So the retry of one hook at a host goes before the
    /// backlog of first attempts of every hook there.
    async fn claim_due(&self, limit: usize) -> Result<Vec<Ready>, DbErr> {
        let slots = &self.shared.slots;
        let mut ready = Vec::new();
        let lanes = slots.waiting_with_room(limit);
        let (mut rooms, mut claims) = (Vec::with_capacity(lanes.len()), Vec::new());
        for (receiver, room) in &lanes {
            let rows = self.due(Due::RetriesOf(receiver), *room).await?;
            rooms.push(room - rows.len());
            claims.extend(rows);
        }
        for ((receiver, _), room) in lanes.iter().zip(rooms) {
            if room == 0 {
                continue;
            }
            let rows = self.due(Due::FirstOf(receiver), room).await?;
            if rows.len() < room {
                slots.drained(receiver);
            }
            claims.extend(rows);
        }
        // One lease transaction for all of them, retries placed first.
        ready.extend(self.lease(claims).await?);
        let room = limit.saturating_sub(ready.len());
        if room > 0 && slots.has_room() && self.general_claim_due() {
            let left_out = slots.left_out();
            let rows = self.due(Due::Except(&left_out), room).await?;
            ready.extend(self.lease(rows).await?);
        }
        let mut jobs: Vec<&mut Job> = ready.iter_mut().map(Ready::job_mut).collect();
        self.sign_with_current_secrets(&mut jobs).await;
        self.with_recording_times(&mut jobs).await;
        Ok(ready)
    }

    /// Whether the general claim runs in this pass: at most every [`GENERAL_CLAIM_EVERY`]. It reads
    /// due deliveries by due time, leaving out the receivers claimed one by one, so behind a large
    /// backlog of theirs it reads far (run in every pass, it took most of a backlog's drain). What
    /// it finds — retries of receivers not known to have work waiting, replays, the deliveries of a
    /// process that died — then waits that much longer at most; their receivers, once known to
    /// have work waiting, are claimed one by one in every pass. A pass that skips it asks for one
    /// when it may run again.
    fn general_claim_due(&self) -> bool {
        let mut claimed = self.general_claimed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (last, asked) = &mut *claimed;
        let now = std::time::Instant::now();
        if let Some(last) = *last {
            let since = now.duration_since(last);
            if since < GENERAL_CLAIM_EVERY {
                if !std::mem::replace(asked, true)
                    && let Some(signals) = self.shared.signals()
                {
                    signals.due.do_send(crate::runtime::signals::Due(GENERAL_CLAIM_EVERY - since));
                }
                return false;
            }
        }
        (*last, *asked) = (Some(now), false);
        true
    }

    /// Up to `limit` pending deliveries that are due and not under a live lease, oldest due first.
    async fn due(&self, which: Due<'_>, limit: usize) -> Result<Vec<delivery::Model>, DbErr> {
        let now = self.shared.clock.now_ms();
        let query = || {
            delivery::Entity::find()
                .filter(delivery::Column::State.eq(delivery::state::PENDING))
                .filter(delivery::Column::NextAttemptAt.lte(now))
                .filter(delivery::Column::LeaseUntil.is_null().or(delivery::Column::LeaseUntil.lt(now)))
                .filter(delivery::Column::OrderKey.is_null().or(Expr::cust(in_turn())))
                .order_by_asc(delivery::Column::NextAttemptAt)
        };
        match which {
            Due::RetriesOf(receiver) => {
                // Ordered as the receiver's index is (attempts, then due time), so that the
                // database walks that index: ordered by due time alone, SQLite scans the whole
                // backlog by due time for the few retries.
                delivery::Entity::find()
                    .filter(delivery::Column::State.eq(delivery::state::PENDING))
                    .filter(delivery::Column::Receiver.eq(receiver))
                    .filter(delivery::Column::Attempts.gt(0))
                    .filter(delivery::Column::NextAttemptAt.lte(now))
                    .filter(delivery::Column::LeaseUntil.is_null().or(delivery::Column::LeaseUntil.lt(now)))
                    .filter(delivery::Column::OrderKey.is_null().or(Expr::cust(in_turn())))
                    .order_by_asc(delivery::Column::Attempts)
                    .order_by_asc(delivery::Column::NextAttemptAt)
                    .limit(limit as u64)
                    .all(&self.shared.db)
                    .await
            }
            Due::FirstOf(receiver) => {
                query()
                    .filter(delivery::Column::Receiver.eq(receiver))
                    .filter(delivery::Column::Attempts.eq(0))
                    .limit(limit as u64)
                    .all(&self.shared.db)
                    .await
            }
            Due::Except(receivers) if receivers.len() <= MAX_LEFT_OUT => {
                let mut query = query();
                if !receivers.is_empty() {
                    query = query.filter(delivery::Column::Receiver.is_not_in(padded(receivers)));
                }
                query.limit(limit as u64).all(&self.shared.db).await
            }
            // Too many to name in the query: read a little more and leave them out here.
            Due::Except(receivers) => {
                let rows = query().limit((limit + receivers.len().min(limit)) as u64).all(&self.shared.db).await?;
                Ok(rows.into_iter().filter(|row| !receivers.contains(&row.receiver)).take(limit).collect())
            }
        }
    }

    /// Leases `rows` to this process, each that gets a slot and that no other process claimed
    /// since it was read.
    async fn lease(&self, rows: Vec<delivery::Model>) -> Result<Vec<Ready>, DbErr> {
        let slots = &self.shared.slots;
        let mut ready = Vec::new();
        let mut claims = Vec::new();
        for row in rows {
            // A delivery running or queued here is never claimed again here, whatever its lease
            // says.
            if slots.holds(row.id) {
                continue;
            }
            match slots.place(&row.receiver, row.id, row.attempts > 0) {
                Place::Wait => {}
                place => claims.push((row, place)),
            }
        }
        if claims.is_empty() {
            return Ok(ready);
        }
        let lease_until = self.shared.clock.now_ms().saturating_add(self.shared.config.lease_ms());
        let claimed = match self.lease_at_once(&claims, lease_until).await? {
            true => vec![true; claims.len()],
            // Another process claimed some of them since they were read: one at a time.
            false => self.lease_one_by_one(&claims, lease_until).await?,
        };
        for ((row, place), claimed) in claims.into_iter().zip(claimed) {
            if claimed {
                ready.extend(self.ready(place, job_from_row(row, lease_until)));
            }
        }
        Ok(ready)
    }

    /// Leases every delivery of `claims` until `lease_until` in one statement per lease they were
    /// read with (most often none), if no other process claimed any of them since they were read;
    /// returns whether it did (else nothing changed).
    async fn lease_at_once(
        &self,
        claims: &[(delivery::Model, Place<Leased>)],
        lease_until: i64,
    ) -> Result<bool, DbErr> {
        let mut by_lease: HashMap<Option<i64>, Vec<Uuid>> = HashMap::new();
        for (row, _) in claims {
            by_lease.entry(row.lease_until).or_default().push(row.id);
        }
        let txn = crate::runtime::pool::begin_write(&self.shared.db).await?;
        for (lease, ids) in by_lease {
            for chunk in ids.chunks(CHUNK) {
                let claimed = delivery::Entity::update_many()
                    .col_expr(delivery::Column::LeaseUntil, Expr::value(lease_until))
                    .filter(delivery::Column::Id.is_in(padded(chunk)))
                    .filter(delivery::still_pending())
                    .filter(lease_matches(lease))
                    .exec(&txn)
                    .await?;
                if claimed.rows_affected != chunk.len() as u64 {
                    txn.rollback().await?;
                    return Ok(false);
                }
            }
        }
        txn.commit().await?;
        Ok(true)
    }

    /// Leases each delivery of `claims` that no other process claimed since it was read; returns
    /// which it leased.
    async fn lease_one_by_one(
        &self,
        claims: &[(delivery::Model, Place<Leased>)],
        lease_until: i64,
    ) -> Result<Vec<bool>, DbErr> {
        let txn = crate::runtime::pool::begin_write(&self.shared.db).await?;
        let mut claimed = Vec::with_capacity(claims.len());
        for (row, _) in claims {
            let done = delivery::Entity::update_many()
                .col_expr(delivery::Column::LeaseUntil, Expr::value(lease_until))
                .filter(delivery::Column::Id.eq(row.id))
                .filter(delivery::Column::State.eq(delivery::state::PENDING))
                .filter(lease_matches(row.lease_until))
                .exec(&txn)
                .await?;
            claimed.push(done.rows_affected == 1);
        }
        txn.commit().await?;
        Ok(claimed)
    }
}

/// Which due deliveries a claim reads.
enum Due<'a> {
    /// The retries (deliveries attempted before) of one receiver.
    RetriesOf(&'a str),
    /// The first attempts of one receiver.
    FirstOf(&'a str),
    /// Those of every receiver but these.
    Except(&'a [String]),
}

/// How often, at most, the general claim runs.
const GENERAL_CLAIM_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// How many receivers a claim names in its query to leave them out.
const MAX_LEFT_OUT: usize = 200;

/// How a pass fans out its events.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// All events in one go; any failure sends the pass back as [`Failed::Event`].
    Batch,
    /// Each event under its own savepoint; a failing event is marked failed.
    EventByEvent,
}

enum Failed {
    /// An event failed in [`Mode::Batch`]; the transaction was rolled back.
    Event,
    Db(DbErr),
}

impl From<DbErr> for Failed {
    fn from(error: DbErr) -> Self {
        Failed::Db(error)
    }
}

impl Failed {
    fn into_db(self) -> DbErr {
        match self {
            Failed::Db(error) => error,
            Failed::Event => DbErr::Custom("an event failed to dispatch one at a time".to_owned()),
        }
    }
}

/// Why one event could not be dispatched.
enum EventError {
    /// The database failed (a lost connection, a deadlock, a lock timeout, a table or column
    /// missing until a migration runs): the event stays pending and is tried again later.
    Database(String),
    /// The event itself cannot be dispatched (its stored payload cannot be read, the
    /// application's finder or serializer panicked): it is marked failed, for a replay once the
    /// cause is fixed.
    Unusable(String),
}

impl std::fmt::Display for EventError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventError::Database(error) | EventError::Unusable(error) => f.write_str(error),
        }
    }
}

/// Failures in a row after which a deferred event is logged as an error rather than a warning.
const LOUD_AFTER: u32 = 5;

/// The hooks found during one pass, by the finder's [lookup key](Finder::lookup_key) when it gives
/// one.
#[derive(Default)]
struct HookCache {
    found: HashMap<String, Found>,
}

/// The hooks of one event name and audience, each with whether its deliveries go in order.
type Found = Arc<[(HookTarget, bool)]>;

impl HookCache {
    async fn find(
        &mut self,
        finder: &dyn Finder,
        txn: &DatabaseTransaction,
        event: &Event,
    ) -> Result<Found, EventError> {
        let key = catch(|| finder.lookup_key(event)).ok().flatten();
        if let Some(hooks) = key.as_ref().and_then(|key| self.found.get(key)) {
            return Ok(Arc::clone(hooks));
        }
        let found = catch_async(finder.find(txn, event))
            .await
            .map_err(|panic| EventError::Unusable(format!("the finder panicked: {panic}")))?
            .map_err(|e| EventError::Database(format!("the finder failed: {e}")))?;
        let hooks: Found = with_states(txn, found)
            .await
            .map_err(|e| EventError::Database(format!("cannot read the hooks' states: {e}")))?
            .into();
        if let Some(key) = key {
            self.found.insert(key, Arc::clone(&hooks));
        }
        Ok(hooks)
    }
}

/// `hooks` without those the engine disabled, each with whether its deliveries go in order.
async fn with_states(txn: &DatabaseTransaction, hooks: Vec<HookTarget>) -> Result<Vec<(HookTarget, bool)>, DbErr> {
    if hooks.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = hooks.iter().map(|hook| hook.id.to_string()).collect();
    let (mut disabled, mut ordered) = (HashSet::new(), HashSet::new());
    for chunk in ids.chunks(CHUNK) {
        let rows = hook_state::Entity::find()
            .filter(hook_state::Column::HookId.is_in(padded(chunk)))
            .filter(hook_state::Column::DisabledAt.is_not_null().or(hook_state::Column::Ordered.eq(true)))
            .all(txn)
            .await?;
        for row in rows {
            if row.disabled_at.is_some() {
                disabled.insert(row.hook_id);
            } else if row.ordered {
                ordered.insert(row.hook_id);
            }
        }
    }
    Ok(hooks
        .into_iter()
        .filter_map(|hook| {
            let key = hook.id.to_string();
            (!disabled.contains(&key)).then(|| {
                let in_order = ordered.contains(&key);
                (hook, in_order)
            })
        })
        .collect())
}

async fn insert_deliveries(txn: &DatabaseTransaction, deliveries: Vec<delivery::ActiveModel>) -> Result<(), DbErr> {
    for run in runs(&deliveries) {
        delivery::Entity::insert_many(run.to_vec()).exec_without_returning(txn).await?;
    }
    Ok(())
}

impl Dispatcher {
    /// Gives taken-over jobs their hooks as they are now, read through the finder in a
    /// transaction of their own (a failed read there cannot undo the claims): their current secrets
    /// and target, so that retries and replays follow a rotation or a changed URL. A hook that
    /// cannot be read keeps the target the delivery was made for and leaves it to the engine's
    /// fallback secret.
    async fn sign_with_current_secrets(&self, jobs: &mut [&mut Job]) {
        if jobs.is_empty() {
            return;
        }
        let txn = match self.shared.db.begin().await {
            Ok(txn) => txn,
            Err(error) => {
                tracing::warn!(%error, "cannot read the hooks' secrets for taken-over deliveries");
                return;
            }
        };
        let mut hooks = HashMap::new();
        for job in jobs.iter_mut() {
            match self.current_hook(&txn, &mut hooks, &job.hook.id).await {
                Some(hook) => {
                    job.hook.secrets = hook.secrets;
                    job.hook.target = hook.target;
                }
                None => job.hook.secrets = Vec::new(),
            }
        }
        // Read-only: how it ends changes nothing.
        let _ = txn.rollback().await;
    }

    /// Gives claimed first attempts the time their event was recorded, for the first-attempt
    /// latency; a job whose event cannot be read keeps its delivery's creation time.
    async fn with_recording_times(&self, jobs: &mut [&mut Job]) {
        let first: Vec<i64> = jobs.iter().filter(|job| job.attempt == 1).map(|job| job.outbox_id).collect();
        let mut recorded = HashMap::with_capacity(first.len());
        for chunk in first.chunks(CHUNK) {
            let rows = outbox::Entity::find()
                .select_only()
                .column(outbox::Column::Id)
                .column(outbox::Column::CreatedAt)
                .filter(outbox::Column::Id.is_in(padded(chunk)))
                .into_tuple::<(i64, i64)>()
                .all(&self.shared.db)
                .await;
            match rows {
                Ok(rows) => recorded.extend(rows),
                Err(error) => tracing::debug!(%error, "cannot read when claimed deliveries' events were recorded"),
            }
        }
        for job in jobs.iter_mut().filter(|job| job.attempt == 1) {
            if let Some(&at) = recorded.get(&job.outbox_id) {
                job.recorded_at = at;
            }
        }
    }

    /// Hook `id` as the finder reads it now, once per pass; `None` when it cannot say.
    async fn current_hook(
        &self,
        txn: &DatabaseTransaction,
        hooks: &mut HashMap<HookId, Option<HookTarget>>,
        id: &HookId,
    ) -> Option<HookTarget> {
        if let Some(hook) = hooks.get(id) {
            return hook.clone();
        }
        let found = catch_async(self.shared.finder.find_hook(txn, id)).await;
        let hook = match found {
            Ok(Ok(hook)) => hook,
            Ok(Err(error)) => {
                tracing::warn!(hook_id = %id, %error, "cannot read the hook's secrets for a taken-over delivery");
                None
            }
            Err(panic) => {
                tracing::error!(hook_id = %id, %panic, "the finder panicked");
                None
            }
        };
        hooks.insert(id.clone(), hook.clone());
        hook
    }
}

/// The condition under which a delivery held in order is due in turn: no earlier delivery of its
/// hook about its instance is pending (under way, waiting for a retry or not yet sent), and no
/// earlier event about its instance waits for dispatch (another process may be recording its
/// deliveries right now; an event held has recorded its ordered deliveries, which are never
/// started without a row). Earlier means recorded earlier: for changes to one row, the order in
/// which they committed, since each waited for the row lock of the one before.
fn in_turn() -> &'static str {
    static CONDITION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CONDITION.get_or_init(|| {
        format!(
            "NOT EXISTS (SELECT 1 FROM rest_hooks_delivery earlier WHERE earlier.order_key = rest_hooks_delivery.order_key \
             AND earlier.hook_id = rest_hooks_delivery.hook_id AND earlier.state = {pending} \
             AND earlier.outbox_id < rest_hooks_delivery.outbox_id) \
             AND NOT EXISTS (SELECT 1 FROM rest_hooks_outbox undispatched WHERE undispatched.object = rest_hooks_delivery.order_key \
             AND undispatched.state = {undispatched} AND undispatched.lease_until IS NULL \
             AND undispatched.id < rest_hooks_delivery.outbox_id)",
            pending = delivery::state::PENDING,
            undispatched = outbox::state::PENDING,
        )
    })
}

fn lease_matches(lease: Option<i64>) -> sea_orm::Condition {
    let column = delivery::Column::LeaseUntil;
    sea_orm::Condition::all().add(match lease {
        Some(until) => column.eq(until),
        None => column.is_null(),
    })
}

async fn mark_failed(txn: &DatabaseTransaction, id: i64, error: &str, now: i64) -> Result<(), DbErr> {
    outbox::Entity::update_many()
        .col_expr(outbox::Column::State, Expr::value(outbox::state::FAILED))
        .col_expr(outbox::Column::Error, Expr::value(error.to_owned()))
        .col_expr(outbox::Column::DispatchedAt, Expr::value(now))
        .filter(outbox::Column::Id.eq(id))
        .exec(txn)
        .await
        .map(drop)
}

fn event_from_row(row: outbox::Model, format: Format) -> Result<Event, String> {
    let payload = serde_json::from_str(&row.payload).map_err(|e| format!("stored payload is not JSON: {e}"))?;
    let (data, changes) = match format.has_changes() {
        true => from_stored_payload(payload).map(|(data, changes)| (data, Some(changes)))?,
        false => (payload, None),
    };
    let audience = match (row.all_owners, row.owner) {
        (true, _) => Audience::All,
        (false, Some(owner)) => Audience::Owner(Owner::from(owner)),
        (false, None) => Audience::Unowned,
    };
    Ok(Event {
        id: row.id,
        name: row.event,
        model: row.model,
        action: row.action.as_deref().map(Action::parse),
        audience,
        data,
        recorded_at: row.created_at,
        changes,
    })
}

/// The row of a new delivery, leased until `lease_until` or waiting unleased.
fn new_delivery(job: &Job, receiver: &str, lease_until: Option<i64>, now: i64) -> delivery::ActiveModel {
    delivery::ActiveModel {
        id: Set(job.id),
        outbox_id: Set(job.outbox_id),
        hook_id: Set(job.hook.id.to_string()),
        event: Set(job.event.to_string()),
        target: Set(job.hook.target.clone()),
        receiver: Set(receiver.to_owned()),
        body: Set(job.body.clone()),
        state: Set(delivery::state::PENDING),
        attempts: Set(0),
        created_at: Set(now),
        next_attempt_at: Set(now),
        lease_until: Set(lease_until),
        last_status: Set(None),
        last_error: Set(None),
        delivered_at: Set(None),
        order_key: Set(job.order_key.clone()),
    }
}

fn job_from_row(row: delivery::Model, lease_until: i64) -> Job {
    Job {
        id: row.id,
        hook: HookTarget {
            id: HookId::parse(&row.hook_id),
            event: row.event.clone(),
            target: row.target,
            owner: None,
            secrets: Vec::new(),
        },
        event: Arc::from(row.event),
        body: row.body,
        attempt: u32::try_from(row.attempts).unwrap_or(0).saturating_add(1),
        lease_until,
        outbox_id: row.outbox_id,
        created_at: row.created_at,
        // Until the claim reads its event's (see `with_recording_times`).
        recorded_at: row.created_at,
        order_key: row.order_key,
        recorded: true,
    }
}

/// An outbox row no live process holds.
fn not_held(now: i64) -> sea_orm::Condition {
    sea_orm::Condition::any().add(outbox::Column::LeaseUntil.is_null()).add(outbox::Column::LeaseUntil.lt(now))
}

/// Adds to `held` the deliveries of event `outbox_id` that start without a row, and those whose
/// row the outcome writer writes (`waiting`).
fn hold(held: &mut HashMap<i64, Vec<Uuid>>, outbox_id: i64, ready: &[Ready], waiting: &[Outcome]) {
    let started = ready.iter().map(Ready::job).filter(|job| !job.recorded).map(|job| job.id);
    let started: Vec<Uuid> = started.chain(waiting.iter().map(|outcome| outcome.id)).collect();
    if !started.is_empty() {
        held.entry(outbox_id).or_default().extend(started);
    }
}

/// Which of `ids` have their delivery row.
async fn recorded_among(txn: &DatabaseTransaction, ids: &[Uuid]) -> Result<HashSet<Uuid>, DbErr> {
    let mut found = HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        let rows = delivery::Entity::find()
            .select_only()
            .column(delivery::Column::Id)
            .filter(delivery::Column::Id.is_in(padded(chunk)))
            .into_tuple::<Uuid>()
            .all(txn)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}
