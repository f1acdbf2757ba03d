//! Test support: a real HTTP receiver on 127.0.0.1, a fresh SQLite database per test, and a
//! harness that ties them to an engine scoped to the test.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use rest_hooks::{Builder, Engine};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use serde_json::Value;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub mod api;
pub mod browser;
pub mod entities;

/// How long a test waits for deliveries before it fails.
pub const WAIT: Duration = Duration::from_secs(15);

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    /// The path after the receiver's root, such as `/books`.
    pub path: String,
    /// Request headers, lower-case names.
    pub headers: HashMap<String, String>,
    /// The body parsed as JSON (`Null` if it was not JSON).
    pub body: Value,
    /// The raw body.
    pub raw: String,
}

#[derive(Default)]
struct Inbox {
    received: Mutex<Vec<Received>>,
    replies: Mutex<HashMap<String, Reply>>,
    arrived: Notify,
}

/// What the receiver answers on a path: a status, headers, a body, after a delay.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The status.
    pub status: u16,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
    /// The response body.
    pub body: String,
    /// How long to wait before answering (tokio time).
    pub delay: Duration,
}

impl Reply {
    /// An immediate answer with `status` and no body.
    pub fn status(status: u16) -> Reply {
        Reply { status, headers: Vec::new(), body: String::new(), delay: Duration::ZERO }
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<String>) -> Reply {
        self.body = body.into();
        self
    }

    /// Answers after `delay`.
    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// A real HTTP server on 127.0.0.1 that records every POST and answers 200, or the [`Reply`] set
/// for a path.
#[derive(Clone)]
pub struct Receiver {
    base: String,
    inbox: Arc<Inbox>,
}

impl Receiver {
    /// Starts a receiver on an ephemeral port of 127.0.0.1, on the current runtime.
    pub async fn start() -> Receiver {
        Receiver::start_on("127.0.0.1:0".parse().expect("an address")).await
    }

    /// Starts a receiver on `address`, on the current runtime.
    pub async fn start_on(address: std::net::SocketAddr) -> Receiver {
        let inbox = Arc::new(Inbox::default());
        let app = Router::new().route("/{*path}", post(record)).with_state(Arc::clone(&inbox));
        let listener = TcpListener::bind(address).await.unwrap_or_else(|e| panic!("bind {address}: {e}"));
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { base, inbox }
    }

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// Makes `path` answer `status`.
    pub fn respond(&self, path: &str, status: u16) {
        self.reply(path, Reply::status(status));
    }

    /// Makes `path` answer `reply`.
    pub fn reply(&self, path: &str, reply: Reply) {
        self.inbox.replies.lock().expect("replies").insert(format!("/{}", path.trim_start_matches('/')), reply);
    }

    /// How many requests arrived on `path`.
    pub fn count(&self, path: &str) -> usize {
        let path = format!("/{}", path.trim_start_matches('/'));
        self.received().iter().filter(|r| r.path == path).count()
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inbox.received.lock().expect("received").clone()
    }

    /// Waits until at least `count` requests have arrived; panics after [`WAIT`].
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let arrived = self.inbox.arrived.notified();
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!("expected {count} deliveries within {WAIT:?}, got {}: {received:#?}", received.len());
            }
        }
    }

    /// Waits for a request whose body has `event` in its `hook` block, and returns everything that
    /// arrived up to and including it.
    pub async fn wait_for_event(&self, event: &str) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let arrived = self.inbox.arrived.notified();
            let received = self.received();
            if let Some(at) = received.iter().position(|r| r.body["hook"]["event"] == event) {
                return received[..=at].to_vec();
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!("expected an `{event}` delivery within {WAIT:?}; got {received:#?}");
            }
        }
    }
}

async fn record(
    State(inbox): State<Arc<Inbox>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let path = format!("/{path}");
    let raw = String::from_utf8_lossy(&body).into_owned();
    let received = Received {
        path: path.clone(),
        headers: headers
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or_default().to_owned()))
            .collect(),
        body: serde_json::from_str(&raw).unwrap_or(Value::Null),
        raw,
    };
    inbox.received.lock().expect("received").push(received);
    inbox.arrived.notify_waiters();
    let reply = inbox.replies.lock().expect("replies").get(&path).cloned().unwrap_or(Reply::status(200));
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = axum::response::Response::new(axum::body::Body::from(reply.body));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) =
            (axum::http::HeaderName::try_from(name), axum::http::HeaderValue::try_from(value))
        {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Sleeps `duration` of real time, even when tokio's clock is paused: on a blocking thread, which
/// also keeps a paused clock from auto-advancing meanwhile.
pub async fn real_sleep(duration: Duration) {
    tokio::task::spawn_blocking(move || std::thread::sleep(duration)).await.expect("sleeping thread");
}

/// Waits, in real time, until `check` returns `Some`; panics with `what` after [`WAIT`]. Works on
/// tokio's paused clock.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(std::time::Instant::now() < deadline, "timed out after {WAIT:?} waiting for {what}");
        real_sleep(Duration::from_millis(10)).await;
    }
}

/// Keeps tokio's paused clock from auto-advancing while it lives, so that time moves only by
/// `tokio::time::advance`: a blocking task waits for the guard to drop.
pub struct Frozen(Option<std::sync::mpsc::Sender<()>>);

impl Frozen {
    /// Freezes the current runtime's paused clock.
    pub fn new() -> Frozen {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        tokio::task::spawn_blocking(move || {
            let _ = rx.recv();
        });
        Frozen(Some(tx))
    }
}

impl Default for Frozen {
    fn default() -> Self {
        Frozen::new()
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        self.0.take();
    }
}

/// A fresh SQLite database in WAL mode in its own temporary folder, with the engine's tables and
/// the test entities' tables.
pub struct TestDb {
    /// The connection pool.
    pub db: DatabaseConnection,
    /// The database's URL, for other processes.
    pub url: String,
    _dir: Option<TempDir>,
}

/// The environment variable that names the backend a run of the suite uses: `postgres` or `mysql`
/// (with [`SERVER_URL_VAR`]); SQLite when unset. The `backends` tests set it for a child run.
pub const BACKEND_VAR: &str = "REST_HOOKS_TEST_BACKEND";
/// The environment variable with the URL of the server on which each test creates its database.
pub const SERVER_URL_VAR: &str = "REST_HOOKS_TEST_SERVER";
/// The prefix of the databases tests create on a server.
pub const DATABASE_PREFIX: &str = "rh_test_";

impl TestDb {
    /// A fresh database with every table on the backend the run uses (see [`BACKEND_VAR`]).
    pub async fn new() -> TestDb {
        match (std::env::var(BACKEND_VAR).ok(), std::env::var(SERVER_URL_VAR).ok()) {
            (Some(_), Some(server)) => TestDb::on_server(&server).await,
            _ => TestDb::sqlite().await,
        }
    }

    /// A new database on the PostgreSQL or MySQL server at `server`, with every table.
    pub async fn on_server(server: &str) -> TestDb {
        let name = format!("{DATABASE_PREFIX}{}", uuid::Uuid::now_v7().simple());
        let admin = Database::connect(server).await.unwrap_or_else(|e| panic!("connect to {server}: {e}"));
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create the test database");
        admin.close().await.expect("close the admin connection");
        let mut url = reqwest::Url::parse(server).expect("a server URL");
        url.set_path(&format!("/{name}"));
        let mut options = ConnectOptions::new(url.to_string());
        options.max_connections(8).sqlx_logging(false);
        let db = Database::connect(options).await.expect("connect to the test database");
        rest_hooks::store::setup(&db).await.expect("engine tables");
        entities::create_tables(&db).await;
        TestDb { db, url: url.to_string(), _dir: None }
    }

    /// Creates the database file and every table.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        let db = connect_sqlite(&url).await;
        rest_hooks::store::setup(&db).await.expect("engine tables");
        entities::create_tables(&db).await;
        TestDb { db, url, _dir: Some(dir) }
    }
}

/// Connects to the SQLite database at `url` the way [`TestDb`] does: WAL, a 10 s busy timeout.
pub async fn connect_sqlite(url: &str) -> DatabaseConnection {
    let mut options = ConnectOptions::new(url.to_owned());
    options.max_connections(4).sqlx_logging(false).map_sqlx_sqlite_opts(|opts| {
        opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal).busy_timeout(Duration::from_secs(10))
    });
    Database::connect(options).await.expect("connect to SQLite")
}

/// The standard event map of the tests, on top of `builder`.
pub fn bookstore_events(builder: Builder) -> Builder {
    builder
        .event("book.added", "bookstore.Book.created")
        .event("book.changed", "bookstore.Book.updated")
        .event("book.removed", "bookstore.Book.deleted")
        .event("book.read", "bookstore.Book.read")
        .event("book.featured", "bookstore.Book.featured+")
        .raw_event("user.logged_in")
        .poll_interval(Duration::from_millis(200))
        .process_wide(false)
}

/// The bookstore event map with the SSRF guard let through to the tests' receivers on 127.0.0.1.
pub fn local_bookstore(builder: Builder) -> Builder {
    bookstore_events(builder).allow_targets(["127.0.0.1/32"])
}

/// A database, a receiver and an engine scoped to one test.
pub struct Harness {
    /// The test's database.
    pub db: DatabaseConnection,
    /// The test's engine; run saves inside [`Harness::run`].
    pub engine: Engine,
    /// The test's receiver.
    pub receiver: Receiver,
    _db: TestDb,
}

impl Harness {
    /// A harness with the bookstore event map.
    pub async fn new() -> Harness {
        Harness::with(|builder| builder).await
    }

    /// A harness with the bookstore event map, adjusted by `configure`. Its receiver runs on
    /// 127.0.0.1, which the SSRF guard refuses by default: the engine allows `127.0.0.1/32`.
    pub async fn with(configure: impl FnOnce(Builder) -> Builder) -> Harness {
        Harness::guarded(|builder| configure(builder.allow_targets(["127.0.0.1/32"]))).await
    }

    /// A harness whose engine has the SSRF guard as configured by `configure` only: nothing on
    /// 127.0.0.1 is allowed unless `configure` says so.
    pub async fn guarded(configure: impl FnOnce(Builder) -> Builder) -> Harness {
        let test_db = TestDb::new().await;
        let receiver = Receiver::start().await;
        let engine = configure(bookstore_events(Engine::builder())).start(test_db.db.clone()).expect("engine starts");
        Harness { db: test_db.db.clone(), engine, receiver, _db: test_db }
    }

    /// A pool of `connections` connections of its own to the test's database.
    pub async fn pool(&self, connections: u32) -> DatabaseConnection {
        let mut options = ConnectOptions::new(self._db.url.clone());
        options.max_connections(connections).sqlx_logging(false).map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal).busy_timeout(Duration::from_secs(10))
        });
        Database::connect(options).await.expect("connect to the test database")
    }

    /// Runs `future` with this harness's engine as the current one.
    pub async fn run<F: IntoFuture>(&self, future: F) -> F::Output {
        self.engine.scope(future.into_future()).await
    }

    /// Subscribes the receiver's `path` to `event` for `owner`.
    pub async fn subscribe(&self, owner: Option<i32>, event: &str, path: &str) -> rest_hooks::hook::Model {
        self.engine
            .subscribe(&self.db, owner.map(Into::into), event, &self.receiver.url(path))
            .await
            .expect("subscribe")
    }

    /// The delivery rows, once there are `count` or more. A delivery that started at once gets its
    /// row with its outcome, a moment after its receiver got it.
    pub async fn deliveries(&self, count: usize) -> Vec<rest_hooks::store::delivery::Model> {
        use sea_orm::EntityTrait;
        eventually(&format!("{count} delivery rows"), || async {
            let rows = rest_hooks::store::delivery::Entity::find().all(&self.db).await.expect("read deliveries");
            (rows.len() >= count).then_some(rows)
        })
        .await
    }

    /// The outbox rows, once none is pending: every event's deliveries have their row (an event
    /// is held, pending, while first attempts started without one are under way).
    pub async fn dispatched(&self) -> Vec<rest_hooks::store::outbox::Model> {
        use rest_hooks::store::outbox;
        use sea_orm::{EntityTrait, QueryOrder};
        eventually("every event dispatched", || async {
            let rows =
                outbox::Entity::find().order_by_asc(outbox::Column::Id).all(&self.db).await.expect("read outbox");
            rows.iter().all(|row| row.state != outbox::state::PENDING).then_some(rows)
        })
        .await
    }

    /// How many outbox rows exist.
    pub async fn outbox_rows(&self) -> u64 {
        use sea_orm::{EntityTrait, PaginatorTrait};
        rest_hooks::store::outbox::Entity::find().count(&self.db).await.expect("count outbox")
    }
}

/// A DNS resolver for tests: each name resolves to the addresses it was given, any other name to
/// nothing. Plugged in with [`Builder::resolver`], it makes a host name point at a private address.
/// It counts the lookups of each name, clones included.
#[derive(Clone, Debug, Default)]
pub struct TestResolver {
    names: HashMap<String, Vec<std::net::SocketAddr>>,
    lookups: Arc<Mutex<HashMap<String, usize>>>,
}

impl TestResolver {
    /// Makes `name` resolve to `addresses`.
    pub fn map(mut self, name: &str, addresses: &[std::net::SocketAddr]) -> TestResolver {
        self.names.insert(name.to_owned(), addresses.to_vec());
        self
    }

    /// How many times `name` was looked up so far.
    pub fn lookups(&self, name: &str) -> usize {
        self.lookups.lock().expect("lookups").get(name).copied().unwrap_or(0)
    }
}

/// A public address (example.com's) for test names that must resolve to one.
pub const PUBLIC_ADDRESS: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::new(93, 184, 215, 14)), 0);

/// A resolver that maps each of `names` to [`PUBLIC_ADDRESS`], so that tests which subscribe public
/// names do not depend on the machine's DNS.
pub fn public_names(names: &[&str]) -> TestResolver {
    names.iter().fold(TestResolver::default(), |resolver, name| resolver.map(name, &[PUBLIC_ADDRESS]))
}

impl reqwest::dns::Resolve for TestResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        *self.lookups.lock().expect("lookups").entry(name.as_str().to_owned()).or_default() += 1;
        let found = self.names.get(name.as_str()).cloned();
        let name = name.as_str().to_owned();
        Box::pin(async move {
            let addresses = found.ok_or_else(|| format!("test resolver: unknown name `{name}`"))?;
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The body of a worker-process test: when environment variable `var` names a database, runs a
/// delivering engine of the bookstore map (let through to 127.0.0.1, polling every 100 ms),
/// adjusted by `configure`, until standard input closes. In the ordinary test run `var` is unset
/// and it does nothing.
pub fn worker_process(var: &str, configure: impl FnOnce(Builder) -> Builder) {
    use std::io::Read;
    let Ok(url) = std::env::var(var) else { return };
    tokio::runtime::Runtime::new().expect("a runtime").block_on(async {
        let db = Database::connect(&url).await.expect("connect to the test database");
        let builder = local_bookstore(Engine::builder()).poll_interval(Duration::from_millis(100));
        let engine = configure(builder).start(db).expect("the worker's engine starts");
        tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new()))
            .await
            .expect("the stdin reader")
            .expect("read stdin");
        engine.shutdown().await;
    });
}

/// Starts this test binary's worker-process test `test` (see [`worker_process`]) with `var` set to
/// `url`; it runs until its standard input is closed.
pub fn spawn_worker(test: &str, var: &str, url: &str) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(var, url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start a worker process")
}

/// The database of a test that runs worker processes beside it: `None` inside a worker process
/// (environment variable `worker_var` set: the test body is the parent's) and on SQLite, which
/// takes one delivering process per database file.
pub async fn multi_process_db(worker_var: &str) -> Option<TestDb> {
    if std::env::var(worker_var).is_ok() {
        return None;
    }
    let test_db = TestDb::new().await;
    (test_db.db.get_database_backend() != sea_orm::DbBackend::Sqlite).then_some(test_db)
}
