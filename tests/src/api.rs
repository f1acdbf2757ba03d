//! The subscription API served for real on 127.0.0.1, and a client that speaks to it as an
//! integration would: bearer tokens, JSON bodies, status codes.

use reqwest::Method;
use reqwest::header::HeaderMap;
use rest_hooks::Owner;
use rest_hooks::api::{HooksApi, Refusal};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::Harness;

/// Where the tests nest the router.
pub const MOUNT: &str = "/api/v1/hooks";

/// The toy authentication of the tests: `Bearer token-N` acts for owner N (1 to 9).
pub fn bearer(request: &axum::http::request::Parts) -> Result<Owner, Refusal> {
    let header = request.headers.get("authorization").and_then(|value| value.to_str().ok());
    let token = header.and_then(|value| value.strip_prefix("Bearer token-"));
    match token.and_then(|n| n.parse::<i32>().ok()).filter(|n| (1..=9).contains(n)) {
        Some(owner) => Ok(Owner::from(owner)),
        None if header.is_some() => Err(Refusal::unauthorized("unknown token").challenge("Bearer")),
        None => Err(Refusal::unauthorized("send `Authorization: Bearer <token>`").challenge("Bearer")),
    }
}

/// An answer of the API.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
}

impl Answer {
    /// The `error` kind of an error answer.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
}

/// The API of a [`Harness`]'s engine, served on an ephemeral port of 127.0.0.1.
pub struct ApiServer {
    base: String,
    client: reqwest::Client,
}

impl ApiServer {
    /// Serves `api` nested at [`MOUNT`].
    pub async fn serve(api: HooksApi) -> ApiServer {
        let app: axum::Router = axum::Router::new().nest(MOUNT, api.router());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the API server");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        ApiServer { base, client: reqwest::Client::new() }
    }

    /// Serves the API of `h`'s engine with [`bearer`] authentication.
    pub async fn of(h: &Harness) -> ApiServer {
        ApiServer::serve(HooksApi::new(h.engine.clone(), bearer).expect("the crate's hook table")).await
    }

    /// The absolute URL of `path` below [`MOUNT`] (`""` is the collection itself).
    pub fn url(&self, path: &str) -> String {
        format!("{}{MOUNT}{path}", self.base)
    }

    /// `method path` as owner `owner` (no credentials for `None`), with a JSON body if given.
    pub async fn call(&self, method: Method, path: &str, owner: Option<i32>, body: Option<Value>) -> Answer {
        let mut request = self.client.request(method, self.url(path));
        if let Some(owner) = owner {
            request = request.header("authorization", format!("Bearer token-{owner}"));
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        self.send(request).await
    }

    /// Sends a request built by hand (odd headers, raw bodies).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the API answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("the API's body");
        Answer { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::Null) }
    }

    /// A request to `path` with no credentials or body yet.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// Shorthand: GET as `owner`.
    pub async fn get(&self, path: &str, owner: i32) -> Answer {
        self.call(Method::GET, path, Some(owner), None).await
    }

    /// Shorthand: POST `body` as `owner`.
    pub async fn post(&self, path: &str, owner: i32, body: Value) -> Answer {
        self.call(Method::POST, path, Some(owner), Some(body)).await
    }

    /// Subscribes `target` to `event` as `owner` and returns the hook (with its secret).
    pub async fn subscribe(&self, owner: i32, event: &str, target: &str) -> Value {
        let answer = self.post("", owner, serde_json::json!({"event": event, "target": target})).await;
        assert_eq!(answer.status, 201, "subscribe: {answer:?}");
        answer.body
    }
}
