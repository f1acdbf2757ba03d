//! The context every part of a running engine shares: its configuration, the application's code
//! (finder, deliverer, renderer, callbacks), the engine's own connection and clock, the request
//! slots, and the signals that wake the actors.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize};
use std::sync::{Arc, OnceLock};

use sea_orm::DatabaseConnection;
use tokio::runtime::Handle;

use crate::foundation::clock::Clock;
use crate::foundation::delivery::{Deliverer, DisabledHook, SentHook};
use crate::foundation::error::ValidationError;
use crate::foundation::event_map::EventMap;
use crate::foundation::finder::Finder;
use crate::foundation::hook::HookTarget;
use crate::foundation::job::{HeldEvents, Leased};
use crate::foundation::panics::catch;
use crate::foundation::render::Renderer;
use crate::foundation::retry::RetryPolicy;
use crate::foundation::slots::Slots;
use crate::runtime::config::Config;
use crate::runtime::signals::Signals;

/// The application's retry policy for one hook, when it has its own.
pub(crate) type RetryFor = Arc<dyn Fn(&HookTarget) -> Option<RetryPolicy> + Send + Sync>;

/// The application's functions told about events of the engine.
#[derive(Default)]
pub(crate) struct Callbacks {
    pub(crate) on_sent: Vec<SentHook>,
    pub(crate) on_disabled: Vec<DisabledHook>,
    pub(crate) retry_for: Option<RetryFor>,
}

/// Everything the actors share: configuration, user code, and the count of jobs in flight.
pub(crate) struct Shared {
    /// The engine's own connection (see [`pool`](crate::runtime::pool)): never the one saves run on,
    /// where it can be helped.
    pub(crate) db: DatabaseConnection,
    pub(crate) runtime: Handle,
    pub(crate) map: EventMap,
    pub(crate) finder: Arc<dyn Finder>,
    pub(crate) deliverer: Arc<dyn Deliverer>,
    pub(crate) renderer: Renderer,
    pub(crate) on_sent: Vec<SentHook>,
    pub(crate) on_disabled: Vec<DisabledHook>,
    retry_for: Option<RetryFor>,
    pub(crate) config: Config,
    /// The engine's time: see [`Clock`].
    pub(crate) clock: Clock,
    /// Deliveries leased to this process whose outcome is not written yet.
    pub(crate) in_flight: Arc<AtomicUsize>,
    /// Deliveries waiting for their receiver whose rows the outcome writer has yet to write: the
    /// dispatcher writes them itself while too many wait, and shutdown waits for them.
    pub(crate) unwritten: Arc<AtomicUsize>,
    /// Request slots, in all and per receiver.
    pub(crate) slots: Arc<Slots<Leased>>,
    /// The events held here while their first attempts are under way.
    held: std::sync::Mutex<HeldEvents>,
    /// Hooks disabled while this process ran: their deliveries leased before the given time
    /// (engine clock, Unix ms) and not yet started are not sent.
    disabled: std::sync::Mutex<HashMap<String, i64>>,
    /// Set once the engine's database is ready (see [`pool::prepare`](crate::runtime::pool::prepare)).
    prepared: tokio::sync::OnceCell<()>,
    /// When the last purge started (engine clock, Unix ms).
    pub(crate) last_purge: AtomicI64,
    /// When the backlog gauges were last measured (engine clock, Unix ms).
    pub(crate) last_backlog: AtomicI64,
    /// Set when the engine stops: work already queued on the runtime claims nothing more.
    pub(crate) stopped: AtomicBool,
    /// Held shared by every pass and exclusively by shutdown, which so waits for passes under way.
    pub(crate) passes: tokio::sync::RwLock<()>,
    signals: OnceLock<Signals>,
}

impl Shared {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        db: DatabaseConnection,
        runtime: Handle,
        map: EventMap,
        finder: Arc<dyn Finder>,
        deliverer: Arc<dyn Deliverer>,
        renderer: Renderer,
        callbacks: Callbacks,
        config: Config,
    ) -> Self {
        Self {
            db,
            runtime,
            map,
            finder,
            deliverer,
            renderer,
            on_sent: callbacks.on_sent,
            on_disabled: callbacks.on_disabled,
            retry_for: callbacks.retry_for,
            slots: Arc::new(Slots::new(config.concurrency, config.per_target_concurrency, config.max_in_flight)),
            config,
            clock: Clock::new(),
            in_flight: Arc::new(AtomicUsize::new(0)),
            unwritten: Arc::new(AtomicUsize::new(0)),
            held: std::sync::Mutex::default(),
            disabled: std::sync::Mutex::default(),
            prepared: tokio::sync::OnceCell::new(),
            last_purge: AtomicI64::new(i64::MIN),
            last_backlog: AtomicI64::new(i64::MIN),
            stopped: AtomicBool::new(false),
            passes: tokio::sync::RwLock::new(()),
            signals: OnceLock::new(),
        }
    }

    /// Connects the actors' signals, once they run.
    pub(crate) fn set_signals(&self, signals: Signals) {
        let _ = self.signals.set(signals);
    }

    /// The actors' signals; none when the engine does not deliver or has not started its actors.
    pub(crate) fn signals(&self) -> Option<&Signals> {
        self.signals.get()
    }

    /// The retry policy of `hook`: its own when the application gives one, else the engine's. A
    /// panic in the application's function is caught and logged.
    pub(crate) fn retry_policy(&self, hook: &HookTarget) -> std::borrow::Cow<'_, RetryPolicy> {
        let own = self.retry_for.as_ref().and_then(|retry_for| {
            catch(|| retry_for(hook))
                .map_err(|panic| {
                    tracing::error!(hook_id = %hook.id, "the retry policy function panicked: {panic}");
                })
                .ok()
                .flatten()
        });
        match own {
            Some(policy) => std::borrow::Cow::Owned(policy),
            None => std::borrow::Cow::Borrowed(&self.config.retry),
        }
    }

    /// Checks that `event` is in the event map.
    pub(crate) fn check_event(&self, event: &str) -> Result<(), ValidationError> {
        if self.map.contains(event) {
            Ok(())
        } else {
            Err(ValidationError::UnknownEvent { event: event.to_owned(), known: self.map.known_names() })
        }
    }

    /// Checks `target` as a subscription would: see `Engine::check_target`.
    pub(crate) async fn check_target(&self, target: &str) -> Result<reqwest::Url, ValidationError> {
        self.config.policy.check_resolving(target, self.config.resolver.0.as_ref()).await
    }

    /// Where this engine finds hooks, for messages.
    pub(crate) fn hooks_read_from(&self) -> String {
        let elsewhere = self.config.hooks_elsewhere.clone();
        elsewhere.unwrap_or_else(|| "the crate's hook table (`rest_hooks_hook`)".to_owned())
    }

    /// Readies the engine's database before its first pass (WAL on SQLite), and checks that the
    /// engine's connection can read its tables. Until it can, every pass fails with an error log
    /// that names the table and the calls that create it, and tries again later.
    pub(crate) async fn prepare(&self) -> Result<(), sea_orm::DbErr> {
        let ready = self.prepared.get_or_try_init(|| async {
            crate::runtime::pool::prepare(&self.db).await;
            let crate_hooks = self.config.hooks_elsewhere.is_none();
            crate::runtime::tables::readable(&self.db, crate_hooks).await.map_err(|error| {
                tracing::error!(%error, "the engine cannot read its tables: nothing is dispatched until it can");
                sea_orm::DbErr::Custom(error.to_string())
            })
        });
        ready.await.map(drop)
    }

    /// The events held here while their first attempts are under way.
    pub(crate) fn held(&self) -> std::sync::MutexGuard<'_, HeldEvents> {
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records that hook `id` is disabled: its deliveries leased until `until` (Unix ms) and not
    /// started yet are not sent. Called when an answer disables it (until a lease from then, by
    /// which time the disabling is committed and its pending deliveries failed) and again once
    /// the disabling is committed (until then: what is claimed later was enabled again).
    pub(crate) fn hook_disabled(&self, id: &str, until: i64) {
        self.disabled.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id.to_owned(), until);
    }

    /// Records that hook `id` was enabled again.
    pub(crate) fn hook_enabled(&self, id: &str) {
        self.disabled.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(id);
    }

    /// Until when deliveries of hook `id` leased here are not sent, if it was disabled.
    pub(crate) fn disabled_until(&self, id: &str) -> Option<i64> {
        let disabled = self.disabled.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if disabled.is_empty() { None } else { disabled.get(id).copied() }
    }
}
