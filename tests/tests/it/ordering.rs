//! Ordered delivery: a hook (or an event) that asks for it gets the deliveries about one instance
//! in the order the changes committed, each only once the one before it is delivered or dead,
//! retries included, across processes too; other instances are not held back.

use std::process::Child;
use std::time::Duration;

use reqwest::Method;
use rest_hooks::{BuildError, Engine, HookId, RetryPolicy};
use rest_hooks_tests::api::ApiServer;
use rest_hooks_tests::entities::book;
use rest_hooks_tests::{Harness, Received, Receiver, Reply, TestDb, eventually, local_bookstore};
use sea_orm::ActiveValue::{Set, Unchanged};
use sea_orm::{ActiveModelTrait, DatabaseConnection};
use serde_json::json;

use crate::lifecycle::new_book;

/// Quick retries, so that a failing delivery is attempted a few times within a test.
fn quick_retries() -> RetryPolicy {
    RetryPolicy::new([Duration::ZERO].into_iter().chain([Duration::from_millis(200); 20])).jitter(0.0)
}

/// Gives book `id` the title `title`, in a transaction of its own.
async fn retitle(engine: &Engine, db: &DatabaseConnection, id: i32, title: &str) {
    let update = book::ActiveModel { id: Unchanged(id), title: Set(title.to_owned()), ..Default::default() };
    engine.scope(update.update(db)).await.unwrap();
}

fn titles(received: &[Received]) -> Vec<String> {
    received.iter().map(|r| r.body["data"]["fields"]["title"].as_str().unwrap_or_default().to_owned()).collect()
}

#[tokio::test]
async fn a_failing_delivery_holds_back_the_later_ones_about_its_instance_only_until_it_is_delivered() {
    let h = Harness::with(|b| b.retry_policy(quick_retries()).ordered_events(["book.changed"])).await;
    h.subscribe(Some(1), "book.changed", "changes").await;
    h.receiver.respond("changes", 500);
    let held = h.run(new_book(1, "Dune").insert(&h.db)).await.unwrap();
    let other = h.run(new_book(1, "Emma").insert(&h.db)).await.unwrap();

    retitle(&h.engine, &h.db, held.id, "Dune, first edit").await;
    retitle(&h.engine, &h.db, held.id, "Dune, second edit").await;
    // The first edit fails, and is retried: the second waits behind it.
    h.receiver.wait_for(3).await;
    // Another instance's change is not held back by it.
    retitle(&h.engine, &h.db, other.id, "Emma, edited").await;
    let overtaken = eventually("the other book's change", || async {
        let received = h.receiver.received();
        titles(&received).contains(&"Emma, edited".to_owned()).then_some(received)
    })
    .await;
    assert!(!titles(&overtaken).contains(&"Dune, second edit".to_owned()), "{:?}", titles(&overtaken));

    h.receiver.respond("changes", 200);
    let received = eventually("the second edit", || async {
        let received = h.receiver.received();
        titles(&received).contains(&"Dune, second edit".to_owned()).then_some(received)
    })
    .await;
    let dune: Vec<String> = titles(&received).into_iter().filter(|title| title.starts_with("Dune")).collect();
    let second = dune.iter().position(|title| title == "Dune, second edit").unwrap();
    assert!(dune[..second].iter().all(|title| title == "Dune, first edit"), "{dune:?}");
    assert!(second >= 3, "the first edit was attempted until it was delivered, then the second: {dune:?}");
}

#[tokio::test]
async fn a_dead_delivery_lets_the_next_one_go() {
    let no_retry = RetryPolicy::no_retries();
    let h = Harness::with(|b| b.retry_policy(no_retry).ordered_events(["book.changed"])).await;
    h.subscribe(Some(1), "book.changed", "changes").await;
    h.receiver.respond("changes", 500);
    let book = h.run(new_book(1, "Dune").insert(&h.db)).await.unwrap();

    retitle(&h.engine, &h.db, book.id, "first").await;
    h.receiver.wait_for(1).await;
    h.receiver.respond("changes", 200);
    retitle(&h.engine, &h.db, book.id, "second").await;

    let received = h.receiver.wait_for(2).await;
    assert_eq!(titles(&received), ["first", "second"]);
}

#[tokio::test]
async fn a_hook_asks_for_order_through_the_engine_and_the_api() {
    let h = Harness::with(|b| b.retry_policy(quick_retries())).await;
    let ordered = h.subscribe(Some(1), "book.changed", "ordered").await;
    h.subscribe(Some(1), "book.changed", "unordered").await;
    h.engine.set_hook_ordered(&HookId::from(ordered.id), true).await.unwrap();
    h.receiver.respond("ordered", 500);
    h.receiver.respond("unordered", 500);
    let book = h.run(new_book(1, "Dune").insert(&h.db)).await.unwrap();

    retitle(&h.engine, &h.db, book.id, "first").await;
    retitle(&h.engine, &h.db, book.id, "second").await;
    // The unordered hook gets both edits while they fail; the ordered one only the first.
    eventually("both edits at the unordered hook", || async {
        let received: Vec<Received> = h.receiver.received().into_iter().filter(|r| r.path == "/unordered").collect();
        titles(&received).contains(&"second".to_owned()).then_some(())
    })
    .await;
    h.receiver.wait_for(h.receiver.received().len() + 2).await;
    let ordered_titles: Vec<String> =
        titles(&h.receiver.received().into_iter().filter(|r| r.path == "/ordered").collect::<Vec<_>>());
    assert!(ordered_titles.iter().all(|title| title == "first"), "{ordered_titles:?}");

    let api = ApiServer::of(&h).await;
    let read = api.get(&format!("/{}", ordered.id), 1).await;
    assert_eq!(read.body["ordered"], true, "{read:?}");
    let changed = api.call(Method::PATCH, &format!("/{}", ordered.id), Some(1), Some(json!({"ordered": false}))).await;
    assert_eq!((changed.status, changed.body["ordered"].as_bool()), (200, Some(false)), "{changed:?}");
}

#[tokio::test]
async fn an_ordered_event_that_is_not_in_the_map_fails_the_start() {
    let db = TestDb::sqlite().await;
    let error = local_bookstore(Engine::builder())
        .ordered_events(["book.changed", "book.chnaged"])
        .start(db.db.clone())
        .map(drop)
        .unwrap_err();
    assert!(matches!(error, BuildError::Setting { name: "ordered_events", .. }), "{error}");
    assert!(error.to_string().contains("`book.chnaged`: not in the event map"), "{error}");
}

/// Set in a worker process of [`two_workers_deliver_one_instances_changes_in_commit_order`]: the
/// database URL.
const WORKER_VAR: &str = "REST_HOOKS_ORDERING_WORKER";

/// A delivering engine with `book.changed` in order, until standard input closes; nothing in the
/// ordinary test run.
#[test]
fn ordered_worker_process() {
    rest_hooks_tests::worker_process(WORKER_VAR, |builder| builder.ordered_events(["book.changed"]));
}

fn spawn_worker(url: &str) -> Child {
    rest_hooks_tests::spawn_worker("ordering::ordered_worker_process", WORKER_VAR, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_deliver_one_instances_changes_in_commit_order() {
    let Some(test_db) = rest_hooks_tests::multi_process_db(WORKER_VAR).await else { return };
    let db = test_db.db.clone();
    let receiver = Receiver::start().await;
    // Slow enough that the two workers would overlap if nothing held them in order.
    receiver.reply("changes", Reply::status(200).after(Duration::from_millis(40)));
    let recorder = local_bookstore(Engine::builder()).deliver(false).start(db.clone()).unwrap();
    recorder.subscribe(&db, Some(1.into()), "book.changed", &receiver.url("changes")).await.unwrap();
    let book = recorder.scope(new_book(1, "0").insert(&db)).await.unwrap();
    let mut workers = [spawn_worker(&test_db.url), spawn_worker(&test_db.url)];

    let edits: Vec<String> = (1..=20).map(|n| n.to_string()).collect();
    for edit in &edits {
        retitle(&recorder, &db, book.id, edit).await;
    }

    let received = receiver.wait_for(edits.len()).await;
    assert_eq!(titles(&received), edits, "in the order the edits committed");
    for worker in &mut workers {
        drop(worker.stdin.take());
        assert!(worker.wait().unwrap().success());
    }
}
