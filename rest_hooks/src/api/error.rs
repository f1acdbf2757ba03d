//! The one error shape of the API: `{"error": kind, "field": …, "message": …}` with its status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// What kind of error: `bad_request`, `unauthorized`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `conflict`, `payload_too_large`, `unsupported_media_type`,
    /// `validation`, `internal` or `unavailable`. Stable; match on it.
    #[schema(example = "validation")]
    pub(crate) error: &'static str,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "event")]
    pub(crate) field: Option<String>,
    /// What was wrong, for people.
    #[schema(example = "unknown event `book.addded`; known: book.added, book.changed")]
    pub(crate) message: String,
}

/// An error answer: a status and an [`ErrorBody`].
#[derive(Clone, Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: ErrorBody,
    challenge: Option<HeaderValue>,
}

impl ApiError {
    fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        Self { status, body: ErrorBody { error, field: None, message: message.into() }, challenge: None }
    }

    /// 422: `field` holds a value the API cannot take.
    pub(crate) fn validation(field: Option<String>, message: impl Into<String>) -> Self {
        let mut error = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", message);
        error.body.field = field;
        error
    }

    /// 400: the request cannot be read (malformed JSON, a bad query string).
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 400 naming the query parameter at fault.
    pub(crate) fn bad_parameter(field: &str, message: impl Into<String>) -> Self {
        let mut error = Self::bad_request(message);
        error.body.field = Some(field.to_owned());
        error
    }

    /// 401, with the `WWW-Authenticate` challenge when the application gave one.
    pub(crate) fn unauthorized(message: impl Into<String>, challenge: Option<HeaderValue>) -> Self {
        Self { challenge, ..Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message) }
    }

    /// 403: the application's authentication knows the caller and refuses them.
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 503: the application's authentication cannot answer now.
    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 404: no such hook for this owner (whether it exists for another owner is not said).
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 405.
    pub(crate) fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", message)
    }

    /// 409: the request is fine but the hook's state, or another hook, refuses it.
    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 409: another hook already has this value of `field`, which a unique index of the
    /// application's allows once; `None` when the index's columns are not known.
    pub(crate) fn duplicate(field: Option<&str>) -> Self {
        let message = match field {
            Some(field) => format!("a hook with this `{field}` already exists; change or delete that one"),
            None => "such a hook already exists; change or delete that one".to_owned(),
        };
        let mut error = Self::conflict(message);
        error.body.field = field.map(str::to_owned);
        error
    }

    /// 413.
    pub(crate) fn payload_too_large(limit: usize) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("the body is larger than {limit} bytes"))
    }

    /// 415.
    pub(crate) fn unsupported_media_type(found: Option<&str>) -> Self {
        let found = found.map_or_else(|| "none".to_owned(), |value| format!("`{value}`"));
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("the body must be JSON with `Content-Type: application/json`; the content type was {found}"),
        )
    }

    /// 500. The cause is logged, not sent: it may describe the database.
    pub(crate) fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "the hooks API could not complete a request");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server could not complete the request")
    }

    /// The status.
    #[cfg(test)]
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// The body.
    #[cfg(test)]
    pub(crate) fn body(&self) -> &ErrorBody {
        &self.body
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::internal(&error)
    }
}

/// A refused event or target. A target the SSRF guard refuses for where it leads is refused
/// without saying what its host resolves to, or whether it resolves at all (an owner could map the
/// server's network with it), and no refusal of the guard says how the engine's developer would
/// allow the target.
impl From<crate::foundation::error::ValidationError> for ApiError {
    fn from(error: crate::foundation::error::ValidationError) -> Self {
        use crate::foundation::net::OwnerView;

        let field = Some(error.field().to_owned());
        let crate::foundation::error::ValidationError::Target { target, reason } = &error else {
            return Self::validation(field, error.to_string());
        };
        let shown = match crate::foundation::net::owner_view(reason) {
            None => return Self::validation(field, error.to_string()),
            Some(OwnerView::Written(shown)) => shown,
            Some(OwnerView::Address) => REFUSED_ADDRESS,
            Some(OwnerView::Name) => REFUSED_NAME,
        };
        tracing::info!(%target, %reason, "the hooks API refused a target");
        Self::validation(field, format!("target `{target}` is not accepted: {shown}"))
    }
}

/// What an owner is told of a target the SSRF guard refuses for the address it leads to.
pub(crate) const REFUSED_ADDRESS: &str =
    "it leads to an address this server does not send to (loopback, private, link-local or otherwise reserved)";

/// What an owner is told of a target whose host name does not resolve, or resolves to an address
/// the SSRF guard refuses.
const REFUSED_NAME: &str = "its host does not resolve, or it leads to an address this server does not send to \
     (loopback, private, link-local or otherwise reserved)";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

/// The error answers of the OpenAPI description, shared by the operations they apply to. Only
/// documented, never built: the answers themselves are [`ApiError`]s.
pub(crate) mod documented {
    #![allow(dead_code)]

    use super::ErrorBody;

    /// Every operation: the application's authentication, and the server's own failures.
    #[derive(utoipa::IntoResponses)]
    pub(crate) enum Always {
        /// Not authenticated: no credentials, or credentials the application refuses.
        #[response(status = 401)]
        Unauthorized(ErrorBody),
        /// Authenticated, but not allowed to manage hooks.
        #[response(status = 403)]
        Forbidden(ErrorBody),
        /// The server failed; the cause is in its log.
        #[response(status = 500)]
        Internal(ErrorBody),
        /// The credentials cannot be checked now: try again later.
        #[response(status = 503)]
        Unavailable(ErrorBody),
    }

    /// Operations on one hook.
    #[derive(utoipa::IntoResponses)]
    pub(crate) enum HookErrors {
        /// No such hook for this owner; another owner's hook answers the same.
        #[response(status = 404)]
        NotFound(ErrorBody),
    }

    /// Operations that take a JSON body.
    #[derive(utoipa::IntoResponses)]
    pub(crate) enum BodyErrors {
        /// The body is not valid JSON.
        #[response(status = 400)]
        BadRequest(ErrorBody),
        /// The body is larger than the API's limit.
        #[response(status = 413)]
        PayloadTooLarge(ErrorBody),
        /// The body is not `application/json`.
        #[response(status = 415)]
        UnsupportedMediaType(ErrorBody),
        /// A field is missing, unknown, of the wrong type, or refused (an unknown event, a target
        /// the SSRF guard refuses): `field` names it.
        #[response(status = 422)]
        Validation(ErrorBody),
    }

    /// Operations that take a query string.
    #[derive(utoipa::IntoResponses)]
    pub(crate) enum QueryErrors {
        /// A query parameter is unknown or out of range: `field` names it when it can.
        #[response(status = 400)]
        BadRequest(ErrorBody),
    }
}
