//! Deliveries: one row per (event, hook), with its outcome.
//!
//! Not covered by semver: the columns change with schema steps, in any release. Read these
//! rows (to inspect or report on deliveries); don't build them, nor write them.

use sea_orm::entity::prelude::*;

/// One request to make (or made) to one hook's target.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rest_hooks_delivery")]
pub struct Model {
    /// The delivery id, sent as `webhook-id`; the same on every attempt.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The outbox row it came from.
    pub outbox_id: i64,
    /// The hook's id, as text.
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub hook_id: String,
    /// The event name.
    #[sea_orm(column_type = "String(StringLen::N(200))")]
    pub event: String,
    /// The URL it is sent to.
    #[sea_orm(column_type = "Text")]
    pub target: String,
    /// The receiver lane: the target's origin (scheme, host and port), `#`, the hook's id. Requests
    /// to one host share its concurrency limit, each hook its share of it, and deliveries waiting
    /// for a slot are claimed lane by lane. (Rows written before lanes carried the hook hold the
    /// origin alone.)
    #[sea_orm(column_type = "String(StringLen::N(300))")]
    pub receiver: String,
    /// The exact body sent.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// The [`state`] of the delivery.
    pub state: i16,
    /// Attempts made so far; each is in the [attempt log](crate::foundation::store::attempt).
    pub attempts: i32,
    /// When it was created (Unix ms).
    pub created_at: i64,
    /// When it may next be attempted (Unix ms).
    pub next_attempt_at: i64,
    /// Until when a process holds it (Unix ms); expired leases are taken over.
    pub lease_until: Option<i64>,
    /// The HTTP status of the last attempt, when there was a response.
    pub last_status: Option<i32>,
    /// Why the last attempt failed, when it did.
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    /// When it succeeded (Unix ms).
    pub delivered_at: Option<i64>,
    /// For a delivery sent in order: the instance it is about (the outbox row's `object`). It is
    /// sent only once every earlier delivery of its hook about that instance is delivered or dead.
    #[sea_orm(column_type = "String(StringLen::N(64))", nullable)]
    pub order_key: Option<String>,
}

/// This table has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The states of a delivery.
pub mod state {
    /// Waiting for its next attempt (at `next_attempt_at`), or being attempted (under a lease).
    pub const PENDING: i16 = 0;
    /// The target answered 2xx.
    pub const DELIVERED: i16 = 1;
    /// Dead: no further attempt is scheduled (attempts or age used up, a target the SSRF guard
    /// refuses, a disabled hook). `last_error` says why; [replay](crate::Engine::replay) sends it
    /// again.
    pub const FAILED: i16 = 2;
}

/// `state = PENDING`, written so that no index on `state` serves it: for a statement that picks
/// deliveries by id (`id IN (…)`). With the plain condition, SQLite searches the index on
/// `(state, next_attempt_at)` instead of the primary key, and so reads every pending delivery: a
/// backlog of 100,000 made each such statement take some 70 ms.
pub(crate) fn still_pending() -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::ExprTrait;
    Expr::col(Column::State).add(0).eq(state::PENDING)
}

/// The id of the delivery of event `outbox_id` (recorded at `recorded_at`, Unix ms) to hook
/// `hook_id`: the same each time the event is dispatched, so that an event dispatched again after
/// its process died sends its deliveries under the ids (`webhook-id`) they had, and receivers drop
/// the duplicates. A UUID of version 8 laid out as version 7 is (the time first, to the
/// millisecond), so that ids sort by their event's time; the rest is the SHA-256 of the outbox id
/// and the hook id.
pub(crate) fn id_for(outbox_id: i64, hook_id: &str, recorded_at: i64) -> Uuid {
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    hash.update(&outbox_id.to_be_bytes());
    hash.update(hook_id.as_bytes());
    let digest = hash.finish();
    let mut bytes = [0u8; 16];
    let millis = u64::try_from(recorded_at).unwrap_or(0).to_be_bytes();
    bytes[..6].copy_from_slice(&millis[2..]);
    bytes[6..].copy_from_slice(&digest.as_ref()[..10]);
    Uuid::new_v8(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deliverys_id_is_the_same_for_its_event_and_hook_and_sorts_by_time() {
        let id = id_for(7, "42", 1_700_000_000_000);
        assert_eq!(id, id_for(7, "42", 1_700_000_000_000));
        assert_ne!(id, id_for(7, "43", 1_700_000_000_000));
        assert_ne!(id, id_for(8, "42", 1_700_000_000_000));
        assert_eq!(id.get_version_num(), 8);
        assert!(id < id_for(1, "42", 1_700_000_000_001), "a later event's ids sort after");
    }
}
