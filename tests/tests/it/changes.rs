//! An `updated` event says what the update changed (`changed`) and, for entities that ask, the
//! previous values (`previous`); events on given fields fire only when those fields change.

use rest_hooks::api::HooksApi;
use rest_hooks::{BuildError, Builder, Engine};
use rest_hooks_tests::api::{ApiServer, bearer};
use rest_hooks_tests::entities::{book, manuscript, tag};
use rest_hooks_tests::{Harness, TestDb};
use sea_orm::{ActiveModelTrait, Set, TransactionTrait};
use serde_json::json;

use crate::lifecycle::new_book;

fn manuscript_events(builder: Builder) -> Builder {
    builder
        .event("manuscript.changed", "bookstore.Manuscript.updated")
        .event("manuscript.resized", "bookstore.Manuscript.updated(pages)")
        .event("manuscript.retitled", "bookstore.Manuscript.updated(title, user_id)")
        .event("tag.changed", "bookstore.Tag.updated")
}

fn new_manuscript(title: &str, pages: i32) -> manuscript::ActiveModel {
    manuscript::ActiveModel {
        user_id: Set(1),
        title: Set(title.to_owned()),
        pages: Set(pages),
        notes: Set("private notes".to_owned()),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_update_names_the_fields_it_set_but_never_skipped_ones() {
    let h = Harness::new().await;
    h.subscribe(Some(1), "book.changed", "changed").await;
    let book = h.run(new_book(1, "Dune").insert(&h.db)).await.unwrap();

    let mut active: book::ActiveModel = book.into();
    active.title = Set("Dune Messiah".to_owned());
    active.secret = Set("still private".to_owned());
    h.run(active.update(&h.db)).await.unwrap();

    let received = h.receiver.wait_for(1).await;
    assert_eq!(received[0].body["changed"], json!(["title"]));
    assert!(received[0].body.get("previous").is_none(), "books do not ask for previous values");
    assert_eq!(received[0].body["data"]["fields"]["title"], "Dune Messiah");
    assert!(!received[0].raw.contains("secret"), "a skipped field is not even named: {}", received[0].raw);
}

#[tokio::test]
async fn previous_values_through_insert_then_update_in_one_transaction() {
    let h = Harness::with(manuscript_events).await;
    h.subscribe(Some(1), "manuscript.changed", "changed").await;

    let txn = h.db.begin().await.unwrap();
    let saved = h.run(new_manuscript("Draft", 100).insert(&txn)).await.unwrap();
    let mut active: manuscript::ActiveModel = saved.clone().into();
    active.title = Set("First light".to_owned());
    active.pages = Set(100);
    active.notes = Set("more private notes".to_owned());
    h.run(active.update(&txn)).await.unwrap();
    txn.commit().await.unwrap();

    let received = h.receiver.wait_for(1).await;
    let body = &received[0].body;
    assert_eq!(body["changed"], json!(["title"]), "pages kept its value, notes is skipped");
    assert_eq!(body["previous"], json!({"title": "Draft"}));
    assert_eq!(body["data"]["pk"], saved.id);
    assert_eq!(body["data"]["fields"]["title"], "First light");
    assert!(!received[0].raw.contains("notes"), "{}", received[0].raw);
}

#[tokio::test]
async fn previous_values_across_transactions() {
    let h = Harness::with(manuscript_events).await;
    h.subscribe(Some(1), "manuscript.changed", "changed").await;
    let saved = h.run(new_manuscript("Draft", 100).insert(&h.db)).await.unwrap();

    let txn = h.db.begin().await.unwrap();
    let mut active: manuscript::ActiveModel = saved.into();
    active.title = Set("Second draft".to_owned());
    active.pages = Set(120);
    h.run(active.update(&txn)).await.unwrap();
    txn.commit().await.unwrap();

    let received = h.receiver.wait_for(1).await;
    assert_eq!(received[0].body["changed"], json!(["title", "pages"]));
    assert_eq!(received[0].body["previous"], json!({"title": "Draft", "pages": 100}));
}

#[tokio::test]
async fn a_rolled_back_update_sends_nothing_and_the_next_one_its_own_changes() {
    let h = Harness::with(manuscript_events).await;
    h.subscribe(Some(1), "manuscript.changed", "changed").await;
    let saved = h.run(new_manuscript("Draft", 100).insert(&h.db)).await.unwrap();

    let txn = h.db.begin().await.unwrap();
    let mut active: manuscript::ActiveModel = saved.clone().into();
    active.pages = Set(999);
    h.run(active.update(&txn)).await.unwrap();
    txn.rollback().await.unwrap();

    let mut active: manuscript::ActiveModel = saved.into();
    active.title = Set("Kept".to_owned());
    h.run(active.update(&h.db)).await.unwrap();

    let received = h.receiver.wait_for(1).await;
    assert_eq!(received[0].body["changed"], json!(["title"]));
    assert_eq!(received[0].body["previous"], json!({"title": "Draft"}));
    assert_eq!(h.receiver.received().len(), 1);
}

#[tokio::test]
async fn an_event_on_given_fields_fires_only_when_they_change() {
    let h = Harness::with(manuscript_events).await;
    h.subscribe(Some(1), "manuscript.resized", "resized").await;
    h.subscribe(Some(1), "manuscript.retitled", "retitled").await;
    let saved = h.run(new_manuscript("Draft", 100).insert(&h.db)).await.unwrap();
    let rows = h.outbox_rows().await;

    // Only the title changes: the plain event and `retitled`, not `resized`.
    let mut active: manuscript::ActiveModel = saved.into();
    active.title = Set("Renamed".to_owned());
    active.pages = Set(100);
    let saved = h.run(active.update(&h.db)).await.unwrap();
    assert_eq!(h.outbox_rows().await, rows + 2);
    let received = h.receiver.wait_for(1).await;
    assert_eq!(received[0].path, "/retitled");

    // Only the pages change.
    let mut active: manuscript::ActiveModel = saved.into();
    active.pages = Set(150);
    h.run(active.update(&h.db)).await.unwrap();
    assert_eq!(h.outbox_rows().await, rows + 4);
    let received = h.receiver.wait_for(2).await;
    assert_eq!(received[1].path, "/resized");
    assert_eq!(received[1].body["hook"]["event"], "manuscript.resized");
    assert_eq!(received[1].body["changed"], json!(["pages"]));
    assert_eq!(received[1].body["previous"], json!({"pages": 100}));

    // Nothing changes: the plain event only, with an empty `changed`.
    let mut active: manuscript::ActiveModel = h.run(new_manuscript("Other", 1).insert(&h.db)).await.unwrap().into();
    active.pages = Set(1);
    h.run(active.update(&h.db)).await.unwrap();
    assert_eq!(h.outbox_rows().await, rows + 5);
}

#[tokio::test]
async fn emit_records_the_plain_updated_event_only() {
    let h = Harness::with(manuscript_events).await;
    let saved = h.run(new_manuscript("Draft", 100).insert(&h.db)).await.unwrap();
    let rows = h.outbox_rows().await;

    let recorded = h.engine.emit(&h.db, &[saved], "updated").await.unwrap();
    assert_eq!(recorded, 1);
    assert_eq!(h.outbox_rows().await, rows + 1);
}

#[tokio::test]
async fn an_entity_with_its_own_behavior_captures_changes_with_prepare_save() {
    let h = Harness::with(manuscript_events).await;
    h.subscribe(Some(1), "tag.changed", "tag").await;
    let saved =
        h.run(tag::ActiveModel { name: Set("Fantasy".to_owned()), ..Default::default() }.insert(&h.db)).await.unwrap();

    let mut active: tag::ActiveModel = saved.into();
    active.name = Set("SciFi".to_owned());
    h.run(active.update(&h.db)).await.unwrap();

    let received = h.receiver.wait_for(1).await;
    assert_eq!(received[0].body["changed"], json!(["name"]));
    assert_eq!(received[0].body["data"]["fields"]["name"], "scifi");
}

#[tokio::test]
async fn start_refuses_field_lists_naming_unknown_or_skipped_fields() {
    let db = TestDb::sqlite().await;
    let error = Engine::builder()
        .event("manuscript.retitled", "bookstore.Manuscript.updated(titel)")
        .event("manuscript.noted", "bookstore.Manuscript.updated(notes)")
        .event("manuscript.added", "bookstore.Manuscript.created(title)")
        .event("manuscript.a", "bookstore.Manuscript.updated(pages, title)")
        .event("manuscript.b", "bookstore.Manuscript.updated(title, pages)")
        .process_wide(false)
        .start(db.db.clone())
        .unwrap_err();

    let BuildError::EventMap(map_error) = &error else { panic!("expected an event map error, got {error:?}") };
    assert_eq!(
        map_error.problems(),
        [
            "event `manuscript.retitled` maps `bookstore.Manuscript.updated(titel)`: the model has no field `titel` \
             that an update reports (did you mean `title`?)",
            "event `manuscript.noted` maps `bookstore.Manuscript.updated(notes)`: field `notes` is skipped \
             (`#[hookable(skip)]`), so an update never reports it",
            "event `manuscript.added` maps `bookstore.Manuscript.created(title)`: a field list goes only on \
             `updated`, not on `created`",
            "event `manuscript.b` maps `bookstore.Manuscript.updated(title, pages)`, already mapped by `manuscript.a`",
        ]
    );
}

#[tokio::test]
async fn the_event_catalogue_shows_field_lists() {
    let h = Harness::with(manuscript_events).await;
    let api = ApiServer::serve(HooksApi::new(h.engine.clone(), bearer).unwrap().offer_events(|_| true)).await;

    let events = api.get("/events", 1).await.body["events"].as_array().unwrap().clone();
    let event = |name: &str| events.iter().find(|event| event["name"] == name).unwrap().clone();
    assert_eq!(
        event("manuscript.retitled"),
        json!({
            "name": "manuscript.retitled", "kind": "change", "model": "bookstore.Manuscript", "action": "updated",
            "all_owners": false, "fields": ["title", "user_id"],
        })
    );
    assert!(event("manuscript.changed").get("fields").is_none());
}
