//! The subscription REST API, served for real on 127.0.0.1 and called with a real HTTP client:
//! the subscribe → event → delivery → unsubscribe cycle, Zapier's request shape, every error
//! status, owner isolation, and the OpenAPI description against the routes.

use std::collections::BTreeSet;

use reqwest::Method;
use rest_hooks::RetryPolicy;
use rest_hooks::api::HooksApi;
use rest_hooks::signing::Verifier;
use rest_hooks_tests::api::{ApiServer, MOUNT, bearer};
use rest_hooks_tests::entities::book;
use rest_hooks_tests::{Harness, Received};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter,
    TransactionTrait,
};
use serde_json::{Value, json};

use crate::lifecycle::new_book;

fn verify(secret: &str, received: &Received) {
    let verifier = Verifier::new(secret).unwrap();
    let header = |name: &str| received.headers[name].clone();
    let now = chrono::Utc::now().timestamp();
    let signed = verifier.verify_parts(
        &header("webhook-id"),
        &header("webhook-timestamp"),
        &header("webhook-signature"),
        received.raw.as_bytes(),
        now,
    );
    assert_eq!(signed, Ok(()), "signed with the secret the API showed");
}

#[tokio::test]
async fn subscribe_deliver_unsubscribe() {
    let h = Harness::new().await;
    let api = ApiServer::of(&h).await;

    let created = api.post("", 1, json!({"event": "book.added", "target": h.receiver.url("added")})).await;
    assert_eq!(created.status, 201, "{created:?}");
    let hook = created.body;
    let id = hook["id"].as_i64().unwrap();
    assert_eq!(created.headers["location"], format!("{MOUNT}/{id}"));
    assert_eq!((hook["event"].as_str(), hook["active"].as_bool()), (Some("book.added"), Some(true)));
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{hook}");
    assert!(hook["created"].is_string());

    // The secret is shown once: reading the hook or listing hooks leaves it out.
    let read = api.get(&format!("/{id}"), 1).await;
    assert_eq!((read.status, read.body["target"].as_str()), (200, Some(h.receiver.url("added").as_str())));
    assert!(read.body.get("secret").is_none(), "{:?}", read.body);
    let listed = api.get("", 1).await;
    assert_eq!(listed.body["hooks"].as_array().unwrap().len(), 1);
    assert!(listed.body["hooks"][0].get("secret").is_none());

    let book = h.run(new_book(1, "Dune").insert(&h.db)).await.unwrap();
    let received = h.receiver.wait_for(1).await;
    assert_eq!(received[0].body["hook"]["id"], id);
    assert_eq!(received[0].body["data"]["pk"], book.id);
    verify(&secret, &received[0]);

    // The delivery log shows the attempt once its outcome is written.
    let attempts = rest_hooks_tests::eventually("the attempt in the log", || async {
        let answer = api.get(&format!("/{id}/attempts"), 1).await;
        let attempts = answer.body["attempts"].as_array().cloned().unwrap_or_default();
        (!attempts.is_empty()).then_some(attempts)
    })
    .await;
    assert_eq!((attempts[0]["status"].as_i64(), attempts[0]["attempt"].as_i64()), (Some(200), Some(1)));
    let webhook_id = received[0].headers["webhook-id"].clone();
    let delivery = attempts[0]["delivery"].as_str().unwrap().replace('-', "");
    assert_eq!(webhook_id, format!("msg_{delivery}"));

    let deleted = api.call(Method::DELETE, &format!("/{id}"), Some(1), None).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(api.get(&format!("/{id}"), 1).await.status, 404);

    // Another hook of the same owner shows when the next book's event has been dispatched: the
    // deleted one got nothing.
    api.subscribe(1, "book.added", &h.receiver.url("still-here")).await;
    h.run(new_book(1, "Emma").insert(&h.db)).await.unwrap();
    h.receiver.wait_for(2).await;
    assert_eq!(h.receiver.count("still-here"), 1);
    assert_eq!(h.receiver.count("added"), 1, "nothing after the unsubscribe");
}

#[tokio::test]
async fn zapier_subscribes_with_target_url_and_unsubscribes_at_the_location() {
    let h = Harness::new().await;
    let api = ApiServer::of(&h).await;
    let zap = json!({
        "subscription_url": "https://hooks.zapier.com/subscription/abc",
        "target_url": h.receiver.url("zap"),
        "event": "book.added",
    });
    let created = api.post("", 1, zap).await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.body["target"], h.receiver.url("zap"));

    h.run(new_book(1, "Ivanhoe").insert(&h.db)).await.unwrap();
    assert_eq!(h.receiver.wait_for(1).await[0].path, "/zap");

    let location = created.headers["location"].to_str().unwrap().to_owned();
    let path = location.strip_prefix(MOUNT).unwrap();
    assert_eq!(api.call(Method::DELETE, path, Some(1), None).await.status, 204);
    assert_eq!(api.get("", 1).await.body["hooks"], json!([]));
}

#[tokio::test]
async fn every_error_has_its_status_and_one_shape() {
    let h = Harness::new().await;
    let api = ApiServer::of(&h).await;
    let hook = api.subscribe(1, "book.added", &h.receiver.url("a")).await;
    let id = hook["id"].as_i64().unwrap();

    // 400: JSON that does not parse; a bad query parameter.
    let broken = api
        .send(
            api.request(Method::POST, "")
                .bearer_auth("token-1")
                .header("content-type", "application/json")
                .body("{\"event\":"),
        )
        .await;
    assert_eq!((broken.status, broken.error()), (400, "bad_request"), "{broken:?}");
    let bad_limit = api.get("?limit=0", 1).await;
    assert_eq!((bad_limit.status, bad_limit.body["field"].as_str()), (400, Some("limit")), "{bad_limit:?}");
    assert_eq!(api.get("?limit=ten", 1).await.status, 400);
    assert_eq!(api.get("?colour=red", 1).await.status, 400);

    // 401: no credentials, unknown credentials; with a challenge.
    let anonymous = api.call(Method::GET, "", None, None).await;
    assert_eq!((anonymous.status, anonymous.error()), (401, "unauthorized"));
    assert_eq!(anonymous.headers["www-authenticate"], "Bearer");
    assert_eq!(anonymous.body["message"], "send `Authorization: Bearer <token>`");
    let stranger = api.send(api.request(Method::GET, "").bearer_auth("stolen")).await;
    assert_eq!((stranger.status, stranger.body["message"].as_str()), (401, Some("unknown token")));

    // 404: an unknown id, an id that is not a number, a path the API does not have.
    for path in ["/9999", "/abc", "/9999/attempts", "/nothing/here/at/all"] {
        let missing = api.get(path, 1).await;
        assert_eq!((missing.status, missing.error()), (404, "not_found"), "{path}: {missing:?}");
    }

    // 405: a method a path does not take.
    let put = api.call(Method::PUT, "", Some(1), Some(json!({}))).await;
    assert_eq!((put.status, put.error()), (405, "method_not_allowed"), "{put:?}");
    assert_eq!(api.call(Method::DELETE, "/events", Some(1), None).await.status, 405);

    // 409: replaying a disabled hook.
    let off = api.call(Method::PATCH, &format!("/{id}"), Some(1), Some(json!({"active": false}))).await;
    assert_eq!(off.status, 200);
    let conflict = api.post(&format!("/{id}/replay"), 1, json!({})).await;
    assert_eq!((conflict.status, conflict.error()), (409, "conflict"), "{conflict:?}");
    assert!(conflict.body["message"].as_str().unwrap().contains("disabled by its owner"), "{conflict:?}");

    // 413: a body over the limit.
    let huge = json!({"event": "book.added", "target": format!("https://example.com/{}", "x".repeat(70_000))});
    let too_large = api.post("", 1, huge).await;
    assert_eq!((too_large.status, too_large.error()), (413, "payload_too_large"), "{too_large:?}");

    // 415: a body that is not JSON.
    let form = api
        .send(
            api.request(Method::POST, "")
                .bearer_auth("token-1")
                .header("content-type", "text/plain")
                .body("event=book.added"),
        )
        .await;
    assert_eq!((form.status, form.error()), (415, "unsupported_media_type"), "{form:?}");
    assert!(form.body["message"].as_str().unwrap().contains("`text/plain`"));

    // 422: an unknown event (naming the known ones), a refused target, a missing or unknown field.
    let typo = api.post("", 1, json!({"event": "book.addded", "target": h.receiver.url("a")})).await;
    assert_eq!((typo.status, typo.error(), typo.body["field"].as_str()), (422, "validation", Some("event")));
    let message = typo.body["message"].as_str().unwrap();
    assert!(message.starts_with("unknown event `book.addded`; known: book.added, book.changed"), "{message}");
    let ftp = api.post("", 1, json!({"event": "book.added", "target": "ftp://example.com/x"})).await;
    assert_eq!((ftp.status, ftp.body["field"].as_str()), (422, Some("target")), "{ftp:?}");
    let private = api.post("", 1, json!({"event": "book.added", "target": "http://10.0.0.8/hook"})).await;
    assert_eq!((private.status, private.body["field"].as_str()), (422, Some("target")), "{private:?}");
    let missing = api.post("", 1, json!({"event": "book.added"})).await;
    assert_eq!((missing.status, missing.body["field"].as_str()), (422, Some("target")), "{missing:?}");
    let unknown = api.call(Method::PATCH, &format!("/{id}"), Some(1), Some(json!({"tagret": "x"}))).await;
    assert_eq!((unknown.status, unknown.body["field"].as_str()), (422, Some("tagret")), "{unknown:?}");
    let wrong_type = api.call(Method::PATCH, &format!("/{id}"), Some(1), Some(json!({"active": "no"}))).await;
    assert_eq!((wrong_type.status, wrong_type.body["field"].as_str()), (422, Some("active")), "{wrong_type:?}");

    // Every error answer has the same keys.
    for answer in [&broken, &anonymous, &put, &conflict, &too_large, &form, &typo] {
        let keys: BTreeSet<&str> = answer.body.as_object().unwrap().keys().map(String::as_str).collect();
        assert!(keys.is_subset(&BTreeSet::from(["error", "field", "message"])), "{answer:?}");
        assert!(answer.body["message"].is_string());
        assert_eq!(answer.headers["content-type"], "application/json");
    }
}

#[tokio::test]
async fn an_owner_cannot_touch_another_owners_hook() {
    let h = Harness::with(|b| b.retry_policy(RetryPolicy::no_retries())).await;
    let api = ApiServer::of(&h).await;
    h.receiver.respond("alice", 500);
    let alice = api.subscribe(1, "book.added", &h.receiver.url("alice")).await;
    let id = alice["id"].as_i64().unwrap();
    api.subscribe(2, "book.added", &h.receiver.url("bob")).await;
    h.run(new_book(1, "Persuasion").insert(&h.db)).await.unwrap();
    h.receiver.wait_for(1).await;
    let attempts = rest_hooks_tests::eventually("alice's failed attempt", || async {
        let answer = api.get(&format!("/{id}/attempts"), 1).await;
        answer.body["attempts"].as_array().filter(|a| !a.is_empty()).cloned()
    })
    .await;
    let delivery = attempts[0]["delivery"].clone();

    // Bob (owner 2) gets the same 404 for Alice's hook as for one that does not exist, on every
    // endpoint, and guessing ids shows him nothing but his own.
    let missing = api.get("/424242", 2).await;
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/{id}"), None),
        (Method::PATCH, format!("/{id}"), Some(json!({"target": h.receiver.url("bob-now")}))),
        (Method::PATCH, format!("/{id}"), Some(json!({"active": false}))),
        (Method::DELETE, format!("/{id}"), None),
        (Method::POST, format!("/{id}/test"), None),
        (Method::GET, format!("/{id}/attempts"), None),
        (Method::POST, format!("/{id}/replay"), Some(json!({}))),
        (Method::POST, format!("/{id}/replay"), Some(json!({"delivery": delivery}))),
        (Method::POST, format!("/{id}/rotate-secret"), None),
    ];
    for (method, path, body) in calls {
        let answer = api.call(method.clone(), &path, Some(2), body).await;
        assert_eq!(answer.status, 404, "{method} {path}: {answer:?}");
        assert_eq!(answer.body["error"], missing.body["error"]);
        assert_eq!(answer.body["message"], format!("no hook `{id}`"), "{method} {path}");
    }
    for guess in 1..=id + 2 {
        let answer = api.get(&format!("/{guess}"), 2).await;
        assert!(answer.status == 404 || answer.body["target"] == h.receiver.url("bob"), "{guess}: {answer:?}");
    }
    let bobs = api.get("", 2).await.body["hooks"].clone();
    assert_eq!(bobs.as_array().unwrap().len(), 1);
    assert_eq!(bobs[0]["target"], h.receiver.url("bob"));

    // Bob's own hook id does not reach Alice's delivery either.
    let bob_id = bobs[0]["id"].as_i64().unwrap();
    let through_his = api.post(&format!("/{bob_id}/replay"), 2, json!({"delivery": delivery})).await;
    assert_eq!(through_his.status, 404, "{through_his:?}");
    assert_eq!(
        through_his.body["message"],
        format!("hook `{bob_id}` has no delivery `{}`", delivery.as_str().unwrap())
    );

    // Alice's hook is as it was: same target, active, same secret and no rotated one beside it, her
    // delivery still failed after its one attempt (no replay was scheduled), no test sent.
    let after = api.get(&format!("/{id}"), 1).await.body;
    assert_eq!((after["target"].clone(), after["active"].clone()), (json!(h.receiver.url("alice")), json!(true)));
    let stored = rest_hooks::hook::Entity::find_by_id(id).one(&h.db).await.unwrap().unwrap();
    assert_eq!(stored.secret.as_ref().map(|s| s.expose().to_owned()).as_deref(), alice["secret"].as_str());
    assert!(stored.previous_secret.is_none(), "not rotated");
    let delivery_id: uuid::Uuid = delivery.as_str().unwrap().parse().unwrap();
    let row = rest_hooks::store::delivery::Entity::find_by_id(delivery_id).one(&h.db).await.unwrap().unwrap();
    assert_eq!((row.state, row.attempts), (rest_hooks::store::delivery::state::FAILED, 1), "not replayed");
    assert_eq!(h.receiver.count("alice"), 1, "no test reached Alice's receiver");
    h.receiver.respond("alice", 200);
    h.run(new_book(1, "Emma").insert(&h.db)).await.unwrap();
    let received = h.receiver.wait_for(2).await;
    let latest = received.iter().rfind(|r| r.path == "/alice").unwrap();
    verify(alice["secret"].as_str().unwrap(), latest);

    // Alice herself can replay her failed delivery.
    let replayed = api.post(&format!("/{id}/replay"), 1, json!({"delivery": delivery})).await;
    assert_eq!((replayed.status, replayed.body["replayed"].as_u64()), (202, Some(1)), "{replayed:?}");
    h.receiver.wait_for(3).await;
}

#[tokio::test]
async fn the_event_catalogue_names_kinds_models_and_actions() {
    let h = Harness::new().await;
    let api = ApiServer::serve(HooksApi::new(h.engine.clone(), bearer).unwrap().offer_events(|_| true)).await;
    let answer = api.get("/events", 1).await;
    assert_eq!(answer.status, 200);
    let events = answer.body["events"].as_array().unwrap();
    let names: Vec<&str> = events.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["book.added", "book.changed", "book.featured", "book.read", "book.removed", "user.logged_in"]);
    assert_eq!(
        events[0],
        json!({"name": "book.added", "kind": "change", "model": "bookstore.Book", "action": "created", "all_owners": false})
    );
    assert_eq!(events[2]["kind"], "custom");
    assert_eq!(events[2]["all_owners"], true);
    assert_eq!(
        events[5],
        json!({"name": "user.logged_in", "kind": "raw", "model": null, "action": null, "all_owners": false})
    );
}

#[tokio::test]
async fn a_test_delivery_is_signed_sent_now_and_reported() {
    let h = Harness::new().await;
    let api = ApiServer::of(&h).await;
    let hook = api.subscribe(1, "book.added", &h.receiver.url("ok")).await;
    let id = hook["id"].as_i64().unwrap();

    let answer = api.call(Method::POST, &format!("/{id}/test"), Some(1), None).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!((answer.body["delivered"].as_bool(), answer.body["status"].as_u64()), (Some(true), Some(200)));
    let received = h.receiver.received();
    assert_eq!(received.len(), 1, "sent before the answer");
    assert_eq!(
        received[0].body,
        json!({"hook": {"id": id, "event": "book.added", "target": h.receiver.url("ok")}, "data": {"test": true}})
    );
    assert_eq!(received[0].headers["webhook-id"], answer.body["message_id"].as_str().unwrap());
    verify(hook["secret"].as_str().unwrap(), &received[0]);

    h.receiver.reply("broken", rest_hooks_tests::Reply::status(503).body("down for maintenance"));
    let broken = api.subscribe(1, "book.added", &h.receiver.url("broken")).await;
    let answer = api.call(Method::POST, &format!("/{}/test", broken["id"]), Some(1), None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["delivered"], false);
    assert_eq!(
        (answer.body["status"].as_u64(), answer.body["response"].as_str()),
        (Some(503), Some("down for maintenance"))
    );

    // Tests are not deliveries: the log and the hook's health are untouched.
    assert_eq!(api.get(&format!("/{}/attempts", broken["id"]), 1).await.body["attempts"], json!([]));
    assert_eq!(api.get(&format!("/{}", broken["id"]), 1).await.body["active"], true);
}

#[tokio::test]
async fn patch_changes_the_target_and_turns_the_hook_off_and_on() {
    let h = Harness::new().await;
    let api = ApiServer::of(&h).await;
    let hook = api.subscribe(1, "book.added", &h.receiver.url("old")).await;
    let path = format!("/{}", hook["id"]);

    let moved = api
        .call(Method::PATCH, &path, Some(1), Some(json!({"target": h.receiver.url("new"), "event": "book.changed"})))
        .await;
    assert_eq!(moved.status, 200, "{moved:?}");
    assert_eq!(
        (moved.body["target"].as_str(), moved.body["event"].as_str()),
        (Some(h.receiver.url("new").as_str()), Some("book.changed"))
    );
    let refused = api.call(Method::PATCH, &path, Some(1), Some(json!({"event": "book.nope"}))).await;
    assert_eq!((refused.status, refused.body["field"].as_str()), (422, Some("event")));
    assert_eq!(api.get(&path, 1).await.body["event"], "book.changed", "a refused change changes nothing");

    let off = api.call(Method::PATCH, &path, Some(1), Some(json!({"active": false}))).await;
    assert_eq!(
        (off.body["active"].as_bool(), off.body["disabled_reason"].as_str()),
        (Some(false), Some("disabled by its owner"))
    );
    assert_eq!(api.get("", 1).await.body["hooks"][0]["active"], false);
    let book = h.run(new_book(1, "Dracula").insert(&h.db)).await.unwrap();
    let mut active: book::ActiveModel = book.into();
    active.title = sea_orm::Set("Carmilla".into());
    // A marker hook shows the update was dispatched; the disabled hook got nothing.
    api.subscribe(1, "book.changed", &h.receiver.url("marker")).await;
    let book = h.run(active.update(&h.db)).await.unwrap();
    h.receiver.wait_for(1).await;
    assert_eq!((h.receiver.count("marker"), h.receiver.count("new")), (1, 0));

    let on = api.call(Method::PATCH, &path, Some(1), Some(json!({"active": true}))).await;
    assert_eq!(on.body["active"], true);
    assert!(on.body.get("disabled_reason").is_none());
    let mut active: book::ActiveModel = book.into();
    active.title = sea_orm::Set("Camilla".into());
    h.run(active.update(&h.db)).await.unwrap();
    h.receiver.wait_for(3).await;
    assert_eq!(h.receiver.count("new"), 1);
}

#[tokio::test]
async fn replay_sends_failed_deliveries_again_and_the_log_shows_both_attempts() {
    let h = Harness::with(|b| b.retry_policy(RetryPolicy::no_retries())).await;
    let api = ApiServer::of(&h).await;
    h.receiver.respond("flaky", 500);
    let hook = api.subscribe(1, "book.added", &h.receiver.url("flaky")).await;
    let id = hook["id"].as_i64().unwrap();
    h.run(new_book(1, "Middlemarch").insert(&h.db)).await.unwrap();
    h.receiver.wait_for(1).await;
    rest_hooks_tests::eventually("the failed attempt", || async {
        let answer = api.get(&format!("/{id}/attempts"), 1).await;
        (answer.body["attempts"].as_array().map(Vec::len) == Some(1)).then_some(())
    })
    .await;

    let range = api
        .post(&format!("/{id}/replay"), 1, json!({"from": "2030-01-01T00:00:00Z", "to": "2020-01-01T00:00:00Z"}))
        .await;
    assert_eq!((range.status, range.body["field"].as_str()), (422, Some("to")), "{range:?}");
    let half = api.post(&format!("/{id}/replay"), 1, json!({"from": "2020-01-01T00:00:00Z"})).await;
    assert_eq!((half.status, half.body["field"].as_str()), (422, Some("to")), "{half:?}");

    h.receiver.respond("flaky", 200);
    let replayed = api.call(Method::POST, &format!("/{id}/replay"), Some(1), None).await;
    assert_eq!((replayed.status, replayed.body["replayed"].as_u64()), (202, Some(1)), "{replayed:?}");
    let received = h.receiver.wait_for(2).await;
    assert_eq!(received[0].headers["webhook-id"], received[1].headers["webhook-id"], "the same delivery");
    let attempts = rest_hooks_tests::eventually("both attempts", || async {
        let answer = api.get(&format!("/{id}/attempts?limit=10"), 1).await;
        answer.body["attempts"].as_array().filter(|a| a.len() == 2).cloned()
    })
    .await;
    let statuses: Vec<_> = attempts.iter().map(|a| a["status"].as_i64()).collect();
    assert_eq!(statuses, [Some(200), Some(500)], "newest first");
    assert_eq!(api.get(&format!("/{id}/attempts?limit=1"), 1).await.body["attempts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn replay_says_how_many_failed_deliveries_still_wait_for_a_retry() {
    let in_an_hour = std::time::Duration::from_secs(3600);
    let h =
        Harness::with(|b| b.retry_policy(RetryPolicy::new([std::time::Duration::ZERO, in_an_hour]).jitter(0.0))).await;
    let api = ApiServer::of(&h).await;
    h.receiver.respond("flaky", 500);
    let hook = api.subscribe(1, "book.added", &h.receiver.url("flaky")).await;
    let id = hook["id"].as_i64().unwrap();
    let before = chrono::Utc::now();
    h.run(new_book(1, "Middlemarch").insert(&h.db)).await.unwrap();
    h.receiver.wait_for(1).await;

    // Not dead, so not sent again: the answer counts it as waiting, with its retry's time.
    let replay = rest_hooks_tests::eventually("the delivery to wait for its retry", || async {
        let replay = api.call(Method::POST, &format!("/{id}/replay"), Some(1), None).await;
        (replay.body["waiting"].as_u64() == Some(1)).then_some(replay)
    })
    .await;
    assert_eq!((replay.status, replay.body["replayed"].as_u64()), (202, Some(0)), "{replay:?}");
    let next: chrono::DateTime<chrono::Utc> = replay.body["next_retry_at"].as_str().unwrap().parse().unwrap();
    let hour = chrono::Duration::hours(1);
    assert!(next > before + hour - chrono::Duration::minutes(1) && next < chrono::Utc::now() + hour, "{next}");

    // Replayed one by one, it is due now: no longer waiting.
    let delivery = api.get(&format!("/{id}/attempts"), 1).await.body["attempts"][0]["delivery"].clone();
    let replay = api.post(&format!("/{id}/replay"), 1, json!({"delivery": delivery})).await;
    assert_eq!((replay.body["replayed"].as_u64(), replay.body["waiting"].as_u64()), (Some(1), Some(0)), "{replay:?}");
    assert_eq!(replay.body["next_retry_at"], Value::Null);
}

#[tokio::test]
async fn rotating_the_secret_shows_the_new_one_which_then_signs() {
    let h = Harness::new().await;
    let api = ApiServer::of(&h).await;
    let hook = api.subscribe(1, "book.added", &h.receiver.url("a")).await;
    let rotated = api.call(Method::POST, &format!("/{}/rotate-secret", hook["id"]), Some(1), None).await;
    assert_eq!(rotated.status, 200, "{rotated:?}");
    let secret = rotated.body["secret"].as_str().unwrap();
    assert_ne!(secret, hook["secret"].as_str().unwrap());
    assert!(rotated.body["previous_secret_until"].is_string());
    h.run(new_book(1, "Beloved").insert(&h.db)).await.unwrap();
    let received = h.receiver.wait_for(1).await;
    verify(secret, &received[0]);
    verify(hook["secret"].as_str().unwrap(), &received[0]);
}

#[tokio::test]
async fn the_list_pages_by_id_and_filters_by_event() {
    let h = Harness::new().await;
    let api = ApiServer::of(&h).await;
    for (event, path) in [("book.added", "a"), ("book.changed", "b"), ("book.added", "c")] {
        api.subscribe(3, event, &h.receiver.url(path)).await;
    }
    let first = api.get("?limit=2", 3).await.body;
    assert_eq!((first["hooks"].as_array().unwrap().len(), first["has_more"].as_bool()), (2, Some(true)));
    let last = first["hooks"][1]["id"].clone();
    let second = api.get(&format!("?limit=2&starting_after={last}"), 3).await.body;
    assert_eq!((second["hooks"].as_array().unwrap().len(), second["has_more"].as_bool()), (1, Some(false)));
    assert_eq!(second["hooks"][0]["target"], h.receiver.url("c"));
    let added = api.get("?event=book.added", 3).await.body;
    let targets: Vec<_> = added["hooks"].as_array().unwrap().iter().map(|hook| hook["target"].clone()).collect();
    assert_eq!(targets, [json!(h.receiver.url("a")), json!(h.receiver.url("c"))]);
}

#[tokio::test]
async fn the_openapi_description_matches_the_routes() {
    let h = Harness::new().await;
    let api = ApiServer::serve(HooksApi::new(h.engine.clone(), bearer).unwrap()).await;
    let answer = api.send(api.request(Method::GET, "/openapi.json")).await;
    assert_eq!(answer.status, 200);
    let document = answer.body;
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"), "{document}");
    assert_eq!(document["servers"][0]["url"], MOUNT);
    let mut built = HooksApi::new(h.engine.clone(), bearer).unwrap().openapi();
    built["servers"] = document["servers"].clone();
    assert_eq!(built, document, "HooksApi::openapi is what the router serves");

    // Every documented operation is routed (it asks for credentials: 401, not 404 or 405) and
    // every method a documented path does not list is refused with 405.
    let all = ["get", "post", "put", "patch", "delete"];
    let paths = document["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path.replace("{id}", "1");
        for method in all {
            let answer =
                api.call(method.to_uppercase().parse().unwrap(), concrete.trim_end_matches('/'), None, None).await;
            if item.get(method).is_some() {
                operations += 1;
                if path == "/openapi.json" {
                    assert_eq!(answer.status, 200, "the description itself is public: {answer:?}");
                    continue;
                }
                assert_eq!(answer.status, 401, "{method} {path} is documented but answers {answer:?}");
                let documented = &item[method]["responses"];
                assert!(documented.get("401").is_some(), "{method} {path} documents its 401");
            } else {
                assert_eq!(answer.status, 405, "{method} {path} is not documented but answers {answer:?}");
            }
        }
    }
    assert_eq!(operations, 14, "{:?}", paths.keys().collect::<Vec<_>>());
    // Every routed operation of the API is among them.
    for (method, path) in [
        ("post", "/"),
        ("get", "/"),
        ("get", "/{id}"),
        ("patch", "/{id}"),
        ("delete", "/{id}"),
        ("get", "/events"),
        ("post", "/{id}/test"),
        ("get", "/{id}/attempts"),
        ("post", "/{id}/replay"),
        ("post", "/{id}/rotate-secret"),
        ("get", "/failed-events"),
        ("post", "/failed-events/{event_id}/replay"),
        ("get", "/stats"),
        ("get", "/openapi.json"),
    ] {
        assert!(document["paths"][path][method].is_object(), "{method} {path} is not documented");
    }
    // The portal's page and script are routed too, but they are pages, not operations: public,
    // answered with HTML and JavaScript, and left out of the description.
    for (path, content_type) in [("/portal", "text/html"), ("/portal.js", "text/javascript")] {
        assert!(!paths.contains_key(path), "{path} is a page, not an operation");
        let answer = api.send(api.request(Method::GET, path)).await;
        assert_eq!(answer.status, 200, "{path}: {answer:?}");
        assert!(answer.headers["content-type"].to_str().unwrap().starts_with(content_type), "{answer:?}");
        for method in ["post", "put", "patch", "delete"] {
            let answer = api.call(method.to_uppercase().parse().unwrap(), path, None, None).await;
            assert_eq!(answer.status, 405, "{method} {path}: {answer:?}");
        }
    }
    // A page starts after a hook id of the table served, and another text is refused: the crate's
    // table has integer ids.
    let list = document["paths"]["/"]["get"]["parameters"].as_array().unwrap();
    let after = list.iter().find(|parameter| parameter["name"] == "starting_after").unwrap();
    assert_eq!(after["schema"], json!({"type": "integer", "format": "int64"}));
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for schema in ["HookView", "Subscribe", "ErrorBody", "EventList", "TestOutcome"] {
        assert!(schemas.contains_key(schema), "schema {schema}: {:?}", schemas.keys().collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn deleting_a_hook_drops_its_pending_retries() {
    use rest_hooks::store::delivery;
    use sea_orm::EntityTrait;

    let h = Harness::new().await;
    let api = ApiServer::of(&h).await;
    h.receiver.respond("down", 503);
    let hook = api.subscribe(1, "book.added", &h.receiver.url("down")).await;
    h.run(new_book(1, "Rebecca").insert(&h.db)).await.unwrap();
    h.receiver.wait_for(1).await;
    let retry = rest_hooks_tests::eventually("the first attempt's outcome", || async {
        let row = delivery::Entity::find().one(&h.db).await.unwrap()?;
        (row.attempts == 1).then_some(row)
    })
    .await;
    assert_eq!(retry.state, delivery::state::PENDING, "a retry is scheduled");

    assert_eq!(api.call(Method::DELETE, &format!("/{}", hook["id"]), Some(1), None).await.status, 204);
    let row = delivery::Entity::find_by_id(retry.id).one(&h.db).await.unwrap().unwrap();
    assert_eq!((row.state, row.last_error.as_deref()), (delivery::state::FAILED, Some("the hook was deleted")));
    let id = rest_hooks::HookId::Int(hook["id"].as_i64().unwrap());
    assert_eq!(h.engine.hook_state(&id).await.unwrap(), None, "its state went with it");
    assert_eq!(h.engine.attempts_of_hook(&id, 10).await.unwrap().len(), 1, "the log stays");
}

#[tokio::test]
async fn a_database_failure_is_a_500_that_says_nothing_of_the_database() {
    use sea_orm::ConnectionTrait;

    let h = Harness::new().await;
    let api = ApiServer::of(&h).await;
    let hook = api.subscribe(1, "book.added", &h.receiver.url("a")).await;
    h.db.execute_unprepared("DROP TABLE rest_hooks_hook_state").await.unwrap();
    let answer = api.get(&format!("/{}", hook["id"]), 1).await;
    assert_eq!((answer.status, answer.error()), (500, "internal"), "{answer:?}");
    assert_eq!(answer.body["message"], "the server could not complete the request");
}

/// `docs/openapi.json` is the description the router serves, so that API changes show in review
/// and client generators have a file to read. `REST_HOOKS_BLESS=1` writes it anew.
#[tokio::test]
async fn the_committed_openapi_document_is_current() {
    let h = Harness::new().await;
    let document = HooksApi::new(h.engine.clone(), bearer).unwrap().openapi();
    let text = format!("{}\n", serde_json::to_string_pretty(&document).unwrap());
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    if std::env::var_os("REST_HOOKS_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{} is not the API's description: run the suite with REST_HOOKS_BLESS=1",
        path.display()
    );
}

/// An authentication that has to wait (here for a database round trip before it reads its token
/// table), through `OwnerAuth`'s `async fn`.
struct TokenTable(sea_orm::DatabaseConnection);

impl rest_hooks::api::OwnerAuth for TokenTable {
    async fn owner(&self, request: &axum::http::request::Parts) -> Result<rest_hooks::Owner, rest_hooks::api::Refusal> {
        use rest_hooks::api::Refusal;

        self.0.ping().await.map_err(|e| Refusal::unauthorized(format!("the token table is down: {e}")))?;
        match request.headers.get("x-token").and_then(|v| v.to_str().ok()) {
            Some("seven") => Ok(rest_hooks::Owner::from(7)),
            _ => Err(Refusal::unauthorized("unknown token")),
        }
    }
}

#[tokio::test]
async fn an_async_authentication_scopes_like_any_other() {
    let h = Harness::new().await;
    let api = ApiServer::serve(HooksApi::new(h.engine.clone(), TokenTable(h.db.clone())).unwrap()).await;
    let subscribe = api
        .request(Method::POST, "")
        .header("x-token", "seven")
        .header("content-type", "application/json")
        .body(json!({"event": "book.added", "target": h.receiver.url("seven")}).to_string());
    let created = api.send(subscribe).await;
    assert_eq!(created.status, 201, "{created:?}");
    let listed = api.send(api.request(Method::GET, "").header("x-token", "seven")).await;
    assert_eq!(listed.body["hooks"][0]["id"], created.body["id"]);
    let refused = api.send(api.request(Method::GET, "").header("x-token", "eight")).await;
    assert_eq!((refused.status, refused.body["message"].as_str()), (401, Some("unknown token")));

    // The hook is owner 7's: a book of user 7 reaches it.
    h.run(new_book(7, "Kim").insert(&h.db)).await.unwrap();
    assert_eq!(h.receiver.wait_for(1).await[0].path, "/seven");
}

#[tokio::test]
async fn a_new_target_takes_the_retries_and_replays_with_it() {
    let h = Harness::with(|b| b.retry_policy(RetryPolicy::no_retries())).await;
    let api = ApiServer::of(&h).await;
    h.receiver.respond("old", 500);
    let hook = api.subscribe(1, "book.added", &h.receiver.url("old")).await;
    let id = hook["id"].as_i64().unwrap();
    h.run(new_book(1, "Nostromo").insert(&h.db)).await.unwrap();
    h.receiver.wait_for(1).await;
    rest_hooks_tests::eventually("the failed attempt", || async {
        let answer = api.get(&format!("/{id}/attempts"), 1).await;
        (answer.body["attempts"].as_array().map(Vec::len) == Some(1)).then_some(())
    })
    .await;

    let moved =
        api.call(Method::PATCH, &format!("/{id}"), Some(1), Some(json!({"target_url": h.receiver.url("new")}))).await;
    assert_eq!((moved.status, moved.body["target"].as_str()), (200, Some(h.receiver.url("new").as_str())), "{moved:?}");
    // An empty body, sent with a JSON content type as generated clients do, replays every failure.
    let replay = api
        .send(
            api.request(Method::POST, &format!("/{id}/replay"))
                .bearer_auth("token-1")
                .header("content-type", "application/json"),
        )
        .await;
    assert_eq!((replay.status, replay.body["replayed"].as_u64()), (202, Some(1)), "{replay:?}");
    let received = h.receiver.wait_for(2).await;
    assert_eq!(received[1].path, "/new", "the replay went where the hook points now");
    verify(hook["secret"].as_str().unwrap(), &received[1]);
}

/// `null`, which a client generated from the OpenAPI description may send for the optional body,
/// replays every failure as no body does.
#[tokio::test]
async fn a_null_replay_body_replays_every_failure() {
    let h = Harness::with(|b| b.retry_policy(RetryPolicy::no_retries())).await;
    let api = ApiServer::of(&h).await;
    h.receiver.respond("down", 500);
    let hook = api.subscribe(1, "book.added", &h.receiver.url("down")).await;
    let id = hook["id"].as_i64().unwrap();
    h.run(new_book(1, "Persuasion").insert(&h.db)).await.unwrap();
    h.receiver.wait_for(1).await;
    rest_hooks_tests::eventually("the failed attempt", || async {
        let answer = api.get(&format!("/{id}/attempts"), 1).await;
        (answer.body["attempts"].as_array().map(Vec::len) == Some(1)).then_some(())
    })
    .await;

    h.receiver.respond("down", 200);
    let replay = api.post(&format!("/{id}/replay"), 1, Value::Null).await;
    assert_eq!((replay.status, replay.body["replayed"].as_u64()), (202, Some(1)), "{replay:?}");
    h.receiver.wait_for(2).await;
    let refused = api.post(&format!("/{id}/replay"), 1, json!([])).await;
    assert_eq!(refused.status, 422, "JSON of another shape is still refused: {refused:?}");
}

#[tokio::test]
async fn a_refused_target_does_not_say_what_its_host_resolves_to() {
    let internal: std::net::SocketAddr = "10.0.3.7:80".parse().unwrap();
    let resolver = rest_hooks_tests::TestResolver::default().map("db.internal.test", &[internal]);
    let h = Harness::with(|b| b.resolver(resolver)).await;
    let api = ApiServer::of(&h).await;
    let answer = api.post("", 1, json!({"event": "book.added", "target": "http://db.internal.test/"})).await;
    assert_eq!((answer.status, answer.body["field"].as_str()), (422, Some("target")), "{answer:?}");
    let message = answer.body["message"].as_str().unwrap();
    assert!(message.contains("does not send to"), "{message}");
    assert!(!message.contains("10.0.3.7") && !message.contains("allow_targets"), "{message}");
    // The engine's own error, for the application's developer, still says it all.
    let direct = h.engine.check_target("http://db.internal.test/").await.unwrap_err().to_string();
    assert!(direct.contains("10.0.3.7"), "{direct}");
}

#[tokio::test]
async fn all_owner_events_are_not_offered_unless_the_application_says_so() {
    let h = Harness::new().await;
    let api = ApiServer::of(&h).await;

    let events = api.get("/events", 1).await.body;

    let names: Vec<&str> = events["events"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["book.added", "book.changed", "book.read", "book.removed", "user.logged_in"]);
    let refused = api.post("", 2, json!({"event": "book.featured", "target": h.receiver.url("bob")})).await;
    assert_eq!((refused.status, refused.body["field"].as_str()), (422, Some("event")), "{refused:?}");
    assert_eq!(rest_hooks::hook::Entity::find().all(&h.db).await.unwrap(), []);
}

#[tokio::test]
async fn only_offered_events_are_listed_and_subscribable() {
    let h = Harness::new().await;
    let api = HooksApi::new(h.engine.clone(), bearer).unwrap().offer_events(|event| !event.all_owners);
    let api = ApiServer::serve(api).await;
    let events = api.get("/events", 1).await.body;
    let names: Vec<&str> = events["events"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert!(!names.contains(&"book.featured"), "{names:?}");
    let refused = api.post("", 1, json!({"event": "book.featured", "target": h.receiver.url("all")})).await;
    assert_eq!((refused.status, refused.body["field"].as_str()), (422, Some("event")), "{refused:?}");
    let message = refused.body["message"].as_str().unwrap();
    assert_eq!(
        message,
        "unknown event `book.featured`; known: book.added, book.changed, book.read, book.removed, user.logged_in"
    );
}

#[tokio::test]
async fn an_authentication_can_forbid_or_be_unavailable() {
    use rest_hooks::api::Refusal;

    let h = Harness::new().await;
    let auth = |request: &axum::http::request::Parts| match request.headers.get("x-user").and_then(|v| v.to_str().ok())
    {
        Some("guest") => Err(Refusal::forbidden("guests cannot manage hooks")),
        Some("down") => Err(Refusal::unavailable("the session store is down; try again")),
        _ => Err(Refusal::unauthorized("who are you?")),
    };
    let api = ApiServer::serve(HooksApi::new(h.engine.clone(), auth).unwrap()).await;
    for (user, status, error) in [("guest", 403, "forbidden"), ("down", 503, "unavailable"), ("x", 401, "unauthorized")]
    {
        let answer = api.send(api.request(Method::GET, "").header("x-user", user)).await;
        assert_eq!((answer.status, answer.error()), (status, error), "{user}: {answer:?}");
    }
}

#[tokio::test]
async fn an_engine_with_its_own_hook_entity_is_served_and_one_naming_the_crates_table_too() {
    let h = Harness::with(|b| b.hook_entity::<rest_hooks_tests::entities::webhook::Entity>().unsigned()).await;
    assert!(HooksApi::new(h.engine.clone(), bearer).is_ok(), "the application's own entity is served");
    let h = Harness::with(|b| b.hook_entity::<rest_hooks::hook::Entity>()).await;
    assert!(HooksApi::new(h.engine.clone(), bearer).is_ok(), "naming the crate's own table is fine");
}

#[tokio::test]
async fn a_deleted_hooks_id_is_not_given_again() {
    let h = Harness::new().await;
    let api = ApiServer::of(&h).await;
    let first = api.subscribe(1, "book.added", &h.receiver.url("a")).await;
    api.call(Method::DELETE, &format!("/{}", first["id"]), Some(1), None).await;
    let second = api.subscribe(2, "book.added", &h.receiver.url("b")).await;
    assert!(
        second["id"].as_i64() > first["id"].as_i64(),
        "{first} then {second}: the log of one would show as the other's"
    );
}

#[tokio::test]
async fn owners_that_differ_only_in_case_are_apart() {
    let h = Harness::new().await;
    let auth = |request: &axum::http::request::Parts| {
        // Headers lose trailing spaces on the way: `padded` stands for an owner key that has one.
        let user = request.headers.get("x-user").and_then(|v| v.to_str().ok());
        let user = user.map(|user| if user == "padded" { "Alice " } else { user });
        user.map(rest_hooks::Owner::from).ok_or_else(|| rest_hooks::api::Refusal::unauthorized("who?"))
    };
    let api = ApiServer::serve(HooksApi::new(h.engine.clone(), auth).unwrap()).await;
    let as_user = |user: &str, method: Method, path: &str| api.request(method, path).header("x-user", user);
    let body = json!({"event": "book.added", "target": h.receiver.url("alice")}).to_string();
    let created =
        api.send(as_user("Alice", Method::POST, "").header("content-type", "application/json").body(body)).await;
    assert_eq!(created.status, 201, "{created:?}");
    let id = created.body["id"].as_i64().unwrap();
    for user in ["alice", "ALICE", "padded"] {
        let listed = api.send(as_user(user, Method::GET, "")).await;
        assert_eq!(listed.body["hooks"], json!([]), "{user:?} sees Alice's hooks: {listed:?}");
        assert_eq!(api.send(as_user(user, Method::GET, &format!("/{id}"))).await.status, 404, "{user:?}");
    }
    assert_eq!(api.send(as_user("Alice", Method::GET, &format!("/{id}"))).await.status, 200);
}

#[tokio::test]
async fn a_delivered_delivery_replayed_after_a_new_target_goes_to_the_new_one() {
    let h = Harness::new().await;
    let api = ApiServer::of(&h).await;
    let hook = api.subscribe(1, "book.added", &h.receiver.url("before")).await;
    let id = hook["id"].as_i64().unwrap();
    h.run(new_book(1, "Walden").insert(&h.db)).await.unwrap();
    h.receiver.wait_for(1).await;
    let attempts = rest_hooks_tests::eventually("the delivered attempt", || async {
        let answer = api.get(&format!("/{id}/attempts"), 1).await;
        answer.body["attempts"].as_array().filter(|a| !a.is_empty()).cloned()
    })
    .await;
    api.call(Method::PATCH, &format!("/{id}"), Some(1), Some(json!({"target": h.receiver.url("after")}))).await;
    let replay = api.post(&format!("/{id}/replay"), 1, json!({"delivery": attempts[0]["delivery"]})).await;
    assert_eq!((replay.status, replay.body["replayed"].as_u64()), (202, Some(1)), "{replay:?}");
    let received = h.receiver.wait_for(2).await;
    assert_eq!((received[0].path.as_str(), received[1].path.as_str()), ("/before", "/after"));
    assert_eq!(received[0].headers["webhook-id"], received[1].headers["webhook-id"]);
}

#[tokio::test]
async fn unsubscribing_inside_a_transaction_commits_or_rolls_back_with_it() {
    use sea_orm::TransactionTrait;

    let h = Harness::new().await;
    let hook = h.subscribe(Some(1), "book.added", "a").await;
    let txn = h.db.begin().await.unwrap();
    assert!(h.engine.unsubscribe(&txn, hook.id).await.unwrap());
    txn.rollback().await.unwrap();
    assert!(rest_hooks::hook::Entity::find_by_id(hook.id).one(&h.db).await.unwrap().is_some(), "rolled back");
    let txn = h.db.begin().await.unwrap();
    assert!(h.engine.unsubscribe(&txn, hook.id).await.unwrap());
    txn.commit().await.unwrap();
    assert!(rest_hooks::hook::Entity::find_by_id(hook.id).one(&h.db).await.unwrap().is_none(), "committed");
    assert!(!h.engine.unsubscribe(&h.db, hook.id).await.unwrap(), "gone already");
}

#[tokio::test]
async fn a_kept_alive_connection_survives_answers_that_did_not_need_the_body() {
    let h = Harness::new().await;
    let api = ApiServer::serve(HooksApi::new(h.engine.clone(), bearer).unwrap().body_limit(1024)).await;
    let hook = api.subscribe(1, "book.added", &h.receiver.url("a")).await;
    let id = hook["id"].as_i64().unwrap();
    let anonymous: &[(&str, &str)] = &[("content-type", "application/json")];
    let alice: &[(&str, &str)] = &[("content-type", "application/json"), ("authorization", "Bearer token-1")];
    let body = json!({"event": "book.added", "target": h.receiver.url("b")}).to_string();
    let cases = [
        ("POST", String::new(), anonymous, 401),
        ("POST", "/nothing/here".to_owned(), alice, 404),
        ("PUT", String::new(), alice, 405),
        ("POST", format!("/{id}/test"), alice, 200),
        ("POST", format!("/{id}/rotate-secret"), alice, 200),
        ("POST", "/424242/rotate-secret".to_owned(), alice, 404),
        ("GET", "/openapi.json".to_owned(), anonymous, 200),
        ("GET", format!("/{id}"), alice, 200),
        ("POST", String::new(), alice, 201),
    ];
    for (method, path, headers, status) in cases {
        let mut connection = api.connect().await;
        let first = connection.send(method, &path, headers, body.as_bytes()).await;
        assert_eq!(first.status, status, "{method} {path}: {first:?}");
        assert!(!first.closes(), "{method} {path}: the body was within the limit, yet {first:?}");
        for _ in 0..3 {
            let next = connection.send("GET", "/events", &[("authorization", "Bearer token-1")], b"").await;
            assert_eq!(next.status, 200, "the request after {method} {path}: {next:?}");
        }
    }

    // A body over the limit is left unread: the answer says that the connection closes, and it does.
    let mut connection = api.connect().await;
    let too_large = connection.send("POST", "", alice, &[b' '; 2048]).await;
    assert_eq!((too_large.status, too_large.closes()), (413, true), "{too_large:?}");
    assert!(connection.is_closed().await, "closed after the 413");
}

/// Holds the test database's lock on hook `id` (SQLite: its write lock) until the returned
/// transaction ends: the API's writes to the hook meanwhile wait for it, after their reads.
async fn hold_hook(h: &Harness, id: i64) -> (DatabaseConnection, DatabaseTransaction) {
    let pool = h.pool(1).await;
    let txn = pool.begin().await.unwrap();
    let touched = rest_hooks::hook::Entity::update_many()
        .col_expr(rest_hooks::hook::Column::Owner, Expr::col(rest_hooks::hook::Column::Owner))
        .filter(rest_hooks::hook::Column::Id.eq(id))
        .exec(&txn)
        .await
        .unwrap();
    assert_eq!(touched.rows_affected, 1);
    (pool, txn)
}

/// Sends `count` requests `method path` as owner 1 at once; their statuses and bodies.
async fn at_once(api: &ApiServer, count: usize, method: Method, path: &str) -> Vec<(u16, Value)> {
    let mut batch = tokio::task::JoinSet::new();
    for _ in 0..count {
        let request = api.request(method.clone(), path).bearer_auth("token-1");
        batch.spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, serde_json::from_str::<Value>(&response.text().await.unwrap()).unwrap_or(Value::Null))
        });
    }
    batch.join_all().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_that_loses_a_race_answers_409_and_every_secret_answered_was_stored() {
    let h = Harness::new().await;
    let api = ApiServer::of(&h).await;
    let hook = api.subscribe(1, "book.added", &h.receiver.url("a")).await;
    let id = hook["id"].as_i64().unwrap();
    let original = hook["secret"].as_str().unwrap().to_owned();

    // The rotations read the hook's secret, then wait for the lock to write theirs.
    let (_pool, held) = hold_hook(&h, id).await;
    let rotating = {
        let api = ApiServer::of(&h).await;
        tokio::spawn(async move { at_once(&api, 40, Method::POST, &format!("/{id}/rotate-secret")).await })
    };
    rest_hooks_tests::real_sleep(std::time::Duration::from_millis(1000)).await;
    held.commit().await.unwrap();
    let answers = rotating.await.unwrap();

    let mut shown = Vec::new();
    for (status, body) in &answers {
        match status {
            200 => shown.push(body["secret"].as_str().unwrap().to_owned()),
            409 => assert_eq!(body["error"], "conflict", "{body}"),
            _ => panic!("{status}: {body}"),
        }
    }
    assert!(!shown.is_empty(), "one rotation wins: {answers:?}");
    assert!(shown.len() < answers.len(), "rotations of the same secret cannot all win: {answers:?}");
    let distinct: BTreeSet<&String> = shown.iter().collect();
    assert_eq!(distinct.len(), shown.len(), "every rotation that won made a secret of its own");
    // The winners replaced each other in turn: the last one's secret is current, the one before
    // it the previous (the original if only one won).
    let stored = rest_hooks::hook::Entity::find_by_id(id).one(&h.db).await.unwrap().unwrap();
    let current = stored.secret.unwrap().expose().to_owned();
    let previous = stored.previous_secret.unwrap().expose().to_owned();
    assert!(shown.contains(&current), "the current secret was answered");
    assert!(shown.contains(&previous) || (previous == original && shown.len() == 1), "{previous}");
    // The secret a winner was answered signs.
    h.run(new_book(1, "Raced").insert(&h.db)).await.unwrap();
    verify(&current, &h.receiver.wait_for(1).await[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_one_of_simultaneous_deletes_answers_204_the_others_404() {
    let h = Harness::new().await;
    let api = ApiServer::of(&h).await;
    let hook = api.subscribe(1, "book.added", &h.receiver.url("a")).await;
    let id = hook["id"].as_i64().unwrap();

    let (_pool, held) = hold_hook(&h, id).await;
    let deleting = {
        let api = ApiServer::of(&h).await;
        tokio::spawn(async move { at_once(&api, 8, Method::DELETE, &format!("/{id}")).await })
    };
    rest_hooks_tests::real_sleep(std::time::Duration::from_millis(1000)).await;
    held.commit().await.unwrap();
    let mut statuses: Vec<u16> = deleting.await.unwrap().into_iter().map(|(status, _)| status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [204, 404, 404, 404, 404, 404, 404, 404]);
    let again = api.call(Method::DELETE, &format!("/{id}"), Some(1), None).await;
    assert_eq!((again.status, again.error()), (404, "not_found"), "{again:?}");
}

#[tokio::test]
async fn only_a_hooks_canonical_id_reaches_it() {
    let h = Harness::new().await;
    let api = ApiServer::of(&h).await;
    let hook = api.subscribe(1, "book.added", &h.receiver.url("a")).await;
    let id = hook["id"].as_i64().unwrap();
    assert_eq!(api.get(&format!("/{id}"), 1).await.status, 200);
    for odd in [format!("+{id}"), format!("0{id}"), format!("00{id}"), format!("%2B{id}"), format!("%30{id}")] {
        let read = api.get(&format!("/{odd}"), 1).await;
        assert_eq!((read.status, read.error()), (404, "not_found"), "GET /{odd}: {read:?}");
        let rotated = api.call(Method::POST, &format!("/{odd}/rotate-secret"), Some(1), None).await;
        assert_eq!(rotated.status, 404, "POST /{odd}/rotate-secret: {rotated:?}");
        let deleted = api.call(Method::DELETE, &format!("/{odd}"), Some(1), None).await;
        assert_eq!(deleted.status, 404, "DELETE /{odd}: {deleted:?}");
    }
    let stored = rest_hooks::hook::Entity::find_by_id(id).one(&h.db).await.unwrap().expect("not deleted");
    assert_eq!(stored.secret.map(|s| s.expose().to_owned()).as_deref(), hook["secret"].as_str(), "not rotated");
}

#[tokio::test]
async fn a_percent_encoded_id_reaches_no_hook() {
    let h = Harness::new().await;
    let api = ApiServer::of(&h).await;
    for n in 0..12 {
        api.subscribe(1, "book.added", &h.receiver.url(&format!("h{n}"))).await;
    }
    let hook = api.subscribe(1, "book.added", &h.receiver.url("a")).await;
    let id = hook["id"].as_i64().unwrap().to_string();
    let every_digit: String = id.bytes().map(|digit| format!("%{digit:02X}")).collect();
    let first_digit = format!("%{:02X}{}", id.as_bytes()[0], &id[1..]);
    let last_digit = format!("{}%{:02x}", &id[..id.len() - 1], id.as_bytes()[id.len() - 1]);
    for odd in [every_digit, first_digit, last_digit] {
        for (method, path, body) in [
            (Method::GET, format!("/{odd}"), None),
            (Method::PATCH, format!("/{odd}"), Some(json!({"active": false}))),
            (Method::POST, format!("/{odd}/test"), None),
            (Method::GET, format!("/{odd}/attempts"), None),
            (Method::POST, format!("/{odd}/replay"), None),
            (Method::POST, format!("/{odd}/rotate-secret"), None),
            (Method::DELETE, format!("/{odd}"), None),
        ] {
            let answer = api.call(method.clone(), &path, Some(1), body).await;
            assert_eq!((answer.status, answer.error()), (404, "not_found"), "{method} {path}: {answer:?}");
        }
    }
    assert!(h.receiver.received().is_empty(), "no test delivery was sent");
    let read = api.get(&format!("/{id}"), 1).await;
    assert_eq!((read.status, read.body["active"].as_bool()), (200, Some(true)), "not deleted nor turned off");
    let stored = rest_hooks::hook::Entity::find_by_id(hook["id"].as_i64().unwrap()).one(&h.db).await.unwrap();
    assert_eq!(stored.unwrap().secret.map(|s| s.expose().to_owned()).as_deref(), hook["secret"].as_str());
}

#[tokio::test]
async fn the_mount_point_with_a_trailing_slash_is_the_collection_and_keeps_the_connection() {
    let h = Harness::new().await;
    let api = ApiServer::of(&h).await;
    let anonymous: &[(&str, &str)] = &[("content-type", "application/json")];
    let alice: &[(&str, &str)] = &[("content-type", "application/json"), ("authorization", "Bearer token-1")];
    let body = json!({"event": "book.added", "target": h.receiver.url("a")}).to_string();
    let mut connection = api.connect().await;

    let created = connection.send("POST", "/", alice, body.as_bytes()).await;
    assert_eq!(created.status, 201, "{created:?}");
    let hook: Value = serde_json::from_slice(&created.body).unwrap();
    assert_eq!(created.header("location"), Some(format!("{MOUNT}/{}", hook["id"]).as_str()));
    for (method, headers, status) in [("GET", alice, 200), ("POST", anonymous, 401), ("PUT", alice, 405)] {
        let answer = connection.send(method, "/", headers, body.as_bytes()).await;
        assert_eq!(answer.status, status, "{method} {MOUNT}/: {answer:?}");
        assert!(!answer.closes(), "{method} {MOUNT}/: {answer:?}");
        let next = connection.send("GET", "", &[("authorization", "Bearer token-1")], b"").await;
        assert_eq!(next.status, 200, "the request after {method} {MOUNT}/: {next:?}");
        let listed: Value = serde_json::from_slice(&next.body).unwrap();
        assert_eq!(listed["hooks"][0]["id"], hook["id"], "{listed}");
    }
    // A client that keeps its connections (reqwest's pool) sees the same answers on both paths.
    let with_slash = api.get("/", 1).await;
    let without = api.get("", 1).await;
    assert_eq!((with_slash.status, &with_slash.body), (without.status, &without.body));
}

#[tokio::test]
async fn every_answer_says_nosniff() {
    let h = Harness::new().await;
    let api = ApiServer::serve(HooksApi::new(h.engine.clone(), bearer).unwrap().body_limit(1024)).await;
    let hook = api.subscribe(1, "book.added", &h.receiver.url("a")).await;
    let id = hook["id"].as_i64().unwrap();
    let answers = [
        api.call(Method::POST, "", Some(1), Some(json!({"event": "book.added", "target": h.receiver.url("b")}))).await,
        api.get("", 1).await,
        api.get(&format!("/{id}"), 1).await,
        api.get("/events", 1).await,
        api.get("/stats", 1).await,
        api.call(Method::GET, "/openapi.json", None, None).await,
        api.call(Method::GET, "", None, None).await,
        api.get("/9999", 1).await,
        api.get("/no/such/route", 1).await,
        api.call(Method::PUT, "", Some(1), None).await,
        api.post("", 1, json!({"event": "book.addded", "target": h.receiver.url("c")})).await,
        api.post("", 1, json!({"event": "book.added", "target": "x".repeat(2000)})).await,
        api.call(Method::DELETE, &format!("/{id}"), Some(1), None).await,
    ];
    for answer in answers {
        assert_eq!(
            answer.headers.get("x-content-type-options").map(|v| v.as_bytes()),
            Some(&b"nosniff"[..]),
            "{answer:?}"
        );
    }
}

#[tokio::test]
async fn a_duplicate_hook_is_refused_with_409_naming_the_field() {
    let h = Harness::new().await;
    // The application allows one hook per owner and target.
    let columns = match h.db.get_database_backend() {
        sea_orm::DbBackend::MySql => "owner, target(191)",
        _ => "owner, target",
    };
    h.db.execute_unprepared(&format!("CREATE UNIQUE INDEX one_hook_per_target ON rest_hooks_hook ({columns})"))
        .await
        .unwrap();
    let api = ApiServer::of(&h).await;
    let first = api.subscribe(1, "book.added", &h.receiver.url("a")).await;
    let again = api.post("", 1, json!({"event": "book.changed", "target": h.receiver.url("a")})).await;
    assert_eq!(
        (again.status, again.error(), again.body["field"].as_str()),
        (409, "conflict", Some("target")),
        "{again:?}"
    );
    let message = again.body["message"].as_str().unwrap();
    assert!(message.contains("already") && !message.contains("rest_hooks_hook"), "{message}");

    let second = api.subscribe(1, "book.added", &h.receiver.url("b")).await;
    let moved = api
        .call(Method::PATCH, &format!("/{}", second["id"]), Some(1), Some(json!({"target": h.receiver.url("a")})))
        .await;
    assert_eq!((moved.status, moved.body["field"].as_str()), (409, Some("target")), "{moved:?}");
    assert_eq!(api.get(&format!("/{}", second["id"]), 1).await.body["target"], h.receiver.url("b"));
    assert_eq!(api.get(&format!("/{}", first["id"]), 1).await.status, 200);
    // Another owner may use the same target.
    api.subscribe(2, "book.added", &h.receiver.url("a")).await;
}

#[tokio::test]
async fn stats_count_the_callers_attempts_of_the_last_day_by_outcome() {
    let h = Harness::with(|b| b.retry_policy(RetryPolicy::no_retries())).await;
    let api = ApiServer::of(&h).await;
    h.receiver.respond("broken", 500);
    api.subscribe(1, "book.added", &h.receiver.url("fine")).await;
    api.subscribe(1, "book.added", &h.receiver.url("broken")).await;
    // Another owner's hooks get deliveries of their own, and a failure among them.
    api.subscribe(2, "book.added", &h.receiver.url("other")).await;
    api.subscribe(2, "book.added", &h.receiver.url("broken")).await;

    let empty = api.get("/stats", 1).await;
    assert_eq!(empty.status, 200, "{empty:?}");
    assert_eq!(empty.body["bucket_seconds"], 3600);
    let hours = empty.body["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 24);
    assert!(hours.iter().all(|hour| hour["delivered"] == 0 && hour["failed"] == 0), "{hours:?}");
    let start = |hour: &Value| hour["start"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    assert!(hours.windows(2).all(|pair| start(&pair[1]) - start(&pair[0]) == chrono::Duration::hours(1)));
    let now = chrono::Utc::now();
    assert!(start(&hours[23]) <= now && now - start(&hours[23]) < chrono::Duration::hours(1), "{hours:?}");

    for (owner, title) in [(1, "Dune"), (1, "Emma"), (2, "Ulysses")] {
        h.run(new_book(owner, title).insert(&h.db)).await.unwrap();
    }
    let totals = |answer: &Value| {
        answer["hours"].as_array().unwrap().iter().fold((0, 0), |(delivered, failed), hour| {
            (delivered + hour["delivered"].as_u64().unwrap(), failed + hour["failed"].as_u64().unwrap())
        })
    };
    let counted = rest_hooks_tests::eventually("every attempt counted", || async {
        let (one, two) = (api.get("/stats", 1).await.body, api.get("/stats", 2).await.body);
        (totals(&one) == (2, 2) && totals(&two) == (1, 1)).then_some((one, two))
    })
    .await;
    // All of it in the current hour.
    assert_eq!(
        (counted.0["hours"][23]["delivered"].as_u64(), counted.0["hours"][23]["failed"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(api.call(Method::GET, "/stats", None, None).await.status, 401);
    assert_eq!(api.get("/stats", 3).await.body["hours"].as_array().unwrap().len(), 24, "an owner without hooks");
}

#[tokio::test]
async fn the_portal_is_served_with_a_strict_policy_and_no_credentials() {
    let h = Harness::new().await;
    let api = ApiServer::of(&h).await;
    let page = api.request(Method::GET, "/portal").send().await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'") && policy.contains("default-src 'none'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'") && !policy.contains("unsafe"), "{policy}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<script src="portal.js" defer></script>"#), "{html}");
    assert!(!html.contains("whsec_"), "the page holds no secret");

    let script = api.request(Method::GET, "/portal.js").send().await.unwrap();
    assert_eq!(script.status(), 200);
    assert_eq!(script.headers()["x-content-type-options"], "nosniff");
    assert!(script.text().await.unwrap().contains("credentials: 'same-origin'"));

    let without = ApiServer::serve(HooksApi::new(h.engine.clone(), bearer).unwrap().portal(false)).await;
    assert_eq!(without.call(Method::GET, "/portal", Some(1), None).await.status, 404, "a hook that does not exist");
}

#[tokio::test]
async fn an_owner_lists_its_failed_events_and_replays_one_once_the_cause_is_fixed() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let broken = Arc::new(AtomicBool::new(true));
    let serializer_broken = Arc::clone(&broken);
    let h = Harness::with(move |b| {
        b.serializer(move |_, event| {
            assert!(!serializer_broken.load(Ordering::SeqCst), "the serializer is broken");
            event.data.clone()
        })
    })
    .await;
    let api = ApiServer::of(&h).await;
    api.subscribe(1, "book.added", &h.receiver.url("one")).await;
    api.subscribe(2, "book.added", &h.receiver.url("two")).await;
    h.run(new_book(1, "Unlucky").insert(&h.db)).await.unwrap();
    h.run(new_book(2, "Also unlucky").insert(&h.db)).await.unwrap();

    let listed = rest_hooks_tests::eventually("owner 1's failed event", || async {
        let answer = api.get("/failed-events", 1).await;
        (answer.status == 200 && answer.body["events"].as_array().is_some_and(|events| !events.is_empty()))
            .then_some(answer.body)
    })
    .await;
    let events = listed["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "only the caller's: {listed}");
    assert_eq!(events[0]["event"], "book.added");
    assert!(events[0]["error"].as_str().unwrap().contains("the serializer panicked"), "{listed}");
    let id = events[0]["id"].as_i64().unwrap();

    // Another owner's failed event, a non-canonical id and an unknown one are not found.
    let theirs = rest_hooks_tests::eventually("owner 2's failed event", || async {
        api.get("/failed-events", 2).await.body["events"][0]["id"].as_i64()
    })
    .await;
    assert_eq!(api.post(&format!("/failed-events/{theirs}/replay"), 1, json!({})).await.status, 404);
    assert_eq!(api.post(&format!("/failed-events/0{id}/replay"), 1, json!({})).await.status, 404);
    assert_eq!(api.post("/failed-events/999999/replay", 1, json!({})).await.status, 404);

    broken.store(false, Ordering::SeqCst);
    let replayed = api.post(&format!("/failed-events/{id}/replay"), 1, json!({})).await;
    assert_eq!(replayed.status, 202, "{replayed:?}");
    assert_eq!(replayed.body["replayed"], true);
    let received = h.receiver.wait_for(1).await;
    assert_eq!(received[0].path, "/one");
    assert_eq!(api.post(&format!("/failed-events/{id}/replay"), 1, json!({})).await.status, 404, "dispatched now");
    assert_eq!(api.get("/failed-events", 1).await.body["events"], json!([]));
}

#[tokio::test]
async fn a_hook_shows_whether_its_deliveries_go_in_order_and_why() {
    let h = Harness::with(|b| b.ordered_events(["book.changed"])).await;
    let api = ApiServer::of(&h).await;
    let by_event = api.post("", 1, json!({"event": "book.changed", "target": h.receiver.url("changed")})).await;
    assert_eq!((by_event.body["ordered"].as_bool(), by_event.body["ordered_by"].as_str()), (Some(true), Some("event")));
    let plain = api.post("", 1, json!({"event": "book.added", "target": h.receiver.url("added")})).await;
    let id = plain.body["id"].as_i64().unwrap();
    assert_eq!(plain.body["ordered"].as_bool(), Some(false));
    assert!(plain.body.get("ordered_by").is_none(), "{:?}", plain.body);

    let patched = api.call(Method::PATCH, &format!("/{id}"), Some(1), Some(json!({"ordered": true}))).await;
    assert_eq!(patched.status, 200, "{patched:?}");
    assert_eq!((patched.body["ordered"].as_bool(), patched.body["ordered_by"].as_str()), (Some(true), Some("hook")));
    let listed = api.get("", 1).await;
    let shown: Vec<(Option<bool>, Option<&str>)> = listed.body["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hook| (hook["ordered"].as_bool(), hook["ordered_by"].as_str()))
        .collect();
    assert_eq!(shown, [(Some(true), Some("event")), (Some(true), Some("hook"))]);
}
