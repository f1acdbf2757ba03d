//! Foundations: what an event, a hook, an owner and a request are, and the parts that need nothing
//! of a running engine — the event map, signing, the SSRF guard, retry policies, the store's
//! tables, the finder and renderer interfaces, request slots. Nothing here imports from a layer
//! above.

pub(crate) mod changes;
pub(crate) mod clock;
pub mod delivery;
pub(crate) mod error;
pub(crate) mod event;
pub(crate) mod event_map;
pub(crate) mod finder;
pub mod hook;
pub(crate) mod hookable;
pub(crate) mod job;
pub(crate) mod keys;
pub(crate) mod metrics;
#[cfg(feature = "migration")]
pub mod migration;
pub mod net;
pub(crate) mod panics;
#[cfg(test)]
mod proptests;
pub(crate) mod render;
pub mod retry;
pub mod signing;
pub(crate) mod slots;
pub mod store;
pub(crate) mod wire;
