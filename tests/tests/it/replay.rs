//! Replay: one delivery, every failed delivery of a hook, every delivery of a hook in a time range.

use rest_hooks::store::delivery;
use rest_hooks::{HookId, ReplayError, RetryPolicy};
use rest_hooks_tests::{Harness, eventually};
use sea_orm::{ActiveModelTrait, EntityTrait};

use crate::lifecycle::new_book;
use crate::retries::settled_after;

async fn delivered(h: &Harness, count: usize) -> Vec<delivery::Model> {
    eventually(&format!("{count} deliveries delivered"), || async {
        let rows = delivery::Entity::find().all(&h.db).await.unwrap();
        (rows.iter().filter(|d| d.state == delivery::state::DELIVERED).count() == count).then_some(rows)
    })
    .await
}

#[tokio::test]
async fn dead_deliveries_are_replayed_with_their_id() {
    let h = Harness::with(|b| b.retry_policy(RetryPolicy::no_retries())).await;
    h.receiver.respond("down", 500);
    let hook = h.subscribe(Some(1), "book.added", "down").await;
    h.run(new_book(1, "Again").insert(&h.db)).await.unwrap();
    let dead = settled_after(&h, 1).await;
    assert_eq!(dead.state, delivery::state::FAILED);

    h.receiver.respond("down", 200);
    assert_eq!(h.engine.replay_failed(&HookId::Int(hook.id)).await.unwrap(), 1);
    let rows = delivered(&h, 1).await;
    assert_eq!(rows[0].attempts, 2);
    let received = h.receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].headers["webhook-id"], received[1].headers["webhook-id"]);
    assert_eq!(received[0].raw, received[1].raw);
    assert_eq!(h.engine.replay_failed(&HookId::Int(hook.id)).await.unwrap(), 0, "nothing failed any more");
}

#[tokio::test]
async fn a_delivered_delivery_and_a_time_range_are_sent_again() {
    let h = Harness::new().await;
    let hook = h.subscribe(Some(1), "book.added", "books").await;
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    h.run(new_book(1, "One").insert(&h.db)).await.unwrap();
    h.run(new_book(1, "Two").insert(&h.db)).await.unwrap();
    let rows = delivered(&h, 2).await;

    assert!(h.engine.replay(rows[0].id).await.unwrap());
    eventually("the replayed delivery", || async { (h.receiver.count("books") == 3).then_some(()) }).await;
    delivered(&h, 2).await;

    let after = chrono::Utc::now() + chrono::Duration::seconds(1);
    let id = HookId::Int(hook.id);
    assert_eq!(h.engine.replay_range(&id, after, after + chrono::Duration::hours(1)).await.unwrap(), 0);
    assert_eq!(h.engine.replay_range(&id, before, after).await.unwrap(), 2);
    eventually("the replayed range", || async { (h.receiver.count("books") == 5).then_some(()) }).await;

    let missing = uuid::Uuid::nil();
    assert!(matches!(h.engine.replay(missing).await, Err(ReplayError::NoSuchDelivery(id)) if id == missing));
}

#[tokio::test]
async fn a_disabled_hook_is_not_replayed() {
    let h = Harness::new().await;
    h.receiver.respond("gone", 410);
    let hook = h.subscribe(Some(1), "book.added", "gone").await;
    h.run(new_book(1, "Gone").insert(&h.db)).await.unwrap();
    let dead = settled_after(&h, 1).await;
    let id = HookId::Int(hook.id);
    eventually("the hook disabled", || async { h.engine.hook_state(&id).await.unwrap().and_then(|s| s.disabled_at) })
        .await;

    let error = h.engine.replay(dead.id).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "hook `{}` is disabled (the target answered 410 Gone); enable it with `Engine::enable_hook` before replaying",
            hook.id
        )
    );
    assert!(matches!(h.engine.replay_failed(&id).await, Err(ReplayError::HookDisabled { .. })));
}
