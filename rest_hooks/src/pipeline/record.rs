//! Recording events: one outbox row through the caller's connection, then a nudge.
//!
//! Everything here runs on the save path, so it does the least it can: a hash lookup decides
//! whether the action maps to an event at all; a mapped one costs one INSERT through the `db` the
//! caller saved with (its transaction, when there is one) and a signal to the registry actor,
//! which never blocks and never fails the save. The functions a save calls, and the engine's
//! methods that fire events, are the engine's (`engine::record`).

use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};
use serde_json::Value;

use crate::foundation::changes::{Changes, stored_payload};
use crate::foundation::error::RecordError;
use crate::foundation::event_map::Mapping;
use crate::foundation::hookable::{Audience, Hookable};
use crate::foundation::store::outbox::{self, Format};
use crate::foundation::store::shapes::runs;
use crate::foundation::store::{PAYLOAD_VERSION, now_ms};
use crate::runtime::shared::Shared;
use crate::runtime::signals::Nudge;

/// Builds the outbox row of a model event: its `data` read through `db` (the save's connection),
/// or `body`, sent as the whole body, when one is given; with an update's `changes` beside the data.
pub(crate) async fn model_row<M: Hookable, C: ConnectionTrait>(
    db: &C,
    model: &M,
    action: &str,
    mapping: &Mapping,
    audience: Option<Audience>,
    body: Option<&Value>,
    changes: Option<&Changes>,
) -> Result<outbox::ActiveModel, RecordError> {
    let audience = match audience {
        _ if mapping.all_owners => Audience::All,
        Some(audience) => audience,
        None if !M::OWNED => Audience::All,
        None => model.hook_owner(db).await?.map_or(Audience::Unowned, Audience::Owner),
    };
    let source = Some((M::MODEL, action));
    let mut row = match (body, changes) {
        (Some(body), _) => row(&mapping.event, source, audience, Format::Override, body)?,
        (None, changes) => {
            let format = if M::CUSTOM_SERIALIZER { Format::Entity } else { Format::Default };
            let data = model.hook_data_with_db(db).await?;
            match changes {
                Some(changes) => {
                    row(&mapping.event, source, audience, format.with_changes(), &stored_payload(data, changes))?
                }
                None => row(&mapping.event, source, audience, format, &data)?,
            }
        }
    };
    let key = model.__key();
    row.object = Set((!key.is_empty()).then(|| object_key(M::MODEL, &key)));
    Ok(row)
}

/// The key of one instance: its model label and primary key, hashed to a fixed length.
fn object_key(model: &str, key: &str) -> String {
    let text = format!("{model}\u{0}{key}");
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest.as_ref()[..16].iter().map(|byte| format!("{byte:02x}")).collect()
}

pub(crate) fn row(
    event: &str,
    source: Option<(&str, &str)>,
    audience: Audience,
    format: Format,
    payload: &Value,
) -> Result<outbox::ActiveModel, RecordError> {
    let payload =
        serde_json::to_string(payload).map_err(|source| RecordError::Payload { event: event.to_owned(), source })?;
    let (owner, all_owners) = match audience {
        Audience::Owner(owner) => (Some(owner.as_str().to_owned()), false),
        Audience::Unowned => (None, false),
        Audience::All => (None, true),
    };
    Ok(outbox::ActiveModel {
        event: Set(event.to_owned()),
        model: Set(source.map(|(model, _)| model.to_owned())),
        action: Set(source.map(|(_, action)| action.to_owned())),
        owner: Set(owner),
        all_owners: Set(all_owners),
        format: Set(format.as_str().to_owned()),
        payload: Set(payload),
        version: Set(PAYLOAD_VERSION),
        state: Set(outbox::state::PENDING),
        error: Set(None),
        created_at: Set(now_ms()),
        dispatched_at: Set(None),
        object: Set(None),
        ..Default::default()
    })
}

/// Writes outbox rows through `db` and nudges the dispatcher.
pub(crate) async fn write<C: ConnectionTrait>(
    shared: &Shared,
    db: &C,
    mut rows: Vec<outbox::ActiveModel>,
) -> Result<usize, RecordError> {
    let count = rows.len();
    let max = shared.config.max_payload;
    for row in &rows {
        if let (Set(payload), Set(event)) = (&row.payload, &row.event)
            && payload.len() > max
        {
            return Err(RecordError::PayloadTooLarge { event: event.clone(), size: payload.len(), max });
        }
    }
    let event = match rows.last().map(|row| &row.event) {
        Some(Set(event)) => event.clone(),
        _ => String::new(),
    };
    let written = match rows.pop() {
        None => return Ok(0),
        // The save path: one row, inserted without copying it.
        Some(row) if rows.is_empty() => outbox::Entity::insert(row).exec_without_returning(db).await.map(drop),
        Some(row) => {
            rows.push(row);
            insert_runs(db, &rows).await
        }
    };
    written.map_err(|error| match missing_outbox(&error) {
        true => RecordError::NoOutbox { event, cause: error.to_string() },
        false => RecordError::Db(error),
    })?;
    nudge(shared);
    Ok(count)
}

/// Inserts `rows` in runs of few lengths, for the application's statement cache (see
/// [`runs`]).
async fn insert_runs<C: ConnectionTrait>(db: &C, rows: &[outbox::ActiveModel]) -> Result<(), DbErr> {
    for run in runs(rows) {
        outbox::Entity::insert_many(run.to_vec()).exec_without_returning(db).await?;
    }
    Ok(())
}

/// Whether `error` says that the outbox table does not exist, in the words of SQLite (`no such
/// table`), PostgreSQL (`relation … does not exist`) or MySQL and MariaDB (`Table … doesn't exist`).
fn missing_outbox(error: &DbErr) -> bool {
    let message = error.to_string();
    message.contains("rest_hooks_outbox")
        && ["no such table", "does not exist", "doesn't exist"].iter().any(|words| message.contains(words))
}

/// Asks the dispatcher to look: the rows commit with the caller, maybe only later.
fn nudge(shared: &Shared) {
    if let Some(signals) = shared.signals() {
        signals.nudge.do_send(Nudge);
    }
}
