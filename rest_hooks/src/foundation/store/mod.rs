//! The tables the engine keeps: the outbox of recorded events, the deliveries made from them, the
//! log of their attempts, and each hook's health.
//!
//! All live in the application's own database. Scheduling columns hold Unix milliseconds: they are
//! only compared and ordered, and integers compare the same way on every backend. Stored payloads
//! carry a `version` so that a later release can read rows an earlier one wrote.

pub mod attempt;
pub mod delivery;
pub mod hook_state;
pub mod outbox;
mod schema;
pub(crate) mod transitions;

pub use schema::{create_statements, setup, setup_store};
#[cfg(feature = "migration")]
pub(crate) use schema::{dialect_statements, hook_dialect_statements, store_statements};

/// The current format of stored payloads.
pub(crate) const PAYLOAD_VERSION: i16 = 1;

/// Milliseconds since the Unix epoch by the wall clock. The engine reads its own clock, which a
/// test can move with tokio's paused clock.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
