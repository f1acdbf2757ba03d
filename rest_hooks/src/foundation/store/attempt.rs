//! The attempt log: one row per attempt of a delivery.
//!
//! Not covered by semver: the columns change with schema steps, in any release. Read these
//! rows (to inspect or report on deliveries); don't build them, nor write them.

use sea_orm::entity::prelude::*;

/// One attempt to deliver: when, how long, and what came back.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rest_hooks_attempt")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The delivery it belongs to.
    pub delivery_id: Uuid,
    /// The outbox row (the event) the delivery came from.
    pub outbox_id: i64,
    /// The hook's id, as text.
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub hook_id: String,
    /// Which attempt of the delivery it was, from 1.
    pub attempt: i32,
    /// When it ended (Unix ms).
    pub at: i64,
    /// How long it took, in milliseconds.
    pub duration_ms: i64,
    /// The HTTP status, when a response arrived.
    pub status: Option<i32>,
    /// Why there was no response (`timeout`, `connect`, `request`, `panicked`, `forbidden`,
    /// `signing`), when there was none.
    #[sea_orm(column_type = "String(StringLen::N(16))", nullable)]
    pub error_kind: Option<String>,
    /// The error's message, when there was no response.
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// The start of the response body, at most
    /// [`response_excerpt`](crate::Builder::response_excerpt) bytes.
    #[sea_orm(column_type = "Text", nullable)]
    pub response: Option<String>,
}

/// This table has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
