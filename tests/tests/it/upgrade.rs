//! Upgrading the store: a database made by release 0.1.0, with hooks and pending events, is brought
//! up to date in place by `store::setup` and then delivers everything it had pending; a store newer
//! than the code is refused.

use rest_hooks::{BuildError, Engine};
use rest_hooks_tests::{Receiver, TestDb, local_bookstore};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::json;

use crate::lifecycle::new_book;

/// Replaces the engine's tables of `db` with the store 0.1.0 made, its hooks pointed at `receiver`.
async fn store_of_0_1_0(db: &DatabaseConnection, receiver: &Receiver) {
    let backend = db.get_database_backend();
    for table in [
        "rest_hooks_schema",
        "rest_hooks_attempt",
        "rest_hooks_hook_state",
        "rest_hooks_delivery",
        "rest_hooks_outbox",
        "rest_hooks_hook",
    ] {
        db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}")).await.unwrap();
    }
    let fixture = match backend {
        DbBackend::Postgres => include_str!("../../data/store-0.1.0/postgres.sql"),
        DbBackend::MySql => include_str!("../../data/store-0.1.0/mysql.sql"),
        _ => include_str!("../../data/store-0.1.0/sqlite.sql"),
    };
    for statement in fixture.lines().filter(|line| !line.starts_with("--") && !line.trim().is_empty()) {
        db.execute_unprepared(statement).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    let base = receiver.url("");
    let retarget = format!("UPDATE rest_hooks_hook SET target = REPLACE(target, 'http://127.0.0.1:9/', '{base}')");
    db.execute_unprepared(&retarget).await.unwrap();
}

async fn recorded_steps(db: &DatabaseConnection) -> Vec<(i32, String)> {
    let backend = db.get_database_backend();
    let sql = "SELECT step, introduced_in FROM rest_hooks_schema ORDER BY step";
    let rows = db.query_all_raw(Statement::from_string(backend, sql)).await.unwrap();
    rows.iter().map(|row| (row.try_get("", "step").unwrap(), row.try_get("", "introduced_in").unwrap())).collect()
}

#[tokio::test]
async fn a_store_made_by_0_1_0_is_upgraded_in_place_and_delivers_what_was_pending() {
    let test_db = TestDb::new().await;
    let (db, receiver) = (&test_db.db, Receiver::start().await);
    store_of_0_1_0(db, &receiver).await;

    rest_hooks::store::setup(db).await.unwrap();
    rest_hooks::store::setup(db).await.expect("setting up again changes nothing");
    assert_eq!(recorded_steps(db).await, [(1, "0.1.0".to_owned()), (2, "0.2.0".to_owned())]);

    let engine = local_bookstore(Engine::builder()).start_checked(db.clone()).await.unwrap();
    let received = receiver.wait_for(3).await;
    let mut by_path: Vec<_> = received.iter().map(|r| (r.path.as_str(), &r.body)).collect();
    by_path.sort_by_key(|(path, _)| *path);
    let [(added_path, added), (changed_path, changed), (removed_path, removed)] = by_path[..] else {
        panic!("three deliveries: {received:#?}");
    };
    assert_eq!((added_path, changed_path, removed_path), ("/added", "/changed", "/removed"));
    assert_eq!(added["data"]["fields"], json!({"title": "Old store", "user_id": 1}));
    assert_eq!(changed["changed"], json!(["title"]));
    assert_eq!(changed["data"]["fields"]["title"], "Old store, second edition");
    assert_eq!(removed["hook"]["event"], "book.removed");

    // New events after the upgrade get ids of their own, after the old ones.
    engine.scope(new_book(1, "New store").insert(db)).await.unwrap();
    let received = receiver.wait_for(4).await;
    assert_eq!(received[3].body["data"]["fields"]["title"], "New store");
    engine.shutdown().await;
    // Step 2's column holds events while their first attempts are under way, and lets them go.
    let sql = "SELECT COUNT(*) AS n FROM rest_hooks_outbox WHERE state = 1 AND lease_until IS NULL";
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 4, "every event dispatched, none held");
}

#[tokio::test]
async fn a_store_newer_than_the_code_is_refused_naming_what_to_run() {
    let test_db = TestDb::new().await;
    let db = &test_db.db;
    db.execute_unprepared("INSERT INTO rest_hooks_schema (step, introduced_in, applied_at) VALUES (99, '9.9.9', 0)")
        .await
        .unwrap();

    let refused = local_bookstore(Engine::builder()).start_checked(db.clone()).await.unwrap_err();

    assert!(matches!(refused, BuildError::StoreNewer { found: 99, known: 2, .. }), "{refused}");
    let message = refused.to_string();
    assert!(message.contains("schema step 99, newer than this code knows (step 2, rest_hooks 0.2.0)"), "{message}");
}
