//! Checking, once at start, that the engine's tables exist, so that a missing migration is named
//! at start rather than by the first save's raw database error.
//!
//! [`Builder::start`] is synchronous and makes no database call; [`Builder::start_checked`] is
//! `start` followed by [`Engine::check_tables`], for applications that start the engine from async
//! code (most do).

use sea_orm::DatabaseConnection;

use crate::engine::Engine;
use crate::engine::builder::Builder;
use crate::foundation::error::BuildError;

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
    /// Checks that the engine's tables can be read through the engine's own connection: the
    /// outbox, delivery, attempt and hook-state tables, and the crate's hook table when the engine
    /// reads its hooks there (an application's own hook entity is the application's to create).
    /// The first one missing is [`BuildError::MissingTable`], naming `store::setup` and the
    /// migration. A delivering engine also checks before its first dispatch pass, and logs the
    /// same error until the tables can be read.
    pub async fn check_tables(&self) -> Result<(), BuildError> {
        crate::runtime::tables::readable(self.db(), self.shared().config.hooks_elsewhere.is_none()).await
    }
}
