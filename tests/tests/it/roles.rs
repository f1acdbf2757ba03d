//! A record-only engine writes events and sends nothing; a delivering engine on the same database
//! sends them.

use rest_hooks::store::{delivery, outbox};
use rest_hooks_tests::{Harness, local_bookstore};
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait};

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
