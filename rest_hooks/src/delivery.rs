//! Delivering: the [`Deliverer`] that makes one request, the default one over HTTP, and the actor
//! that runs deliveries.
//!
//! The delivery actor starts each job it is handed as a task on the application's runtime at once,
//! or puts it in its receiver's short queue: every job already holds its request slot or queue
//! place, and a request that ends starts the next of its queue. Each attempt ends in a [`Verdict`]
//! of the retry policy, which the outcome writer records (the attempt log, the delivery row, the
//! hook's health); the writer also renews the leases of queued deliveries and requests under way.
//! The actor is a thin shell: the work lives in plain async functions.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix::{Actor, Addr, Context, Handler, Message, Supervised};
use futures_util::FutureExt;
use uuid::Uuid;

use crate::builder::Config;
use crate::dispatch::Shared;
use crate::error::{BuildError, DeliveryError, panic_message};
use crate::hook::HookTarget;
use crate::net::{GuardedResolver, TargetPolicy};
use crate::outcome::{Attempted, Outcome, OutcomeWriter, Started};
use crate::registry::Room;
use crate::retry::{Verdict, random_sample};
use crate::signing::{ID_HEADER, Signer, StandardWebhooks, TIMESTAMP_HEADER};
use crate::slots::{Reserved, Slot};
use reqwest::dns::Resolve;

/// One delivery to make.
#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub(crate) id: Uuid,
    pub(crate) hook: HookTarget,
    pub(crate) event: Arc<str>,
    pub(crate) body: String,
    pub(crate) attempt: u32,
    /// Until when this process holds the delivery (Unix ms); outcomes are written only under it.
    pub(crate) lease_until: i64,
    /// The outbox row (the event) it came from.
    pub(crate) outbox_id: i64,
    /// When the delivery was created (Unix ms), for the retry policy's age cap.
    pub(crate) created_at: i64,
}

/// A job leased to this process, counted in flight until its outcome is written.
#[derive(Debug)]
pub(crate) struct Leased {
    pub(crate) job: Job,
    in_flight: InFlight,
}

impl Leased {
    pub(crate) fn new(job: Job, shared: &Shared) -> Self {
        Self { job, in_flight: InFlight::new(&shared.in_flight) }
    }
}

/// A leased job and where it goes: a running slot, or a place in its receiver's queue.
#[derive(Debug)]
pub(crate) enum Ready {
    /// Starts now.
    Run(Slot<Leased>, Leased),
    /// Waits in its receiver's queue.
    Queue(Reserved<Leased>, Leased),
}

impl Ready {
    /// The job, to be adjusted before it starts.
    pub(crate) fn job_mut(&mut self) -> &mut Job {
        match self {
            Ready::Run(_, leased) | Ready::Queue(_, leased) => &mut leased.job,
        }
    }
}

/// One delivery counted in [`Shared::in_flight`] until this is dropped: with its outcome once that
/// is written, or with its task if that is aborted.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(counter))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a [`Deliverer`] is asked to send.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Request {
    /// The delivery id: the same on every attempt, sent as `webhook-id` by the HTTP deliverer.
    pub delivery_id: Uuid,
    /// The hook it goes to.
    pub hook: HookTarget,
    /// The event name.
    pub event: String,
    /// The exact body to send.
    pub body: String,
    /// Which attempt this is, from 1.
    pub attempt: u32,
}

impl Request {
    /// The `webhook-id` header value: `msg_` and the delivery id.
    pub fn message_id(&self) -> String {
        format!("msg_{}", self.delivery_id.simple())
    }
}

/// What the receiver answered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The start of the response body, at most [`Config::response_excerpt`](crate::Builder::response_excerpt) bytes.
    pub body: String,
    /// The `Retry-After` header, when there was one: seconds or an HTTP date.
    pub retry_after: Option<String>,
}

impl Response {
    /// A response with `status` and (the start of) `body`.
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self { status, body: body.into(), retry_after: None }
    }

    /// The response with a `Retry-After` header of `value`.
    pub fn with_retry_after(mut self, value: impl Into<String>) -> Self {
        self.retry_after = Some(value.into());
        self
    }

    /// Whether the status is 2xx. Redirects are failures: they are never followed.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
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
/// Requests are signed (see [`signing`](crate::signing)) and go only where the SSRF guard
/// ([`net`](crate::net)) lets them.
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
        let policy = Arc::new(policy);
        let config = Config { connect_timeout, timeout, response_excerpt: excerpt, policy, ..Config::default() };
        Self::configured(&config, Some(Arc::new(StandardWebhooks::default())), None)
    }

    /// The engine's deliverer: `config`'s timeouts and target policy, names resolved through
    /// `resolver` (the system's when `None`) and filtered by the policy.
    pub(crate) fn configured(
        config: &Config,
        signer: Option<Arc<dyn Signer>>,
        resolver: Option<Arc<dyn Resolve>>,
    ) -> Result<Self, BuildError> {
        let policy = Arc::clone(&config.policy);
        let mut builder = Self::client_builder()?.connect_timeout(config.connect_timeout).timeout(config.timeout);
        if policy.is_guarded() {
            builder = builder.dns_resolver(GuardedResolver::new(Arc::clone(&policy), resolver));
        } else if let Some(resolver) = resolver {
            builder = builder.dns_resolver(resolver);
        }
        let client = builder.build().map_err(|e| BuildError::Http(e.to_string()))?;
        Ok(Self { client, excerpt: config.response_excerpt, signer, policy })
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

/// Installs ring as the process's rustls crypto provider when none is installed, so that other
/// reqwest clients built without a TLS feature of their own keep working beside this crate.
pub(crate) fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
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
        refused |= cause.downcast_ref::<crate::net::Refused>().is_some();
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

/// Runs one job: gives it back when the engine stopped, skips it when its hook was disabled here
/// after it was leased (disabling fails its row), else makes the attempt.
async fn run(shared: &Arc<Shared>, job: Job) -> Outcome {
    if shared.stopped.load(Ordering::Acquire) {
        return Outcome::released(job.id, job.lease_until);
    }
    let leased_at = job.lease_until.saturating_sub(shared.config.lease_ms());
    if shared.disabled_until(&job.hook.id.to_string()).is_some_and(|until| leased_at <= until) {
        return Outcome::skipped(job.id);
    }
    attempt(Arc::clone(shared), job).await
}

/// Sends `request` with the engine's deliverer, within the attempt deadline; a panicking deliverer
/// is an error like any other.
pub(crate) async fn send(shared: &Shared, request: &Request) -> Result<Response, DeliveryError> {
    let deadline = shared.config.attempt_deadline();
    tokio::time::timeout(deadline, AssertUnwindSafe(shared.deliverer.deliver(request)).catch_unwind())
        .await
        .unwrap_or_else(|_| {
            Ok(Err(DeliveryError::Timeout(format!("the deliverer did not answer within {deadline:?}"))))
        })
        .unwrap_or_else(|panic| Err(DeliveryError::Panicked(panic_message(&*panic))))
}

/// Makes one attempt, tells the application, and asks the retry policy what follows.
async fn attempt(shared: Arc<Shared>, job: Job) -> Outcome {
    let Job { id, hook, event, body, attempt, lease_until, outbox_id, created_at } = job;
    let request = Request { delivery_id: id, hook, event: event.to_string(), body, attempt };
    let started = std::time::Instant::now();
    let outcome = send(&shared, &request).await;
    let sent = Sent {
        delivery_id: request.delivery_id,
        hook: request.hook,
        event: request.event,
        body: request.body,
        attempt: request.attempt,
        outcome,
        duration: started.elapsed(),
    };
    for hook in &shared.on_sent {
        if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| hook(&sent))) {
            tracing::error!(delivery_id = %sent.delivery_id, "a sent-notification handler panicked: {}", panic_message(&*panic));
        }
    }
    let at = shared.clock.now_ms();
    let age = Duration::from_millis(u64::try_from(at.saturating_sub(created_at)).unwrap_or(0));
    let verdict = shared.retry_policy(&sent.hook).decide(sent.attempt, &sent.outcome, age, at, random_sample());
    if matches!(verdict, Verdict::Disable { .. }) {
        // Requests of this hook not started yet are not sent, even before the outcome is written.
        shared.hook_disabled(&sent.hook.id.to_string(), at.saturating_add(shared.config.lease_ms()));
    }
    let (status, error, excerpt) = match sent.outcome {
        Ok(response) => (Some(response.status), None, Some(response.body)),
        Err(error) => (None, Some(error), None),
    };
    Outcome {
        id: sent.delivery_id,
        lease_until: Some(lease_until),
        in_flight: None,
        attempt: Some(Attempted {
            hook: sent.hook,
            outbox_id,
            number: sent.attempt,
            lease_until,
            at,
            duration: sent.duration,
            status,
            error,
            excerpt,
            verdict,
        }),
    }
}

/// Jobs for the delivery actor, each holding its slot or queue place.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Deliver(pub(crate) Vec<Ready>);

/// Starts deliveries on the application's runtime as they come, or queues them behind their
/// receiver's requests under way (see [`slots`](crate::slots)).
pub(crate) struct DeliveryActor {
    shared: Arc<Shared>,
    writer: Addr<OutcomeWriter>,
}

impl DeliveryActor {
    pub(crate) fn new(shared: Arc<Shared>, writer: Addr<OutcomeWriter>) -> Self {
        Self { shared, writer }
    }
}

impl Actor for DeliveryActor {
    type Context = Context<Self>;
}

impl Supervised for DeliveryActor {}

impl Handler<Deliver> for DeliveryActor {
    type Result = ();

    fn handle(&mut self, Deliver(jobs): Deliver, _: &mut Context<Self>) {
        for ready in jobs {
            match ready {
                Ready::Run(slot, leased) => start(&self.shared, &self.writer, slot, leased),
                Ready::Queue(place, leased) => {
                    let (id, lease_until) = (leased.job.id, leased.job.lease_until);
                    self.shared.slots.enqueue(place, leased);
                    // Its lease is renewed while it waits.
                    self.writer.do_send(Started { id, lease_until, task: None });
                }
            }
        }
    }
}

/// Starts `leased` in `slot` as a task of its own; when it ends, the next delivery of its
/// receiver's queue starts in the same slot.
fn start(shared: &Arc<Shared>, writer: &Addr<OutcomeWriter>, mut slot: Slot<Leased>, leased: Leased) {
    let Leased { job, in_flight } = leased;
    let (id, lease_until) = (job.id, job.lease_until);
    let task = {
        let (shared, writer) = (Arc::clone(shared), writer.clone());
        shared.runtime.clone().spawn(async move {
            let mut outcome = run(&shared, job).await;
            outcome.in_flight = Some(in_flight);
            writer.do_send(outcome);
            let next = shared.slots.next(&mut slot);
            let mut room = shared.slots.wants_more(&slot);
            match next {
                Some((_, next)) => start(&shared, &writer, slot, next),
                None => {
                    drop(slot);
                    // Another receiver's queue may have waited for a slot of the engine's.
                    room |= shared.slots.any_runnable();
                }
            }
            if room && let Some(registry) = shared.registry() {
                registry.do_send(Room);
            }
        })
    };
    writer.do_send(Started { id, lease_until, task: Some(task.abort_handle()) });
}
