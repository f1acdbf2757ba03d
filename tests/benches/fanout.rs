//! The rest_hooks benchmark: what a save costs, how many deliveries per second reach a receiver
//! against the raw-HTTP ceiling, commit-to-receipt latency, memory under a backlog of a million
//! deliveries, and the cost of the event-map lookup.
//!
//! ```text
//! cargo bench -p rest_hooks_tests --bench fanout                       # SQLite, full run
//! cargo bench -p rest_hooks_tests --bench fanout -- --quick            # a smaller, faster run
//! cargo bench -p rest_hooks_tests --bench fanout -- --smoke            # every phase, least sizes (CI)
//! cargo bench -p rest_hooks_tests --bench fanout -- --only update_saves  # update cost, with and without previous values
//! cargo bench -p rest_hooks_tests --bench fanout -- \
//!     --postgres postgres://postgres@127.0.0.1/test --mysql mysql://root@127.0.0.1/test
//! ```
//!
//! Every figure is measured beside a baseline in the same run (plain inserts, a plain reqwest
//! loop), because a ratio survives a noisy machine and an absolute time does not. The run prints a
//! table and, as its last line, one JSON object with every figure. `--svg PATH` sets where the
//! chart of throughput against hooks per event goes (default `target/fanout.svg`; relative paths
//! start at the workspace root).
//!
//! A PostgreSQL or MySQL URL is used as scratch space: the benchmark drops and recreates the
//! `rest_hooks_*`, `bench_item` and `bench_plain` tables there.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark that cannot run should stop loudly

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use rest_hooks::{Engine, EventMap, HttpDeliverer};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, EntityTrait,
    IntoActiveModel, Schema, Set, TransactionTrait,
};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The entity whose saves record events.
mod item {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "bench_item")]
    #[hookable(model = "bench.Item", owner = "owner_id")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub owner_id: i32,
        pub title: String,
        pub price: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

/// The same entity, whose updates send the previous values of what they change.
mod item_previous {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "bench_item_previous")]
    #[hookable(model = "bench.ItemPrevious", owner = "owner_id", previous_values)]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub owner_id: i32,
        pub title: String,
        pub price: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

/// The same entity without the derive: the baseline.
mod plain {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bench_plain")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub owner_id: i32,
        pub title: String,
        pub price: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One more small row per save: the least any second statement in the save's transaction costs.
mod side {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bench_side")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub n: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

const EVENT: &str = "item.added";
const SPEC: &str = "bench.Item.created";
/// The update events of the update-save phase: without and with previous values.
const UPDATED: &str = "item.changed";
const UPDATED_PREVIOUS: &str = "item_previous.changed";
/// Concurrency of the engine's HTTP deliverer (its default) and of the ceiling loop.
const CONCURRENCY: usize = 64;
/// Saves per transaction where the benchmark saves in transactions.
const TXN: usize = 100;

/// Receivers (hosts) the spread throughput run's hooks post to, in turn.
const SPREAD: usize = 10;
/// How long any phase may wait for its deliveries before the run fails.
const PATIENCE: Duration = Duration::from_secs(1800);

/// How big a run is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Size {
    /// Every figure at its documented size.
    Full,
    /// A smaller, faster run (`--quick`).
    Quick,
    /// Every phase at the least size that exercises it (`--smoke`): what CI runs, on every
    /// backend, so that no phase can stop working unnoticed. Its figures mean little.
    Smoke,
}

impl Size {
    /// The figure for this size: `full`, `quick` or `smoke`.
    fn pick<T>(self, full: T, quick: T, smoke: T) -> T {
        match self {
            Size::Full => full,
            Size::Quick => quick,
            Size::Smoke => smoke,
        }
    }

    fn name(self) -> &'static str {
        self.pick("full", "quick", "smoke")
    }
}

struct Options {
    /// Whether the run is smaller than a full one (`--quick` or `--smoke`).
    quick: bool,
    size: Size,
    postgres: Option<String>,
    mysql: Option<String>,
    svg: PathBuf,
    backlog_events: usize,
    reps: usize,
    /// Runs only the phases named (comma-separated), e.g. `single_saves,slow_receiver`; the phases:
    /// `single_saves`, `update_saves`, `slow_receiver`, `slow_same_host`, `takeover`, `ordering`, `metrics`,
    /// `backlog`.
    only: Option<Vec<String>>,
}

impl Options {
    fn parse(args: &[String]) -> Options {
        let mut options = Options {
            quick: false,
            size: Size::Full,
            postgres: None,
            mysql: None,
            svg: workspace().join("target/fanout.svg"),
            backlog_events: 100_000,
            reps: 3,
            only: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value =
                |name: &str| args.next().cloned().unwrap_or_else(|| usage(&format!("{name} needs a value")));
            match arg.as_str() {
                "--bench" => {}
                "--quick" => {
                    (options.quick, options.size) = (true, Size::Quick);
                    options.backlog_events = 10_000;
                    options.reps = 1;
                }
                "--smoke" => {
                    (options.quick, options.size) = (true, Size::Smoke);
                    options.backlog_events = 200;
                    options.reps = 1;
                }
                "--postgres" => options.postgres = Some(value("--postgres")),
                "--mysql" => options.mysql = Some(value("--mysql")),
                "--svg" => options.svg = workspace().join(value("--svg")),
                "--only" => options.only = Some(value("--only").split(',').map(str::to_owned).collect()),
                "--backlog-events" => {
                    options.backlog_events =
                        value("--backlog-events").parse().unwrap_or_else(|_| usage("--backlog-events takes a number"))
                }
                other => usage(&format!("unknown argument `{other}`")),
            }
        }
        options
    }

    /// Deliveries per throughput run.
    fn deliveries(&self) -> usize {
        self.size.pick(20_000, 4_000, 400)
    }

    /// Whether phase `name` runs.
    fn runs(&self, name: &str) -> bool {
        self.only.as_ref().is_none_or(|only| only.iter().any(|phase| phase == name))
    }

    /// Sequential single saves per run of [`single_saves`].
    fn single_saves(&self) -> usize {
        self.size.pick(5_000, 1_000, 100)
    }

    /// Inserts per save-cost round.
    fn saves(&self) -> usize {
        self.size.pick(2_000, 500, 100)
    }
}

/// The workspace root: relative paths on the command line start there (cargo runs benchmarks in
/// the package's folder).
fn workspace() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "fanout: {problem}\nusage: cargo bench -p rest_hooks_tests --bench fanout -- [--quick | --smoke] [--postgres URL] \
         [--mysql URL] [--svg PATH] [--backlog-events N] [--only PHASE,…]"
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    if args.first().map(String::as_str) == Some("--phase") {
        runtime.block_on(child(&args[1..]));
        return;
    }
    let options = Options::parse(&args);
    runtime.block_on(run(options));
}

#[derive(Clone)]
enum Backend {
    Sqlite,
    Postgres(String),
    MySql(String),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
            Backend::MySql(_) => "mysql",
        }
    }
}

/// A database with fresh tables; a SQLite file lives as long as this.
struct Scratch {
    url: String,
    db: DatabaseConnection,
    _dir: Option<TempDir>,
}

async fn connect(url: &str) -> DatabaseConnection {
    let mut options = ConnectOptions::new(url.to_owned());
    options.max_connections(8).sqlx_logging(false).map_sqlx_sqlite_opts(|opts| {
        opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
    });
    Database::connect(options).await.unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

async fn fresh(backend: &Backend) -> Scratch {
    let (url, dir) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            (format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display()), Some(dir))
        }
        Backend::Postgres(url) | Backend::MySql(url) => (url.clone(), None),
    };
    let db = connect(&url).await;
    for table in [
        "rest_hooks_schema",
        "rest_hooks_attempt",
        "rest_hooks_hook_state",
        "rest_hooks_delivery",
        "rest_hooks_outbox",
        "rest_hooks_hook",
        "bench_item",
        "bench_item_previous",
        "bench_plain",
        "bench_side",
    ] {
        db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}")).await.unwrap();
    }
    rest_hooks::store::setup(&db).await.unwrap();
    let schema = Schema::new(db.get_database_backend());
    db.execute(&schema.create_table_from_entity(item::Entity)).await.unwrap();
    db.execute(&schema.create_table_from_entity(item_previous::Entity)).await.unwrap();
    db.execute(&schema.create_table_from_entity(plain::Entity)).await.unwrap();
    db.execute(&schema.create_table_from_entity(side::Entity)).await.unwrap();
    Scratch { url, db, _dir: dir }
}

fn engine(deliver: bool) -> rest_hooks::Builder {
    // The receiver is on 127.0.0.1, which the SSRF guard refuses unless allowed.
    Engine::builder()
        .event(EVENT, SPEC)
        .event(UPDATED, "bench.Item.updated")
        .event(UPDATED_PREVIOUS, "bench.ItemPrevious.updated")
        .deliver(deliver)
        .process_wide(false)
        .allow_targets(["127.0.0.1/32"])
}

fn new_item(i: usize) -> item::ActiveModel {
    item::ActiveModel {
        owner_id: Set(1),
        title: Set(format!("The book of the number {i}")),
        price: Set(i32::try_from(i % 10_000).unwrap()),
        ..Default::default()
    }
}

fn new_plain(i: usize) -> plain::ActiveModel {
    plain::ActiveModel {
        owner_id: Set(1),
        title: Set(format!("The book of the number {i}")),
        price: Set(i32::try_from(i % 10_000).unwrap()),
        ..Default::default()
    }
}

/// Inserts `n` rows made by `make`, one statement each, in transactions of `txn` (or auto-commit
/// with `None`); returns the elapsed time.
async fn insert<A>(db: &DatabaseConnection, n: usize, txn: Option<usize>, make: impl Fn(usize) -> A) -> Duration
where
    A: ActiveModelTrait + ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    insert_then(db, n, txn, make, false).await
}

/// As [`insert`], with one more small row inserted beside each when `side_row` is set.
async fn insert_then<A>(
    db: &DatabaseConnection,
    n: usize,
    txn: Option<usize>,
    make: impl Fn(usize) -> A,
    side_row: bool,
) -> Duration
where
    A: ActiveModelTrait + ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    async fn one<A, C>(conn: &C, i: usize, make: &impl Fn(usize) -> A, side_row: bool)
    where
        A: ActiveModelTrait + ActiveModelBehavior + Send,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
        C: ConnectionTrait,
    {
        make(i).insert(conn).await.unwrap();
        if side_row {
            let row = side::ActiveModel { n: Set(i64::try_from(i).unwrap()), ..Default::default() };
            side::Entity::insert(row).exec_without_returning(conn).await.unwrap();
        }
    }
    let start = Instant::now();
    match txn {
        None => {
            for i in 0..n {
                one(db, i, &make, side_row).await;
            }
        }
        Some(size) => {
            for first in (0..n).step_by(size) {
                let txn = db.begin().await.unwrap();
                for i in first..(first + size).min(n) {
                    one(&txn, i, &make, side_row).await;
                }
                txn.commit().await.unwrap();
            }
        }
    }
    start.elapsed()
}

async fn subscribe(engine: &Engine, db: &DatabaseConnection, receiver: &Receiver, hooks: usize) {
    for h in 0..hooks {
        engine.subscribe(db, Some(1.into()), EVENT, &receiver.url_of(h, &format!("h{h}"))).await.unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// The receiver: axum on 127.0.0.1 on a thread and runtime of its own, counting what arrives.

#[derive(Default)]
struct Inbox {
    count: AtomicU64,
    last: Mutex<Option<Instant>>,
    /// When set, each arrival's `data.pk` and time are kept (latency runs).
    keep: std::sync::atomic::AtomicBool,
    arrivals: Mutex<Vec<(i64, Instant)>>,
    /// How long each answer takes.
    delay: Duration,
    /// When set, requests to paths starting with it are answered at once and are the only ones
    /// counted; the others wait `delay` and are not counted (a host shared by fast and slow hooks).
    quick: Option<&'static str>,
}

#[derive(Clone)]
struct Receiver {
    base: String,
    /// Every origin it listens on, `base` first: hooks spread over several receivers (hosts) share
    /// one inbox.
    bases: Vec<String>,
    inbox: Arc<Inbox>,
}

impl Receiver {
    fn start() -> Receiver {
        Receiver::answering_after(Duration::ZERO)
    }

    /// A receiver that answers each request `delay` after it arrived.
    fn answering_after(delay: Duration) -> Receiver {
        Receiver::serve(Inbox { delay, ..Inbox::default() })
    }

    fn serve(inbox: Inbox) -> Receiver {
        Receiver::serve_on(inbox, 1)
    }

    /// `hosts` receivers (each its own port, so its own host for the engine's request slots) that
    /// count into one inbox.
    fn spread(hosts: usize) -> Receiver {
        Receiver::serve_on(Inbox::default(), hosts)
    }

    fn serve_on(inbox: Inbox, hosts: usize) -> Receiver {
        let inbox = Arc::new(inbox);
        let app = Router::new().route("/{*path}", post(receive)).with_state(Arc::clone(&inbox));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("receiver".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(async move {
                    let mut servers = Vec::new();
                    for _ in 0..hosts {
                        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                        tx.send(listener.local_addr().unwrap()).unwrap();
                        let app = app.clone();
                        servers.push(tokio::spawn(async move { axum::serve(listener, app).await }));
                    }
                    for server in servers {
                        server.await.unwrap().unwrap();
                    }
                });
            })
            .unwrap();
        let bases: Vec<String> = (0..hosts).map(|_| format!("http://{}", rx.recv().unwrap())).collect();
        Receiver { base: bases[0].clone(), bases, inbox }
    }

    /// The URL of hook `hook` at `path`: on one of the receiver's origins, in turn.
    fn url_of(&self, hook: usize, path: &str) -> String {
        format!("{}/{path}", self.bases[hook % self.bases.len()])
    }

    /// A receiver whose paths starting with `quick` answer at once and are counted, and whose
    /// other paths answer after `delay`, uncounted: one host with fast and slow hooks.
    fn mixed(quick: &'static str, delay: Duration) -> Receiver {
        Receiver::serve(Inbox { delay, quick: Some(quick), ..Inbox::default() })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    /// How many requests have arrived by `deadline`, at most `count`, and when the last did.
    async fn count_until(&self, count: u64, deadline: Instant) -> (u64, Option<Instant>) {
        while self.count() < count && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        (self.count().min(count), *self.inbox.last.lock().unwrap())
    }

    fn reset(&self, keep: bool) {
        self.inbox.count.store(0, Ordering::SeqCst);
        *self.inbox.last.lock().unwrap() = None;
        self.inbox.arrivals.lock().unwrap().clear();
        self.inbox.keep.store(keep, Ordering::SeqCst);
    }

    fn count(&self) -> u64 {
        self.inbox.count.load(Ordering::SeqCst)
    }

    /// Waits until `count` requests have arrived; returns when the last of them did.
    async fn wait_for(&self, count: u64) -> Instant {
        let deadline = Instant::now() + PATIENCE;
        while self.count() < count {
            assert!(Instant::now() < deadline, "only {} of {count} deliveries arrived in {PATIENCE:?}", self.count());
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        self.inbox.last.lock().unwrap().unwrap()
    }
}

async fn receive(State(inbox): State<Arc<Inbox>>, uri: axum::http::Uri, body: Bytes) -> StatusCode {
    let now = Instant::now();
    if let Some(quick) = inbox.quick
        && !uri.path().trim_start_matches('/').starts_with(quick)
    {
        tokio::time::sleep(inbox.delay).await;
        return StatusCode::OK;
    }
    if inbox.keep.load(Ordering::Relaxed) {
        let pk = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["data"]["pk"].as_i64()).unwrap_or(-1);
        inbox.arrivals.lock().unwrap().push((pk, now));
    }
    *inbox.last.lock().unwrap() = Some(now);
    inbox.count.fetch_add(1, Ordering::SeqCst);
    if !inbox.delay.is_zero() && inbox.quick.is_none() {
        tokio::time::sleep(inbox.delay).await;
    }
    StatusCode::OK
}

// ---------------------------------------------------------------------------------------------
// 1. Save cost.

struct SaveCost {
    plain_us: f64,
    /// A plain insert and one more small row: what any second statement costs.
    two_rows_us: f64,
    hookable_us: f64,
}

impl SaveCost {
    fn ratio(&self) -> f64 {
        self.hookable_us / self.plain_us
    }
}

/// Per-insert time of plain saves, plain saves with one more row, and recording saves: blocks of
/// 100 of each, interleaved in rotating order so that a noisy neighbour hits all three alike; the
/// median block of each.
async fn save_cost(backend: &Backend, options: &Options, receiver: &Receiver, txn: Option<usize>) -> SaveCost {
    let scratch = fresh(backend).await;
    let engine = engine(false).start(scratch.db.clone()).unwrap();
    subscribe(&engine, &scratch.db, receiver, 10).await;
    let db = &scratch.db;
    let blocks = options.saves() / TXN * options.reps.max(3);
    let mut times: [Vec<f64>; 3] = Default::default();
    // One warm-up block each, not counted.
    for block in 0..=blocks {
        for k in 0..3 {
            let variant = (block + k) % 3;
            let elapsed = match variant {
                0 => insert(db, TXN, txn, new_plain).await,
                1 => insert_then(db, TXN, txn, new_plain, true).await,
                _ => engine.scope(insert(db, TXN, txn, new_item)).await,
            };
            if block > 0 {
                times[variant].push(micros_each(elapsed, TXN));
            }
        }
    }
    let [mut plain, mut two_rows, mut hookable] = times;
    SaveCost { plain_us: median(&mut plain), two_rows_us: median(&mut two_rows), hookable_us: median(&mut hookable) }
}

fn micros_each(elapsed: Duration, n: usize) -> f64 {
    elapsed.as_secs_f64() * 1e6 / n as f64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

// ---------------------------------------------------------------------------------------------
// 2. Throughput against the ceiling.

struct Throughput {
    hooks: usize,
    events: usize,
    engine: f64,
    ceiling: f64,
    /// Events per second of the save loop alone, within the engine's run.
    saves: f64,
}

/// Deliveries per second from the first save to the last receipt, and saves per second of the
/// save loop (one task saving in transactions of 100) meanwhile.
async fn engine_rate(backend: &Backend, receiver: &Receiver, hooks: usize, events: usize) -> (f64, f64) {
    let scratch = fresh(backend).await;
    let engine = engine(true).start(scratch.db.clone()).unwrap();
    subscribe(&engine, &scratch.db, receiver, hooks).await;
    receiver.reset(false);
    let start = Instant::now();
    let saving = engine.scope(insert(&scratch.db, events, Some(TXN), new_item)).await;
    let last = receiver.wait_for((events * hooks) as u64).await;
    engine.shutdown().await;
    ((events * hooks) as f64 / (last - start).as_secs_f64(), events as f64 / saving.as_secs_f64())
}

/// The same number of POSTs of a body of the same shape, with a plain reqwest loop at the engine's
/// concurrency: no database, no engine.
async fn ceiling_rate(receiver: &Receiver, hooks: usize, count: usize) -> f64 {
    let client = HttpDeliverer::client_builder().unwrap().build().unwrap();
    let body = json!({
        "hook": {"id": 1, "event": EVENT, "target": receiver.url("h0")},
        "data": {"model": "bench.item", "pk": 1, "fields": {"owner_id": 1, "title": "The book of the number 1", "price": 1}},
    })
    .to_string();
    let targets: Arc<Vec<String>> = Arc::new((0..hooks).map(|h| receiver.url_of(h, &format!("h{h}"))).collect());
    receiver.reset(false);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, body, targets, next) = (client.clone(), body.clone(), Arc::clone(&targets), Arc::clone(&next));
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let response = client
                    .post(&targets[i % targets.len()])
                    .header("content-type", "application/json")
                    .header("webhook-id", format!("msg_{i}"))
                    .header("webhook-timestamp", "1700000000")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                response.bytes().await.unwrap();
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let last = receiver.wait_for(count as u64).await;
    count as f64 / (last - start).as_secs_f64()
}

async fn throughput(backend: &Backend, options: &Options, receiver: &Receiver, hooks: usize) -> Throughput {
    let events = options.deliveries() / hooks;
    let (mut engine, mut ceiling, mut saves) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..options.reps {
        ceiling.push(ceiling_rate(receiver, hooks, events * hooks).await);
        let (rate, saving) = engine_rate(backend, receiver, hooks, events).await;
        engine.push(rate);
        saves.push(saving);
    }
    Throughput { hooks, events, engine: median(&mut engine), ceiling: median(&mut ceiling), saves: median(&mut saves) }
}

// ---------------------------------------------------------------------------------------------
// 3. Latency at a fixed offered rate.

struct Latency {
    rate: u32,
    events: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// Commit-to-receipt latency at a fixed rate. With `elsewhere`, a second, record-only engine makes
/// the saves, as another process would: its nudges never reach the delivering engine, which hears
/// of the events through PostgreSQL's notification or its idle poll.
async fn latency(backend: &Backend, options: &Options, receiver: &Receiver, elsewhere: bool) -> Latency {
    let rate = 500;
    let seconds = options.size.pick(10, 2, 1);
    let events = rate as usize * seconds;
    let scratch = fresh(backend).await;
    let delivering = engine(true).start(scratch.db.clone()).unwrap();
    subscribe(&delivering, &scratch.db, receiver, 1).await;
    let engine = if elsewhere { engine(false).start(scratch.db.clone()).unwrap() } else { delivering.clone() };
    receiver.reset(true);
    let mut commits: HashMap<i64, Instant> = HashMap::with_capacity(events);
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
    let db = &scratch.db;
    engine
        .scope(async {
            for i in 0..events {
                tick.tick().await;
                let txn = db.begin().await.unwrap();
                let saved = new_item(i).insert(&txn).await.unwrap();
                txn.commit().await.unwrap();
                commits.insert(saved.id, Instant::now());
            }
        })
        .await;
    receiver.wait_for(events as u64).await;
    delivering.shutdown().await;
    let arrivals = std::mem::take(&mut *receiver.inbox.arrivals.lock().unwrap());
    let mut millis: Vec<f64> =
        arrivals.iter().map(|(pk, at)| at.saturating_duration_since(commits[pk]).as_secs_f64() * 1e3).collect();
    millis.sort_by(f64::total_cmp);
    let at = |q: f64| millis[((millis.len() - 1) as f64 * q).round() as usize];
    Latency { rate, events, p50_ms: at(0.50), p99_ms: at(0.99), max_ms: at(1.0) }
}

// ---------------------------------------------------------------------------------------------
// 4. Backlog: a record-only process, then a delivering one; each its own child process so that its
// peak resident memory is its own.

struct Backlog {
    events: usize,
    deliveries: usize,
    record_s: f64,
    record_rss_mb: f64,
    drain_s: f64,
    drain_rss_mb: f64,
    /// The delivering process's own statements (`rest_hooks_engine_statements_total`) per delivery.
    drain_statements_per_delivery: f64,
}

const BACKLOG_HOOKS: usize = 10;

async fn backlog(backend: &Backend, options: &Options, receiver: &Receiver) -> Backlog {
    let events = options.backlog_events;
    let deliveries = events * BACKLOG_HOOKS;
    let scratch = fresh(backend).await;
    let subscriber = engine(false).start(scratch.db.clone()).unwrap();
    subscribe(&subscriber, &scratch.db, receiver, BACKLOG_HOOKS).await;
    receiver.reset(false);

    let exe = std::env::current_exe().unwrap();
    let record = Command::new(&exe)
        .args(["--phase", "record", &scratch.url, &events.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(record.status.success(), "the record-only process failed");
    let recorded: Value = serde_json::from_slice(&record.stdout).unwrap();
    assert_eq!(receiver.count(), 0, "a record-only process delivered");

    let start = Instant::now();
    let mut deliver = Command::new(&exe)
        .args(["--phase", "deliver", &scratch.url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let last = receiver.wait_for(deliveries as u64).await;
    let mut stdin = deliver.stdin.take().unwrap();
    writeln!(stdin, "stop").unwrap();
    let mut line = String::new();
    std::io::BufReader::new(deliver.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(deliver.wait().unwrap().success(), "the delivering process failed");
    let delivered: Value = serde_json::from_str(&line).unwrap();
    Backlog {
        events,
        deliveries,
        record_s: recorded["seconds"].as_f64().unwrap(),
        record_rss_mb: recorded["peak_rss_mb"].as_f64().unwrap(),
        drain_s: (last - start).as_secs_f64(),
        drain_rss_mb: delivered["peak_rss_mb"].as_f64().unwrap(),
        drain_statements_per_delivery: delivered["statements"].as_f64().unwrap() / deliveries as f64,
    }
}

/// Deliveries per second with 1, 2 and 3 delivering processes on one database: the events are
/// recorded first (not timed), then the workers start and drain them. Server backends only: SQLite
/// runs one dispatcher.
async fn scale_out(backend: &Backend, options: &Options, receiver: &Receiver) -> Vec<(usize, f64)> {
    const SCALE_HOOKS: usize = 4;
    let events = options.size.pick(5_000, 1_000, 200);
    let mut rates = Vec::new();
    for workers in 1..=3 {
        let scratch = fresh(backend).await;
        let recorder = engine(false).start(scratch.db.clone()).unwrap();
        subscribe(&recorder, &scratch.db, receiver, SCALE_HOOKS).await;
        recorder.scope(insert(&scratch.db, events, Some(TXN), new_item)).await;
        receiver.reset(false);
        let start = Instant::now();
        let mut children: Vec<_> = (0..workers).map(|_| delivering_process(&scratch.url)).collect();
        let last = receiver.wait_for((events * SCALE_HOOKS) as u64).await;
        for child in &mut children {
            writeln!(child.stdin.take().unwrap(), "stop").unwrap();
        }
        for mut child in children {
            assert!(child.wait().unwrap().success(), "a worker process failed");
        }
        rates.push((workers, (events * SCALE_HOOKS) as f64 / (last - start).as_secs_f64()));
    }
    rates
}

/// A child process delivering from the database at `url` until a line on its standard input.
fn delivering_process(url: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--phase", "deliver", url])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// The child side: `--phase record URL EVENTS` or `--phase deliver URL`.
async fn child(args: &[String]) {
    let db = connect(&args[1]).await;
    match args[0].as_str() {
        "record" => {
            let events: usize = args[2].parse().unwrap();
            let engine = engine(false).start(db.clone()).unwrap();
            let start = Instant::now();
            engine.scope(insert(&db, events, Some(TXN), new_item)).await;
            let seconds = start.elapsed().as_secs_f64();
            println!("{}", json!({"seconds": seconds, "peak_rss_mb": peak_rss_mb()}));
        }
        "deliver" => {
            // Counts the engine's statements (see the metrics phase: the cost of the recorder is small).
            let _ = metrics::set_global_recorder(CountingRecorder::default());
            let engine = engine(true).start(db.clone()).unwrap();
            let stop = tokio::task::spawn_blocking(|| std::io::stdin().lock().read_line(&mut String::new()));
            stop.await.unwrap().unwrap();
            let peak = peak_rss_mb();
            let statements = STATEMENTS.load(Ordering::Relaxed);
            engine.shutdown().await;
            println!("{}", json!({"peak_rss_mb": peak, "statements": statements}));
        }
        other => usage(&format!("unknown phase `{other}`")),
    }
}

/// This process's peak resident set (VmHWM), in MB.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

// ---------------------------------------------------------------------------------------------
// 5. Event-map lookup.

struct Lookup {
    small_ns: f64,
    large_ns: f64,
    small_save_us: f64,
    large_save_us: f64,
}

const SMALL_MAP: usize = 10;
const LARGE_MAP: usize = 10_000;

/// `size - 1` events besides `EVENT`: half custom actions of the same model, half actions of other
/// models.
fn filler(size: usize) -> impl Iterator<Item = (String, String)> {
    (1..size).map(|i| {
        let spec = if i % 2 == 0 { format!("bench.Item.action{i}") } else { format!("bench.Other{i}.created") };
        (format!("filler.e{i}"), spec)
    })
}

fn map_of(size: usize) -> EventMap {
    let builder = EventMap::builder().event(EVENT, SPEC).check_models(false);
    filler(size).fold(builder, |builder, (name, spec)| builder.event(name, spec)).build().unwrap()
}

fn engine_with_map_of(size: usize) -> rest_hooks::Builder {
    filler(size).fold(engine(false).check_models(false), |builder, (name, spec)| builder.event(name, spec))
}

fn lookup_ns(map: &EventMap, n: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(map.lookup(std::hint::black_box("bench.Item"), std::hint::black_box("created")));
    }
    start.elapsed().as_secs_f64() * 1e9 / f64::from(n)
}

async fn lookup(backend: &Backend, options: &Options) -> Lookup {
    let (small, large) = (map_of(SMALL_MAP), map_of(LARGE_MAP));
    let (mut small_ns, mut large_ns) = (Vec::new(), Vec::new());
    let n = options.size.pick(2_000_000, 2_000_000, 20_000);
    for _ in 0..5 {
        small_ns.push(lookup_ns(&small, n));
        large_ns.push(lookup_ns(&large, n));
    }
    let scratch = fresh(backend).await;
    let small_engine = engine_with_map_of(SMALL_MAP).start(scratch.db.clone()).unwrap();
    let large_engine = engine_with_map_of(LARGE_MAP).start(scratch.db.clone()).unwrap();
    let blocks = options.saves() / TXN * options.reps.max(3);
    let (mut small_save, mut large_save) = (Vec::new(), Vec::new());
    for block in 0..=blocks {
        // Interleaved blocks of one transaction each, alternating which goes first.
        let engines = if block % 2 == 0 { [&small_engine, &large_engine] } else { [&large_engine, &small_engine] };
        for engine in engines {
            let elapsed = engine.scope(insert(&scratch.db, TXN, Some(TXN), new_item)).await;
            if block > 0 {
                let times = if std::ptr::eq(engine, &small_engine) { &mut small_save } else { &mut large_save };
                times.push(micros_each(elapsed, TXN));
            }
        }
    }
    Lookup {
        small_ns: median(&mut small_ns),
        large_ns: median(&mut large_ns),
        small_save_us: median(&mut small_save),
        large_save_us: median(&mut large_save),
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Isolation: what a user does by default — one save per request on a connection from
// `Database::connect(url)` with SeaORM's defaults — while the engine delivers.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Commit {
    Transaction,
    Autocommit,
}

impl Commit {
    fn name(self) -> &'static str {
        match self {
            Commit::Transaction => "transaction",
            Commit::Autocommit => "autocommit",
        }
    }

    fn txn(self) -> Option<usize> {
        match self {
            Commit::Transaction => Some(1),
            Commit::Autocommit => None,
        }
    }
}

struct SingleSaves {
    hooks: usize,
    commit: Commit,
    saves: usize,
    save_us: f64,
    floor_us: f64,
    deliveries_per_s: f64,
    ceiling_per_s: f64,
    drain_after_last_save_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// `saves` sequential saves of one row each while the engine delivers them to `hooks` hooks, on a
/// pool with SeaORM's defaults (one connection on SQLite). The floor is the same insert plus one
/// more small row (what recording adds: one INSERT) with no engine running, on the same database
/// after the engine has set it up (on SQLite: in WAL mode, as the engine leaves the file).
async fn single_saves(
    backend: &Backend,
    options: &Options,
    receiver: &Receiver,
    hooks: usize,
    commit: Commit,
) -> SingleSaves {
    let saves = options.single_saves();
    let scratch = fresh(backend).await;
    drop(scratch.db);
    let db = Database::connect(&scratch.url).await.unwrap();
    // The engine's first start prepares the database (WAL on SQLite); the floor is measured after.
    engine(true).start(db.clone()).unwrap().shutdown().await;
    let floor = insert_then(&db, saves, commit.txn(), new_plain, true).await;
    let engine = engine(true).start(db.clone()).unwrap();
    subscribe(&engine, &db, receiver, hooks).await;
    receiver.reset(true);
    let mut commits: HashMap<i64, Instant> = HashMap::with_capacity(saves);
    let start = Instant::now();
    let mut saving = Duration::ZERO;
    engine
        .scope(async {
            for i in 0..saves {
                let began = Instant::now();
                let saved = match commit {
                    Commit::Transaction => {
                        let txn = db.begin().await.unwrap();
                        let saved = new_item(i).insert(&txn).await.unwrap();
                        txn.commit().await.unwrap();
                        saved
                    }
                    Commit::Autocommit => new_item(i).insert(&db).await.unwrap(),
                };
                let now = Instant::now();
                saving += now - began;
                commits.insert(saved.id, now);
            }
        })
        .await;
    let last_save = Instant::now();
    let last = receiver.wait_for((saves * hooks) as u64).await;
    engine.shutdown().await;
    let arrivals = std::mem::take(&mut *receiver.inbox.arrivals.lock().unwrap());
    let mut millis: Vec<f64> =
        arrivals.iter().map(|(pk, at)| at.saturating_duration_since(commits[pk]).as_secs_f64() * 1e3).collect();
    millis.sort_by(f64::total_cmp);
    let at = |q: f64| millis[((millis.len() - 1) as f64 * q).round() as usize];
    let ceiling_per_s = ceiling_rate(receiver, hooks, saves * hooks).await;
    SingleSaves {
        hooks,
        commit,
        saves,
        save_us: micros_each(saving, saves),
        floor_us: micros_each(floor, saves),
        deliveries_per_s: (saves * hooks) as f64 / (last - start).as_secs_f64(),
        ceiling_per_s,
        drain_after_last_save_ms: last.saturating_duration_since(last_save).as_secs_f64() * 1e3,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
    }
}

impl SingleSaves {
    fn to_json(&self) -> Value {
        json!({
            "hooks": self.hooks, "commit": self.commit.name(), "saves": self.saves,
            "save_us": self.save_us, "floor_us": self.floor_us, "ratio_to_floor": self.save_us / self.floor_us,
            "deliveries_per_s": self.deliveries_per_s, "ceiling_per_s": self.ceiling_per_s,
            "ratio": self.deliveries_per_s / self.ceiling_per_s,
            "drain_after_last_save_ms": self.drain_after_last_save_ms, "p50_ms": self.p50_ms, "p99_ms": self.p99_ms,
        })
    }

    fn print(&self) {
        println!(
            "  {:>2} hooks, {:<11} save {:>7.0} µs (floor {:>5.0} µs, ×{:.2}); {:>6.0} deliveries/s of {:>6.0} (×{:.2}); \
             drain {:>5.0} ms; p50 {:>6.1} ms, p99 {:>7.1} ms",
            self.hooks,
            self.commit.name(),
            self.save_us,
            self.floor_us,
            self.save_us / self.floor_us,
            self.deliveries_per_s,
            self.ceiling_per_s,
            self.deliveries_per_s / self.ceiling_per_s,
            self.drain_after_last_save_ms,
            self.p50_ms,
            self.p99_ms
        );
    }
}

/// What an update costs, one per request on SeaORM's default pool while the engine delivers.
struct UpdateSaves {
    saves: usize,
    /// An update of a row, recording `updated` with the fields it set.
    update_save_us: f64,
    /// The same with `previous_values`: one `SELECT` more.
    update_previous_save_us: f64,
    /// The same update of an entity without the derive.
    update_floor_us: f64,
}

/// `saves` rows of each entity inserted (not timed), then each updated once, one update per
/// request in autocommit, the three entities in turn so that a noisy neighbour hits them alike;
/// one hook per update event, delivering meanwhile.
async fn update_saves(backend: &Backend, options: &Options, receiver: &Receiver) -> UpdateSaves {
    let saves = options.single_saves();
    let scratch = fresh(backend).await;
    drop(scratch.db);
    let db = Database::connect(&scratch.url).await.unwrap();
    engine(true).start(db.clone()).unwrap().shutdown().await;
    let engine = engine(true).start(db.clone()).unwrap();
    for event in [UPDATED, UPDATED_PREVIOUS] {
        engine.subscribe(&db, Some(1.into()), event, &receiver.url(event)).await.unwrap();
    }
    receiver.reset(false);
    let mut times = [Duration::ZERO; 3];
    engine
        .scope(async {
            let mut rows = Vec::with_capacity(saves);
            for i in 0..saves {
                let item = new_item(i).insert(&db).await.unwrap();
                let previous = new_item_previous(i).insert(&db).await.unwrap();
                let plain = new_plain(i).insert(&db).await.unwrap();
                rows.push((item, previous, plain));
            }
            for (i, (item, previous, plain)) in rows.into_iter().enumerate() {
                let title = format!("The book of the number {i}, revised");
                for k in 0..3 {
                    let variant = (i + k) % 3;
                    let began = Instant::now();
                    match variant {
                        0 => {
                            let mut active = item.clone().into_active_model();
                            active.title = Set(title.clone());
                            active.update(&db).await.unwrap();
                        }
                        1 => {
                            let mut active = previous.clone().into_active_model();
                            active.title = Set(title.clone());
                            active.update(&db).await.unwrap();
                        }
                        _ => {
                            let mut active = plain.clone().into_active_model();
                            active.title = Set(title.clone());
                            active.update(&db).await.unwrap();
                        }
                    }
                    times[variant] += began.elapsed();
                }
            }
        })
        .await;
    receiver.wait_for((saves * 2) as u64).await;
    engine.shutdown().await;
    UpdateSaves {
        saves,
        update_save_us: micros_each(times[0], saves),
        update_previous_save_us: micros_each(times[1], saves),
        update_floor_us: micros_each(times[2], saves),
    }
}

fn new_item_previous(i: usize) -> item_previous::ActiveModel {
    item_previous::ActiveModel {
        owner_id: Set(1),
        title: Set(format!("The book of the number {i}")),
        price: Set(i32::try_from(i % 10_000).unwrap()),
        ..Default::default()
    }
}

/// What one fast hook sees while hooks of one receiver answer after 60 s.
struct SlowReceiver {
    slow_hooks: usize,
    events: usize,
    /// How many of the events reached the fast hook (all, unless it was starved).
    fast_received: u64,
    fast_p50_ms: f64,
    fast_p99_ms: f64,
    fast_done_after_last_save_s: f64,
    retry_late_max_s: Option<f64>,
}

/// Saves one at a time, as in [`single_saves`], while `slow_hooks` hooks on a receiver that answers
/// after 60 s and one hook on the fast receiver take every event.
///
/// The fast hook is at `fast_path` of `receiver`, which may be the slow receiver itself (a mixed one,
/// [`Receiver::mixed`]): the `slow_same_host` phase.
async fn slow_receiver_run(
    backend: &Backend,
    options: &Options,
    receiver: &Receiver,
    fast_path: &str,
    slow: &Receiver,
    slow_hooks: usize,
) -> SlowReceiver {
    let events = options.size.pick(2_000, 500, 50);
    let scratch = fresh(backend).await;
    drop(scratch.db);
    let db = Database::connect(&scratch.url).await.unwrap();
    let engine = engine(true).start(db.clone()).unwrap();
    for h in 0..slow_hooks {
        engine.subscribe(&db, Some(1.into()), EVENT, &slow.url(&format!("s{h}"))).await.unwrap();
    }
    engine.subscribe(&db, Some(1.into()), EVENT, &receiver.url(fast_path)).await.unwrap();
    receiver.reset(true);
    let mut commits: HashMap<i64, Instant> = HashMap::with_capacity(events);
    let started = Instant::now();
    engine
        .scope(async {
            for i in 0..events {
                let txn = db.begin().await.unwrap();
                let saved = new_item(i).insert(&txn).await.unwrap();
                txn.commit().await.unwrap();
                commits.insert(saved.id, Instant::now());
            }
        })
        .await;
    let last_save = Instant::now();
    // A starved fast hook is reported, not waited for: a minute after the last save is enough.
    let (fast_received, last) = receiver.count_until(events as u64, last_save + Duration::from_secs(60)).await;
    let last = last.unwrap_or(last_save);
    // The slow receiver's first requests time out after 30 s; their retries are due 5 s later, and
    // start when slots free up again and are logged when they end (a quick run sees none).
    let watch = Duration::from_secs(options.size.pick(100, 40, 0));
    tokio::time::sleep(watch.saturating_sub(started.elapsed())).await;
    let retry_late_max_s = retry_lateness(&db).await;
    drop(engine);
    let arrivals = std::mem::take(&mut *receiver.inbox.arrivals.lock().unwrap());
    let mut millis: Vec<f64> =
        arrivals.iter().map(|(pk, at)| at.saturating_duration_since(commits[pk]).as_secs_f64() * 1e3).collect();
    millis.sort_by(f64::total_cmp);
    // A starved fast hook may have received nothing.
    let at =
        |q: f64| millis.get((millis.len().saturating_sub(1) as f64 * q).round() as usize).copied().unwrap_or(f64::NAN);
    SlowReceiver {
        slow_hooks,
        events,
        fast_received,
        fast_p50_ms: at(0.5),
        fast_p99_ms: at(0.99),
        fast_done_after_last_save_s: last.saturating_duration_since(last_save).as_secs_f64(),
        retry_late_max_s,
    }
}

/// How late the second attempts in the attempt log started, at most (seconds): each was due the
/// default schedule's 5 s after the first ended (±10 % jitter, counted in its favour).
async fn retry_lateness(db: &DatabaseConnection) -> Option<f64> {
    use rest_hooks::store::attempt;
    use sea_orm::{ColumnTrait, QueryFilter};
    let attempts = attempt::Entity::find().filter(attempt::Column::Attempt.lte(2)).all(db).await.unwrap();
    let first: HashMap<uuid::Uuid, i64> =
        attempts.iter().filter(|a| a.attempt == 1).map(|a| (a.delivery_id, a.at)).collect();
    attempts
        .iter()
        .filter(|a| a.attempt == 2)
        .filter_map(|a| {
            let due = first.get(&a.delivery_id)? + 5_500;
            Some((a.at - a.duration_ms - due) as f64 / 1e3)
        })
        .max_by(f64::total_cmp)
        .map(|late| late.max(0.0))
}

/// Seconds from the SIGKILL of a delivering process with requests under way until every delivery
/// is recorded delivered by another process (on SQLite: the same, restarted) — those the killed
/// process had sent but not recorded included, which wait for their lease to run out.
async fn takeover(backend: &Backend) -> f64 {
    use rest_hooks::store::delivery;
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
    const EVENTS: usize = 200;
    let scratch = fresh(backend).await;
    let receiver = Receiver::answering_after(Duration::from_millis(500));
    let recorder = engine(false).start(scratch.db.clone()).unwrap();
    subscribe(&recorder, &scratch.db, &receiver, 1).await;
    recorder.scope(insert(&scratch.db, EVENTS, Some(TXN), new_item)).await;
    receiver.reset(false);
    let mut first = delivering_process(&scratch.url);
    receiver.wait_for(20).await;
    first.kill().unwrap();
    first.wait().unwrap();
    let killed = Instant::now();
    let mut second = delivering_process(&scratch.url);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let delivered = delivery::Entity::find()
            .filter(delivery::Column::State.eq(delivery::state::DELIVERED))
            .count(&scratch.db)
            .await
            .unwrap();
        if delivered >= EVENTS as u64 {
            break;
        }
        assert!(Instant::now() < deadline, "only {delivered} of {EVENTS} deliveries recorded after the kill");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let taken_over = killed.elapsed().as_secs_f64();
    writeln!(second.stdin.take().unwrap(), "stop").unwrap();
    assert!(second.wait().unwrap().success(), "the second delivering process failed");
    taken_over
}

/// Instances updated in the ordering phase, and updates of each.
const ORDER_OBJECTS: usize = 50;
const ORDER_EDITS: usize = 20;

/// Deliveries per second of `ORDER_EDITS` rounds of updates to `ORDER_OBJECTS` items (one
/// transaction per round), to one hook, with the hook's deliveries held in order per item or not.
/// Ordered, each item has one request under way at a time.
async fn ordering_rate(backend: &Backend, receiver: &Receiver, ordered: bool) -> f64 {
    let scratch = fresh(backend).await;
    // `engine` maps the update event already.
    let mut builder = engine(true);
    if ordered {
        builder = builder.ordered_events([UPDATED]);
    }
    let engine = builder.start(scratch.db.clone()).unwrap();
    let mut items = Vec::with_capacity(ORDER_OBJECTS);
    for i in 0..ORDER_OBJECTS {
        items.push(engine.scope(new_item(i).insert(&scratch.db)).await.unwrap());
    }
    engine.subscribe(&scratch.db, Some(1.into()), UPDATED, &receiver.url("changed")).await.unwrap();
    receiver.reset(false);
    let start = Instant::now();
    for round in 0..ORDER_EDITS {
        let txn = scratch.db.begin().await.unwrap();
        for item in &items {
            let mut edit = item.clone().into_active_model();
            edit.price = Set(i32::try_from(round).unwrap());
            engine.scope(edit.update(&txn)).await.unwrap();
        }
        txn.commit().await.unwrap();
    }
    let last = receiver.wait_for((ORDER_OBJECTS * ORDER_EDITS) as u64).await;
    engine.shutdown().await;
    (ORDER_OBJECTS * ORDER_EDITS) as f64 / (last - start).as_secs_f64()
}

/// What recording metrics costs: single saves (10 hooks, a transaction each) and throughput (10
/// hooks, transactions of 100) without a recorder, then with a counting recorder installed.
struct MetricsCost {
    off: (SingleSaves, f64),
    on: (SingleSaves, f64),
    /// Metric updates the recorder counted during the runs with it.
    updates: u64,
    /// `rest_hooks_engine_statements_total` per delivery of a throughput run (10 hooks,
    /// transactions of 100): every statement the engine ran, over deliveries made.
    statements_per_delivery: f64,
}

/// A recorder that does what a real one does per update, and no more: finds the metric in a
/// registry under a lock and updates it with an atomic.
#[derive(Default)]
struct CountingRecorder {
    registry: Mutex<HashMap<metrics::Key, Arc<CountingHandle>>>,
}

#[derive(Default)]
struct CountingHandle {
    value: AtomicU64,
    /// It counts the engine's statements: its increments go to [`STATEMENTS`] too.
    statements: bool,
}

static UPDATES: AtomicU64 = AtomicU64::new(0);

/// What `rest_hooks_engine_statements_total` added up to, over every engine of the process.
static STATEMENTS: AtomicU64 = AtomicU64::new(0);

impl CountingRecorder {
    fn handle(&self, key: &metrics::Key) -> Arc<CountingHandle> {
        let statements = key.name() == "rest_hooks_engine_statements_total";
        let mut registry = self.registry.lock().unwrap();
        Arc::clone(
            registry
                .entry(key.clone())
                .or_insert_with(|| Arc::new(CountingHandle { value: AtomicU64::new(0), statements })),
        )
    }
}

impl metrics::Recorder for CountingRecorder {
    fn describe_counter(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
    fn describe_gauge(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
    fn describe_histogram(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}

    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        metrics::Counter::from_arc(self.handle(key))
    }

    fn register_gauge(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::from_arc(self.handle(key))
    }

    fn register_histogram(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Histogram {
        metrics::Histogram::from_arc(self.handle(key))
    }
}

impl metrics::CounterFn for CountingHandle {
    fn increment(&self, value: u64) {
        self.value.fetch_add(value, Ordering::Relaxed);
        if self.statements {
            STATEMENTS.fetch_add(value, Ordering::Relaxed);
        }
        UPDATES.fetch_add(1, Ordering::Relaxed);
    }

    fn absolute(&self, value: u64) {
        self.value.fetch_max(value, Ordering::Relaxed);
        UPDATES.fetch_add(1, Ordering::Relaxed);
    }
}

impl metrics::GaugeFn for CountingHandle {
    fn increment(&self, _: f64) {
        self.value.fetch_add(1, Ordering::Relaxed);
        UPDATES.fetch_add(1, Ordering::Relaxed);
    }

    fn decrement(&self, _: f64) {
        self.value.fetch_sub(1, Ordering::Relaxed);
        UPDATES.fetch_add(1, Ordering::Relaxed);
    }

    fn set(&self, value: f64) {
        self.value.store(value.to_bits(), Ordering::Relaxed);
        UPDATES.fetch_add(1, Ordering::Relaxed);
    }
}

impl metrics::HistogramFn for CountingHandle {
    fn record(&self, value: f64) {
        self.value.fetch_add(value.to_bits() >> 32, Ordering::Relaxed);
        UPDATES.fetch_add(1, Ordering::Relaxed);
    }
}

/// Deliveries per second of 10 hooks over `options.deliveries()`, saved in transactions of 100.
async fn throughput_10(backend: &Backend, options: &Options, receiver: &Receiver) -> f64 {
    engine_rate(backend, receiver, 10, options.deliveries() / 10).await.0
}

/// Runs the metrics phase. Without a recorder first (a recorder, once installed, stays for the
/// process), each run preceded by one not counted that warms up the same path.
async fn metrics_cost(backend: &Backend, options: &Options, receiver: &Receiver) -> MetricsCost {
    let run = || async {
        single_saves(backend, options, receiver, 10, Commit::Transaction).await;
        let saves = single_saves(backend, options, receiver, 10, Commit::Transaction).await;
        (saves, throughput_10(backend, options, receiver).await)
    };
    let off = run().await;
    // Another backend's run may have installed it already.
    let _ = metrics::set_global_recorder(CountingRecorder::default());
    let before = UPDATES.load(Ordering::Relaxed);
    let on = run().await;
    let updates = UPDATES.load(Ordering::Relaxed) - before;
    // The engine's own statements, counted through its metric: 10 hooks, transactions of 100.
    let deliveries = options.deliveries() / 10 * 10;
    let before = STATEMENTS.load(Ordering::Relaxed);
    throughput_10(backend, options, receiver).await;
    let statements_per_delivery = (STATEMENTS.load(Ordering::Relaxed) - before) as f64 / deliveries as f64;
    MetricsCost { off, on, updates, statements_per_delivery }
}

impl MetricsCost {
    fn print(&self) {
        let ((off_saves, off_rate), (on_saves, on_rate)) = (&self.off, &self.on);
        println!(
            "  metrics, 10 hooks: single save {:.0} µs without a recorder, {:.0} µs with one (×{:.2}); \
             {:.0} deliveries/s of single saves without, {:.0} with (×{:.2}); throughput {off_rate:.0}/s without, \
             {on_rate:.0}/s with (×{:.2}); {} metric updates recorded; the engine ran {:.3} statements per \
             delivery (10 hooks, transactions of 100)",
            off_saves.save_us,
            on_saves.save_us,
            on_saves.save_us / off_saves.save_us,
            off_saves.deliveries_per_s,
            on_saves.deliveries_per_s,
            on_saves.deliveries_per_s / off_saves.deliveries_per_s,
            on_rate / off_rate,
            self.updates,
            self.statements_per_delivery
        );
    }

    fn to_json(&self) -> serde_json::Map<String, Value> {
        let ((off_saves, off_rate), (on_saves, on_rate)) = (&self.off, &self.on);
        let json = json!({
            "metrics_off_save_us": off_saves.save_us,
            "metrics_on_save_us": on_saves.save_us,
            "metrics_off_single_save_deliveries_per_s": off_saves.deliveries_per_s,
            "metrics_on_single_save_deliveries_per_s": on_saves.deliveries_per_s,
            "metrics_off_deliveries_per_s": off_rate,
            "metrics_on_deliveries_per_s": on_rate,
            "metrics_updates": self.updates,
            "engine_statements_per_delivery": self.statements_per_delivery,
        });
        match json {
            Value::Object(map) => map,
            _ => unreachable!("a JSON object"),
        }
    }
}

/// The isolation phases of one backend.
#[derive(Default)]
struct Isolation {
    single_saves: Vec<SingleSaves>,
    update_saves: Option<UpdateSaves>,
    slow_receiver: Option<SlowReceiver>,
    /// The same with the fast hook on the slow hooks' host.
    slow_same_host: Option<SlowReceiver>,
    takeover_s: Option<f64>,
    /// Deliveries per second of updates to a few instances, in order and not.
    ordering: Option<(f64, f64)>,
    /// The same runs without a metrics recorder and with one.
    metrics: Option<MetricsCost>,
}

impl Isolation {
    async fn measure(backend: &Backend, options: &Options, receiver: &Receiver) -> Isolation {
        let mut isolation = Isolation::default();
        if options.runs("single_saves") {
            for hooks in [1, 10] {
                for commit in [Commit::Transaction, Commit::Autocommit] {
                    eprintln!("[{}] single saves, {hooks} hooks, {} …", backend.name(), commit.name());
                    let run = single_saves(backend, options, receiver, hooks, commit).await;
                    isolation.single_saves.push(run);
                }
            }
        }
        if options.runs("update_saves") {
            eprintln!("[{}] single updates, without and with previous values …", backend.name());
            isolation.update_saves = Some(update_saves(backend, options, receiver).await);
        }
        if options.runs("slow_receiver") {
            eprintln!("[{}] one fast hook beside 50 hooks of a receiver that answers after 60 s …", backend.name());
            let slow = Receiver::answering_after(Duration::from_secs(60));
            isolation.slow_receiver = Some(slow_receiver_run(backend, options, receiver, "h0", &slow, 50).await);
        }
        if options.runs("slow_same_host") {
            eprintln!("[{}] one fast hook on the host of a hook that answers after 60 s …", backend.name());
            let mixed = Receiver::mixed("fast", Duration::from_secs(60));
            isolation.slow_same_host = Some(slow_receiver_run(backend, options, &mixed, "fast", &mixed, 1).await);
        }
        if options.runs("takeover") {
            eprintln!("[{}] a delivering process killed with requests under way …", backend.name());
            isolation.takeover_s = Some(takeover(backend).await);
        }
        if options.runs("ordering") {
            eprintln!("[{}] updates of {ORDER_OBJECTS} instances, ordered and not …", backend.name());
            let ordered = ordering_rate(backend, receiver, true).await;
            let unordered = ordering_rate(backend, receiver, false).await;
            isolation.ordering = Some((ordered, unordered));
        }
        if options.runs("metrics") {
            eprintln!("[{}] single saves and throughput, without a metrics recorder and with one …", backend.name());
            isolation.metrics = Some(metrics_cost(backend, options, receiver).await);
        }
        isolation
    }

    fn print(&self, backend: &str) {
        println!("{backend}: one save per request on SeaORM's default pool, while delivering");
        for run in &self.single_saves {
            run.print();
        }
        if let Some(updates) = &self.update_saves {
            println!(
                "  {} updates, autocommit: {:.0} µs, with previous values {:.0} µs (floor {:.0} µs, ×{:.2} and ×{:.2})",
                updates.saves,
                updates.update_save_us,
                updates.update_previous_save_us,
                updates.update_floor_us,
                updates.update_save_us / updates.update_floor_us,
                updates.update_previous_save_us / updates.update_floor_us
            );
        }
        if let Some(slow) = &self.slow_receiver {
            println!(
                "  1 fast hook beside {} hooks of a receiver that answers after 60 s, {} events: fast p50 {:.1} ms, \
                 p99 {:.1} ms; done {:.2} s after the last save; retries at most {} late",
                slow.slow_hooks,
                slow.events,
                slow.fast_p50_ms,
                slow.fast_p99_ms,
                slow.fast_done_after_last_save_s,
                slow.retry_late_max_s.map_or_else(|| "(none started yet)".to_owned(), |late| format!("{late:.1} s"))
            );
        }
        if let Some(same) = &self.slow_same_host {
            println!(
                "  1 fast hook on the host of {} hook(s) that answer after 60 s, {} events: {} received, fast p50 \
                 {:.1} ms, p99 {:.1} ms; done {:.2} s after the last save",
                same.slow_hooks,
                same.events,
                same.fast_received,
                same.fast_p50_ms,
                same.fast_p99_ms,
                same.fast_done_after_last_save_s,
            );
        }
        if let Some(takeover) = self.takeover_s {
            println!("  a delivering process killed with requests under way: taken over in {takeover:.1} s");
        }
        if let Some((ordered, unordered)) = self.ordering {
            println!(
                "  {ORDER_EDITS} updates of each of {ORDER_OBJECTS} instances: {ordered:.0} deliveries/s in order, \
                 {unordered:.0} not ({:.2}x)",
                ordered / unordered
            );
        }
        if let Some(cost) = &self.metrics {
            cost.print();
        }
    }

    fn to_json(&self) -> serde_json::Map<String, Value> {
        let mut json = serde_json::Map::new();
        if !self.single_saves.is_empty() {
            json.insert("single_saves".to_owned(), self.single_saves.iter().map(SingleSaves::to_json).collect());
        }
        if let Some(updates) = &self.update_saves {
            json.insert("update_saves".to_owned(), json!(updates.saves));
            json.insert("update_save_us".to_owned(), json!(updates.update_save_us));
            json.insert("update_previous_save_us".to_owned(), json!(updates.update_previous_save_us));
            json.insert("update_floor_us".to_owned(), json!(updates.update_floor_us));
        }
        if let Some(slow) = &self.slow_receiver {
            json.insert(
                "slow_receiver".to_owned(),
                json!({
                    "slow_hooks": slow.slow_hooks, "events": slow.events, "fast_p50_ms": slow.fast_p50_ms,
                    "fast_p99_ms": slow.fast_p99_ms, "fast_done_after_last_save_s": slow.fast_done_after_last_save_s,
                    "retry_late_max_s": slow.retry_late_max_s,
                }),
            );
        }
        if let Some(same) = &self.slow_same_host {
            json.insert(
                "slow_same_host".to_owned(),
                json!({
                    "slow_hooks": same.slow_hooks, "events": same.events, "fast_received": same.fast_received,
                    "fast_p50_ms": same.fast_p50_ms, "fast_p99_ms": same.fast_p99_ms,
                    "fast_done_after_last_save_s": same.fast_done_after_last_save_s,
                }),
            );
        }
        if let Some(takeover) = self.takeover_s {
            json.insert("takeover_s".to_owned(), json!(takeover));
        }
        if let Some((ordered, unordered)) = self.ordering {
            json.insert("ordered_deliveries_per_s".to_owned(), json!(ordered));
            json.insert("unordered_deliveries_per_s".to_owned(), json!(unordered));
        }
        if let Some(cost) = &self.metrics {
            json.extend(cost.to_json());
        }
        json
    }
}

// ---------------------------------------------------------------------------------------------
// The run.

struct Report {
    backend: &'static str,
    autocommit: SaveCost,
    transactions: SaveCost,
    throughput: Vec<Throughput>,
    /// 10 hooks spread over [`SPREAD`] receivers, one host each.
    spread: Throughput,
    latency: Latency,
    latency_elsewhere: Latency,
    /// Deliveries per second by number of worker processes (server backends).
    scale_out: Vec<(usize, f64)>,
    backlog: Backlog,
    lookup: Lookup,
    isolation: Isolation,
}

async fn run(options: Options) {
    let receiver = Receiver::start();
    let spread_receiver = Receiver::spread(SPREAD);
    let mut backends = vec![Backend::Sqlite];
    backends.extend(options.postgres.clone().map(Backend::Postgres));
    backends.extend(options.mysql.clone().map(Backend::MySql));
    let machine = machine();
    let build = if cfg!(debug_assertions) { "debug build: its figures compare with nothing" } else { "release build" };
    println!("rest_hooks benchmark on {machine}; {build}; {} run", options.size.name());
    if options.only.is_some() {
        let mut json = serde_json::Map::new();
        for backend in &backends {
            let isolation = Isolation::measure(backend, &options, &receiver).await;
            isolation.print(backend.name());
            let mut figures = isolation.to_json();
            if options.runs("backlog") {
                eprintln!("[{}] backlog of {} deliveries …", backend.name(), options.backlog_events * BACKLOG_HOOKS);
                let b = backlog(backend, &options, &receiver).await;
                println!(
                    "  backlog of {} deliveries: recorded in {:.1} s, drained in {:.1} s ({:.0}/s), peak RSS {:.1} MB, \
                     {:.2} statements per delivery",
                    b.deliveries,
                    b.record_s,
                    b.drain_s,
                    b.deliveries as f64 / b.drain_s,
                    b.drain_rss_mb,
                    b.drain_statements_per_delivery
                );
                figures.insert(
                    "backlog".to_owned(),
                    json!({"deliveries": b.deliveries, "drain_s": b.drain_s, "drain_per_s": b.deliveries as f64 / b.drain_s, "drain_peak_rss_mb": b.drain_rss_mb, "drain_statements_per_delivery": b.drain_statements_per_delivery}),
                );
            }
            json.insert(backend.name().to_owned(), Value::Object(figures));
        }
        println!(
            "{}",
            json!({"machine": machine, "quick": options.quick, "size": options.size.name(), "backends": json})
        );
        return;
    }
    let mut reports = Vec::new();
    for backend in &backends {
        eprintln!("[{}] save cost …", backend.name());
        let autocommit = save_cost(backend, &options, &receiver, None).await;
        let transactions = save_cost(backend, &options, &receiver, Some(TXN)).await;
        let mut rates = Vec::new();
        for hooks in [1, 2, 5, 10, 20] {
            eprintln!("[{}] throughput, {hooks} hooks per event …", backend.name());
            rates.push(throughput(backend, &options, &receiver, hooks).await);
        }
        eprintln!("[{}] throughput, 10 hooks per event on {SPREAD} receivers …", backend.name());
        let spread = throughput(backend, &options, &spread_receiver, 10).await;
        eprintln!("[{}] latency …", backend.name());
        let latency_here = latency(backend, &options, &receiver, false).await;
        eprintln!("[{}] latency, recorded by another engine …", backend.name());
        let latency_elsewhere = latency(backend, &options, &receiver, true).await;
        eprintln!("[{}] backlog of {} deliveries …", backend.name(), options.backlog_events * BACKLOG_HOOKS);
        let backlog = backlog(backend, &options, &receiver).await;
        let scale_out = if matches!(backend, Backend::Sqlite) {
            Vec::new()
        } else {
            eprintln!("[{}] 1, 2 and 3 worker processes …", backend.name());
            scale_out(backend, &options, &receiver).await
        };
        eprintln!("[{}] event-map lookup …", backend.name());
        let lookup = lookup(backend, &options).await;
        let isolation = Isolation::measure(backend, &options, &receiver).await;
        let report = Report {
            backend: backend.name(),
            autocommit,
            transactions,
            throughput: rates,
            spread,
            latency: latency_here,
            latency_elsewhere,
            scale_out,
            backlog,
            lookup,
            isolation,
        };
        print_table(&report, &options);
        reports.push(report);
    }
    let svg = chart(&reports);
    if let Some(parent) = options.svg.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&options.svg, svg).unwrap();
    println!("chart: {}", options.svg.display());
    let backends: serde_json::Map<String, Value> =
        reports.iter().map(|report| (report.backend.to_owned(), to_json(report))).collect();
    println!(
        "{}",
        json!({"machine": machine, "quick": options.quick, "size": options.size.name(), "backends": backends})
    );
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{cores} cores, {cpu}")
}

fn print_table(r: &Report, options: &Options) {
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!();
    println!("== {} ==", r.backend);
    r.isolation.print(r.backend);
    println!(
        "save cost: µs per insert, median of {} interleaved blocks of {TXN} saves each, 10 hooks",
        options.saves() / TXN * options.reps.max(3)
    );
    println!(
        "  {:<22}{:>8}{:>12}{:>11}{:>9}{:>13}   target",
        "", "plain", "plain+row", "recording", "ratio", "plain+row×"
    );
    for (name, cost, target) in [("auto-commit", &r.autocommit, 1.5), ("transactions of 100", &r.transactions, 1.3)] {
        println!(
            "  {name:<22}{:>8.1}{:>12.1}{:>11.1}{:>8.2}×{:>12.2}×   ≤ {target}× {}",
            cost.plain_us,
            cost.two_rows_us,
            cost.hookable_us,
            cost.ratio(),
            cost.two_rows_us / cost.plain_us,
            verdict(cost.ratio() <= target)
        );
    }
    println!("throughput: deliveries per second, first save to last receipt, median of {}", options.reps);
    println!(
        "  {:>6}{:>8}{:>12}{:>12}{:>12}{:>9}{:>14}",
        "hooks", "events", "deliveries", "rest_hooks", "reqwest", "ratio", "save loop/s"
    );
    let row = |t: &Throughput, note: &str| {
        println!(
            "  {:>6}{:>8}{:>12}{:>12.0}{:>12.0}{:>8.2}×{:>14.0}{note}",
            t.hooks,
            t.events,
            t.hooks * t.events,
            t.engine,
            t.ceiling,
            t.engine / t.ceiling,
            t.saves
        );
    };
    for t in &r.throughput {
        row(t, "");
    }
    row(&r.spread, &format!("   spread over {SPREAD} receivers"));
    let t = &r.spread;
    println!(
        "  targets (10 hooks on {SPREAD} receivers): ≥ 0.5× ceiling {}; ≥ 10,000/s {}",
        verdict(t.engine / t.ceiling >= 0.5),
        verdict(t.engine >= 10_000.0)
    );
    let l = &r.latency;
    println!("latency: commit to receipt, {} events/s for {} events, 1 hook", l.rate, l.events);
    println!(
        "  p50 {:.2} ms (target ≤ 5: {})   p99 {:.2} ms (target ≤ 50: {})   max {:.2} ms",
        l.p50_ms,
        verdict(l.p50_ms <= 5.0),
        l.p99_ms,
        verdict(l.p99_ms <= 50.0),
        l.max_ms
    );
    let e = &r.latency_elsewhere;
    println!(
        "  recorded by another engine (another process's path; {}): p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
        if r.backend == "postgres" { "LISTEN / NOTIFY" } else { "the 1 s idle poll" },
        e.p50_ms,
        e.p99_ms,
        e.max_ms
    );
    if !r.scale_out.is_empty() {
        let rates: Vec<String> =
            r.scale_out.iter().map(|(workers, rate)| format!("{workers} worker(s) {rate:.0}/s")).collect();
        println!("worker processes draining 4 hooks per event: {}", rates.join(", "));
    }
    let b = &r.backlog;
    println!("backlog: {} events × {BACKLOG_HOOKS} hooks = {} deliveries", b.events, b.deliveries);
    println!(
        "  record-only process: {:.1} s ({:.0} events/s), peak RSS {:.1} MB",
        b.record_s,
        b.events as f64 / b.record_s,
        b.record_rss_mb
    );
    println!(
        "  delivering process:  {:.1} s ({:.0} deliveries/s), peak RSS {:.1} MB (target ≤ 150: {}), {:.2} statements per delivery",
        b.drain_s,
        b.deliveries as f64 / b.drain_s,
        b.drain_rss_mb,
        verdict(b.record_rss_mb.max(b.drain_rss_mb) <= 150.0),
        b.drain_statements_per_delivery
    );
    let m = &r.lookup;
    println!("event-map lookup: {SMALL_MAP} vs {LARGE_MAP} events in the map");
    println!(
        "  lookup {:.1} ns vs {:.1} ns ({:.2}×); save in transactions {:.1} µs vs {:.1} µs ({:.2}×)",
        m.small_ns,
        m.large_ns,
        m.large_ns / m.small_ns,
        m.small_save_us,
        m.large_save_us,
        m.large_save_us / m.small_save_us
    );
}

fn to_json(r: &Report) -> Value {
    let mut json = report_json(r);
    if let Value::Object(fields) = &mut json {
        fields.extend(r.isolation.to_json());
    }
    json
}

fn report_json(r: &Report) -> Value {
    let cost = |c: &SaveCost| {
        json!({
            "plain_us": c.plain_us, "plain_plus_row_us": c.two_rows_us, "recording_us": c.hookable_us,
            "ratio": c.ratio(), "plain_plus_row_ratio": c.two_rows_us / c.plain_us,
        })
    };
    let b = &r.backlog;
    json!({
        "save_autocommit": cost(&r.autocommit),
        "save_transactions_of_100": cost(&r.transactions),
        "throughput": r.throughput.iter().map(|t| json!({
            "hooks": t.hooks, "events": t.events, "deliveries_per_s": t.engine,
            "ceiling_per_s": t.ceiling, "ratio": t.engine / t.ceiling, "save_loop_per_s": t.saves,
        })).collect::<Vec<_>>(),
        "throughput_spread": {
            "hooks": r.spread.hooks, "receivers": SPREAD, "events": r.spread.events,
            "deliveries_per_s": r.spread.engine, "ceiling_per_s": r.spread.ceiling,
            "ratio": r.spread.engine / r.spread.ceiling, "save_loop_per_s": r.spread.saves,
        },
        "latency_ms": {"rate": r.latency.rate, "events": r.latency.events, "p50": r.latency.p50_ms, "p99": r.latency.p99_ms, "max": r.latency.max_ms},
        "workers_deliveries_per_s": r.scale_out.iter().map(|(workers, rate)| json!({"workers": workers, "deliveries_per_s": rate})).collect::<Vec<_>>(),
        "latency_elsewhere_ms": {"p50": r.latency_elsewhere.p50_ms, "p99": r.latency_elsewhere.p99_ms, "max": r.latency_elsewhere.max_ms},
        "backlog": {
            "events": b.events, "deliveries": b.deliveries,
            "record_s": b.record_s, "record_peak_rss_mb": b.record_rss_mb,
            "drain_s": b.drain_s, "drain_per_s": b.deliveries as f64 / b.drain_s, "drain_peak_rss_mb": b.drain_rss_mb,
            "drain_statements_per_delivery": b.drain_statements_per_delivery,
        },
        "lookup": {
            "small": SMALL_MAP, "large": LARGE_MAP,
            "small_ns": r.lookup.small_ns, "large_ns": r.lookup.large_ns, "ratio": r.lookup.large_ns / r.lookup.small_ns,
            "small_save_us": r.lookup.small_save_us, "large_save_us": r.lookup.large_save_us,
            "save_ratio": r.lookup.large_save_us / r.lookup.small_save_us,
        },
    })
}

/// A line chart of deliveries per second against hooks per event: rest_hooks and the reqwest
/// ceiling, per backend. Plain SVG, no fonts to load.
fn chart(reports: &[Report]) -> String {
    const W: f64 = 780.0;
    const H: f64 = 360.0;
    const LEFT: f64 = 70.0;
    const RIGHT: f64 = 250.0;
    const TOP: f64 = 40.0;
    const BOTTOM: f64 = 50.0;
    let colours = ["#1f77b4", "#d62728", "#2ca02c"];
    let max_y =
        reports.iter().flat_map(|r| r.throughput.iter().flat_map(|t| [t.engine, t.ceiling])).fold(1.0_f64, f64::max);
    let step = nice_step(max_y / 5.0);
    let top_y = (max_y / step).ceil() * step;
    let max_x = 20.0;
    let x = |hooks: f64| LEFT + (hooks / max_x) * (W - LEFT - RIGHT);
    let y = |rate: f64| H - BOTTOM - (rate / top_y) * (H - TOP - BOTTOM);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">Deliveries per second against hooks per event</text>\n",
        (LEFT + W - RIGHT) / 2.0
    );
    let mut tick = 0.0;
    while tick <= top_y + step / 2.0 {
        let (right, at, label_x, label_y) = (W - RIGHT, y(tick), LEFT - 6.0, y(tick) + 4.0);
        svg += &format!(
            "<line x1=\"{LEFT}\" x2=\"{right}\" y1=\"{at:.1}\" y2=\"{at:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{label_x}\" y=\"{label_y:.1}\" text-anchor=\"end\">{}</text>\n",
            thousands(tick as u64)
        );
        tick += step;
    }
    for hooks in [1.0, 2.0, 5.0, 10.0, 20.0] {
        svg += &format!(
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#999\"/><text x=\"{0:.1}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
            x(hooks),
            H - BOTTOM,
            H - BOTTOM + 5.0,
            H - BOTTOM + 18.0,
            hooks
        );
    }
    svg += &format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">hooks per event</text>\n",
        (LEFT + W - RIGHT) / 2.0,
        H - 12.0
    );
    svg += &format!(
        "<line x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{}\" stroke=\"#999\"/><line x1=\"{LEFT}\" x2=\"{}\" y1=\"{1}\" y2=\"{1}\" stroke=\"#999\"/>\n",
        H - BOTTOM,
        W - RIGHT
    );
    let mut legend = 0.0;
    for (report, colour) in reports.iter().zip(colours) {
        for (label, dash, pick) in [
            (format!("rest_hooks, {}", report.backend), "", (|t: &Throughput| t.engine) as fn(&Throughput) -> f64),
            (format!("reqwest ceiling ({})", report.backend), " stroke-dasharray=\"5,4\"", |t: &Throughput| t.ceiling),
        ] {
            let points: Vec<String> =
                report.throughput.iter().map(|t| format!("{:.1},{:.1}", x(t.hooks as f64), y(pick(t)))).collect();
            svg += &format!(
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash} points=\"{}\"/>\n",
                points.join(" ")
            );
            for point in &points {
                let (px, py) = point.split_once(',').unwrap_or_default();
                svg += &format!("<circle cx=\"{px}\" cy=\"{py}\" r=\"3\" fill=\"{colour}\"/>\n");
            }
            let ly = TOP + 10.0 + legend * 18.0;
            svg += &format!(
                "<line x1=\"{0}\" x2=\"{1}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/><text x=\"{2}\" y=\"{3}\">{label}</text>\n",
                W - RIGHT + 10.0,
                W - RIGHT + 34.0,
                W - RIGHT + 40.0,
                ly + 4.0
            );
            legend += 1.0;
        }
    }
    svg + "</svg>\n"
}

/// `12345` as `12,345`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|s| *s >= raw).unwrap_or(10.0 * power)
}
