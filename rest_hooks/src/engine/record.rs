//! What a save calls to record its events, and the engine's methods that fire custom actions, raw
//! events and events of writes that skip SeaORM's hooks. The rows are built and written by the
//! pipeline's [`record`](crate::pipeline::record).

use std::future::IntoFuture;
use std::pin::Pin;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, Iterable, PrimaryKeyToColumn,
    QueryFilter, TryIntoModel,
};
use serde_json::Value;

use crate::engine::Engine;
use crate::foundation::changes::Captured;
use crate::foundation::error::RecordError;
use crate::foundation::event::Action;
use crate::foundation::hookable::{Audience, Hookable, HookableActiveModel};
use crate::foundation::store::outbox::Format;
use crate::pipeline::handover;
use crate::pipeline::record::{model_row, row, write};

/// A boxed future, as returned by the event builders.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Captures what an update changes, for [`record_save`] to send: the fields the `ActiveModel` sets
/// and, with `#[hookable(previous_values)]`, the row as it was (one `SELECT` by primary key through
/// `db`, the save's connection or transaction). Generated `before_save` calls it; call it at the end
/// of your own `before_save` when the entity uses `#[hookable(custom_behavior)]`, after the last
/// change to the `ActiveModel`. Does nothing for an insert, without an engine, or when no event is
/// mapped to the model's updates.
///
/// The capture waits in a process-wide table until `after_save` takes it, keyed by the tokio task
/// (or the thread, outside a task), the model and the primary key. Two updates of the same row
/// joined inside one task (`join!`) may swap their changes; an update that fails leaves its capture,
/// swept after a minute and never given to a later save.
pub async fn prepare_save<A, C>(active: A, db: &C, insert: bool) -> Result<A, DbErr>
where
    A: ActiveModelTrait + HookableActiveModel + Send,
    <A::Entity as EntityTrait>::Model: Hookable,
    C: ConnectionTrait,
{
    let model = <<A::Entity as EntityTrait>::Model as Hookable>::MODEL;
    let Some(engine) = Engine::current().filter(|_| !insert) else {
        return Ok(active);
    };
    if !engine.event_map().maps_updates(model) {
        return Ok(active);
    }
    let Some(key) = HookableActiveModel::__key(&active) else {
        return Ok(active);
    };
    let fields = active.__set_fields();
    let before = match <A::Entity as EntityTrait>::Model::PREVIOUS_VALUES && !fields.is_empty() {
        true => find_by_key(&active, db).await?,
        false => None,
    };
    handover::put(model, key, Captured::new(fields, before.as_ref()));
    Ok(active)
}

/// Records `created` or `updated` for a saved model. Generated `after_save` calls it; call it from
/// your own `ActiveModelBehavior` when the entity uses `#[hookable(custom_behavior)]`. An update
/// records the plain `updated` event with the changes [`prepare_save`] captured (none when it was
/// not called), and each event on given fields that the changes touch. A failure other than the
/// database's is a [`RecordError`] inside the `DbErr`: [`RecordError::from_db_err`] gets it back.
pub async fn record_save<M: Hookable, C: ConnectionTrait>(model: &M, db: &C, insert: bool) -> Result<(), DbErr> {
    let engine = Engine::current().ok_or(RecordError::NoEngine)?;
    let map = engine.event_map();
    if insert {
        let Some(mapping) = map.lookup(M::MODEL, "created") else {
            return Ok(());
        };
        let row = model_row(db, model, "created", mapping, None, None, None).await?;
        write(engine.shared(), db, vec![row]).await?;
        return Ok(());
    }
    if !map.maps_updates(M::MODEL) {
        return Ok(());
    }
    let changes = handover::take(M::MODEL, model.__key()).map(|captured| captured.resolve(model));
    let mut rows = Vec::new();
    for mapping in map.updates(M::MODEL, changes.as_ref()) {
        rows.push(model_row(db, model, "updated", mapping, None, None, changes.as_ref()).await?);
    }
    write(engine.shared(), db, rows).await?;
    Ok(())
}

/// The row of `active`'s primary key, read through `db`; `None` when a key field is not set or
/// no row has the key.
async fn find_by_key<A, C>(active: &A, db: &C) -> Result<Option<<A::Entity as EntityTrait>::Model>, DbErr>
where
    A: ActiveModelTrait,
    C: ConnectionTrait,
{
    let mut query = A::Entity::find();
    for key in <A::Entity as EntityTrait>::PrimaryKey::iter() {
        let column = key.into_column();
        match active.get(column).into_value() {
            Some(value) => query = query.filter(column.eq(value)),
            None => return Ok(None),
        }
    }
    query.one(db).await
}

/// Loads the full row before a delete when the `ActiveModel` holds only its key and `deleted` is
/// mapped, so that the `deleted` event carries the instance's data. Generated `before_delete` calls
/// it.
pub async fn prepare_delete<A, C>(active: A, db: &C) -> Result<A, DbErr>
where
    A: ActiveModelTrait + TryIntoModel<<A::Entity as EntityTrait>::Model> + Send,
    <A::Entity as EntityTrait>::Model: Hookable + IntoActiveModel<A>,
    C: ConnectionTrait,
{
    let Some(engine) = Engine::current() else {
        return Err(RecordError::NoEngine.into());
    };
    if engine.event_map().lookup(<A::Entity as EntityTrait>::Model::MODEL, "deleted").is_none()
        || active.clone().try_into_model().is_ok()
    {
        return Ok(active);
    }
    Ok(match find_by_key(&active, db).await? {
        Some(model) => model.into_active_model(),
        None => active,
    })
}

/// Records `deleted` for a deleted model. Generated `after_delete` calls it. An `ActiveModel` that
/// is still partial (its row was not found by [`prepare_delete`]) records nothing.
pub async fn record_delete<A, C>(active: &A, db: &C) -> Result<(), DbErr>
where
    A: ActiveModelTrait + TryIntoModel<<A::Entity as EntityTrait>::Model> + Send + Sync,
    <A::Entity as EntityTrait>::Model: Hookable,
    C: ConnectionTrait,
{
    let engine = Engine::current().ok_or(RecordError::NoEngine)?;
    let Some(mapping) = engine.event_map().lookup(<A::Entity as EntityTrait>::Model::MODEL, "deleted") else {
        return Ok(());
    };
    let Ok(model) = active.clone().try_into_model() else {
        return Ok(());
    };
    let row = model_row(db, &model, "deleted", mapping, None, None, None).await?;
    write(engine.shared(), db, vec![row]).await?;
    Ok(())
}

impl Engine {
    /// Fires a custom action of `model` (django-rest-hooks' `hook_event`), such as `read` on a book.
    /// The event is the one the map gives `"app.Model.<action>"`; it goes to the instance's owner
    /// unless the builder says otherwise or the spec ends in `+`.
    ///
    /// ```no_run
    /// # async fn run<M: rest_hooks::Hookable>(engine: rest_hooks::Engine, db: sea_orm::DatabaseConnection, book: M)
    /// # -> Result<(), rest_hooks::RecordError> {
    /// engine.action(&db, &book, "read").await?;
    /// engine.action(&db, &book, "read").audience(rest_hooks::Audience::owner(42)).await?;
    /// # Ok(()) }
    /// ```
    pub fn action<'a, M: Hookable, C: ConnectionTrait>(
        &'a self,
        db: &'a C,
        model: &'a M,
        action: &'a str,
    ) -> ActionEvent<'a, M, C> {
        ActionEvent { engine: self, db, model, action, audience: None, body: None }
    }

    /// Fires raw event `event` with `payload` for `audience` (django-rest-hooks' `raw_hook_event`).
    /// The body is `{"hook": {…}, "data": payload}`, or the bare payload after
    /// [`without_hook_metadata`](RawEvent::without_hook_metadata). The name must be in the map.
    ///
    /// ```no_run
    /// # async fn run(engine: rest_hooks::Engine, db: sea_orm::DatabaseConnection) -> Result<(), rest_hooks::RecordError> {
    /// use rest_hooks::Audience;
    /// engine.raw(&db, "user.logged_in", Audience::owner(7), serde_json::json!({"ip": "203.0.113.9"})).await?;
    /// # Ok(()) }
    /// ```
    pub fn raw<'a, C: ConnectionTrait>(
        &'a self,
        db: &'a C,
        event: &'a str,
        audience: impl Into<Audience>,
        payload: Value,
    ) -> RawEvent<'a, C> {
        RawEvent { engine: self, db, event, audience: audience.into(), payload, hook_metadata: true }
    }

    /// Records `action` for each of `models`, for writes that skip SeaORM's hooks (`insert_many`,
    /// `update_many`, raw SQL). Pass the same connection or transaction as the write. Returns how
    /// many events were recorded: 0 when the action maps to no event. The write's changes are not
    /// known here: `updated` records the event mapped to the plain `updated` only, without
    /// `changed`, and no event on given fields (`updated(title)`).
    pub async fn emit<M: Hookable, C: ConnectionTrait>(
        &self,
        db: &C,
        models: &[M],
        action: impl Into<Action>,
    ) -> Result<usize, RecordError> {
        let action = action.into();
        let Some(mapping) = self.event_map().lookup(M::MODEL, action.as_str()) else {
            return Ok(0);
        };
        let mut rows = Vec::with_capacity(models.len());
        for model in models {
            rows.push(model_row(db, model, action.as_str(), mapping, None, None, None).await?);
        }
        write(self.shared(), db, rows).await
    }
}

/// A custom action being fired; `.await` it. Built by [`Engine::action`].
#[must_use = "nothing is recorded until the event is awaited"]
pub struct ActionEvent<'a, M, C> {
    engine: &'a Engine,
    db: &'a C,
    model: &'a M,
    action: &'a str,
    audience: Option<Audience>,
    body: Option<Value>,
}

impl<M, C> ActionEvent<'_, M, C> {
    /// Sends it to `audience` instead of the instance's owner (a `+` in the map still wins).
    pub fn audience(mut self, audience: impl Into<Audience>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Sends `body` as the whole request body instead of any serializer's output; the entity's
    /// serializer is not called.
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

impl<'a, M: Hookable, C: ConnectionTrait> IntoFuture for ActionEvent<'a, M, C> {
    type Output = Result<(), RecordError>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let map = self.engine.event_map();
            let mapping = map.lookup(M::MODEL, self.action).ok_or_else(|| RecordError::UnmappedAction {
                model: M::MODEL.to_owned(),
                action: self.action.to_owned(),
                mapped: map.actions_of(M::MODEL).join(", "),
            })?;
            let row =
                model_row(self.db, self.model, self.action, mapping, self.audience, self.body.as_ref(), None).await?;
            write(self.engine.shared(), self.db, vec![row]).await.map(drop)
        })
    }
}

/// A raw event being fired; `.await` it. Built by [`Engine::raw`].
#[must_use = "nothing is recorded until the event is awaited"]
pub struct RawEvent<'a, C> {
    engine: &'a Engine,
    db: &'a C,
    event: &'a str,
    audience: Audience,
    payload: Value,
    hook_metadata: bool,
}

impl<C> RawEvent<'_, C> {
    /// Sends the payload as the whole body, without the `hook` block.
    pub fn without_hook_metadata(mut self) -> Self {
        self.hook_metadata = false;
        self
    }
}

impl<'a, C: ConnectionTrait> IntoFuture for RawEvent<'a, C> {
    type Output = Result<(), RecordError>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            self.engine.check_event(self.event).map_err(|_| RecordError::UnknownEvent {
                event: self.event.to_owned(),
                known: self.engine.event_map().known_names(),
            })?;
            let format = if self.hook_metadata { Format::Raw } else { Format::RawBare };
            let row = row(self.event, None, self.audience, format, &self.payload)?;
            write(self.engine.shared(), self.db, vec![row]).await.map(drop)
        })
    }
}
