//! Creating the tables: one call for the embedded default, or statements for a migration.

use sea_orm::sea_query::{Index, IndexCreateStatement, TableCreateStatement};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityTrait, Schema};

use crate::foundation::hook;
use crate::foundation::store::{attempt, delivery, hook_state, outbox, steps};

/// The statements that create every table and index the engine needs at the latest schema (the
/// default hook entity included), each with `IF NOT EXISTS`, for a new database. [`setup`] runs them
/// and records the schema's version; a database made with these statements alone is taken for
/// release 0.1.0's. MySQL has no `CREATE INDEX IF NOT EXISTS`: there the
/// indexes are part of the `CREATE TABLE` statements and the second list is empty; [`setup`] and the
/// migration also widen the payload columns to `LONGTEXT` there.
pub fn create_statements(backend: DbBackend) -> (Vec<TableCreateStatement>, Vec<IndexCreateStatement>) {
    let hook_index = Index::create()
        .if_not_exists()
        .name("idx_rest_hooks_hook_event_owner")
        .table(hook::Entity)
        .col(hook::Column::Event)
        .col(hook::Column::Owner)
        .to_owned();
    let mut tables = vec![(table(backend, hook::Entity), vec![hook_index])];
    tables.extend(store_tables(backend));
    split(backend, tables)
}

pub(crate) fn store_statements(backend: DbBackend) -> (Vec<TableCreateStatement>, Vec<IndexCreateStatement>) {
    split(backend, store_tables(backend))
}

fn store_tables(backend: DbBackend) -> Vec<(TableCreateStatement, Vec<IndexCreateStatement>)> {
    let outbox_index = Index::create()
        .if_not_exists()
        .name("idx_rest_hooks_outbox_state_id")
        .table(outbox::Entity)
        .col(outbox::Column::State)
        .col(outbox::Column::Id)
        .to_owned();
    let delivery_index = Index::create()
        .if_not_exists()
        .name("idx_rest_hooks_delivery_state_next")
        .table(delivery::Entity)
        .col(delivery::Column::State)
        .col(delivery::Column::NextAttemptAt)
        .to_owned();
    let delivery_receiver_index = Index::create()
        .if_not_exists()
        .name("idx_rest_hooks_delivery_receiver_due")
        .table(delivery::Entity)
        .col(delivery::Column::State)
        .col(delivery::Column::Receiver)
        .col(delivery::Column::Attempts)
        .col(delivery::Column::NextAttemptAt)
        .to_owned();
    let delivery_hook_index = Index::create()
        .if_not_exists()
        .name("idx_rest_hooks_delivery_hook_state")
        .table(delivery::Entity)
        .col(delivery::Column::HookId)
        .col(delivery::Column::State)
        .to_owned();
    let outbox_object_index = Index::create()
        .if_not_exists()
        .name("idx_rest_hooks_outbox_object")
        .table(outbox::Entity)
        .col(outbox::Column::Object)
        .col(outbox::Column::State)
        .to_owned();
    let delivery_order_index = Index::create()
        .if_not_exists()
        .name("idx_rest_hooks_delivery_order")
        .table(delivery::Entity)
        .col(delivery::Column::OrderKey)
        .col(delivery::Column::HookId)
        .col(delivery::Column::State)
        .to_owned();
    let attempt_delivery_index = Index::create()
        .if_not_exists()
        .name("idx_rest_hooks_attempt_delivery")
        .table(attempt::Entity)
        .col(attempt::Column::DeliveryId)
        .to_owned();
    let attempt_hook_index = Index::create()
        .if_not_exists()
        .name("idx_rest_hooks_attempt_hook_at")
        .table(attempt::Entity)
        .col(attempt::Column::HookId)
        .col(attempt::Column::At)
        .to_owned();
    let attempt_outbox_index = Index::create()
        .if_not_exists()
        .name("idx_rest_hooks_attempt_outbox")
        .table(attempt::Entity)
        .col(attempt::Column::OutboxId)
        .to_owned();
    vec![
        (table(backend, outbox::Entity), vec![outbox_index, outbox_object_index]),
        (
            table(backend, delivery::Entity),
            vec![delivery_index, delivery_receiver_index, delivery_hook_index, delivery_order_index],
        ),
        (table(backend, attempt::Entity), vec![attempt_delivery_index, attempt_hook_index, attempt_outbox_index]),
        (table(backend, hook_state::Entity), Vec::new()),
    ]
}

/// Separate index statements, or, on MySQL, indexes inside their `CREATE TABLE`.
fn split(
    backend: DbBackend,
    tables: Vec<(TableCreateStatement, Vec<IndexCreateStatement>)>,
) -> (Vec<TableCreateStatement>, Vec<IndexCreateStatement>) {
    let mut statements = Vec::with_capacity(tables.len());
    let mut indexes = Vec::new();
    for (mut table, table_indexes) in tables {
        if backend == DbBackend::MySql {
            for mut index in table_indexes {
                table.index(&mut index);
            }
        } else {
            indexes.extend(table_indexes);
        }
        statements.push(table);
    }
    (statements, indexes)
}

fn table<E: EntityTrait>(backend: DbBackend, entity: E) -> TableCreateStatement {
    Schema::new(backend).create_table_from_entity(entity).if_not_exists().to_owned()
}

/// What the crate's hook table needs beyond its `CREATE TABLE`, run after it exists; harmless to
/// repeat. MySQL: owners compare byte for byte (its default collation would take `Alice` for
/// `alice`, and one owner's hooks for another's).
pub(crate) fn hook_dialect_statements(backend: DbBackend) -> Vec<&'static str> {
    match backend {
        DbBackend::MySql => {
            vec!["ALTER TABLE rest_hooks_hook MODIFY owner VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL"]
        }
        _ => Vec::new(),
    }
}

/// What each backend needs beyond the tables, run after they exist; harmless to repeat. MySQL: the
/// payload columns widened to `LONGTEXT` (its `TEXT` stops at 64 KiB). PostgreSQL: a statement
/// trigger that notifies channel `rest_hooks` when events are recorded — delivered at commit, once
/// per transaction, with no extra round trip on the save path.
pub(crate) fn dialect_statements(backend: DbBackend) -> Vec<&'static str> {
    match backend {
        DbBackend::MySql => vec![
            "ALTER TABLE rest_hooks_outbox MODIFY payload LONGTEXT NOT NULL",
            "ALTER TABLE rest_hooks_delivery MODIFY body LONGTEXT NOT NULL",
        ],
        DbBackend::Postgres => vec![
            "CREATE OR REPLACE FUNCTION rest_hooks_notify() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN PERFORM pg_notify('rest_hooks', ''); RETURN NULL; END $$",
            "DROP TRIGGER IF EXISTS rest_hooks_outbox_notify ON rest_hooks_outbox",
            "CREATE TRIGGER rest_hooks_outbox_notify AFTER INSERT ON rest_hooks_outbox \
             FOR EACH STATEMENT EXECUTE FUNCTION rest_hooks_notify()",
        ],
        _ => Vec::new(),
    }
}

/// Creates the crate's hook table and its index, if missing.
pub(crate) async fn create_hook_table<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let (tables, indexes) = create_statements(backend);
    // The hook table comes first in `create_statements`, with the first index on other backends.
    db.execute(&tables[0]).await?;
    if backend != DbBackend::MySql {
        db.execute(&indexes[0]).await?;
    }
    for statement in hook_dialect_statements(backend) {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}

/// Creates the outbox, delivery, attempt and hook-state tables with their indexes and each
/// backend's extra statements, if missing.
pub(crate) async fn create_store_tables<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let (tables, indexes) = store_statements(backend);
    for statement in &tables {
        db.execute(statement).await?;
    }
    for statement in &indexes {
        db.execute(statement).await?;
    }
    for statement in dialect_statements(backend) {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}

/// Creates every table the engine needs, the default hook table included, or brings them up to
/// date: it applies the [schema steps](crate::store#upgrades) the database lacks, in order, and
/// records them. Harmless to run again, and on every start; pending events and deliveries are
/// kept.
///
/// ```
/// # async fn example() -> Result<(), sea_orm::DbErr> {
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// rest_hooks::store::setup(&db).await?;
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(example()).unwrap();
/// ```
pub async fn setup<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    steps::apply(db, true, steps::latest().number).await
}

/// Creates the engine's own tables only (outbox, deliveries, attempts, hook states), for
/// applications with their own hook entity, or brings them up to date as [`setup`] does.
pub async fn setup_store<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    steps::apply(db, false, steps::latest().number).await
}
