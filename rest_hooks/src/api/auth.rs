//! Who is asking: the application's [`OwnerAuth`] turns a request into the owner whose hooks it
//! may see. Every endpoint but the OpenAPI description runs it first.

use std::future::Future;
use std::pin::Pin;

use axum::extract::FromRequestParts;
use axum::http::HeaderValue;
use axum::http::request::Parts;

use super::ApiState;
use super::error::ApiError;
use crate::foundation::hookable::Owner;

/// How the API learns the owner of a request: from a session, a bearer token, an API key — the
/// application's own authentication. The API then never shows, changes or deletes a hook of any
/// other owner.
///
/// A function of the request's head is one:
///
/// ```
/// use rest_hooks::Owner;
/// use rest_hooks::api::Refusal;
///
/// fn by_api_key(request: &axum::http::request::Parts) -> Result<Owner, Refusal> {
///     match request.headers.get("x-api-key").and_then(|key| key.to_str().ok()) {
///         Some("key-of-user-7") => Ok(Owner::from(7)),
///         Some(_) => Err(Refusal::unauthorized("unknown API key")),
///         None => Err(Refusal::unauthorized("send your API key in `x-api-key`")),
///     }
/// }
/// # fn check<A: rest_hooks::api::OwnerAuth>(_: A) {}
/// # check(by_api_key);
/// ```
///
/// Authentication that has to wait (a session store, a token introspection call) implements the
/// trait with an `async fn`:
///
/// ```
/// use rest_hooks::Owner;
/// use rest_hooks::api::{OwnerAuth, Refusal};
///
/// struct Sessions { db: sea_orm::DatabaseConnection }
///
/// impl OwnerAuth for Sessions {
///     async fn owner(&self, request: &axum::http::request::Parts) -> Result<Owner, Refusal> {
///         let cookie = request.headers.get("cookie").ok_or_else(|| Refusal::unauthorized("log in first"))?;
///         # let _ = (&self.db, cookie);
///         // … look the session up in self.db …
///         Ok(Owner::from(7))
///     }
/// }
/// ```
pub trait OwnerAuth: Send + Sync + 'static {
    /// The owner the request acts for, or why it is refused (answered `401`, `403` or `503`).
    fn owner(&self, request: &Parts) -> impl Future<Output = Result<Owner, Refusal>> + Send;
}

impl<F> OwnerAuth for F
where
    F: Fn(&Parts) -> Result<Owner, Refusal> + Send + Sync + 'static,
{
    fn owner(&self, request: &Parts) -> impl Future<Output = Result<Owner, Refusal>> + Send {
        std::future::ready(self(request))
    }
}

/// Why [`OwnerAuth`] refused a request, answered in the API's error shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    kind: RefusalKind,
    message: String,
    challenge: Option<HeaderValue>,
}

/// The answers a refusal can be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RefusalKind {
    Unauthorized,
    Forbidden,
    Unavailable,
}

impl Refusal {
    /// `401 unauthorized`: no credentials, or ones that are not valid. Clients such as Zapier
    /// take it to mean the connection must be set up again.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self { kind: RefusalKind::Unauthorized, message: message.into(), challenge: None }
    }

    /// `403 forbidden`: valid credentials of someone who may not manage hooks.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self { kind: RefusalKind::Forbidden, ..Self::unauthorized(message) }
    }

    /// `503 unavailable`: the credentials could not be checked now (a session store is down);
    /// the client should try again later, not drop its connection.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self { kind: RefusalKind::Unavailable, ..Self::unauthorized(message) }
    }

    /// Adds a `WWW-Authenticate` header to a `401`, such as `Bearer`. A value that is not a valid
    /// header is left out.
    pub fn challenge(mut self, challenge: &str) -> Self {
        self.challenge = HeaderValue::from_str(challenge).ok();
        self
    }
}

impl From<Refusal> for ApiError {
    fn from(refused: Refusal) -> Self {
        match refused.kind {
            RefusalKind::Unauthorized => ApiError::unauthorized(refused.message, refused.challenge),
            RefusalKind::Forbidden => ApiError::forbidden(refused.message),
            RefusalKind::Unavailable => ApiError::unavailable(refused.message),
        }
    }
}

/// [`OwnerAuth`] behind a pointer, so that the handlers need not be generic.
pub(crate) trait ErasedAuth: Send + Sync {
    fn owner<'a>(&'a self, request: &'a Parts) -> Pin<Box<dyn Future<Output = Result<Owner, Refusal>> + Send + 'a>>;
}

impl<A: OwnerAuth> ErasedAuth for A {
    fn owner<'a>(&'a self, request: &'a Parts) -> Pin<Box<dyn Future<Output = Result<Owner, Refusal>> + Send + 'a>> {
        Box::pin(OwnerAuth::owner(self, request))
    }
}

/// The owner of the request, as the application's [`OwnerAuth`] says.
#[derive(Clone, Debug)]
pub(crate) struct Caller(pub(crate) Owner);

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        Ok(Caller(state.auth.owner(parts).await?))
    }
}
