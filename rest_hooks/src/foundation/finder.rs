//! Finding the hooks an event goes to.

use std::marker::PhantomData;

use sea_orm::{ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, Iterable, PrimaryKeyToColumn, QueryFilter};

use crate::foundation::event::Event;
use crate::foundation::hook::{HookEntity, HookId, HookTarget, column_value, owner_value};
use crate::foundation::hookable::Audience;

/// Finds the hooks that receive an event (django-rest-hooks' `HOOK_FINDER`).
///
/// It runs inside the dispatcher's transaction, so it sees committed hooks only and its reads are
/// consistent with the deliveries recorded beside them.
#[async_trait::async_trait]
pub trait Finder: Send + Sync + 'static {
    /// The hooks that receive `event`.
    async fn find(&self, db: &DatabaseTransaction, event: &Event) -> Result<Vec<HookTarget>, DbErr>;

    /// A key under which the hooks found for `event` serve every event of the same dispatch pass
    /// with the same key: one lookup for all of them. Default: `None` (each event is looked up).
    /// The [`EntityFinder`] gives the query it would run, so that events with the same name,
    /// audience and [scope](HookEntity::scope_event) share it.
    fn lookup_key(&self, event: &Event) -> Option<String> {
        let _ = event;
        None
    }

    /// The hook with id `id`, read again when a delivery is taken over from a process that died,
    /// so that it is signed with the hook's current secrets. Default: `None`: such deliveries are
    /// signed with the engine's fallback secret if it has one, else they fail as `cannot sign`
    /// (unless the engine is [`unsigned`](crate::Builder::unsigned)).
    async fn find_hook(&self, db: &DatabaseTransaction, id: &HookId) -> Result<Option<HookTarget>, DbErr> {
        let _ = (db, id);
        Ok(None)
    }

    /// Called once the engine has disabled hook `id` (nothing more is sent to it whatever this
    /// does), so that the application's own table can say so too. Default: nothing.
    async fn disable(&self, db: &DatabaseConnection, id: &HookId, reason: &str) -> Result<(), DbErr> {
        let _ = (db, id, reason);
        Ok(())
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
        let hooks = query::<E>(event)?.all(db).await?;
        Ok(match E::keep() {
            Some(keep) => hooks.into_iter().filter(|hook| keep(hook, event)).map(target_of::<E>).collect(),
            None => hooks.into_iter().map(target_of::<E>).collect(),
        })
    }

    fn lookup_key(&self, event: &Event) -> Option<String> {
        if E::keep().is_some() {
            return None;
        }
        // An owner that is not a valid key is refused by `find` itself.
        let query = query::<E>(event).ok()?;
        Some(sea_orm::QueryTrait::build(&query, sea_orm::DbBackend::Postgres).to_string())
    }

    async fn find_hook(&self, db: &DatabaseTransaction, id: &HookId) -> Result<Option<HookTarget>, DbErr> {
        crate::foundation::hook::find_hook::<E, _>(db, id).await
    }

    async fn disable(&self, db: &DatabaseConnection, id: &HookId, reason: &str) -> Result<(), DbErr> {
        let Some(key) = E::PrimaryKey::iter().next() else { return Ok(()) };
        let column = key.into_column();
        let value = column_value(column, "hook id", &id.to_string())?;
        if let Some(update) = E::disabled(E::update_many().filter(column.eq(value)), reason) {
            update.exec(db).await?;
        }
        Ok(())
    }
}

/// The query for the hooks of `event` in entity `E`: its name, its audience, the entity's scopes.
fn query<E: HookEntity>(event: &Event) -> Result<sea_orm::Select<E>, DbErr> {
    let query = E::scope(E::find().filter(E::event_column().eq(event.name.as_str())));
    let owner = E::owner_column();
    let query = match &event.audience {
        Audience::Owner(key) => query.filter(owner.eq(owner_value(owner, key)?)),
        Audience::Unowned => query.filter(owner.is_null()),
        Audience::All => query,
    };
    Ok(E::scope_event(query, event))
}

pub(crate) use crate::foundation::hook::hook_target as target_of;
