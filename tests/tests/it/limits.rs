//! Limits on what goes out: an event larger than `max_payload` is refused when it is recorded.

use rest_hooks::{Audience, RecordError};
use rest_hooks_tests::Harness;
use sea_orm::ActiveModelTrait;
use serde_json::json;

use crate::lifecycle::new_book;

#[tokio::test]
async fn an_oversized_event_fails_its_save_with_a_typed_error() {
    // The title fits every backend's text column; the event does not fit the limit.
    let h = Harness::with(|b| b.max_payload(150)).await;
    h.subscribe(Some(1), "book.added", "small").await;

    let title = "long title ".repeat(15);
    let error = h.run(new_book(1, &title).insert(&h.db)).await.unwrap_err();
    // The first book gets id 1 on every backend; the size of a JSON object does not depend on the
    // order of its keys.
    let payload = json!({"model": "bookstore.book", "pk": 1, "fields": {"user_id": 1, "title": title}});
    let expected = serde_json::to_string(&payload).unwrap().len();
    match RecordError::from_db_err(&error) {
        Some(RecordError::PayloadTooLarge { event, size, max }) => {
            assert_eq!((event.as_str(), *size, *max), ("book.added", expected, 150));
        }
        other => panic!("not a typed payload error: {other:?} from {error:?}"),
    }
    let text = error.to_string();
    assert!(text.contains(&format!("the payload of `book.added` is {expected} bytes")), "{text}");
    assert!(text.contains("more than the 150 bytes allowed (`max_payload`)"), "{text}");
    assert_eq!(h.outbox_rows().await, 0);
    assert!(RecordError::from_db_err(&sea_orm::DbErr::RecordNotFound("book 1".into())).is_none());

    let raw = h.engine.raw(&h.db, "user.logged_in", Audience::owner(1), json!({"blob": "x".repeat(300)})).await;
    assert!(matches!(raw, Err(RecordError::PayloadTooLarge { size, max: 150, .. }) if size > 300), "{raw:?}");

    h.run(new_book(1, "Short").insert(&h.db)).await.unwrap();
    assert_eq!(h.receiver.wait_for(1).await.len(), 1);
}
