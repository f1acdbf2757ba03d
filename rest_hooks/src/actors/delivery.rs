//! The delivery actor: starts each job it is handed as a task on the application's runtime at
//! once, or puts it in its receiver's short queue. Every job already holds its request slot or
//! queue place, and a request that ends starts the next of its queue. The attempt itself is
//! [`deliver::run`](crate::pipeline::deliver::run); the outcome writer records what it returns and
//! renews the leases of queued deliveries and requests under way.

use std::sync::Arc;

use actix::{Actor, Addr, Context, Handler, Message, Supervised};

use crate::actors::writer::{OutcomeWriter, Started, Waiting};
use crate::foundation::job::{Leased, Ready};
use crate::foundation::slots::Slot;
use crate::pipeline::deliver::{Outcome, run};
use crate::runtime::shared::Shared;
use crate::runtime::signals::Room;

/// What a dispatch pass produced, for the delivery actor.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Deliver {
    /// Jobs, each holding its slot or queue place.
    pub(crate) jobs: Vec<Ready>,
    /// New deliveries waiting for their receiver, whose rows the outcome writer writes.
    pub(crate) waiting: Vec<Outcome>,
}

/// Starts deliveries on the application's runtime as they come, or queues them behind their
/// receiver's requests under way (see [`slots`](crate::foundation::slots)).
pub(crate) struct DeliveryActor {
    shared: Arc<Shared>,
    writer: Addr<OutcomeWriter>,
}

impl DeliveryActor {
    pub(crate) fn new(shared: Arc<Shared>, writer: Addr<OutcomeWriter>) -> Self {
        Self { shared, writer }
    }
}

impl Actor for DeliveryActor {
    type Context = Context<Self>;
}

impl Supervised for DeliveryActor {}

impl Handler<Deliver> for DeliveryActor {
    type Result = ();

    fn handle(&mut self, Deliver { jobs, waiting }: Deliver, _: &mut Context<Self>) {
        if !waiting.is_empty() {
            self.writer.do_send(Waiting(waiting));
        }
        for ready in jobs {
            match ready {
                Ready::Run(slot, leased) => start(&self.shared, &self.writer, slot, leased),
                Ready::Queue(place, leased) => {
                    let (id, lease_until, event) = (leased.job.id, leased.job.lease_until, held_by(&leased));
                    self.shared.slots.enqueue(place, leased);
                    // Its lease is renewed while it waits.
                    self.writer.do_send(Started { id, lease_until, task: None, event });
                }
            }
        }
    }
}

/// Starts `leased` in `slot` as a task of its own; when it ends, the next delivery of its
/// receiver's queue starts in the same slot.
fn start(shared: &Arc<Shared>, writer: &Addr<OutcomeWriter>, mut slot: Slot<Leased>, leased: Leased) {
    let event = held_by(&leased);
    let Leased { job, in_flight } = leased;
    let (id, lease_until) = (job.id, job.lease_until);
    let task = {
        let (shared, writer) = (Arc::clone(shared), writer.clone());
        shared.runtime.clone().spawn(async move {
            let mut outcome = run(&shared, job).await;
            outcome.in_flight = Some(in_flight);
            writer.do_send(outcome);
            let next = shared.slots.next(&mut slot);
            let mut room = shared.slots.wants_more(&slot);
            match next {
                Some((_, next)) => start(&shared, &writer, slot, next),
                None => {
                    drop(slot);
                    // Another receiver's queue may have waited for a slot of the engine's.
                    room |= shared.slots.any_runnable();
                }
            }
            if room && let Some(signals) = shared.signals() {
                signals.room.do_send(Room);
            }
        })
    };
    writer.do_send(Started { id, lease_until, task: Some(task.abort_handle()), event });
}

/// The event holding `leased`, for a delivery without a row.
fn held_by(leased: &Leased) -> Option<i64> {
    (!leased.job.recorded).then_some(leased.job.outbox_id)
}
