//! What one request is: what a deliverer is asked to send, and what the receiver answered.

use uuid::Uuid;

use crate::foundation::hook::HookTarget;

/// What a [`Deliverer`](crate::Deliverer) is asked to send.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Request {
    /// The delivery id: the same on every attempt, sent as `webhook-id` by the HTTP deliverer.
    pub delivery_id: Uuid,
    /// The hook it goes to.
    pub hook: HookTarget,
    /// The event name.
    pub event: String,
    /// The exact body to send.
    pub body: String,
    /// Which attempt this is, from 1.
    pub attempt: u32,
}

impl Request {
    /// The `webhook-id` header value: `msg_` and the delivery id.
    pub fn message_id(&self) -> String {
        format!("msg_{}", self.delivery_id.simple())
    }
}

/// What the receiver answered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The start of the response body, at most [`Config::response_excerpt`](crate::Builder::response_excerpt) bytes.
    pub body: String,
    /// The `Retry-After` header, when there was one: seconds or an HTTP date.
    pub retry_after: Option<String>,
}

impl Response {
    /// A response with `status` and (the start of) `body`.
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self { status, body: body.into(), retry_after: None }
    }

    /// The response with a `Retry-After` header of `value`.
    pub fn with_retry_after(mut self, value: impl Into<String>) -> Self {
        self.retry_after = Some(value.into());
        self
    }

    /// Whether the status is 2xx. Redirects are failures: they are never followed.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}
