//! The swap points: the application's own hook entity, finder, deliverer, and the sent
//! notification.

use std::sync::{Arc, Mutex};

use rest_hooks::signing::{HeaderMap, Secret, Verifier};
use rest_hooks::{Deliverer, DeliveryError, Event, Finder, HookTarget, Request, Response, Sent};
use rest_hooks_tests::Harness;
use rest_hooks_tests::entities::webhook;
use sea_orm::{ActiveModelTrait, DatabaseTransaction, DbErr, EntityTrait, Set, TransactionTrait};
use serde_json::json;

use crate::lifecycle::new_book;

#[tokio::test]
async fn a_swapped_hook_entity_filters_on_its_own_columns() {
    let secret = Secret::generate().unwrap();
    let verifier = Verifier::try_from(&secret).unwrap();
    let h = Harness::with(|b| b.hook_entity::<webhook::Entity>().fallback_secret(secret)).await;
    let mut hooks = Vec::new();
    for (organization_id, is_active, path) in [(1, true, "org1"), (1, false, "org1-inactive"), (2, true, "org2")] {
        let hook = webhook::ActiveModel {
            organization_id: Set(organization_id),
            event: Set("book.added".into()),
            target: Set(h.receiver.url(path)),
            is_active: Set(is_active),
            ..Default::default()
        };
        hooks.push(hook.insert(&h.db).await.unwrap());
    }

    h.run(new_book(1, "For organisation 1").insert(&h.db)).await.unwrap();
    h.run(new_book(2, "For organisation 2").insert(&h.db)).await.unwrap();

    let mut received = h.receiver.wait_for(2).await;
    received.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(received.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), ["/org1", "/org2"]);
    assert_eq!(received[0].body["hook"]["id"], hooks[0].id);
    assert_eq!(received[0].body["data"]["fields"]["title"], "For organisation 1");
    // A table without secret columns is signed with the engine's fallback secret.
    for request in &received {
        let headers: HeaderMap =
            request.headers.iter().map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap())).collect();
        verifier.verify(&headers, request.raw.as_bytes()).unwrap();
    }
}

#[tokio::test]
async fn an_own_hook_entity_narrows_an_events_hooks_by_the_event_in_sql_and_in_rust() {
    use rest_hooks_tests::entities::{book_webhook, chapter};
    let h = Harness::with(|b| {
        b.event("chapter.added", "bookstore.Chapter.created").hook_entity::<book_webhook::Entity>().unsigned()
    })
    .await;
    let first = h.run(new_book(1, "First").insert(&h.db)).await.unwrap();
    let second = h.run(new_book(1, "Second").insert(&h.db)).await.unwrap();
    for (user_id, book_id, title_word, path) in [
        (1, Some(first.id), None, "first"),
        (1, Some(second.id), None, "second"),
        (1, None, None, "every-book"),
        (1, None, Some("Epilogue"), "epilogues"),
        (2, None, None, "another-owner"),
    ] {
        let hook = book_webhook::ActiveModel {
            user_id: Set(user_id),
            book_id: Set(book_id),
            event: Set("chapter.added".into()),
            target: Set(h.receiver.url(path)),
            title_word: Set(title_word.map(str::to_owned)),
            ..Default::default()
        };
        hook.insert(&h.db).await.unwrap();
    }

    // Both chapters in one transaction, so that one dispatch pass most likely sees them together:
    // each still gets only its own book's hooks.
    h.run(async {
        let txn = h.db.begin().await?;
        for (book_id, title) in [(first.id, "Prologue"), (second.id, "Epilogue")] {
            chapter::ActiveModel { book_id: Set(book_id), title: Set(title.into()), ..Default::default() }
                .insert(&txn)
                .await?;
        }
        txn.commit().await
    })
    .await
    .unwrap();

    let mut received: Vec<(String, String)> = h
        .receiver
        .wait_for(5)
        .await
        .iter()
        .map(|r| (r.path.clone(), r.body["data"]["fields"]["title"].as_str().unwrap().to_owned()))
        .collect();
    received.sort();
    assert_eq!(
        received,
        [
            ("/epilogues".to_owned(), "Epilogue".to_owned()),
            ("/every-book".to_owned(), "Epilogue".to_owned()),
            ("/every-book".to_owned(), "Prologue".to_owned()),
            ("/first".to_owned(), "Prologue".to_owned()),
            ("/second".to_owned(), "Epilogue".to_owned()),
        ]
    );
    // The events' deliveries were recorded: these five and no more.
    let recorded = h.deliveries(5).await;
    h.dispatched().await;
    let recorded_after = rest_hooks::store::delivery::Entity::find().all(&h.db).await.unwrap();
    assert_eq!((recorded.len(), recorded_after.len()), (5, 5));
}

struct EveryoneAt(String);

#[async_trait::async_trait]
impl Finder for EveryoneAt {
    async fn find(&self, _db: &DatabaseTransaction, event: &Event) -> Result<Vec<HookTarget>, DbErr> {
        Ok(vec![HookTarget::new(99, event.name.clone(), self.0.clone())])
    }
}

#[tokio::test]
async fn a_custom_finder_decides_the_targets() {
    let receiver = rest_hooks_tests::Receiver::start().await;
    let target = receiver.url("found");
    let h = Harness::with(|b| b.finder(EveryoneAt(target)).unsigned()).await;

    h.run(new_book(5, "Anyone").insert(&h.db)).await.unwrap();

    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].body["hook"], json!({"id": 99, "event": "book.added", "target": receiver.url("found")}));
}

/// A deliverer of the application's own: a legacy header and a different path.
struct Legacy(reqwest::Client);

#[async_trait::async_trait]
impl Deliverer for Legacy {
    async fn deliver(&self, request: &Request) -> Result<Response, DeliveryError> {
        let response = self
            .0
            .post(format!("{}/legacy", request.hook.target))
            .header("x-legacy-event", &request.event)
            .body(request.body.clone())
            .send()
            .await
            .map_err(|e| DeliveryError::Request(e.to_string()))?;
        Ok(Response::new(response.status().as_u16(), ""))
    }
}

#[tokio::test]
async fn a_custom_deliverer_sends_the_requests() {
    let client = rest_hooks::HttpDeliverer::client_builder().unwrap().build().unwrap();
    let h = Harness::with(|b| b.deliverer(Legacy(client))).await;
    h.subscribe(Some(1), "book.added", "custom").await;

    h.run(new_book(1, "Delivered my way").insert(&h.db)).await.unwrap();

    let received = h.receiver.wait_for(1).await;
    assert_eq!(received[0].path, "/custom/legacy");
    assert_eq!(received[0].headers["x-legacy-event"], "book.added");
}

#[tokio::test]
async fn the_sent_notification_carries_hook_body_and_status() {
    let sent: Arc<Mutex<Vec<Sent>>> = Arc::default();
    let log = Arc::clone(&sent);
    let h = Harness::with(move |b| b.on_sent(move |s| log.lock().unwrap().push(s.clone()))).await;
    h.receiver.respond("down", 503);
    let ok = h.subscribe(Some(1), "book.added", "up").await;
    h.subscribe(Some(1), "book.added", "down").await;

    h.run(new_book(1, "Noted").insert(&h.db)).await.unwrap();
    h.receiver.wait_for(2).await;

    let deadline = tokio::time::Instant::now() + rest_hooks_tests::WAIT;
    while sent.lock().unwrap().len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "notifications never came");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let mut sent = sent.lock().unwrap().clone();
    sent.sort_by_key(|s| s.hook.target.clone());
    assert_eq!(sent.iter().map(Sent::status).collect::<Vec<_>>(), [Some(503), Some(200)]);
    assert_eq!(sent[1].hook.id, rest_hooks::HookId::Int(ok.id));
    assert_eq!(sent[1].event, "book.added");
    assert!(sent[1].body.contains("Noted"));
    assert_eq!(sent[1].attempt, 1);
}

#[tokio::test]
async fn a_swapped_hook_entity_is_marked_disabled_in_its_own_table() {
    let h = Harness::with(|b| b.hook_entity::<webhook::Entity>().unsigned()).await;
    h.receiver.respond("gone", 410);
    let hook = webhook::ActiveModel {
        organization_id: Set(1),
        event: Set("book.added".into()),
        target: Set(h.receiver.url("gone")),
        is_active: Set(true),
        ..Default::default()
    }
    .insert(&h.db)
    .await
    .unwrap();

    h.run(new_book(1, "Gone").insert(&h.db)).await.unwrap();
    rest_hooks_tests::eventually("the hook marked inactive", || async {
        let row = webhook::Entity::find_by_id(hook.id).one(&h.db).await.unwrap().unwrap();
        (!row.is_active).then_some(())
    })
    .await;
    let state = h.engine.hook_state(&rest_hooks::HookId::Int(hook.id)).await.unwrap().unwrap();
    assert_eq!(state.disabled_reason.as_deref(), Some("the target answered 410 Gone"));
}

/// Checks `request`'s signature with `secret`.
pub(crate) fn signed_with(request: &rest_hooks_tests::Received, secret: &str) -> bool {
    let verifier = Verifier::try_from(&Secret::parse(secret).unwrap()).unwrap();
    let headers: HeaderMap = request.headers.iter().map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap())).collect();
    verifier.verify(&headers, request.raw.as_bytes()).is_ok()
}

#[tokio::test]
async fn subscribing_writes_the_engines_own_hook_entity_with_a_secret_and_its_columns() {
    use rest_hooks_tests::entities::subscription;
    let h = Harness::with(|b| b.hook_entity::<subscription::Entity>()).await;
    let hooks = h.engine.hooks::<subscription::Entity>();

    let hook = hooks.subscribe(&h.db, Some(7.into()), "book.added", &h.receiver.url("org7")).await.unwrap();
    hooks.subscribe(&h.db, Some(8.into()), "book.added", &h.receiver.url("org8")).await.unwrap();

    assert_eq!((hook.organization_id, hook.is_active, hook.version), (7, true, 1));
    let secret = hook.secret.clone().expect("a fresh secret");
    assert!(secret.starts_with("whsec_"));
    assert_eq!(rest_hooks::hook::Entity::find().all(&h.db).await.unwrap(), [], "nothing in the crate's table");
    h.run(new_book(7, "Own table").insert(&h.db)).await.unwrap();
    let received = h.receiver.wait_for(1).await;
    assert_eq!(received[0].path, "/org7");
    assert_eq!(received[0].body["hook"]["id"], hook.id);
    assert!(signed_with(&received[0], &secret), "signed with the hook's own secret");
}

#[tokio::test]
async fn rotating_an_own_hooks_secret_signs_with_both_during_the_grace_period() {
    use rest_hooks_tests::entities::subscription;
    let h = Harness::with(|b| b.hook_entity::<subscription::Entity>()).await;
    let hooks = h.engine.hooks::<subscription::Entity>();
    let hook = hooks.subscribe(&h.db, Some(1.into()), "book.added", &h.receiver.url("rotated")).await.unwrap();

    let rotated = hooks.rotate_secret(&h.db, hook.id).await.unwrap();

    let (old, new) = (hook.secret.unwrap(), rotated.secret.clone().unwrap());
    assert_ne!(old, new);
    assert_eq!(rotated.previous_secret.as_deref(), Some(old.as_str()));
    assert!(rotated.previous_secret_until.unwrap() > chrono::Utc::now());
    h.run(new_book(1, "Rotated").insert(&h.db)).await.unwrap();
    let received = h.receiver.wait_for(1).await;
    assert!(signed_with(&received[0], &new) && signed_with(&received[0], &old));
    let missing = hooks.rotate_secret(&h.db, 999).await.unwrap_err();
    assert_eq!(missing.to_string(), "hook `999` does not exist");
}

#[tokio::test]
async fn unsubscribing_an_own_hook_deletes_its_row() {
    use rest_hooks_tests::entities::subscription;
    let h = Harness::with(|b| b.hook_entity::<subscription::Entity>()).await;
    let hooks = h.engine.hooks::<subscription::Entity>();
    let hook = hooks.subscribe(&h.db, Some(1.into()), "book.added", &h.receiver.url("gone")).await.unwrap();

    assert!(hooks.unsubscribe(&h.db, hook.id).await.unwrap());

    assert!(!hooks.unsubscribe(&h.db, hook.id).await.unwrap());
    assert_eq!(subscription::Entity::find().all(&h.db).await.unwrap(), []);
}

#[tokio::test]
async fn an_own_entity_without_secret_columns_signs_with_the_fallback_and_has_nothing_to_rotate() {
    let fallback = Secret::generate().unwrap();
    let expose = fallback.expose().to_owned();
    let h = Harness::with(|b| b.hook_entity::<webhook::Entity>().fallback_secret(fallback)).await;
    let hooks = h.engine.hooks::<webhook::Entity>();

    let hook = hooks.subscribe(&h.db, Some(3.into()), "book.added", &h.receiver.url("org3")).await.unwrap();

    assert!(hook.is_active, "the application filled its own column");
    h.run(new_book(3, "Fallback").insert(&h.db)).await.unwrap();
    let received = h.receiver.wait_for(1).await;
    assert!(signed_with(&received[0], &expose));
    let refused = hooks.rotate_secret(&h.db, hook.id).await.unwrap_err().to_string();
    assert!(refused.contains("names no secret column") && refused.contains("HookEntity::secret_columns"), "{refused}");
}

#[tokio::test]
async fn the_crate_tables_writers_are_refused_when_the_engine_reads_an_own_entity() {
    let h = Harness::with(|b| b.hook_entity::<webhook::Entity>().unsigned()).await;

    let refused = h.engine.subscribe(&h.db, Some(1.into()), "book.added", &h.receiver.url("x")).await.unwrap_err();

    let message = refused.to_string();
    assert!(matches!(refused, rest_hooks::SubscribeError::Refused(_)), "{message}");
    assert!(message.contains("rest_hooks_hook") && message.contains("engine.hooks::<YourHookEntity>()"), "{message}");
    assert_eq!(rest_hooks::hook::Entity::find().all(&h.db).await.unwrap(), []);
    let rotate = h.engine.rotate_secret(&h.db, 1).await.unwrap_err().to_string();
    assert!(rotate.contains("`Engine::rotate_secret` writes the crate's hook table"), "{rotate}");
    let unsubscribe = h.engine.unsubscribe(&h.db, 1).await.unwrap_err().to_string();
    assert!(unsubscribe.contains("`Engine::unsubscribe` writes the crate's hook table"), "{unsubscribe}");
}

#[tokio::test]
async fn writing_an_entity_the_engine_does_not_read_is_refused_naming_it() {
    let h = Harness::with(|b| b.unsigned()).await;

    let refused = h
        .engine
        .hooks::<webhook::Entity>()
        .subscribe(&h.db, Some(1.into()), "book.added", &h.receiver.url("x"))
        .await
        .unwrap_err()
        .to_string();

    assert!(refused.contains("webhook::Entity` is not where this engine finds hooks"), "{refused}");
    assert!(refused.contains(".hook_entity::<"), "{refused}");
    assert_eq!(webhook::Entity::find().all(&h.db).await.unwrap(), []);
}

#[tokio::test]
async fn an_own_entity_without_a_target_column_cannot_be_subscribed_to() {
    use rest_hooks_tests::entities::bare_webhook;
    let h = Harness::with(|b| b.hook_entity::<bare_webhook::Entity>().unsigned()).await;

    let refused = h
        .engine
        .hooks::<bare_webhook::Entity>()
        .subscribe(&h.db, Some(1.into()), "book.added", &h.receiver.url("x"))
        .await
        .unwrap_err()
        .to_string();

    assert!(refused.contains("names no target column: implement `HookEntity::target_column`"), "{refused}");
}

#[tokio::test]
async fn subscribing_with_the_applications_own_columns_sets_them_before_fill_new() {
    use rest_hooks_tests::entities::{book_webhook, chapter};
    let h = Harness::with(|b| {
        b.event("chapter.added", "bookstore.Chapter.created").hook_entity::<book_webhook::Entity>().unsigned()
    })
    .await;
    let book = h.run(new_book(1, "Mine").insert(&h.db)).await.unwrap();
    let other = h.run(new_book(1, "Other").insert(&h.db)).await.unwrap();
    let hook = h
        .engine
        .hooks::<book_webhook::Entity>()
        .subscribe_with(&h.db, Some(1.into()), "chapter.added", &h.receiver.url("mine"), |hook| {
            hook.book_id = Set(Some(book.id));
        })
        .await
        .unwrap();
    assert_eq!((hook.book_id, hook.user_id), (Some(book.id), 1));

    for book_id in [other.id, book.id] {
        let chapter = chapter::ActiveModel { book_id: Set(book_id), title: Set("One".into()), ..Default::default() };
        h.run(chapter.insert(&h.db)).await.unwrap();
    }
    let received = h.receiver.wait_for(1).await;
    assert_eq!(received[0].body["data"]["fields"]["book_id"], book.id, "only the chapter of its book");
    h.dispatched().await;
    let recorded = rest_hooks::store::delivery::Entity::find().all(&h.db).await.unwrap();
    assert_eq!(recorded.len(), 1, "no delivery for the other book's chapter");
}
