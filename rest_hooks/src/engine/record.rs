//! What a save calls to record its events, and the engine's methods that fire custom actions, raw
//! events and events of writes that skip SeaORM's hooks. The rows are built and written by the
//! pipeline's [`record`](crate::pipeline::record).

use std::future::IntoFuture;
use std::pin::Pin;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, Iterable, ModelTrait,
    PrimaryKeyToColumn, QueryFilter, TryIntoModel,
};
use serde_json::Value;

use crate::engine::Engine;
use crate::foundation::error::RecordError;
use crate::foundation::event::Action;
use crate::foundation::hookable::{Audience, Hookable};
use crate::foundation::store::outbox::Format;
use crate::pipeline::record::{model_row, row, write};

/// A boxed future, as returned by the event builders.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Records `created` or `updated` for a saved model. Generated `after_save` calls it; call it from
/// your own `ActiveModelBehavior` when the entity uses `#[hookable(custom_behavior)]`. A failure
/// other than the database's is a [`RecordError`] inside the `DbErr`:
/// [`RecordError::from_db_err`] gets it back.
pub async fn record_save<M: Hookable + ModelTrait, C: ConnectionTrait>(
    model: &M,
    db: &C,
    insert: bool,
) -> Result<(), DbErr> {
    let engine = Engine::current().ok_or(RecordError::NoEngine)?;
    let action = if insert { "created" } else { "updated" };
    let Some(mapping) = engine.event_map().lookup(M::MODEL, action) else {
        return Ok(());
    };
    let row = model_row(db, model, action, mapping, None, None).await?;
    write(engine.shared(), db, vec![row]).await?;
    Ok(())
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
    let mut query = A::Entity::find();
    for key in <A::Entity as EntityTrait>::PrimaryKey::iter() {
        let column = key.into_column();
        match active.get(column).into_value() {
            Some(value) => query = query.filter(column.eq(value)),
            None => return Ok(active),
        }
    }
    Ok(match query.one(db).await? {
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
    let row = model_row(db, &model, "deleted", mapping, None, None).await?;
    write(engine.shared(), db, vec![row]).await?;
    Ok(())
}

impl Engine {
    /// Fires a custom action of `model` (django-rest-hooks' `hook_event`), such as `read` on a book.
    /// The event is the one the map gives `"app.Model.<action>"`; it goes to the instance's owner
    /// unless the builder says otherwise or the spec ends in `+`.
    ///
    /// ```no_run
    /// # async fn run<M: rest_hooks::Hookable + sea_orm::ModelTrait>(engine: rest_hooks::Engine, db: sea_orm::DatabaseConnection, book: M)
    /// # -> Result<(), rest_hooks::RecordError> {
    /// engine.action(&db, &book, "read").await?;
    /// engine.action(&db, &book, "read").audience(rest_hooks::Audience::owner(42)).await?;
    /// # Ok(()) }
    /// ```
    pub fn action<'a, M: Hookable + ModelTrait, C: ConnectionTrait>(
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
    /// many events were recorded: 0 when the action maps to no event.
    pub async fn emit<M: Hookable + ModelTrait, C: ConnectionTrait>(
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
            rows.push(model_row(db, model, action.as_str(), mapping, None, None).await?);
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

impl<'a, M: Hookable + ModelTrait, C: ConnectionTrait> IntoFuture for ActionEvent<'a, M, C> {
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
            let row = model_row(self.db, self.model, self.action, mapping, self.audience, self.body.as_ref()).await?;
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
