//! The receiving side: an axum server that accepts only webhooks signed with its hook's secret.
//!
//! The program starts an engine on an embedded SQLite database, subscribes a receiver on 127.0.0.1
//! to a raw event (the SSRF guard is told to allow it), and hands the hook's secret to the
//! receiver's [`Verifier`]. The engine's signed delivery gets through the [`Verified`] extractor; a
//! forged request is answered `401`.
//!
//! Run it with `cargo run --example receiver`.

use std::error::Error;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use rest_hooks::signing::{Verified, Verifier};
use rest_hooks::{Audience, Engine};
use sea_orm::Database;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// What the receiver's handler needs: the verifier (read by the extractor) and where to report.
#[derive(Clone)]
struct Receiver {
    verifier: Verifier,
    events: mpsc::UnboundedSender<Value>,
}

impl axum::extract::FromRef<Receiver> for Verifier {
    fn from_ref(receiver: &Receiver) -> Verifier {
        receiver.verifier.clone()
    }
}

/// Runs only for requests whose signature, id and timestamp checked out.
async fn receive(State(receiver): State<Receiver>, body: Verified) -> &'static str {
    if let Ok(event) = body.json::<Value>() {
        let _ = receiver.events.send(event);
    }
    "thanks"
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let db = Database::connect(format!("sqlite://{}?mode=rwc", dir.path().join("receiver.db").display())).await?;
    rest_hooks::store::setup(&db).await?;
    let engine = Engine::builder()
        .raw_event("user.logged_in")
        // The receiver below runs on this machine: let the SSRF guard through to it.
        .allow_targets(["127.0.0.1/32"])
        .start(db.clone())?;

    // Subscribing gives the hook a fresh secret; the receiver's owner is told it once.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hooks", listener.local_addr()?);
    let hook = engine.subscribe(&db, Some(7.into()), "user.logged_in", &url).await?;
    let secret = hook.secret.ok_or("a new hook has a secret")?;
    println!("hook {} signs with {secret:?} (its value is shown to its owner only)", hook.id);

    let (events, mut received) = mpsc::unbounded_channel();
    let receiver = Receiver { verifier: Verifier::new(secret.expose())?, events };
    let app = Router::new().route("/hooks", post(receive)).with_state(receiver);
    tokio::spawn(async move { axum::serve(listener, app).await });

    engine.raw(&db, "user.logged_in", Audience::owner(7), json!({"ip": "203.0.113.9"})).await?;
    let event = tokio::time::timeout(Duration::from_secs(10), received.recv()).await?.ok_or("receiver stopped")?;
    println!("verified: {}", serde_json::to_string(&event)?);

    let forged = reqwest::Client::new()
        .post(&url)
        .header("webhook-id", "msg_forged")
        .header("webhook-timestamp", chrono::Utc::now().timestamp().to_string())
        .header("webhook-signature", "v1,Zm9yZ2Vk")
        .body(r#"{"data": "forged"}"#)
        .send()
        .await?;
    println!("forged: {} {}", forged.status(), forged.text().await?);

    engine.shutdown().await;
    Ok(())
}
