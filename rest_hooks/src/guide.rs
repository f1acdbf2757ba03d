//! The manual: one page per topic, each an empty module whose documentation is the page.
//!
//! The derive's attributes are documented on [`Hookable`](derive@crate::Hookable) itself.
//!
//! | page | what it covers |
//! |---|---|
//! | [`event_map`] | declaring events: `"app.Model.action"`, the `+` suffix, raw events, config files, the checks at start |
//! | [`actions`] | custom actions and raw events; transactions; writes that skip SeaORM's hooks |
//! | [`hook_entities`] | the crate's hook table, the application's own, and the subscription API over it |
//! | [`signing`] | Standard Webhooks signatures, secrets and their rotation, verifying, the SSRF guard, limits |
//! | [`delivery`] | bodies and swap points, responses, order, the retry schedule, disabling, the attempt log, replay, bounds, crashes and shutdown |
//! | [`api`] | the subscription REST API (feature `api`): endpoints, errors, a session against the `bookstore_api` example |
//! | [`deployment`] | runtimes, tests, the engine's own connections, PostgreSQL and MySQL, many processes |
//! | [`operating`] | metrics (names, labels, a Prometheus scrape), tracing spans, what to alert on |
//!
//! The figures of the benchmark are in the repository's
//! [`docs/performance.md`](https://github.com/rest-hooks/rest_hooks/blob/HEAD/docs/performance.md).

#[doc = include_str!("../guide/event_map.md")]
pub mod event_map {}

#[doc = include_str!("../guide/actions.md")]
pub mod actions {}

#[doc = include_str!("../guide/hook_entities.md")]
pub mod hook_entities {}

#[doc = include_str!("../guide/signing.md")]
pub mod signing {}

#[doc = include_str!("../guide/delivery.md")]
pub mod delivery {}

// The page's example and links need the `api` feature; docs.rs builds with every feature.
#[cfg_attr(feature = "api", doc = include_str!("../guide/api.md"))]
#[cfg_attr(not(feature = "api"), doc = "The subscription REST API: this page needs the `api` feature.")]
pub mod api {}

#[doc = include_str!("../guide/deployment.md")]
pub mod deployment {}

#[doc = include_str!("../guide/operating.md")]
pub mod operating {}
