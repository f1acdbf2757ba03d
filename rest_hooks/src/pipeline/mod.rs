//! The pipeline, in the order an event flows through it: [`handover`] carries an update's changes
//! from `before_save` to `after_save`, [`record`] writes the event into the outbox in the caller's
//! transaction, [`dispatch`] turns committed rows into deliveries (leaving
//! those a database error held back to [`deferred`]), [`deliver`] makes
//! the requests, [`outcome`] writes what came back, [`health`] disables hooks that keep failing,
//! [`retention`] purges what is old; [`backlog`] measures what waits, for the metrics; [`schedule`]
//! decides when passes run. Plain code over the shared context; the actors drive it.

pub(crate) mod backlog;
pub(crate) mod deferred;
pub(crate) mod deliver;
pub(crate) mod dispatch;
pub(crate) mod handover;
pub(crate) mod health;
pub(crate) mod outcome;
pub(crate) mod record;
pub(crate) mod retention;
pub(crate) mod schedule;
