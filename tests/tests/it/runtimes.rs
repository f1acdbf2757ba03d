//! The engine works from a plain multi-thread tokio runtime (as axum apps run), from a
//! current-thread one, and from actix's own.

use rest_hooks::Engine;
use rest_hooks_tests::{Harness, Receiver, TestDb, local_bookstore};
use sea_orm::ActiveModelTrait;

use crate::lifecycle::new_book;

async fn round_trip() {
    let h = Harness::new().await;
    h.subscribe(Some(1), "book.added", "added").await;
    h.run(new_book(1, "Any runtime").insert(&h.db)).await.unwrap();
    let received = h.receiver.wait_for(1).await;
    assert_eq!(received[0].body["data"]["fields"]["title"], "Any runtime");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_multi_thread_tokio_runtime() {
    round_trip().await;
}

#[tokio::test(flavor = "current_thread")]
async fn under_a_current_thread_tokio_runtime() {
    round_trip().await;
}

#[actix_rt::test]
async fn under_the_actix_runtime() {
    round_trip().await;
}

#[test]
fn under_an_actix_system() {
    actix::System::new().block_on(round_trip());
}

/// The process-wide engine serves saves made outside any scope, from any task. This test installs
/// one, so it runs in a child process of its own to keep the other tests' expectations intact.
#[test]
fn process_wide_engine() {
    if std::env::var_os("REST_HOOKS_PROCESS_WIDE_CHILD").is_none() {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["runtimes::process_wide_engine", "--exact", "--nocapture", "--test-threads=1"])
            .env("REST_HOOKS_PROCESS_WIDE_CHILD", "1")
            .status()
            .unwrap();
        assert!(status.success());
        return;
    }
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let test_db = TestDb::sqlite().await;
        let db = test_db.db.clone();
        let receiver = Receiver::start().await;
        let engine = local_bookstore(Engine::builder()).process_wide(true).start(db.clone()).unwrap();
        engine.subscribe(&db, Some(1.into()), "book.added", &receiver.url("added")).await.unwrap();

        let spawned = tokio::spawn(async move { new_book(1, "From a spawned task").insert(&db).await });
        spawned.await.unwrap().unwrap();

        let received = receiver.wait_for(1).await;
        assert_eq!(received[0].body["data"]["fields"]["title"], "From a spawned task");
        engine.shutdown().await;
        assert!(Engine::current().is_none());
    });
}
