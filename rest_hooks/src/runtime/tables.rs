//! Whether the engine can read its tables, asked through the engine's own connection: once by
//! [`Engine::check_tables`](crate::Engine::check_tables), and before the first dispatch pass of
//! every engine, so that an engine whose connection finds no tables (a missing migration, a
//! connection that looks in another schema) says so in its log instead of doing nothing.

use sea_orm::{DatabaseConnection, EntityTrait, QuerySelect};

use crate::foundation::error::BuildError;
use crate::foundation::hook;
use crate::foundation::store::{attempt, delivery, hook_state, outbox, steps};

/// Checks that the store is at the schema step this code needs ([`BuildError::StoreOutdated`],
/// [`BuildError::StoreNewer`]) and that the outbox, delivery, attempt and hook-state tables can be
/// read through `db`, and the crate's hook table when `crate_hooks`; the first one that cannot is
/// [`BuildError::MissingTable`], which names the calls that create them.
pub(crate) async fn readable(db: &DatabaseConnection, crate_hooks: bool) -> Result<(), BuildError> {
    check_version(db).await?;
    read::<outbox::Entity>(db).await?;
    read::<delivery::Entity>(db).await?;
    read::<attempt::Entity>(db).await?;
    read::<hook_state::Entity>(db).await?;
    if crate_hooks {
        read::<hook::Entity>(db).await?;
    }
    Ok(())
}

/// Checks that the store is at the schema step this code needs, when it has one at all (without,
/// the table reads below name what is missing).
async fn check_version(db: &DatabaseConnection) -> Result<(), BuildError> {
    let latest = steps::latest();
    let found = steps::version(db).await.map_err(|error| BuildError::MissingTable {
        table: "rest_hooks_schema".to_owned(),
        cause: error.to_string(),
    })?;
    match found {
        Some(found) if found < latest.number => Err(BuildError::StoreOutdated {
            found,
            found_release: steps::release_of(found).unwrap_or("unknown"),
            needed: latest.number,
            needed_release: latest.release,
        }),
        Some(found) if found > latest.number => {
            Err(BuildError::StoreNewer { found, known: latest.number, known_release: latest.release })
        }
        _ => Ok(()),
    }
}

/// Reads at most one row of `E`'s table, which fails when the table or one of its columns is
/// missing.
async fn read<E: EntityTrait + Default>(db: &DatabaseConnection) -> Result<(), BuildError> {
    match E::find().limit(1).all(db).await {
        Ok(_) => Ok(()),
        Err(error) => {
            Err(BuildError::MissingTable { table: E::default().table_name().to_owned(), cause: error.to_string() })
        }
    }
}
