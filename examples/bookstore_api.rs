//! The subscription REST API in a small axum server on SQLite: a toy bearer-token login, the
//! hooks router at `/api/v1/hooks`, a books resource at `/api/v1/books`, and an inbox at `/inbox`
//! that receives webhooks, checks their signatures and prints them. Subscribe the inbox with
//! `curl`, add a book, and watch the delivery arrive (`rest_hooks/guide/api.md` shows the session, which
//! CI replays). The engine's metrics are served for Prometheus at `/metrics`
//! (`rest_hooks/guide/operating.md` lists them).
//!
//! The owner portal is at `/api/v1/hooks/portal`: open it in a browser and paste a token, or set
//! the toy session cookie (`session=alice`) and reload.
//!
//! Run it with `cargo run --example bookstore_api` (`-- 8080` for another port than 3000).
//! Tokens: `alice-token` (user 1) and `bob-token` (user 2); session cookies `session=alice` and
//! `session=bob`.

use std::error::Error;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use rest_hooks::api::{HooksApi, Refusal};
use rest_hooks::signing::Verifier;
use rest_hooks::{Engine, Owner};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, QueryFilter, Schema,
    Set, TransactionTrait,
};
use serde_json::Value;

/// Books, owned by a user: their changes are the events.
mod book {
    use rest_hooks::Hookable;
    use sea_orm::entity::prelude::*;

    /// A book on a user's shelf.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Hookable, serde::Serialize)]
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

/// The toy login: a fixed token per user, or a session cookie naming the user. A real application
/// checks a signed token, or looks its session up.
fn user_of(headers: &HeaderMap) -> Result<i32, Refusal> {
    let token = headers.get("authorization").and_then(|value| value.to_str().ok());
    match token.and_then(|value| value.strip_prefix("Bearer ")) {
        Some("alice-token") => Ok(1),
        Some("bob-token") => Ok(2),
        Some(_) => Err(Refusal::unauthorized("unknown token").challenge("Bearer")),
        None => {
            match session_of(headers) {
                Some("alice") => Ok(1),
                Some("bob") => Ok(2),
                Some(_) => Err(Refusal::unauthorized("unknown session")),
                None => Err(Refusal::unauthorized("send `Authorization: Bearer alice-token` or `bob-token`")
                    .challenge("Bearer")),
            }
        }
    }
}

/// The `session` cookie's value, as a browser sends it.
fn session_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .find_map(|cookie| cookie.trim().strip_prefix("session="))
}

/// The hooks API's authentication: the same login, the user as the hooks' owner.
fn owner(request: &Parts) -> Result<Owner, Refusal> {
    user_of(&request.headers).map(Owner::from)
}

/// `POST /api/v1/books {"title"}`: adds a book to the caller's shelf. The `book.added` event is
/// written in the same transaction as the book.
async fn add_book(
    State(db): State<DatabaseConnection>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<book::Model>), (StatusCode, String)> {
    let user = user_of(&headers).map_err(|_| (StatusCode::UNAUTHORIZED, "log in first".to_owned()))?;
    let title = body["title"].as_str().ok_or((StatusCode::UNPROCESSABLE_ENTITY, "`title` is missing".to_owned()))?;
    let failed = |e: sea_orm::DbErr| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let txn = db.begin().await.map_err(failed)?;
    let book = book::ActiveModel { user_id: Set(user), title: Set(title.to_owned()), ..Default::default() }
        .insert(&txn)
        .await
        .map_err(failed)?;
    txn.commit().await.map_err(failed)?;
    Ok((StatusCode::CREATED, Json(book)))
}

/// `GET /api/v1/books`: the caller's shelf.
async fn list_books(
    State(db): State<DatabaseConnection>,
    headers: HeaderMap,
) -> Result<Json<Vec<book::Model>>, StatusCode> {
    let user = user_of(&headers).map_err(|_| StatusCode::UNAUTHORIZED)?;
    let books = book::Entity::find()
        .filter(book::Column::UserId.eq(user))
        .all(&db)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(Json(books))
}

/// `POST /inbox`: a receiver, as a subscriber would run one. It checks the signature with the
/// secret of the hook named in the body (a real receiver keeps the secret the API showed it).
async fn inbox(State(db): State<DatabaseConnection>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let event: Value = serde_json::from_slice(&body).unwrap_or_default();
    let hook = event["hook"]["id"].as_i64().unwrap_or_default();
    let secret = rest_hooks::hook::Entity::find_by_id(hook).one(&db).await.ok().flatten().and_then(|hook| hook.secret);
    let verified = secret.and_then(|secret| Verifier::new(secret.expose()).ok()).map(|v| v.verify(&headers, &body));
    let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or("?");
    let name = event["hook"]["event"].as_str().unwrap_or("?");
    println!(
        "inbox: {name} {id}, signature {}",
        match verified {
            Some(Ok(())) => "verified".to_owned(),
            Some(Err(e)) => format!("refused: {e}"),
            None => "not checked (the hook is gone)".to_owned(),
        }
    );
    println!("inbox: {body}", body = String::from_utf8_lossy(&body));
    StatusCode::NO_CONTENT
}

/// Installs a Prometheus recorder, without the exporter's own HTTP listener: the application
/// serves the scrape on its own router. Its histograms get buckets from 5 ms to 30 s.
fn prometheus() -> Result<PrometheusHandle, Box<dyn Error>> {
    let buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)?
        .install_recorder()?;
    // Without the listener, the application runs the recorder's upkeep (it drains histograms).
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(3000), |port| port.parse())?;
    // Installed before the engine starts, which describes its metrics to it.
    let prometheus = prometheus()?;
    let dir = tempfile::tempdir()?;
    let db = Database::connect(format!("sqlite://{}?mode=rwc", dir.path().join("bookstore.db").display())).await?;
    rest_hooks::store::setup(&db).await?;
    db.execute(&Schema::new(db.get_database_backend()).create_table_from_entity(book::Entity)).await?;

    let engine = Engine::builder()
        .event("book.added", "bookstore.Book.created")
        .event("book.changed", "bookstore.Book.updated")
        .event("book.removed", "bookstore.Book.deleted")
        .event("book.read", "bookstore.Book.read")
        .raw_event("user.logged_in")
        // The inbox runs on this machine: let the SSRF guard through to it.
        .allow_targets(["127.0.0.1/32"])
        .start(db.clone())?;

    let app = Router::new()
        .merge(HooksApi::new(engine.clone(), owner)?.mount("/api/v1/hooks"))
        .route("/api/v1/books", post(add_book).get(list_books))
        .route("/inbox", post(inbox))
        .route("/metrics", get(move || async move { prometheus.render() }))
        .with_state(db);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "bookstore_api on http://{}: hooks at /api/v1/hooks, books at /api/v1/books, inbox at /inbox",
        listener.local_addr()?
    );
    println!("portal: http://{}/api/v1/hooks/portal", listener.local_addr()?);
    println!(
        "tokens: alice-token (user 1), bob-token (user 2), or the cookie session=alice / session=bob; Ctrl-C stops"
    );
    axum::serve(listener, app).with_graceful_shutdown(async { drop(tokio::signal::ctrl_c().await) }).await?;
    engine.shutdown().await;
    Ok(())
}
