//! Many processes on one PostgreSQL or MySQL database: three worker processes deliver what a
//! recording process produces, each delivery once; then one worker is killed (SIGKILL) mid-run,
//! and nothing is lost — the only duplicates are deliveries it had in flight. SQLite runs one
//! dispatcher, so this runs in the suite's PostgreSQL and MySQL runs (see `backends`).

use std::collections::HashMap;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rest_hooks::Engine;
use rest_hooks_tests::{Receiver, TestDb, local_bookstore};
use sea_orm::{ActiveModelTrait, Database, DbBackend, TransactionTrait};

use crate::lifecycle::new_book;

/// Set in a worker process: the URL of the database to deliver from.
const WORKER_VAR: &str = "REST_HOOKS_SCALE_WORKER";
const HOOKS: usize = 4;
const PATIENCE: Duration = Duration::from_secs(120);

/// A worker process: a delivering engine until its standard input closes. In the ordinary test run
/// it does nothing.
#[test]
fn worker_process() {
    let Ok(url) = std::env::var(WORKER_VAR) else { return };
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = Database::connect(&url).await.unwrap();
        let engine = local_bookstore(Engine::builder()).timeout(Duration::from_secs(1)).start(db).unwrap();
        tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new())).await.unwrap().unwrap();
        engine.shutdown().await;
    });
}

fn spawn_worker(url: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["scale::worker_process", "--exact", "--nocapture", "--test-threads=1"])
        .env(WORKER_VAR, url)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

async fn record(db: &sea_orm::DatabaseConnection, recorder: &Engine, events: usize, first: usize) {
    for batch in (first..first + events).collect::<Vec<_>>().chunks(50) {
        let txn = db.begin().await.unwrap();
        for i in batch {
            recorder.scope(new_book(1, &format!("Book {i}")).insert(&txn)).await.unwrap();
        }
        txn.commit().await.unwrap();
    }
}

/// How many times each `webhook-id` arrived.
fn tally(receiver: &Receiver) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for request in receiver.received() {
        *seen.entry(request.headers["webhook-id"].clone()).or_insert(0) += 1;
    }
    seen
}

async fn wait_for_distinct(receiver: &Receiver, count: usize) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tally(receiver).len() < count {
        assert!(tokio::time::Instant::now() < deadline, "{} of {count} deliveries arrived", tally(receiver).len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_the_work_and_a_killed_one_loses_nothing() {
    if std::env::var(WORKER_VAR).is_ok() {
        return;
    }
    let test_db = TestDb::new().await;
    let db = test_db.db.clone();
    if db.get_database_backend() == DbBackend::Sqlite {
        return;
    }
    let receiver = Receiver::start().await;
    let recorder = local_bookstore(Engine::builder()).deliver(false).start(db.clone()).unwrap();
    for h in 0..HOOKS {
        recorder.subscribe(&db, Some(1.into()), "book.added", &receiver.url(&format!("h{h}"))).await.unwrap();
    }
    let mut workers: Vec<Child> = (0..3).map(|_| spawn_worker(&test_db.url)).collect();

    // Every delivery once while no process dies.
    let first = 500;
    record(&db, &recorder, first, 0).await;
    wait_for_distinct(&receiver, first * HOOKS).await;
    let counts = tally(&receiver);
    let duplicates = counts.values().filter(|n| **n > 1).count();
    println!(
        "three workers: {} deliveries, {} distinct, {duplicates} duplicated",
        receiver.received().len(),
        counts.len()
    );
    assert_eq!(duplicates, 0, "no delivery arrives twice while no process dies");

    // Kill one worker while deliveries are flowing.
    let second = 1000;
    let recording = {
        let (db, recorder) = (db.clone(), recorder.clone());
        tokio::spawn(async move { record(&db, &recorder, second, first).await })
    };
    let before = receiver.received().len();
    while receiver.received().len() < before + 300 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    workers[0].kill().unwrap();
    workers[0].wait().unwrap();
    // Requests the dead worker had already written may still be read from their sockets.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let at_kill = receiver.received().len();
    recording.await.unwrap();
    let total = (first + second) * HOOKS;
    wait_for_distinct(&receiver, total).await;

    let received = receiver.received();
    let mut first_seen: HashMap<&str, usize> = HashMap::new();
    let mut duplicated = Vec::new();
    for (index, request) in received.iter().enumerate() {
        let id = request.headers["webhook-id"].as_str();
        match first_seen.get(id) {
            Some(&first_index) => duplicated.push(first_index),
            None => {
                first_seen.insert(id, index);
            }
        }
    }
    println!(
        "one worker killed after {at_kill} receipts: {} committed deliveries, {} received, {} distinct, {} duplicates",
        total,
        received.len(),
        first_seen.len(),
        duplicated.len()
    );
    assert_eq!(first_seen.len(), total, "every committed delivery arrived");
    assert!(
        duplicated.iter().all(|first_index| *first_index < at_kill),
        "only deliveries that were under way when the worker died arrive twice"
    );
    for mut worker in workers.into_iter().skip(1) {
        drop(worker.stdin.take());
        assert!(worker.wait().unwrap().success());
    }
}
