//! Configuring and starting an engine.

use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::Resolve;
use sea_orm::{DatabaseConnection, IntoActiveModel};
use serde_json::Value;

use crate::engine::hook_table::{EntityTable, TableOf};
use crate::engine::{Engine, current_runtime};
use crate::foundation::delivery::Disabled;
use crate::foundation::delivery::{Deliverer, HttpDeliverer, Sent};
use crate::foundation::error::BuildError;
use crate::foundation::event::Event;
use crate::foundation::event_map::{EventMapBuilder, EventsConfig};
use crate::foundation::finder::{EntityFinder, Finder};
use crate::foundation::hook::{self, HookEntity, HookTarget};
use crate::foundation::net::TargetPolicy;
use crate::foundation::render::{RenderFn, Renderer};
use crate::foundation::retry::RetryPolicy;
use crate::foundation::signing::{Secret, Signer, StandardWebhooks};
use crate::runtime::config::{Config, CustomResolver};
use crate::runtime::shared::{Callbacks, Shared};

impl Engine {
    /// Starts configuring an engine.
    pub fn builder() -> Builder {
        Builder::default()
    }
}

/// Configures an engine: the event map, the swap points, the tunables. Setters never fail; problems
/// are reported together by [`start`](Self::start).
///
/// ```no_run
/// # async fn run(db: sea_orm::DatabaseConnection) -> Result<(), rest_hooks::BuildError> {
/// let engine = rest_hooks::Engine::builder()
///     .event("book.added", "bookstore.Book.created")
///     .event("book.read", "bookstore.Book.read+")
///     .raw_event("user.logged_in")
///     .start(db)?;
/// # Ok(()) }
/// ```
#[must_use = "an engine does nothing until `start` is called"]
pub struct Builder {
    events: EventMapBuilder,
    finder: Arc<dyn Finder>,
    deliverer: Option<Arc<dyn Deliverer>>,
    renderer: Renderer,
    callbacks: Callbacks,
    config: Config,
    allow_targets: Vec<String>,
    https_only: bool,
    ssrf_guard: bool,
    resolver: Option<Arc<dyn Resolve>>,
    signing: Signing,
    engine_db: Option<DatabaseConnection>,
    /// The hook entity the engine reads, for the subscription API; none with a custom finder,
    /// unless the entity was named too.
    hook_table: Option<TableOf>,
    /// Whether [`finder`](Self::finder) and [`hook_entity`](Self::hook_entity) were called.
    custom_finder: bool,
    entity_named: bool,
}

/// How the HTTP deliverer signs.
enum Signing {
    Standard(Option<Secret>),
    Custom(Arc<dyn Signer>),
    Off,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            events: EventMapBuilder::default(),
            finder: Arc::new(EntityFinder::<hook::Entity>::new()),
            deliverer: None,
            renderer: Renderer::default(),
            callbacks: Callbacks::default(),
            config: Config::default(),
            allow_targets: Vec::new(),
            https_only: false,
            ssrf_guard: true,
            resolver: None,
            signing: Signing::Standard(None),
            engine_db: None,
            hook_table: Some(TableOf(EntityTable::<hook::Entity>::shared())),
            custom_finder: false,
            entity_named: false,
        }
    }
}

impl Builder {
    /// Maps event `name` to a model action, `"app.Model.action"`; a trailing `+` sends it to the
    /// hooks of every owner.
    pub fn event(mut self, name: impl Into<String>, spec: impl Into<String>) -> Self {
        self.events = self.events.event(name, spec);
        self
    }

    /// Declares a raw event, fired with [`Engine::raw`].
    pub fn raw_event(mut self, name: impl Into<String>) -> Self {
        self.events = self.events.raw_event(name);
        self
    }

    /// Adds the entries of a config file's event map (django-rest-hooks' `HOOK_EVENTS`).
    pub fn events(mut self, config: EventsConfig) -> Self {
        self.events = self.events.events(config);
        self
    }

    /// Whether model labels in the map must be declared by a linked `#[derive(Hookable)]` entity.
    /// Default: `true`.
    pub fn check_models(mut self, check: bool) -> Self {
        self.events = self.events.check_models(check);
        self
    }

    /// Sends the deliveries of these events in order, per hook and instance: a delivery about an
    /// instance (same model, same primary key) is sent only once every earlier one of its hook
    /// about that instance is delivered or dead, retries included; other instances and other hooks
    /// are not held back. A single hook can ask for the same with
    /// [`Engine::set_hook_ordered`]. Default: none. An event not in the map fails the start.
    ///
    /// ```no_run
    /// # async fn run(db: sea_orm::DatabaseConnection) -> Result<(), rest_hooks::BuildError> {
    /// let engine = rest_hooks::Engine::builder()
    ///     .event("task.changed", "todo.Task.updated")
    ///     .event("task.deleted", "todo.Task.deleted")
    ///     .ordered_events(["task.changed", "task.deleted"])
    ///     .start(db)?;
    /// # Ok(()) }
    /// ```
    pub fn ordered_events<I, S>(mut self, events: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut ordered = (*self.config.ordered_events).clone();
        ordered.extend(events.into_iter().map(Into::into));
        self.config.ordered_events = Arc::new(ordered);
        self
    }

    /// Reads hooks from entity `E` instead of the crate's own (django-rest-hooks'
    /// `HOOK_CUSTOM_MODEL`). Default: [`hook::Entity`]. [`Engine::hooks`] writes hooks into it,
    /// and the subscription API (`api::HooksApi`) serves it. Beside a [`finder`](Self::finder)
    /// (in either order), the finder finds the hooks of each event and `E` is the entity that
    /// [`Engine::hooks`] and the API write.
    pub fn hook_entity<E: HookEntity>(mut self) -> Self
    where
        E::Model: IntoActiveModel<E::ActiveModel> + Sync,
        E::ActiveModel: Send,
    {
        if !self.custom_finder {
            self.finder = Arc::new(EntityFinder::<E>::new());
        }
        self.hook_table = Some(TableOf(EntityTable::<E>::shared()));
        self.entity_named = true;
        let name = std::any::type_name::<E>();
        self.config.hooks_elsewhere =
            (name != std::any::type_name::<hook::Entity>()).then(|| format!("entity `{name}`"));
        self
    }

    /// Finds hooks with `finder` (django-rest-hooks' `HOOK_FINDER`). Default: an
    /// [`EntityFinder`] over [`hook::Entity`]. Alone, it turns off what writes hooks
    /// ([`Engine::hooks`], the subscription API), since a finder does not say where its hooks are
    /// stored; name that entity with [`hook_entity`](Self::hook_entity) to keep them.
    /// [`hook_target`](crate::hook::hook_target) and [`find_hook`](crate::hook::find_hook) do what
    /// a finder over an entity needs.
    pub fn finder(mut self, finder: impl Finder) -> Self {
        self.finder = Arc::new(finder);
        self.custom_finder = true;
        if !self.entity_named {
            self.config.hooks_elsewhere = Some("a custom finder".to_owned());
            self.hook_table = None;
        }
        self
    }

    /// Sends requests with `deliverer` (django-rest-hooks' `HOOK_DELIVERER`). Default:
    /// [`HttpDeliverer`] with this builder's timeouts. The signing and resolver settings and the
    /// send-time SSRF checks belong to the default deliverer; targets are checked against the
    /// allow-list when hooks are saved either way.
    pub fn deliverer(mut self, deliverer: impl Deliverer) -> Self {
        self.deliverer = Some(Arc::new(deliverer));
        self
    }

    /// Renders the whole body of model events whose entity has no serializer of its own
    /// (django-rest-hooks' `HOOK_SERIALIZER`). Default: `{"hook": {…}, "data": …}`.
    pub fn serializer(mut self, serializer: impl Fn(&HookTarget, &Event) -> Value + Send + Sync + 'static) -> Self {
        self.renderer.serializer = Some(Arc::new(serializer));
        self
    }

    /// Renders the whole body of event `name`, overriding every serializer (django-rest-hooks'
    /// `payload_override` as a function of hook and instance). Default: none.
    pub fn render_event(
        mut self,
        name: impl Into<String>,
        render: impl Fn(&HookTarget, &Event) -> Value + Send + Sync + 'static,
    ) -> Self {
        let render: RenderFn = Arc::new(render);
        self.renderer.per_event.insert(name.into(), render);
        self
    }

    /// Calls `notify` after every attempt with the hook, body and outcome (django-rest-hooks'
    /// `hook_sent_event`). A panic in it is caught and logged. Default: none.
    pub fn on_sent(mut self, notify: impl Fn(&Sent) + Send + Sync + 'static) -> Self {
        self.callbacks.on_sent.push(Arc::new(notify));
        self
    }

    /// Calls `notify` when the engine disables a hook (a 410 Gone answer, or failing for
    /// [`disable_after`](Self::disable_after)), after the hook's state is committed, e.g. to tell
    /// its owner. A panic in it is caught and logged. Default: none.
    pub fn on_disabled(mut self, notify: impl Fn(&Disabled) + Send + Sync + 'static) -> Self {
        self.callbacks.on_disabled.push(Arc::new(notify));
        self
    }

    /// When failed deliveries are tried again. Default: [`RetryPolicy::default`] (immediately, 5 s,
    /// 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, with ±10 % jitter, at most 3 days).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// Gives hooks a retry policy of their own: `policy_for` is asked after each failed attempt and
    /// its `Some` wins over [`retry_policy`](Self::retry_policy) (e.g. a faster schedule for an
    /// internal receiver, or a per-plan one read from a map keyed by hook id). It must be quick: it
    /// runs on the delivery path. A panic in it is caught and the engine's policy used. Default:
    /// none.
    pub fn retry_policy_for(
        mut self,
        policy_for: impl Fn(&HookTarget) -> Option<RetryPolicy> + Send + Sync + 'static,
    ) -> Self {
        self.callbacks.retry_for = Some(Arc::new(policy_for));
        self
    }

    /// Disables a hook every attempt to which has failed for this long, with no success between.
    /// Default: 5 days.
    pub fn disable_after(mut self, period: Duration) -> Self {
        self.config.disable_after = period;
        self
    }

    /// How long [`Engine::shutdown`](crate::Engine::shutdown) waits for requests in flight to
    /// finish and their outcomes to be written. Default: 10 s.
    pub fn shutdown_deadline(mut self, deadline: Duration) -> Self {
        self.config.shutdown_deadline = deadline;
        self
    }

    /// How often an idle dispatcher looks for events it was not nudged about (saves made by other
    /// processes, transactions committed long after their save). Default: 1 s.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.config.poll_interval = interval;
        self
    }

    /// How long a delivery stays leased to a process without being renewed. A delivering process
    /// renews the leases of its requests under way every quarter of this, so a request may take
    /// longer; the deliveries of a process that died are taken over by another once their lease
    /// runs out, and a process that cannot renew a lease (it lost its database) aborts the request
    /// before then, so no delivery is ever sent by two live processes at once. Between 1 s and 7
    /// days. Default: 10 s.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.config.lease = lease;
        self
    }

    /// How many events one dispatch pass claims. Default: 256.
    pub fn batch_size(mut self, size: usize) -> Self {
        self.config.batch_size = size;
        self
    }

    /// How many requests run at once. Default: 64.
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.config.concurrency = requests;
        self
    }

    /// How many requests run at once to one host (the same scheme, host and port), so that a
    /// slow receiver cannot take every slot of [`concurrency`](Self::concurrency). A host at its
    /// limit holds only its own slots: its other deliveries wait in the database, unleased, and
    /// are claimed as its requests end, while other hosts' deliveries go out at once. The hooks of
    /// one host share its slots: each runs at most its share, and never the last of several (see
    /// the [delivery guide](crate::guide::delivery)). Default: 16.
    pub fn per_target_concurrency(mut self, requests: usize) -> Self {
        self.config.per_target_concurrency = requests;
        self
    }

    /// How long the attempt log, delivered deliveries and dispatched outbox rows are kept; older
    /// ones are deleted about once an hour (or once per `retention`, when shorter) and by
    /// [`Engine::purge`](crate::Engine::purge). Failed ("dead") deliveries are kept until they are
    /// replayed and delivered. `None` keeps everything. Default: 30 days.
    pub fn retention(mut self, retention: Option<Duration>) -> Self {
        self.config.retention = retention;
        self
    }

    /// How many deliveries this process holds at once: requests under way and attempts whose
    /// outcome is not written yet (a database slower than the receivers). Deliveries that cannot
    /// start wait in the database; their rows are written in batches with the outcomes, and while
    /// 10,000 of them wait to be written, the dispatcher writes the rows of the next ones itself,
    /// so that they never pile up in memory. Default: 4096.
    pub fn max_in_flight(mut self, deliveries: usize) -> Self {
        self.config.max_in_flight = deliveries;
        self
    }

    /// The HTTP connect timeout. Default: 5 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// The HTTP timeout for a whole request. Default: 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// How many bytes of each response body are kept. Default: 4096.
    pub fn response_excerpt(mut self, bytes: usize) -> Self {
        self.config.response_excerpt = bytes;
        self
    }

    /// Whether this process delivers. `false` makes a record-only engine, for API nodes whose
    /// events a worker process delivers from the same database: saves write their outbox rows as
    /// usual, and nothing is claimed, sent or polled here. Default: `true`.
    pub fn deliver(mut self, deliver: bool) -> Self {
        self.config.deliver = deliver;
        self
    }

    /// Adds a label put on every metric the engine records, such as `("engine", "billing")` for an
    /// application that runs several engines. Metrics are recorded through the [`metrics`] facade
    /// to whatever recorder the application installs (see the guide's
    /// [operating page](crate::guide::operating)). Default: none.
    ///
    /// ```no_run
    /// # async fn run(db: sea_orm::DatabaseConnection) -> Result<(), rest_hooks::BuildError> {
    /// let engine = rest_hooks::Engine::builder()
    ///     .event("book.added", "bookstore.Book.created")
    ///     .metrics_label("engine", "bookstore")
    ///     .start(db)?;
    /// # Ok(()) }
    /// ```
    pub fn metrics_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.metrics.label(key.into(), value.into());
        self
    }

    /// Whether the engine keeps a gauge of the requests under way to each receiver
    /// (`rest_hooks_receiver_requests_in_flight{receiver="https://host:port"}`). Receivers are as
    /// many as the subscribers make them, so each one is a time series of its own: turn it on only
    /// when they are few. Default: `false`.
    pub fn metrics_per_receiver(mut self, per_receiver: bool) -> Self {
        self.config.metrics.per_receiver(per_receiver);
        self
    }

    /// How often a delivering engine measures its backlog gauges (events waiting for dispatch;
    /// deliveries pending, due and leased), with a few counting queries on its own connection, never
    /// on the save path. At least 10 ms. Default: 5 s.
    pub fn backlog_interval(mut self, interval: Duration) -> Self {
        self.config.backlog_interval = interval;
        self
    }

    /// Whether [`start`](Self::start) makes the engine the process-wide one. Turn it off to run
    /// several engines side by side (tests), each used through [`Engine::scope`]. Default: `true`.
    pub fn process_wide(mut self, process_wide: bool) -> Self {
        self.config.process_wide = process_wide;
        self
    }

    /// Refuses events whose stored payload is larger than `bytes`: recording one fails with
    /// [`RecordError::PayloadTooLarge`](crate::RecordError::PayloadTooLarge), and so does the save
    /// that caused it ([`RecordError::from_db_err`](crate::RecordError::from_db_err) gets it out of
    /// the save's `DbErr`). Default: 1 MiB.
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.config.max_payload = bytes;
        self
    }

    /// Lets the SSRF guard through to `targets`: CIDRs (`"127.0.0.1/32"`), single addresses, or host
    /// names (exact), for development receivers and tests. Checked by [`start`](Self::start).
    /// Default: none; only public addresses are called.
    pub fn allow_targets<S: Into<String>>(mut self, targets: impl IntoIterator<Item = S>) -> Self {
        self.allow_targets.extend(targets.into_iter().map(Into::into));
        self
    }

    /// Accepts `https` targets only. Default: `false` (http and https).
    pub fn https_only(mut self, https_only: bool) -> Self {
        self.https_only = https_only;
        self
    }

    /// Turns the SSRF guard off altogether, for deployments behind an egress proxy that does the
    /// same job. Default: `true` (on).
    pub fn ssrf_guard(mut self, guard: bool) -> Self {
        self.ssrf_guard = guard;
        self
    }

    /// Resolves target host names with `resolver` instead of the system's; the SSRF guard still
    /// filters what it returns. Tests use it to map a name to a chosen address. Default: the
    /// system resolver.
    pub fn resolver(mut self, resolver: impl Resolve + 'static) -> Self {
        self.resolver = Some(Arc::new(resolver));
        self
    }

    /// Signs hooks that have no secret of their own (an application's hook entity without secret
    /// columns) with `secret`. An engine whose [hook entity](Self::hook_entity) names no
    /// [secret columns](HookEntity::secret_columns) needs one: [`start`](Self::start) refuses it
    /// without, unless it is [`unsigned`](Self::unsigned) or has a [`signer`](Self::signer) of its
    /// own. Default: none: the deliveries of a hook without a secret of its own fail as `cannot
    /// sign` (nothing goes out unsigned unless [`unsigned`](Self::unsigned) says so).
    pub fn fallback_secret(mut self, secret: Secret) -> Self {
        self.signing = Signing::Standard(Some(secret));
        self
    }

    /// Signs with `signer` instead of Standard Webhooks, for a legacy scheme. Default:
    /// [`StandardWebhooks`].
    pub fn signer(mut self, signer: impl Signer) -> Self {
        self.signing = Signing::Custom(Arc::new(signer));
        self
    }

    /// Sends requests without `webhook-signature`. Default: signed.
    pub fn unsigned(mut self) -> Self {
        self.signing = Signing::Off;
        self
    }

    /// How long the previous secret still signs after
    /// [`Engine::rotate_secret`](crate::Engine::rotate_secret). Default: 24 h.
    pub fn secret_grace_period(mut self, grace: Duration) -> Self {
        self.config.secret_grace = grace;
        self
    }

    /// Runs the engine's own database work on `db` instead of on a pool it opens itself beside
    /// the application's (see [`start`](Self::start)). Default: a pool of the engine's own.
    pub fn engine_connection(mut self, db: DatabaseConnection) -> Self {
        self.engine_db = Some(db);
        self
    }

    /// Validates the configuration and starts the actors. Must be called inside a tokio runtime,
    /// which then runs the engine's database and HTTP work: the one the application lives in.
    ///
    /// `db` is the application's database. Saves record their events through their own
    /// connection, in their own transaction; the engine's own work — dispatching, claiming,
    /// outcomes, the attempt log, retention — runs on a small pool it opens from `db`'s connect
    /// options, so that it never takes a connection the application is waiting for (SeaORM gives
    /// SQLite one by default). On SQLite the engine also turns on write-ahead logging (WAL), which
    /// the database file keeps, so that the engine's reads never block a save; an in-memory SQLite
    /// database cannot be opened twice and is shared. A record-only engine
    /// ([`deliver(false)`](Self::deliver)) opens nothing.
    ///
    /// `start` makes no database call, so a missing table shows only when the first save fails:
    /// [`start_checked`](Self::start_checked) checks the tables too.
    pub fn start(self, db: DatabaseConnection) -> Result<Engine, BuildError> {
        let map = self.events.build()?;
        let mut config = self.config;
        let mut unknown: Vec<&String> = config.ordered_events.iter().filter(|event| !map.contains(event)).collect();
        if !unknown.is_empty() {
            unknown.sort();
            let unknown = unknown.iter().map(|event| format!("`{event}`")).collect::<Vec<_>>().join(", ");
            let problem = format!("{unknown}: not in the event map; known: {}", map.known_names());
            return Err(BuildError::Setting { name: "ordered_events", problem });
        }
        let policy = TargetPolicy::new(&self.allow_targets)
            .map_err(|problem| BuildError::Setting { name: "allow_targets", problem })?;
        config.policy = Arc::new(policy.https_only(self.https_only).guard(self.ssrf_guard));
        config.resolver = CustomResolver(self.resolver.clone());
        if config.max_payload == 0 {
            return Err(BuildError::Setting { name: "max_payload", problem: "must be at least 1".to_owned() });
        }
        if let Signing::Standard(Some(fallback)) = &self.signing {
            fallback
                .check_signing_length()
                .map_err(|e| BuildError::Setting { name: "fallback_secret", problem: e.to_string() })?;
        }
        if let Some(problem) = self.hook_table.as_ref().and_then(|TableOf(table)| api_field_problem(table.as_ref())) {
            return Err(BuildError::Setting { name: "hook_entity", problem });
        }
        let read_by_entity = self.hook_table.as_ref().filter(|_| !self.custom_finder);
        if let Some(problem) = nothing_to_sign_with(&self.signing, self.deliverer.is_some(), read_by_entity) {
            return Err(BuildError::Setting { name: "fallback_secret", problem });
        }
        for (name, value) in [
            ("batch_size", config.batch_size),
            ("concurrency", config.concurrency),
            ("per_target_concurrency", config.per_target_concurrency),
            ("max_in_flight", config.max_in_flight),
        ] {
            if value == 0 {
                return Err(BuildError::Setting { name, problem: "must be at least 1".to_owned() });
            }
        }
        if let Some(retention) = config.retention
            && retention < Duration::from_secs(60)
        {
            return Err(BuildError::Setting {
                name: "retention",
                problem: format!("({retention:?}) must be at least 1 min"),
            });
        }
        if config.disable_after < Duration::from_secs(60) {
            return Err(BuildError::Setting {
                name: "disable_after",
                problem: format!("({:?}) must be at least 1 min", config.disable_after),
            });
        }
        if config.poll_interval < Duration::from_millis(10) {
            return Err(BuildError::Setting {
                name: "poll_interval",
                problem: format!("({:?}) must be at least 10 ms", config.poll_interval),
            });
        }
        if config.backlog_interval < Duration::from_millis(10) {
            return Err(BuildError::Setting {
                name: "backlog_interval",
                problem: format!("({:?}) must be at least 10 ms", config.backlog_interval),
            });
        }
        if config.lease > Duration::from_secs(7 * 24 * 3600) || config.lease < Duration::from_secs(1) {
            return Err(BuildError::Setting {
                name: "lease",
                problem: format!("({:?}) must be between 1 s and 7 days", config.lease),
            });
        }
        // The configuration is checked: only now is a runtime needed.
        let runtime = current_runtime()?;
        crate::foundation::delivery::ensure_crypto_provider();
        let deliverer: Arc<dyn Deliverer> = match self.deliverer {
            Some(deliverer) => deliverer,
            None => {
                let signer: Option<Arc<dyn Signer>> = match self.signing {
                    Signing::Standard(fallback) => Some(Arc::new(StandardWebhooks::with_fallback(fallback))),
                    Signing::Custom(signer) => Some(signer),
                    Signing::Off => None,
                };
                Arc::new(HttpDeliverer::configured(config.http(), signer, self.resolver.clone())?)
            }
        };
        crate::foundation::metrics::Metrics::describe();
        let (process_wide, deliver) = (config.process_wide, config.deliver);
        let mut db = match self.engine_db {
            Some(engine_db) => engine_db,
            None if deliver => crate::runtime::pool::own_pool(&db).unwrap_or(db),
            None => db,
        };
        // On the engine's handle only: the application's own statements are not counted.
        db.set_metric_callback(config.metrics.statement_counter());
        let shared = Shared::new(db, runtime, map, self.finder, deliverer, self.renderer, self.callbacks, config);
        let (shared, hooks) = (Arc::new(shared), self.hook_table);
        let engine = if deliver { Engine::spawn(shared, hooks)? } else { Engine::record_only(shared, hooks) };
        if process_wide {
            engine.install();
        }
        Ok(engine)
    }
}

/// What is wrong with the hook entity's [`api_columns`](HookEntity::api_columns): a column type
/// the API cannot carry, or a name the API gives a field of its own.
fn api_field_problem(table: &dyn crate::engine::hook_table::HookTable) -> Option<String> {
    const TAKEN: [&str; 13] = [
        "id",
        "event",
        "target",
        "target_url",
        "subscription_url",
        "active",
        "ordered",
        "ordered_by",
        "disabled_reason",
        "created",
        "updated",
        "secret",
        "previous_secret_until",
    ];
    let entity = table.entity();
    let fields = match table.api_fields() {
        Ok(fields) => fields,
        Err(problem) => return Some(format!("`HookEntity::api_columns` of `{entity}`: {problem}")),
    };
    fields.iter().find(|field| TAKEN.contains(&field.name)).map(|field| {
        format!(
            "`HookEntity::api_columns` of `{entity}` names column `{}`, a field the subscription API has already; \
             leave it out (the API sets `event`, `target` and the owner itself)",
            field.name
        )
    })
}

/// Why the engine's own signer would have no secret for any hook: it signs (Standard Webhooks,
/// no fallback secret), and the hook entity it reads names no secret columns. `None` when a
/// deliverer of the application's own sends, or the hooks are found by a custom finder (their
/// secrets are the finder's business).
fn nothing_to_sign_with(signing: &Signing, own_deliverer: bool, table: Option<&TableOf>) -> Option<String> {
    let TableOf(table) = table?;
    if own_deliverer || !matches!(signing, Signing::Standard(None)) || table.has_secret_columns() {
        return None;
    }
    Some(format!(
        "is not set, and hook entity `{}` names no `HookEntity::secret_columns`: its hooks have no secret of \
         their own, so every delivery would fail as `cannot sign`; give the engine a `fallback_secret`, name the \
         entity's secret columns, send unsigned with `unsigned()`, or, if the entity's `HookEntity::secrets` \
         supplies the secrets, sign with `.signer(StandardWebhooks::default())`",
        table.entity()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Configuration mistakes are found without a runtime, before anything is started.
    #[test]
    fn a_configuration_mistake_is_reported_without_a_runtime() {
        let start = |builder: Builder| builder.start(DatabaseConnection::default()).map(drop).unwrap_err();
        let error = start(Engine::builder().max_payload(0));
        assert!(matches!(error, BuildError::Setting { name: "max_payload", .. }), "{error}");
        let error = start(Engine::builder().event("book.added", "not a spec"));
        assert!(matches!(error, BuildError::EventMap(_)), "{error}");
        let error = start(Engine::builder().allow_targets(["not a network"]));
        assert!(matches!(error, BuildError::Setting { name: "allow_targets", .. }), "{error}");
        assert!(matches!(start(Engine::builder()), BuildError::NoRuntime), "a good configuration needs one");
    }
}
