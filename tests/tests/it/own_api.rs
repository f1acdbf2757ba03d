//! The subscription API over the application's own hook entity: every call works on that table,
//! fills the application's columns, keeps to its scope and its owner, signs with the secrets it
//! stores, and never writes the crate's hook table.

use reqwest::Method;
use rest_hooks::api::HooksApi;
use rest_hooks_tests::Harness;
use rest_hooks_tests::api::{ApiServer, MOUNT, bearer};
use rest_hooks_tests::entities::{subscription, webhook};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::custom::signed_with;
use crate::lifecycle::new_book;

async fn own_table() -> (Harness, ApiServer) {
    let h = Harness::with(|b| b.hook_entity::<subscription::Entity>()).await;
    let api = ApiServer::serve(HooksApi::new(h.engine.clone(), bearer).expect("an own hook entity is served")).await;
    (h, api)
}

async fn row(h: &Harness, id: i64) -> Option<subscription::Model> {
    subscription::Entity::find_by_id(id).one(&h.db).await.unwrap()
}

#[tokio::test]
async fn the_api_creates_hooks_in_the_own_entity_with_its_columns_and_a_secret() {
    let (h, api) = own_table().await;

    let created = api.post("", 7, json!({"event": "book.added", "target": h.receiver.url("org7")})).await;

    assert_eq!(created.status, 201, "{created:?}");
    let id = created.body["id"].as_i64().unwrap();
    assert_eq!(created.headers["location"], format!("{MOUNT}/{id}"));
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    let stored = row(&h, id).await.expect("the row is in the application's table");
    assert_eq!((stored.organization_id, stored.is_active, stored.version), (7, true, 1), "fill_new ran");
    assert_eq!(stored.secret.as_deref(), Some(secret.as_str()));
    assert_eq!(stored.target, h.receiver.url("org7"));
    assert_eq!(rest_hooks::hook::Entity::find().all(&h.db).await.unwrap(), [], "nothing in the crate's table");
    assert!(created.body.get("created").is_none(), "the entity keeps no creation time: {:?}", created.body);

    h.run(new_book(7, "Own API").insert(&h.db)).await.unwrap();
    let received = h.receiver.wait_for(1).await;
    assert_eq!(received[0].body["hook"]["id"], id);
    assert!(signed_with(&received[0], &secret), "signed with the secret the API showed");
}

#[tokio::test]
async fn the_own_entitys_hooks_are_listed_read_changed_and_deleted_for_their_owner_only() {
    let (h, api) = own_table().await;
    let first = api.subscribe(1, "book.added", &h.receiver.url("a")).await;
    let second = api.subscribe(1, "book.added", &h.receiver.url("b")).await;
    api.subscribe(2, "book.added", &h.receiver.url("bob")).await;
    let (first, second) = (first["id"].as_i64().unwrap(), second["id"].as_i64().unwrap());

    let page = api.get("?limit=1", 1).await;
    assert_eq!((page.body["hooks"][0]["id"].as_i64(), page.body["has_more"].as_bool()), (Some(first), Some(true)));
    let next = api.get(&format!("?limit=1&starting_after={first}"), 1).await;
    assert_eq!((next.body["hooks"][0]["id"].as_i64(), next.body["has_more"].as_bool()), (Some(second), Some(false)));
    let bad = api.get("?starting_after=abc", 1).await;
    assert_eq!((bad.status, bad.body["field"].as_str()), (400, Some("starting_after")), "{bad:?}");
    assert_eq!(api.get(&format!("/{first}"), 2).await.status, 404, "another owner's hook is not found");
    assert_eq!(api.get(&format!("/0{first}"), 1).await.status, 404, "an id in another form is not the hook's");

    let moved =
        api.call(Method::PATCH, &format!("/{first}"), Some(1), Some(json!({"target": h.receiver.url("moved")}))).await;
    assert_eq!((moved.status, moved.body["target"].as_str()), (200, Some(h.receiver.url("moved").as_str())));
    assert_eq!(row(&h, first).await.unwrap().target, h.receiver.url("moved"));
    let bobs = api.call(Method::PATCH, &format!("/{first}"), Some(2), Some(json!({"event": "book.removed"}))).await;
    assert_eq!(bobs.status, 404);
    assert_eq!(row(&h, first).await.unwrap().event, "book.added", "another owner changed nothing");

    assert_eq!(api.call(Method::DELETE, &format!("/{second}"), Some(2), None).await.status, 404);
    assert!(row(&h, second).await.is_some());
    assert_eq!(api.call(Method::DELETE, &format!("/{second}"), Some(1), None).await.status, 204);
    assert!(row(&h, second).await.is_none(), "the row is deleted");

    h.run(new_book(1, "After the changes").insert(&h.db)).await.unwrap();
    let received = h.receiver.wait_for(1).await;
    assert_eq!(received[0].path, "/moved");
}

#[tokio::test]
async fn a_hook_outside_the_entitys_scope_shows_inactive_and_receives_nothing() {
    let (h, api) = own_table().await;
    let off = api.subscribe(1, "book.added", &h.receiver.url("off")).await["id"].as_i64().unwrap();
    api.subscribe(1, "book.added", &h.receiver.url("on")).await;
    subscription::Entity::update_many()
        .col_expr(subscription::Column::IsActive, Expr::value(false))
        .filter(subscription::Column::Id.eq(off))
        .exec(&h.db)
        .await
        .unwrap();

    let read = api.get(&format!("/{off}"), 1).await;

    assert_eq!(read.body["active"], false, "{read:?}");
    assert_eq!(read.body["disabled_reason"], "turned off by the application");
    h.run(new_book(1, "Scoped").insert(&h.db)).await.unwrap();
    let received = h.receiver.wait_for(1).await;
    assert_eq!(received[0].path, "/on");
    // Once the event is dispatched, none of its deliveries is the other hook's.
    h.dispatched().await;
    let deliveries = rest_hooks::store::delivery::Entity::find().all(&h.db).await.unwrap();
    assert_eq!(deliveries.iter().map(|d| d.target.as_str()).collect::<Vec<_>>(), [h.receiver.url("on")]);
}

#[tokio::test]
async fn rotating_through_the_api_writes_the_own_entitys_secret_columns() {
    let (h, api) = own_table().await;
    let hook = api.subscribe(1, "book.added", &h.receiver.url("rotated")).await;
    let id = hook["id"].as_i64().unwrap();
    let old = hook["secret"].as_str().unwrap().to_owned();

    let rotated = api.call(Method::POST, &format!("/{id}/rotate-secret"), Some(1), None).await;

    assert_eq!(rotated.status, 200, "{rotated:?}");
    let new = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(rotated.body["previous_secret_until"].is_string(), "{:?}", rotated.body);
    let stored = row(&h, id).await.unwrap();
    assert_eq!((stored.secret.as_deref(), stored.previous_secret.as_deref()), (Some(new.as_str()), Some(old.as_str())));
    let bobs = api.call(Method::POST, &format!("/{id}/rotate-secret"), Some(2), None).await;
    assert_eq!(bobs.status, 404);
    assert_eq!(row(&h, id).await.unwrap().secret.as_deref(), Some(new.as_str()), "another owner rotated nothing");

    let test = api.call(Method::POST, &format!("/{id}/test"), Some(1), None).await;
    assert_eq!(test.body["delivered"], true, "{test:?}");
    let received = h.receiver.wait_for(1).await;
    assert!(signed_with(&received[0], &new) && signed_with(&received[0], &old), "both sign in the grace period");
}

#[tokio::test]
async fn an_own_entity_without_secret_columns_shows_no_secret_and_refuses_rotation() {
    let fallback = rest_hooks::signing::Secret::generate().unwrap();
    let expose = fallback.expose().to_owned();
    let h = Harness::with(|b| b.hook_entity::<webhook::Entity>().fallback_secret(fallback)).await;
    let api = ApiServer::serve(HooksApi::new(h.engine.clone(), bearer).unwrap()).await;

    let hook = api.subscribe(3, "book.added", &h.receiver.url("org3")).await;

    assert!(hook.get("secret").is_none(), "{hook}");
    let id = hook["id"].as_i64().unwrap();
    let stored = webhook::Entity::find_by_id(id).one(&h.db).await.unwrap().unwrap();
    assert_eq!((stored.organization_id, stored.is_active), (3, true));
    let rotated = api.call(Method::POST, &format!("/{id}/rotate-secret"), Some(3), None).await;
    assert_eq!((rotated.status, rotated.error()), (409, "conflict"), "{rotated:?}");
    h.run(new_book(3, "Fallback").insert(&h.db)).await.unwrap();
    let received = h.receiver.wait_for(1).await;
    assert!(signed_with(&received[0], &expose), "signed with the engine's fallback secret");
}

#[tokio::test]
async fn the_own_entitys_attempts_and_replays_are_its_hooks() {
    let (h, api) = own_table().await;
    let id = api.subscribe(1, "book.added", &h.receiver.url("log")).await["id"].as_i64().unwrap();
    h.run(new_book(1, "Logged").insert(&h.db)).await.unwrap();
    h.receiver.wait_for(1).await;

    let attempts = rest_hooks_tests::eventually("the attempt in the log", || async {
        let answer = api.get(&format!("/{id}/attempts"), 1).await;
        let attempts = answer.body["attempts"].as_array().cloned().unwrap_or_default();
        (!attempts.is_empty()).then_some(attempts)
    })
    .await;
    let delivery = attempts[0]["delivery"].as_str().unwrap();

    let replayed = api.post(&format!("/{id}/replay"), 1, json!({"delivery": delivery})).await;
    assert_eq!((replayed.status, replayed.body["replayed"].as_u64()), (202, Some(1)), "{replayed:?}");
    assert_eq!(h.receiver.wait_for(2).await.len(), 2);
    assert_eq!(api.get(&format!("/{id}/attempts"), 2).await.status, 404, "another owner sees no log");
}

#[tokio::test]
async fn the_api_refuses_an_engine_with_a_custom_finder_naming_the_way_out() {
    let h = Harness::with(|b| b.finder(rest_hooks::EntityFinder::<webhook::Entity>::new())).await;

    let error = HooksApi::new(h.engine.clone(), bearer).unwrap_err().to_string();

    assert!(error.contains("a custom finder") && error.contains(".hook_entity::<YourHookEntity>()"), "{error}");
}

/// A finder of the application's own over the `subscription` entity: the hooks of the event's
/// owner, whatever the event name (what a scope cannot say), through the crate's public pieces.
struct AnyEventOfTheOwner;

#[async_trait::async_trait]
impl rest_hooks::Finder for AnyEventOfTheOwner {
    async fn find(
        &self,
        db: &sea_orm::DatabaseTransaction,
        event: &rest_hooks::Event,
    ) -> Result<Vec<rest_hooks::HookTarget>, sea_orm::DbErr> {
        let rest_hooks::Audience::Owner(owner) = &event.audience else { return Ok(Vec::new()) };
        let Ok(owner) = owner.as_str().parse::<i32>() else { return Ok(Vec::new()) };
        let rows = subscription::Entity::find()
            .filter(subscription::Column::OrganizationId.eq(owner))
            .filter(subscription::Column::IsActive.eq(true))
            .all(db)
            .await?;
        Ok(rows.into_iter().map(rest_hooks::hook::hook_target::<subscription::Entity>).collect())
    }

    async fn find_hook(
        &self,
        db: &sea_orm::DatabaseTransaction,
        id: &rest_hooks::HookId,
    ) -> Result<Option<rest_hooks::HookTarget>, sea_orm::DbErr> {
        rest_hooks::hook::find_hook::<subscription::Entity, _>(db, id).await
    }
}

#[tokio::test]
async fn a_custom_finder_beside_the_named_entity_keeps_the_api_which_writes_what_the_finder_reads() {
    for finder_first in [true, false] {
        let h = Harness::with(|b| match finder_first {
            true => b.finder(AnyEventOfTheOwner).hook_entity::<subscription::Entity>(),
            false => b.hook_entity::<subscription::Entity>().finder(AnyEventOfTheOwner),
        })
        .await;
        let api = ApiServer::serve(HooksApi::new(h.engine.clone(), bearer).expect("the named entity is served")).await;

        let created = api.post("", 7, json!({"event": "book.changed", "target": h.receiver.url("org7")})).await;
        assert_eq!(created.status, 201, "{created:?}");
        let id = created.body["id"].as_i64().unwrap();
        let secret = created.body["secret"].as_str().unwrap().to_owned();
        assert_eq!(row(&h, id).await.map(|row| row.organization_id), Some(7), "written to the named entity");

        // The finder, not the event name, decides: a `book.added` reaches the `book.changed` hook,
        // signed with the secret its row holds.
        h.run(new_book(7, "Found by the finder").insert(&h.db)).await.unwrap();
        let received = h.receiver.wait_for(1).await;
        assert_eq!(
            (received[0].body["hook"]["id"].as_i64(), received[0].body["hook"]["event"].as_str()),
            (Some(id), Some("book.changed"))
        );
        assert!(signed_with(&received[0], &secret), "signed with the secret hook_target attached");
    }
}

#[tokio::test]
async fn the_applications_own_fields_are_set_shown_changed_checked_and_described() {
    use rest_hooks_tests::entities::book_webhook;
    let h = Harness::with(|b| {
        b.event("chapter.added", "bookstore.Chapter.created").hook_entity::<book_webhook::Entity>().unsigned()
    })
    .await;
    let api = ApiServer::serve(HooksApi::new(h.engine.clone(), bearer).unwrap()).await;
    let first = h.run(new_book(1, "First").insert(&h.db)).await.unwrap();
    let second = h.run(new_book(1, "Second").insert(&h.db)).await.unwrap();

    // Set on creation, shown in the answer, stored in the application's columns.
    let body = json!({"event": "chapter.added", "target": h.receiver.url("first"), "book_id": first.id});
    let created = api.post("", 1, body).await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(
        (created.body["book_id"].as_i64(), &created.body["title_word"]),
        (Some(i64::from(first.id)), &json!(null))
    );
    let id = created.body["id"].as_i64().unwrap();
    let stored = book_webhook::Entity::find_by_id(id).one(&h.db).await.unwrap().unwrap();
    assert_eq!((stored.book_id, stored.title_word), (Some(first.id), None));
    let every = api.post("", 1, json!({"event": "chapter.added", "target": h.receiver.url("every")})).await;
    assert_eq!((every.status, &every.body["book_id"]), (201, &json!(null)), "{every:?}");

    // Changed with PATCH, shown by read and list.
    let changed = api.patch(&format!("/{id}"), 1, json!({"title_word": "Epilogue"})).await;
    assert_eq!((changed.status, changed.body["title_word"].as_str()), (200, Some("Epilogue")), "{changed:?}");
    assert_eq!(api.get(&format!("/{id}"), 1).await.body["title_word"], "Epilogue");
    let listed = api.get("", 1).await;
    assert_eq!(listed.body["hooks"][0]["book_id"].as_i64(), Some(i64::from(first.id)), "{listed:?}");

    // Refusals name the field and change nothing.
    for (body, field) in [
        (json!({"book_id": "two"}), "book_id"),
        (json!({"book_id": 1.5}), "book_id"),
        (json!({"title_word": 7}), "title_word"),
        (json!({"title_word": "  "}), "title_word"),
        (json!({"shelf": 3}), "shelf"),
    ] {
        let refused = api.patch(&format!("/{id}"), 1, body.clone()).await;
        assert_eq!((refused.status, refused.body["field"].as_str()), (422, Some(field)), "{body}: {refused:?}");
    }
    let refused =
        api.post("", 1, json!({"event": "chapter.added", "target": h.receiver.url("x"), "book_id": "one"})).await;
    assert_eq!((refused.status, refused.body["field"].as_str()), (422, Some("book_id")), "{refused:?}");
    assert_eq!(book_webhook::Entity::find().all(&h.db).await.unwrap().len(), 2, "nothing created by a refusal");
    let unchanged = book_webhook::Entity::find_by_id(id).one(&h.db).await.unwrap().unwrap();
    assert_eq!((unchanged.book_id, unchanged.title_word.as_deref()), (Some(first.id), Some("Epilogue")));
    // A book of another owner's is refused, by the application's own check.
    let theirs = h.run(new_book(2, "Theirs").insert(&h.db)).await.unwrap();
    let refused = api.patch(&format!("/{id}"), 1, json!({"book_id": theirs.id})).await;
    assert_eq!((refused.status, refused.body["field"].as_str()), (422, Some("book_id")), "{refused:?}");
    assert_eq!(refused.body["message"], format!("you have no book {}", theirs.id));
    // Another owner's hook stays out of reach.
    assert_eq!(api.patch(&format!("/{id}"), 2, json!({"book_id": second.id})).await.status, 404);

    // The document describes them where a hook and its bodies are.
    let document = api.get("/openapi.json", 1).await.body;
    let schemas = &document["components"]["schemas"];
    // A schema's properties: its own, or those of the object of an `allOf` that adds a rule.
    let properties = |name: &str| {
        let schema = &schemas[name];
        let all = schema["allOf"].as_array().into_iter().flatten();
        all.chain([schema]).find(|part| part["properties"].is_object()).map(|part| part["properties"].clone())
    };
    assert_eq!(properties("HookView").unwrap()["book_id"]["type"], json!(["integer", "null"]));
    assert_eq!(properties("Subscribe").unwrap()["title_word"]["type"], json!(["string", "null"]));
    assert!(properties("Change").unwrap()["book_id"].is_object());

    // And the hooks they describe receive what they say.
    h.run(async {
        for (book_id, title) in [(first.id, "Prologue"), (first.id, "Epilogue"), (second.id, "Foreword")] {
            let chapter = rest_hooks_tests::entities::chapter::ActiveModel {
                book_id: sea_orm::Set(book_id),
                title: sea_orm::Set(title.into()),
                ..Default::default()
            };
            chapter.insert(&h.db).await?;
        }
        Ok::<_, sea_orm::DbErr>(())
    })
    .await
    .unwrap();
    let mut received: Vec<(String, String)> = h
        .receiver
        .wait_for(4)
        .await
        .iter()
        .map(|r| (r.path.clone(), r.body["data"]["fields"]["title"].as_str().unwrap_or_default().to_owned()))
        .collect();
    received.sort();
    let expected = [("/every", "Epilogue"), ("/every", "Foreword"), ("/every", "Prologue"), ("/first", "Epilogue")];
    assert_eq!(received, expected.map(|(path, title)| (path.to_owned(), title.to_owned())));
}

/// A hook entity that offers the API a column the API has a field of its own for.
mod clashing {
    use rest_hooks::{HookEntity, HookTarget};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clashing_hook")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub owner_id: i64,
        pub event: String,
        pub target: String,
        pub secret: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl HookEntity for Entity {
        fn event_column() -> Column {
            Column::Event
        }
        fn owner_column() -> Column {
            Column::OwnerId
        }
        fn to_target(hook: Model) -> HookTarget {
            HookTarget::new(hook.id, hook.event, hook.target).with_owner(Some(hook.owner_id.into()))
        }
        fn api_columns() -> Vec<Column> {
            vec![Column::Secret]
        }
    }
}

#[tokio::test]
async fn an_entity_offering_the_api_a_field_it_has_already_is_refused_at_start() {
    let db = rest_hooks_tests::TestDb::sqlite().await;
    let error = rest_hooks::Engine::builder()
        .hook_entity::<clashing::Entity>()
        .unsigned()
        .process_wide(false)
        .start(db.db.clone())
        .unwrap_err();
    assert!(
        matches!(&error, rest_hooks::BuildError::Setting { name: "hook_entity", problem }
            if problem.contains("names column `secret`, a field the subscription API has already")),
        "{error}"
    );
}
