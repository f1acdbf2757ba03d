//! Limits on what goes out: an event larger than `max_payload` is refused when it is recorded.

use rest_hooks::{Audience, RecordError};
use rest_hooks_tests::Harness;
use sea_orm::ActiveModelTrait;
use serde_json::json;

use crate::lifecycle::new_book;

#[tokio::test]
async fn an_oversized_event_fails_its_save_with_a_clear_error() {
    // The title fits every backend's text column; the event does not fit the limit.
    let h = Harness::with(|b| b.max_payload(150)).await;
    h.subscribe(Some(1), "book.added", "small").await;

    let error = h.run(new_book(1, &"long title ".repeat(15)).insert(&h.db)).await.unwrap_err();
    assert!(error.to_string().contains("the payload of `book.added` is"), "{error}");
    assert!(error.to_string().contains("more than the 150 bytes allowed (`max_payload`)"), "{error}");
    assert_eq!(h.outbox_rows().await, 0);

    let raw = h.engine.raw(&h.db, "user.logged_in", Audience::owner(1), json!({"blob": "x".repeat(300)})).await;
    assert!(matches!(raw, Err(RecordError::PayloadTooLarge { size, max: 150, .. }) if size > 300), "{raw:?}");

    h.run(new_book(1, "Short").insert(&h.db)).await.unwrap();
    assert_eq!(h.receiver.wait_for(1).await.len(), 1);
}
