//! Finding the hooks an event goes to.

use std::marker::PhantomData;

use sea_orm::{ColumnTrait, DatabaseTransaction, DbErr, QueryFilter};

use crate::event::Event;
use crate::hook::{HookEntity, HookTarget, owner_value};
use crate::hookable::Audience;

/// Finds the hooks that receive an event (django-rest-hooks' `HOOK_FINDER`).
///
/// It runs inside the dispatcher's transaction, so it sees committed hooks only and its reads are
/// consistent with the deliveries recorded beside them.
#[async_trait::async_trait]
pub trait Finder: Send + Sync + 'static {
    /// The hooks that receive `event`.
    async fn find(&self, db: &DatabaseTransaction, event: &Event) -> Result<Vec<HookTarget>, DbErr>;

    /// Whether the hooks found depend on nothing but the event's name and audience, so that one
    /// lookup serves every event of a dispatch pass with the same name and audience. Default:
    /// `false` (each event is looked up); the [`EntityFinder`] says `true`.
    fn by_name_and_audience(&self) -> bool {
        false
    }
}

/// The default finder: hooks of entity `E` with the event's name and owner (any owner for
/// all-owner events, no owner for unowned ones), narrowed by [`HookEntity::scope`].
pub struct EntityFinder<E>(PhantomData<fn() -> E>);

impl<E> EntityFinder<E> {
    /// A finder over entity `E`.
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

impl<E> Default for EntityFinder<E> {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait::async_trait]
impl<E: HookEntity> Finder for EntityFinder<E>
where
    E::Model: Sync,
{
    async fn find(&self, db: &DatabaseTransaction, event: &Event) -> Result<Vec<HookTarget>, DbErr> {
        let mut query = E::scope(E::find().filter(E::event_column().eq(event.name.as_str())));
        let owner = E::owner_column();
        query = match &event.audience {
            Audience::Owner(key) => query.filter(owner.eq(owner_value(owner, key)?)),
            Audience::Unowned => query.filter(owner.is_null()),
            Audience::All => query,
        };
        Ok(query.all(db).await?.into_iter().map(E::to_target).collect())
    }

    fn by_name_and_audience(&self) -> bool {
        true
    }
}
