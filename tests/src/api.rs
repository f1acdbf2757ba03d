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
    /// Serves `api` mounted at [`MOUNT`].
    pub async fn serve(api: HooksApi) -> ApiServer {
        let app: axum::Router = axum::Router::new().merge(api.mount(MOUNT));
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

    /// Shorthand: PATCH `body` as `owner`.
    pub async fn patch(&self, path: &str, owner: i32, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(owner), Some(body)).await
    }

    /// Subscribes `target` to `event` as `owner` and returns the hook (with its secret).
    pub async fn subscribe(&self, owner: i32, event: &str, target: &str) -> Value {
        let answer = self.post("", owner, serde_json::json!({"event": event, "target": target})).await;
        assert_eq!(answer.status, 201, "subscribe: {answer:?}");
        answer.body
    }
}

/// One kept-alive HTTP/1.1 connection to the API, spoken by hand: a request's body goes out in a
/// second packet, after its head, and the connection is reused for the next request, as browsers
/// and HTTP libraries do.
pub struct RawConnection {
    stream: tokio::net::TcpStream,
    read: Vec<u8>,
}

/// An answer read off a [`RawConnection`].
#[derive(Debug)]
pub struct RawAnswer {
    /// The status.
    pub status: u16,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl RawAnswer {
    /// The value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, value)| value.as_str())
    }

    /// Whether the answer says the server closes the connection after it.
    pub fn closes(&self) -> bool {
        self.header("connection").is_some_and(|value| value.eq_ignore_ascii_case("close"))
    }
}

impl ApiServer {
    /// Opens a [`RawConnection`] to the server.
    pub async fn connect(&self) -> RawConnection {
        let address = self.base.trim_start_matches("http://");
        let stream = tokio::net::TcpStream::connect(address).await.expect("connect to the API");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        RawConnection { stream, read: Vec::new() }
    }
}

impl RawConnection {
    /// Sends `method path` (below [`MOUNT`]) with `headers` and `body`, the body in a write of its
    /// own a moment after the head, and reads the answer.
    pub async fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> RawAnswer {
        use tokio::io::AsyncWriteExt;

        let mut head = format!("{method} {MOUNT}{path} HTTP/1.1\r\nhost: 127.0.0.1\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
        self.stream.write_all(head.as_bytes()).await.expect("write the request head");
        if !body.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            // A server that answered on the head alone gets no body, as with `Expect: 100-continue`.
            let mut early = [0u8; 4096];
            match self.stream.try_read(&mut early) {
                Ok(n) => self.read.extend_from_slice(&early[..n]),
                Err(_) => self.stream.write_all(body).await.expect("write the request body"),
            }
        }
        self.answer().await.unwrap_or_else(|| panic!("{method} {path}: the connection closed without an answer"))
    }

    /// Whether the server has closed the connection (waits a moment for it).
    pub async fn is_closed(&mut self) -> bool {
        use tokio::io::AsyncReadExt;

        let mut byte = [0u8; 1];
        let wait = std::time::Duration::from_millis(500);
        matches!(tokio::time::timeout(wait, self.stream.read(&mut byte)).await, Ok(Ok(0) | Err(_)))
    }

    /// Reads one answer; `None` when the connection ends first.
    async fn answer(&mut self) -> Option<RawAnswer> {
        let end = loop {
            if let Some(at) = self.read.windows(4).position(|window| window == b"\r\n\r\n") {
                break at;
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.read[..end]).into_owned();
        self.read.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let length =
            headers.iter().find(|(name, _)| name == "content-length").map_or(0, |(_, v)| v.parse().unwrap_or(0));
        while self.read.len() < length {
            self.fill().await?;
        }
        let body = self.read.drain(..length).collect();
        Some(RawAnswer { status, headers, body })
    }

    /// Reads more of the connection; `None` at its end.
    async fn fill(&mut self) -> Option<()> {
        use tokio::io::AsyncReadExt;

        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                self.read.extend_from_slice(&chunk[..n]);
                Some(())
            }
        }
    }
}
