//! The outcome writer: a thin actor that batches the outcomes of attempts (one transaction for
//! whatever arrived while the last one ran, see [`write_outcomes`]), with the rows of new
//! deliveries that wait for their receiver ([`Waiting`]), and keeps the leases of the deliveries
//! queued or under way.
//!
//! Every quarter of a lease it renews them all in one transaction ([`renew_leases`]) — a delivery's
//! own lease, or for a delivery started without a row its event's — so a lease runs out only when
//! its process stopped renewing it — died, or lost its database. A request
//! whose lease could not be renewed is aborted before the lease runs out, so that no delivery is
//! ever sent by two live processes at once; another process (or this one, later) takes it over.
//! Renewals and outcome writes take turns, so an outcome is always written under the lease its
//! delivery holds.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use actix::{Actor, ActorFutureExt, AsyncContext, Context, Handler, Message, SpawnHandle, WrapFuture};
use tokio::task::AbortHandle;
use uuid::Uuid;

use crate::pipeline::deliver::Outcome;
use crate::pipeline::health;
use crate::pipeline::outcome::{renew_leases, wake_for_retries, wake_for_waiting, write_outcomes};
use crate::runtime::shared::Shared;

/// A delivery leased under `lease_until`, queued (`task` is `None`) or started: its lease is
/// renewed until its outcome is written, and it is stopped if the lease cannot be. A delivery
/// without a row (`event` is its outbox row) is held by its event, whose lease is renewed instead.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Started {
    pub(crate) id: Uuid,
    pub(crate) lease_until: i64,
    pub(crate) task: Option<AbortHandle>,
    pub(crate) event: Option<i64>,
}

/// New deliveries that wait for their receiver (see [`Outcome::waiting`]): their rows are written
/// with the next batch of outcomes.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Waiting(pub(crate) Vec<Outcome>);

/// A delivery queued or under way here.
struct Held {
    /// Its own lease as it stands; for a delivery held by its event, the lease it was started under.
    lease_until: i64,
    /// Its task, once started.
    task: Option<AbortHandle>,
    /// The event holding it, for a delivery without a row.
    event: Option<i64>,
}

/// Writes outcomes in batches (one transaction for whatever arrived while the last one ran) and
/// renews the leases of requests under way, taking turns.
pub(crate) struct OutcomeWriter {
    shared: Arc<Shared>,
    buffer: Vec<Outcome>,
    writing: bool,
    /// The deliveries queued or under way.
    leases: HashMap<Uuid, Held>,
    /// Set when the leases are due for renewal.
    renew: bool,
    /// The timer that ends the gathering of a batch (see [`GATHER`]), while one runs.
    gathering: Option<SpawnHandle>,
    /// How long the first outcome of a batch waits for others.
    gather: Duration,
}

/// How long the first outcome of a batch waits for others to arrive: a few outcomes written in one
/// transaction hold the database's write lock far less than as many transactions of one.
const GATHER: Duration = Duration::from_millis(2);

/// The same on SQLite, where each of the engine's write transactions takes the one write lock
/// that the application's saves need too, and a save that finds it taken sleeps a millisecond or
/// more: outcomes are written at most 50 times a second. An outcome that someone waits for (the
/// turn of a delivery held in order) ends the gathering at once.
const GATHER_SQLITE: Duration = Duration::from_millis(20);

impl OutcomeWriter {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let gather = match shared.db.get_database_backend() {
            sea_orm::DbBackend::Sqlite => GATHER_SQLITE,
            _ => GATHER,
        };
        Self {
            shared,
            buffer: Vec::new(),
            writing: false,
            leases: HashMap::new(),
            renew: false,
            gathering: None,
            gather,
        }
    }

    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.writing {
            return;
        }
        if self.renew && !self.leases.is_empty() {
            self.renew_leases(ctx);
            return;
        }
        self.renew = false;
        if self.buffer.is_empty() {
            return;
        }
        self.writing = true;
        let mut batch = std::mem::take(&mut self.buffer);
        {
            let holds = self.shared.held();
            for outcome in &mut batch {
                let held = self.leases.remove(&outcome.id);
                let event = outcome.unrecorded.as_ref().map(|unrecorded| unrecorded.outbox_id);
                let lease = match event {
                    Some(outbox_id) => holds.lease_of(outbox_id),
                    None => held.map(|held| held.lease_until),
                };
                if let Some(lease_until) = lease {
                    outcome.under(lease_until);
                }
            }
        }
        let count = batch.len();
        let shared = Arc::clone(&self.shared);
        let task = self.shared.runtime.spawn(async move {
            match write_outcomes(&shared, &batch).await {
                Ok(disabled) => {
                    health::report_disabled(&shared, disabled).await;
                    wake_for_retries(&shared, &batch);
                    wake_for_waiting(&shared, &batch);
                    // Their deliveries are no longer in flight once the batch is dropped.
                    drop(batch);
                    shared.config.metrics.in_flight(shared.in_flight.load(Ordering::Acquire));
                    Ok(())
                }
                Err(error) => Err((error, batch)),
            }
        });
        ctx.spawn(task.into_actor(self).map(move |result, writer, ctx| {
            writer.writing = false;
            match result {
                Ok(Ok(())) => {}
                Ok(Err((error, batch))) => {
                    tracing::warn!(%error, count, "cannot record delivery outcomes; retrying");
                    writer.buffer.extend(batch);
                    ctx.run_later(Duration::from_millis(200), Self::flush);
                    return;
                }
                Err(join) => {
                    tracing::error!(%join, count, "outcome writer task failed; the leases will expire and the deliveries be retried");
                }
            }
            writer.flush(ctx);
        }));
    }

    /// Writes what the buffer holds after `wait`, gathering what arrives meanwhile.
    fn gather_for(&mut self, wait: Duration, ctx: &mut Context<Self>) {
        self.gathering = Some(ctx.run_later(wait, |writer, ctx| {
            writer.gathering = None;
            writer.flush(ctx);
        }));
    }

    /// Renews every lease held; aborts the requests whose lease was lost, or is about to run out
    /// after a failed renewal.
    fn renew_leases(&mut self, ctx: &mut Context<Self>) {
        self.writing = true;
        self.renew = false;
        let held: Vec<(Uuid, i64)> = self
            .leases
            .iter()
            .filter(|(_, held)| held.event.is_none())
            .map(|(id, held)| (*id, held.lease_until))
            .collect();
        let shared = Arc::clone(&self.shared);
        let task = self.shared.runtime.spawn(async move {
            let now = shared.clock.now_ms();
            (now, renew_leases(&shared, &held, now).await)
        });
        ctx.spawn(task.into_actor(self).map(|result, writer, ctx| {
            writer.writing = false;
            match result {
                Ok((_, Ok(renewed))) => {
                    for (id, lease) in renewed.deliveries {
                        match lease {
                            Some(until) => {
                                if let Some(entry) = writer.leases.get_mut(&id) {
                                    entry.lease_until = until;
                                }
                            }
                            // Not pending under this lease any more (its hook was disabled, or its
                            // outcome came before its start was registered): nothing to send.
                            None => writer.abort(id),
                        }
                    }
                    for (outbox_id, lease) in renewed.events {
                        if lease.is_none() {
                            tracing::warn!(outbox_id, "an event held here was taken over; its requests under way are stopped");
                            writer.abort_event(outbox_id);
                        }
                    }
                }
                Ok((now, Err(error))) => {
                    tracing::warn!(%error, "cannot renew the leases of requests under way");
                    let margin = writer.shared.config.lease_ms() / 2;
                    let expiring: Vec<Uuid> = writer
                        .leases
                        .iter()
                        .filter(|(_, held)| held.event.is_none() && held.lease_until.saturating_sub(now) < margin)
                        .map(|(id, _)| *id)
                        .collect();
                    for id in expiring {
                        tracing::warn!(delivery_id = %id, "aborting a request whose lease is running out; it will be taken over");
                        writer.abort(id);
                    }
                    let events = writer.shared.held().leases();
                    for (outbox_id, until) in events {
                        if until.saturating_sub(now) < margin {
                            tracing::warn!(outbox_id, "aborting the requests of an event whose lease is running out; it will be dispatched again");
                            writer.abort_event(outbox_id);
                        }
                    }
                }
                Err(join) => tracing::error!(%join, "lease renewal task failed"),
            }
            writer.flush(ctx);
        }));
    }

    /// Stops delivery `id`: takes it out of its queue, or aborts its request if that still runs;
    /// forgets its lease.
    fn abort(&mut self, id: Uuid) {
        match self.leases.remove(&id) {
            Some(Held { task: Some(task), .. }) => task.abort(),
            Some(Held { task: None, .. }) => drop(self.shared.slots.unqueue(id)),
            None => {}
        }
    }

    /// Stops every delivery of event `outbox_id` held here, which this process no longer holds.
    fn abort_event(&mut self, outbox_id: i64) {
        let open = self.shared.held().release(outbox_id);
        for id in open {
            self.abort(id);
        }
    }
}

impl Actor for OutcomeWriter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.shared.config.lease / 4, |writer, ctx| {
            writer.renew = true;
            writer.flush(ctx);
        });
    }
}

impl Handler<Outcome> for OutcomeWriter {
    type Result = ();

    fn handle(&mut self, outcome: Outcome, ctx: &mut Context<Self>) {
        let awaited = outcome.attempt.as_ref().is_some_and(|attempted| attempted.ordered);
        self.buffer.push(outcome);
        // While a batch is being written, the next gathers by itself.
        if self.writing {
            return;
        }
        match (self.gathering.take(), awaited) {
            (Some(timer), true) => {
                ctx.cancel_future(timer);
                self.flush(ctx);
            }
            (Some(timer), false) => self.gathering = Some(timer),
            (None, _) => self.gather_for(if awaited { GATHER } else { self.gather }, ctx),
        }
    }
}

impl Handler<Waiting> for OutcomeWriter {
    type Result = ();

    fn handle(&mut self, Waiting(rows): Waiting, ctx: &mut Context<Self>) {
        self.buffer.extend(rows);
        if !self.writing && self.gathering.is_none() {
            self.gather_for(self.gather, ctx);
        }
    }
}

impl Handler<Started> for OutcomeWriter {
    type Result = ();

    fn handle(&mut self, started: Started, _: &mut Context<Self>) {
        match (self.leases.get_mut(&started.id), started.task) {
            // A queued delivery starts: its lease may have been renewed while it waited.
            (Some(entry), Some(task)) => entry.task = Some(task),
            (Some(_), None) => {}
            (None, Some(task)) if task.is_finished() => {}
            (None, task) => {
                let held = Held { lease_until: started.lease_until, task, event: started.event };
                self.leases.insert(started.id, held);
            }
        }
    }
}
