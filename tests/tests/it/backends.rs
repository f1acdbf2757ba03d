//! The whole suite again on PostgreSQL and on MySQL / MariaDB, when their servers are given:
//! `REST_HOOKS_POSTGRES_URL` and `REST_HOOKS_MYSQL_URL` name a server on which the tests may create
//! databases (`.ci/run` sets both); without them these two tests are reported as ignored, saying
//! which variable to set. Each run is this test binary started again with the backend in
//! its environment; every test then creates a database of its own there.

use std::process::Command;

use rest_hooks_tests::{BACKEND_VAR, DATABASE_PREFIX, SERVER_URL_VAR};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

#[test]
#[cfg_attr(not(rest_hooks_postgres), ignore = "set REST_HOOKS_POSTGRES_URL to run the suite on PostgreSQL")]
fn the_suite_on_postgres() {
    run_suite("postgres", "REST_HOOKS_POSTGRES_URL");
}

#[test]
#[cfg_attr(not(rest_hooks_mysql), ignore = "set REST_HOOKS_MYSQL_URL to run the suite on MySQL / MariaDB")]
fn the_suite_on_mysql() {
    run_suite("mysql", "REST_HOOKS_MYSQL_URL");
}

fn run_suite(backend: &str, url_var: &str) {
    if std::env::var(BACKEND_VAR).is_ok() {
        return; // this is already a child run
    }
    let server = std::env::var(url_var).unwrap_or_else(|_| panic!("{url_var} names no server"));
    drop_test_databases(&server);
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--skip", "backends::", "--skip", "derive_ui::"])
        .env(BACKEND_VAR, backend)
        .env(SERVER_URL_VAR, &server)
        .output()
        .unwrap();
    drop_test_databases(&server);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout.lines().filter(|l| l.starts_with("test result:")).collect::<Vec<_>>().join("; ");
    println!("{backend}: {summary}");
    assert!(
        output.status.success(),
        "the suite failed on {backend}:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Drops the databases earlier runs left on `server`.
fn drop_test_databases(server: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let db = Database::connect(server).await.unwrap_or_else(|e| panic!("connect to {server}: {e}"));
        let backend = db.get_database_backend();
        let list = match backend {
            DbBackend::Postgres => "SELECT datname AS name FROM pg_database WHERE datname LIKE 'rh\\_test\\_%'",
            _ => "SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name LIKE 'rh\\_test\\_%'",
        };
        let rows = db.query_all_raw(Statement::from_string(backend, list)).await.unwrap();
        for row in rows {
            let name: String = row.try_get("", "name").unwrap();
            assert!(name.starts_with(DATABASE_PREFIX));
            let drop = match backend {
                DbBackend::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                _ => format!("DROP DATABASE IF EXISTS {name}"),
            };
            db.execute_unprepared(&drop).await.unwrap();
        }
    });
}
