//! Marks the PostgreSQL and MySQL runs of the suite, and the browser test of the owner portal, as
//! ignored, with the reason in the test output, when their servers or the browser driver are not
//! named in the environment.

fn main() {
    for (var, cfg) in [
        ("REST_HOOKS_POSTGRES_URL", "rest_hooks_postgres"),
        ("REST_HOOKS_MYSQL_URL", "rest_hooks_mysql"),
        ("REST_HOOKS_CHROMEDRIVER", "rest_hooks_chromedriver"),
    ] {
        println!("cargo::rerun-if-env-changed={var}");
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if std::env::var_os(var).is_some_and(|value| !value.is_empty()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
