//! What a body looks like: the default shape, the entity's serializer (one that reads the database
//! through the save's connection too), the global serializer, a per-event render function, a body
//! given with the event, and raw events with and without the hook block.

use rest_hooks::{Audience, RecordError};
use rest_hooks_tests::Harness;
use rest_hooks_tests::entities::{author, comment, note};
use sea_orm::{ActiveModelTrait, DbErr, EntityTrait, ModelTrait, Set, TransactionTrait};
use serde_json::json;

use crate::lifecycle::new_book;

#[tokio::test]
async fn the_entity_serializer_shapes_data_inside_the_default_body() {
    let h = Harness::with(|b| b.event("note.added", "bookstore.Note.created")).await;
    let hook = h.subscribe(None, "note.added", "notes").await;
    let note = note::ActiveModel { author_key: Set(None), text: Set("hello".into()), ..Default::default() };
    let note = h.run(note.insert(&h.db)).await.unwrap();

    let received = h.receiver.wait_for(1).await;
    assert_eq!(
        received[0].body,
        json!({
            "hook": {"id": hook.id, "event": "note.added", "target": h.receiver.url("notes")},
            "data": {"note": note.id, "text": "HELLO"},
        })
    );
}

/// The harness with the comment events mapped: `comment.added`, `comment.flagged` (a custom
/// action) and `comment.removed`.
async fn comments() -> Harness {
    Harness::with(|b| {
        b.event("comment.added", "bookstore.Comment.created")
            .event("comment.flagged", "bookstore.Comment.flagged")
            .event("comment.removed", "bookstore.Comment.deleted")
    })
    .await
}

#[tokio::test]
async fn a_serializer_with_the_database_reads_a_related_row_inside_the_saves_transaction() {
    let h = comments().await;
    h.subscribe(None, "comment.added", "added").await;
    h.subscribe(None, "comment.flagged", "flagged").await;
    h.subscribe(None, "comment.removed", "removed").await;

    // The author and the comment are saved in one transaction: until it commits, the author can
    // be read only through the transaction, the connection the comment's save runs on.
    let txn = h.db.begin().await.unwrap();
    let author = h.run(author::ActiveModel { name: Set("Ursula".into()), ..Default::default() }.insert(&txn)).await;
    let author = author.unwrap();
    assert_eq!(author::Entity::find_by_id(author.id).one(&h.db).await.unwrap(), None, "not committed yet");
    let comment = comment::ActiveModel { author_id: Set(author.id), text: Set("Lovely".into()), ..Default::default() };
    let comment = h.run(comment.insert(&txn)).await.unwrap();
    txn.commit().await.unwrap();

    let data = json!({"comment": comment.id, "text": "Lovely", "author": "Ursula"});
    let added = h.receiver.wait_for(1).await;
    assert_eq!(added[0].path, "/added");
    assert_eq!(added[0].body["data"], data);

    // A custom action and a delete serialize the same way.
    h.run(h.engine.action(&h.db, &comment, "flagged")).await.unwrap();
    h.run(comment.clone().delete(&h.db)).await.unwrap();
    let received = h.receiver.wait_for(3).await;
    for path in ["/flagged", "/removed"] {
        let delivery = received.iter().find(|r| r.path == path).unwrap();
        assert_eq!(delivery.body["data"], data, "{path}");
    }
}

#[tokio::test]
async fn an_error_of_a_serializer_with_the_database_fails_the_save_and_records_nothing() {
    let h = comments().await;
    h.subscribe(None, "comment.added", "added").await;
    h.subscribe(None, "comment.flagged", "flagged").await;

    let orphan = comment::ActiveModel { author_id: Set(404), text: Set("Nobody's".into()), ..Default::default() };
    let txn = h.db.begin().await.unwrap();
    let error = h.run(orphan.insert(&txn)).await.unwrap_err();
    assert_eq!(error, DbErr::RecordNotFound("author 404".into()), "the serializer's own error");
    assert!(RecordError::from_db_err(&error).is_none());
    txn.rollback().await.unwrap();
    assert_eq!(h.outbox_rows().await, 0);

    let orphan = comment::Model { id: 1, author_id: 404, text: "Nobody's".into() };
    let error = h.run(h.engine.action(&h.db, &orphan, "flagged")).await.unwrap_err();
    assert!(matches!(&error, RecordError::Db(DbErr::RecordNotFound(what)) if what == "author 404"), "{error:?}");
    assert_eq!(h.outbox_rows().await, 0);
    assert!(h.receiver.received().is_empty());
}

#[tokio::test]
async fn the_global_serializer_yields_to_the_entity_serializer() {
    let h = Harness::with(|b| {
        b.event("note.added", "bookstore.Note.created")
            .serializer(|hook, event| json!({"global": true, "event": hook.event, "pk": event.data["pk"]}))
    })
    .await;
    h.subscribe(Some(1), "book.added", "books").await;
    h.subscribe(None, "note.added", "notes").await;

    let book = h.run(new_book(1, "Global").insert(&h.db)).await.unwrap();
    h.run(note::ActiveModel { author_key: Set(None), text: Set("own".into()), ..Default::default() }.insert(&h.db))
        .await
        .unwrap();

    let received = h.receiver.wait_for(2).await;
    let books = received.iter().find(|r| r.path == "/books").unwrap();
    let notes = received.iter().find(|r| r.path == "/notes").unwrap();
    assert_eq!(books.body, json!({"global": true, "event": "book.added", "pk": book.id}));
    assert_eq!(notes.body["data"]["text"], "OWN");
}

#[tokio::test]
async fn a_render_function_beats_every_serializer_and_a_given_body_beats_it() {
    let h = Harness::with(|b| {
        b.event("note.added", "bookstore.Note.created")
            .serializer(|_, _| json!("global"))
            .render_event("note.added", |hook, event| json!({"rendered": hook.target, "text": event.data["text"]}))
            .render_event("book.read", |_, _| json!("rendered read"))
    })
    .await;
    h.subscribe(None, "note.added", "notes").await;
    h.subscribe(Some(1), "book.read", "reads").await;

    h.run(note::ActiveModel { author_key: Set(None), text: Set("x".into()), ..Default::default() }.insert(&h.db))
        .await
        .unwrap();
    let book = h.run(new_book(1, "Read me").insert(&h.db)).await.unwrap();
    h.run(h.engine.action(&h.db, &book, "read").body(json!({"given": "body"}))).await.unwrap();

    let received = h.receiver.wait_for(2).await;
    let notes = received.iter().find(|r| r.path == "/notes").unwrap();
    let reads = received.iter().find(|r| r.path == "/reads").unwrap();
    assert_eq!(notes.body, json!({"rendered": h.receiver.url("notes"), "text": "X"}));
    assert_eq!(reads.body, json!({"given": "body"}));
}

#[tokio::test]
async fn custom_actions_fire_their_mapped_event() {
    let h = Harness::new().await;
    let hook = h.subscribe(Some(1), "book.read", "reads").await;
    let book = h.run(new_book(1, "The Hobbit").insert(&h.db)).await.unwrap();

    h.run(h.engine.action(&h.db, &book, "read")).await.unwrap();

    let received = h.receiver.wait_for(1).await;
    assert_eq!(
        received[0].body["hook"],
        json!({"id": hook.id, "event": "book.read", "target": h.receiver.url("reads")})
    );
    assert_eq!(received[0].body["data"]["fields"]["title"], "The Hobbit");
}

#[tokio::test]
async fn an_unmapped_custom_action_is_an_error_naming_the_mapped_ones() {
    let h = Harness::new().await;
    let book = h.run(new_book(1, "Typo").insert(&h.db)).await.unwrap();

    let error = h.run(h.engine.action(&h.db, &book, "reed")).await.unwrap_err();
    assert!(matches!(error, RecordError::UnmappedAction { .. }));
    assert_eq!(
        error.to_string(),
        "action `reed` of `bookstore.Book` maps to no event; mapped actions: created, deleted, featured, read, updated"
    );
}

#[tokio::test]
async fn raw_events_with_and_without_the_hook_block() {
    let h = Harness::new().await;
    let hook = h.subscribe(Some(7), "user.logged_in", "logins").await;
    h.subscribe(Some(8), "user.logged_in", "others").await;

    h.engine.raw(&h.db, "user.logged_in", Audience::owner(7), json!({"ip": "203.0.113.9"})).await.unwrap();
    h.engine.raw(&h.db, "user.logged_in", 7, json!({"bare": true})).without_hook_metadata().await.unwrap();

    let received = h.receiver.wait_for(2).await;
    assert!(received.iter().all(|r| r.path == "/logins"));
    let bodies: Vec<_> = received.iter().map(|r| r.body.clone()).collect();
    assert!(bodies.contains(&json!({
        "hook": {"id": hook.id, "event": "user.logged_in", "target": h.receiver.url("logins")},
        "data": {"ip": "203.0.113.9"},
    })));
    assert!(bodies.contains(&json!({"bare": true})));
}

#[tokio::test]
async fn an_unknown_raw_event_is_an_error() {
    let h = Harness::new().await;
    let error = h.engine.raw(&h.db, "user.loged_in", Audience::All, json!({})).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown event `user.loged_in`; known: book.added, book.changed, book.featured, book.read, book.removed, \
         user.logged_in"
    );
    assert_eq!(h.outbox_rows().await, 0);
}
