//! The tables: one-call setup is idempotent, and the sea-orm-migration migration goes up and down.

use sea_orm::{ConnectionTrait, Database};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        rest_hooks::migration::Migration::steps()
    }
}

async fn table_names(db: &sea_orm::DatabaseConnection) -> Vec<String> {
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'rest_hooks_%' ORDER BY name",
        ))
        .await
        .unwrap();
    rows.iter().map(|row| row.try_get::<String>("", "name").unwrap()).collect()
}

#[tokio::test]
async fn the_migration_creates_and_drops_the_tables() {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(
        table_names(&db).await,
        [
            "rest_hooks_attempt",
            "rest_hooks_delivery",
            "rest_hooks_hook",
            "rest_hooks_hook_state",
            "rest_hooks_outbox",
            "rest_hooks_schema"
        ]
    );
    Migrator::down(&db, None).await.unwrap();
    assert!(table_names(&db).await.is_empty());
}

#[tokio::test]
async fn setup_can_run_twice() {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    rest_hooks::store::setup(&db).await.unwrap();
    rest_hooks::store::setup(&db).await.unwrap();
    assert_eq!(
        table_names(&db).await,
        [
            "rest_hooks_attempt",
            "rest_hooks_delivery",
            "rest_hooks_hook",
            "rest_hooks_hook_state",
            "rest_hooks_outbox",
            "rest_hooks_schema"
        ]
    );
}

struct StoreMigrator;

#[async_trait::async_trait]
impl MigratorTrait for StoreMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        rest_hooks::migration::StoreMigration::steps()
    }
}

#[tokio::test]
async fn the_store_migration_leaves_the_hook_table_to_the_application() {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    StoreMigrator::up(&db, None).await.unwrap();
    assert_eq!(
        table_names(&db).await,
        [
            "rest_hooks_attempt",
            "rest_hooks_delivery",
            "rest_hooks_hook_state",
            "rest_hooks_outbox",
            "rest_hooks_schema"
        ]
    );
    StoreMigrator::down(&db, None).await.unwrap();
    assert!(table_names(&db).await.is_empty());
}

#[tokio::test]
async fn a_checked_start_names_the_missing_table_and_how_to_create_it() {
    use rest_hooks::{BuildError, Engine};
    let test_db = rest_hooks_tests::TestDb::new().await;
    let start = || rest_hooks_tests::bookstore_events(Engine::builder()).start_checked(test_db.db.clone());
    start().await.expect("every table is there").shutdown().await;
    test_db.db.execute_unprepared("DROP TABLE rest_hooks_delivery").await.unwrap();

    let refused = start().await.unwrap_err();

    assert!(matches!(&refused, BuildError::MissingTable { table, .. } if table == "rest_hooks_delivery"), "{refused}");
    let message = refused.to_string();
    assert!(message.starts_with("table `rest_hooks_delivery` cannot be read ("), "{message}");
    assert!(
        message.contains("rest_hooks::store::setup(&db)") && message.contains("migration::Migration::steps()"),
        "{message}"
    );
}

#[tokio::test]
async fn a_checked_start_with_an_own_hook_entity_needs_no_crate_hook_table() {
    use rest_hooks::Engine;
    use rest_hooks_tests::entities::webhook;
    let test_db = rest_hooks_tests::TestDb::new().await;
    test_db.db.execute_unprepared("DROP TABLE rest_hooks_hook").await.unwrap();
    let builder = || rest_hooks_tests::bookstore_events(Engine::builder());

    let own = builder().hook_entity::<webhook::Entity>().unsigned().start_checked(test_db.db.clone()).await;
    own.expect("the crate's hook table is not read").shutdown().await;

    let refused = builder().start_checked(test_db.db.clone()).await.unwrap_err().to_string();
    assert!(refused.starts_with("table `rest_hooks_hook` cannot be read"), "{refused}");
}

#[tokio::test]
async fn a_save_without_the_outbox_table_says_how_to_create_it() {
    use rest_hooks::Engine;
    use sea_orm::ActiveModelTrait;
    let test_db = rest_hooks_tests::TestDb::new().await;
    test_db.db.execute_unprepared("DROP TABLE rest_hooks_outbox").await.unwrap();
    // `start` checks nothing: the first save is the first to hear of it.
    let engine = rest_hooks_tests::bookstore_events(Engine::builder()).start(test_db.db.clone()).unwrap();

    let refused = engine.scope(crate::lifecycle::new_book(1, "Lost").insert(&test_db.db)).await.unwrap_err();

    let message = refused.to_string();
    assert!(message.contains("cannot record event `book.added`: table `rest_hooks_outbox` is missing"), "{message}");
    assert!(message.contains("rest_hooks::store::setup(&db)") && message.contains("Migration::steps()"), "{message}");
    engine.shutdown().await;
}
