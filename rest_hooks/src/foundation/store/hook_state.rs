//! The engine's view of each hook's health: since when it has been failing, and whether it was
//! disabled and why; and whether its deliveries go in order. Kept in a table of the engine's own, keyed by the hook's id as text, so that it
//! works for the crate's hook table, an application's own hook entity and a custom finder alike.
//!
//! Not covered by semver: the columns change with schema steps, in any release. Read these
//! rows (to inspect or report on deliveries); don't build them, nor write them.

use sea_orm::entity::prelude::*;

/// The health of one hook.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rest_hooks_hook_state")]
pub struct Model {
    /// The hook's id, as text.
    #[sea_orm(primary_key, auto_increment = false, column_type = "String(StringLen::N(64))")]
    pub hook_id: String,
    /// Since when every attempt to it has failed (Unix ms); `None` after a success.
    pub failing_since: Option<i64>,
    /// When it was disabled (Unix ms); nothing is sent to a disabled hook.
    pub disabled_at: Option<i64>,
    /// Why it was disabled.
    #[sea_orm(column_type = "Text", nullable)]
    pub disabled_reason: Option<String>,
    /// Whether its deliveries about one instance are sent in order (see
    /// [`Engine::set_hook_ordered`](crate::Engine::set_hook_ordered)).
    #[sea_orm(default_value = false)]
    pub ordered: bool,
}

/// This table has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
