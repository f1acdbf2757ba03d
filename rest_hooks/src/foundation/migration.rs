//! `sea-orm-migration` migrations that create the engine's tables: [`Migration`] with the crate's
//! hook table, [`StoreMigration`] without it, for applications with their own hook entity
//! ([`Builder::hook_entity`](crate::Builder::hook_entity)).
//!
//! ```no_run
//! use sea_orm_migration::prelude::*;
//!
//! pub struct Migrator;
//!
//! #[async_trait::async_trait]
//! impl MigratorTrait for Migrator {
//!     fn migrations() -> Vec<Box<dyn MigrationTrait>> {
//!         vec![Box::new(rest_hooks::migration::Migration)]
//!     }
//! }
//! ```

use sea_orm::EntityName;
use sea_orm_migration::prelude::*;

use crate::foundation::hook;
use crate::foundation::store::{
    attempt, create_statements, delivery, dialect_statements, hook_dialect_statements, hook_state, outbox,
    store_statements,
};

/// Creates the hook, outbox, delivery, attempt and hook-state tables and their indexes; `down`
/// drops them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261101_000001_rest_hooks_tables"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let (tables, indexes) = create_statements(manager.get_database_backend());
        for table in tables {
            manager.create_table(table).await?;
        }
        for index in indexes {
            manager.create_index(index).await?;
        }
        let backend = manager.get_database_backend();
        for statement in dialect_statements(backend).into_iter().chain(hook_dialect_statements(backend)) {
            manager.get_connection().execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_store(manager).await?;
        manager.drop_table(Table::drop().table(hook::Entity.table_ref()).if_exists().to_owned()).await
    }
}

/// Creates the outbox, delivery, attempt and hook-state tables and their indexes, without the
/// crate's hook table (`rest_hooks_hook`), for an application whose hooks live in its own entity;
/// `down` drops them. Use it instead of [`Migration`], not beside it.
///
/// ```no_run
/// use sea_orm_migration::prelude::*;
///
/// pub struct Migrator;
///
/// #[async_trait::async_trait]
/// impl MigratorTrait for Migrator {
///     fn migrations() -> Vec<Box<dyn MigrationTrait>> {
///         vec![Box::new(rest_hooks::migration::StoreMigration)]
///     }
/// }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct StoreMigration;

impl MigrationName for StoreMigration {
    fn name(&self) -> &str {
        "m20261101_000001_rest_hooks_store_tables"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for StoreMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let (tables, indexes) = store_statements(manager.get_database_backend());
        for table in tables {
            manager.create_table(table).await?;
        }
        for index in indexes {
            manager.create_index(index).await?;
        }
        for statement in dialect_statements(manager.get_database_backend()) {
            manager.get_connection().execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_store(manager).await
    }
}

/// Drops the engine's own tables (and PostgreSQL's notify function).
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
    Ok(())
}
