//! Hooks (subscriptions): the default entity the crate ships, and the trait that lets an
//! application use its own.
//!
//! A hook says "POST event E to URL T for owner O". The engine reads hooks through a
//! [`Finder`](crate::Finder); the default finder reads any entity that implements [`HookEntity`], so
//! an application swaps in its own table (with `is_active`, `organization_id`, …) by implementing that
//! trait and naming the entity in [`Builder::hook_entity`](crate::Builder::hook_entity).

use std::fmt;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue, ColumnType, Select, UpdateMany, Value};
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::ValidationError;
use crate::hookable::Owner;
use crate::net::TargetPolicy;
use crate::signing::Secret;

pub use crate::own_hooks::SecretColumns;
pub use entity::{ActiveModel, Column, Entity, Model, PrimaryKey};

mod entity {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    /// A subscription of `target` to `event`, for `owner`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "rest_hooks_hook")]
    pub struct Model {
        /// The hook id, sent in the `hook` block of every body.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The owner, or `None` for a hook that receives unowned and all-owner events only.
        #[sea_orm(column_type = "String(StringLen::N(191))", nullable)]
        pub owner: Option<String>,
        /// The event name.
        #[sea_orm(column_type = "String(StringLen::N(200))")]
        pub event: String,
        /// The absolute http(s) URL that receives the event.
        #[sea_orm(column_type = "Text")]
        pub target: String,
        /// When it was created.
        pub created: DateTimeUtc,
        /// When it was last changed.
        pub updated: DateTimeUtc,
        /// The secret that signs its deliveries; generated when the hook is created. Never
        /// serialized: read it with [`Secret::expose`](crate::signing::Secret::expose).
        #[sea_orm(column_type = "String(StringLen::N(128))", nullable)]
        #[serde(skip)]
        pub secret: Option<crate::signing::Secret>,
        /// The secret it had before the last [rotation](crate::Engine::rotate_secret), which still
        /// signs until `previous_secret_until`.
        #[sea_orm(column_type = "String(StringLen::N(128))", nullable)]
        #[serde(skip)]
        pub previous_secret: Option<crate::signing::Secret>,
        /// Until when the previous secret still signs.
        pub previous_secret_until: Option<DateTimeUtc>,
    }

    /// The hook table has no relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

#[async_trait::async_trait]
impl ActiveModelBehavior for ActiveModel {
    /// Checks the target and, when an engine is running, the event; stamps `created` / `updated`.
    async fn before_save<C>(self, _db: &C, insert: bool) -> Result<Self, DbErr>
    where
        C: ConnectionTrait,
    {
        let event = self.event.try_as_ref().map(String::as_str);
        let target = self.target.try_as_ref().map(String::as_str);
        let engine = Engine::current();
        validate(engine.as_ref(), event, target).await.map_err(|e| DbErr::Custom(e.to_string()))?;
        self.stamped(insert)
    }
}

impl ActiveModel {
    /// Stamps `updated` (and `created` on insert) and gives a new hook a fresh secret.
    fn stamped(mut self, insert: bool) -> Result<Self, DbErr> {
        let now = chrono::Utc::now();
        if insert && self.created.is_not_set() {
            self.created = sea_orm::Set(now);
        }
        if insert && matches!(self.secret, ActiveValue::NotSet | ActiveValue::Set(None)) {
            let secret =
                Secret::generate().map_err(|e| DbErr::Custom(format!("cannot make the hook's secret: {e}")))?;
            self.secret = sea_orm::Set(Some(secret));
        }
        self.updated = sea_orm::Set(now);
        Ok(self)
    }
}

async fn validate(engine: Option<&Engine>, event: Option<&str>, target: Option<&str>) -> Result<(), ValidationError> {
    if let (Some(engine), Some(event)) = (engine, event) {
        engine.check_event(event)?;
    }
    if let Some(target) = target {
        match engine {
            Some(engine) => engine.check_target(target).await?,
            None => TargetPolicy::default().check_resolving(target, None).await?,
        };
    }
    Ok(())
}

/// The longest target URL accepted, in bytes, both as given and as sent (percent-encoded).
pub const MAX_TARGET_LEN: usize = 2048;

/// Checks that `target` is an absolute `http` or `https` URL with a host and no credentials, with
/// no control character (the URL parser would drop tabs and line breaks, and percent-encode the
/// rest, so the URL called would not be the one stored), at most [`MAX_TARGET_LEN`] bytes long as
/// given and as sent. The SSRF guard's checks come on top: see [`TargetPolicy::check`].
///
/// ```
/// use rest_hooks::hook::check_target;
/// assert!(check_target("https://example.com/hooks?to=books").is_ok());
/// let refused = check_target("https://example.com/\r\nX-Injected: 1").unwrap_err();
/// assert!(refused.to_string().ends_with("it contains the control character U+000D"));
/// ```
pub fn check_target(target: &str) -> Result<reqwest::Url, ValidationError> {
    let invalid = |reason: &str| ValidationError::Target { target: target.to_owned(), reason: reason.to_owned() };
    if target.len() > MAX_TARGET_LEN {
        return Err(invalid(&format!("it is longer than {MAX_TARGET_LEN} bytes")));
    }
    if let Some(control) = target.chars().find(|c| c.is_control()) {
        return Err(invalid(&format!("it contains the control character U+{:04X}", u32::from(control))));
    }
    let url = reqwest::Url::parse(target).map_err(|e| invalid(&format!("it is not an absolute URL ({e})")))?;
    let sent = url.as_str().len();
    if sent > MAX_TARGET_LEN {
        return Err(invalid(&format!("it is {sent} bytes long as sent (percent-encoded), more than {MAX_TARGET_LEN}")));
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(&format!("its scheme is `{}`; use http or https", url.scheme())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("it carries credentials; send them another way"));
    }
    Ok(url)
}

/// A hook's id as it appears in bodies: a number or a string (such as a UUID).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HookId {
    /// An integer id.
    Int(i64),
    /// Any other id, in text form.
    Text(String),
}

impl HookId {
    /// Reads an id stored as text: an integer in its canonical form (`10`, `-3`) gives
    /// [`HookId::Int`], anything else (`+10`, `010`, a UUID) [`HookId::Text`], so that every id
    /// reads back as the text it was read from.
    ///
    /// ```
    /// use rest_hooks::HookId;
    /// assert_eq!(HookId::parse("10"), HookId::Int(10));
    /// assert_eq!(HookId::parse("010"), HookId::Text("010".into()));
    /// ```
    pub fn parse(text: &str) -> Self {
        canonical_int(text).map_or_else(|| Self::Text(text.to_owned()), Self::Int)
    }
}

/// `text` as an integer, when it is that integer's canonical form: no sign but `-`, no leading
/// zero, no space.
pub(crate) fn canonical_int(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().filter(|number| number.to_string() == text)
}

impl fmt::Display for HookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(id) => write!(f, "{id}"),
            Self::Text(id) => f.write_str(id),
        }
    }
}

impl From<i64> for HookId {
    fn from(id: i64) -> Self {
        Self::Int(id)
    }
}

impl From<i32> for HookId {
    fn from(id: i32) -> Self {
        Self::Int(id.into())
    }
}

impl From<Uuid> for HookId {
    fn from(id: Uuid) -> Self {
        Self::Text(id.to_string())
    }
}

impl From<String> for HookId {
    fn from(id: String) -> Self {
        Self::Text(id)
    }
}

/// A hook as the engine sees it: where to send what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookTarget {
    /// The hook's id.
    pub id: HookId,
    /// The event it subscribes to.
    pub event: String,
    /// The URL that receives it.
    pub target: String,
    /// Its owner, if any.
    pub owner: Option<Owner>,
    /// The secrets that sign its deliveries, the current one first: two while a rotated secret is
    /// in its grace period, none for an unsigned hook. Never serialized nor printed.
    #[serde(skip)]
    pub secrets: Vec<Secret>,
}

impl HookTarget {
    /// The `hook` block of a body: `{"id", "event", "target"}`.
    pub fn meta(&self) -> serde_json::Value {
        serde_json::json!({ "id": self.id, "event": self.event, "target": self.target })
    }
}

/// A SeaORM entity that stores hooks. Implement it for your own hook entity to swap it in.
///
/// ```
/// use rest_hooks::{HookEntity, HookTarget};
/// use sea_orm::entity::prelude::*;
/// use sea_orm::Select;
///
/// #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
/// #[sea_orm(table_name = "webhook")]
/// pub struct Model {
///     #[sea_orm(primary_key)]
///     pub id: i32,
///     pub organization_id: i32,
///     pub event: String,
///     pub target: String,
///     pub is_active: bool,
/// }
///
/// #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// pub enum Relation {}
///
/// impl ActiveModelBehavior for ActiveModel {}
///
/// impl HookEntity for Entity {
///     fn event_column() -> Column { Column::Event }
///     fn owner_column() -> Column { Column::OrganizationId }
///     fn to_target(hook: Model) -> HookTarget {
///         HookTarget {
///             id: hook.id.into(),
///             event: hook.event,
///             target: hook.target,
///             owner: Some(hook.organization_id.into()),
///             secrets: Vec::new(),
///         }
///     }
///     fn scope(query: Select<Entity>) -> Select<Entity> {
///         query.filter(Column::IsActive.eq(true))
///     }
/// }
/// ```
pub trait HookEntity: EntityTrait {
    /// The column holding the event name.
    fn event_column() -> Self::Column;
    /// The column holding the owner key; integer, UUID and text columns all work.
    fn owner_column() -> Self::Column;
    /// Turns a row into what the engine needs.
    fn to_target(hook: Self::Model) -> HookTarget;
    /// Narrows the hooks considered, e.g. to active ones. Default: all of them.
    fn scope(query: Select<Self>) -> Select<Self> {
        query
    }
    /// The secrets that sign a hook's deliveries, the current one first, when
    /// [`to_target`](Self::to_target) leaves [`HookTarget::secrets`] empty. Default: the ones in
    /// the [`secret_columns`](Self::secret_columns), if the entity names any. A hook with none is
    /// signed with the engine's [fallback secret](crate::Builder::fallback_secret); with no
    /// fallback either its deliveries fail as `cannot sign` (they are never sent unsigned unless
    /// the engine is [`unsigned`](crate::Builder::unsigned)).
    fn secrets(hook: &Self::Model) -> Vec<Secret> {
        crate::own_hooks::stored_secrets::<Self>(hook)
    }
    /// The column holding the target URL. Needed to create hooks in this entity with
    /// [`Engine::hooks`](crate::Engine::hooks) (refused without it). Default: none.
    fn target_column() -> Option<Self::Column> {
        None
    }
    /// The columns holding each hook's own secrets, when the entity has them: hooks created with
    /// [`Engine::hooks`](crate::Engine::hooks) then get a fresh secret, deliveries are signed with
    /// it, and [`rotate_secret`](crate::own_hooks::Hooks::rotate_secret) works. Default: none:
    /// every hook of the entity is signed with the engine's
    /// [fallback secret](crate::Builder::fallback_secret).
    fn secret_columns() -> Option<SecretColumns<Self::Column>> {
        None
    }
    /// The column stamped with the time a hook is created, when the entity has one: hooks created
    /// with [`Engine::hooks`](crate::Engine::hooks) get it set (unless
    /// [`fill_new`](Self::fill_new) set it), and the subscription API shows it as `created`.
    /// Default: none.
    fn created_column() -> Option<Self::Column> {
        None
    }
    /// The column stamped with the time a hook last changed, when the entity has one: set when a
    /// hook is created, changed through the subscription API, or its secret is rotated, and shown
    /// as `updated`. Default: none.
    fn updated_column() -> Option<Self::Column> {
        None
    }
    /// Fills the application's own columns of a hook that [`Engine::hooks`](crate::Engine::hooks)
    /// (or the subscription API, `api::HooksApi`) creates, after the event, target, owner and
    /// secret columns are set: e.g. `hook.is_active = Set(true)`. `owner` is the caller's. The row
    /// is then inserted through the entity's `ActiveModelBehavior`. Default: nothing.
    fn fill_new(hook: &mut Self::ActiveModel, owner: Option<&Owner>) {
        let _ = (hook, owner);
    }
    /// Marks a hook disabled in this table, when the engine disables it (410 Gone, or failing for
    /// too long): `update` already selects the hook by its primary key; add the columns to set,
    /// e.g. `Some(update.col_expr(Column::IsActive, Expr::value(false)))`. The engine keeps its own
    /// record either way ([`Engine::hook_state`](crate::Engine::hook_state)) and sends nothing more
    /// to a disabled hook, so the default, `None`, writes nothing here.
    fn disabled(update: UpdateMany<Self>, reason: &str) -> Option<UpdateMany<Self>> {
        let _ = (update, reason);
        None
    }
}

impl HookEntity for Entity {
    fn event_column() -> Column {
        Column::Event
    }

    fn owner_column() -> Column {
        Column::Owner
    }

    fn to_target(hook: Model) -> HookTarget {
        HookTarget {
            id: hook.id.into(),
            event: hook.event,
            target: hook.target,
            owner: hook.owner.map(Owner::from),
            secrets: Vec::new(),
        }
    }

    fn target_column() -> Option<Column> {
        Some(Column::Target)
    }

    fn secret_columns() -> Option<SecretColumns<Column>> {
        Some(SecretColumns::new(Column::Secret).with_previous(Column::PreviousSecret, Column::PreviousSecretUntil))
    }

    fn created_column() -> Option<Column> {
        Some(Column::Created)
    }

    fn updated_column() -> Option<Column> {
        Some(Column::Updated)
    }

    fn secrets(hook: &Model) -> Vec<Secret> {
        let previous = match (&hook.previous_secret, hook.previous_secret_until) {
            (Some(secret), Some(until)) if until > chrono::Utc::now() => Some(secret.clone()),
            _ => None,
        };
        hook.secret.iter().cloned().chain(previous).collect()
    }
}

/// Converts an owner key to the type of `column`, so that integer and UUID owner columns compare
/// with typed values.
pub(crate) fn owner_value<C: ColumnTrait>(column: C, owner: &Owner) -> Result<Value, DbErr> {
    column_value(column, "owner", owner.as_str())
}

/// Converts the text form of a key (an owner, a hook id) to the type of `column`.
pub(crate) fn column_value<C: ColumnTrait>(column: C, what: &str, text: &str) -> Result<Value, DbErr> {
    let mismatch = |kind: &str| {
        DbErr::Custom(format!("{what} `{text}` is not a valid {kind} for hook column `{}`", column.as_str()))
    };
    Ok(match column.def().get_column_type() {
        ColumnType::TinyInteger | ColumnType::SmallInteger | ColumnType::Integer | ColumnType::BigInteger => {
            Value::from(text.parse::<i64>().map_err(|_| mismatch("integer"))?)
        }
        ColumnType::TinyUnsigned | ColumnType::SmallUnsigned | ColumnType::Unsigned | ColumnType::BigUnsigned => {
            Value::from(text.parse::<u64>().map_err(|_| mismatch("unsigned integer"))?)
        }
        ColumnType::Uuid => Value::from(text.parse::<Uuid>().map_err(|_| mismatch("UUID"))?),
        _ => Value::from(text),
    })
}

impl Engine {
    /// Creates a hook in the crate's hook table after checking the event against the map and the
    /// target URL as [`check_target`](Self::check_target) does (its host name is resolved once);
    /// the hook gets a fresh secret (`model.secret`).
    ///
    /// An engine that reads its hooks from the application's own entity
    /// ([`Builder::hook_entity`](crate::Builder::hook_entity)) or a custom finder refuses it
    /// ([`SubscribeError::Refused`](crate::SubscribeError::Refused)): a hook written here would
    /// never fire. Create those hooks with [`Engine::hooks`](Self::hooks).
    pub async fn subscribe<C: ConnectionTrait>(
        &self,
        db: &C,
        owner: Option<Owner>,
        event: &str,
        target: &str,
    ) -> Result<Model, crate::SubscribeError> {
        self.refuse_elsewhere("subscribe")?;
        self.hooks::<Entity>().subscribe(db, owner, event, target).await
    }

    /// Refuses `what` on the crate's hook table when this engine reads its hooks elsewhere: a
    /// hook written there would never fire.
    fn refuse_elsewhere(&self, what: &'static str) -> Result<(), crate::own_hooks::HookEntityError> {
        match &self.shared().config.hooks_elsewhere {
            Some(elsewhere) => {
                Err(crate::own_hooks::HookEntityError::CrateTableUnused { what, elsewhere: elsewhere.clone() })
            }
            None => Ok(()),
        }
    }
}

/// Fails the pending deliveries of deleted hook `key` (no retry follows) and drops its state.
pub(crate) async fn forget<C: ConnectionTrait>(txn: &C, key: &str) -> Result<(), DbErr> {
    use crate::store::{delivery, hook_state};
    delivery::Entity::update_many()
        .col_expr(delivery::Column::State, Expr::value(delivery::state::FAILED))
        .col_expr(delivery::Column::LastError, Expr::value("the hook was deleted"))
        .col_expr(delivery::Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .filter(delivery::Column::HookId.eq(key))
        .filter(delivery::Column::State.eq(delivery::state::PENDING))
        .exec(txn)
        .await?;
    hook_state::Entity::delete_by_id(key).exec(txn).await?;
    Ok(())
}

impl Engine {
    /// Deletes hook `id` of the crate's hook table, in one transaction with what the engine keeps
    /// of it: its pending deliveries fail with `the hook was deleted` (no retry follows) and its
    /// [state](Self::hook_state) goes. A request already under way, or recorded by a dispatch pass
    /// that read the hook before the deletion committed, may still be made once. The attempt log
    /// stays. Returns
    /// whether the hook existed. Inside a transaction it runs under a savepoint, and commits with
    /// the caller. Refused (`DbErr::Custom`) by an engine whose hooks live elsewhere: see
    /// [`Engine::hooks`](Self::hooks).
    pub async fn unsubscribe<C>(&self, db: &C, id: i64) -> Result<bool, DbErr>
    where
        C: ConnectionTrait + sea_orm::TransactionTrait,
    {
        use sea_orm::TransactionSession;

        self.refuse_elsewhere("unsubscribe").map_err(|e| DbErr::Custom(e.to_string()))?;
        let txn = db.begin().await?;
        let deleted = Entity::delete_by_id(id).exec(&txn).await?.rows_affected > 0;
        if deleted {
            forget(&txn, &HookId::from(id).to_string()).await?;
        }
        txn.commit().await?;
        Ok(deleted)
    }

    /// Gives hook `id` of the crate's hook table a new secret. The old one keeps signing, beside
    /// the new one, for the [grace period](crate::Builder::secret_grace_period), so that the
    /// receiver can switch at its own pace. Returns the hook with its new secret.
    ///
    /// The secret changes in one `UPDATE`: the secret current at that moment becomes the previous
    /// one. Rotations at once wait for each other on the row and all succeed, each replacing the
    /// secret the one before it made. The hook is read back in the same transaction (under a
    /// savepoint inside the caller's), so what it shows is this rotation's work. The target is not
    /// checked again. Refused (`DbErr::Custom`) by an engine whose hooks live elsewhere: see
    /// [`Engine::hooks`](Self::hooks).
    pub async fn rotate_secret<C>(&self, db: &C, id: i64) -> Result<Model, DbErr>
    where
        C: ConnectionTrait + sea_orm::TransactionTrait,
    {
        use sea_orm::TransactionSession;

        self.refuse_elsewhere("rotate_secret").map_err(|e| DbErr::Custom(e.to_string()))?;
        let secret = Secret::generate().map_err(|e| DbErr::Custom(format!("cannot make the hook's secret: {e}")))?;
        let grace = chrono::Duration::from_std(self.shared().config.secret_grace).unwrap_or(chrono::Duration::MAX);
        let now = chrono::Utc::now();
        let until = now.checked_add_signed(grace).unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
        let missing = || DbErr::RecordNotFound(format!("hook {id} does not exist"));
        let txn = db.begin().await?;
        // `previous_secret` first: MySQL assigns left to right, and a later `secret` would already
        // be the new one.
        let rotated = Entity::update_many()
            .col_expr(Column::PreviousSecret, Expr::col(Column::Secret))
            .col_expr(Column::Secret, Expr::value(Some(secret)))
            .col_expr(Column::PreviousSecretUntil, Expr::value(Some(until)))
            .col_expr(Column::Updated, Expr::value(now))
            .filter(Column::Id.eq(id))
            .exec(&txn)
            .await?;
        if rotated.rows_affected == 0 {
            return Err(missing());
        }
        let hook = Entity::find_by_id(id).one(&txn).await?.ok_or_else(missing)?;
        txn.commit().await?;
        Ok(hook)
    }

    /// Checks `target` as a subscription would: a well-formed http(s) URL that the
    /// [`TargetPolicy`] accepts, whose host name, if it has one, does not resolve (through the
    /// engine's resolver) to a refused address. For applications that validate targets of their own
    /// hook entity.
    pub async fn check_target(&self, target: &str) -> Result<reqwest::Url, ValidationError> {
        let config = &self.shared().config;
        config.policy.check_resolving(target, config.resolver.0.as_ref()).await
    }

    /// The policy that decides which targets this engine calls.
    pub fn target_policy(&self) -> &TargetPolicy {
        &self.shared().config.policy
    }
}
