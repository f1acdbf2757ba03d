//! A record-only engine writes events and sends nothing; a delivering engine on the same database
//! sends them, and on PostgreSQL hears of them at commit.

use std::time::Duration;

use rest_hooks::store::{delivery, outbox};
use rest_hooks_tests::{Harness, local_bookstore};
use sea_orm::{ActiveModelTrait, DbBackend, EntityTrait, PaginatorTrait, TransactionTrait};

use crate::lifecycle::new_book;

#[tokio::test]
async fn a_record_only_engine_leaves_delivery_to_another_process() {
    let h = Harness::with(|builder| builder.deliver(false)).await;
    h.subscribe(Some(1), "book.added", "added").await;
    h.run(new_book(1, "Dune").insert(&h.db)).await.unwrap();
    h.engine.wake();

    let pending = outbox::Entity::find().all(&h.db).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].state, outbox::state::PENDING, "a record-only engine claims nothing");
    assert_eq!(delivery::Entity::find().count(&h.db).await.unwrap(), 0);

    let worker = local_bookstore(rest_hooks::Engine::builder()).start(h.db.clone()).unwrap();
    let received = h.receiver.wait_for(1).await;
    assert_eq!(received[0].body["hook"]["event"], "book.added");
    assert_eq!(received[0].body["data"]["fields"]["title"], "Dune");
    worker.shutdown().await;
    assert_eq!(h.receiver.received().len(), 1);
}

#[tokio::test]
async fn on_postgres_an_event_recorded_elsewhere_wakes_the_dispatcher_at_commit() {
    // The delivering engine polls once a minute: only the notification can bring the event in time.
    let h = Harness::with(|builder| builder.poll_interval(Duration::from_secs(60))).await;
    if h.db.get_database_backend() != DbBackend::Postgres {
        return; // LISTEN / NOTIFY is PostgreSQL's; the suite runs there too (see `backends`).
    }
    h.subscribe(Some(1), "book.added", "added").await;
    // Let the engine's first pass find nothing and settle on the idle poll.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let recorder = local_bookstore(rest_hooks::Engine::builder()).deliver(false).start(h.db.clone()).unwrap();
    let txn = h.db.begin().await.unwrap();
    recorder.scope(new_book(1, "Told at commit").insert(&txn)).await.unwrap();
    txn.commit().await.unwrap();

    let received = h.receiver.wait_for(1).await;
    assert_eq!(received[0].body["data"]["fields"]["title"], "Told at commit");
}
