//! The runtime context every part of a running engine shares: its configuration, the application's
//! code and callbacks, the engine's own connections, and the signals that wake the actors.

pub(crate) mod config;
pub(crate) mod pool;
pub(crate) mod shared;
pub(crate) mod signals;
pub(crate) mod tables;
