//! A panic in user code fails only what it touched; engines side by side do not see each other's
//! events.

use std::time::Duration;

use rest_hooks::net::TargetPolicy;
use rest_hooks::store::outbox;
use rest_hooks::{Deliverer, DeliveryError, HttpDeliverer, Request, Response};
use rest_hooks_tests::Harness;
use sea_orm::{ActiveModelTrait, EntityTrait, TransactionTrait};
use serde_json::json;

use crate::lifecycle::{new_book, wait_until_settled};

#[tokio::test]
async fn a_panicking_serializer_fails_its_event_and_the_others_go_out() {
    let h = Harness::with(|b| {
        b.serializer(|_, event| {
            assert!(event.data["fields"]["title"] != "Boom", "serializer exploded");
            json!({"title": event.data["fields"]["title"]})
        })
        .on_sent(|_| panic!("the notification handler exploded too"))
    })
    .await;
    h.subscribe(Some(1), "book.added", "added").await;

    h.run(new_book(1, "Boom").insert(&h.db)).await.unwrap();
    h.run(new_book(1, "Fine").insert(&h.db)).await.unwrap();

    let received = h.receiver.wait_for(1).await;
    assert_eq!(received[0].body, json!({"title": "Fine"}));
    let rows = outbox::Entity::find().all(&h.db).await.unwrap();
    let failed: Vec<_> = rows.iter().filter(|r| r.state == outbox::state::FAILED).collect();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].error.as_deref().unwrap().starts_with("the serializer panicked: serializer exploded"));
    wait_until_settled(&h, 1).await;
    assert_eq!(h.receiver.received().len(), 1);
}

#[tokio::test]
async fn a_failing_event_in_a_busy_pass_fails_alone() {
    let h = Harness::with(|b| {
        b.serializer(|_, event| {
            assert!(event.data["fields"]["title"] != "Boom", "serializer exploded");
            json!({"title": event.data["fields"]["title"]})
        })
    })
    .await;
    h.subscribe(Some(1), "book.added", "added").await;

    // One transaction, so one pass claims all three: the batch is redone event by event.
    let txn = h.db.begin().await.unwrap();
    for title in ["Before", "Boom", "After"] {
        h.run(new_book(1, title).insert(&txn)).await.unwrap();
    }
    txn.commit().await.unwrap();

    let received = h.receiver.wait_for(2).await;
    let mut titles: Vec<_> = received.iter().map(|r| r.body["title"].as_str().unwrap().to_owned()).collect();
    titles.sort();
    assert_eq!(titles, ["After", "Before"]);
    let rows = h.dispatched().await;
    let states: Vec<_> = rows.iter().map(|r| r.state).collect();
    assert_eq!(states, [outbox::state::DISPATCHED, outbox::state::FAILED, outbox::state::DISPATCHED]);
    wait_until_settled(&h, 2).await;
    assert_eq!(h.receiver.received().len(), 2, "nothing is sent twice after the batch was redone");
}

/// Panics for one target, delivers the others over HTTP.
struct Fragile(HttpDeliverer);

#[async_trait::async_trait]
impl Deliverer for Fragile {
    async fn deliver(&self, request: &Request) -> Result<Response, DeliveryError> {
        assert!(!request.hook.target.ends_with("/explodes"), "deliverer exploded");
        self.0.deliver(request).await
    }
}

#[tokio::test]
async fn a_panicking_deliverer_fails_its_delivery_and_the_others_go_out() {
    let local = TargetPolicy::new(["127.0.0.1/32"]).unwrap();
    let http = HttpDeliverer::with_policy(Duration::from_secs(5), Duration::from_secs(5), 1024, local).unwrap();
    let h = Harness::with(|b| b.deliverer(Fragile(http))).await;
    h.subscribe(Some(1), "book.added", "explodes").await;
    h.subscribe(Some(1), "book.added", "fine").await;

    for title in ["First", "Second"] {
        h.run(new_book(1, title).insert(&h.db)).await.unwrap();
    }

    let received = h.receiver.wait_for(2).await;
    assert!(received.iter().all(|r| r.path == "/fine"));
    let deliveries = wait_until_settled(&h, 4).await;
    let failed: Vec<_> = deliveries.iter().filter(|d| d.target.ends_with("/explodes")).collect();
    assert_eq!(failed.len(), 2);
    assert!(failed.iter().all(|d| d.last_error.as_deref() == Some("the deliverer panicked: deliverer exploded")));
}

#[tokio::test]
async fn engines_side_by_side_keep_their_events_apart() {
    let (a, b) = tokio::join!(Harness::new(), Harness::new());
    a.subscribe(Some(1), "book.added", "a").await;
    b.subscribe(Some(1), "book.added", "b").await;

    let (saved_a, saved_b) =
        tokio::join!(a.run(new_book(1, "Only A").insert(&a.db)), b.run(new_book(1, "Only B").insert(&b.db)));
    saved_a.unwrap();
    saved_b.unwrap();

    a.receiver.wait_for(1).await;
    b.receiver.wait_for(1).await;
    wait_until_settled(&a, 1).await;
    wait_until_settled(&b, 1).await;
    let (got_a, got_b) = (a.receiver.received(), b.receiver.received());
    assert_eq!(got_a.len(), 1);
    assert_eq!(got_b.len(), 1);
    assert_eq!(got_a[0].body["data"]["fields"]["title"], "Only A");
    assert_eq!(got_b[0].body["data"]["fields"]["title"], "Only B");
}

#[tokio::test]
async fn a_save_with_no_engine_fails_with_a_clear_error() {
    let db = rest_hooks_tests::TestDb::sqlite().await;
    // No test of this process installs a process-wide engine: `runtimes::process_wide_engine`
    // does so in a child process.
    assert!(rest_hooks::Engine::current().is_none());
    let error = new_book(1, "Orphan").insert(&db.db).await.unwrap_err();
    assert!(
        matches!(rest_hooks::RecordError::from_db_err(&error), Some(rest_hooks::RecordError::NoEngine)),
        "{error:?}"
    );
    assert!(error.to_string().contains("no rest_hooks engine is running"), "{error}");
    // Outside a transaction SeaORM has already committed the row when the hook runs: the error
    // reaches the caller, the row stays. Inside one, the caller's rollback takes both.
    use sea_orm::{PaginatorTrait, TransactionTrait};
    assert_eq!(rest_hooks_tests::entities::book::Entity::find().count(&db.db).await.unwrap(), 1);
    let txn = db.db.begin().await.unwrap();
    assert!(new_book(1, "Orphan 2").insert(&txn).await.is_err());
    txn.rollback().await.unwrap();
    assert_eq!(rest_hooks_tests::entities::book::Entity::find().count(&db.db).await.unwrap(), 1);
}

#[tokio::test]
async fn a_tiny_in_memory_queue_still_delivers_everything() {
    let h = Harness::with(|b| b.max_in_flight(1).batch_size(1).concurrency(1)).await;
    h.subscribe(Some(1), "book.added", "one").await;
    h.subscribe(Some(1), "book.added", "two").await;

    for title in ["A", "B", "C", "D", "E"] {
        h.run(new_book(1, title).insert(&h.db)).await.unwrap();
    }

    h.receiver.wait_for(10).await;
    assert_eq!(wait_until_settled(&h, 10).await.len(), 10);
    let received = h.receiver.received();
    assert_eq!(received.len(), 10, "each delivery exactly once");
    let mut ids: Vec<_> = received.iter().map(|r| r.headers["webhook-id"].clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10);
    let mut titles: Vec<_> = received.iter().map(|r| r.body["data"]["fields"]["title"].to_string()).collect();
    titles.sort();
    titles.dedup();
    assert_eq!(titles, ["\"A\"", "\"B\"", "\"C\"", "\"D\"", "\"E\""]);
}
