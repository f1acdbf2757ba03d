//! Checking, once at start, that the engine's tables exist, so that a missing migration is named
//! at start rather than by the first save's raw database error.
//!
//! [`Builder::start`] is synchronous and makes no database call; [`Builder::start_checked`] is
//! `start` followed by [`Engine::check_tables`], for applications that start the engine from async
//! code (most do).

use sea_orm::{DatabaseConnection, EntityTrait, QuerySelect};

use crate::engine::Engine;
use crate::engine::builder::Builder;
use crate::foundation::error::BuildError;
use crate::foundation::hook;
use crate::foundation::store::{attempt, delivery, hook_state, outbox};

impl Builder {
    /// [`start`](Self::start)s the engine, then checks that its tables exist
    /// ([`Engine::check_tables`]); if one is missing, the engine is shut down again and the error
    /// names the table and how to create it.
    ///
    /// ```no_run
    /// # async fn run(db: sea_orm::DatabaseConnection) -> Result<(), rest_hooks::BuildError> {
    /// let engine = rest_hooks::Engine::builder()
    ///     .event("book.added", "bookstore.Book.created")
    ///     .start_checked(db)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn start_checked(self, db: DatabaseConnection) -> Result<Engine, BuildError> {
        let engine = self.start(db)?;
        if let Err(missing) = engine.check_tables().await {
            engine.shutdown().await;
            return Err(missing);
        }
        Ok(engine)
    }
}

impl Engine {
    /// Checks that the engine's tables can be read: the outbox, delivery, attempt and hook-state
    /// tables, and the crate's hook table when the engine reads its hooks there (an application's
    /// own hook entity is the application's to create). The first one missing is
    /// [`BuildError::MissingTable`], naming `store::setup` and the migration.
    pub async fn check_tables(&self) -> Result<(), BuildError> {
        let db = self.db();
        readable::<outbox::Entity>(db).await?;
        readable::<delivery::Entity>(db).await?;
        readable::<attempt::Entity>(db).await?;
        readable::<hook_state::Entity>(db).await?;
        if self.shared().config.hooks_elsewhere.is_none() {
            readable::<hook::Entity>(db).await?;
        }
        Ok(())
    }
}

/// Reads at most one row of `E`'s table, which fails when the table or one of its columns is
/// missing.
async fn readable<E: EntityTrait + Default>(db: &DatabaseConnection) -> Result<(), BuildError> {
    match E::find().limit(1).all(db).await {
        Ok(_) => Ok(()),
        Err(error) => {
            Err(BuildError::MissingTable { table: E::default().table_name().to_owned(), cause: error.to_string() })
        }
    }
}
