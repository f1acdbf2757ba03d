//! An application's own hook entity: hooks belong to organisations and can be switched off. The
//! engine reads it through `HookEntity`, so only active hooks of the book's organisation receive
//! the event.
//!
//! Run it with `cargo run --example custom_hook`.

use std::error::Error;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::post;
use rest_hooks::Engine;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Database, Schema, Set};
use serde_json::Value;
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

/// The application's hook table: an organisation owner and an `is_active` switch.
mod webhook {
    use rest_hooks::{HookEntity, HookTarget};
    use sea_orm::Select;
    use sea_orm::entity::prelude::*;

    /// A subscription of an organisation.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook")]
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

        fn to_target(hook: Model) -> HookTarget {
            HookTarget {
                id: hook.id.into(),
                event: hook.event,
                target: hook.target,
                owner: Some(hook.organization_id.into()),
                secrets: Vec::new(),
            }
        }

        fn scope(query: Select<Entity>) -> Select<Entity> {
            query.filter(Column::IsActive.eq(true))
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let db = Database::connect(format!("sqlite://{}?mode=rwc", dir.path().join("catalogue.db").display())).await?;
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

    // A receiver that reports which path each delivery reached.
    let (tx, mut paths) = mpsc::unbounded_channel::<(String, Value)>();
    let app = Router::new()
        .route(
            "/{name}",
            post(
                |State(tx): State<mpsc::UnboundedSender<(String, Value)>>,
                 Path(name): Path<String>,
                 body: axum::Json<Value>| async move {
                    let _ = tx.send((name, body.0));
                },
            ),
        )
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    for (organization_id, is_active, name) in [(1, true, "acme"), (1, false, "acme-old"), (2, true, "globex")] {
        engine.check_event("book.added")?;
        engine.target_policy().check(&format!("{base}/{name}"))?;
        webhook::ActiveModel {
            organization_id: Set(organization_id),
            event: Set("book.added".to_owned()),
            target: Set(format!("{base}/{name}")),
            is_active: Set(is_active),
            ..Default::default()
        }
        .insert(&db)
        .await?;
    }

    book::ActiveModel { organization_id: Set(1), title: Set("Dune".to_owned()), ..Default::default() }
        .insert(&db)
        .await?;

    let (name, body) = tokio::time::timeout(Duration::from_secs(10), paths.recv()).await?.ok_or("receiver stopped")?;
    println!("{name} received {}", serde_json::to_string_pretty(&body)?);
    assert_eq!(name, "acme", "only the active hook of organisation 1 receives it");

    engine.shutdown().await;
    Ok(())
}
