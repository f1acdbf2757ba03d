//! Reading requests, with every refusal in the API's error shape: 415 for a body that is not
//! JSON, 413 past the body limit, 400 for JSON that does not parse, 422 naming the field for JSON
//! that parses into the wrong shape, 400 for a bad query string, 404 for a hook id that cannot be
//! read.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use super::ApiState;
use super::error::ApiError;

/// A JSON body. An empty body reads as `{}`, whatever its content type, so that requests whose
/// fields are all optional need none.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<ApiState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &ApiState) -> Result<Self, ApiError> {
        let content_type =
            request.headers().get(header::CONTENT_TYPE).map(|value| value.to_str().unwrap_or("(not text)").to_owned());
        let limit = state.body_limit;
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large(limit)
            } else {
                ApiError::bad_request(rejection.body_text())
            }
        })?;
        if bytes.is_empty() {
            return parse(b"{}").map(JsonBody);
        }
        if !content_type.as_deref().is_some_and(is_json) {
            return Err(ApiError::unsupported_media_type(content_type.as_deref()));
        }
        parse(&bytes).map(JsonBody)
    }
}

/// The body limit unless [`HooksApi::body_limit`](super::HooksApi::body_limit) sets another.
pub(crate) const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// `application/json` or any `+json` type, parameters allowed.
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses `bytes` as a `T`: 400 when it is not JSON, 422 naming the field when it is JSON of the
/// wrong shape.
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            Category::Data => {
                let message = without_position(&inner);
                let field = if path == "." { named_field(&message) } else { Some(path) };
                ApiError::validation(field, message)
            }
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::bad_request(format!("the body is not valid JSON: {inner}"))
            }
        }
    })?;
    deserializer.end().map_err(|error| ApiError::bad_request(format!("the body is not valid JSON: {error}")))?;
    Ok(value)
}

/// serde_json's message without its ` at line 1 column 9` suffix, which says nothing to a client
/// that sent one line.
fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

/// The field a `missing field `x`` or `unknown field `x`` message names.
fn named_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `").or_else(|| message.strip_prefix("unknown field `"))?;
    rest.split('`').next().map(str::to_owned)
}

/// A query string, refused with 400 when it does not fit `T`.
#[derive(Debug)]
pub(crate) struct QueryParams<T>(pub(crate) T);

impl<T, S> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(params)| QueryParams(params))
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
    }
}

/// The `{id}` of a hook's path, as text. An id that is percent-encoded, in part or whole
/// (`%31%30` for `10`), is a hook that does not exist, like any id not in the form the API shows
/// it; so is one that cannot be read (bad percent-encoding).
#[derive(Debug)]
pub(crate) struct HookPath(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for HookPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found(format!("no route `{}`", parts.uri.path())))?;
        if raw_id(parts.uri.path()) != id {
            return Err(super::hooks::not_found(raw_id(parts.uri.path())));
        }
        Ok(HookPath(id))
    }
}

/// The id of a hook's path as it was sent, not decoded: the first segment of the path below the
/// mount point (every route with an id starts `/{id}`).
fn raw_id(path: &str) -> &str {
    path.trim_start_matches('/').split('/').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Shape {
        event: String,
        active: Option<bool>,
    }

    fn refused(body: &str) -> (u16, Option<String>, String) {
        let error = parse::<Shape>(body.as_bytes()).expect_err("refused");
        (error.status().as_u16(), error.body().field.clone(), error.body().message.clone())
    }

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }

    #[test]
    fn shape_errors_name_the_field() {
        assert_eq!(refused(r#"{"active": true}"#), (422, Some("event".into()), "missing field `event`".into()));
        let (status, field, message) = refused(r#"{"event": "a", "evnt": 1}"#);
        assert_eq!((status, field.as_deref()), (422, Some("evnt")));
        assert!(message.starts_with("unknown field `evnt`, expected"), "{message}");
        let (status, field, message) = refused(r#"{"event": 5}"#);
        assert_eq!((status, field.as_deref()), (422, Some("event")));
        assert_eq!(message, "invalid type: integer `5`, expected a string");
        assert_eq!(refused(r#"{"event": "a", "active": "yes"}"#).1.as_deref(), Some("active"));
        assert_eq!(refused("[1]").0, 422);
    }

    #[test]
    fn the_raw_id_is_the_first_segment() {
        assert_eq!(raw_id("/%31%30/rotate-secret"), "%31%30");
        assert_eq!(raw_id("/10"), "10");
        assert_eq!(raw_id("/"), "");
    }

    #[test]
    fn syntax_errors_are_bad_requests() {
        assert_eq!(refused(r#"{"event": "#).0, 400);
        assert_eq!(refused("not json").0, 400);
        assert_eq!(refused(r#"{"event": "a"} trailing"#).0, 400);
    }
}
