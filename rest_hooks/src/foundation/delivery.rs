//! Delivering one request: what a [`Deliverer`] is asked to send and what it answers, the default
//! deliverer over HTTP (signed, guarded against SSRF), and what the application is told after each
//! attempt ([`Sent`]).

use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::Resolve;
use uuid::Uuid;

use crate::foundation::error::{BuildError, DeliveryError};
use crate::foundation::hook::HookTarget;
use crate::foundation::net::{GuardedResolver, TargetPolicy};
use crate::foundation::signing::{ID_HEADER, Signer, StandardWebhooks, TIMESTAMP_HEADER};
pub use crate::foundation::wire::{Request, Response};

/// What the HTTP deliverer is built with.
#[derive(Clone, Debug)]
pub(crate) struct HttpSettings {
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    /// The longest response excerpt kept, in bytes.
    pub(crate) excerpt: usize,
    pub(crate) policy: Arc<TargetPolicy>,
}

/// Sends one request (django-rest-hooks' `HOOK_DELIVERER`). The default is [`HttpDeliverer`].
#[async_trait::async_trait]
pub trait Deliverer: Send + Sync + 'static {
    /// Sends `request` and returns the receiver's answer.
    async fn deliver(&self, request: &Request) -> Result<Response, DeliveryError>;
}

/// POSTs JSON over HTTP with reqwest: `Content-Type: application/json`, a `User-Agent` naming this
/// crate, `webhook-id` and `webhook-timestamp`, connect and overall timeouts, redirects not followed.
///
/// Requests are signed (see [`signing`](crate::foundation::signing)) and go only where the SSRF guard
/// ([`net`](crate::foundation::net)) lets them.
#[derive(Clone)]
pub struct HttpDeliverer {
    client: reqwest::Client,
    excerpt: usize,
    signer: Option<Arc<dyn Signer>>,
    policy: Arc<TargetPolicy>,
}

impl std::fmt::Debug for HttpDeliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpDeliverer")
            .field("excerpt", &self.excerpt)
            .field("signed", &self.signer.is_some())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The `User-Agent` of the HTTP deliverer.
pub const USER_AGENT: &str = concat!("rest_hooks/", env!("CARGO_PKG_VERSION"));

impl HttpDeliverer {
    /// A deliverer with these timeouts, keeping `excerpt` bytes of each response body, signing
    /// with [`StandardWebhooks`] and guarded by the default [`TargetPolicy`].
    pub fn new(connect_timeout: Duration, timeout: Duration, excerpt: usize) -> Result<Self, BuildError> {
        Self::with_policy(connect_timeout, timeout, excerpt, TargetPolicy::default())
    }

    /// [`new`](Self::new) with the SSRF guard set by `policy`, e.g. one that allows a development
    /// receiver: `TargetPolicy::new(["127.0.0.1/32"])`.
    pub fn with_policy(
        connect_timeout: Duration,
        timeout: Duration,
        excerpt: usize,
        policy: TargetPolicy,
    ) -> Result<Self, BuildError> {
        let settings = HttpSettings { connect_timeout, timeout, excerpt, policy: Arc::new(policy) };
        Self::configured(settings, Some(Arc::new(StandardWebhooks::default())), None)
    }

    /// The engine's deliverer: `settings`' timeouts and target policy, names resolved through
    /// `resolver` (the system's when `None`) and filtered by the policy.
    pub(crate) fn configured(
        settings: HttpSettings,
        signer: Option<Arc<dyn Signer>>,
        resolver: Option<Arc<dyn Resolve>>,
    ) -> Result<Self, BuildError> {
        let HttpSettings { connect_timeout, timeout, excerpt, policy } = settings;
        let mut builder = Self::client_builder()?.connect_timeout(connect_timeout).timeout(timeout);
        if policy.is_guarded() {
            builder = builder.dns_resolver(GuardedResolver::new(Arc::clone(&policy), resolver));
        } else if let Some(resolver) = resolver {
            builder = builder.dns_resolver(resolver);
        }
        let client = builder.build().map_err(|e| BuildError::Http(e.to_string()))?;
        Ok(Self { client, excerpt, signer, policy })
    }

    /// A reqwest client builder set up as this deliverer's: TLS with the platform's roots, this
    /// crate's `User-Agent`, no proxy, redirects not followed. A start for custom deliverers; it has no SSRF
    /// guard of its own: add one with `.dns_resolver(`[`GuardedResolver`]`)` and check IP-literal
    /// targets with [`TargetPolicy::check`].
    pub fn client_builder() -> Result<reqwest::ClientBuilder, BuildError> {
        Ok(reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config().map_err(BuildError::Http)?)
            .user_agent(USER_AGENT)
            // A proxy would resolve target names itself, out of the SSRF guard's sight.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none()))
    }
}

/// Installs ring as the process's rustls crypto provider, unless one is installed already.
///
/// This crate builds reqwest without a crypto provider of its own, and cargo builds one reqwest for
/// the whole program: the application's own reqwest clients so have none either, and panic with
/// "No provider set" when they are built before one is installed. [`Builder::start`](crate::Builder::start)
/// installs ring; a program that uses reqwest itself and starts no engine (a receiver, a command-line
/// tool) calls this first.
///
/// ```
/// rest_hooks::install_crypto_provider();
/// let client = reqwest::Client::builder().build();
/// assert!(client.is_ok());
/// ```
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// What `start` calls: see [`install_crypto_provider`].
pub(crate) fn ensure_crypto_provider() {
    install_crypto_provider();
}

/// rustls with the process's crypto provider if one is installed, else ring; the platform's roots.
fn tls_config() -> Result<rustls::ClientConfig, String> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_platform_verifier()
        .map_err(|e| e.to_string())?
        .with_no_client_auth())
}

#[async_trait::async_trait]
impl Deliverer for HttpDeliverer {
    async fn deliver(&self, request: &Request) -> Result<Response, DeliveryError> {
        let url = reqwest::Url::parse(&request.hook.target)
            .map_err(|e| DeliveryError::Request(format!("target `{}` is not a URL: {e}", request.hook.target)))?;
        // IP literals never reach the resolver: check them here.
        self.policy.check_url(&url).map_err(|reason| DeliveryError::Forbidden(format!("target `{url}`: {reason}")))?;
        let timestamp = chrono::Utc::now().timestamp();
        let mut post = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(ID_HEADER, request.message_id())
            .header(TIMESTAMP_HEADER, timestamp.to_string());
        if let Some(signer) = &self.signer {
            let headers = signer.headers(request, timestamp).map_err(|e| DeliveryError::Signing(e.to_string()))?;
            for (name, value) in headers {
                post = post.header(name, value);
            }
        }
        let mut response = post.body(request.body.clone()).send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        while body.len() < self.excerpt {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk[..chunk.len().min(self.excerpt - body.len())]),
                Ok(None) | Err(_) => break,
            }
        }
        Ok(Response { status, body: String::from_utf8_lossy(&body).into_owned(), retry_after })
    }
}

fn classify(error: reqwest::Error) -> DeliveryError {
    // reqwest's own message names the URL only; the causes say what went wrong.
    let mut text = error.to_string();
    let mut refused = false;
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        refused |= cause.downcast_ref::<crate::foundation::net::Refused>().is_some();
        source = cause.source();
    }
    if refused {
        DeliveryError::Forbidden(text)
    } else if error.is_timeout() {
        DeliveryError::Timeout(text)
    } else if error.is_connect() {
        DeliveryError::Connect(text)
    } else {
        DeliveryError::Request(text)
    }
}

/// What the application is told after each attempt (django-rest-hooks' `hook_sent_event`, with the
/// status it lacked).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Sent {
    /// The delivery id.
    pub delivery_id: Uuid,
    /// The hook it went to.
    pub hook: HookTarget,
    /// The event name.
    pub event: String,
    /// The body sent.
    pub body: String,
    /// Which attempt it was.
    pub attempt: u32,
    /// The receiver's answer, or why there was none.
    pub outcome: Result<Response, DeliveryError>,
    /// How long the attempt took.
    pub duration: Duration,
}

impl Sent {
    /// The HTTP status, when a response arrived.
    pub fn status(&self) -> Option<u16> {
        self.outcome.as_ref().ok().map(|r| r.status)
    }
}

/// A function told of every attempt.
pub(crate) type SentHook = Arc<dyn Fn(&Sent) + Send + Sync>;

/// What a hook that was disabled is told to the application.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Disabled {
    /// The hook.
    pub hook: HookTarget,
    /// Why: `the target answered 410 Gone`, or how long it has been failing.
    pub reason: String,
    /// When (Unix ms).
    pub at: i64,
}

/// A function told of every hook the engine disables.
pub(crate) type DisabledHook = Arc<dyn Fn(&Disabled) + Send + Sync>;
