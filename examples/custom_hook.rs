//! An application's own hook entity: hooks belong to organisations, can be switched off, carry a
//! version column of the application's, and keep their own signing secrets. The engine creates the
//! hooks in that table (`Engine::hooks`), and so does the subscription API that the application
//! serves to its organisations (`HooksApi`); both fill the application's columns through
//! `HookEntity::fill_new`. A secret is rotated, and the engine reads the table through `HookEntity`:
//! only the active hooks of the book's organisation receive the event, signed with their secrets,
//! which the receiver checks.
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
use sea_orm::ActiveValue::Unchanged;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Database, EntityTrait, Schema, Set};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Books, owned by an organisation.
mod book {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    /// A book in an organisation's catalogue.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "book")]
    #[hookable(model = "catalogue.Book", owner = "organization_id")]
    pub struct Model {
        /// The book's id.
        #[sea_orm(primary_key)]
        pub id: i32,
        /// The organisation whose catalogue it is in.
        pub organization_id: i64,
        /// The title.
        pub title: String,
    }

    /// Books have no relations here.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

/// The application's hook table: an organisation owner, an `is_active` switch, a version column of
/// its own, and each hook's signing secrets.
mod webhook {
    use rest_hooks::hook::SecretColumns;
    use rest_hooks::{HookEntity, HookTarget, Owner};
    use sea_orm::entity::prelude::*;
    use sea_orm::{Select, Set};

    /// A subscription of an organisation.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_subscription")]
    pub struct Model {
        /// The hook's id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The organisation it belongs to.
        pub organization_id: i64,
        /// The event it subscribes to.
        pub event: String,
        /// Where the event is sent.
        pub target: String,
        /// Switched-off hooks receive nothing.
        pub is_active: bool,
        /// The application's own column, filled when a hook is created.
        pub version: i32,
        /// The secret that signs its deliveries, made when the engine creates the hook.
        pub secret: Option<String>,
        /// The secret before the last rotation, still signing until `previous_secret_until`.
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
            // No secrets here: the engine reads them from `secret_columns`.
            HookTarget::new(hook.id, hook.event, hook.target).with_owner(Some(hook.organization_id.into()))
        }

        fn scope(query: Select<Entity>) -> Select<Entity> {
            query.filter(Column::IsActive.eq(true))
        }

        fn fill_new(hook: &mut ActiveModel, _owner: Option<&Owner>) {
            hook.is_active = Set(true);
            hook.version = Set(1);
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
    let db = Database::connect(format!("sqlite://{}?mode=rwc", dir.path().join("catalogue.db").display())).await?;
    // The engine's own tables, without the crate's hook table: this application has its own.
    rest_hooks::store::setup_store(&db).await?;
    let schema = Schema::new(db.get_database_backend());
    db.execute(&schema.create_table_from_entity(book::Entity)).await?;
    db.execute(&schema.create_table_from_entity(webhook::Entity)).await?;

    let engine = Engine::builder()
        .event("book.added", "catalogue.Book.created")
        .hook_entity::<webhook::Entity>()
        // The receiver below runs on this machine: let the SSRF guard through to it.
        .allow_targets(["127.0.0.1/32"])
        .start(db.clone())?;

    // A receiver that reports which path each delivery reached, with its headers and raw body.
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
        // The organisations manage their hooks through the subscription API, in the same table.
        .merge(HooksApi::new(engine.clone(), organisation)?.mount("/api/hooks"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    // The engine writes the application's table: event, target and owner checked, a fresh secret,
    // and the application's own columns filled by `HookEntity::fill_new`.
    let hooks = engine.hooks::<webhook::Entity>();
    let acme = hooks.subscribe(&db, Some(1.into()), "book.added", &format!("{base}/acme")).await?;
    let old = hooks.subscribe(&db, Some(1.into()), "book.added", &format!("{base}/acme-old")).await?;
    hooks.subscribe(&db, Some(2.into()), "book.added", &format!("{base}/globex")).await?;
    println!(
        "hook {} of organisation {}: active {}, version {}",
        acme.id, acme.organization_id, acme.is_active, acme.version
    );
    let answer = reqwest::Client::new()
        .post(format!("{base}/api/hooks"))
        .header("authorization", "Bearer acme-token")
        .header("content-type", "application/json")
        .body(json!({"event": "book.added", "target": format!("{base}/acme-api")}).to_string())
        .send()
        .await?;
    println!("POST /api/hooks as organisation 1: {}", answer.status());
    let created: Value = serde_json::from_str(&answer.text().await?)?;
    let api_secret = Secret::parse(created["secret"].as_str().ok_or("the API shows the new hook's secret")?)?;
    let id = created["id"].as_i64().ok_or("the API shows the hook's id")?;
    let row = webhook::Entity::find_by_id(id).one(&db).await?.ok_or("the API wrote the application's table")?;
    println!(
        "hook {id} made by the API, in webhook_subscription: organisation {}, active {}, version {}",
        row.organization_id, row.is_active, row.version
    );
    // The application switches one of organisation 1's hooks off in its own table.
    webhook::ActiveModel { id: Unchanged(old.id), is_active: Set(false), ..Default::default() }.update(&db).await?;
    // Its owner rotates the secret of the other: the old one signs beside the new for a day.
    let acme = hooks.rotate_secret(&db, acme.id).await?;

    book::ActiveModel { organization_id: Set(1), title: Set("Dune".to_owned()), ..Default::default() }
        .insert(&db)
        .await?;

    // Organisation 1's two active hooks receive it, in either order; the switched-off one and
    // organisation 2's do not.
    let mut received = Vec::new();
    for _ in 0..2 {
        received
            .push(tokio::time::timeout(Duration::from_secs(10), deliveries.recv()).await?.ok_or("receiver stopped")?);
    }
    received.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, headers, body) in &received {
        let secrets = match name.as_str() {
            "acme" => vec![acme.secret.clone(), acme.previous_secret.clone()],
            "acme-api" => vec![Some(api_secret.expose().to_owned())],
            other => return Err(format!("`{other}` received a delivery it should not have").into()),
        };
        for secret in &secrets {
            let secret = Secret::parse(secret.as_deref().ok_or("the hook has its secrets")?)?;
            Verifier::try_from(&secret)?.verify(headers, body.as_bytes())?;
        }
        println!("{name} received a delivery signed with its hook's {} secret(s)", secrets.len());
    }
    let body: Value = serde_json::from_str(&received[0].2)?;
    println!("{}", serde_json::to_string_pretty(&body)?);

    engine.shutdown().await;
    Ok(())
}
