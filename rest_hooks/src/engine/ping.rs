//! Test deliveries: one signed request to a hook, sent now and answered to the caller. They go
//! through the engine's deliverer (signing, the SSRF guard, timeouts) but not through the outbox:
//! nothing is stored, retried or logged, and a failing answer does not count against the hook.

use std::time::{Duration, Instant};

use serde_json::json;
use uuid::Uuid;

use crate::engine::Engine;
use crate::foundation::error::DeliveryError;
use crate::foundation::hook::HookTarget;
use crate::foundation::wire::{Request, Response};

/// What a [test delivery](Engine::test_delivery) got back.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestDelivery {
    /// The `webhook-id` it was sent with: a fresh one, never a real delivery's.
    pub message_id: String,
    /// The exact body sent.
    pub body: String,
    /// The receiver's answer, or why there was none.
    pub outcome: Result<Response, DeliveryError>,
    /// How long it took.
    pub duration: Duration,
}

impl TestDelivery {
    /// Whether the receiver answered 2xx.
    pub fn is_success(&self) -> bool {
        self.outcome.as_ref().is_ok_and(Response::is_success)
    }
}

impl Engine {
    /// Sends `hook` a test delivery now and waits for the answer: the body is
    /// `{"hook": {"id", "event", "target"}, "data": {"test": true}}`, signed with the hook's
    /// secrets like any delivery. A hook the engine disabled can be tested too, to check that its
    /// receiver is back before [enabling](Self::enable_hook) it.
    pub async fn test_delivery(&self, hook: &HookTarget) -> TestDelivery {
        let body = json!({ "hook": hook.meta(), "data": { "test": true } }).to_string();
        let request =
            Request { delivery_id: Uuid::now_v7(), hook: hook.clone(), event: hook.event.clone(), body, attempt: 1 };
        let started = Instant::now();
        let outcome = crate::pipeline::deliver::send(self.shared(), &request).await;
        TestDelivery { message_id: request.message_id(), body: request.body, outcome, duration: started.elapsed() }
    }
}
