//! An issue tracker's own hook table: each hook belongs to an organisation, and is either for one
//! of its projects or for all of them, and may ask for one label only. The organisations manage
//! their hooks through the subscription API (`HooksApi`), which carries the table's own columns
//! (`project_id`, `label`) and checks them with the application's rule: a project must be the
//! caller's. The engine narrows each ticket's hooks by the ticket itself: in SQL to the hooks of its
//! project and those for all projects (`HookEntity::scope_event`), and in Rust to those whose label,
//! if any, is the ticket's (`HookEntity::keep`). Every delivery is signed with its hook's own
//! secret, which the receiver checks.
//!
//! Run it with `cargo run --example custom_hook`.

use std::error::Error;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use rest_hooks::api::{HooksApi, Refusal};
use rest_hooks::signing::{Secret, Verifier};
use rest_hooks::{Engine, Owner};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Database, Schema, Set};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Projects of an organisation.
mod project {
    use sea_orm::entity::prelude::*;

    /// A project.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "project")]
    pub struct Model {
        /// The project's id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The organisation it belongs to.
        pub organization_id: i64,
        /// Its name.
        pub name: String,
    }

    /// Projects have no relations here.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Tickets: opening one records `ticket.opened` for its organisation.
mod ticket {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    /// A ticket of a project.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "ticket")]
    #[hookable(model = "tracker.Ticket", owner = "organization_id")]
    pub struct Model {
        /// The ticket's id.
        #[sea_orm(primary_key)]
        pub id: i32,
        /// The organisation whose ticket it is.
        pub organization_id: i64,
        /// Its project.
        pub project_id: i64,
        /// Its title.
        pub title: String,
        /// Its label, if it has one.
        pub label: Option<String>,
    }

    /// Tickets have no relations here.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

/// The application's hook table.
mod webhook {
    use rest_hooks::hook::{FieldError, SecretColumns};
    use rest_hooks::{Event, HookEntity, HookTarget, Owner};
    use sea_orm::entity::prelude::*;
    use sea_orm::{Condition, Select, Set};
    use serde_json::{Map, Value};

    /// A hook of an organisation.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook")]
    pub struct Model {
        /// The hook's id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The organisation it belongs to.
        pub organization_id: i64,
        /// One project's tickets, or none for every project's.
        pub project_id: Option<i64>,
        /// Only tickets with this label, or none for any.
        pub label: Option<String>,
        /// The event it subscribes to.
        pub event: String,
        /// Where the event is sent.
        pub target: String,
        /// Switched-off hooks receive nothing.
        pub is_active: bool,
        /// The secret that signs its deliveries.
        pub secret: Option<String>,
        /// The secret before the last rotation.
        pub previous_secret: Option<String>,
        /// Until when the previous secret signs.
        pub previous_secret_until: Option<DateTimeUtc>,
    }

    /// Webhooks have no relations here.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl HookEntity for Entity {
        fn event_column() -> Column {
            Column::Event
        }

        fn owner_column() -> Column {
            Column::OrganizationId
        }

        fn target_column() -> Option<Column> {
            Some(Column::Target)
        }

        fn secret_columns() -> Option<SecretColumns<Column>> {
            Some(SecretColumns::new(Column::Secret).with_previous(Column::PreviousSecret, Column::PreviousSecretUntil))
        }

        fn to_target(hook: Model) -> HookTarget {
            HookTarget::new(hook.id, hook.event, hook.target).with_owner(Some(hook.organization_id.into()))
        }

        fn scope(query: Select<Entity>) -> Select<Entity> {
            query.filter(Column::IsActive.eq(true))
        }

        // A ticket's event reaches its project's hooks and those for every project.
        fn scope_event(query: Select<Entity>, event: &Event) -> Select<Entity> {
            let project = event.field("project_id").and_then(Value::as_i64);
            query.filter(Condition::any().add(Column::ProjectId.is_null()).add(Column::ProjectId.eq(project)))
        }

        // … and of those, the ones that ask for no label or for the ticket's.
        fn keep() -> Option<fn(&Model, &Event) -> bool> {
            Some(|hook, event| {
                let label = event.field("label").and_then(Value::as_str);
                hook.label.is_none() || hook.label.as_deref() == label
            })
        }

        // The subscription API carries these two columns…
        fn api_columns() -> Vec<Column> {
            vec![Column::ProjectId, Column::Label]
        }

        // … and a project must be the caller's.
        async fn check_api_fields(
            db: &DatabaseConnection,
            fields: &Map<String, Value>,
            owner: &Owner,
        ) -> Result<Result<(), FieldError>, DbErr> {
            let Some(id) = fields.get("project_id").and_then(Value::as_i64) else { return Ok(Ok(())) };
            let project = super::project::Entity::find_by_id(id).one(db).await?;
            Ok(match project {
                Some(project) if project.organization_id.to_string() == owner.as_str() => Ok(()),
                _ => Err(FieldError::new("project_id", format!("your organisation has no project {id}"))),
            })
        }

        fn fill_new(hook: &mut ActiveModel, _owner: Option<&Owner>) {
            hook.is_active = Set(true);
        }
    }
}

/// What the receiver got: the path's last segment, the headers, the raw body.
type Delivery = (String, HeaderMap, String);

/// Who calls the subscription API: a toy token per organisation.
fn organisation(request: &axum::http::request::Parts) -> Result<Owner, Refusal> {
    match request.headers.get("authorization").and_then(|value| value.to_str().ok()) {
        Some("Bearer acme-token") => Ok(Owner::from(1)),
        Some("Bearer globex-token") => Ok(Owner::from(2)),
        _ => Err(Refusal::unauthorized("send `Authorization: Bearer <token>`").challenge("Bearer")),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let db = Database::connect(format!("sqlite://{}?mode=rwc", dir.path().join("tracker.db").display())).await?;
    // The engine's own tables, without the crate's hook table: this application has its own.
    rest_hooks::store::setup_store(&db).await?;
    let schema = Schema::new(db.get_database_backend());
    db.execute(&schema.create_table_from_entity(project::Entity)).await?;
    db.execute(&schema.create_table_from_entity(ticket::Entity)).await?;
    db.execute(&schema.create_table_from_entity(webhook::Entity)).await?;
    for (id, organization_id, name) in [(1, 1, "backend"), (2, 1, "frontend"), (3, 2, "globex-site")] {
        project::ActiveModel { id: Set(id), organization_id: Set(organization_id), name: Set(name.to_owned()) }
            .insert(&db)
            .await?;
    }

    let engine = Engine::builder()
        .event("ticket.opened", "tracker.Ticket.created")
        .hook_entity::<webhook::Entity>()
        // The receiver below runs on this machine: let the SSRF guard through to it.
        .allow_targets(["127.0.0.1/32"])
        .start(db.clone())?;

    // A receiver that reports which path each delivery reached, with its headers and raw body; the
    // organisations' subscription API beside it.
    let (tx, mut deliveries) = mpsc::unbounded_channel::<Delivery>();
    let app = Router::new()
        .route(
            "/{name}",
            post(
                |State(tx): State<mpsc::UnboundedSender<Delivery>>,
                 Path(name): Path<String>,
                 headers: HeaderMap,
                 body: String| async move {
                    let _ = tx.send((name, headers, body));
                },
            ),
        )
        .with_state(tx)
        .merge(HooksApi::new(engine.clone(), organisation)?.mount("/api/hooks"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    // The organisations subscribe through the API, with the table's own fields.
    let client = reqwest::Client::new();
    let subscribe = |token: &'static str, body: Value| {
        let request = client
            .post(format!("{base}/api/hooks"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(body.to_string());
        async move {
            let answer = request.send().await?;
            let status = answer.status();
            let body: Value = serde_json::from_str(&answer.text().await?)?;
            Ok::<_, Box<dyn Error>>((status, body))
        }
    };
    let mut secrets = Vec::new();
    for (token, name, fields) in [
        ("acme-token", "all-projects", json!({})),
        ("acme-token", "backend", json!({"project_id": 1})),
        ("acme-token", "frontend", json!({"project_id": 2})),
        ("acme-token", "bugs", json!({"label": "bug"})),
        ("globex-token", "globex", json!({})),
    ] {
        let mut body = json!({"event": "ticket.opened", "target": format!("{base}/{name}")});
        body.as_object_mut().ok_or("an object")?.extend(fields.as_object().cloned().unwrap_or_default());
        let (status, hook) = subscribe(token, body).await?;
        println!("{token}: POST {name}: {status}, project_id {}, label {}", hook["project_id"], hook["label"]);
        let secret = hook["secret"].as_str().ok_or("the API shows the new hook's secret")?;
        secrets.push((name, Secret::parse(secret)?));
    }
    // Another organisation's project is refused, naming the field.
    let body = json!({"event": "ticket.opened", "target": format!("{base}/sneaky"), "project_id": 3});
    let (status, refusal) = subscribe("acme-token", body).await?;
    println!("acme-token: POST with project_id 3: {status}, {refusal}");

    // Two tickets of organisation 1: each reaches only the hooks it is for.
    let tickets = [(1, "Slow query", Some("performance")), (2, "Button does nothing", Some("bug"))];
    for (project_id, title, label) in tickets {
        ticket::ActiveModel {
            organization_id: Set(1),
            project_id: Set(project_id),
            title: Set(title.to_owned()),
            label: Set(label.map(str::to_owned)),
            ..Default::default()
        }
        .insert(&db)
        .await?;
        // How many hooks each ticket reaches, as the rule above says: every project's, its own
        // project's, and for the bug the hook that asks for bugs.
        let expected = if label == Some("bug") { 3 } else { 2 };
        let mut reached = Vec::new();
        for _ in 0..expected {
            let (name, headers, body) =
                tokio::time::timeout(Duration::from_secs(10), deliveries.recv()).await?.ok_or("receiver stopped")?;
            let (_, secret) = secrets.iter().find(|(hook, _)| *hook == name).ok_or("a delivery to no hook")?;
            Verifier::try_from(secret)?.verify(&headers, body.as_bytes())?;
            let body: Value = serde_json::from_str(&body)?;
            if body["data"]["fields"]["title"] != title {
                return Err(format!("`{name}` received another ticket than `{title}`").into());
            }
            reached.push(name);
        }
        reached.sort();
        let label = label.unwrap_or("none");
        println!("ticket `{title}` (project {project_id}, label {label}) reached, signed: {}", reached.join(", "));
    }
    // Nothing else arrives: not the other project's hook, not the other organisation's.
    if let Ok(Some((name, _, _))) = tokio::time::timeout(Duration::from_millis(300), deliveries.recv()).await {
        return Err(format!("`{name}` received a delivery it should not have").into());
    }

    engine.shutdown().await;
    Ok(())
}
