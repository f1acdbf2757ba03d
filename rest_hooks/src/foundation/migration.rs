//! `sea-orm-migration` migrations of the engine's tables: [`Migration::steps`] with the crate's hook
//! table, [`StoreMigration::steps`] without it, for applications with their own hook entity
//! ([`Builder::hook_entity`](crate::Builder::hook_entity)).
//!
//! Every change of the tables is one [schema step](crate::store#upgrades) and one migration, named
//! after it, so that `sea-orm-migration` runs on an existing database exactly the steps it has not
//! run yet. List them all, after your own migrations or among them: a later release of the crate
//! adds its steps to the same list.
//!
//! ```no_run
//! use sea_orm_migration::prelude::*;
//!
//! pub struct Migrator;
//!
//! #[async_trait::async_trait]
//! impl MigratorTrait for Migrator {
//!     fn migrations() -> Vec<Box<dyn MigrationTrait>> {
//!         let mut migrations: Vec<Box<dyn MigrationTrait>> = vec![/* the application's own */];
//!         migrations.extend(rest_hooks::migration::Migration::steps());
//!         migrations
//!     }
//! }
//! ```
//!
//! Each step also records itself in `rest_hooks_schema`, as [`store::setup`](crate::store::setup)
//! does, and applies any earlier step the database lacks: the two ways can be mixed, and a step run
//! twice changes nothing.

use sea_orm::EntityName;
use sea_orm_migration::prelude::*;

use crate::foundation::hook;
use crate::foundation::store::steps;
use crate::foundation::store::{attempt, delivery, hook_state, outbox};

/// Step 1, the schema of release 0.1.0: creates the hook, outbox, delivery, attempt and hook-state
/// tables and their indexes; `down` drops them. Its name is the one 0.1.0's single migration had, so
/// a database that ran it is not set up again.
#[derive(Clone, Copy, Debug, Default)]
pub struct Migration;

impl Migration {
    /// Every step of the store with the crate's hook table, in order: what a `Migrator` lists.
    pub fn steps() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(Migration), Box::new(Step2)]
    }
}

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261101_000001_rest_hooks_tables"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        steps::apply(manager.get_connection(), true, 1).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_store(manager).await?;
        manager.drop_table(Table::drop().table(hook::Entity.table_ref()).if_exists().to_owned()).await
    }
}

/// Step 1 without the crate's hook table (`rest_hooks_hook`), for an application whose hooks live
/// in its own entity: creates the outbox, delivery, attempt and hook-state tables and their indexes;
/// `down` drops them. Use its [`steps`](Self::steps) instead of [`Migration`]'s, not beside them.
///
/// ```no_run
/// use sea_orm_migration::prelude::*;
///
/// pub struct Migrator;
///
/// #[async_trait::async_trait]
/// impl MigratorTrait for Migrator {
///     fn migrations() -> Vec<Box<dyn MigrationTrait>> {
///         rest_hooks::migration::StoreMigration::steps()
///     }
/// }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct StoreMigration;

impl StoreMigration {
    /// Every step of the store without the crate's hook table, in order: what a `Migrator` lists.
    pub fn steps() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(StoreMigration), Box::new(StoreStep2)]
    }
}

impl MigrationName for StoreMigration {
    fn name(&self) -> &str {
        "m20261101_000001_rest_hooks_store_tables"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for StoreMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        steps::apply(manager.get_connection(), false, 1).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_store(manager).await
    }
}

/// Step 2 (0.2.0), with the crate's hook table: the outbox's lease (`rest_hooks_outbox.lease_until`),
/// under which a process holds an event while its first attempts are under way. Applies step 1
/// first where the database lacks it. `down` leaves the column (step 1's code ignores it).
#[derive(Clone, Copy, Debug, Default)]
pub struct Step2;

impl MigrationName for Step2 {
    fn name(&self) -> &str {
        "m20261207_000002_rest_hooks_outbox_lease"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Step2 {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        steps::apply(manager.get_connection(), true, 2).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        steps::forget(manager.get_connection(), 2).await
    }
}

/// Step 2 without the crate's hook table: as [`Step2`], for [`StoreMigration::steps`].
#[derive(Clone, Copy, Debug, Default)]
pub struct StoreStep2;

impl MigrationName for StoreStep2 {
    fn name(&self) -> &str {
        "m20261207_000002_rest_hooks_store_outbox_lease"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for StoreStep2 {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        steps::apply(manager.get_connection(), false, 2).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        steps::forget(manager.get_connection(), 2).await
    }
}

/// Drops the engine's own tables, the record of its schema steps, and PostgreSQL's notify function.
async fn drop_store(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
        manager.get_connection().execute_unprepared("DROP FUNCTION IF EXISTS rest_hooks_notify() CASCADE").await?;
    }
    let tables = [
        attempt::Entity.table_ref(),
        hook_state::Entity.table_ref(),
        delivery::Entity.table_ref(),
        outbox::Entity.table_ref(),
    ];
    for table in tables {
        manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
    }
    steps::drop_record(manager.get_connection()).await
}
