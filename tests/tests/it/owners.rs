//! Who receives an event: the instance's owner, every owner (`+` or an unowned model), an owner
//! reached through a relation, a UUID owner, an explicit audience.

use rest_hooks::Audience;
use rest_hooks_tests::Harness;
use rest_hooks_tests::entities::{author, chapter, note};
use sea_orm::prelude::Uuid;
use sea_orm::{ActiveModelTrait, Set, TransactionTrait};

use crate::lifecycle::new_book;

#[tokio::test]
async fn events_go_to_the_instance_owner_only() {
    let h = Harness::new().await;
    h.subscribe(Some(1), "book.added", "user1").await;
    h.subscribe(Some(2), "book.added", "user2").await;
    h.subscribe(None, "book.added", "nobody").await;

    h.run(new_book(2, "Owned by 2").insert(&h.db)).await.unwrap();
    h.run(new_book(1, "Owned by 1").insert(&h.db)).await.unwrap();

    let received = h.receiver.wait_for(2).await;
    let mut got: Vec<_> =
        received.iter().map(|r| (r.path.as_str(), r.body["data"]["fields"]["user_id"].clone())).collect();
    got.sort_by_key(|(path, _)| *path);
    assert_eq!(got, [("/user1", 1.into()), ("/user2", 2.into())]);
}

#[tokio::test]
async fn a_plus_in_the_map_sends_to_every_owner() {
    let h = Harness::new().await;
    h.subscribe(Some(1), "book.featured", "user1").await;
    h.subscribe(Some(2), "book.featured", "user2").await;
    let book = h.run(new_book(1, "Featured").insert(&h.db)).await.unwrap();

    h.run(h.engine.action(&h.db, &book, "featured")).await.unwrap();
    // An explicit audience does not narrow a `+` event.
    h.run(h.engine.action(&h.db, &book, "featured").audience(Audience::owner(1))).await.unwrap();

    let mut paths: Vec<_> = h.receiver.wait_for(4).await.into_iter().map(|r| r.path).collect();
    paths.sort();
    assert_eq!(paths, ["/user1", "/user1", "/user2", "/user2"]);
}

#[tokio::test]
async fn an_unowned_model_sends_to_every_owner() {
    let h = Harness::with(|b| b.event("author.added", "bookstore.Author.created")).await;
    h.subscribe(Some(1), "author.added", "user1").await;
    h.subscribe(Some(2), "author.added", "user2").await;
    h.run(author::ActiveModel { name: Set("Le Guin".into()), ..Default::default() }.insert(&h.db)).await.unwrap();

    let mut paths: Vec<_> = h.receiver.wait_for(2).await.into_iter().map(|r| r.path).collect();
    paths.sort();
    assert_eq!(paths, ["/user1", "/user2"]);
}

#[tokio::test]
async fn an_explicit_audience_narrows_an_unowned_model() {
    let h = Harness::with(|b| b.event("author.featured", "bookstore.Author.featured")).await;
    h.subscribe(Some(1), "author.featured", "user1").await;
    h.subscribe(Some(2), "author.featured", "user2").await;
    let author =
        h.run(author::ActiveModel { name: Set("Le Guin".into()), ..Default::default() }.insert(&h.db)).await.unwrap();

    h.engine.action(&h.db, &author, "featured").audience(Audience::owner(2)).await.unwrap();
    h.engine.action(&h.db, &author, "featured").await.unwrap();

    h.receiver.wait_for(3).await;
    crate::lifecycle::wait_until_settled(&h, 3).await;
    let mut paths: Vec<_> = h.receiver.received().into_iter().map(|r| r.path).collect();
    paths.sort();
    assert_eq!(paths, ["/user1", "/user2", "/user2"], "the first event reached its one owner only");
}

#[tokio::test]
async fn an_owner_reached_through_a_relation() {
    let h = Harness::with(|b| b.event("chapter.added", "bookstore.Chapter.created")).await;
    h.subscribe(Some(1), "chapter.added", "user1").await;
    h.subscribe(Some(2), "chapter.added", "user2").await;
    let book = h.run(new_book(2, "Owned by 2").insert(&h.db)).await.unwrap();

    let chapter = chapter::ActiveModel { book_id: Set(book.id), title: Set("One".into()), ..Default::default() };
    h.run(chapter.insert(&h.db)).await.unwrap();

    let received = h.receiver.wait_for(1).await;
    assert_eq!(received[0].path, "/user2");
    assert_eq!(received[0].body["data"]["fields"]["title"], "One");
}

#[tokio::test]
async fn uuid_owners_and_empty_owners() {
    let h = Harness::with(|b| b.event("note.added", "bookstore.Note.created")).await;
    let owner = Uuid::now_v7();
    h.engine.subscribe(&h.db, Some(owner.into()), "note.added", &h.receiver.url("uuid")).await.unwrap();
    h.engine.subscribe(&h.db, Some(Uuid::now_v7().into()), "note.added", &h.receiver.url("other")).await.unwrap();
    h.subscribe(None, "note.added", "unowned").await;

    let owned = note::ActiveModel { author_key: Set(Some(owner)), text: Set("mine".into()), ..Default::default() };
    h.run(owned.insert(&h.db)).await.unwrap();
    let orphan = note::ActiveModel { author_key: Set(None), text: Set("nobody's".into()), ..Default::default() };
    h.run(orphan.insert(&h.db)).await.unwrap();

    let received = h.receiver.wait_for(2).await;
    let mut got: Vec<_> = received.iter().map(|r| (r.path.as_str(), r.body["data"]["text"].clone())).collect();
    got.sort_by_key(|(path, _)| *path);
    assert_eq!(got, [("/unowned", "NOBODY'S".into()), ("/uuid", "MINE".into())]);
}

#[tokio::test]
async fn an_explicit_audience_replaces_the_instance_owner() {
    let h = Harness::new().await;
    h.subscribe(Some(1), "book.read", "user1").await;
    h.subscribe(Some(2), "book.read", "user2").await;
    let book = h.run(new_book(1, "Lent").insert(&h.db)).await.unwrap();

    h.run(h.engine.action(&h.db, &book, "read").audience(2)).await.unwrap();
    h.run(h.engine.action(&h.db, &book, "read")).await.unwrap();

    let mut paths: Vec<_> = h.receiver.wait_for(2).await.into_iter().map(|r| r.path).collect();
    paths.sort();
    assert_eq!(paths, ["/user1", "/user2"]);
}

#[tokio::test]
async fn events_of_one_pass_keep_their_own_owners() {
    let h = Harness::new().await;
    h.subscribe(Some(1), "book.added", "user1").await;
    h.subscribe(Some(2), "book.added", "user2").await;

    // One transaction, so one dispatch pass sees all three events and looks each owner up once.
    let txn = h.db.begin().await.unwrap();
    for (owner, title) in [(1, "First of 1"), (2, "Only of 2"), (1, "Second of 1")] {
        h.run(new_book(owner, title).insert(&txn)).await.unwrap();
    }
    txn.commit().await.unwrap();

    let received = h.receiver.wait_for(3).await;
    let mut got: Vec<_> =
        received.iter().map(|r| (r.path.as_str(), r.body["data"]["fields"]["title"].as_str().unwrap())).collect();
    got.sort();
    assert_eq!(got, [("/user1", "First of 1"), ("/user1", "Second of 1"), ("/user2", "Only of 2")]);
}
