//! Bounds: one slow receiver cannot take every request slot, one slow hook not every slot of its
//! host; old rows are purged.

use std::time::Duration;

use rest_hooks::RetryPolicy;
use rest_hooks::store::{attempt, delivery, outbox};
use rest_hooks_tests::{Frozen, Harness, Receiver, Reply, eventually};
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait};

use crate::lifecycle::new_book;

#[tokio::test]
async fn a_slow_receiver_gets_one_request_at_a_time_and_the_others_go_on() {
    let h = Harness::with(|b| b.concurrency(4).per_target_concurrency(1)).await;
    let slow = Receiver::start().await;
    slow.reply("slow", Reply::status(200).after(Duration::from_millis(400)));
    for path in ["slow", "slow", "slow"] {
        h.engine.subscribe(&h.db, Some(1.into()), "book.added", &slow.url(path)).await.unwrap();
    }
    h.subscribe(Some(1), "book.added", "fast").await;
    let started = std::time::Instant::now();
    h.run(new_book(1, "Shared").insert(&h.db)).await.unwrap();

    h.receiver.wait_for(1).await;
    assert!(slow.received().len() <= 1, "the slow receiver gets one request at a time, the fast one need not wait");
    eventually("the slow receiver's three requests", || async { (slow.received().len() == 3).then_some(()) }).await;
    assert!(started.elapsed() >= Duration::from_millis(800), "they came one after another: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_hook_whose_requests_hang_holds_only_its_share_of_its_host_and_a_fast_hook_there_goes_on() {
    // Two requests at once per host; both hooks post to the same host.
    let h = Harness::with(|b| b.concurrency(8).per_target_concurrency(2)).await;
    h.receiver.reply("slow", Reply::status(200).after(Duration::from_secs(5)));
    h.subscribe(Some(1), "book.added", "slow").await;
    h.subscribe(Some(1), "book.added", "fast").await;
    for i in 0..20 {
        h.run(new_book(1, &format!("Book {i}")).insert(&h.db)).await.unwrap();
    }

    eventually("the fast hook's 20 deliveries", || async { (h.receiver.count("fast") == 20).then_some(()) }).await;
    // The slow hook runs one request at a time (its share of the host's two), each for 5 s.
    assert!(h.receiver.count("slow") <= 2, "the slow hook started {} requests", h.receiver.count("slow"));
}

#[tokio::test(start_paused = true)]
async fn old_attempts_deliveries_and_events_are_purged_and_dead_ones_kept() {
    let _frozen = Frozen::new();
    let h = Harness::with(|b| {
        b.retention(Some(Duration::from_secs(60)))
            .retry_policy_for(|hook| hook.target.ends_with("/dead").then(RetryPolicy::no_retries))
            .poll_interval(Duration::from_millis(20))
    })
    .await;
    h.receiver.respond("dead", 500);
    h.subscribe(Some(1), "book.added", "ok").await;
    h.subscribe(Some(1), "book.added", "dead").await;
    h.run(new_book(1, "Old").insert(&h.db)).await.unwrap();
    eventually("both attempts recorded", || async {
        let rows = delivery::Entity::find().all(&h.db).await.unwrap();
        (rows.len() == 2 && rows.iter().all(|d| d.state != delivery::state::PENDING)).then_some(())
    })
    .await;
    assert_eq!(attempt::Entity::find().count(&h.db).await.unwrap(), 2);

    tokio::time::advance(Duration::from_secs(61)).await;
    let left = eventually("the old rows purged", || async {
        let rows = delivery::Entity::find().all(&h.db).await.unwrap();
        (rows.len() == 1).then_some(rows)
    })
    .await;
    assert!(left[0].target.ends_with("/dead") && left[0].state == delivery::state::FAILED);
    eventually("the attempt log and outbox purged", || async {
        let attempts = attempt::Entity::find().count(&h.db).await.unwrap();
        let events = outbox::Entity::find().count(&h.db).await.unwrap();
        (attempts == 0 && events == 0).then_some(())
    })
    .await;

    // By hand, with any age.
    h.receiver.respond("dead", 200);
    h.run(new_book(1, "New").insert(&h.db)).await.unwrap();
    eventually("the new deliveries made", || async {
        let rows = delivery::Entity::find().all(&h.db).await.unwrap();
        (rows.iter().filter(|d| d.state == delivery::state::DELIVERED).count() == 2).then_some(())
    })
    .await;
    tokio::time::advance(Duration::from_millis(10)).await;
    let purged = h.engine.purge(Duration::ZERO).await.unwrap();
    assert_eq!((purged.attempts, purged.deliveries, purged.events), (2, 2, 1));
}
