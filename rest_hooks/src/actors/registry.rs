//! The registry actor: runs dispatch passes when the [schedule](crate::pipeline::schedule) says
//! so and hands what they produce to the delivery actor.
//!
//! A save's [`Nudge`] starts a pass and a short window of looks for its commit; when a request ends and work
//! waits for its slot (in the database, or queued for another receiver), [`Room`] asks for a pass
//! that claims or starts it; a retry due sooner than the idle poll ([`Due`]) gets a pass of its
//! own when it is due. The actor only keeps the timer; the schedule decides.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, ActorFutureExt, Addr, AsyncContext, Context, Handler, SpawnHandle, Supervised, WrapFuture};

use crate::actors::delivery::{Deliver, DeliveryActor};
use crate::pipeline::dispatch::Dispatcher;
use crate::pipeline::schedule::{Next, Schedule};
use crate::runtime::shared::Shared;
use crate::runtime::signals::{Due, Nudge, Room};

pub(crate) struct RegistryActor {
    shared: Arc<Shared>,
    dispatcher: Arc<Dispatcher>,
    delivery: Addr<DeliveryActor>,
    schedule: Schedule,
    /// The timer of the next pass, when one waits.
    timer: Option<SpawnHandle>,
}

impl RegistryActor {
    pub(crate) fn new(shared: Arc<Shared>, delivery: Addr<DeliveryActor>) -> Self {
        let schedule = Schedule::new(shared.config.poll_interval, shared.config.recheck_window);
        Self { dispatcher: Arc::new(Dispatcher::new(Arc::clone(&shared))), shared, delivery, schedule, timer: None }
    }

    /// Does what the schedule says.
    fn follow(&mut self, next: Next, ctx: &mut Context<Self>) {
        match next {
            Next::Run => self.run(ctx),
            Next::Look => self.look(ctx),
            Next::After(delay) => self.wait(delay, ctx),
            Next::LookAfter(delay) => self.wait_to_look(delay, ctx),
            Next::Nothing => {}
        }
    }

    /// Runs one pass on the application's runtime.
    fn run(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        let dispatcher = Arc::clone(&self.dispatcher);
        let limit = self.shared.config.batch_size;
        let task = self.shared.runtime.spawn(async move { dispatcher.pass(limit).await });
        ctx.spawn(task.into_actor(self).map(|result, registry, ctx| {
            let next = match result {
                Ok(Ok(pass)) => {
                    let found = pass.events + pass.jobs.len() > 0;
                    if !pass.jobs.is_empty() || !pass.waiting.is_empty() {
                        registry.delivery.do_send(Deliver { jobs: pass.jobs, waiting: pass.waiting });
                    }
                    registry.schedule.finished(found, Instant::now())
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, "dispatch pass failed; retrying");
                    registry.schedule.failed()
                }
                Err(join) => {
                    tracing::error!(%join, "dispatch pass aborted; retrying");
                    registry.schedule.failed()
                }
            };
            registry.follow(next, ctx);
        }));
    }

    /// Looks, on the application's runtime, whether a committed event waits.
    fn look(&mut self, ctx: &mut Context<Self>) {
        let dispatcher = Arc::clone(&self.dispatcher);
        let task = self.shared.runtime.spawn(async move { dispatcher.look().await });
        ctx.spawn(task.into_actor(self).map(|result, registry, ctx| {
            let next = match result {
                Ok(Ok(found)) => registry.schedule.finished(found, Instant::now()),
                Ok(Err(error)) => {
                    tracing::warn!(%error, "cannot look for recorded events; retrying");
                    registry.schedule.failed()
                }
                Err(join) => {
                    tracing::error!(%join, "looking for recorded events aborted; retrying");
                    registry.schedule.failed()
                }
            };
            registry.follow(next, ctx);
        }));
    }

    /// Runs a pass after `delay`, instead of any that waited.
    fn wait(&mut self, delay: Duration, ctx: &mut Context<Self>) {
        self.set_timer(delay, ctx, Schedule::wanted);
    }

    /// Looks after `delay`, instead of any pass that waited.
    fn wait_to_look(&mut self, delay: Duration, ctx: &mut Context<Self>) {
        self.set_timer(delay, ctx, Schedule::look);
    }

    /// After `delay`, does what `then` makes of the schedule, instead of any timer that waited.
    fn set_timer(&mut self, delay: Duration, ctx: &mut Context<Self>, then: fn(&mut Schedule) -> Next) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        self.timer = Some(ctx.run_later(delay, move |registry, ctx| {
            registry.timer = None;
            let next = then(&mut registry.schedule);
            registry.follow(next, ctx);
        }));
    }
}

impl Actor for RegistryActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let next = self.schedule.wanted();
        self.follow(next, ctx);
    }
}

impl Supervised for RegistryActor {}

impl Handler<Nudge> for RegistryActor {
    type Result = ();

    fn handle(&mut self, _: Nudge, ctx: &mut Context<Self>) {
        let next = self.schedule.nudged(Instant::now());
        self.follow(next, ctx);
    }
}

impl Handler<Room> for RegistryActor {
    type Result = ();

    fn handle(&mut self, _: Room, ctx: &mut Context<Self>) {
        let next = self.schedule.wanted();
        self.follow(next, ctx);
    }
}

impl Handler<Due> for RegistryActor {
    type Result = ();

    fn handle(&mut self, Due(after): Due, ctx: &mut Context<Self>) {
        // Beside the idle poll's timer, which stays: whichever comes first runs a pass.
        ctx.run_later(after, |registry, ctx| {
            let next = registry.schedule.wanted();
            registry.follow(next, ctx);
        });
    }
}
