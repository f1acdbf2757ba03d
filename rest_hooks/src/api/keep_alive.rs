//! Connections that clients can reuse. hyper closes a kept-alive HTTP/1 connection whose request
//! body the handler left unread, without saying so, and a client that reuses it loses its next
//! request. So every request's body is read, up to the API's limit, before any handler runs:
//! answers that never look at it (`401` before the body, `404` and `405` fallbacks, routes that
//! take no body) leave the connection as reusable as any other. A body that cannot be read to its
//! end (past the limit, or broken off) is answered with `Connection: close`, so that the client
//! sends its next request on a fresh connection.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Version, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::error::ApiError;

/// Reads the request's body (at most `limit` bytes) before the handler runs, or answers without
/// running it, closing the connection, when the body cannot be read.
pub(crate) async fn read_body(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    if declared_length(&parts.headers).is_some_and(|length| length > limit as u64) {
        return closing(parts.version, ApiError::payload_too_large(limit).into_response());
    }
    match collect(body, limit).await {
        Ok(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Err(refused) => closing(parts.version, refused.into_response()),
    }
}

/// The body's length as the client declared it, when it did.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// The whole body, or the refusal: `413` past `limit`, `400` when it breaks off.
async fn collect(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let mut stream = body.into_data_stream();
    let mut collected = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| ApiError::bad_request(format!("the body could not be read: {error}")))?;
        if collected.len().saturating_add(chunk.len()) > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        collected.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(collected))
}

/// `response`, saying that the connection closes after it (HTTP/1 only: HTTP/2 has no such header
/// and ends streams on its own).
fn closing(version: Version, mut response: Response) -> Response {
    if version <= Version::HTTP_11 {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
