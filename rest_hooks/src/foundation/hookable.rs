//! The [`Hookable`] trait: what the engine needs to know about a model to record its events.
//!
//! `#[derive(Hookable)]` implements it from the entity's fields and attributes; the attributes (not
//! hand-written impls) are the way to customise it, so the generated `ActiveModelBehavior` and the
//! trait always agree.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;

use sea_orm::{ConnectionTrait, DbErr};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A SeaORM model whose changes can fire events. Implement it with `#[derive(Hookable)]`.
///
/// ```
/// use rest_hooks::Hookable;
/// use sea_orm::entity::prelude::*;
///
/// #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
/// #[sea_orm(table_name = "book")]
/// #[hookable(model = "bookstore.Book", owner = "user_id")]
/// pub struct Model {
///     #[sea_orm(primary_key)]
///     pub id: i32,
///     pub user_id: i32,
///     pub title: String,
/// }
///
/// #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// pub enum Relation {}
///
/// assert_eq!(<Model as Hookable>::MODEL, "bookstore.Book");
/// ```
pub trait Hookable: Send + Sync + 'static {
    /// The model label used in event specs, such as `bookstore.Book`.
    const MODEL: &'static str;
    /// Whether instances have an owner. Events of unowned models go to the hooks of every owner.
    const OWNED: bool;
    /// Whether [`hook_data`](Self::hook_data) is the entity's own serializer rather than the default
    /// shape (a global serializer then does not apply).
    const CUSTOM_SERIALIZER: bool;

    /// The `data` sent for this instance, captured when the change is recorded. By default
    /// `{"model": "bookstore.book", "pk": 1, "fields": {…}}` without skipped fields; with
    /// `serialize_with`, that function's value. With `serialize_with_db`, which needs the database,
    /// it is the default shape, and [`hook_data_with_db`](Self::hook_data_with_db) gives the data
    /// sent.
    fn hook_data(&self) -> Value;

    /// The `data` sent for this instance, as recording reads it: `db` is the connection (or
    /// transaction) of the save, for data reached through a relation. With
    /// `#[hookable(serialize_with_db = path)]`, that async fn's value, whose error fails the
    /// save; otherwise [`hook_data`](Self::hook_data), without a query.
    fn hook_data_with_db<'a, C: ConnectionTrait>(
        &'a self,
        db: &'a C,
    ) -> impl Future<Output = Result<Value, DbErr>> + Send + 'a {
        let _ = db;
        std::future::ready(Ok(self.hook_data()))
    }

    /// The instance's owner. `db` is the connection (or transaction) of the save, for owners reached
    /// through a relation.
    fn hook_owner<'a, C: ConnectionTrait>(
        &'a self,
        db: &'a C,
    ) -> impl Future<Output = Result<Option<Owner>, DbErr>> + Send + 'a;

    /// Whether an update reads the row first to send the changed fields' previous values
    /// (`#[hookable(previous_values)]`).
    #[doc(hidden)]
    const PREVIOUS_VALUES: bool = false;

    /// The value of the field serialized as `name`, as `data` serializes it; `None` for a skipped
    /// or unknown field.
    #[doc(hidden)]
    fn __field_value(&self, name: &str) -> Option<Value> {
        let _ = name;
        None
    }

    /// The primary key as text, which pairs an update's `before_save` with its `after_save`.
    #[doc(hidden)]
    fn __key(&self) -> String {
        String::new()
    }
}

/// What the derive tells about an entity's `ActiveModel`: which fields an update sets, and its key.
#[doc(hidden)]
pub trait HookableActiveModel {
    /// The serialized names of the fields set (`ActiveValue::Set`), skipped fields and the primary
    /// key excepted.
    fn __set_fields(&self) -> Vec<&'static str>;

    /// The primary key as text, as [`Hookable::__key`] writes it; `None` while a key field is not
    /// set.
    fn __key(&self) -> Option<String>;
}

/// The text form of a primary key, from its fields' values in declaration order.
#[doc(hidden)]
pub fn key_text(values: Vec<Value>) -> String {
    match <[Value; 1]>::try_from(values) {
        Ok([value]) => value.to_string(),
        Err(values) => Value::Array(values).to_string(),
    }
}

/// The key of a hook's owner: a user, an organisation, a tenant.
///
/// Integer and UUID keys are kept in their text form; a custom hook entity with a typed owner
/// column gets them back typed (see [`HookEntity`](crate::HookEntity)).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Owner(String);

impl Owner {
    /// The owner key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A field that can serve as an owner key: an integer, a UUID or a string, or an `Option` of one.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an owner key",
    label = "the `owner` field must be an integer, a UUID or a string, or an `Option` of one",
    note = "for an owner of another type, or one reached through a relation, use `owner_with = path::to::fn`"
)]
pub trait IntoOwner {
    /// The owner, or `None` when the field holds none.
    fn to_owner(&self) -> Option<Owner>;
}

macro_rules! owner_keys {
    ($($ty:ty),*) => {$(
        impl From<$ty> for Owner {
            fn from(key: $ty) -> Self {
                Self(key.to_string())
            }
        }

        impl From<$ty> for Audience {
            fn from(key: $ty) -> Self {
                Self::Owner(Owner::from(key))
            }
        }

        impl IntoOwner for $ty {
            fn to_owner(&self) -> Option<Owner> {
                Some(Owner(self.to_string()))
            }
        }

        impl IntoOwner for Option<$ty> {
            fn to_owner(&self) -> Option<Owner> {
                self.as_ref().map(|key| Owner(key.to_string()))
            }
        }
    )*};
}
owner_keys!(i16, i32, i64, u16, u32, u64, uuid::Uuid, String, &str);

impl From<Owner> for Audience {
    fn from(owner: Owner) -> Self {
        Self::Owner(owner)
    }
}

/// Which owners' hooks an event goes to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Audience {
    /// The hooks of this owner.
    Owner(Owner),
    /// Hooks that belong to no owner (the instance's owner field was empty).
    Unowned,
    /// The hooks of every owner.
    All,
}

impl Audience {
    /// The hooks of `owner`.
    pub fn owner(owner: impl Into<Owner>) -> Self {
        Self::Owner(owner.into())
    }
}

/// A model label declared by a `#[derive(Hookable)]` entity, with its fields' serialized names;
/// collected so that the event map can spot labels that no entity declares, and field lists that
/// name no field an update can change.
#[doc(hidden)]
#[derive(Debug)]
pub struct ModelRegistration {
    label: &'static str,
    fields: &'static [&'static str],
    skipped: &'static [&'static str],
    actions: &'static [&'static str],
}

impl ModelRegistration {
    #[doc(hidden)]
    pub const fn new(
        label: &'static str,
        fields: &'static [&'static str],
        skipped: &'static [&'static str],
        actions: &'static [&'static str],
    ) -> Self {
        Self { label, fields, skipped, actions }
    }
}

inventory::collect!(ModelRegistration);

/// The fields of a declared model, by serialized name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DeclaredFields {
    /// The fields an update may change and report: neither skipped nor the primary key.
    pub(crate) fields: &'static [&'static str],
    /// The fields `#[hookable(skip)]` leaves out.
    pub(crate) skipped: &'static [&'static str],
    /// The custom actions `#[hookable(actions(...))]` declares.
    pub(crate) actions: &'static [&'static str],
}

/// Every model label declared by a Hookable entity linked into this program, with its fields.
pub(crate) fn declared_models() -> HashMap<&'static str, DeclaredFields> {
    let mut declared = HashMap::new();
    for registration in inventory::iter::<ModelRegistration> {
        let fields = DeclaredFields {
            fields: registration.fields,
            skipped: registration.skipped,
            actions: registration.actions,
        };
        declared.entry(registration.label).or_insert(fields);
    }
    declared
}

/// The default `data` shape, Django's serialization of one instance.
#[doc(hidden)]
pub fn default_data(model: &str, pk: Value, fields: Map<String, Value>) -> Value {
    let mut data = Map::with_capacity(3);
    data.insert("model".to_owned(), Value::String(model.to_ascii_lowercase()));
    data.insert("pk".to_owned(), pk);
    data.insert("fields".to_owned(), Value::Object(fields));
    Value::Object(data)
}

/// Serializes one field; a value serde cannot express in JSON becomes `null`.
#[doc(hidden)]
pub fn field_value<T: Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
