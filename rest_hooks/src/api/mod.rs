//! The subscription REST API (feature `api`): an axum router, nested wherever the application
//! likes, through which its users' integrations (Zapier, Make, n8n, their own code) subscribe and
//! unsubscribe themselves — the REST Hooks contract.
//!
//! The application says who is asking ([`OwnerAuth`]); every query is narrowed to that owner, so
//! another owner's hook answers `404` exactly like a missing one. Hooks live where the engine reads
//! them: the crate's hook table ([`hook::Entity`](crate::foundation::hook::Entity)), or the application's own
//! entity ([`Builder::hook_entity`](crate::Builder::hook_entity)), whose
//! [`fill_new`](crate::HookEntity::fill_new) fills the application's columns of the hooks the API
//! creates and whose [`scope`](crate::HookEntity::scope) still decides which hooks receive events
//! (a hook outside it shows as `"active": false`). Secrets are made and rotated in the entity's
//! [secret columns](crate::HookEntity::secret_columns); without them the hooks sign with the
//! engine's fallback secret, the API shows none, and rotating answers `409`. Only an engine with a
//! custom finder is refused ([`HooksElsewhere`]): the API could not know where its hooks are.
//!
//! | method and path | what it does |
//! |---|---|
//! | `POST /` | subscribe `{"event", "target"}` (or Zapier's `target_url`): `201`, a `Location`, and the hook with its signing secret, shown only here |
//! | `GET /` | the owner's hooks, oldest first: `?event=`, `?limit=` (1–100, 50), `?starting_after=` the last id of the previous page |
//! | `GET /{id}`, `PATCH /{id}`, `DELETE /{id}` | read; change `event`, `target`, `active`, `ordered`; delete (`204`; pending retries are dropped) |
//! | `GET /events` | the event catalogue: name, kind (`change`, `custom`, `raw`), model and action |
//! | `POST /{id}/test` | a signed test delivery, sent now; answers the status, timing and response excerpt |
//! | `GET /{id}/attempts` | the delivery log, newest first (`?limit=`) |
//! | `POST /{id}/replay` | send again: `{"delivery": id}`, `{"from", "to"}`, or an empty body for every failed delivery (`202`) |
//! | `POST /{id}/rotate-secret` | a new secret; the old one signs beside it for the grace period |
//! | `GET /stats` | the owner's delivery attempts of the last 24 hours, by hour and outcome |
//! | `GET /failed-events` | the owner's events that could not be dispatched, with the reason (a panic in the application's serializer, say), newest first |
//! | `POST /failed-events/{event_id}/replay` | dispatch one of them again once the cause is fixed (`202`) |
//! | `GET /openapi.json` | the OpenAPI 3.1 description of all of the above and of itself, derived from the handlers; no credentials asked |
//! | `GET /portal` | the owner portal: a page that does all of the above in a browser ([`HooksApi::portal`]); no credentials asked to load it |
//!
//! Errors have one shape, `{"error": kind, "field": …, "message": …}`: `400 bad_request` for a
//! body that is not JSON or a bad query parameter, `401 unauthorized`, `403 forbidden` or `503
//! unavailable` as [`OwnerAuth`] says, `404 not_found` (also for the later of two deletions at
//! once), `405 method_not_allowed`, `409 conflict` (replaying a disabled hook, rotating a secret
//! that another rotation replaced meanwhile), `413 payload_too_large`, `415 unsupported_media_type`, `422
//! validation` naming the field (an unknown event lists the offered ones), `500 internal` (the
//! cause is logged, not sent).
//!
//! Events whose spec ends in `+` reach the hooks of every owner, so the API does not offer them
//! unless [`HooksApi::offer_events`] says so: do that only if every owner may see every instance. The API sets no rate limit of
//! its own (`POST /{id}/test` makes a request each time): add a tower layer for one.
//!
//! ```no_run
//! use axum::Router;
//! use rest_hooks::Owner;
//! use rest_hooks::api::{HooksApi, Refusal};
//!
//! fn bearer(request: &axum::http::request::Parts) -> Result<Owner, Refusal> {
//!     match request.headers.get("authorization").and_then(|value| value.to_str().ok()) {
//!         Some("Bearer alice-token") => Ok(Owner::from(1)),
//!         _ => Err(Refusal::unauthorized("send `Authorization: Bearer <token>`").challenge("Bearer")),
//!     }
//! }
//!
//! # async fn serve(engine: rest_hooks::Engine) -> Result<(), Box<dyn std::error::Error>> {
//! let app: Router = Router::new().merge(HooksApi::new(engine, bearer)?.mount("/api/v1/hooks"));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

mod actions;
mod auth;
mod body;
mod error;
mod failed;
mod hooks;
mod keep_alive;
mod portal;
mod stats;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, OriginalUri};
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::{OwnerAuth, Refusal};

use crate::engine::Engine;
use crate::engine::hook_table::{HookTable, TableOf};
use crate::foundation::error::ValidationError;
use crate::foundation::event_map::EventInfo;
use crate::foundation::hook::KeyForm;
use auth::ErasedAuth;
use error::ApiError;

/// Which events the API offers.
type Offered = Arc<dyn Fn(&EventInfo) -> bool + Send + Sync>;

/// What every handler gets: the engine, the application's authentication, the body limit, the
/// events on offer.
#[derive(Clone)]
pub(crate) struct ApiState {
    engine: Engine,
    table: Arc<dyn HookTable>,
    auth: Arc<dyn ErasedAuth>,
    body_limit: usize,
    offered: Offered,
    portal: bool,
}

impl ApiState {
    /// The events the API offers, by name.
    fn offered(&self) -> impl Iterator<Item = &EventInfo> {
        self.engine.event_map().events().filter(|info| (self.offered)(info))
    }

    /// Checks that `event` is one the API offers; the error names only those.
    fn check_event(&self, event: &str) -> Result<(), ValidationError> {
        if self.offered().any(|info| info.name == event) {
            return Ok(());
        }
        let known = self.offered().map(|info| info.name.as_str()).collect::<Vec<_>>().join(", ");
        Err(ValidationError::UnknownEvent { event: event.to_owned(), known })
    }
}

/// [`HooksApi::new`] refused an engine that finds its hooks with a custom
/// [`Finder`](crate::Finder) alone: the API writes the hook entity the engine reads, and a finder
/// does not say where its hooks are stored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the hooks API writes the hook entity the engine reads, but this engine finds hooks with {0} and no \
     entity was named; name it beside the finder with `.hook_entity::<YourHookEntity>()`, or drop the finder \
     (`HookEntity::scope` and `HookEntity::scope_event` narrow the hooks found, by the event too)"
)]
pub struct HooksElsewhere(String);

/// The OpenAPI document's fixed parts; the paths come from the handlers.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Hooks", description = "Subscribe URLs to events; every event then reaches them as a signed JSON POST."),
    paths(describe),
    tags(
        (name = "hooks", description = "The caller's hooks (subscriptions)"),
        (name = "events", description = "The events a hook can subscribe to"),
    )
)]
struct Document;

/// The subscription API of an engine. [`mount`](Self::mount) builds the axum router that serves it
/// at a path, [`router`](Self::router) the router itself.
///
/// ```
/// # fn build(engine: rest_hooks::Engine) -> Result<axum::Router, rest_hooks::api::HooksElsewhere> {
/// use rest_hooks::api::{HooksApi, Refusal};
///
/// let api = HooksApi::new(engine, |_: &axum::http::request::Parts| Err(Refusal::unauthorized("no")))?
///     .body_limit(16 * 1024)
///     .offer_events(|event| !event.name.starts_with("internal."));
/// Ok(axum::Router::new().merge(api.mount("/hooks")))
/// # }
/// ```
pub struct HooksApi {
    state: ApiState,
}

impl std::fmt::Debug for HooksApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HooksApi")
            .field("body_limit", &self.state.body_limit)
            .field("portal", &self.state.portal)
            .finish_non_exhaustive()
    }
}

impl HooksApi {
    /// The API of `engine`'s hooks, in the entity the engine reads them from, for the owners `auth`
    /// names. Refused when the engine finds its hooks with a custom finder.
    pub fn new(engine: Engine, auth: impl OwnerAuth) -> Result<Self, HooksElsewhere> {
        let Some(TableOf(table)) = engine.hook_table().cloned() else {
            return Err(HooksElsewhere(engine.shared().config.hooks_elsewhere.clone().unwrap_or_default()));
        };
        let offered: Offered = Arc::new(|info: &EventInfo| !info.all_owners);
        let auth = Arc::new(auth);
        Ok(Self {
            state: ApiState { engine, table, auth, body_limit: body::DEFAULT_BODY_LIMIT, offered, portal: true },
        })
    }

    /// Offers only the events `offer` accepts: `GET /events` lists them, and subscribing to (or
    /// changing a hook to) any other is refused as an unknown event. Hooks already on other events
    /// stay readable and deletable. Default: the events whose audience is the subscriber, that is
    /// every event of the map but the all-owner ones (spec ending in `+`), which would send one
    /// owner's instances to every other owner's hooks; offer those with e.g.
    /// `.offer_events(|_| true)` only if every owner may see every instance.
    pub fn offer_events(mut self, offer: impl Fn(&EventInfo) -> bool + Send + Sync + 'static) -> Self {
        self.state.offered = Arc::new(offer);
        self
    }

    /// The largest request body accepted, in bytes; larger ones are answered `413` (and the
    /// connection closed). Every request's body is read up to it before the request is handled,
    /// so that the client can reuse its connection whatever the answer. Default: 64 KiB.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.state.body_limit = bytes;
        self
    }

    /// Whether the router serves the owner portal: `GET /portal`, a page through which an owner
    /// lists, creates, tests and replays their hooks, rotates their secrets, turns them off and on,
    /// and sees the delivery log and a chart of the last day's attempts; and `GET /portal.js`, its
    /// script. Both are static and ask for no credentials; the page calls the API beside it
    /// relative to its own URL, sending the browser's cookies (an application's session login
    /// works as it is) and, for APIs of bearer tokens, a token the owner pastes into it, kept in
    /// the tab's `sessionStorage`. It is served with a strict `Content-Security-Policy` (its own
    /// script and origin only, no framing), `X-Content-Type-Options: nosniff` and `Cache-Control:
    /// no-store`. A hook whose id is `portal` or `portal.js` cannot be reached while it is served.
    /// Default: served.
    pub fn portal(mut self, serve: bool) -> Self {
        self.state.portal = serve;
        self
    }

    /// The router, its paths relative to where it is mounted. [`mount`](Self::mount) mounts it;
    /// `Router::nest_service("/api/v1/hooks", api.router())` does the same. It works in any router,
    /// whatever that router's state.
    ///
    /// `Router::nest("/api/v1/hooks", api.router())` serves it too, except at
    /// `/api/v1/hooks/`: axum's `nest` leaves that path to the outer router, whose fallback
    /// answers without reading the request's body, and the client's next request on the same
    /// connection is lost.
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        let (router, mut document) = documented(self.state.table.id_form());
        with_fields(&mut document, &self.state.table.api_fields().unwrap_or_default());
        let document = Arc::new(document);
        let limit = self.state.body_limit;
        let router = if self.state.portal {
            // Pages, not operations: the description leaves them out.
            router.route("/portal", get(portal::page)).route("/portal.js", get(portal::script))
        } else {
            router
        };
        router
            .route("/openapi.json", get(move |uri: OriginalUri| describe(Arc::clone(&document), uri)))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(limit))
            .layer(axum::middleware::from_fn_with_state(limit, keep_alive::read_body))
            .layer(axum::middleware::map_response(nosniff))
            .with_state(self.state)
    }

    /// The API mounted at `path` (such as `"/api/v1/hooks"`), to merge into the application's
    /// router: `path`, `path/` (the same collection) and every path below reach the API, and every
    /// answer under it leaves the connection reusable.
    ///
    /// ```
    /// # fn build(engine: rest_hooks::Engine) -> Result<axum::Router, rest_hooks::api::HooksElsewhere> {
    /// use rest_hooks::api::{HooksApi, Refusal};
    ///
    /// let api = HooksApi::new(engine, |_: &axum::http::request::Parts| Err(Refusal::unauthorized("no")))?;
    /// Ok(axum::Router::new().merge(api.mount("/api/v1/hooks")))
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When `path` is not a path axum can nest at: empty, `/`, not starting with `/`, or with a
    /// wildcard, as [`Router::nest_service`] does.
    pub fn mount<S: Clone + Send + Sync + 'static>(self, path: &str) -> Router<S> {
        Router::new().nest_service(path, self.router::<()>())
    }

    /// The OpenAPI 3.1 description of the API, with paths relative to where it is nested (as
    /// `GET /openapi.json` serves it, that adds the mount point as the server). For merging into
    /// the application's own description.
    pub fn openapi(&self) -> serde_json::Value {
        let mut document = documented(self.state.table.id_form()).1;
        with_fields(&mut document, &self.state.table.api_fields().unwrap_or_default());
        serde_json::to_value(document).unwrap_or_default()
    }
}

/// The application's own hook fields ([`HookEntity::api_columns`](crate::HookEntity::api_columns))
/// in the schemas of a hook and of the bodies that create and change one.
fn with_fields(document: &mut utoipa::openapi::OpenApi, fields: &[crate::foundation::hook::ApiField]) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type};
    let Some(components) = document.components.as_mut().filter(|_| !fields.is_empty()) else { return };
    for name in ["HookView", "Subscribe", "Change"] {
        // The object itself, or the object of an `allOf` that adds a rule beside it.
        let object = match components.schemas.get_mut(name) {
            Some(RefOr::T(Schema::Object(object))) => object,
            Some(RefOr::T(Schema::AllOf(all))) => match all.items.iter_mut().find_map(|item| match item {
                RefOr::T(Schema::Object(object)) => Some(object),
                _ => None,
            }) {
                Some(object) => object,
                None => continue,
            },
            _ => continue,
        };
        for field in fields {
            let kind = match field.kind.json_type() {
                "integer" => Type::Integer,
                "number" => Type::Number,
                "boolean" => Type::Boolean,
                _ => Type::String,
            };
            let types = if field.nullable { SchemaType::from_iter([kind, Type::Null]) } else { SchemaType::from(kind) };
            let format = (field.kind == crate::foundation::hook::FieldKind::Uuid)
                .then_some(SchemaFormat::KnownFormat(KnownFormat::Uuid));
            let schema = ObjectBuilder::new()
                .schema_type(types)
                .format(format)
                .description(Some(format!("The application's own field `{}`.", field.name)))
                .build();
            object.properties.insert(field.name.to_owned(), RefOr::T(Schema::Object(schema)));
            if name == "HookView" {
                // Shown on every hook, `null` when empty.
                object.required.push(field.name.to_owned());
            }
        }
    }
}

/// The routes and the document, from the same handlers; `ids` is the form of the hook table's
/// keys.
fn documented(ids: KeyForm) -> (Router<ApiState>, utoipa::openapi::OpenApi) {
    let mut document = Document::openapi();
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    // The API is the application's: this crate's license and authors are not its.
    document.info.license = None;
    document.info.contact = None;
    let (router, mut document) = OpenApiRouter::with_openapi(document)
        .routes(routes!(hooks::subscribe, hooks::list))
        .routes(routes!(hooks::get, hooks::change, hooks::delete))
        .routes(routes!(actions::events))
        .routes(routes!(actions::test))
        .routes(routes!(actions::attempts))
        .routes(routes!(actions::replay))
        .routes(routes!(actions::rotate_secret))
        .routes(routes!(stats::stats))
        .routes(routes!(failed::list))
        .routes(routes!(failed::replay))
        .split_for_parts();
    describe_ids(&mut document, ids);
    describe_bodies(&mut document);
    (router, document)
}

/// `GET /?starting_after=` takes a hook id of the table the API serves, and refuses any other
/// text with `400`: its schema is that of the table's keys.
fn describe_ids(document: &mut utoipa::openapi::OpenApi, ids: KeyForm) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{KnownFormat, Object, SchemaFormat, Type};

    let int64 =
        || Object::builder().schema_type(Type::Integer).format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)));
    let schema = match ids {
        KeyForm::Integer => int64(),
        KeyForm::Unsigned => int64().minimum(Some(0)),
        KeyForm::Uuid => {
            Object::builder().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
        }
        KeyForm::Text => Object::builder().schema_type(Type::String),
    }
    .build();
    let list = document.paths.paths.get_mut("/").and_then(|item| item.get.as_mut());
    for parameter in list.and_then(|operation| operation.parameters.as_mut()).into_iter().flatten() {
        if let RefOr::T(parameter) = parameter
            && parameter.name == "starting_after"
        {
            parameter.schema = Some(schema.clone().into());
        }
    }
}

/// What the bodies' types do not say, and the API refuses with `422`: a subscription gives its
/// target as `target` or as Zapier's `target_url`, exactly one of them; a change gives it at most
/// once; a replay names a `delivery`, or a range with both `from` and `to`, or nothing.
fn describe_bodies(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, Object, ObjectBuilder, OneOfBuilder, Schema, Type};

    let Some(components) = document.components.as_mut() else { return };
    // An object whose fields `given` are there, as text, and whose fields `absent` are left out or
    // `null`.
    let shape = |given: &[&str], absent: &[&str]| -> RefOr<Schema> {
        let object = given.iter().fold(ObjectBuilder::new(), |object, field| {
            object.property(*field, Object::with_type(Type::String)).required(*field)
        });
        let object = absent.iter().fold(object, |object, field| object.property(*field, Object::with_type(Type::Null)));
        object.build().into()
    };
    let rules: [(&str, Schema); 3] = [
        (
            "Subscribe",
            OneOfBuilder::new().item(shape(&["target"], &[])).item(shape(&["target_url"], &[])).build().into(),
        ),
        ("Change", AnyOfBuilder::new().item(shape(&[], &["target"])).item(shape(&[], &["target_url"])).build().into()),
        (
            "Replay",
            OneOfBuilder::new()
                .item(shape(&["delivery"], &["from", "to"]))
                .item(shape(&["from", "to"], &["delivery"]))
                .item(shape(&[], &["delivery", "from", "to"]))
                .build()
                .into(),
        ),
    ];
    for (body, rule) in rules {
        if let Some(RefOr::T(schema)) = components.schemas.get_mut(body) {
            let derived = std::mem::take(schema);
            *schema = AllOfBuilder::new().item(derived).item(rule).build().into();
        }
    }
}

/// The OpenAPI 3.1 description of this API, this operation included.
///
/// It asks for no credentials. Its server is the path it was asked on, less `/openapi.json`, so
/// that its relative paths resolve wherever the API is nested.
#[utoipa::path(
    get, path = "/openapi.json", tag = "hooks", operation_id = "describe_api",
    responses((status = 200, description = "The OpenAPI 3.1 description", content_type = "application/json", body = Object)),
)]
async fn describe(document: Arc<utoipa::openapi::OpenApi>, OriginalUri(uri): OriginalUri) -> Response {
    let mut document = (*document).clone();
    let base = uri.path().strip_suffix("/openapi.json").unwrap_or_default();
    let base = if base.is_empty() { "/" } else { base };
    document.servers = Some(vec![utoipa::openapi::Server::new(base)]);
    axum::Json(document).into_response()
}

/// Every answer says `X-Content-Type-Options: nosniff`, so that a browser never reads the API's
/// JSON (which holds owners' targets and response excerpts) as anything else.
async fn nosniff(mut response: Response) -> Response {
    response.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

async fn not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::not_found(format!("no route `{}`", uri.path()))
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::method_not_allowed(format!("`{}` does not take {method}", uri.path()))
}
