//! The engine handle: the event map, the actors, and which engine a save talks to.
//!
//! Saves find their engine without being handed one (SeaORM's hooks take no extra arguments): the
//! engine installed for the process by [`Builder::start`](crate::Builder::start), or the one a task runs under with
//! [`Engine::scope`], which wins. Scoping is how tests run side by side in one binary, each with its
//! own engine and database.

pub(crate) mod builder;
#[cfg_attr(not(feature = "api"), allow(dead_code))]
pub(crate) mod hook_table;
mod hooks;
pub(crate) mod inspect;
pub mod own_hooks;
pub(crate) mod ping;
pub(crate) mod record;
mod replay;
mod tables;

use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::thread;

use actix::{Actor, Addr, Supervisor};
use sea_orm::DatabaseConnection;
use tokio::runtime::Handle;

use crate::actors::delivery::DeliveryActor;
use crate::actors::registry::RegistryActor;
use crate::actors::writer::OutcomeWriter;
use crate::engine::hook_table::TableOf;
use crate::foundation::error::{BuildError, ValidationError};
use crate::foundation::event_map::EventMap;
use crate::runtime::shared::Shared;
use crate::runtime::signals::{Nudge, Signals};

tokio::task_local! {
    static SCOPED: Engine;
}

static PROCESS: RwLock<Option<Engine>> = RwLock::new(None);

/// A running engine. Cheap to clone; every clone talks to the same actors.
///
/// Dropping the last clone (the process-wide slot holds one: see [`Engine::shutdown`]) stops the
/// actor thread; deliveries not yet made stay in the database for the next start.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    /// The actors, when this engine delivers (see [`Builder::deliver`](crate::Builder::deliver)).
    actors: Option<Actors>,
    /// The hook entity the engine reads, for the subscription API; none with a custom finder.
    hook_table: Option<TableOf>,
}

struct Actors {
    registry: Addr<RegistryActor>,
    system: actix::System,
    /// The PostgreSQL listener task, when there is one.
    listener: Option<tokio::task::AbortHandle>,
}

impl Actors {
    fn stop(&self) {
        if let Some(listener) = &self.listener {
            listener.abort();
        }
        self.system.stop();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Release);
        if let Some(actors) = &self.actors {
            actors.stop();
        }
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("events", &self.inner.shared.map.known_names()).finish_non_exhaustive()
    }
}

impl Engine {
    /// The engine this task runs under ([`scope`](Self::scope)), else the process-wide one.
    pub fn current() -> Option<Engine> {
        SCOPED.try_with(Engine::clone).ok().or_else(|| PROCESS.read().ok().and_then(|engine| engine.clone()))
    }

    /// Runs `future` with this engine as the current one for every save it makes, whatever the
    /// process-wide engine is. Tasks it spawns do not inherit the scope.
    pub async fn scope<F: IntoFuture>(&self, future: F) -> F::Output {
        SCOPED.scope(self.clone(), future.into_future()).await
    }

    /// Makes this engine the process-wide one, replacing any other.
    pub fn install(&self) {
        if let Ok(mut slot) = PROCESS.write() {
            *slot = Some(self.clone());
        }
    }

    /// The validated event map.
    pub fn event_map(&self) -> &EventMap {
        &self.inner.shared.map
    }

    /// The database the engine dispatches from.
    pub fn db(&self) -> &DatabaseConnection {
        &self.inner.shared.db
    }

    /// Asks the dispatcher to look for committed events now. Saves do this by themselves; call it
    /// after committing a transaction to skip the wait for the next look (at most a millisecond
    /// within 250 ms of a save, the idle poll after).
    pub fn wake(&self) {
        if let Some(actors) = &self.inner.actors {
            actors.registry.do_send(Nudge);
        }
    }

    /// Stops the engine gracefully: nothing new is claimed, passes under way finish, requests in
    /// flight get until the [shutdown deadline](crate::Builder::shutdown_deadline) to finish and have their
    /// outcomes written (and deliveries waiting for their receiver their rows), queued deliveries whose turn comes meanwhile give their lease back, then
    /// the actors stop. What is left waits in the database for the next start: events not yet
    /// dispatched, deliveries not yet due, and deliveries still running or queued at the deadline
    /// (taken over once their lease expires). The process-wide slot is cleared if it holds this engine.
    pub async fn shutdown(&self) {
        if let Ok(mut slot) = PROCESS.write()
            && slot.as_ref().is_some_and(|installed| Arc::ptr_eq(&installed.inner, &self.inner))
        {
            *slot = None;
        }
        let shared = &self.inner.shared;
        shared.stopped.store(true, Ordering::Release);
        drop(shared.passes.write().await);
        if self.inner.actors.is_some() {
            let deadline = std::time::Instant::now() + shared.config.shutdown_deadline;
            let busy = || shared.in_flight.load(Ordering::Acquire) + shared.unwritten.load(Ordering::Acquire) > 0;
            while busy() && std::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
        if let Some(actors) = &self.inner.actors {
            actors.stop();
        }
    }

    /// Checks that `event` is in the event map.
    pub fn check_event(&self, event: &str) -> Result<(), ValidationError> {
        self.shared().check_event(event)
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// An engine that records and never delivers: no actors, no thread.
    pub(crate) fn record_only(shared: Arc<Shared>, hook_table: Option<TableOf>) -> Engine {
        Engine { inner: Arc::new(Inner { shared, actors: None, hook_table }) }
    }

    /// The hook entity the engine reads, for the subscription API; none with a custom finder.
    #[cfg_attr(not(feature = "api"), allow(dead_code))]
    pub(crate) fn hook_table(&self) -> Option<&TableOf> {
        self.inner.hook_table.as_ref()
    }

    /// Spawns the actor system on its own thread and starts the actors in it.
    pub(crate) fn spawn(shared: Arc<Shared>, hook_table: Option<TableOf>) -> Result<Engine, BuildError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let actor_shared = Arc::clone(&shared);
        thread::Builder::new()
            .name("rest-hooks".to_owned())
            .spawn(move || {
                let system = actix::System::new();
                system.block_on(async move {
                    let writer = OutcomeWriter::new(Arc::clone(&actor_shared)).start();
                    let delivery_shared = Arc::clone(&actor_shared);
                    let delivery =
                        Supervisor::start(move |_| DeliveryActor::new(Arc::clone(&delivery_shared), writer.clone()));
                    let registry_shared = Arc::clone(&actor_shared);
                    let registry =
                        Supervisor::start(move |_| RegistryActor::new(Arc::clone(&registry_shared), delivery.clone()));
                    let _ = ready_tx.send((registry, actix::System::current()));
                });
                let _ = system.run();
            })
            .map_err(|e| BuildError::Thread(e.to_string()))?;
        let (registry, system) =
            ready_rx.recv().map_err(|_| BuildError::Thread("the actor thread exited during start".to_owned()))?;
        shared.set_signals(Signals::of(&registry));
        let listener = crate::actors::listen::spawn(&shared);
        let actors = Some(Actors { registry, system, listener });
        let engine = Engine { inner: Arc::new(Inner { shared, actors, hook_table }) };
        engine.wake();
        Ok(engine)
    }
}

/// The runtime the engine's work runs on: the one `start` was called from.
pub(crate) fn current_runtime() -> Result<Handle, BuildError> {
    Handle::try_current().map_err(|_| BuildError::NoRuntime)
}
