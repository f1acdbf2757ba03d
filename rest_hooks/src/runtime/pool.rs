//! The engine's own connections.
//!
//! Saves record their events through the application's connection, inside its transaction; the
//! engine's own work (dispatching, claiming, the attempt log, outcomes, leases, retention) runs on
//! a pool of its own, opened from the same connect options as the application's. So the
//! application's pool, however small (SeaORM gives SQLite one connection by default), is never
//! waited for by the engine, and no save queues behind an engine transaction for a connection.
//!
//! On SQLite the engine also makes the database file use write-ahead logging (WAL) when it
//! starts: readers and the single writer then no longer block each other, and a commit costs an
//! append rather than a rewrite of the rollback journal. The mode is kept in the file, so the
//! application's own connections use it too from their next transaction on. The engine's
//! connections wait up to 10 s for SQLite's write lock and commit with
//! `synchronous = NORMAL`, which WAL makes safe against a crash of the process (an OS crash or a
//! power cut may lose the engine's last commits: deliveries are then made again, at least once).
//! An in-memory SQLite database cannot be opened twice, so there the engine shares the
//! application's connection.
//!
//! A pool built from another pool's connect options is not the same pool: what is set on each
//! connection after it opens is not a connect option. SeaORM sets PostgreSQL's `search_path` that
//! way (`ConnectOptions::set_schema_search_path`), and an application's own `after_connect` may set
//! more. So each new connection of the engine's takes on the session settings of one of the
//! application's connections: on PostgreSQL every setting a `SET` changed there, on MySQL and
//! MariaDB the current database, SQL mode and time zone. On SQLite SeaORM sets nothing per
//! connection (its SQLCipher key is a connect option, and so copied).
//!
//! The engine's connections log each statement at `debug` (sqlx logs at `info` by default, and the
//! engine's idle poll would fill an application's log at its usual level); slow statements are
//! still logged as the application's connect options say.
//!
//! [`Builder::engine_connection`](crate::Builder::engine_connection) hands the engine a connection
//! of the application's choosing instead.

#[cfg(any(feature = "postgres", feature = "mysql"))]
use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr};
#[cfg(any(feature = "postgres", feature = "mysql"))]
use tokio::sync::OnceCell;

/// Connections in the engine's pool: one pass, the outcome writer, lease renewals and the
/// subscription API at once.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
const CONNECTIONS: u32 = 4;

/// How long the engine's SQLite connections wait for the write lock before giving up.
#[cfg(feature = "sqlite")]
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A pool of the engine's own beside the application's `db`, or `None` where there can be none
/// (an in-memory SQLite database, a mock or proxy connection): the engine then shares `db`.
pub(crate) fn own_pool(db: &DatabaseConnection) -> Option<DatabaseConnection> {
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    use sea_orm::DatabaseConnectionType as Kind;
    match &db.inner {
        #[cfg(feature = "sqlite")]
        Kind::SqlxSqlitePoolConnection(_) => sqlite(db),
        #[cfg(feature = "postgres")]
        Kind::SqlxPostgresPoolConnection(_) => Some(postgres(db)),
        #[cfg(feature = "mysql")]
        Kind::SqlxMySqlPoolConnection(_) => Some(mysql(db)),
        _ => None,
    }
}

/// `options`, logging each statement at `debug`.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
fn quiet<O: sea_orm::sqlx::ConnectOptions>(options: O) -> O {
    options.log_statements(log::LevelFilter::Debug)
}

/// The engine's PostgreSQL pool: the application's connect options, and on each new connection
/// the session settings the application's own connections carry (see [`session_settings`]).
#[cfg(feature = "postgres")]
fn postgres(db: &DatabaseConnection) -> DatabaseConnection {
    use sea_orm::sqlx::postgres::PgPoolOptions;
    let app = db.get_postgres_connection_pool().clone();
    let options = quiet((*app.connect_options()).clone());
    let settings: Arc<OnceCell<Vec<(String, String)>>> = Arc::default();
    // One more connection: the listener for recorded events keeps one.
    let pool = PgPoolOptions::new()
        .max_connections(CONNECTIONS + 1)
        .after_connect(move |conn, _| {
            let (app, settings) = (app.clone(), Arc::clone(&settings));
            Box::pin(async move {
                let settings = settings.get_or_try_init(|| session_settings(&app)).await?;
                for (name, value) in settings {
                    let set = sea_orm::sqlx::query("SELECT set_config($1, $2, false)").bind(name).bind(value);
                    if let Err(error) = set.execute(&mut *conn).await {
                        tracing::warn!(setting = %name, %value, %error, "cannot give the engine's connection the application's setting");
                    }
                }
                Ok(())
            })
        })
        .connect_lazy_with(options);
    sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(pool)
}

/// The settings a connection of the application's pool carries from `SET` statements run when it
/// was opened: `search_path` when the application connects with SeaORM's
/// `ConnectOptions::set_schema_search_path`, and whatever its own `after_connect` sets (a role, a
/// time zone, a statement timeout). A pool built from the same connect options does not have
/// them, since they are not connect options.
#[cfg(feature = "postgres")]
async fn session_settings(app: &sea_orm::sqlx::PgPool) -> Result<Vec<(String, String)>, sea_orm::sqlx::Error> {
    sea_orm::sqlx::query_as("SELECT name, current_setting(name) FROM pg_settings WHERE source = 'session'")
        .fetch_all(app)
        .await
}

/// The engine's MySQL / MariaDB pool: the application's connect options, and on each new
/// connection the application's current database, SQL mode and time zone, in case the
/// application's own `after_connect` changed them (SeaORM itself sets nothing per connection
/// there).
#[cfg(feature = "mysql")]
fn mysql(db: &DatabaseConnection) -> DatabaseConnection {
    use sea_orm::sqlx::mysql::MySqlPoolOptions;
    type Session = (Option<String>, String, String);
    let app = db.get_mysql_connection_pool().clone();
    let options = quiet((*app.connect_options()).clone());
    let session: Arc<OnceCell<Session>> = Arc::default();
    let pool = MySqlPoolOptions::new()
        .max_connections(CONNECTIONS)
        .after_connect(move |conn, _| {
            let (app, session) = (app.clone(), Arc::clone(&session));
            Box::pin(async move {
                let (database, mode, zone) = session
                    .get_or_try_init(|| {
                        sea_orm::sqlx::query_as::<_, Session>(
                            "SELECT DATABASE(), @@SESSION.sql_mode, @@SESSION.time_zone",
                        )
                        .fetch_one(&app)
                    })
                    .await?;
                let mine: Session =
                    sea_orm::sqlx::query_as("SELECT DATABASE(), @@SESSION.sql_mode, @@SESSION.time_zone")
                        .fetch_one(&mut *conn)
                        .await?;
                if let Some(database) = database.as_ref().filter(|&database| mine.0.as_ref() != Some(database)) {
                    let quoted = format!("USE `{}`", database.replace('`', "``"));
                    sea_orm::sqlx::raw_sql(sea_orm::sqlx::AssertSqlSafe(quoted)).execute(&mut *conn).await?;
                }
                if (&mine.1, &mine.2) != (mode, zone) {
                    let set = sea_orm::sqlx::query("SET SESSION sql_mode = ?, time_zone = ?").bind(mode).bind(zone);
                    set.execute(&mut *conn).await?;
                }
                Ok(())
            })
        })
        .connect_lazy_with(options);
    sea_orm::SqlxMySqlConnector::from_sqlx_mysql_pool(pool)
}

#[cfg(feature = "sqlite")]
fn sqlite(db: &DatabaseConnection) -> Option<DatabaseConnection> {
    use sea_orm::sqlx::sqlite::{SqlitePoolOptions, SqliteSynchronous};
    let options = (*db.get_sqlite_connection_pool().connect_options()).clone();
    let name = options.get_filename().to_string_lossy();
    // `sqlite::memory:` names a private in-memory database per pool; `mode=memory` URIs set a flag
    // that only `Debug` shows.
    if name == ":memory:"
        || name.starts_with("file:sqlx-in-memory-")
        || format!("{options:?}").contains("in_memory: true")
    {
        return None;
    }
    let options = quiet(options.busy_timeout(BUSY_TIMEOUT).synchronous(SqliteSynchronous::Normal));
    let pool = SqlitePoolOptions::new().max_connections(CONNECTIONS).connect_lazy_with(options);
    Some(sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

/// How long a write transaction of the engine's waits between tries for SQLite's write lock.
#[cfg(feature = "sqlite")]
const LOCK_RETRY: Duration = Duration::from_micros(250);

/// A transaction of the engine's that will write: on SQLite it holds the write lock when returned.
///
/// SQLite lets one connection write at a time, and a connection that finds the lock taken waits in
/// SQLite's busy handler, whose sleeps grow (1, 2, 5, 10, 15, 20, 25 … 100 ms) however soon the
/// lock is released. Beside an application that saves one row after another, the engine's
/// transactions then waited 14 ms (p50) and 86 ms (p99) for a lock that is free most of every
/// millisecond. Here the lock is taken before anything is read (with SQLite's handler off: a
/// transaction that read first could not write after another connection's commit), and each try
/// that finds it taken is rolled back and made again a quarter millisecond later, for up to
/// [`BUSY_TIMEOUT`]. On other backends: `db.begin()`.
pub(crate) async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    use sea_orm::TransactionTrait;
    if db.get_database_backend() != DbBackend::Sqlite {
        return db.begin().await;
    }
    #[cfg(feature = "sqlite")]
    {
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            let txn = db.begin().await?;
            // What the connection waits otherwise: the engine's own, or the application's where
            // the engine shares its connection (an in-memory database).
            let waits = txn
                .query_one_raw(sea_orm::Statement::from_string(DbBackend::Sqlite, "PRAGMA busy_timeout"))
                .await?
                .and_then(|row| row.try_get_by_index::<i64>(0).ok())
                .unwrap_or(BUSY_TIMEOUT.as_millis() as i64);
            txn.execute_unprepared("PRAGMA busy_timeout = 0").await?;
            let taken = txn.execute_unprepared("UPDATE rest_hooks_outbox SET state = state WHERE 1 = 0").await;
            let restored = txn.execute_unprepared(&format!("PRAGMA busy_timeout = {waits}")).await;
            match taken {
                Ok(_) => return restored.map(|_| txn),
                Err(error) if is_busy(&error) && std::time::Instant::now() < deadline => {
                    txn.rollback().await?;
                    restored?;
                    wait_for_lock().await;
                }
                Err(error) => return Err(error),
            }
        }
    }
    #[cfg(not(feature = "sqlite"))]
    db.begin().await
}

/// Whether `error` is SQLite's "the write lock is taken".
#[cfg(feature = "sqlite")]
fn is_busy(error: &DbErr) -> bool {
    error.to_string().contains("database is locked")
}

/// Waits [`LOCK_RETRY`] without holding up the runtime: tokio's timers tick in milliseconds, so
/// the wait is a sleep on the blocking pool.
#[cfg(feature = "sqlite")]
async fn wait_for_lock() {
    if tokio::task::spawn_blocking(|| std::thread::sleep(LOCK_RETRY)).await.is_err() {
        tokio::time::sleep(LOCK_RETRY).await;
    }
}

/// Readies the engine's database once, before its first pass: on SQLite, WAL. Switching needs a
/// moment when no other connection is inside a transaction, so it is tried a few times; a
/// database that stays in another mode still works, with saves waiting for the engine's writes.
pub(crate) async fn prepare(db: &DatabaseConnection) {
    if db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    let mut last = String::new();
    for attempt in 0..20u32 {
        match journal_mode(db).await {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return,
            // An in-memory database answers `memory` and cannot use WAL.
            Ok(mode) if mode.eq_ignore_ascii_case("memory") => return,
            Ok(mode) => last = format!("the journal mode stayed `{mode}`"),
            Err(error) => last = error.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt + 1))).await;
    }
    tracing::warn!(problem = %last, "cannot switch the SQLite database to WAL; saves may wait for the engine's writes");
}

async fn journal_mode(db: &DatabaseConnection) -> Result<String, DbErr> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(DbBackend::Sqlite, "PRAGMA journal_mode = WAL"))
        .await?
        .ok_or_else(|| DbErr::Custom("`PRAGMA journal_mode` answered nothing".to_owned()))?;
    row.try_get_by_index::<String>(0)
}
