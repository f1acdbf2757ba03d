//! The store's schema, step by step: every change of the engine's tables is one numbered step, and a
//! database records in `rest_hooks_schema` the steps it has. [`setup`](crate::store::setup),
//! [`setup_store`](crate::store::setup_store) and the `sea-orm-migration` migrations apply the steps a
//! database lacks, in order, and an engine refuses to start on a store older or newer than its code.
//!
//! Step 1 is the schema of release 0.1.0. A store made by 0.1.0, before the steps were recorded, has
//! the tables and no `rest_hooks_schema`: it counts as step 1. Step 1 creates missing tables at
//! their latest shape, so a later step that adds a column adds it only where it is missing.
//!
//! Step 2 (0.2.0) adds `rest_hooks_outbox.lease_until`: an event is held by the process sending
//! its first attempts, which get their delivery rows with their outcome.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QuerySelect, Schema, Set};

use crate::foundation::store::schema;

/// One change of the engine's tables.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Step {
    /// Its number, from 1, in the order steps are applied.
    pub(crate) number: i32,
    /// The release that introduced it.
    pub(crate) release: &'static str,
}

/// Every step, in order. A change of the tables adds one here, with its statements in [`apply_step`],
/// and a migration in [`migration`](crate::migration).
pub(crate) const STEPS: &[Step] = &[Step { number: 1, release: "0.1.0" }, Step { number: 2, release: "0.2.0" }];

/// The step the code needs: the last one.
pub(crate) fn latest() -> Step {
    STEPS[STEPS.len() - 1]
}

/// The release that introduced step `number`, when this code knows it.
pub(crate) fn release_of(number: i32) -> Option<&'static str> {
    STEPS.iter().find(|step| step.number == number).map(|step| step.release)
}

/// The record of applied steps: one row per step. Private to the crate; the entity derive makes its
/// items `pub`.
#[allow(unreachable_pub)]
pub(crate) mod applied {
    use sea_orm::entity::prelude::*;

    /// A step applied to this database.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "rest_hooks_schema")]
    pub struct Model {
        /// The step's number.
        #[sea_orm(primary_key, auto_increment = false)]
        pub step: i32,
        /// The release that introduced it.
        #[sea_orm(column_type = "String(StringLen::N(32))")]
        pub introduced_in: String,
        /// When it was applied (Unix ms).
        pub applied_at: i64,
    }

    /// This table has no relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Applies to `db` the steps up to `up_to` that it lacks, in order, each recorded once done; with
/// the crate's hook table when `hooks`. Every step is written to be run again harmlessly, so two
/// processes that set up one database at once both succeed.
pub(crate) async fn apply<C: ConnectionTrait>(db: &C, hooks: bool, up_to: i32) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    db.execute(&Schema::new(backend).create_table_from_entity(applied::Entity).if_not_exists().to_owned()).await?;
    let done: Vec<i32> =
        applied::Entity::find().select_only().column(applied::Column::Step).into_tuple().all(db).await?;
    for step in STEPS.iter().filter(|step| step.number <= up_to) {
        if done.contains(&step.number) {
            continue;
        }
        apply_step(db, step.number, hooks).await?;
        let record = applied::ActiveModel {
            step: Set(step.number),
            introduced_in: Set(step.release.to_owned()),
            applied_at: Set(crate::foundation::store::now_ms()),
        };
        applied::Entity::insert(record)
            // Another process recorded it meanwhile: keep its row (MySQL has no `DO NOTHING`).
            .on_conflict(OnConflict::column(applied::Column::Step).update_column(applied::Column::Step).to_owned())
            .exec_without_returning(db)
            .await?;
    }
    // The crate's hook table may be wanted later than the store (an application that moves from
    // its own hook entity to the crate's): it is made at its latest shape when missing.
    if hooks {
        schema::create_hook_table(db).await?;
    }
    Ok(())
}

/// The statements of step `number`.
async fn apply_step<C: ConnectionTrait>(db: &C, number: i32, hooks: bool) -> Result<(), DbErr> {
    match number {
        // The schema of 0.1.0: the outbox, delivery, attempt and hook-state tables, their indexes,
        // and on PostgreSQL the notify trigger.
        1 => {
            if hooks {
                schema::create_hook_table(db).await?;
            }
            schema::create_store_tables(db).await
        }
        // The outbox's lease: the event held while its first attempts are under way.
        2 => add_column_if_missing(db, "rest_hooks_outbox", "lease_until", "BIGINT NULL").await,
        other => Err(DbErr::Custom(format!("rest_hooks knows no schema step {other}"))),
    }
}

/// Adds column `column` of `definition` to `table` unless it has it (step 1 makes missing tables
/// at their latest shape). Asks the database's catalogue, not the table, so that nothing fails
/// inside a migration's transaction.
async fn add_column_if_missing<C: ConnectionTrait>(
    db: &C,
    table: &str,
    column: &str,
    definition: &str,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let add = format!("ALTER TABLE {table} ADD COLUMN {column} {definition}");
    let count = match backend {
        // PostgreSQL says it in the statement, and finds the table on the connection's search path.
        sea_orm::DbBackend::Postgres => {
            return db
                .execute_unprepared(&format!("ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {definition}"))
                .await
                .map(drop);
        }
        sea_orm::DbBackend::MySql => format!(
            "SELECT COUNT(*) AS n FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = '{table}' AND column_name = '{column}'"
        ),
        _ => format!("SELECT COUNT(*) AS n FROM pragma_table_info('{table}') WHERE name = '{column}'"),
    };
    let found = db.query_one_raw(sea_orm::Statement::from_string(backend, count)).await?;
    let found: i64 = match found {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    if found == 0 {
        db.execute_unprepared(&add).await?;
    }
    Ok(())
}

/// The last step applied to `db`: `None` when it has no store at all. A store made by 0.1.0 (its
/// outbox there, no record of steps) is at step 1.
pub(crate) async fn version<C: ConnectionTrait>(db: &C) -> Result<Option<i32>, DbErr> {
    let last = applied::Entity::find()
        .select_only()
        .column_as(applied::Column::Step.max(), "step")
        .into_tuple::<Option<i32>>()
        .one(db)
        .await;
    match last {
        Ok(step) => Ok(step.flatten()),
        Err(_) => {
            let outbox = crate::foundation::store::outbox::Entity::find().select_only();
            let outbox = outbox.column(crate::foundation::store::outbox::Column::Id).limit(1);
            Ok(outbox.into_tuple::<i64>().all(db).await.ok().map(|_| 1))
        }
    }
}

/// Drops the record of applied steps (the migrations' `down`).
#[cfg(feature = "migration")]
pub(crate) async fn drop_record<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let statement = sea_orm::sea_query::Table::drop().table(applied::Entity.table_ref()).if_exists().to_owned();
    db.execute(&statement).await.map(|_| ())
}

/// Forgets that step `number` was applied (a migration's `down` that leaves its change in place).
#[cfg(feature = "migration")]
pub(crate) async fn forget<C: ConnectionTrait>(db: &C, number: i32) -> Result<(), DbErr> {
    applied::Entity::delete_many().filter(applied::Column::Step.eq(number)).exec(db).await.map(drop)
}
