//! A delivery-only worker: it records nothing itself; it claims the events that the application's
//! processes record in the same database and delivers them. Several workers can share one
//! PostgreSQL or MySQL database (each claims its rows with `FOR UPDATE SKIP LOCKED`); on SQLite run
//! one. Application processes that leave delivery to workers start their engine with
//! `.deliver(false)`.
//!
//! ```text
//! cargo run --example worker -- postgres://user@host/app    # or mysql://…, sqlite://app.db
//! ```
//!
//! The URL can also come from `DATABASE_URL`. Ctrl-C stops the worker; what it had claimed and not
//! finished is taken over when its lease runs out. A worker of an application with its own hook
//! table names it with `.hook_entity::<…>()` as the application does.

use std::error::Error;

use rest_hooks::Engine;
use sea_orm::Database;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .ok_or("usage: worker DATABASE_URL (or set DATABASE_URL)")?;
    let db = Database::connect(&url).await.map_err(|e| format!("cannot connect to the database: {e}"))?;
    // Creates the engine's tables when the application's migrations have not.
    rest_hooks::store::setup(&db).await?;
    let backend = db.get_database_backend();
    let engine = Engine::builder().start(db)?;
    println!("delivering from a {backend:?} database; Ctrl-C stops");
    tokio::signal::ctrl_c().await?;
    engine.shutdown().await;
    println!("stopped");
    Ok(())
}
