//! The actors: thin shells that drive the pipeline — the registry decides when dispatch passes run,
//! the delivery actor starts requests in their slots, the outcome writer batches what came back,
//! the listener turns PostgreSQL notifications into nudges.

pub(crate) mod delivery;
pub(crate) mod listen;
pub(crate) mod registry;
pub(crate) mod writer;
