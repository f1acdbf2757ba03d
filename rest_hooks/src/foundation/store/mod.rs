//! The tables the engine keeps: the outbox of recorded events, the deliveries made from them, the
//! log of their attempts, and each hook's health.
//!
//! All live in the application's own database. Scheduling columns hold Unix milliseconds: they are
//! only compared and ordered, and integers compare the same way on every backend. Stored payloads
//! carry a `version` so that a later release can read rows an earlier one wrote.
//!
//! # Upgrades
//!
//! Every change of these tables is one numbered schema step, and each database records the steps
//! it has in `rest_hooks_schema`. [`setup`] and [`setup_store`] (or, with the `migration` feature,
//! the migrations of [`migration`](crate::migration)) apply the steps a database lacks, in order,
//! keeping every pending event and delivery. An engine started on a store older than its code, or
//! newer, refuses to start ([`Builder::start_checked`](crate::Builder::start_checked)) and, started
//! with [`Builder::start`](crate::Builder::start), dispatches nothing and logs why, naming the call that
//! upgrades it.
//!
//! | step | release | change |
//! |---|---|---|
//! | 1 | 0.1.0 | the outbox, delivery, attempt and hook-state tables |
//! | 2 | 0.2.0 | `rest_hooks_outbox.lease_until`: an event is held by the process sending its first attempts, which get their delivery rows with their outcome |
//!
//! # Stability
//!
//! The entities of [`outbox`], [`delivery`], [`attempt`] and [`hook_state`] are not covered by
//! semver: their columns change with schema steps, in any release. Read them, don't build
//! them: build no `Model` or `ActiveModel` of theirs, and write these tables only through the
//! engine. [`setup`], [`setup_store`] and [`create_statements`] are stable.

pub mod attempt;
pub mod delivery;
pub mod hook_state;
pub mod outbox;
mod schema;
pub(crate) mod shapes;
pub(crate) mod steps;
pub(crate) mod transitions;

pub use schema::{create_statements, setup, setup_store};

/// The current format of stored payloads.
pub(crate) const PAYLOAD_VERSION: i16 = 1;

/// Milliseconds since the Unix epoch by the wall clock. The engine reads its own clock, which a
/// test can move with tokio's paused clock.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
