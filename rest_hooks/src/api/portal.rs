//! The owner portal: one HTML page (`GET /portal`) and its script (`GET /portal.js`) through
//! which an owner manages their hooks in a browser. Both are static and hold no secrets, so they
//! ask for no credentials; the script calls the JSON API beside them, with the browser's session
//! cookie or a bearer token the owner pastes, and the API checks those as on any other request.
//!
//! The page is served with a Content-Security-Policy that lets it run only the script of this
//! route, its own inline style (by hash), and `fetch` to its own origin: no inline script, no
//! other origin, no framing. The script writes everything it reads with `textContent`.

use std::sync::LazyLock;

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

/// The page.
const HTML: &str = include_str!("portal.html");

/// The page's script.
const SCRIPT: &str = include_str!("portal.js");

/// The page's policy: its script, its inline style, its origin.
static POLICY: LazyLock<String> = LazyLock::new(|| {
    let style = HTML.split_once("<style>").and_then(|(_, rest)| rest.split_once("</style>")).map_or("", |(css, _)| css);
    let digest = ring::digest::digest(&ring::digest::SHA256, style.as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
    format!(
        "default-src 'none'; script-src 'self'; style-src 'sha256-{hash}'; connect-src 'self'; img-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
});

/// `GET /portal`.
pub(crate) async fn page() -> Response {
    serve("text/html; charset=utf-8", HTML, Some(&POLICY))
}

/// `GET /portal.js`.
pub(crate) async fn script() -> Response {
    serve("text/javascript; charset=utf-8", SCRIPT, None)
}

/// `body` as `content_type`, never cached, never sniffed, under `policy` when given.
fn serve(content_type: &'static str, body: &'static str, policy: Option<&str>) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Some(policy) = policy.and_then(|policy| HeaderValue::from_str(policy).ok()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
        headers.insert(HeaderName::from_static("x-frame-options"), HeaderValue::from_static("DENY"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_hashes_the_inline_style_and_allows_no_inline_script() {
        assert!(HTML.contains("<style>") && POLICY.contains("style-src 'sha256-"), "{}", *POLICY);
        assert!(!POLICY.contains("unsafe"), "{}", *POLICY);
        assert!(HTML.contains(r#"<script src="portal.js" defer></script>"#));
        assert_eq!(HTML.matches("<script").count(), 1, "no inline script");
    }

    #[test]
    fn the_script_writes_no_markup() {
        assert!(
            !SCRIPT.contains("innerHTML") && !SCRIPT.contains("outerHTML") && !SCRIPT.contains("insertAdjacentHTML")
        );
        assert!(!SCRIPT.contains("document.write") && !SCRIPT.contains("eval("));
    }
}
