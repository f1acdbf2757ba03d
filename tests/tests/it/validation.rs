//! Hooks are checked when they are created: the event must be in the map and the target an
//! absolute http(s) URL.

use rest_hooks::hook;
use rest_hooks::{SubscribeError, ValidationError};
use rest_hooks_tests::Harness;
use sea_orm::{ActiveModelTrait, Set};

#[tokio::test]
async fn subscribing_to_an_unknown_event_names_the_known_ones() {
    let h = Harness::new().await;
    let error = h.engine.subscribe(&h.db, None, "book.addded", "https://example.com/hook").await.unwrap_err();
    let SubscribeError::Invalid(invalid) = &error else { panic!("{error:?}") };
    assert_eq!(invalid.field(), "event");
    assert_eq!(
        error.to_string(),
        "unknown event `book.addded`; known: book.added, book.changed, book.featured, book.read, book.removed, \
         user.logged_in"
    );
}

#[tokio::test]
async fn bad_targets_are_refused_with_the_reason() {
    let h = Harness::new().await;
    let cases = [
        ("/relative/path", "it is not an absolute URL (relative URL without a base)"),
        ("ftp://example.com/hook", "its scheme is `ftp`; use http or https"),
        ("https://user:pw@example.com/", "it carries credentials; send them another way"),
        ("not a url", "it is not an absolute URL (relative URL without a base)"),
    ];
    for (target, reason) in cases {
        let error = h.engine.subscribe(&h.db, None, "book.added", target).await.unwrap_err();
        let SubscribeError::Invalid(ValidationError::Target { reason: got, .. }) = &error else { panic!("{error:?}") };
        assert_eq!(got, reason, "for {target}");
        assert!(error.to_string().starts_with(&format!("target `{target}` is not accepted")));
    }
    let long = format!("https://example.com/{}", "a".repeat(2100));
    assert!(h.engine.subscribe(&h.db, None, "book.added", &long).await.is_err());
}

#[tokio::test]
async fn saving_a_hook_entity_directly_is_validated_too() {
    let h = Harness::new().await;
    let bad = hook::ActiveModel {
        owner: Set(None),
        event: Set("book.nope".into()),
        target: Set("https://example.com/".into()),
        ..Default::default()
    };
    let error = h.run(bad.insert(&h.db)).await.unwrap_err();
    assert!(error.to_string().contains("unknown event `book.nope`"), "{error}");

    let good = hook::ActiveModel {
        owner: Set(Some("1".into())),
        event: Set("book.added".into()),
        target: Set("https://example.com/".into()),
        ..Default::default()
    };
    let saved = h.run(good.insert(&h.db)).await.unwrap();
    assert_eq!(saved.created, saved.updated);
}
