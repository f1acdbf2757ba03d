//! The registry actor: decides when the dispatcher runs and hands what it produces to delivery.
//!
//! A save nudges it before its transaction commits, so the first look may find nothing: after a
//! nudge it re-checks at 1, 2, 4 … 50 ms for a short burst, then falls back to the idle poll. One
//! pass runs at a time; it runs again at once while passes keep finding work. When a request ends
//! and work waits for its slot (in the database, or queued for another receiver), [`Room`] asks
//! for a pass that claims or starts it. A
//! retry due sooner than the idle poll ([`Due`]) gets a pass of its own when it is due.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, ActorFutureExt, Addr, AsyncContext, Context, Handler, SpawnHandle, Supervised, WrapFuture};

use crate::actors::delivery::{Deliver, DeliveryActor};
use crate::pipeline::dispatch::{Dispatcher, recheck_delay};
use crate::runtime::shared::Shared;
use crate::runtime::signals::{Due, Nudge, Room};

/// How long to wait before running a pass again after one failed (a busy database, a lost
/// connection).
const RETRY_AFTER_ERROR: Duration = Duration::from_millis(100);

pub(crate) struct RegistryActor {
    shared: Arc<Shared>,
    dispatcher: Arc<Dispatcher>,
    delivery: Addr<DeliveryActor>,
    running: bool,
    again: bool,
    burst_until: Option<Instant>,
    recheck: Option<Duration>,
    timer: Option<SpawnHandle>,
}

impl RegistryActor {
    pub(crate) fn new(shared: Arc<Shared>, delivery: Addr<DeliveryActor>) -> Self {
        Self {
            dispatcher: Arc::new(Dispatcher::new(Arc::clone(&shared))),
            shared,
            delivery,
            running: false,
            again: false,
            burst_until: None,
            recheck: None,
            timer: None,
        }
    }

    fn pass(&mut self, ctx: &mut Context<Self>) {
        if self.running {
            self.again = true;
            return;
        }
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        self.running = true;
        self.again = false;
        let dispatcher = Arc::clone(&self.dispatcher);
        let limit = self.shared.config.batch_size;
        let task = self.shared.runtime.spawn(async move { dispatcher.pass(limit).await });
        ctx.spawn(task.into_actor(self).map(|result, registry, ctx| {
            registry.running = false;
            match result {
                Ok(Ok(pass)) => {
                    let found = pass.events + pass.jobs.len() > 0;
                    if !pass.jobs.is_empty() {
                        registry.delivery.do_send(Deliver(pass.jobs));
                    }
                    registry.after_pass(found, ctx);
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, "dispatch pass failed; retrying");
                    registry.schedule(RETRY_AFTER_ERROR, ctx);
                }
                Err(join) => {
                    tracing::error!(%join, "dispatch pass aborted; retrying");
                    registry.schedule(RETRY_AFTER_ERROR, ctx);
                }
            }
        }));
    }

    fn after_pass(&mut self, found: bool, ctx: &mut Context<Self>) {
        if found || std::mem::take(&mut self.again) {
            self.recheck = None;
            self.pass(ctx);
            return;
        }
        let delay = match self.burst_until {
            Some(until) if Instant::now() < until => {
                let delay = recheck_delay(self.recheck);
                self.recheck = Some(delay);
                delay
            }
            _ => {
                self.burst_until = None;
                self.recheck = None;
                self.shared.config.poll_interval
            }
        };
        self.schedule(delay, ctx);
    }

    fn schedule(&mut self, delay: Duration, ctx: &mut Context<Self>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        self.timer = Some(ctx.run_later(delay, |registry, ctx| {
            registry.timer = None;
            registry.pass(ctx);
        }));
    }
}

impl Actor for RegistryActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.pass(ctx);
    }
}

impl Supervised for RegistryActor {}

impl Handler<Nudge> for RegistryActor {
    type Result = ();

    fn handle(&mut self, _: Nudge, ctx: &mut Context<Self>) {
        self.burst_until = Some(Instant::now() + self.shared.config.recheck_window);
        self.recheck = None;
        self.pass(ctx);
    }
}

impl Handler<Room> for RegistryActor {
    type Result = ();

    fn handle(&mut self, _: Room, ctx: &mut Context<Self>) {
        self.pass(ctx);
    }
}

impl Handler<Due> for RegistryActor {
    type Result = ();

    fn handle(&mut self, Due(after): Due, ctx: &mut Context<Self>) {
        // Beside the idle poll's timer, which stays: whichever comes first runs a pass.
        ctx.run_later(after, |registry, ctx| registry.pass(ctx));
    }
}
