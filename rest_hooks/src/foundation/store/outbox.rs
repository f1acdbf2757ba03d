//! The outbox: one row per recorded event, written in the caller's transaction.
//!
//! Not covered by semver: the columns change with schema steps, in any release. Read these
//! rows (to inspect or report on deliveries); don't build them, nor write them.

use sea_orm::entity::prelude::*;

/// A recorded event waiting to be turned into deliveries.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rest_hooks_outbox")]
pub struct Model {
    /// Row id; also the order in which events are dispatched.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The event name, such as `book.added`.
    #[sea_orm(column_type = "String(StringLen::N(200))")]
    pub event: String,
    /// The label of the model that fired it, `None` for raw events.
    pub model: Option<String>,
    /// The model action, `None` for raw events.
    pub action: Option<String>,
    /// The owner whose hooks receive it, when scoped to one owner.
    pub owner: Option<String>,
    /// Whether every owner's hooks receive it.
    pub all_owners: bool,
    /// How `payload` becomes a body: see [`Format`].
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub format: String,
    /// The captured data, as JSON text.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// The version of the stored payload format.
    pub version: i16,
    /// The [`state`] of the row.
    pub state: i16,
    /// Why dispatching failed, when it did.
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// When it was recorded (Unix ms).
    pub created_at: i64,
    /// When it was turned into deliveries (Unix ms).
    pub dispatched_at: Option<i64>,
    /// The instance it is about (its model and primary key, hashed), for model events: the
    /// deliveries of hooks that ask for order are sent in the order of these rows, per instance.
    #[sea_orm(column_type = "String(StringLen::N(64))", nullable)]
    pub object: Option<String>,
    /// While the row is pending: until when a process holds the event (Unix ms), sending the
    /// first attempts that started at dispatch. Those deliveries have no row of their own until
    /// their outcome is written; once every one has, the event is marked dispatched. A process
    /// that dies leaves the lease to run out, and the event is then dispatched again: the deliveries
    /// with a row are kept, the others are sent again under the same ids. Added by schema step 2.
    pub lease_until: Option<i64>,
}

/// This table has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// An update that marks outbox rows dispatched at `now` and drops their lease; the caller picks
/// the rows.
pub(crate) fn mark_dispatched(now: i64) -> sea_orm::UpdateMany<Entity> {
    use sea_orm::sea_query::Expr;
    Entity::update_many()
        .col_expr(Column::State, Expr::value(state::DISPATCHED))
        .col_expr(Column::DispatchedAt, Expr::value(now))
        .col_expr(Column::LeaseUntil, Expr::value(Option::<i64>::None))
}

/// The states of an outbox row.
pub mod state {
    /// Recorded, not yet dispatched (or not yet committed: then nobody sees it), or dispatched
    /// and held (`lease_until`) while its first attempts are under way.
    pub const PENDING: i16 = 0;
    /// Every matching hook's delivery has its row.
    pub const DISPATCHED: i16 = 1;
    /// The finder or a serializer failed; `error` says why.
    pub const FAILED: i16 = 2;
}

/// How a stored payload becomes a request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The default data shape; a global serializer may replace the body.
    Default,
    /// The entity's own serializer produced the data.
    Entity,
    /// As `Default`, for an update that knows its changes: the payload is
    /// `{"data": …, "changed": […], "previous": {…}}` (`previous` with previous values only).
    DefaultChanges,
    /// As `Entity`, for an update that knows its changes; the payload as for `DefaultChanges`.
    EntityChanges,
    /// The caller supplied the whole body.
    Override,
    /// A raw event's payload, sent as `data` beside the hook metadata.
    Raw,
    /// A raw event's payload, sent bare.
    RawBare,
}

impl Format {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Entity => "entity",
            Self::DefaultChanges => "default_changes",
            Self::EntityChanges => "entity_changes",
            Self::Override => "override",
            Self::Raw => "raw",
            Self::RawBare => "raw_bare",
        }
    }

    /// Reads a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "default" => Self::Default,
            "entity" => Self::Entity,
            "default_changes" => Self::DefaultChanges,
            "entity_changes" => Self::EntityChanges,
            "override" => Self::Override,
            "raw" => Self::Raw,
            "raw_bare" => Self::RawBare,
            _ => return None,
        })
    }

    /// The format of the same data stored with an update's changes; formats that carry none are
    /// their own.
    pub fn with_changes(self) -> Self {
        match self {
            Self::Default => Self::DefaultChanges,
            Self::Entity => Self::EntityChanges,
            other => other,
        }
    }

    /// Whether the payload holds the data with an update's changes rather than the data alone.
    pub fn has_changes(self) -> bool {
        matches!(self, Self::DefaultChanges | Self::EntityChanges)
    }

    /// The format of the data inside the payload: `Default` for `DefaultChanges`, `Entity` for
    /// `EntityChanges`, any other its own.
    pub fn without_changes(self) -> Self {
        match self {
            Self::DefaultChanges => Self::Default,
            Self::EntityChanges => Self::Entity,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Format;

    #[test]
    fn formats_round_trip_and_pair_with_their_change_formats() {
        for format in [
            Format::Default,
            Format::Entity,
            Format::DefaultChanges,
            Format::EntityChanges,
            Format::Override,
            Format::Raw,
            Format::RawBare,
        ] {
            assert_eq!(Format::parse(format.as_str()), Some(format));
            assert!(format.as_str().len() <= 16, "the column holds 16 characters");
            assert_eq!(format.with_changes().without_changes(), format.without_changes());
        }
        assert_eq!(Format::Default.with_changes(), Format::DefaultChanges);
        assert!(Format::EntityChanges.has_changes());
        assert!(!Format::Raw.with_changes().has_changes());
    }
}
