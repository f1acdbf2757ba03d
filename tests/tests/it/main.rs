//! Integration tests: a real receiver on 127.0.0.1 and a real SQLite database per test, each test
//! with its own engine, side by side in one binary.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod api;
mod attempts;
mod backends;
mod changes;
mod crash;
mod custom;
mod derive_ui;
mod dispatch_errors;
mod event_map;
mod fairness;
mod isolation;
mod lifecycle;
mod limits;
mod metrics;
mod ordering;
mod own_api;
mod owners;
mod payloads;
mod portal;
mod replay;
mod resilience;
mod retries;
mod roles;
mod runtimes;
mod scale;
mod signing;
mod ssrf;
mod store;
mod transactions;
mod upgrade;
mod validation;
