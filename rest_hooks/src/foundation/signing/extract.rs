//! An axum extractor that accepts only correctly signed, recent requests.

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{Verifier, VerifyError};

/// The body of a request whose Standard Webhooks signature checked out against the [`Verifier`]
/// in the router's state (through [`FromRef`]). A request that fails is answered `401` with the
/// reason, or `400` when the body cannot be read.
///
/// ```
/// use axum::{Router, routing::post};
/// use rest_hooks::signing::{Verified, Verifier};
///
/// async fn receive(body: Verified) -> &'static str {
///     let event: serde_json::Value = body.json().unwrap_or_default();
///     println!("got {}", event["hook"]["event"]);
///     "ok"
/// }
///
/// # fn app() -> Result<(), rest_hooks::signing::SecretError> {
/// let verifier = Verifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let app: Router = Router::new().route("/hooks", post(receive)).with_state(verifier);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Verified(pub Bytes);

impl Verified {
    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.0)
    }
}

impl<S> FromRequest<S> for Verified
where
    S: Send + Sync,
    Verifier: FromRef<S>,
{
    type Rejection = VerifiedRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Verifier::from_ref(state);
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| VerifiedRejection::Body(rejection.status(), rejection.body_text()))?;
        verifier.verify(&headers, &body).map_err(VerifiedRejection::Invalid)?;
        Ok(Verified(body))
    }
}

/// Why [`Verified`] refused a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifiedRejection {
    /// The body could not be read (too large, connection lost).
    #[error("cannot read the body: {1}")]
    Body(StatusCode, String),
    /// The signature, its headers or its timestamp were refused.
    #[error("webhook refused: {0}")]
    Invalid(VerifyError),
}

impl IntoResponse for VerifiedRejection {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Body(status, _) => *status,
            Self::Invalid(_) => StatusCode::UNAUTHORIZED,
        };
        (status, self.to_string()).into_response()
    }
}
