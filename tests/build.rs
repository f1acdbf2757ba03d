//! Marks the PostgreSQL and MySQL runs of the suite as ignored, with the reason in the test
//! output, when their servers are not named in the environment.

fn main() {
    for (var, cfg) in [("REST_HOOKS_POSTGRES_URL", "rest_hooks_postgres"), ("REST_HOOKS_MYSQL_URL", "rest_hooks_mysql")]
    {
        println!("cargo::rerun-if-env-changed={var}");
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if std::env::var_os(var).is_some_and(|url| !url.is_empty()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
