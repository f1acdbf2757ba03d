//! An event commits or rolls back with the change that caused it, and a committed event survives
//! the engine that recorded it.

use rest_hooks::Engine;
use rest_hooks_tests::entities::book;
use rest_hooks_tests::{Harness, Receiver, local_bookstore};
use sea_orm::{ActiveModelTrait, EntityTrait, QueryFilter, Set, TransactionTrait};

use crate::lifecycle::new_book;

#[tokio::test]
async fn a_rolled_back_save_sends_nothing() {
    let h = Harness::new().await;
    h.subscribe(Some(1), "book.added", "added").await;

    let txn = h.db.begin().await.unwrap();
    h.run(new_book(1, "Rolled back").insert(&txn)).await.unwrap();
    txn.rollback().await.unwrap();
    h.run(new_book(1, "Committed").insert(&h.db)).await.unwrap();

    // Events are dispatched in the order they were recorded: once the later one has arrived, the
    // rolled-back one would have arrived before it.
    let received = h.receiver.wait_for_event("book.added").await;
    assert_eq!(received.len(), 1, "{received:#?}");
    assert_eq!(received[0].body["data"]["fields"]["title"], "Committed");
    assert_eq!(h.outbox_rows().await, 1);
}

#[tokio::test]
async fn a_committed_transaction_sends_every_change() {
    let h = Harness::new().await;
    h.subscribe(Some(1), "book.added", "added").await;
    h.subscribe(Some(1), "book.changed", "changed").await;

    let txn = h.db.begin().await.unwrap();
    let book = h.run(new_book(1, "Draft").insert(&txn)).await.unwrap();
    let mut active: book::ActiveModel = book.into();
    active.title = Set("Final".to_owned());
    h.run(active.update(&txn)).await.unwrap();
    txn.commit().await.unwrap();

    let received = h.receiver.wait_for(2).await;
    let added = received.iter().find(|r| r.path == "/added").unwrap();
    let changed = received.iter().find(|r| r.path == "/changed").unwrap();
    assert_eq!(added.body["data"]["fields"]["title"], "Draft", "data is captured when recorded");
    assert_eq!(changed.body["data"]["fields"]["title"], "Final");
}

#[tokio::test]
async fn data_is_captured_when_recorded_not_when_delivered() {
    let h = Harness::new().await;
    h.subscribe(Some(1), "book.added", "added").await;

    let txn = h.db.begin().await.unwrap();
    let book = h.run(new_book(1, "As saved").insert(&txn)).await.unwrap();
    book::Entity::update_many()
        .col_expr(book::Column::Title, sea_orm::sea_query::Expr::value("Changed behind the hooks"))
        .filter(sea_orm::ColumnTrait::eq(&book::Column::Id, book.id))
        .exec(&txn)
        .await
        .unwrap();
    txn.commit().await.unwrap();

    let received = h.receiver.wait_for(1).await;
    assert_eq!(received[0].body["data"]["fields"]["title"], "As saved");
}

#[tokio::test]
async fn a_committed_event_is_delivered_by_the_next_engine() {
    let test_db = rest_hooks_tests::TestDb::sqlite().await;
    let db = test_db.db.clone();
    let receiver = Receiver::start().await;
    let first = local_bookstore(Engine::builder()).start(db.clone()).unwrap();
    first.subscribe(&db, Some(1.into()), "book.added", &receiver.url("added")).await.unwrap();

    // The engine stops (the process died) before it could dispatch what was committed.
    first.shutdown().await;
    first.scope(new_book(1, "Survivor").insert(&db)).await.unwrap();
    assert!(receiver.received().is_empty());

    let _second = local_bookstore(Engine::builder()).start(db.clone()).unwrap();
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].body["data"]["fields"]["title"], "Survivor");
}

#[tokio::test]
async fn bulk_writes_record_through_emit_in_the_same_transaction() {
    let h = Harness::new().await;
    h.subscribe(Some(1), "book.added", "added").await;

    let txn = h.db.begin().await.unwrap();
    book::Entity::insert_many([new_book(1, "One"), new_book(1, "Two")]).exec(&txn).await.unwrap();
    let inserted = book::Entity::find().all(&txn).await.unwrap();
    let recorded = h.engine.emit(&txn, &inserted, "created").await.unwrap();
    txn.commit().await.unwrap();

    assert_eq!(recorded, 2);
    let received = h.receiver.wait_for(2).await;
    let mut titles: Vec<_> = received.iter().map(|r| r.body["data"]["fields"]["title"].clone()).collect();
    titles.sort_by_key(|t| t.to_string());
    assert_eq!(titles, ["One", "Two"]);
    assert_eq!(h.engine.emit(&h.db, &inserted, "archived").await.unwrap(), 0, "unmapped: nothing recorded");
}
