//! Isolation: the engine's own database work never takes the application's connection, a slow
//! receiver holds only its own request slots, a lease is never taken over by the process that
//! holds it, and the deliveries of a process that died are taken over within a lease.

use std::process::Child;
use std::time::{Duration, Instant};

use rest_hooks::Engine;
use rest_hooks::store::delivery;
use rest_hooks_tests::{Harness, Receiver, Reply, TestDb, eventually, local_bookstore};
use sea_orm::{
    ActiveModelTrait, ConnectOptions, ConnectionTrait, Database, DbBackend, EntityTrait, Statement, TransactionTrait,
};

use crate::lifecycle::new_book;

#[tokio::test]
async fn the_engine_delivers_while_the_application_holds_its_only_connection() {
    let test_db = TestDb::new().await;
    // The application's pool as SeaORM makes it for SQLite by default: one connection.
    let mut options = ConnectOptions::new(test_db.url.clone());
    options.max_connections(1).sqlx_logging(false);
    let db = Database::connect(options).await.unwrap();
    let receiver = Receiver::start().await;
    let engine = local_bookstore(Engine::builder()).start(db.clone()).unwrap();
    engine.subscribe(&db, Some(1.into()), "book.added", &receiver.url("books")).await.unwrap();
    engine.scope(new_book(1, "First").insert(&db)).await.unwrap();
    receiver.wait_for(1).await;

    // The application's only connection is taken (a request in a transaction, say) while a
    // committed event waits: the engine needs none of the application's connections to deliver it.
    engine.scope(new_book(1, "Second").insert(&db)).await.unwrap();
    let held = db.begin().await.unwrap();
    receiver.wait_for(2).await;
    if db.get_database_backend() == DbBackend::Sqlite {
        let mode = held
            .query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA journal_mode"))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<String>(0)
            .unwrap();
        assert_eq!(mode, "wal", "the engine makes the database file use write-ahead logging");
    }
    held.commit().await.unwrap();
    engine.shutdown().await;
}

#[tokio::test]
async fn a_slow_receivers_backlog_waits_in_the_database_and_a_fast_receiver_is_not_held_back() {
    // Four request slots, two per receiver, and eight queue places in all: a slow receiver's
    // backlog is many times that.
    let h = Harness::with(|b| b.concurrency(4).per_target_concurrency(2).max_in_flight(8).batch_size(1)).await;
    let slow = Receiver::start().await;
    slow.reply("slow", Reply::status(200).after(Duration::from_secs(30)));
    for _ in 0..12 {
        h.engine.subscribe(&h.db, Some(1.into()), "book.added", &slow.url("slow")).await.unwrap();
    }
    h.subscribe(Some(1), "book.added", "fast").await;
    for title in ["A", "B", "C", "D"] {
        h.run(new_book(1, title).insert(&h.db)).await.unwrap();
    }

    h.receiver.wait_for(4).await;
    assert_eq!(slow.received().len(), 2, "the slow receiver gets no more than its two slots");
    // The fast deliveries and the slow ones that found no slot nor queue place have their rows;
    // those under way or queued here (two slots, eight places at most) get theirs with their
    // outcome.
    let rows = h.deliveries(4 * 13 - (2 + 8)).await;
    let slow_rows: Vec<_> = rows.iter().filter(|d| d.target.ends_with("/slow")).collect();
    assert!(slow_rows.len() >= 4 * 12 - (2 + 8), "the rest wait in the database: {} rows", slow_rows.len());
    assert!(
        slow_rows.iter().all(|d| d.lease_until.is_none()),
        "none of the waiting deliveries is leased: only the requests under way and the queue's places are held"
    );
    assert!(slow_rows.iter().all(|d| d.state == delivery::state::PENDING
        && d.receiver == format!("{}#{}", slow.url("").trim_end_matches('/'), d.hook_id)));
    h.engine.shutdown().await;
}

#[tokio::test]
async fn a_request_that_outlasts_its_lease_is_sent_once() {
    // The lease runs out four times over while the request is under way: the process renews it,
    // and never claims again what it is still sending.
    let h = Harness::with(|b| b.lease(Duration::from_secs(1)).per_target_concurrency(1)).await;
    h.receiver.reply("slow", Reply::status(200).after(Duration::from_secs(4)));
    h.subscribe(Some(1), "book.added", "slow").await;
    h.subscribe(Some(1), "book.added", "slow").await;
    h.run(new_book(1, "Long").insert(&h.db)).await.unwrap();
    let rows = eventually("both deliveries delivered", || async {
        let rows = delivery::Entity::find().all(&h.db).await.unwrap();
        (rows.len() == 2 && rows.iter().all(|d| d.state == delivery::state::DELIVERED)).then_some(rows)
    })
    .await;
    let received = h.receiver.received();
    assert_eq!(received.len(), 2, "each delivery sent once: {received:#?}");
    assert_ne!(received[0].headers["webhook-id"], received[1].headers["webhook-id"]);
    assert!(rows.iter().all(|d| d.attempts == 1));
}

#[tokio::test]
async fn deliveries_of_a_hook_disabled_by_a_410_are_not_sent_after_it() {
    let h = Harness::with(|b| b.per_target_concurrency(1)).await;
    h.receiver.respond("gone", 410);
    h.subscribe(Some(1), "book.added", "gone").await;
    let txn = h.db.begin().await.unwrap();
    for i in 0..10 {
        h.run(new_book(1, &format!("Burst {i}")).insert(&txn)).await.unwrap();
    }
    txn.commit().await.unwrap();
    let rows = eventually("every delivery settled", || async {
        let rows = delivery::Entity::find().all(&h.db).await.unwrap();
        (rows.len() == 10 && rows.iter().all(|d| d.state == delivery::state::FAILED)).then_some(rows)
    })
    .await;
    assert_eq!(h.receiver.count("gone"), 1, "nothing is sent to the hook after its 410: {rows:#?}");
}

/// Set in a worker process of [`a_killed_workers_deliveries_are_taken_over_within_a_lease`]: the
/// database URL.
const WORKER_VAR: &str = "REST_HOOKS_ISOLATION_WORKER";

/// A delivering engine with the default lease until standard input closes; nothing in the ordinary
/// test run.
#[test]
fn lease_worker_process() {
    rest_hooks_tests::worker_process(WORKER_VAR, |builder| builder);
}

fn spawn_worker(url: &str) -> Child {
    rest_hooks_tests::spawn_worker("isolation::lease_worker_process", WORKER_VAR, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_deliveries_are_taken_over_within_a_lease() {
    let Some(test_db) = rest_hooks_tests::multi_process_db(WORKER_VAR).await else { return };
    let db = test_db.db.clone();
    let receiver = Receiver::start().await;
    // Longer than a lease (10 s by default), shorter than the request timeout (30 s).
    receiver.reply("slow", Reply::status(200).after(Duration::from_secs(14)));
    let recorder = local_bookstore(Engine::builder()).deliver(false).start(db.clone()).unwrap();
    recorder.subscribe(&db, Some(1.into()), "book.added", &receiver.url("slow")).await.unwrap();
    let mut first = spawn_worker(&test_db.url);
    recorder.scope(new_book(1, "Taken over").insert(&db)).await.unwrap();
    receiver.wait_for(1).await;

    // A second worker runs beside the first past the first's lease: the first renews it, so the
    // second never sends the delivery while the first is alive.
    let mut second = spawn_worker(&test_db.url);
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(receiver.received().len(), 1, "a live worker's delivery is never taken over");

    first.kill().unwrap();
    first.wait().unwrap();
    let killed = Instant::now();
    receiver.wait_for(2).await;
    let taken_over = killed.elapsed();
    println!("taken over {taken_over:?} after the kill");
    assert!(taken_over <= Duration::from_secs(15), "taken over within 15 s of the kill, not {taken_over:?}");
    let received = receiver.received();
    assert_eq!(received[0].headers["webhook-id"], received[1].headers["webhook-id"], "the same delivery");
    drop(second.stdin.take());
    assert!(second.wait().unwrap().success());
}

#[tokio::test]
async fn a_retry_is_not_held_back_by_its_receivers_backlog_of_first_attempts() {
    // One request at a time to the receiver: a failed delivery's retry, due at once, goes before the
    // first attempts that were waiting longer in the database, and before those queued in memory
    // (it may wait for the requests under way and for the next claim of retries: well under half
    // of the backlog's two seconds, though the host's queue filled while its requests looked quick).
    let h = Harness::with(|b| {
        b.per_target_concurrency(1)
            .retry_policy(rest_hooks::RetryPolicy::new([Duration::ZERO, Duration::from_millis(200)]))
    })
    .await;
    h.receiver.respond("flaky", 500);
    h.receiver.reply("busy", Reply::status(200).after(Duration::from_millis(100)));
    h.subscribe(Some(1), "book.added", "flaky").await;
    for _ in 0..20 {
        h.subscribe(Some(1), "book.added", "busy").await;
    }
    h.run(new_book(1, "Backlog").insert(&h.db)).await.unwrap();
    h.receiver.wait_for(22).await;
    let paths: Vec<String> = h.receiver.received().iter().map(|r| r.path.clone()).collect();
    let second = paths.iter().enumerate().filter(|(_, p)| *p == "/flaky").nth(1).map(|(at, _)| at);
    assert!(second.is_some_and(|at| at < 11), "the retry went out before half of the backlog did: {paths:?}");
}

#[tokio::test]
async fn a_retry_gets_a_slot_while_first_attempts_at_its_host_hang() {
    // Four requests at once per host; six hooks there hang for 20 s, one answers 500 at once. While
    // requests of hooks not known to be quick run, the host keeps one slot for retries: the failed
    // delivery's retry goes out after its 200 ms backoff, not once the hanging requests end.
    let h = Harness::with(|b| {
        b.per_target_concurrency(4).retry_policy(rest_hooks::RetryPolicy::new([
            Duration::ZERO,
            Duration::from_millis(200),
            Duration::from_secs(60),
        ]))
    })
    .await;
    h.receiver.respond("flaky", 500);
    h.receiver.reply("hang", Reply::status(200).after(Duration::from_secs(20)));
    h.subscribe(Some(1), "book.added", "flaky").await;
    for _ in 0..6 {
        h.subscribe(Some(1), "book.added", "hang").await;
    }
    let started = Instant::now();
    h.run(new_book(1, "Hanging").insert(&h.db)).await.unwrap();

    eventually("the retry", || async { (h.receiver.count("flaky") >= 2).then_some(()) }).await;
    assert!(started.elapsed() < Duration::from_secs(10), "the retry waited {:?}", started.elapsed());
    assert_eq!(h.receiver.count("hang"), 3, "first attempts hold three of the host's four slots");
    h.engine.shutdown().await;
}
