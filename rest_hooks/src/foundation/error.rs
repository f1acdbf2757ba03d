//! The error types, one per boundary: starting the engine, recording an event, validating a hook,
//! delivering a request.

use std::sync::Arc;

use sea_orm::DbErr;

use crate::foundation::event_map::EventMapError;

/// The engine could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The event map was refused.
    #[error(transparent)]
    EventMap(#[from] EventMapError),
    /// `start` was called outside a tokio runtime.
    #[error("rest_hooks must be started inside a tokio runtime (e.g. from `#[tokio::main]` or `#[actix::main]`)")]
    NoRuntime,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
    /// The actor system thread could not be started.
    #[error("cannot start the actor system thread: {0}")]
    Thread(String),
    /// A setting was out of range.
    #[error("setting `{name}` {problem}")]
    Setting {
        /// The builder method.
        name: &'static str,
        /// What is wrong with the value.
        problem: String,
    },
    /// A table the engine needs cannot be read: it was not created, or not in this database
    /// ([`Builder::start_checked`](crate::Builder::start_checked),
    /// [`Engine::check_tables`](crate::Engine::check_tables)).
    #[error(
        "table `{table}` cannot be read ({cause}); create the engine's tables before starting it, with \
         `rest_hooks::store::setup(&db)` (`store::setup_store` when the hooks live in the application's own \
         entity) or the migrations `rest_hooks::migration::Migration::steps()` (`StoreMigration::steps()`)"
    )]
    MissingTable {
        /// The table's name.
        table: String,
        /// The database's answer.
        cause: String,
    },
    /// The engine's tables are at an older schema step than this code needs: apply the steps it
    /// lacks first; pending events are kept.
    #[error(
        "the engine's tables are at schema step {found} (rest_hooks {found_release}) and this code needs step \
         {needed} (rest_hooks {needed_release}); upgrade them with `rest_hooks::store::setup(&db)` \
         (`store::setup_store` when the hooks live in the application's own entity) or the migrations \
         `rest_hooks::migration::Migration::steps()` (`StoreMigration::steps()`); pending events are kept"
    )]
    StoreOutdated {
        /// The last step the database has.
        found: i32,
        /// The release that introduced it.
        found_release: &'static str,
        /// The step this code needs.
        needed: i32,
        /// The release that introduced it.
        needed_release: &'static str,
    },
    /// The engine's tables are at a newer schema step than this code knows: a newer release of
    /// rest_hooks upgraded them.
    #[error(
        "the engine's tables are at schema step {found}, newer than this code knows (step {known}, rest_hooks \
         {known_release}): a newer rest_hooks upgraded them; run that release or a later one"
    )]
    StoreNewer {
        /// The last step the database has.
        found: i32,
        /// The last step this code knows.
        known: i32,
        /// The release that introduced it.
        known_release: &'static str,
    },
}

/// An event could not be recorded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// No engine is running in this task or process.
    #[error(
        "no rest_hooks engine is running: call `rest_hooks::Engine::builder()…start(db)` at startup, \
         or run this code inside `engine.scope(…)`"
    )]
    NoEngine,
    /// A raw event name is not in the event map.
    #[error("unknown event `{event}`; known: {known}")]
    UnknownEvent {
        /// The name given.
        event: String,
        /// The names the map has.
        known: String,
    },
    /// A custom action maps to no event for this model.
    #[error("action `{action}` of `{model}` maps to no event; mapped actions: {mapped}")]
    UnmappedAction {
        /// The model label.
        model: String,
        /// The action given.
        action: String,
        /// The actions the map has for this model.
        mapped: String,
    },
    /// The outbox table is not in the database the save went to: the engine's tables were not
    /// created there.
    #[error(
        "cannot record event `{event}`: table `rest_hooks_outbox` is missing ({cause}); create the engine's \
         tables with `rest_hooks::store::setup(&db)` (`store::setup_store` when the hooks live in the \
         application's own entity) or the migrations `rest_hooks::migration::Migration::steps()` \
         (`StoreMigration::steps()`), and start the engine with `start_checked` to hear of it at startup"
    )]
    NoOutbox {
        /// The event the save recorded.
        event: String,
        /// The database's answer.
        cause: String,
    },
    /// The payload could not be serialized.
    #[error("cannot serialize the payload of `{event}`: {source}")]
    Payload {
        /// The event name.
        event: String,
        /// The serializer's error.
        source: serde_json::Error,
    },
    /// The payload is larger than [`Builder::max_payload`](crate::Builder::max_payload).
    #[error("the payload of `{event}` is {size} bytes, more than the {max} bytes allowed (`max_payload`)")]
    PayloadTooLarge {
        /// The event name.
        event: String,
        /// The payload's size in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The outbox row could not be written.
    #[error("cannot write the event to the outbox: {0}")]
    Db(#[from] DbErr),
}

/// The `from` of the [`DbErr::TryIntoErr`] that carries a [`RecordError`] out of a save.
const DB_ERR_FROM: &str = "a saved model";
/// The `into` of the [`DbErr::TryIntoErr`] that carries a [`RecordError`] out of a save.
const DB_ERR_INTO: &str = "a rest_hooks event";

impl RecordError {
    /// The `RecordError` that failed a save, out of the save's `DbErr`; `None` for any other
    /// database error.
    ///
    /// A save cannot return a `RecordError` itself: SeaORM's `ActiveModelBehavior` returns
    /// `DbErr`. Errors of the database are passed on as they are ([`RecordError::Db`] becomes its
    /// `DbErr`); any other is carried as the source of a [`DbErr::TryIntoErr`] from `"a saved
    /// model"` into `"a rest_hooks event"`, whose text still names the event and what is wrong
    /// with it.
    ///
    /// ```
    /// use rest_hooks::RecordError;
    /// use sea_orm::DbErr;
    ///
    /// let error = RecordError::PayloadTooLarge { event: "book.added".into(), size: 2048, max: 1024 };
    /// let saved: DbErr = error.into();
    /// assert!(saved.to_string().contains("the payload of `book.added` is 2048 bytes"));
    /// match RecordError::from_db_err(&saved) {
    ///     Some(RecordError::PayloadTooLarge { event, size, max }) => {
    ///         assert_eq!((event.as_str(), *size, *max), ("book.added", 2048, 1024));
    ///     }
    ///     other => panic!("not a payload too large: {other:?}"),
    /// }
    /// assert!(RecordError::from_db_err(&DbErr::RecordNotFound("book 1".into())).is_none());
    /// ```
    pub fn from_db_err(error: &DbErr) -> Option<&RecordError> {
        match error {
            DbErr::TryIntoErr { source, .. } => source.downcast_ref(),
            _ => None,
        }
    }
}

/// A save's error: a database error as it is, anything else as the source of a
/// [`DbErr::TryIntoErr`], which [`RecordError::from_db_err`] gets back.
impl From<RecordError> for DbErr {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::Db(db) => db,
            other => DbErr::TryIntoErr { from: DB_ERR_FROM, into: DB_ERR_INTO, source: Arc::new(other) },
        }
    }
}

/// A hook was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The event is not in the event map.
    #[error("unknown event `{event}`; known: {known}")]
    UnknownEvent {
        /// The name given.
        event: String,
        /// The names the map has.
        known: String,
    },
    /// The target is not an acceptable URL.
    #[error("target `{target}` is not accepted: {reason}")]
    Target {
        /// The URL given.
        target: String,
        /// Why it was refused.
        reason: String,
    },
}

impl ValidationError {
    /// The field at fault: `event` or `target`.
    pub fn field(&self) -> &'static str {
        match self {
            Self::UnknownEvent { .. } => "event",
            Self::Target { .. } => "target",
        }
    }
}

/// A hook could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubscribeError {
    /// The event or the target was refused.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The hook could not be stored.
    #[error("cannot store the hook: {0}")]
    Db(#[from] DbErr),
    /// The engine cannot create hooks there: the table is not the one it reads, or the entity
    /// lacks a column it needs.
    #[error(transparent)]
    Refused(#[from] HookEntityError),
}

/// A replay was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// No delivery has this id.
    #[error("no delivery has id `{0}`")]
    NoSuchDelivery(uuid::Uuid),
    /// No event has this outbox id.
    #[error("no event has outbox id `{0}`")]
    NoSuchEvent(i64),
    /// The hook is disabled; enable it first with `Engine::enable_hook`.
    #[error("hook `{hook}` is disabled ({reason}); enable it with `Engine::enable_hook` before replaying")]
    HookDisabled {
        /// The hook.
        hook: crate::foundation::keys::HookId,
        /// Why it was disabled.
        reason: String,
    },
    /// The database failed.
    #[error("cannot replay: {0}")]
    Db(#[from] DbErr),
}

/// A delivery attempt failed before a response arrived.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// No response within the timeout.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The connection could not be made.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The request failed otherwise.
    #[error("request failed: {0}")]
    Request(String),
    /// The deliverer panicked.
    #[error("the deliverer panicked: {0}")]
    Panicked(String),
    /// The SSRF guard refused the target.
    #[error("refused by the SSRF guard: {0}")]
    Forbidden(String),
    /// The request could not be signed (a malformed stored secret).
    #[error("cannot sign: {0}")]
    Signing(String),
}

impl DeliveryError {
    /// A short name of the kind of failure, as stored in the attempt log: `timeout`, `connect`,
    /// `request`, `panicked`, `forbidden` or `signing`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Timeout(_) => "timeout",
            Self::Connect(_) => "connect",
            Self::Request(_) => "request",
            Self::Panicked(_) => "panicked",
            Self::Forbidden(_) => "forbidden",
            Self::Signing(_) => "signing",
        }
    }
}

/// The engine cannot write hooks where it was asked to, or not with what the entity declares.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HookEntityError {
    /// `Engine::subscribe` (or `unsubscribe`, `rotate_secret`) writes the crate's table, which this
    /// engine does not read.
    #[error(
        "`Engine::{what}` writes the crate's hook table (`rest_hooks_hook`), but this engine finds hooks \
         with {elsewhere}; use `engine.hooks::<YourHookEntity>().{what}(…)`"
    )]
    CrateTableUnused {
        /// The method called.
        what: &'static str,
        /// Where the engine finds hooks.
        elsewhere: String,
    },
    /// [`Engine::hooks`](crate::Engine::hooks) was asked for an entity the engine does not read.
    #[error(
        "entity `{entity}` is not where this engine finds hooks ({reads}); start the engine with \
         `.hook_entity::<{entity}>()`"
    )]
    NotTheEngines {
        /// The entity asked for.
        entity: &'static str,
        /// Where the engine finds hooks.
        reads: String,
    },
    /// The entity names no target column, so hooks cannot be created in it.
    #[error("entity `{0}` names no target column: implement `HookEntity::target_column` to create hooks in it")]
    NoTargetColumn(&'static str),
    /// The entity names no secret column, so its hooks have no secret of their own to rotate.
    #[error(
        "entity `{0}` names no secret column, so its hooks sign with the engine's fallback secret: implement \
         `HookEntity::secret_columns` to give each hook its own"
    )]
    NoSecretColumn(&'static str),
    /// The entity has no primary key column.
    #[error("entity `{0}` has no primary key column")]
    NoPrimaryKey(&'static str),
}
