//! The django-rest-hooks story, end to end, on an embedded SQLite database: a receiver on
//! 127.0.0.1 subscribes to book events; "The Two Towers" is created, read, updated and deleted; each
//! body the receiver gets is printed; and a save in a rolled-back transaction sends nothing.
//!
//! Run it with `cargo run --example bookstore`.

use std::error::Error;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use rest_hooks::Engine;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Database, ModelTrait, Schema, Set, TransactionTrait};
use serde_json::Value;
use tokio::sync::mpsc;

/// The bookstore's one entity: books, owned by a user.
mod book {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    /// A book on a user's shelf.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable)]
    #[sea_orm(table_name = "book")]
    #[hookable(model = "bookstore.Book", owner = "user_id", actions(read))]
    pub struct Model {
        /// The book's id.
        #[sea_orm(primary_key)]
        pub id: i32,
        /// The user whose shelf it is on.
        pub user_id: i32,
        /// The title.
        pub title: String,
    }

    /// Books have no relations here.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
}

/// A webhook receiver: forwards every JSON body it gets to `bodies`.
async fn start_receiver() -> Result<(String, mpsc::UnboundedReceiver<Value>), Box<dyn Error>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = Router::new()
        .route(
            "/hooks",
            post(|State(tx): State<mpsc::UnboundedSender<Value>>, body: axum::Json<Value>| async move {
                let _ = tx.send(body.0);
            }),
        )
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hooks", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, rx))
}

async fn next_body(bodies: &mut mpsc::UnboundedReceiver<Value>) -> Result<Value, Box<dyn Error>> {
    let body = tokio::time::timeout(Duration::from_secs(10), bodies.recv()).await?.ok_or("receiver stopped")?;
    println!("{}: {}", body["hook"]["event"].as_str().unwrap_or("?"), serde_json::to_string_pretty(&body)?);
    Ok(body)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // The embedded default: a SQLite file, nothing to install.
    let dir = tempfile::tempdir()?;
    let db = Database::connect(format!("sqlite://{}?mode=rwc", dir.path().join("bookstore.db").display())).await?;
    rest_hooks::store::setup(&db).await?;
    db.execute(&Schema::new(db.get_database_backend()).create_table_from_entity(book::Entity)).await?;

    // django-rest-hooks' HOOK_EVENTS, as the engine's event map.
    let engine = Engine::builder()
        .event("book.added", "bookstore.Book.created")
        .event("book.changed", "bookstore.Book.updated+")
        .event("book.removed", "bookstore.Book.deleted")
        .event("book.read", "bookstore.Book.read")
        .raw_event("user.logged_in")
        // The receiver below runs on this machine: let the SSRF guard through to it.
        .allow_targets(["127.0.0.1/32"])
        .start(db.clone())?;

    // User 1 subscribes a URL to the book events.
    let (url, mut bodies) = start_receiver().await?;
    for event in ["book.added", "book.changed", "book.removed", "book.read"] {
        engine.subscribe(&db, Some(1.into()), event, &url).await?;
    }

    let book = book::ActiveModel { user_id: Set(1), title: Set("The Two Towers".to_owned()), ..Default::default() }
        .insert(&db)
        .await?;
    next_body(&mut bodies).await?;

    engine.action(&db, &book, "read").await?;
    next_body(&mut bodies).await?;

    let mut edit: book::ActiveModel = book.into();
    edit.title = Set("The Two Towers (illustrated)".to_owned());
    let book = edit.update(&db).await?;
    next_body(&mut bodies).await?;

    book.delete(&db).await?;
    next_body(&mut bodies).await?;

    // A save inside a transaction that rolls back records nothing, so nothing is sent.
    let txn = db.begin().await?;
    book::ActiveModel { user_id: Set(1), title: Set("Never published".to_owned()), ..Default::default() }
        .insert(&txn)
        .await?;
    txn.rollback().await?;
    // The next body is this one: the rolled-back save recorded nothing.
    book::ActiveModel { user_id: Set(1), title: Set("The Return of the King".to_owned()), ..Default::default() }
        .insert(&db)
        .await?;
    let next = next_body(&mut bodies).await?;
    assert_eq!(next["data"]["fields"]["title"], "The Return of the King");
    println!("the rolled-back save sent nothing");

    engine.shutdown().await;
    Ok(())
}
