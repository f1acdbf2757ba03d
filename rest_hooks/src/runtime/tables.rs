//! Whether the engine can read its tables, asked through the engine's own connection: once by
//! [`Engine::check_tables`](crate::Engine::check_tables), and before the first dispatch pass of
//! every engine, so that an engine whose connection finds no tables (a missing migration, a
//! connection that looks in another schema) says so in its log instead of doing nothing.

use sea_orm::{DatabaseConnection, EntityTrait, QuerySelect};

use crate::foundation::error::BuildError;
use crate::foundation::hook;
use crate::foundation::store::{attempt, delivery, hook_state, outbox};

/// Checks that the outbox, delivery, attempt and hook-state tables can be read through `db`, and
/// the crate's hook table when `crate_hooks`; the first one that cannot is
/// [`BuildError::MissingTable`], which names the calls that create them.
pub(crate) async fn readable(db: &DatabaseConnection, crate_hooks: bool) -> Result<(), BuildError> {
    read::<outbox::Entity>(db).await?;
    read::<delivery::Entity>(db).await?;
    read::<attempt::Entity>(db).await?;
    read::<hook_state::Entity>(db).await?;
    if crate_hooks {
        read::<hook::Entity>(db).await?;
    }
    Ok(())
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
