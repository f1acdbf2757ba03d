//! What a dispatch pass does with an event it cannot turn into deliveries: a database error leaves
//! the event pending and it is tried again, an event that cannot be dispatched is marked failed and
//! can be replayed, and an engine whose connections look elsewhere than the application's still
//! finds its tables.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rest_hooks::store::outbox;
use rest_hooks::{Event, Finder, HookTarget, ReplayError};
use rest_hooks_tests::{Harness, eventually, real_sleep};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait};

use crate::lifecycle::new_book;

#[tokio::test]
async fn a_database_error_leaves_the_event_pending_until_the_database_answers_again() {
    let h = Harness::new().await;
    h.subscribe(Some(1), "book.added", "added").await;
    h.run(new_book(1, "Before").insert(&h.db)).await.unwrap();
    h.receiver.wait_for(1).await;

    // The hooks' states cannot be read: every dispatch of the next event meets a database error,
    // as it would during a lost connection, a deadlock or before a migration adds a column.
    h.db.execute_unprepared("ALTER TABLE rest_hooks_hook_state RENAME TO rest_hooks_hook_state_away").await.unwrap();
    h.run(new_book(1, "During").insert(&h.db)).await.unwrap();
    real_sleep(Duration::from_millis(1_500)).await;
    let during = outbox::Entity::find().all(&h.db).await.unwrap();
    assert_eq!(during.len(), 2);
    assert_eq!(during[1].state, outbox::state::PENDING, "a database error fails no event: {during:#?}");
    assert_eq!(during[1].error, None);
    assert!(h.engine.failed_events(10).await.unwrap().is_empty());
    assert_eq!(h.receiver.received().len(), 1);

    h.db.execute_unprepared("ALTER TABLE rest_hooks_hook_state_away RENAME TO rest_hooks_hook_state").await.unwrap();
    let received = h.receiver.wait_for(2).await;
    assert_eq!(received[1].body["data"]["fields"]["title"], "During");
    let after = h.dispatched().await;
    assert_eq!(after[1].state, outbox::state::DISPATCHED);
}

/// Finds one hook at a receiver's URL, and panics while `broken` is set.
struct Fragile {
    target: String,
    broken: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl Finder for Fragile {
    async fn find(&self, _db: &DatabaseTransaction, event: &Event) -> Result<Vec<HookTarget>, DbErr> {
        assert!(!self.broken.load(Ordering::SeqCst), "the finder is broken");
        Ok(vec![HookTarget::new(7, event.name.clone(), self.target.clone())])
    }
}

#[tokio::test]
async fn an_event_that_cannot_be_dispatched_is_listed_as_failed_and_replayed_once_fixed() {
    let receiver = rest_hooks_tests::Receiver::start().await;
    let broken = Arc::new(AtomicBool::new(true));
    let finder = Fragile { target: receiver.url("fragile"), broken: Arc::clone(&broken) };
    let h = Harness::with(|b| b.finder(finder).unsigned()).await;

    h.run(new_book(1, "Unlucky").insert(&h.db)).await.unwrap();
    let failed = eventually("the event to be failed", || async {
        let failed = h.engine.failed_events(10).await.unwrap();
        (!failed.is_empty()).then_some(failed)
    })
    .await;
    assert_eq!(failed.len(), 1);
    assert!(failed[0].error.as_deref().unwrap().contains("the finder panicked"), "{failed:#?}");
    assert_eq!(failed[0].event, "book.added");

    broken.store(false, Ordering::SeqCst);
    assert!(h.engine.replay_event(failed[0].id).await.unwrap());
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].body["data"]["fields"]["title"], "Unlucky");
    assert!(h.engine.failed_events(10).await.unwrap().is_empty());
    assert!(!h.engine.replay_event(failed[0].id).await.unwrap(), "a dispatched event is not replayed as an event");
    let missing = failed[0].id + 1_000;
    assert!(matches!(h.engine.replay_event(missing).await, Err(ReplayError::NoSuchEvent(id)) if id == missing));
}

/// An application on PostgreSQL whose tables live in a schema of their own, reached through
/// SeaORM's `set_schema_search_path`: the engine's own connections look there too.
#[tokio::test]
#[cfg_attr(not(rest_hooks_postgres), ignore = "set REST_HOOKS_POSTGRES_URL to run it on PostgreSQL")]
async fn an_application_whose_tables_live_in_a_postgres_schema_gets_its_webhooks() {
    use rest_hooks::Engine;
    use sea_orm::{ConnectOptions, Database};

    if std::env::var(rest_hooks_tests::BACKEND_VAR).is_ok() {
        return; // a child run of the whole suite: the parent run has this test
    }
    let server = std::env::var("REST_HOOKS_POSTGRES_URL").unwrap();
    let test_db = rest_hooks_tests::TestDb::on_server(&server).await;
    test_db.db.execute_unprepared("CREATE SCHEMA app").await.unwrap();
    let mut options = ConnectOptions::new(test_db.url.clone());
    options.max_connections(4).sqlx_logging(false).set_schema_search_path("app");
    let db = Database::connect(options).await.unwrap();
    rest_hooks::store::setup(&db).await.unwrap();
    rest_hooks_tests::entities::create_tables(&db).await;
    // The tables exist twice: in `public` (made by the test database) and in `app`. Those in
    // `public` are dropped so that an engine looking there fails instead of reading the wrong ones.
    for table in ["rest_hooks_attempt", "rest_hooks_hook_state", "rest_hooks_delivery", "rest_hooks_outbox"] {
        test_db.db.execute_unprepared(&format!("DROP TABLE public.{table} CASCADE")).await.unwrap();
    }

    let receiver = rest_hooks_tests::Receiver::start().await;
    let engine = rest_hooks_tests::local_bookstore(Engine::builder()).start_checked(db.clone()).await.unwrap();
    engine.subscribe(&db, Some(1.into()), "book.added", &receiver.url("schema")).await.unwrap();
    engine.scope(new_book(1, "In a schema").insert(&db)).await.unwrap();

    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].body["data"]["fields"]["title"], "In a schema");
    engine.shutdown().await;
}
