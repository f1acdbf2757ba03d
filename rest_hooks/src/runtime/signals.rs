//! The signals that wake the actors: a save's [`Nudge`], a retry falling [`Due`] before the idle
//! poll, a request slot freed while work waits for one ([`Room`]). The pipeline sends them
//! through [`Signals`], which names no actor.

use std::time::Duration;

use actix::dev::ToEnvelope;
use actix::{Actor, Addr, Handler, Message, Recipient};

/// Look for committed events now.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Nudge;

/// A delivery is due again after this delay, sooner than the idle poll.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Due(pub(crate) Duration);

/// A request slot was freed while work waits for one: in the database (a receiver's queue is half
/// empty) or in another receiver's queue.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Room;

/// Where the signals go: the actor that schedules dispatch passes.
#[derive(Clone, Debug)]
pub(crate) struct Signals {
    pub(crate) nudge: Recipient<Nudge>,
    pub(crate) due: Recipient<Due>,
    pub(crate) room: Recipient<Room>,
}

impl Signals {
    /// The signals of the actor at `addr`.
    pub(crate) fn of<A>(addr: &Addr<A>) -> Self
    where
        A: Actor + Handler<Nudge> + Handler<Due> + Handler<Room>,
        A::Context: ToEnvelope<A, Nudge> + ToEnvelope<A, Due> + ToEnvelope<A, Room>,
    {
        Self { nudge: addr.clone().recipient(), due: addr.clone().recipient(), room: addr.clone().recipient() }
    }
}
