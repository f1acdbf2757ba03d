//! The event map refuses mistakes at start, naming every culprit.

use rest_hooks::{BuildError, Engine, EventsConfig};
use rest_hooks_tests::TestDb;

#[tokio::test]
async fn duplicates_typos_and_malformed_specs_fail_the_start() {
    let db = TestDb::sqlite().await;
    let error = Engine::builder()
        .event("book.added", "bookstore.Book.created")
        .event("book.new", "bookstore.Book.created+")
        .event("book.gone", "bookstore.Bok.deleted")
        .event("bookadded", "bookstore.Book.updated")
        .event("shop.order", "shop.Order.created")
        .event("book.bad", "bookstore.Book")
        .process_wide(false)
        .start(db.db.clone())
        .unwrap_err();

    let BuildError::EventMap(map_error) = &error else { panic!("expected an event map error, got {error:?}") };
    assert_eq!(
        map_error.problems(),
        [
            "event `book.new` maps `bookstore.Book.created`, already mapped by `book.added`",
            "event `book.gone` maps model `bookstore.Bok`, which no `#[derive(Hookable)]` entity declares (did you \
             mean `bookstore.Book`?)",
            "event name `bookadded` is not a valid dotted name: it needs at least two dot-separated parts",
            "event `shop.order` maps model `shop.Order`, which no `#[derive(Hookable)]` entity declares; declared: \
             bookstore.Author, bookstore.Book, bookstore.Chapter, bookstore.Comment, bookstore.Manuscript, \
             bookstore.Note, bookstore.Tag",
            "event `book.bad` maps `bookstore.Book`, which is malformed: its model label is malformed: it needs at \
             least two dot-separated parts",
        ]
    );
    assert!(error.to_string().starts_with("invalid event map: event `book.new`"));
}

#[tokio::test]
async fn an_action_the_entity_does_not_declare_fails_the_start_with_the_nearest_one() {
    let db = TestDb::sqlite().await;
    let error = Engine::builder()
        .event("book.read", "bookstore.Book.read")
        .event("book.changed", "bookstore.Book.upated")
        .event("book.shelved", "bookstore.Book.shelved+")
        .event("author.read", "bookstore.Author.read")
        .process_wide(false)
        .start(db.db.clone())
        .unwrap_err();

    let BuildError::EventMap(map_error) = &error else { panic!("expected an event map error, got {error:?}") };
    assert_eq!(
        map_error.problems(),
        [
            "event `book.changed` maps `bookstore.Book.upated`, but `bookstore.Book` has no action `upated` (did you \
             mean `updated`?); a custom action is declared on the entity: `#[hookable(actions(upated))]`",
            "event `book.shelved` maps `bookstore.Book.shelved+`, but `bookstore.Book` has no action `shelved`; its \
             actions: created, updated, deleted, read, featured; a custom action is declared on the entity: \
             `#[hookable(actions(shelved))]`",
            "event `author.read` maps `bookstore.Author.read`, but `bookstore.Author` has no action `read`; its \
             actions: created, updated, deleted, featured; a custom action is declared on the entity: \
             `#[hookable(actions(read))]`",
        ]
    );
}

#[tokio::test]
async fn a_config_file_map_works_like_the_builder() {
    let db = TestDb::sqlite().await;
    let config: EventsConfig = serde_json::from_str(
        r#"{"book.added": "bookstore.Book.created", "book.read": "bookstore.Book.read+", "user.logged_in": null}"#,
    )
    .unwrap();
    let engine = Engine::builder().events(config).process_wide(false).start(db.db.clone()).unwrap();

    let map = engine.event_map();
    assert_eq!(&*map.lookup("bookstore.Book", "created").unwrap().event, "book.added");
    assert!(map.lookup("bookstore.Book", "read").unwrap().all_owners);
    let raw = map.events().find(|e| e.name == "user.logged_in").unwrap();
    assert_eq!((raw.model.as_deref(), raw.action.as_deref()), (None, None));
}

#[test]
fn a_config_file_that_defines_an_event_twice_is_refused_naming_it() {
    let twice = serde_json::from_str::<EventsConfig>(
        r#"{"book.added": "bookstore.Book.created", "user.logged_in": null, "book.added": "bookstore.Book.updated"}"#,
    );

    let error = twice.unwrap_err().to_string();
    assert!(error.starts_with("event `book.added` is defined twice"), "{error}");
}

#[tokio::test]
async fn settings_out_of_range_fail_the_start() {
    let db = TestDb::sqlite().await;
    let error = Engine::builder().concurrency(0).process_wide(false).start(db.db.clone()).unwrap_err();
    assert_eq!(error.to_string(), "setting `concurrency` must be at least 1");
}

#[test]
fn starting_outside_a_runtime_is_a_clear_error() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDb::sqlite());
    let error = Engine::builder().process_wide(false).start(db.db.clone()).unwrap_err();
    assert!(matches!(error, BuildError::NoRuntime), "{error}");
}
