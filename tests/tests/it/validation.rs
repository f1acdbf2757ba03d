//! Hooks are checked when they are created: the event must be in the map and the target an
//! absolute http(s) URL.

use rest_hooks::hook;
use rest_hooks::hook::MAX_TARGET_LEN;
use rest_hooks::{SubscribeError, ValidationError};
use rest_hooks_tests::api::ApiServer;
use rest_hooks_tests::{Harness, public_names};
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
    let h = Harness::with(|b| b.resolver(public_names(&["example.com"]))).await;
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

#[tokio::test]
async fn control_characters_in_a_target_are_refused() {
    let h = Harness::with(|b| b.resolver(public_names(&["example.com"]))).await;
    let api = ApiServer::of(&h).await;
    for (target, shown) in [
        ("https://example.com/a\0b", "U+0000"),
        ("https://example.com/a\r\nX-Injected: 1", "U+000D"),
        ("https://example.com/x\n", "U+000A"),
        ("https://example.com/\tx", "U+0009"),
        ("https://exa\tmple.com/", "U+0009"),
        ("\u{1}https://example.com/", "U+0001"),
        ("https://example.com/?q=\u{7f}", "U+007F"),
        ("https://example.com/\u{85}", "U+0085"),
    ] {
        let error = h.engine.subscribe(&h.db, None, "book.added", target).await.unwrap_err();
        let SubscribeError::Invalid(ValidationError::Target { reason, .. }) = &error else { panic!("{error:?}") };
        assert_eq!(reason, &format!("it contains the control character {shown}"), "{target:?}");
        let answer = api.post("", 1, serde_json::json!({"event": "book.added", "target": target})).await;
        assert_eq!((answer.status, answer.body["field"].as_str()), (422, Some("target")), "{target:?}: {answer:?}");
    }
    assert!(h.engine.subscribe(&h.db, None, "book.added", "https://example.com/a%00b").await.is_ok(), "escaped");
}

#[tokio::test]
async fn whitespace_invisible_characters_and_port_0_in_a_target_are_refused() {
    let h = Harness::with(|b| b.resolver(public_names(&["example.com"]))).await;
    let api = ApiServer::of(&h).await;
    let whitespace = "it contains the whitespace character";
    let invisible = "it contains the invisible formatting character";
    for (target, reason) in [
        (" http://8.8.8.8/", format!("{whitespace} U+0020")),
        ("http://8.8.8.8/ ", format!("{whitespace} U+0020")),
        ("http://8.8.8.8/a b", format!("{whitespace} U+0020")),
        ("https://example.com/a\u{a0}b", format!("{whitespace} U+00A0")),
        ("https://example.com/\u{2028}", format!("{whitespace} U+2028")),
        ("https://example.com/\u{2029}", format!("{whitespace} U+2029")),
        ("https://example.com/?q=\u{3000}", format!("{whitespace} U+3000")),
        ("https://exa\u{200b}mple.com/", format!("{invisible} U+200B")),
        ("https://exa\u{ad}mple.com/", format!("{invisible} U+00AD")),
        ("https://example.com/\u{feff}", format!("{invisible} U+FEFF")),
        ("https://example.com/\u{202e}gpj.exe", format!("{invisible} U+202E")),
        ("https://example.com/\u{e0041}", format!("{invisible} U+E0041")),
        ("http://8.8.8.8:0/", "its port is 0, which no server listens on".to_owned()),
        ("https://example.com:0/hook", "its port is 0, which no server listens on".to_owned()),
    ] {
        let error = h.engine.subscribe(&h.db, None, "book.added", target).await.unwrap_err();
        let SubscribeError::Invalid(ValidationError::Target { reason: got, .. }) = &error else { panic!("{error:?}") };
        assert!(got.starts_with(&reason), "{target:?}: {got}");
        let answer = api.post("", 1, serde_json::json!({"event": "book.added", "target": target})).await;
        assert_eq!((answer.status, answer.body["field"].as_str()), (422, Some("target")), "{target:?}: {answer:?}");
        assert!(answer.body["message"].as_str().unwrap().contains(&reason), "{target:?}: {answer:?}");
    }
    // Written escaped, they are what they say.
    for target in ["http://8.8.8.8/a%20b", "https://example.com/%E2%80%8B", "http://8.8.8.8:8080/"] {
        assert!(h.engine.subscribe(&h.db, None, "book.added", target).await.is_ok(), "{target}");
    }
}

#[tokio::test]
async fn the_length_limit_applies_to_the_url_as_sent() {
    let h = Harness::with(|b| b.resolver(public_names(&["example.com"]))).await;
    let base = "https://example.com/";
    let longest = format!("{base}{}", "a".repeat(MAX_TARGET_LEN - base.len()));
    assert!(h.engine.subscribe(&h.db, None, "book.added", &longest).await.is_ok());
    // 2,047 bytes as given; each `é` (2 bytes) goes out as `%C3%A9` (6 bytes).
    let accented = format!("{base}{}a", "é".repeat((MAX_TARGET_LEN - 2 - base.len()) / 2));
    assert_eq!(accented.len(), 2047);
    let error = h.engine.subscribe(&h.db, None, "book.added", &accented).await.unwrap_err();
    let SubscribeError::Invalid(ValidationError::Target { reason, .. }) = &error else { panic!("{error:?}") };
    assert_eq!(reason, "it is 6099 bytes long as sent (percent-encoded), more than 2048");
    let api = ApiServer::of(&h).await;
    let answer = api.post("", 1, serde_json::json!({"event": "book.added", "target": accented})).await;
    assert_eq!((answer.status, answer.body["field"].as_str()), (422, Some("target")), "{answer:?}");
}
