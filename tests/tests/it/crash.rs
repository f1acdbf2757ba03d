//! Crash recovery and shutdown: a child process recording events is killed with SIGKILL again and
//! again; after a clean start every committed event has reached the receiver and no rolled-back one
//! has. A graceful shutdown finishes requests in flight and gives back the leases of the rest.

use std::collections::{BTreeSet, HashMap};
use std::process::{Command, Stdio};
use std::time::Duration;

use rest_hooks::Engine;
use rest_hooks::store::{delivery, outbox};
use rest_hooks_tests::entities::book;
use rest_hooks_tests::{Harness, Receiver, Reply, TestDb, connect_sqlite, eventually, local_bookstore, real_sleep};
use sea_orm::{ActiveModelTrait, EntityTrait, TransactionTrait};

use crate::lifecycle::new_book;

const CHILD: &str = "REST_HOOKS_CRASH_CHILD";
/// Leases held by a killed child expire at most this long after it last renewed them.
const LEASE: Duration = Duration::from_secs(5);

fn engine(db: sea_orm::DatabaseConnection) -> Engine {
    local_bookstore(Engine::builder())
        .timeout(Duration::from_secs(1))
        .lease(LEASE)
        .poll_interval(Duration::from_millis(50))
        .start(db)
        .unwrap()
}

/// A number from 0 to `below`, different on every call.
fn random(below: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new().build_hasher().finish() % below
}

#[test]
fn every_committed_event_survives_sigkill_and_no_rolled_back_one_is_sent() {
    if let Ok(round) = std::env::var(CHILD) {
        return child(&round);
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let test_db = TestDb::sqlite().await;
        let receiver = Receiver::start().await;
        // A receiver that takes a while, so that kills land while requests are in flight.
        receiver.reply("books", Reply::status(200).after(Duration::from_millis(50)));
        let recorder = local_bookstore(Engine::builder()).deliver(false).start(test_db.db.clone()).unwrap();
        recorder.subscribe(&test_db.db, Some(1.into()), "book.added", &receiver.url("books")).await.unwrap();

        let rounds = 6;
        for round in 0..rounds {
            let mut child = Command::new(std::env::current_exe().unwrap())
                .args([
                    "crash::every_committed_event_survives_sigkill_and_no_rolled_back_one_is_sent",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD, round.to_string())
                .env("REST_HOOKS_CRASH_DB", &test_db.url)
                .env("REST_HOOKS_CRASH_TARGET", receiver.url("books"))
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            real_sleep(Duration::from_millis(300 + random(900))).await;
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
        }

        // The clean start: whatever the children left pending or leased is delivered.
        let committed: BTreeSet<String> =
            book::Entity::find().all(&test_db.db).await.unwrap().into_iter().map(|b| b.title).collect();
        assert!(committed.len() > rounds, "the children committed too little: {}", committed.len());
        let before_restart = receiver.received().len();
        let final_engine = engine(test_db.db.clone());
        let deadline = std::time::Instant::now() + LEASE + Duration::from_secs(30);
        loop {
            let received = receiver.received();
            let titles: BTreeSet<String> =
                received.iter().filter_map(|r| r.body["data"]["fields"]["title"].as_str().map(str::to_owned)).collect();
            if committed.is_subset(&titles) {
                break;
            }
            let missing = committed.difference(&titles).count();
            assert!(std::time::Instant::now() < deadline, "{missing} committed events never arrived");
            real_sleep(Duration::from_millis(100)).await;
        }
        // And the books balance: every delivery is recorded delivered, those a killed child held
        // once its lease expired.
        let received = loop {
            let rows = delivery::Entity::find().all(&test_db.db).await.unwrap();
            let open = rows.iter().filter(|d| d.state != delivery::state::DELIVERED).count();
            if open == 0 && rows.len() == committed.len() {
                break receiver.received();
            }
            assert!(std::time::Instant::now() < deadline, "{open} of {} deliveries never settled", rows.len());
            real_sleep(Duration::from_millis(100)).await;
        };
        final_engine.shutdown().await;

        let mut copies: HashMap<String, usize> = HashMap::new();
        for r in &received {
            *copies.entry(r.body["data"]["fields"]["title"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
        }
        let rolled_back: Vec<_> = copies.keys().filter(|t| t.starts_with("rolled-back")).collect();
        assert!(rolled_back.is_empty(), "delivered for rolled-back writes: {rolled_back:?}");
        assert!(copies.keys().all(|t| committed.contains(t)), "something arrived that was never committed");
        let duplicates: usize = copies.values().map(|n| n - 1).sum();
        let mut ids: Vec<_> = received.iter().map(|r| r.headers["webhook-id"].clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), copies.len(), "each event keeps one webhook-id however often it is sent");
        println!(
            "crash test: {rounds} SIGKILLs, {} events committed, {} delivered ({} requests, {before_restart} before \
             the clean start), {duplicates} duplicates",
            committed.len(),
            copies.len(),
            received.len()
        );
    });
}

/// The child: records an event every 10 ms, one write in five rolled back, until it is killed.
fn child(round: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let db = connect_sqlite(&std::env::var("REST_HOOKS_CRASH_DB").unwrap()).await;
        let engine = engine(db.clone());
        for i in 0.. {
            let txn = db.begin().await.unwrap();
            let commit = i % 5 != 4;
            let title = if commit { format!("round {round} book {i}") } else { format!("rolled-back {round} {i}") };
            engine.scope(new_book(1, &title).insert(&txn)).await.unwrap();
            if commit {
                txn.commit().await.unwrap()
            } else {
                txn.rollback().await.unwrap()
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish_and_gives_the_rest_back() {
    let h = Harness::with(|b| b.concurrency(1)).await;
    h.receiver.reply("slow", Reply::status(200).after(Duration::from_millis(500)));
    h.subscribe(Some(1), "book.added", "slow").await;
    let txn = h.db.begin().await.unwrap();
    for title in ["A", "B", "C"] {
        h.run(new_book(1, title).insert(&txn)).await.unwrap();
    }
    txn.commit().await.unwrap();
    h.receiver.wait_for(1).await;

    h.engine.shutdown().await;
    let rows = delivery::Entity::find().all(&h.db).await.unwrap();
    assert_eq!(rows.len(), 3);
    let delivered: Vec<_> = rows.iter().filter(|d| d.state == delivery::state::DELIVERED).collect();
    assert_eq!(delivered.len(), 1, "the request in flight finished: {rows:#?}");
    let left: Vec<_> = rows.iter().filter(|d| d.state == delivery::state::PENDING).collect();
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|d| d.lease_until.is_none() && d.attempts == 0), "leases given back: {left:#?}");

    // The next start sends them at once, without waiting for a lease to expire.
    let next = local_bookstore(Engine::builder()).start(h.db.clone()).unwrap();
    eventually("the rest delivered", || async {
        let rows = delivery::Entity::find().all(&h.db).await.unwrap();
        rows.iter().all(|d| d.state == delivery::state::DELIVERED).then_some(())
    })
    .await;
    assert_eq!(h.receiver.count("slow"), 3);
    next.shutdown().await;
}

#[tokio::test]
async fn an_event_whose_holder_stopped_renewing_is_dispatched_again_keeping_its_ids_and_what_was_delivered() {
    let h = Harness::new().await;
    h.receiver.reply("slow", Reply::status(200).after(Duration::from_secs(3)));
    h.subscribe(Some(1), "book.added", "slow").await;
    h.subscribe(Some(1), "book.added", "fast").await;
    h.run(new_book(1, "Held").insert(&h.db)).await.unwrap();
    // The fast delivery is done and has its row; the slow one is under way without one, its event
    // held meanwhile.
    eventually("the fast delivery written", || async {
        let rows = delivery::Entity::find().all(&h.db).await.unwrap();
        (rows.len() == 1).then_some(())
    })
    .await;
    let held = outbox::Entity::find().one(&h.db).await.unwrap().unwrap();
    assert_eq!(held.state, outbox::state::PENDING);
    assert!(held.lease_until.is_some(), "held while the slow request runs: {held:?}");

    // The holder stops renewing, as a process that died would: the lease runs out.
    let mut expired: outbox::ActiveModel = held.into();
    expired.lease_until = sea_orm::Set(Some(1));
    expired.update(&h.db).await.unwrap();
    let other = local_bookstore(Engine::builder()).start(h.db.clone()).unwrap();

    eventually("the event dispatched", || async {
        let event = outbox::Entity::find().one(&h.db).await.unwrap().unwrap();
        (event.state == outbox::state::DISPATCHED).then_some(())
    })
    .await;
    other.shutdown().await;
    let received = h.receiver.received();
    let slow: Vec<_> = received.iter().filter(|r| r.path == "/slow").collect();
    assert_eq!(h.receiver.count("fast"), 1, "what was delivered is not sent again");
    assert_eq!(slow.len(), 2, "the slow delivery sent again by the process that took the event over");
    assert_eq!(slow[0].headers["webhook-id"], slow[1].headers["webhook-id"], "under the same id");
    let rows = delivery::Entity::find().all(&h.db).await.unwrap();
    assert_eq!(rows.len(), 2, "one row per delivery: {rows:#?}");
    assert!(rows.iter().all(|d| d.state == delivery::state::DELIVERED), "{rows:#?}");
}

#[tokio::test]
async fn deliveries_waiting_for_their_receiver_survive_a_process_that_stopped_before_writing_their_rows() {
    let test_db = TestDb::new().await;
    let receiver = Receiver::start().await;
    receiver.reply("slow", Reply::status(200).after(Duration::from_millis(300)));
    // One request slot and one queue place: of five events, three wait for their receiver, and
    // their rows are left to the outcome writer.
    let start = || {
        local_bookstore(Engine::builder())
            .per_target_concurrency(1)
            .max_in_flight(1)
            .lease(Duration::from_secs(1))
            .poll_interval(Duration::from_millis(50))
            .start(test_db.db.clone())
            .unwrap()
    };
    let first = start();
    first.subscribe(&test_db.db, Some(1.into()), "book.added", &receiver.url("slow")).await.unwrap();
    let txn = test_db.db.begin().await.unwrap();
    for title in ["A", "B", "C", "D", "E"] {
        first.scope(new_book(1, title).insert(&txn)).await.unwrap();
    }
    txn.commit().await.unwrap();
    receiver.wait_for(1).await;
    // The process stops without a shutdown as soon as its first request is sent: the rows it had
    // not written yet are in no table, and its events' hold runs out.
    drop(first);

    let second = start();
    let rows = eventually("every delivery recorded delivered", || async {
        let rows = delivery::Entity::find().all(&test_db.db).await.unwrap();
        (rows.len() == 5 && rows.iter().all(|d| d.state == delivery::state::DELIVERED)).then_some(rows)
    })
    .await;
    second.shutdown().await;
    let mut ids: HashMap<String, BTreeSet<String>> = HashMap::new();
    for request in receiver.received() {
        let title = request.body["data"]["fields"]["title"].as_str().unwrap().to_owned();
        ids.entry(title).or_default().insert(request.headers["webhook-id"].clone());
    }
    assert_eq!(ids.len(), 5, "every event reached its hook: {ids:?}");
    assert!(ids.values().all(|id| id.len() == 1), "a delivery sent twice keeps its webhook-id: {ids:?}");
    let row_ids: BTreeSet<String> = rows.iter().map(|d| format!("msg_{}", d.id.simple())).collect();
    let sent: BTreeSet<String> = ids.into_values().flatten().collect();
    assert_eq!(row_ids, sent, "one row per delivery, under the id it was sent with");
}

#[tokio::test]
async fn an_event_taken_over_stops_only_its_own_requests_among_those_held_under_the_same_lease() {
    let lease = Duration::from_secs(2);
    let h = Harness::with(|b| b.lease(lease)).await;
    h.receiver.reply("slow", Reply::status(200).after(Duration::from_secs(2)));
    h.subscribe(Some(1), "book.added", "slow").await;
    // Two events dispatched by one pass: both held under the same lease while their requests run.
    let txn = h.db.begin().await.unwrap();
    for title in ["Lost", "Kept"] {
        h.run(new_book(1, title).insert(&txn)).await.unwrap();
    }
    txn.commit().await.unwrap();
    h.receiver.wait_for(2).await;
    let held = outbox::Entity::find().all(&h.db).await.unwrap();
    assert!(held.iter().all(|e| e.lease_until.is_some() && e.lease_until == held[0].lease_until), "{held:?}");

    // The first one's lease runs out, as if its holder had stopped renewing it: another process
    // takes it over.
    let lost = held.iter().find(|e| e.payload.contains("Lost")).unwrap().clone();
    let mut expired: outbox::ActiveModel = lost.into();
    expired.lease_until = sea_orm::Set(Some(1));
    expired.update(&h.db).await.unwrap();
    let other = local_bookstore(Engine::builder()).lease(lease).start(h.db.clone()).unwrap();

    let rows = eventually("both deliveries recorded delivered", || async {
        let rows = delivery::Entity::find().all(&h.db).await.unwrap();
        (rows.len() == 2 && rows.iter().all(|d| d.state == delivery::state::DELIVERED)).then_some(rows)
    })
    .await;
    other.shutdown().await;
    let titles: Vec<String> =
        h.receiver.received().iter().map(|r| r.body["data"]["fields"]["title"].as_str().unwrap().to_owned()).collect();
    assert_eq!(titles.iter().filter(|t| *t == "Lost").count(), 2, "the event taken over is sent again: {titles:?}");
    assert_eq!(
        titles.iter().filter(|t| *t == "Kept").count(),
        1,
        "the other keeps its lease and is sent once: {titles:?}"
    );
    assert_eq!(rows.len(), 2, "{rows:#?}");
}
