//! Signatures: the Standard Webhooks conformance vectors, a round trip through the engine and a
//! real receiver, rotation, taken-over deliveries, the swap points and the axum extractor.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue};
use axum::routing::post;
use rest_hooks::signing::{Secret, SecretError, Signer, StandardWebhooks, Verified, Verifier, VerifyError, sign};
use rest_hooks::store::delivery;
use rest_hooks::{BuildError, Request, hook};
use rest_hooks_tests::entities::{subscription, webhook};
use rest_hooks_tests::{Harness, Received};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::Value;

use crate::lifecycle::{new_book, wait_until_settled};

fn vectors() -> Value {
    serde_json::from_str(include_str!("../../data/standard-webhooks.json")).unwrap()
}

fn text(case: &Value, key: &str) -> String {
    case[key].as_str().unwrap().to_owned()
}

#[test]
fn every_sign_vector_signs_and_verifies() {
    let vectors = vectors();
    let cases = vectors["sign"].as_array().unwrap();
    assert!(cases.len() >= 2);
    for case in cases {
        let secret = Secret::parse(&text(case, "secret")).unwrap();
        let timestamp = case["timestamp"].as_i64().unwrap();
        let (id, body, expected) = (text(case, "msg_id"), text(case, "body"), text(case, "signature"));
        assert_eq!(sign(&secret, &id, timestamp, body.as_bytes()).unwrap(), expected, "{}", case["name"]);
        let verifier = Verifier::new(&text(case, "secret")).unwrap();
        assert_eq!(verifier.verify_parts(&id, &timestamp.to_string(), &expected, body.as_bytes(), timestamp), Ok(()));
    }
}

fn check(case: &Value) -> Result<(), VerifyError> {
    let timestamp = case["timestamp"].as_i64().unwrap();
    Verifier::new(&text(case, "secret")).unwrap().verify_parts(
        &text(case, "msg_id"),
        &timestamp.to_string(),
        &text(case, "header"),
        text(case, "body").as_bytes(),
        timestamp,
    )
}

#[test]
fn every_accept_vector_is_accepted_and_every_reject_vector_rejected() {
    let vectors = vectors();
    for case in vectors["verify_accept"].as_array().unwrap() {
        assert_eq!(check(case), Ok(()), "{}", case["name"]);
    }
    for case in vectors["verify_reject"].as_array().unwrap() {
        assert_eq!(check(case), Err(VerifyError::BadSignature), "{}", case["name"]);
    }
}

/// The headers of the first sign vector.
fn reference_headers() -> (Verifier, HeaderMap, Vec<u8>, i64) {
    let vectors = vectors();
    let case = &vectors["sign"][0];
    let timestamp = case["timestamp"].as_i64().unwrap();
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("webhook-id", text(case, "msg_id")),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", text(case, "signature")),
    ] {
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    }
    (Verifier::new(&text(case, "secret")).unwrap(), headers, text(case, "body").into_bytes(), timestamp)
}

#[test]
fn timestamps_are_accepted_within_five_minutes_either_way_only() {
    let (verifier, headers, body, sent) = reference_headers();
    for now in [sent - 300, sent, sent + 300] {
        assert_eq!(verifier.verify_at(&headers, &body, now), Ok(()), "now = sent {:+}", now - sent);
    }
    assert_eq!(
        verifier.verify_at(&headers, &body, sent + 301),
        Err(VerifyError::TooOld { timestamp: sent, now: sent + 301 })
    );
    assert_eq!(
        verifier.verify_at(&headers, &body, sent - 301),
        Err(VerifyError::TooNew { timestamp: sent, now: sent - 301 })
    );
    let lenient = verifier.tolerance(Duration::from_secs(3600));
    assert_eq!(lenient.verify_at(&headers, &body, sent + 3000), Ok(()));
}

#[test]
fn missing_headers_bad_timestamps_and_empty_secrets_are_errors() {
    let (verifier, headers, body, sent) = reference_headers();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let mut without = headers.clone();
        without.remove(name);
        assert_eq!(verifier.verify_at(&without, &body, sent), Err(VerifyError::MissingHeader(name)));
    }
    for bad in ["soon", "1614265330.5", ""] {
        let mut odd = headers.clone();
        odd.insert("webhook-timestamp", HeaderValue::from_str(bad).unwrap());
        assert_eq!(verifier.verify_at(&odd, &body, sent), Err(VerifyError::BadTimestamp(bad.to_owned())));
    }
    for empty in ["", "whsec_"] {
        assert_eq!(Verifier::new(empty).unwrap_err(), SecretError::Empty);
    }
    assert_eq!(Verifier::with_secrets(Vec::<String>::new()).unwrap_err(), SecretError::Empty);
    assert!(VerifyError::TooOld { timestamp: 1, now: 400 }.to_string().contains("too old"));
}

#[test]
fn secrets_verify_with_or_without_prefix_and_padding() {
    let (_, headers, body, sent) = reference_headers();
    for secret in ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] {
        assert_eq!(Verifier::new(secret).unwrap().verify_at(&headers, &body, sent), Ok(()));
    }
    let other = Secret::generate().unwrap();
    let both = Verifier::with_secrets([other.expose(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]).unwrap();
    assert_eq!(both.verify_at(&headers, &body, sent), Ok(()));
    assert_eq!(Verifier::try_from(&other).unwrap().verify_at(&headers, &body, sent), Err(VerifyError::BadSignature));
    // A secret of 31 bytes needs padding; without it, it is the same key.
    let padded = Secret::parse("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==").unwrap();
    let signature = sign(&padded, "msg_1", sent, &body).unwrap();
    let unpadded = Verifier::new("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg").unwrap();
    assert_eq!(unpadded.verify_parts("msg_1", &sent.to_string(), &signature, &body, sent), Ok(()));
}

#[test]
fn secrets_with_trailing_bits_are_read_as_the_reference_libraries_read_them() {
    let (id, at, body) = ("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
    let expected = "v1,LVOXivKoo4FWasi/IaHvzhE/u+7/cu2AME+zS/nXqzk=";
    // The last `S` carries bits past the 23 key bytes; `Q` is the same key without them.
    for secret in
        ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS="]
    {
        let verifier = Verifier::new(secret).unwrap_or_else(|e| panic!("{secret}: {e}"));
        assert_eq!(verifier.verify_parts(id, &at.to_string(), expected, body, at), Ok(()), "{secret}");
        let parsed = Secret::parse(secret).unwrap();
        assert_eq!(sign(&parsed, id, at, body).unwrap(), expected, "{secret}");
        assert_eq!(parsed, Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaQ=").unwrap());
    }
}

fn verify_received(secret: &str, received: &Received) -> Result<(), VerifyError> {
    let h = &received.headers;
    Verifier::new(secret).unwrap().verify_parts(
        &h["webhook-id"],
        &h["webhook-timestamp"],
        &h["webhook-signature"],
        received.raw.as_bytes(),
        chrono_now(),
    )
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Flips one byte of `text`.
fn flip(text: &str, at: usize) -> String {
    let mut bytes = text.as_bytes().to_vec();
    bytes[at] ^= 0x01;
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn the_engine_signs_and_the_verifier_accepts_only_the_exact_request() {
    let h = Harness::new().await;
    let hook = h.subscribe(Some(1), "book.added", "signed").await;
    let secret = hook.secret.clone().expect("a new hook gets a secret");
    assert!(secret.expose().starts_with("whsec_"));
    h.run(new_book(1, "Signed").insert(&h.db)).await.unwrap();

    let received = h.receiver.wait_for(1).await.remove(0);
    assert_eq!(verify_received(secret.expose(), &received), Ok(()));
    let signature = &received.headers["webhook-signature"];
    assert_eq!(signature.split(' ').count(), 1);

    let verifier = Verifier::new(secret.expose()).unwrap();
    let (id, timestamp) = (&received.headers["webhook-id"], &received.headers["webhook-timestamp"]);
    let body = received.raw.as_bytes();
    let now = chrono_now();
    let flipped_body = flip(&received.raw, received.raw.len() / 2);
    for (id, timestamp, body) in [
        (flip(id, 5), timestamp.clone(), body),
        (id.clone(), flip(timestamp, timestamp.len() - 1), body),
        (id.clone(), timestamp.clone(), flipped_body.as_bytes()),
    ] {
        assert_eq!(verifier.verify_parts(&id, &timestamp, signature, body, now), Err(VerifyError::BadSignature));
    }
    let other = Secret::generate().unwrap();
    assert_eq!(verify_received(other.expose(), &received), Err(VerifyError::BadSignature));
}

#[tokio::test]
async fn during_the_grace_period_both_secrets_sign_and_after_it_only_the_new_one() {
    let h = Harness::with(|b| b.secret_grace_period(Duration::from_secs(3600))).await;
    let hook = h.subscribe(Some(1), "book.added", "rotating").await;
    let old = hook.secret.clone().unwrap();
    let rotated = h.engine.rotate_secret(&h.db, hook.id).await.unwrap();
    let new = rotated.secret.clone().unwrap();
    assert_ne!(old, new);
    assert_eq!(rotated.previous_secret.as_ref(), Some(&old));

    h.run(new_book(1, "Rotating").insert(&h.db)).await.unwrap();
    let received = h.receiver.wait_for(1).await.remove(0);
    let entries: Vec<&str> = received.headers["webhook-signature"].split(' ').collect();
    assert_eq!(entries.len(), 2);
    for (entry, secret) in entries.iter().zip([&new, &old]) {
        let mut one = received.clone();
        one.headers.insert("webhook-signature".into(), (*entry).to_owned());
        assert_eq!(verify_received(secret.expose(), &one), Ok(()));
    }

    // When the grace period has run out, the old secret signs no more.
    let ended = chrono::Utc::now() - chrono::Duration::seconds(1);
    hook::Entity::update_many()
        .col_expr(hook::Column::PreviousSecretUntil, sea_orm::sea_query::Expr::value(ended))
        .filter(hook::Column::Id.eq(hook.id))
        .exec(&h.db)
        .await
        .unwrap();
    h.run(new_book(1, "After the grace").insert(&h.db)).await.unwrap();
    let received = h.receiver.wait_for(2).await.remove(1);
    assert_eq!(received.headers["webhook-signature"].split(' ').count(), 1);
    assert_eq!(verify_received(new.expose(), &received), Ok(()));
    assert_eq!(verify_received(old.expose(), &received), Err(VerifyError::BadSignature));

    // With no grace period the old secret stops signing at once.
    let h = Harness::with(|b| b.secret_grace_period(Duration::ZERO)).await;
    let hook = h.subscribe(Some(1), "book.added", "rotated").await;
    let old = hook.secret.clone().unwrap();
    let new = h.engine.rotate_secret(&h.db, hook.id).await.unwrap().secret.unwrap();
    h.run(new_book(1, "Rotated").insert(&h.db)).await.unwrap();
    let received = h.receiver.wait_for(1).await.remove(0);
    assert_eq!(received.headers["webhook-signature"].split(' ').count(), 1);
    assert_eq!(verify_received(new.expose(), &received), Ok(()));
    assert_eq!(verify_received(old.expose(), &received), Err(VerifyError::BadSignature));
    assert!(h.engine.rotate_secret(&h.db, 9999).await.unwrap_err().to_string().contains("hook 9999"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rotations_replace_each_secret_once() {
    let h = Harness::with(|b| b.secret_grace_period(Duration::from_secs(3600))).await;
    let hook = h.subscribe(Some(1), "book.added", "raced").await;
    let rotations: Vec<_> = (0..8)
        .map(|_| {
            let (engine, db) = (h.engine.clone(), h.db.clone());
            tokio::spawn(async move { engine.rotate_secret(&db, hook.id).await })
        })
        .collect();
    let mut replaced = Vec::new();
    for rotation in rotations {
        let rotated = rotation.await.unwrap().unwrap();
        replaced.push(rotated.previous_secret.unwrap().expose().to_owned());
    }
    // Each rotation replaced the secret it read: no secret was replaced twice (a lost update would
    // leave one caller's new secret signing nowhere).
    let distinct: std::collections::HashSet<_> = replaced.iter().collect();
    assert_eq!(distinct.len(), replaced.len(), "a secret was replaced twice: {replaced:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_rotations_at_once_on_forty_connections_all_succeed() {
    let h = Harness::new().await;
    let hook = h.subscribe(Some(1), "book.added", "raced").await;
    let db = h.pool(40).await;
    let rotations: Vec<_> = (0..40)
        .map(|_| {
            let (engine, db) = (h.engine.clone(), db.clone());
            tokio::spawn(async move { engine.rotate_secret(&db, hook.id).await })
        })
        .collect();
    let mut replaced = std::collections::HashSet::new();
    for rotation in rotations {
        let rotated = rotation.await.unwrap().unwrap_or_else(|e| panic!("a rotation failed: {e}"));
        assert!(replaced.insert(rotated.previous_secret.unwrap().expose().to_owned()), "a secret was replaced twice");
    }
}

#[tokio::test]
async fn a_taken_over_delivery_is_signed_with_the_hooks_current_secret() {
    let h = Harness::with(|b| b.secret_grace_period(Duration::ZERO)).await;
    let hook = h.subscribe(Some(1), "book.added", "taken-over").await;
    let old_secret = hook.secret.clone().unwrap();
    // The secret changes after the delivery was made and before it is taken over.
    let rotated = h.engine.rotate_secret(&h.db, hook.id).await.unwrap();
    let current = rotated.secret.clone().unwrap();
    assert_ne!(current, old_secret);
    let now = chrono_now() * 1000;
    let id = uuid::Uuid::now_v7();
    // A delivery left behind by a process that died: pending, its lease expired.
    delivery::ActiveModel {
        id: Set(id),
        outbox_id: Set(1),
        hook_id: Set(hook.id.to_string()),
        event: Set("book.added".into()),
        target: Set(h.receiver.url("taken-over")),
        receiver: Set(h.receiver.url("").trim_end_matches('/').to_owned()),
        body: Set(r#"{"left":"behind"}"#.into()),
        state: Set(delivery::state::PENDING),
        attempts: Set(1),
        created_at: Set(now),
        next_attempt_at: Set(now),
        lease_until: Set(Some(now - 1)),
        last_status: Set(None),
        last_error: Set(None),
        delivered_at: Set(None),
        order_key: Set(None),
    }
    .insert(&h.db)
    .await
    .unwrap();
    h.engine.wake();

    let received = h.receiver.wait_for(1).await.remove(0);
    assert_eq!(received.raw, r#"{"left":"behind"}"#);
    assert_eq!(received.headers["webhook-id"], format!("msg_{}", id.simple()), "the same id as before the crash");
    assert_eq!(verify_received(current.expose(), &received), Ok(()));
    assert_eq!(verify_received(old_secret.expose(), &received), Err(VerifyError::BadSignature));
}

#[tokio::test]
async fn secrets_never_show_in_debug_output_or_serialized_hooks() {
    let h = Harness::new().await;
    let hook = h.subscribe(Some(1), "book.added", "quiet").await;
    let secret = hook.secret.clone().unwrap();
    let key = &secret.expose()["whsec_".len()..];
    let target = <hook::Entity as rest_hooks::HookEntity>::to_target(hook.clone());
    for shown in
        [format!("{hook:?}"), format!("{secret:?}"), format!("{secret}"), serde_json::to_string(&hook).unwrap()]
    {
        assert!(!shown.contains(key), "{shown}");
    }
    assert!(!format!("{target:?}").contains(key));
}

/// A legacy scheme: the body's length in a header of its own.
struct LengthSigner;

impl Signer for LengthSigner {
    fn headers(&self, request: &Request, _timestamp: i64) -> Result<Vec<(String, String)>, SecretError> {
        Ok(vec![("x-legacy-length".to_owned(), request.body.len().to_string())])
    }
}

#[tokio::test]
async fn signing_can_be_turned_off_or_replaced() {
    let h = Harness::with(|b| b.unsigned()).await;
    h.subscribe(Some(1), "book.added", "plain").await;
    h.run(new_book(1, "Plain").insert(&h.db)).await.unwrap();
    let received = h.receiver.wait_for(1).await.remove(0);
    assert!(!received.headers.contains_key("webhook-signature"));
    assert!(received.headers.contains_key("webhook-id"));

    let h = Harness::with(|b| b.signer(LengthSigner)).await;
    h.subscribe(Some(1), "book.added", "legacy").await;
    h.run(new_book(1, "Legacy").insert(&h.db)).await.unwrap();
    let received = h.receiver.wait_for(1).await.remove(0);
    assert_eq!(received.headers["x-legacy-length"], received.raw.len().to_string());
    assert!(!received.headers.contains_key("webhook-signature"));
}

async fn custom_hook(h: &Harness, path: &str) {
    webhook::ActiveModel {
        organization_id: Set(1),
        event: Set("book.added".into()),
        target: Set(h.receiver.url(path)),
        is_active: Set(true),
        ..Default::default()
    }
    .insert(&h.db)
    .await
    .unwrap();
}

#[tokio::test]
async fn hooks_without_secret_columns_use_the_fallback_secret_or_fail_saying_so() {
    let fallback = Secret::generate().unwrap();
    let engine_secret = fallback.clone();
    let h = Harness::with(move |b| b.hook_entity::<webhook::Entity>().fallback_secret(engine_secret)).await;
    custom_hook(&h, "fallback").await;
    h.run(new_book(1, "Fallback").insert(&h.db)).await.unwrap();
    let received = h.receiver.wait_for(1).await.remove(0);
    assert_eq!(verify_received(fallback.expose(), &received), Ok(()));

    // Without a fallback nothing goes out unsigned: the delivery fails and says why. (The engine's
    // own signer refuses to start so, see below; a signer given the same way does not.)
    let h = Harness::with(|b| b.hook_entity::<webhook::Entity>().signer(StandardWebhooks::with_fallback(None))).await;
    custom_hook(&h, "nothing-to-sign-with").await;
    h.run(new_book(1, "No secret").insert(&h.db)).await.unwrap();
    let deliveries = wait_until_settled(&h, 1).await;
    let error = deliveries[0].last_error.as_deref().unwrap();
    assert!(error.contains("the hook has no signing secret"), "{error}");
    assert!(error.contains("Builder::unsigned"), "{error}");
    assert!(h.receiver.received().is_empty());

    // Turning signing off is explicit.
    let h = Harness::with(|b| b.hook_entity::<webhook::Entity>().unsigned()).await;
    custom_hook(&h, "unsigned").await;
    h.run(new_book(1, "Unsigned").insert(&h.db)).await.unwrap();
    let received = h.receiver.wait_for(1).await.remove(0);
    assert!(!received.headers.contains_key("webhook-signature"));
}

#[tokio::test]
async fn an_entity_without_secret_columns_needs_a_fallback_secret_to_start_signing() {
    let db = rest_hooks_tests::TestDb::sqlite().await;
    let builder = || rest_hooks::Engine::builder().event("book.added", "bookstore.Book.created").process_wide(false);
    let error = builder().hook_entity::<webhook::Entity>().start(db.db.clone()).map(drop).unwrap_err();
    let BuildError::Setting { name, problem } = &error else { panic!("{error:?}") };
    assert_eq!(*name, "fallback_secret", "{error}");
    assert!(problem.contains("HookEntity::secret_columns") && problem.contains("webhook::Entity"), "{error}");
    assert!(problem.contains("unsigned"), "{error}");

    // A fallback, no signing, a signer of the application's own, or secret columns: it starts.
    let fallback = Secret::generate().unwrap();
    for started in [
        builder().hook_entity::<webhook::Entity>().fallback_secret(fallback).start(db.db.clone()),
        builder().hook_entity::<webhook::Entity>().unsigned().start(db.db.clone()),
        builder().hook_entity::<webhook::Entity>().signer(StandardWebhooks::with_fallback(None)).start(db.db.clone()),
        builder().hook_entity::<subscription::Entity>().start(db.db.clone()),
        builder().start(db.db.clone()),
    ] {
        started.unwrap().shutdown().await;
    }
}

#[tokio::test]
async fn a_short_fallback_secret_is_refused_at_start() {
    let db = rest_hooks_tests::TestDb::sqlite().await;
    let short = Secret::parse("whsec_AAECAwQFBgcICQoLDA0ODxAREhMU").unwrap(); // 21 bytes
    let error = rest_hooks::Engine::builder().fallback_secret(short).process_wide(false).start(db.db.clone());
    let error = error.unwrap_err().to_string();
    assert!(error.contains("fallback_secret"), "{error}");
    assert!(error.contains("21 bytes; a signing secret needs at least 24"), "{error}");
}

#[test]
fn a_header_stuffed_with_signatures_is_refused_before_any_hmac() {
    let secret = Secret::generate().unwrap();
    let verifier = Verifier::try_from(&secret).unwrap();
    let now = 1_700_000_000;
    let good = rest_hooks::signing::signature_header(&[secret], "msg_1", now, b"{}").unwrap();
    let stuffed = format!("{} {good}", vec!["v1,"; 16].join(" "));
    assert_eq!(
        verifier.verify_parts("msg_1", &now.to_string(), &stuffed, b"{}", now),
        Err(VerifyError::TooManySignatures(17))
    );
    let fifteen = format!("{} {good}", vec!["v1,AAAA"; 15].join(" "));
    assert_eq!(verifier.verify_parts("msg_1", &now.to_string(), &fifteen, b"{}", now), Ok(()));
    let long = "9".repeat(1000);
    let Err(VerifyError::BadTimestamp(echoed)) = verifier.verify_parts("msg_1", &format!("x{long}"), &good, b"{}", now)
    else {
        panic!("a bad timestamp is refused")
    };
    assert!(echoed.len() < 40, "an untrusted header is echoed only in part: {echoed}");
}

#[tokio::test]
async fn the_axum_extractor_accepts_the_engines_requests_and_refuses_forged_ones() {
    let h = Harness::new().await;
    let hook = h.subscribe(Some(1), "book.added", "unused").await;
    let verifier = Verifier::new(hook.secret.as_ref().unwrap().expose()).unwrap();
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let log = Arc::clone(&got);
    let app = Router::new()
        .route(
            "/verified",
            post(move |body: Verified| async move {
                log.lock().unwrap().push(body.json().unwrap());
            }),
        )
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/verified", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut active: hook::ActiveModel = hook.into();
    active.target = Set(url.clone());
    h.run(active.update(&h.db)).await.unwrap();

    h.run(new_book(1, "Verified").insert(&h.db)).await.unwrap();
    let deliveries = wait_until_settled(&h, 1).await;
    assert_eq!(deliveries[0].last_status, Some(200), "{deliveries:#?}");
    assert_eq!(got.lock().unwrap()[0]["data"]["fields"]["title"], "Verified");

    let forged = reqwest::Client::new()
        .post(&url)
        .header("webhook-id", "msg_forged")
        .header("webhook-timestamp", chrono_now().to_string())
        .header("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    assert_eq!(forged.text().await.unwrap(), "webhook refused: no signature matches");
    let unsigned = reqwest::Client::new().post(&url).body("{}").send().await.unwrap();
    assert_eq!(unsigned.text().await.unwrap(), "webhook refused: header `webhook-id` is missing");
    assert_eq!(got.lock().unwrap().len(), 1);
}
