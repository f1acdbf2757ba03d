//! Hooks (subscriptions): the default entity the crate ships, and the trait that lets an
//! application use its own.
//!
//! A hook says "POST event E to URL T for owner O". The engine reads hooks through a
//! [`Finder`](crate::Finder); the default finder reads any entity that implements [`HookEntity`], so
//! an application swaps in its own table (with `is_active`, `organization_id`, …) by implementing that
//! trait and naming the entity in [`Builder::hook_entity`](crate::Builder::hook_entity).

use sea_orm::entity::prelude::*;
use sea_orm::{ColumnType, Select, UpdateMany, Value};
use serde::{Deserialize, Serialize};

use crate::foundation::error::ValidationError;
use crate::foundation::hookable::Owner;
use crate::foundation::signing::secret::Secret;

pub use crate::foundation::keys::HookId;
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
        /// serialized: read it with [`Secret::expose`](crate::foundation::signing::secret::Secret::expose).
        #[sea_orm(column_type = "String(StringLen::N(128))", nullable)]
        #[serde(skip)]
        pub secret: Option<crate::foundation::signing::secret::Secret>,
        /// The secret it had before the last [rotation](crate::Engine::rotate_secret), which still
        /// signs until `previous_secret_until`.
        #[sea_orm(column_type = "String(StringLen::N(128))", nullable)]
        #[serde(skip)]
        pub previous_secret: Option<crate::foundation::signing::secret::Secret>,
        /// Until when the previous secret still signs.
        pub previous_secret_until: Option<DateTimeUtc>,
    }

    /// The hook table has no relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

/// The longest target URL accepted, in bytes, both as given and as sent (percent-encoded).
pub const MAX_TARGET_LEN: usize = 2048;

/// Checks that `target` is an absolute `http` or `https` URL with a host, no credentials and a
/// port other than 0, at most [`MAX_TARGET_LEN`] bytes long as given and as sent, with no control
/// character, no whitespace (every Unicode space and line or paragraph separator included) and no
/// invisible formatting character (Unicode category Cf: zero-width spaces, soft hyphens,
/// direction marks…) anywhere: the URL parser would trim, drop or percent-encode those, or IDNA
/// would map them away, so the URL called would not be the one stored and shown. Written
/// percent-encoded (`%20`), they are accepted. The SSRF guard's checks come on top: see
/// [`TargetPolicy::check`](crate::net::TargetPolicy::check).
///
/// ```
/// use rest_hooks::hook::check_target;
/// assert!(check_target("https://example.com/hooks?to=books").is_ok());
/// let refused = check_target("https://example.com/\r\nX-Injected: 1").unwrap_err();
/// assert!(refused.to_string().ends_with("it contains the control character U+000D"));
/// let refused = check_target("https://exa\u{200B}mple.com/").unwrap_err();
/// assert!(refused.to_string().ends_with("it contains the invisible formatting character U+200B"));
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
    if let Some((found, kind)) = target.chars().find_map(|c| unseen_kind(c).map(|kind| (c, kind))) {
        return Err(invalid(&format!("it contains the {kind} character U+{:04X}", u32::from(found))));
    }
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
    if url.port() == Some(0) {
        return Err(invalid("its port is 0, which no server listens on"));
    }
    Ok(url)
}

/// What kind of character `c` is when a target may not contain it as written: `whitespace`
/// (which takes in every Unicode separator, categories Zs, Zl and Zp) or `invisible formatting`
/// (category Cf). Control characters are refused before.
fn unseen_kind(c: char) -> Option<&'static str> {
    if c.is_whitespace() {
        Some("whitespace")
    } else if FORMAT.iter().any(|range| range.contains(&c)) {
        Some("invisible formatting")
    } else {
        None
    }
}

/// The characters of Unicode's general category Cf (format), as of Unicode 16.
const FORMAT: &[std::ops::RangeInclusive<char>] = &[
    '\u{00AD}'..='\u{00AD}',
    '\u{0600}'..='\u{0605}',
    '\u{061C}'..='\u{061C}',
    '\u{06DD}'..='\u{06DD}',
    '\u{070F}'..='\u{070F}',
    '\u{0890}'..='\u{0891}',
    '\u{08E2}'..='\u{08E2}',
    '\u{180E}'..='\u{180E}',
    '\u{200B}'..='\u{200F}',
    '\u{202A}'..='\u{202E}',
    '\u{2060}'..='\u{2064}',
    '\u{2066}'..='\u{206F}',
    '\u{FEFF}'..='\u{FEFF}',
    '\u{FFF9}'..='\u{FFFB}',
    '\u{110BD}'..='\u{110BD}',
    '\u{110CD}'..='\u{110CD}',
    '\u{13430}'..='\u{1343F}',
    '\u{1BCA0}'..='\u{1BCA3}',
    '\u{1D173}'..='\u{1D17A}',
    '\u{E0001}'..='\u{E0001}',
    '\u{E0020}'..='\u{E007F}',
];

/// A hook as the engine sees it: where to send what.
///
/// A [`HookEntity`] or a [`Finder`](crate::Finder) of your own builds one with [`new`](Self::new)
/// and the `with_` setters:
///
/// ```
/// use rest_hooks::HookTarget;
///
/// let hook = HookTarget::new(7, "book.added", "https://example.com/hooks").with_owner(Some(1.into()));
/// assert_eq!(hook.event, "book.added");
/// assert_eq!(hook.owner, Some(1.into()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// A hook `id` that sends `event` to `target`, with no owner and no secrets of its own.
    pub fn new(id: impl Into<HookId>, event: impl Into<String>, target: impl Into<String>) -> Self {
        Self { id: id.into(), event: event.into(), target: target.into(), owner: None, secrets: Vec::new() }
    }

    /// The hook with `owner`. Default: `None`, a hook of no owner.
    pub fn with_owner(mut self, owner: Option<Owner>) -> Self {
        self.owner = owner;
        self
    }

    /// The hook with `secrets`, the current one first. Default: none, so that the entity's
    /// [`secrets`](HookEntity::secrets) (or the engine's fallback secret) sign its deliveries.
    pub fn with_secrets(mut self, secrets: Vec<Secret>) -> Self {
        self.secrets = secrets;
        self
    }

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
///     /// A hook for one project, or for all of the organisation's projects.
///     pub project_id: Option<i32>,
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
///         HookTarget::new(hook.id, hook.event, hook.target).with_owner(Some(hook.organization_id.into()))
///     }
///     fn scope(query: Select<Entity>) -> Select<Entity> {
///         query.filter(Column::IsActive.eq(true))
///     }
///     // A ticket's event reaches the hooks of its project and those for every project.
///     fn scope_event(query: Select<Entity>, event: &rest_hooks::Event) -> Select<Entity> {
///         let mine = Column::ProjectId.eq(event.field("project_id").and_then(|id| id.as_i64()));
///         query.filter(sea_orm::Condition::any().add(Column::ProjectId.is_null()).add(mine))
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
    /// Narrows the hooks of one `event` by the event itself, in SQL: its fields
    /// ([`Event::field`](crate::Event::field)), its model, action or owner. Applied after
    /// [`scope`](Self::scope). Default: the query unchanged.
    ///
    /// A dispatch pass looks up the hooks of the events that give the same query once: events
    /// whose name, audience and scope are alike share a lookup, and an event that narrows by its
    /// own fields costs one query.
    fn scope_event(query: Select<Self>, event: &crate::foundation::event::Event) -> Select<Self> {
        let _ = event;
        query
    }
    /// A check in Rust of each hook the query found for an event, for what SQL cannot say: a hook
    /// is kept when it returns `true`. `None` (the default) keeps them all. With a check, the
    /// hooks of each event are looked up on their own (one query per event).
    #[allow(clippy::type_complexity)]
    fn keep() -> Option<fn(&Self::Model, &crate::foundation::event::Event) -> bool> {
        None
    }
    /// The secrets that sign a hook's deliveries, the current one first, when
    /// [`to_target`](Self::to_target) leaves [`HookTarget::secrets`] empty. Default: the ones in
    /// the [`secret_columns`](Self::secret_columns), if the entity names any. A hook with none is
    /// signed with the engine's [fallback secret](crate::Builder::fallback_secret); with no
    /// fallback either its deliveries fail as `cannot sign` (they are never sent unsigned unless
    /// the engine is [`unsigned`](crate::Builder::unsigned)). An entity that names no secret
    /// columns but returns secrets here (or in [`to_target`](Self::to_target)) signs with
    /// `.signer(StandardWebhooks::default())`: without it, or a fallback secret, the engine's own
    /// signer is refused at [`start`](crate::Builder::start).
    fn secrets(hook: &Self::Model) -> Vec<Secret> {
        stored_secrets::<Self>(hook)
    }
    /// The column holding the target URL. Needed to create hooks in this entity with
    /// [`Engine::hooks`](crate::Engine::hooks) (refused without it). Default: none.
    fn target_column() -> Option<Self::Column> {
        None
    }
    /// The columns holding each hook's own secrets, when the entity has them: hooks created with
    /// [`Engine::hooks`](crate::Engine::hooks) then get a fresh secret, deliveries are signed with
    /// it, and [`rotate_secret`](crate::engine::own_hooks::Hooks::rotate_secret) works. Default: none:
    /// every hook of the entity is signed with the engine's
    /// [fallback secret](crate::Builder::fallback_secret), which the engine then needs:
    /// [`start`](crate::Builder::start) refuses an engine that signs and has neither.
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
    /// The application's own columns that the subscription API carries beside `event` and
    /// `target`, each under its column's name: `POST` and `PATCH` accept them, every answer that
    /// shows a hook shows them, and `/openapi.json` describes them in the hook's schema. Their JSON
    /// type is the column's (integers, numbers, booleans, text; UUIDs as text); a nullable column
    /// also takes `null`. A hook created through the API has them set before
    /// [`fill_new`](Self::fill_new) runs, which may read them. Default: none, and the API is
    /// unchanged.
    fn api_columns() -> Vec<Self::Column> {
        Vec::new()
    }
    /// Checks the values of [`api_columns`](Self::api_columns) that a `POST` or `PATCH` of the
    /// subscription API sets (by column name, as sent, each of the column's JSON type) before
    /// anything is written; `owner` is the caller's, and `db` the engine's connection, to read
    /// what a check needs (is project 2 the caller's?). `Ok(Err(…))` refuses a field: `422`
    /// naming it; `Err(…)`, a failed read, answers `500`. Default: every value of the right type is
    /// accepted.
    fn check_api_fields(
        db: &DatabaseConnection,
        fields: &serde_json::Map<String, serde_json::Value>,
        owner: &Owner,
    ) -> impl Future<Output = Result<Result<(), FieldError>, DbErr>> + Send {
        let _ = (db, fields, owner);
        async { Ok(Ok(())) }
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

/// A value of one of the application's own hook fields that it refuses
/// ([`HookEntity::check_api_fields`]): the subscription API answers `422` naming the field.
///
/// ```
/// let refused = rest_hooks::hook::FieldError::new("project_id", "no project 9 in this organisation");
/// assert_eq!(refused.to_string(), "`project_id`: no project 9 in this organisation");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct FieldError {
    /// The field at fault, as the request names it.
    pub field: String,
    /// What is wrong, for the caller.
    pub message: String,
}

impl FieldError {
    /// Field `field` is refused because of `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// The JSON type of an API field, from its column's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldKind {
    Integer,
    Number,
    Boolean,
    String,
    Uuid,
}

impl FieldKind {
    /// The OpenAPI type name.
    #[cfg_attr(not(feature = "api"), allow(dead_code))]
    pub(crate) fn json_type(self) -> &'static str {
        match self {
            FieldKind::Integer => "integer",
            FieldKind::Number => "number",
            FieldKind::Boolean => "boolean",
            FieldKind::String | FieldKind::Uuid => "string",
        }
    }
}

/// One of [`HookEntity::api_columns`], as the API reads and writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiField {
    /// The column's name, the field's name in requests and answers.
    pub(crate) name: &'static str,
    pub(crate) kind: FieldKind,
    pub(crate) nullable: bool,
}

/// The API fields of `columns`, or what is wrong with one: a column type the API cannot carry.
pub(crate) fn api_fields<C: ColumnTrait>(columns: &[C]) -> Result<Vec<ApiField>, String> {
    columns
        .iter()
        .map(|column| {
            let def = column.def();
            let kind = match def.get_column_type() {
                ColumnType::TinyInteger
                | ColumnType::SmallInteger
                | ColumnType::Integer
                | ColumnType::BigInteger
                | ColumnType::TinyUnsigned
                | ColumnType::SmallUnsigned
                | ColumnType::Unsigned
                | ColumnType::BigUnsigned => FieldKind::Integer,
                ColumnType::Float | ColumnType::Double => FieldKind::Number,
                ColumnType::Boolean => FieldKind::Boolean,
                ColumnType::Char(_) | ColumnType::String(_) | ColumnType::Text => FieldKind::String,
                ColumnType::Uuid => FieldKind::Uuid,
                other => {
                    return Err(format!(
                        "column `{}` is a {other:?} column; the API carries integer, number, boolean, text and UUID columns",
                        column.as_str()
                    ));
                }
            };
            Ok(ApiField { name: column.as_str(), kind, nullable: def.is_null() })
        })
        .collect()
}

/// `json` as a value of `column`, or why it cannot be one (for the caller: the field's name is
/// said beside it).
pub(crate) fn api_field_value<C: ColumnTrait>(column: C, json: &serde_json::Value) -> Result<Value, String> {
    use serde_json::Value as Json;
    let def = column.def();
    let ty = def.get_column_type();
    if json.is_null() {
        if !def.is_null() {
            return Err("may not be null".to_owned());
        }
        return Ok(match ty {
            ColumnType::TinyInteger => Value::TinyInt(None),
            ColumnType::SmallInteger => Value::SmallInt(None),
            ColumnType::Integer => Value::Int(None),
            ColumnType::BigInteger => Value::BigInt(None),
            ColumnType::TinyUnsigned => Value::TinyUnsigned(None),
            ColumnType::SmallUnsigned => Value::SmallUnsigned(None),
            ColumnType::Unsigned => Value::Unsigned(None),
            ColumnType::BigUnsigned => Value::BigUnsigned(None),
            ColumnType::Float => Value::Float(None),
            ColumnType::Double => Value::Double(None),
            ColumnType::Boolean => Value::Bool(None),
            ColumnType::Uuid => Value::Uuid(None),
            _ => Value::String(None),
        });
    }
    let out_of_range = || "is out of range".to_owned();
    let integer = || json.as_i64().ok_or_else(|| "must be an integer".to_owned());
    let unsigned = || json.as_u64().ok_or_else(|| "must be an integer of 0 or more".to_owned());
    Ok(match ty {
        ColumnType::TinyInteger => Value::from(i8::try_from(integer()?).map_err(|_| out_of_range())?),
        ColumnType::SmallInteger => Value::from(i16::try_from(integer()?).map_err(|_| out_of_range())?),
        ColumnType::Integer => Value::from(i32::try_from(integer()?).map_err(|_| out_of_range())?),
        ColumnType::BigInteger => Value::from(integer()?),
        ColumnType::TinyUnsigned => Value::from(u8::try_from(unsigned()?).map_err(|_| out_of_range())?),
        ColumnType::SmallUnsigned => Value::from(u16::try_from(unsigned()?).map_err(|_| out_of_range())?),
        ColumnType::Unsigned => Value::from(u32::try_from(unsigned()?).map_err(|_| out_of_range())?),
        ColumnType::BigUnsigned => Value::from(unsigned()?),
        #[allow(clippy::cast_possible_truncation)]
        ColumnType::Float => Value::from(json.as_f64().ok_or_else(|| "must be a number".to_owned())? as f32),
        ColumnType::Double => Value::from(json.as_f64().ok_or_else(|| "must be a number".to_owned())?),
        ColumnType::Boolean => Value::from(json.as_bool().ok_or_else(|| "must be true or false".to_owned())?),
        ColumnType::Uuid => match json {
            Json::String(text) => Value::from(text.parse::<Uuid>().map_err(|_| "must be a UUID".to_owned())?),
            _ => return Err("must be a UUID".to_owned()),
        },
        _ => match json {
            Json::String(text) => Value::from(text.as_str()),
            _ => return Err("must be a string".to_owned()),
        },
    })
}

/// A column's value as the API shows it.
pub(crate) fn api_field_json(value: Value) -> serde_json::Value {
    sea_orm::sea_query::value::sea_value_to_json_value(&value)
}

/// What the engine needs of a row of entity `E`: [`HookEntity::to_target`], with the secrets of
/// [`HookEntity::secrets`] when `to_target` left them empty. What a [`Finder`](crate::Finder) of
/// the application's own returns for the rows it reads, so that their deliveries are signed as the
/// engine's own finder signs them.
///
/// ```
/// use rest_hooks::{Event, Finder, HookEntity, HookId, HookTarget};
/// use sea_orm::{DatabaseTransaction, DbErr, EntityTrait};
///
/// /// Every hook of the crate's table, whatever the event.
/// struct Everyone;
///
/// #[async_trait::async_trait]
/// impl Finder for Everyone {
///     async fn find(&self, db: &DatabaseTransaction, _event: &Event) -> Result<Vec<HookTarget>, DbErr> {
///         let rows = rest_hooks::hook::Entity::find().all(db).await?;
///         Ok(rows.into_iter().map(rest_hooks::hook::hook_target::<rest_hooks::hook::Entity>).collect())
///     }
///
///     async fn find_hook(&self, db: &DatabaseTransaction, id: &HookId) -> Result<Option<HookTarget>, DbErr> {
///         rest_hooks::hook::find_hook::<rest_hooks::hook::Entity, _>(db, id).await
///     }
/// }
/// ```
pub fn hook_target<E: HookEntity>(hook: E::Model) -> HookTarget {
    let secrets = E::secrets(&hook);
    let mut target = E::to_target(hook);
    if target.secrets.is_empty() {
        target.secrets = secrets;
    }
    target
}

/// Hook `id` of entity `E`, as [`hook_target`] gives it, or `None` when there is none: what a
/// [`Finder::find_hook`](crate::Finder::find_hook) of the application's own returns, so that
/// deliveries taken over from a process that died are signed with the hook's current secrets. An
/// id that is not a valid key for `E`'s primary key column is an error naming it.
pub async fn find_hook<E: HookEntity, C: ConnectionTrait>(db: &C, id: &HookId) -> Result<Option<HookTarget>, DbErr> {
    let Some(key) = <E::PrimaryKey as sea_orm::Iterable>::iter().next() else { return Ok(None) };
    let column = sea_orm::PrimaryKeyToColumn::into_column(key);
    let value = column_value(column, "hook id", &id.to_string())?;
    Ok(E::find().filter(column.eq(value)).one(db).await?.map(hook_target::<E>))
}

impl HookEntity for Entity {
    fn event_column() -> Column {
        Column::Event
    }

    fn owner_column() -> Column {
        Column::Owner
    }

    fn to_target(hook: Model) -> HookTarget {
        HookTarget::new(hook.id, hook.event, hook.target).with_owner(hook.owner.map(Owner::from))
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
    Ok(match KeyForm::of(column) {
        KeyForm::Integer => Value::from(text.parse::<i64>().map_err(|_| mismatch("integer"))?),
        KeyForm::Unsigned => Value::from(text.parse::<u64>().map_err(|_| mismatch("unsigned integer"))?),
        KeyForm::Uuid => Value::from(text.parse::<Uuid>().map_err(|_| mismatch("UUID"))?),
        KeyForm::Text => Value::from(text),
    })
}

/// The text a key column takes: what [`column_value`] reads for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyForm {
    /// A signed integer.
    Integer,
    /// An unsigned integer.
    Unsigned,
    /// A UUID.
    Uuid,
    /// Any text.
    Text,
}

impl KeyForm {
    /// The form of `column`'s keys.
    pub(crate) fn of<C: ColumnTrait>(column: C) -> Self {
        match column.def().get_column_type() {
            ColumnType::TinyInteger | ColumnType::SmallInteger | ColumnType::Integer | ColumnType::BigInteger => {
                Self::Integer
            }
            ColumnType::TinyUnsigned | ColumnType::SmallUnsigned | ColumnType::Unsigned | ColumnType::BigUnsigned => {
                Self::Unsigned
            }
            ColumnType::Uuid => Self::Uuid,
            _ => Self::Text,
        }
    }
}

/// The columns of a hook entity that hold each hook's own secrets ([`HookEntity::secret_columns`]).
///
/// ```
/// use rest_hooks::hook::{Column, SecretColumns};
/// let columns = SecretColumns::new(Column::Secret).with_previous(Column::PreviousSecret, Column::PreviousSecretUntil);
/// assert!(columns.previous.is_some());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecretColumns<C> {
    /// The current secret: a nullable text column of at least 128 characters, read as `whsec_…`
    /// (an `Option<Secret>` or `Option<String>` field).
    pub secret: C,
    /// The previous secret and until when it still signs (a nullable text column and an
    /// `Option<DateTimeUtc>` one), for a [rotation](crate::Hooks::rotate_secret) with a grace period.
    /// Without them a rotation replaces the secret at once.
    pub previous: Option<(C, C)>,
}

impl<C> SecretColumns<C> {
    /// The current secret in `secret`, no previous one. Default of `previous`: none.
    pub fn new(secret: C) -> Self {
        Self { secret, previous: None }
    }

    /// The previous secret in `secret` and the end of its grace period in `until`.
    pub fn with_previous(mut self, secret: C, until: C) -> Self {
        self.previous = Some((secret, until));
        self
    }
}

/// The secrets stored in `hook`'s [secret columns](HookEntity::secret_columns), the current one
/// first; the previous one only until its grace period ends. Text that is not a secret is skipped.
pub(crate) fn stored_secrets<E: HookEntity>(hook: &E::Model) -> Vec<Secret> {
    let Some(columns) = E::secret_columns() else { return Vec::new() };
    let previous = columns.previous.and_then(|(secret, until)| {
        let until = match hook.get(until) {
            Value::ChronoDateTimeUtc(Some(until)) => until,
            Value::ChronoDateTimeWithTimeZone(Some(until)) => until.to_utc(),
            _ => return None,
        };
        (until > chrono::Utc::now()).then(|| hook.get(secret))
    });
    [Some(hook.get(columns.secret)), previous]
        .into_iter()
        .flatten()
        .filter_map(|value| match value {
            Value::String(Some(text)) => Secret::parse(&text).ok(),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_separator_and_formatting_character_is_refused() {
        // Unicode's categories Zs, Zl and Zp, whole.
        let separators = ['\u{20}', '\u{A0}', '\u{1680}', '\u{202F}', '\u{205F}', '\u{3000}', '\u{2028}', '\u{2029}'];
        for c in separators.into_iter().chain('\u{2000}'..='\u{200A}') {
            assert_eq!(unseen_kind(c), Some("whitespace"), "U+{:04X}", u32::from(c));
        }
        for c in ['\u{AD}', '\u{180E}', '\u{200B}', '\u{200D}', '\u{202E}', '\u{2066}', '\u{FEFF}', '\u{E0041}'] {
            assert_eq!(unseen_kind(c), Some("invisible formatting"), "U+{:04X}", u32::from(c));
        }
        for c in ['a', 'é', '-', '%', '~', '\u{2010}', '\u{FF0E}', '日'] {
            assert_eq!(unseen_kind(c), None, "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn port_0_is_refused() {
        let refused = check_target("http://example.com:0/").unwrap_err().to_string();
        assert!(refused.ends_with("its port is 0, which no server listens on"), "{refused}");
        assert!(check_target("http://example.com:1/").is_ok());
    }
}
