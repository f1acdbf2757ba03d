//! The attempt log: a row per attempt, per delivery, hook and event.

use rest_hooks::store::delivery;
use rest_hooks::{HookId, RetryPolicy};
use rest_hooks_tests::{Harness, Reply, eventually};
use sea_orm::{ActiveModelTrait, EntityTrait};
use std::time::Duration;

use crate::lifecycle::new_book;
use crate::retries::settled_after;

#[tokio::test]
async fn every_attempt_is_logged_and_found_by_delivery_hook_and_event() {
    // Tries again after 50 ms, so that the test sees a failure and then a success.
    let quick = RetryPolicy::new([Duration::ZERO, Duration::from_millis(50), Duration::from_millis(50)]).jitter(0.0);
    let h = Harness::with(|b| b.retry_policy(quick).poll_interval(Duration::from_millis(20))).await;
    h.receiver.reply("flaky", Reply::status(503).body("try later"));
    let hook = h.subscribe(Some(1), "book.added", "flaky").await;
    h.run(new_book(1, "Logged").insert(&h.db)).await.unwrap();

    let first = settled_after(&h, 1).await;
    h.receiver.reply("flaky", Reply::status(200).body("thanks"));
    // 503 slows down to at least 30 s: bring the second attempt forward by hand.
    assert!(h.engine.replay(first.id).await.unwrap());
    let delivered = eventually("the delivery delivered", || async {
        let row = delivery::Entity::find_by_id(first.id).one(&h.db).await.unwrap().unwrap();
        (row.state == delivery::state::DELIVERED).then_some(row)
    })
    .await;
    assert_eq!(delivered.attempts, 2);

    let log = h.engine.attempts_of_delivery(first.id).await.unwrap();
    let summary: Vec<_> = log.iter().map(|a| (a.attempt, a.status, a.response.clone())).collect();
    assert_eq!(summary, [(1, Some(503), Some("try later".to_owned())), (2, Some(200), Some("thanks".to_owned()))]);
    assert!(log.iter().all(|a| a.error.is_none() && a.error_kind.is_none() && a.hook_id == hook.id.to_string()));
    assert!(log[0].at <= log[1].at);
    assert_eq!(h.engine.attempts_of_hook(&HookId::Int(hook.id), 10).await.unwrap().len(), 2);
    assert_eq!(h.engine.attempts_of_hook(&HookId::Int(hook.id), 1).await.unwrap()[0].attempt, 2, "newest first");
    assert_eq!(h.engine.attempts_of_event(first.outbox_id).await.unwrap().len(), 2);
    assert_eq!(h.engine.deliveries_of_event(first.outbox_id).await.unwrap().len(), 1);
    assert!(h.engine.attempts_of_hook(&HookId::Int(hook.id + 1), 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_attempt_without_a_response_logs_the_error_kind() {
    let h = Harness::new().await;
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nowhere = format!("http://{}/nowhere", closed.local_addr().unwrap());
    drop(closed);
    h.engine.subscribe(&h.db, Some(1.into()), "book.added", &nowhere).await.unwrap();
    h.run(new_book(1, "Unanswered").insert(&h.db)).await.unwrap();

    let row = settled_after(&h, 1).await;
    let log = h.engine.attempts_of_delivery(row.id).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].error_kind.as_deref(), Some("connect"));
    assert!(log[0].error.as_deref().unwrap().starts_with("cannot connect"));
    assert_eq!((log[0].status, log[0].response.as_deref()), (None, None));
}
