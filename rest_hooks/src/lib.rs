//! REST hooks for SeaORM applications: your users subscribe URLs to named events, and every model
//! change, custom action or raw event reaches the matching subscribers as a JSON POST, tied to the
//! database commit.
//!
//! # A tour
//!
//! * [`#[derive(Hookable)]`](derive@Hookable) on an entity's `Model` generates its
//!   `ActiveModelBehavior`: saves and deletes record `created`, `updated` and `deleted`.
//! * The [event map](EventMap) says which action of which model fires which event:
//!   `"book.added" → "bookstore.Book.created"`; a trailing `+` sends to every owner's hooks.
//! * Recording writes one row into an outbox table through the `db` the save used, so an event
//!   commits or rolls back with the change that caused it. The [`Engine`]'s registry actor
//!   dispatches committed rows: it [finds](Finder) the hooks, renders a body per hook and records a
//!   delivery for each; delivery actors POST them ([`Deliverer`]) and record the outcome.
//! * [Hooks](hook) live in the crate's table or in your own entity ([`HookEntity`]).
//! * Custom actions and raw events: [`Engine::action`], [`Engine::raw`]; writes that skip SeaORM's
//!   hooks: [`Engine::emit`].
//! * Every delivery is [signed](signing) per Standard Webhooks with the hook's secret; receivers
//!   check it with a [`Verifier`](signing::Verifier). Targets pass the [SSRF guard](net) first:
//!   development receivers on 127.0.0.1 need [`Builder::allow_targets`].
//! * With the `api` feature, `api::HooksApi` is the subscription REST API: an owner-scoped axum
//!   router through which your users' integrations subscribe and unsubscribe themselves.
//! * The [`guide`] is the manual: one page per topic (the event map, actions, hook entities,
//!   signing, delivery and order, the API, deployment, operating it: metrics and alerts).
//!
//! ```no_run
//! use rest_hooks::Engine;
//! use sea_orm::{ActiveModelTrait, Set, TransactionTrait};
//!
//! mod book {
//!     use rest_hooks::Hookable;
//!     use sea_orm::entity::prelude::*;
//!
//!     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
//!     #[sea_orm(table_name = "book")]
//!     #[hookable(model = "bookstore.Book", owner = "user_id")]
//!     pub struct Model {
//!         #[sea_orm(primary_key)]
//!         pub id: i32,
//!         pub user_id: i32,
//!         pub title: String,
//!     }
//!
//!     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//!     pub enum Relation {}
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let db = sea_orm::Database::connect("sqlite://bookstore.db?mode=rwc").await?;
//! rest_hooks::store::setup(&db).await?;
//! let engine = Engine::builder()
//!     .event("book.added", "bookstore.Book.created")
//!     .start(db.clone())?;
//! engine.subscribe(&db, Some(1.into()), "book.added", "https://example.com/hooks").await?;
//! // Inside a transaction the event commits or rolls back with the book.
//! let txn = db.begin().await?;
//! book::ActiveModel { user_id: Set(1), title: Set("The Two Towers".into()), ..Default::default() }
//!     .insert(&txn)
//!     .await?;
//! txn.commit().await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

// The layers (`layers.txt` orders them): a module imports from its own layer or a lower one only,
// as the test `layers` checks.
mod actors;
#[cfg(feature = "api")]
pub mod api;
mod engine;
mod foundation;
pub mod guide;
mod pipeline;
mod runtime;

pub use engine::own_hooks;
#[cfg(feature = "migration")]
pub use foundation::migration;
pub use foundation::{delivery, hook, net, retry, signing, store};

pub use engine::Engine;
pub use engine::builder::Builder;
pub use engine::own_hooks::{HookEntityError, HookWriteError, Hooks};
pub use engine::ping::TestDelivery;
pub use engine::record::{ActionEvent, RawEvent, prepare_delete, prepare_save, record_delete, record_save};
pub use foundation::changes::Changes;
pub use foundation::delivery::Disabled;
pub use foundation::delivery::{Deliverer, HttpDeliverer, Request, Response, Sent, install_crypto_provider};
pub use foundation::error::{BuildError, DeliveryError, RecordError, ReplayError, SubscribeError, ValidationError};
pub use foundation::event::{Action, Event};
pub use foundation::event_map::{EventInfo, EventMap, EventMapBuilder, EventMapError, EventsConfig, Mapping};
pub use foundation::finder::{EntityFinder, Finder};
pub use foundation::hook::{HookEntity, HookId, HookTarget, SecretColumns};
pub use foundation::hookable::{Audience, Hookable, IntoOwner, Owner};
pub use foundation::render::RenderFn;
pub use foundation::retry::{RetryPolicy, Verdict};
pub use foundation::store::transitions::Purged;
/// Derives [`Hookable`](trait@Hookable) for an entity's `Model` and generates the entity's
/// `ActiveModelBehavior`: `insert` records `created`, `update` records `updated`, `delete` records
/// `deleted`, each for the [event map](guide::event_map) to turn into events.
///
/// So do not also write SeaORM's usual `impl ActiveModelBehavior for ActiveModel {}`: the two
/// implementations conflict (rustc's E0119). An entity with a behaviour of its own says
/// `#[hookable(custom_behavior)]` and calls the recording functions from it (see below).
///
/// ```
/// mod book {
///     use rest_hooks::Hookable;
///     use sea_orm::entity::prelude::*;
///
///     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
///     #[sea_orm(table_name = "book")]
///     #[hookable(model = "bookstore.Book", owner = "user_id")]
///     pub struct Model {
///         #[sea_orm(primary_key)]
///         pub id: i32,
///         pub user_id: i32,
///         pub title: String,
///         #[hookable(skip)]
///         pub internal_notes: String,
///     }
///
///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
///     pub enum Relation {}
/// }
/// ```
///
/// # Attributes
///
/// On the struct, `#[hookable(…)]` takes:
///
/// | key | meaning |
/// |---|---|
/// | `model = "app.Model"` | the label used in the event map: two or more dot-separated parts, each a letter or `_` followed by letters, digits, `_` or `-`; default: the crate name and the table name in UpperCamelCase (`bookstore.Book` for table `book` in crate `bookstore`) |
/// | `owner = "field"` | the field holding the owner key: an integer, a UUID or a string, or an `Option` of one |
/// | `owner_with = path` | an `async fn(&Model, &C) -> Result<Option<Owner>, DbErr>` for an owner reached through a relation; `C: ConnectionTrait` is the save's connection or transaction; the path may be written bare or in a string |
/// | `all_owners` | the model has no owner: its events reach the hooks of every owner (and hooks with no owner) |
/// | `serialize_with = path` | a `fn(&Model) -> serde_json::Value` that shapes `data` instead of the default |
/// | `serialize_with_db = path` | an `async fn(&Model, &C) -> Result<serde_json::Value, DbErr>` that shapes `data` from the database too, such as a related row; `C: ConnectionTrait` is the save's connection or transaction, and an error fails the save. Not with `serialize_with` |
/// | `previous_values` | an update reads the row first (one `SELECT` by primary key, through the save's connection) so that the `updated` body's `previous` holds the changed fields' previous values, and a field set to the value it had is not `changed`; every field that is not skipped must then be `Serialize`, also with `serialize_with` |
/// | `actions(read, archived)` | the model's custom actions, fired with [`Engine::action`]: the event map refuses at start an action the model does not declare (`"bookstore.Book.upated"`: did you mean `updated`?) |
/// | `custom_behavior` | generate no `ActiveModelBehavior`: the entity has its own and calls [`prepare_save`], [`record_save`], [`prepare_delete`] and [`record_delete`] from it |
/// | `crate = "path"` | the path generated code names this crate by, for an application that re-exports it under another name (`crate = "my_reexport::rest_hooks"`); default: `::rest_hooks` |
///
/// On a field, `#[hookable(skip)]` leaves it out of the default `data`; with `serialize_with` or
/// `serialize_with_db` the serializer chooses the fields, and `skip` is an error.
///
/// The default `data` is Django's serialization of the instance, `{"model": "bookstore.book", "pk": 1,
/// "fields": {…}}`, without skipped fields; it is captured when the change is recorded, not when it
/// is delivered. How the body around it is chosen is on the [delivery](guide::delivery) page.
///
/// # Updates
///
/// The body of an `updated` event says what the update changed: `"changed": ["title"]`, the
/// serialized names of the fields the `ActiveModel` set, skipped fields and the primary key never
/// among them. With `previous_values`, also `"previous": {"title": "Old title"}`, and only the
/// fields whose value differs from the row's before the update are changed:
///
/// ```
/// mod book {
///     use sea_orm::entity::prelude::*;
///
///     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, rest_hooks::Hookable)]
///     #[sea_orm(table_name = "book")]
///     #[hookable(model = "bookstore.Book", owner = "user_id", previous_values)]
///     pub struct Model {
///         #[sea_orm(primary_key)]
///         pub id: i32,
///         pub user_id: i32,
///         pub title: String,
///     }
///
///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
///     pub enum Relation {}
/// }
/// ```
///
/// The generated `before_save` captures the changes ([`prepare_save`]) and `after_save` records
/// them; the [delivery](guide::delivery#what-an-update-changed) page has the body and the limits,
/// the [event map](guide::event_map#events-on-given-fields) events on given fields.
///
/// Keys may be spread over several `#[hookable(…)]` attributes; each is given once. Every mistake
/// is a compile error at the attribute that made it, all of them in one compile. SeaORM 2's
/// generated `ModelEx` is skipped.
///
/// # Owners
///
/// Every model says whose it is: `owner`, `owner_with`, or `all_owners` for a model whose every row
/// every owner may see. Exactly one is required: a model with none of them is a compile error naming
/// the choices, so that one forgotten attribute cannot send one tenant's rows to every other tenant.
///
/// An owner reached through a relation, and a body of the model's own:
///
/// ```
/// # mod book {
/// #     use sea_orm::entity::prelude::*;
/// #     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, rest_hooks::Hookable)]
/// #     #[sea_orm(table_name = "book")]
/// #     #[hookable(model = "bookstore.Book", owner = "user_id")]
/// #     pub struct Model { #[sea_orm(primary_key)] pub id: i32, pub user_id: i32 }
/// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// #     pub enum Relation {}
/// # }
/// mod chapter {
///     use rest_hooks::{Hookable, Owner};
///     use sea_orm::entity::prelude::*;
///     use serde_json::{Value, json};
///
///     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
///     #[sea_orm(table_name = "chapter")]
///     #[hookable(model = "bookstore.Chapter", owner_with = book_owner, serialize_with = shape)]
///     pub struct Model {
///         #[sea_orm(primary_key)]
///         pub id: i32,
///         pub book_id: i32,
///         pub title: String,
///     }
///
///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
///     pub enum Relation {}
///
///     // The chapter's owner is its book's.
///     pub async fn book_owner<C: ConnectionTrait>(chapter: &Model, db: &C) -> Result<Option<Owner>, DbErr> {
///         let book = super::book::Entity::find_by_id(chapter.book_id).one(db).await?;
///         Ok(book.map(|book| book.user_id.into()))
///     }
///
///     pub fn shape(chapter: &Model) -> Value {
///         json!({ "chapter": chapter.id, "book": chapter.book_id, "title": chapter.title })
///     }
/// }
/// # fn main() {}
/// ```
///
/// # Deletes
///
/// A delete through an `ActiveModel` that holds only the primary key loads the row first (one
/// `SELECT`, and only when `deleted` is mapped), so the `deleted` event carries the instance's data.
///
/// # An `ActiveModelBehavior` of your own
///
/// `serialize_with_db` follows relations, as django-rest-hooks' `serialize_hook` does. It reads
/// through the connection the save runs on, so inside a transaction it sees the rows saved before
/// it in that transaction. Custom actions and `Engine::emit` call it with the connection they are
/// given; a delete calls it after the row is gone, so read related rows, not the model's own.
///
/// ```
/// mod user {
///     use sea_orm::entity::prelude::*;
///
///     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
///     #[sea_orm(table_name = "user")]
///     pub struct Model {
///         #[sea_orm(primary_key)]
///         pub id: i32,
///         pub username: String,
///     }
///
///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
///     pub enum Relation {}
///
///     impl ActiveModelBehavior for ActiveModel {}
/// }
///
/// mod comment {
///     use rest_hooks::Hookable;
///     use sea_orm::entity::prelude::*;
///     use serde_json::{Value, json};
///
///     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
///     #[sea_orm(table_name = "comment")]
///     #[hookable(model = "blog.Comment", owner = "user_id", serialize_with_db = with_author)]
///     pub struct Model {
///         #[sea_orm(primary_key)]
///         pub id: i32,
///         pub user_id: i32,
///         pub text: String,
///     }
///
///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
///     pub enum Relation {}
///
///     /// The comment and its author's name, read through the save's connection.
///     async fn with_author<C: ConnectionTrait>(comment: &Model, db: &C) -> Result<Value, DbErr> {
///         let user = super::user::Entity::find_by_id(comment.user_id).one(db).await?;
///         let user = user.ok_or_else(|| DbErr::RecordNotFound(format!("user {}", comment.user_id)))?;
///         Ok(json!({"id": comment.id, "text": comment.text, "username": user.username}))
///     }
/// }
/// # fn main() {}
/// ```
///
/// The derive writes `impl ActiveModelBehavior for ActiveModel`; a hand-written one beside it fails
/// with E0119 (conflicting implementations). Say `custom_behavior` instead and call the recording
/// functions from your own:
///
/// ```
/// mod tag {
///     use rest_hooks::Hookable;
///     use sea_orm::entity::prelude::*;
///
///     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
///     #[sea_orm(table_name = "tag")]
///     #[hookable(model = "bookstore.Tag", all_owners, custom_behavior)]
///     pub struct Model {
///         #[sea_orm(primary_key)]
///         pub id: i32,
///         pub name: String,
///     }
///
///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
///     pub enum Relation {}
///
///     #[async_trait::async_trait]
///     impl ActiveModelBehavior for ActiveModel {
///         async fn before_save<C: ConnectionTrait>(self, db: &C, insert: bool) -> Result<Self, DbErr> {
///             // Last, after any change of your own to `self`: it captures what the update sets.
///             rest_hooks::prepare_save(self, db, insert).await
///         }
///
///         async fn after_save<C: ConnectionTrait>(model: Model, db: &C, insert: bool) -> Result<Model, DbErr> {
///             rest_hooks::record_save(&model, db, insert).await?;
///             Ok(model)
///         }
///
///         async fn before_delete<C: ConnectionTrait>(self, db: &C) -> Result<Self, DbErr> {
///             rest_hooks::prepare_delete(self, db).await
///         }
///
///         async fn after_delete<C: ConnectionTrait>(self, db: &C) -> Result<Self, DbErr> {
///             rest_hooks::record_delete(&self, db).await?;
///             Ok(self)
///         }
///     }
/// }
/// ```
///
/// # Common mistakes
///
/// A model that names no owner:
///
/// ```compile_fail
/// mod invoice {
///     use rest_hooks::Hookable;
///     use sea_orm::entity::prelude::*;
///
///     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
///     #[sea_orm(table_name = "invoice")]
///     #[hookable(model = "billing.Invoice")]
///     pub struct Model { // error: `Model` names no owner, so its events would reach every owner's hooks; …
///         #[sea_orm(primary_key)]
///         pub id: i32,
///         pub customer_id: i32,
///     }
///
///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
///     pub enum Relation {}
/// }
/// ```
///
/// An owner field that does not exist:
///
/// ```compile_fail
/// mod book {
///     use rest_hooks::Hookable;
///     use sea_orm::entity::prelude::*;
///
///     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
///     #[sea_orm(table_name = "book")]
///     #[hookable(model = "bookstore.Book", owner = "usr_id")] // error: no field named `usr_id`; the fields are `id`, `user_id`
///     pub struct Model {
///         #[sea_orm(primary_key)]
///         pub id: i32,
///         pub user_id: i32,
///     }
///
///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
///     pub enum Relation {}
/// }
/// ```
///
/// An owner and `all_owners` at once:
///
/// ```compile_fail
/// mod book {
///     use rest_hooks::Hookable;
///     use sea_orm::entity::prelude::*;
///
///     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
///     #[sea_orm(table_name = "book")]
///     #[hookable(model = "bookstore.Book", owner = "user_id", all_owners)] // error: `all_owners` says the model has no owner, …
///     pub struct Model {
///         #[sea_orm(primary_key)]
///         pub id: i32,
///         pub user_id: i32,
///     }
///
///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
///     pub enum Relation {}
/// }
/// ```
///
/// `skip` on the primary key, which is always sent as `pk`:
///
/// ```compile_fail
/// mod book {
///     use rest_hooks::Hookable;
///     use sea_orm::entity::prelude::*;
///
///     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
///     #[sea_orm(table_name = "book")]
///     #[hookable(model = "bookstore.Book", owner = "user_id")]
///     pub struct Model {
///         #[sea_orm(primary_key)]
///         #[hookable(skip)] // error: the primary key cannot be skipped: it is always sent as `pk`
///         pub id: i32,
///         pub user_id: i32,
///     }
///
///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
///     pub enum Relation {}
/// }
/// ```
///
/// `skip` beside `serialize_with`, whose function chooses the fields:
///
/// ```compile_fail
/// mod book {
///     use rest_hooks::Hookable;
///     use sea_orm::entity::prelude::*;
///
///     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
///     #[sea_orm(table_name = "book")]
///     #[hookable(model = "bookstore.Book", owner = "user_id", serialize_with = shape)]
///     pub struct Model {
///         #[sea_orm(primary_key)]
///         pub id: i32,
///         pub user_id: i32,
///         #[hookable(skip)] // error: `skip` has no effect with `serialize_with`: …
///         pub internal_notes: String,
///     }
///
///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
///     pub enum Relation {}
///
///     pub fn shape(book: &Model) -> serde_json::Value {
///         serde_json::json!({ "id": book.id })
///     }
/// }
/// ```
///
/// A misspelt key:
///
/// ```compile_fail
/// mod book {
///     use rest_hooks::Hookable;
///     use sea_orm::entity::prelude::*;
///
///     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
///     #[sea_orm(table_name = "book")]
///     #[hookable(model = "bookstore.Book", owner = "user_id", custom_behaviour)] // error: unknown key `custom_behaviour`; …
///     pub struct Model {
///         #[sea_orm(primary_key)]
///         pub id: i32,
///         pub user_id: i32,
///     }
///
///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
///     pub enum Relation {}
/// }
/// ```
///
/// An `ActiveModelBehavior` of your own without `custom_behavior`:
///
/// ```compile_fail,E0119
/// mod tag {
///     use rest_hooks::Hookable;
///     use sea_orm::entity::prelude::*;
///
///     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
///     #[sea_orm(table_name = "tag")]
///     #[hookable(model = "bookstore.Tag", all_owners)]
///     pub struct Model {
///         #[sea_orm(primary_key)]
///         pub id: i32,
///         pub name: String,
///     }
///
///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
///     pub enum Relation {}
///
///     impl ActiveModelBehavior for ActiveModel {} // error[E0119]: conflicting implementations
/// }
/// ```
pub use rest_hooks_derive::Hookable;

/// What the code generated by `#[derive(Hookable)]` names. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::engine::record::{prepare_delete, prepare_save, record_delete, record_save};
    pub use crate::foundation::hookable::{
        Hookable, HookableActiveModel, IntoOwner, ModelRegistration, Owner, default_data, field_value, key_text,
    };
    pub use async_trait::async_trait;
    pub use inventory;
    pub use sea_orm;
    pub use serde_json;
}

/// The README's code blocks, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
