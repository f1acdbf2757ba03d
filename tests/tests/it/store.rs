//! The tables: one-call setup is idempotent, and the sea-orm-migration migration goes up and down.

use sea_orm::{ConnectionTrait, Database};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(rest_hooks::migration::Migration)]
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
        ["rest_hooks_attempt", "rest_hooks_delivery", "rest_hooks_hook", "rest_hooks_hook_state", "rest_hooks_outbox"]
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
        ["rest_hooks_attempt", "rest_hooks_delivery", "rest_hooks_hook", "rest_hooks_hook_state", "rest_hooks_outbox"]
    );
}
