//! The hooks of whichever entity an engine reads, behind one object-safe interface, so that the
//! subscription API serves the crate's table and an application's own entity alike. Every read is
//! narrowed to one owner, in the query and again in Rust (byte for byte, whatever the column's
//! collation).

use std::marker::PhantomData;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, IdenStatic, IntoActiveModel,
    ModelTrait, QueryFilter, QueryOrder, QuerySelect, Value,
};

use crate::engine::own_hooks::{HookWriteError, Hooks, primary_key};
use crate::foundation::error::SubscribeError;
use crate::foundation::finder::target_of;
use crate::foundation::hook::{
    ApiField, FieldError, HookEntity, HookId, HookTarget, KeyForm, api_field_json, api_field_value, api_fields,
    column_value, owner_value,
};
use crate::foundation::hookable::Owner;
use crate::foundation::signing::Secret;
use crate::runtime::shared::Shared;

/// A hook as the API shows it.
#[derive(Clone, Debug)]
pub(crate) struct HookRow {
    pub(crate) id: HookId,
    pub(crate) event: String,
    pub(crate) target: String,
    pub(crate) created: Option<DateTime<Utc>>,
    pub(crate) updated: Option<DateTime<Utc>>,
    /// The current secret, when the entity stores one per hook.
    pub(crate) secret: Option<Secret>,
    /// Until when the previous secret still signs, when there is one.
    pub(crate) previous_until: Option<DateTime<Utc>>,
    /// Whether [`HookEntity::scope`] lets the hook receive events.
    pub(crate) in_scope: bool,
    /// The application's own fields ([`HookEntity::api_columns`]), by name.
    pub(crate) fields: serde_json::Map<String, serde_json::Value>,
}

/// Which hooks of an owner to list: a page after `after`, in primary key order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Page<'a> {
    pub(crate) event: Option<&'a str>,
    pub(crate) after: Option<&'a str>,
    pub(crate) limit: u64,
}

/// The hook entity an engine reads, for the subscription API.
#[async_trait::async_trait]
pub(crate) trait HookTable: Send + Sync + 'static {
    /// The entity's type name, for messages.
    fn entity(&self) -> &'static str;

    /// Whether `id` can be a key of this table (a page's `after`).
    fn accepts_id(&self, id: &str) -> bool;

    /// The form of this table's keys, as [`accepts_id`](Self::accepts_id) reads them.
    fn id_form(&self) -> KeyForm;

    /// Whether the entity names [secret columns](HookEntity::secret_columns): each hook then has
    /// a secret of its own to sign with.
    fn has_secret_columns(&self) -> bool;

    /// The request fields the API writes into columns of this table, each with its column's
    /// name: `target` (when the entity names its target column), then `event`.
    fn field_columns(&self) -> Vec<(&'static str, &'static str)>;

    /// The application's own fields the API carries ([`HookEntity::api_columns`]), or what is
    /// wrong with one of their columns.
    fn api_fields(&self) -> Result<Vec<ApiField>, String>;

    /// Checks `fields`, named by a request of `owner`: each a field of
    /// [`api_fields`](Self::api_fields) with a value of its type, then
    /// [`HookEntity::check_api_fields`].
    async fn check_fields(
        &self,
        db: &DatabaseConnection,
        fields: &serde_json::Map<String, serde_json::Value>,
        owner: &Owner,
    ) -> Result<Result<(), FieldError>, DbErr>;

    /// Creates a hook of `owner` with the application's own `fields` (checked), as
    /// [`Hooks::subscribe`](crate::engine::own_hooks::Hooks::subscribe) does.
    async fn create(
        &self,
        shared: &Arc<Shared>,
        owner: &Owner,
        event: &str,
        target: &str,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<HookRow, SubscribeError>;

    /// A page of `owner`'s hooks.
    async fn list(&self, db: &DatabaseConnection, owner: &Owner, page: Page<'_>) -> Result<Vec<HookRow>, DbErr>;

    /// The ids of all of `owner`'s hooks, in primary key order.
    async fn ids(&self, db: &DatabaseConnection, owner: &Owner) -> Result<Vec<HookId>, DbErr>;

    /// `owner`'s hook `id`, read through `db`: none for another owner's, a missing one, and an id
    /// that is not the hook's in the form the API shows it (`010` is not hook `10`).
    async fn get(&self, db: &DatabaseConnection, owner: &Owner, id: &str) -> Result<Option<HookRow>, DbErr>;

    /// [`get`](Self::get), inside `txn`.
    async fn get_in(&self, txn: &DatabaseTransaction, owner: &Owner, id: &str) -> Result<Option<HookRow>, DbErr>;

    /// Hook `id` as the engine sends to it, its secrets included.
    async fn target(&self, db: &DatabaseConnection, id: &HookId) -> Result<Option<HookTarget>, DbErr>;

    /// Sets hook `id`'s event and target, those given, the application's own `fields` (checked),
    /// and its `updated` column.
    async fn change(
        &self,
        txn: &DatabaseTransaction,
        id: &HookId,
        event: Option<&str>,
        target: Option<&str>,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), DbErr>;

    /// Deletes hook `id` as [`Hooks::unsubscribe`](crate::engine::own_hooks::Hooks::unsubscribe) does.
    async fn delete(&self, shared: &Arc<Shared>, id: &HookId) -> Result<bool, HookWriteError>;

    /// Rotates hook `id`'s secret as [`Hooks::rotate_secret`](crate::engine::own_hooks::Hooks::rotate_secret)
    /// does, refusing a rotation written meanwhile
    /// ([`HookWriteError::RotatedMeanwhile`](crate::engine::own_hooks::HookWriteError::RotatedMeanwhile)).
    async fn rotate(&self, shared: &Arc<Shared>, id: &HookId) -> Result<HookRow, HookWriteError>;
}

/// The [`HookTable`] of entity `E`.
pub(crate) struct EntityTable<E>(PhantomData<fn() -> E>);

impl<E> EntityTable<E>
where
    E: HookEntity,
    E::Model: IntoActiveModel<E::ActiveModel> + Sync,
    E::ActiveModel: Send,
{
    /// The table of `E`, type-erased.
    pub(crate) fn shared() -> Arc<dyn HookTable> {
        Arc::new(Self(PhantomData))
    }

    /// `owner`'s hooks, as a query.
    fn of(owner: &Owner) -> Result<sea_orm::Select<E>, DbErr> {
        let column = E::owner_column();
        Ok(E::find().filter(column.eq(owner_value(column, owner)?)))
    }

    /// `owner`'s hook `id`.
    async fn get_through<C: ConnectionTrait>(db: &C, owner: &Owner, id: &str) -> Result<Option<HookRow>, DbErr> {
        let Ok(key) = primary_key::<E>() else { return Ok(None) };
        let Ok(value) = column_value(key, "hook id", id) else { return Ok(None) };
        let hook = Self::of(owner)?.filter(key.eq(value)).one(db).await?;
        let Some(row) = hook.and_then(|hook| owned_row::<E>(hook, owner)).filter(|row| row.id.to_string() == id) else {
            return Ok(None);
        };
        Ok(Self::scoped(db, vec![row]).await?.pop())
    }

    /// `fields` as column values, each checked against its column's type.
    fn values(fields: &serde_json::Map<String, serde_json::Value>) -> Result<Vec<(E::Column, Value)>, FieldError> {
        let columns = E::api_columns();
        fields
            .iter()
            .map(|(name, json)| {
                let column = columns
                    .iter()
                    .find(|column| column.as_str() == name)
                    .ok_or_else(|| FieldError::new(name, format!("unknown field `{name}`")))?;
                api_field_value(*column, json)
                    .map(|value| (*column, value))
                    .map_err(|problem| FieldError::new(name, format!("`{name}` {problem}")))
            })
            .collect()
    }

    /// `rows` with [`HookRow::in_scope`] read from the entity's scope: one query for them all.
    async fn scoped<C: ConnectionTrait>(db: &C, mut rows: Vec<HookRow>) -> Result<Vec<HookRow>, DbErr> {
        let Ok(key) = primary_key::<E>() else { return Ok(rows) };
        if rows.is_empty() {
            return Ok(rows);
        }
        let keys =
            rows.iter().map(|row| column_value(key, "hook id", &row.id.to_string())).collect::<Result<Vec<_>, _>>()?;
        let in_scope: Vec<String> = E::scope(E::find().filter(key.is_in(keys)))
            .all(db)
            .await?
            .into_iter()
            .map(|hook| E::to_target(hook).id.to_string())
            .collect();
        for row in &mut rows {
            row.in_scope = in_scope.contains(&row.id.to_string());
        }
        Ok(rows)
    }
}

#[async_trait::async_trait]
impl<E> HookTable for EntityTable<E>
where
    E: HookEntity,
    E::Model: IntoActiveModel<E::ActiveModel> + Sync,
    E::ActiveModel: Send,
{
    fn entity(&self) -> &'static str {
        std::any::type_name::<E>()
    }

    fn accepts_id(&self, id: &str) -> bool {
        primary_key::<E>().is_ok_and(|key| column_value(key, "hook id", id).is_ok())
    }

    fn id_form(&self) -> KeyForm {
        primary_key::<E>().map_or(KeyForm::Text, KeyForm::of)
    }

    fn has_secret_columns(&self) -> bool {
        E::secret_columns().is_some()
    }

    fn field_columns(&self) -> Vec<(&'static str, &'static str)> {
        let target = E::target_column().map(|column| ("target", column.as_str()));
        target.into_iter().chain([("event", E::event_column().as_str())]).collect()
    }

    fn api_fields(&self) -> Result<Vec<ApiField>, String> {
        api_fields(&E::api_columns())
    }

    async fn check_fields(
        &self,
        db: &DatabaseConnection,
        fields: &serde_json::Map<String, serde_json::Value>,
        owner: &Owner,
    ) -> Result<Result<(), FieldError>, DbErr> {
        if let Err(refused) = Self::values(fields) {
            return Ok(Err(refused));
        }
        E::check_api_fields(db, fields, owner).await
    }

    async fn create(
        &self,
        shared: &Arc<Shared>,
        owner: &Owner,
        event: &str,
        target: &str,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<HookRow, SubscribeError> {
        let values = Self::values(fields).map_err(|e| DbErr::Custom(e.to_string()))?;
        let hook = Hooks::<E>::new(Arc::clone(shared))
            .subscribe_fields(&shared.db, Some(owner.clone()), event, target, values)
            .await?;
        let row = row_of::<E>(hook);
        Ok(HookRow { in_scope: true, ..row })
    }

    async fn list(&self, db: &DatabaseConnection, owner: &Owner, page: Page<'_>) -> Result<Vec<HookRow>, DbErr> {
        let key = primary_key::<E>().map_err(|e| DbErr::Custom(e.to_string()))?;
        let mut select = Self::of(owner)?.order_by_asc(key).limit(page.limit);
        if let Some(event) = page.event {
            select = select.filter(E::event_column().eq(event));
        }
        if let Some(after) = page.after {
            select = select.filter(key.gt(column_value(key, "hook id", after)?));
        }
        let rows = select.all(db).await?.into_iter().filter_map(|hook| owned_row::<E>(hook, owner)).collect();
        Self::scoped(db, rows).await
    }

    async fn ids(&self, db: &DatabaseConnection, owner: &Owner) -> Result<Vec<HookId>, DbErr> {
        let key = primary_key::<E>().map_err(|e| DbErr::Custom(e.to_string()))?;
        let hooks = Self::of(owner)?.order_by_asc(key).all(db).await?;
        let ids = hooks.into_iter().map(E::to_target).filter(|hook| hook.owner.as_ref() == Some(owner));
        Ok(ids.map(|hook| hook.id).collect())
    }

    async fn get(&self, db: &DatabaseConnection, owner: &Owner, id: &str) -> Result<Option<HookRow>, DbErr> {
        Self::get_through(db, owner, id).await
    }

    async fn get_in(&self, txn: &DatabaseTransaction, owner: &Owner, id: &str) -> Result<Option<HookRow>, DbErr> {
        Self::get_through(txn, owner, id).await
    }

    async fn target(&self, db: &DatabaseConnection, id: &HookId) -> Result<Option<HookTarget>, DbErr> {
        let key = primary_key::<E>().map_err(|e| DbErr::Custom(e.to_string()))?;
        let hook = E::find().filter(key.eq(column_value(key, "hook id", &id.to_string())?)).one(db).await?;
        Ok(hook.map(target_of::<E>))
    }

    async fn change(
        &self,
        txn: &DatabaseTransaction,
        id: &HookId,
        event: Option<&str>,
        target: Option<&str>,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), DbErr> {
        let key = primary_key::<E>().map_err(|e| DbErr::Custom(e.to_string()))?;
        let mut update = E::update_many().filter(key.eq(column_value(key, "hook id", &id.to_string())?));
        for (column, value) in Self::values(fields).map_err(|e| DbErr::Custom(e.to_string()))? {
            update = update.col_expr(column, Expr::value(value));
        }
        if let Some(event) = event {
            update = update.col_expr(E::event_column(), Expr::value(event));
        }
        if let Some(target) = target {
            let column = E::target_column().ok_or_else(|| {
                DbErr::Custom(crate::engine::own_hooks::HookEntityError::NoTargetColumn(self.entity()).to_string())
            })?;
            update = update.col_expr(column, Expr::value(target));
        }
        if let Some(updated) = E::updated_column() {
            update = update.col_expr(updated, Expr::value(Utc::now()));
        }
        update.exec(txn).await?;
        Ok(())
    }

    async fn delete(&self, shared: &Arc<Shared>, id: &HookId) -> Result<bool, HookWriteError> {
        Hooks::<E>::new(Arc::clone(shared)).unsubscribe(&shared.db, id.clone()).await
    }

    async fn rotate(&self, shared: &Arc<Shared>, id: &HookId) -> Result<HookRow, HookWriteError> {
        let hook = Hooks::<E>::new(Arc::clone(shared)).rotate_secret_unraced(&shared.db, id.clone()).await?;
        Ok(HookRow { in_scope: true, ..row_of::<E>(hook) })
    }
}

/// What the API shows of `hook`, when it is `owner`'s.
fn owned_row<E: HookEntity>(hook: E::Model, owner: &Owner) -> Option<HookRow> {
    let row = row_of::<E>(hook.clone());
    (E::to_target(hook).owner.as_ref() == Some(owner)).then_some(row)
}

/// What the API shows of `hook`; [`HookRow::in_scope`] is left `false`.
fn row_of<E: HookEntity>(hook: E::Model) -> HookRow {
    let created = E::created_column().and_then(|column| utc(hook.get(column)));
    let updated = E::updated_column().and_then(|column| utc(hook.get(column)));
    let secret = E::secret_columns().and_then(|columns| match hook.get(columns.secret) {
        Value::String(Some(text)) => Secret::parse(&text).ok(),
        _ => None,
    });
    let previous_until = E::secret_columns()
        .and_then(|columns| columns.previous)
        .filter(|(secret, _)| !matches!(hook.get(*secret), Value::String(None)))
        .and_then(|(_, until)| utc(hook.get(until)));
    let fields = E::api_columns()
        .into_iter()
        .map(|column| (column.as_str().to_owned(), api_field_json(hook.get(column))))
        .collect();
    let target = E::to_target(hook);
    HookRow {
        id: target.id,
        event: target.event,
        target: target.target,
        created,
        updated,
        secret,
        previous_until,
        in_scope: false,
        fields,
    }
}

/// A date and time column's value, in UTC.
pub(crate) fn utc(value: Value) -> Option<DateTime<Utc>> {
    match value {
        Value::ChronoDateTimeUtc(Some(at)) => Some(at),
        Value::ChronoDateTimeWithTimeZone(Some(at)) => Some(at.to_utc()),
        Value::ChronoDateTimeLocal(Some(at)) => Some(at.to_utc()),
        Value::ChronoDateTime(Some(at)) => Some(at.and_utc()),
        _ => None,
    }
}

/// The table an engine reads its hooks from, as its configuration keeps it.
#[derive(Clone)]
pub(crate) struct TableOf(pub(crate) Arc<dyn HookTable>);

impl std::fmt::Debug for TableOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TableOf").field(&self.0.entity()).finish()
    }
}
