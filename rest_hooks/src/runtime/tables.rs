//! Whether the engine can read its tables, asked through the engine's own connection: once by
//! [`Engine::check_tables`](crate::Engine::check_tables), and before the first dispatch pass of
//! every engine, so that an engine whose connection finds no tables (a missing migration, a
//! connection that looks in another schema) says so in its log instead of doing nothing.

use sea_orm::{DatabaseConnection, EntityTrait, QuerySelect};

use crate::foundation::error::BuildError;
use crate::foundation::hook;
use crate::foundation::store::steps::Step;
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
    let found = steps::version(db).await.map_err(|error| BuildError::MissingTable {
        table: "rest_hooks_schema".to_owned(),
        cause: error.to_string(),
    })?;
    compare(found, steps::latest(), steps::release_of)
}

/// Whether a store at step `found` (none: no store, which the table reads report) suits code whose
/// last step is `latest`; `release_of` names the release of a step.
fn compare(found: Option<i32>, latest: Step, release_of: fn(i32) -> Option<&'static str>) -> Result<(), BuildError> {
    match found {
        Some(found) if found < latest.number => Err(BuildError::StoreOutdated {
            found,
            found_release: release_of(found).unwrap_or("unknown"),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A later release's code, whose last step is 3 (from release 0.3.0).
    const LATER: Step = Step { number: 3, release: "0.3.0" };

    fn release(step: i32) -> Option<&'static str> {
        [(1, "0.1.0"), (2, "0.2.0"), (3, "0.3.0")].iter().find(|(n, _)| *n == step).map(|(_, r)| *r)
    }

    #[test]
    fn a_store_older_than_the_code_is_refused_naming_the_upgrade() {
        let refused = compare(Some(1), LATER, release).unwrap_err();
        assert!(matches!(refused, BuildError::StoreOutdated { found: 1, needed: 3, .. }), "{refused}");
        let message = refused.to_string();
        assert!(message.contains("schema step 1 (rest_hooks 0.1.0)"), "{message}");
        assert!(message.contains("step 3 (rest_hooks 0.3.0)"), "{message}");
        assert!(
            message.contains("rest_hooks::store::setup(&db)") && message.contains("Migration::steps()"),
            "{message}"
        );
        assert!(message.contains("pending events are kept"), "{message}");
    }

    #[test]
    fn a_store_at_the_codes_step_or_none_yet_passes_and_a_newer_one_is_refused() {
        assert!(compare(Some(3), LATER, release).is_ok());
        assert!(compare(None, LATER, release).is_ok(), "no store: the table reads name what is missing");
        assert!(matches!(compare(Some(4), LATER, release), Err(BuildError::StoreNewer { found: 4, known: 3, .. })));
    }
}
