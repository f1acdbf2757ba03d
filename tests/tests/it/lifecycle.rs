//! Created, updated and deleted reach the receiver with the default body; unmapped actions cost
//! nothing.

use rest_hooks::store::delivery;
use rest_hooks_tests::Harness;
use rest_hooks_tests::entities::{author, book};
use sea_orm::{ActiveModelTrait, EntityTrait, ModelTrait, Set};
use serde_json::json;

pub(crate) fn new_book(user_id: i32, title: &str) -> book::ActiveModel {
    book::ActiveModel {
        user_id: Set(user_id),
        title: Set(title.to_owned()),
        secret: Set("do not send".to_owned()),
        ..Default::default()
    }
}

#[tokio::test]
async fn created_updated_and_deleted_reach_the_receiver() {
    let h = Harness::new().await;
    let added = h.subscribe(Some(1), "book.added", "added").await;
    h.subscribe(Some(1), "book.changed", "changed").await;
    h.subscribe(Some(1), "book.removed", "removed").await;

    let book = h.run(new_book(1, "The Two Towers").insert(&h.db)).await.unwrap();
    let mut active: book::ActiveModel = book.clone().into();
    active.title = Set("The Return of the King".to_owned());
    let book = h.run(active.update(&h.db)).await.unwrap();
    h.run(book.clone().delete(&h.db)).await.unwrap();

    // Three hooks, three deliveries made concurrently: they may arrive in any order.
    let mut received = h.receiver.wait_for(3).await;
    received.sort_by(|a, b| a.path.cmp(&b.path));
    let paths: Vec<_> = received.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/added", "/changed", "/removed"]);
    assert_eq!(
        received[0].body,
        json!({
            "hook": {"id": added.id, "event": "book.added", "target": h.receiver.url("added")},
            "data": {"model": "bookstore.book", "pk": book.id, "fields": {"user_id": 1, "title": "The Two Towers"}},
        })
    );
    assert_eq!(received[1].body["data"]["fields"]["title"], "The Return of the King");
    assert_eq!(received[2].body["data"]["fields"]["title"], "The Return of the King");
    assert!(!received[0].raw.contains("do not send"), "skipped fields stay out of the body");
}

#[tokio::test]
async fn requests_carry_json_headers_and_a_stable_id() {
    let h = Harness::new().await;
    h.subscribe(Some(1), "book.added", "added").await;
    h.run(new_book(1, "Dune").insert(&h.db)).await.unwrap();

    let received = h.receiver.wait_for(1).await;
    let headers = &received[0].headers;
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers["user-agent"].starts_with("rest_hooks/"), "{headers:?}");
    let delivery = &h.deliveries(1).await[0];
    assert_eq!(headers["webhook-id"], format!("msg_{}", delivery.id.simple()));
    assert!(headers["webhook-timestamp"].parse::<i64>().is_ok());
}

#[tokio::test]
async fn a_delete_by_key_alone_still_sends_the_instance() {
    let h = Harness::new().await;
    h.subscribe(Some(1), "book.removed", "removed").await;
    let book = h.run(new_book(1, "Emma").insert(&h.db)).await.unwrap();

    let by_key = book::ActiveModel { id: Set(book.id), ..Default::default() };
    h.run(by_key.delete(&h.db)).await.unwrap();

    let received = h.receiver.wait_for(1).await;
    assert_eq!(received[0].body["data"]["pk"], book.id);
    assert_eq!(received[0].body["data"]["fields"]["title"], "Emma");
}

#[tokio::test]
async fn an_unmapped_action_writes_no_outbox_row() {
    let h = Harness::new().await;
    h.run(author::ActiveModel { name: Set("Tolkien".to_owned()), ..Default::default() }.insert(&h.db)).await.unwrap();
    assert_eq!(h.outbox_rows().await, 0);

    h.run(new_book(1, "Mapped").insert(&h.db)).await.unwrap();
    assert_eq!(h.outbox_rows().await, 1);
}

#[tokio::test]
async fn outcomes_are_recorded_on_the_delivery() {
    let h = Harness::new().await;
    h.receiver.respond("broken", 500);
    h.subscribe(Some(1), "book.added", "ok").await;
    h.subscribe(Some(1), "book.added", "broken").await;
    h.run(new_book(1, "Persuasion").insert(&h.db)).await.unwrap();
    h.receiver.wait_for(2).await;

    let deliveries = wait_until_settled(&h, 2).await;
    let mut by_target: Vec<_> = deliveries.iter().map(|d| (d.target.clone(), d.state, d.last_status)).collect();
    by_target.sort();
    assert_eq!(
        by_target,
        [
            (h.receiver.url("broken"), delivery::state::PENDING, Some(500)),
            (h.receiver.url("ok"), delivery::state::DELIVERED, Some(200)),
        ]
    );
    assert!(deliveries.iter().all(|d| d.attempts == 1 && d.lease_until.is_none()));
    // The failed one waits for its second attempt, about 5 s later.
    let broken = deliveries.iter().find(|d| d.state == delivery::state::PENDING).unwrap();
    let wait = broken.next_attempt_at - broken.created_at;
    assert!((4_000..=6_000).contains(&wait), "{wait} ms");
    assert_eq!(broken.last_error.as_deref(), Some("HTTP 500"));
}

/// Waits until `count` deliveries have a recorded outcome.
pub(crate) async fn wait_until_settled(h: &Harness, count: usize) -> Vec<delivery::Model> {
    let deadline = tokio::time::Instant::now() + rest_hooks_tests::WAIT;
    loop {
        let rows = delivery::Entity::find().all(&h.db).await.unwrap();
        if rows.len() >= count && rows.iter().all(|d| d.attempts > 0) {
            return rows;
        }
        assert!(tokio::time::Instant::now() < deadline, "deliveries never settled: {rows:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
