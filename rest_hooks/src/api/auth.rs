//! Who is asking: the application's [`OwnerAuth`] turns a request into the owner whose hooks it
//! may see. Every endpoint but the OpenAPI description runs it first.

use std::future::Future;
use std::pin::Pin;

use axum::extract::FromRequestParts;
use axum::http::HeaderValue;
use axum::http::request::Parts;

use super::ApiState;
use super::error::ApiError;
use crate::hookable::Owner;

/// How the API learns the owner of a request: from a session, a bearer token, an API key — the
/// application's own authentication. The API then never shows, changes or deletes a hook of any
/// other owner.
///
/// A function of the request's head is one:
///
/// ```
/// use rest_hooks::Owner;
/// use rest_hooks::api::Unauthorized;
///
/// fn by_api_key(request: &axum::http::request::Parts) -> Result<Owner, Unauthorized> {
///     match request.headers.get("x-api-key").and_then(|key| key.to_str().ok()) {
///         Some("key-of-user-7") => Ok(Owner::from(7)),
///         Some(_) => Err(Unauthorized::new("unknown API key")),
///         None => Err(Unauthorized::new("send your API key in `x-api-key`")),
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
/// use rest_hooks::api::{OwnerAuth, Unauthorized};
///
/// struct Sessions { db: sea_orm::DatabaseConnection }
///
/// impl OwnerAuth for Sessions {
///     async fn owner(&self, request: &axum::http::request::Parts) -> Result<Owner, Unauthorized> {
///         let cookie = request.headers.get("cookie").ok_or_else(|| Unauthorized::new("log in first"))?;
///         # let _ = (&self.db, cookie);
///         // … look the session up in self.db …
///         Ok(Owner::from(7))
///     }
/// }
/// ```
pub trait OwnerAuth: Send + Sync + 'static {
    /// The owner the request acts for, or why it is refused (answered `401`).
    fn owner(&self, request: &Parts) -> impl Future<Output = Result<Owner, Unauthorized>> + Send;
}

impl<F> OwnerAuth for F
where
    F: Fn(&Parts) -> Result<Owner, Unauthorized> + Send + Sync + 'static,
{
    fn owner(&self, request: &Parts) -> impl Future<Output = Result<Owner, Unauthorized>> + Send {
        std::future::ready(self(request))
    }
}

/// A refused request: answered `401` with `{"error": "unauthorized", "message": …}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unauthorized {
    message: String,
    challenge: Option<HeaderValue>,
}

impl Unauthorized {
    /// A refusal saying `message` to the client.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), challenge: None }
    }

    /// Adds a `WWW-Authenticate` header, such as `Bearer`. A value that is not a valid header is
    /// left out.
    pub fn challenge(mut self, challenge: &str) -> Self {
        self.challenge = HeaderValue::from_str(challenge).ok();
        self
    }
}

impl From<Unauthorized> for ApiError {
    fn from(refused: Unauthorized) -> Self {
        ApiError::unauthorized(refused.message, refused.challenge)
    }
}

/// [`OwnerAuth`] behind a pointer, so that the handlers need not be generic.
pub(crate) trait ErasedAuth: Send + Sync {
    fn owner<'a>(
        &'a self,
        request: &'a Parts,
    ) -> Pin<Box<dyn Future<Output = Result<Owner, Unauthorized>> + Send + 'a>>;
}

impl<A: OwnerAuth> ErasedAuth for A {
    fn owner<'a>(
        &'a self,
        request: &'a Parts,
    ) -> Pin<Box<dyn Future<Output = Result<Owner, Unauthorized>> + Send + 'a>> {
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
