//! Retries against a real receiver: the whole default schedule on tokio's paused clock, response
//! handling (410, 3xx, 429 and `Retry-After`, timeouts, refused connections, huge bodies), the
//! per-hook policy, and disabling a hook that keeps failing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rest_hooks::store::delivery;
use rest_hooks::{Disabled, HookId, RetryPolicy};
use rest_hooks_tests::{Frozen, Harness, Reply, eventually, real_sleep};
use sea_orm::{ActiveModelTrait, EntityTrait};

use crate::lifecycle::new_book;

/// The only delivery, once it has had `attempts` attempts and is not being attempted.
pub(crate) async fn settled_after(h: &Harness, attempts: i32) -> delivery::Model {
    eventually(&format!("a delivery with {attempts} attempts"), || async {
        let rows = delivery::Entity::find().all(&h.db).await.unwrap();
        rows.into_iter().find(|d| d.attempts == attempts && d.lease_until.is_none())
    })
    .await
}

/// The `count` deliveries, once each has had one attempt and none is being attempted.
async fn tried_once(h: &Harness, count: usize) -> Vec<delivery::Model> {
    eventually(&format!("{count} deliveries tried once"), || async {
        let rows = delivery::Entity::find().all(&h.db).await.unwrap();
        (rows.len() == count && rows.iter().all(|d| d.attempts == 1 && d.lease_until.is_none())).then_some(rows)
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn the_default_schedule_runs_to_its_end_on_a_paused_clock() {
    let _frozen = Frozen::new();
    let h =
        Harness::with(|b| b.retry_policy(RetryPolicy::default().jitter(0.0)).poll_interval(Duration::from_millis(20)))
            .await;
    h.receiver.respond("down", 500);
    h.subscribe(Some(1), "book.added", "down").await;
    h.run(new_book(1, "Persistence").insert(&h.db)).await.unwrap();

    let first = settled_after(&h, 1).await;
    assert_eq!(h.receiver.count("down"), 1);
    let mut last_at = first.created_at;
    let schedule = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600];
    for (attempts, seconds) in (2..).zip(schedule) {
        let row = settled_after(&h, attempts - 1).await;
        assert_eq!(row.state, delivery::state::PENDING);
        let wait = row.next_attempt_at - last_at;
        assert!((wait - seconds * 1000).abs() <= 5, "before attempt {attempts}: waits {wait} ms, not {seconds} s");
        // A second before it is due, nothing goes out.
        tokio::time::advance(Duration::from_secs(seconds as u64 - 1)).await;
        real_sleep(Duration::from_millis(100)).await;
        assert_eq!(h.receiver.count("down"), attempts as usize - 1, "attempt {attempts} came early");
        // Just after it is due (the engine's clock is exact to the millisecond only).
        tokio::time::advance(Duration::from_millis(1010)).await;
        eventually(&format!("attempt {attempts}"), || async {
            (h.receiver.count("down") == attempts as usize).then_some(())
        })
        .await;
        last_at = row.next_attempt_at + 10;
    }
    let dead = settled_after(&h, 8).await;
    assert_eq!(dead.state, delivery::state::FAILED);
    assert_eq!(dead.last_error.as_deref(), Some("HTTP 500; gave up: 8 attempts made, the most allowed"));
    tokio::time::advance(Duration::from_secs(100 * 3600)).await;
    real_sleep(Duration::from_millis(100)).await;
    assert_eq!(h.receiver.count("down"), 8);
    // Every attempt carried the same id.
    let mut ids: Vec<_> = h.receiver.received().iter().map(|r| r.headers["webhook-id"].clone()).collect();
    ids.dedup();
    assert_eq!(ids, [format!("msg_{}", dead.id.simple())]);
}

#[tokio::test]
async fn gone_disables_the_hook_at_once_and_nothing_more_is_sent() {
    let disabled: Arc<Mutex<Vec<Disabled>>> = Arc::default();
    let log = Arc::clone(&disabled);
    let h = Harness::with(move |b| b.on_disabled(move |d| log.lock().unwrap().push(d.clone()))).await;
    h.receiver.respond("gone", 410);
    let gone = h.subscribe(Some(1), "book.added", "gone").await;
    h.subscribe(Some(1), "book.added", "fine").await;

    h.run(new_book(1, "First").insert(&h.db)).await.unwrap();
    h.receiver.wait_for(2).await;
    let state = eventually("the hook disabled", || async {
        h.engine.hook_state(&HookId::Int(gone.id)).await.unwrap().filter(|s| s.disabled_at.is_some())
    })
    .await;
    assert_eq!(state.disabled_reason.as_deref(), Some("the target answered 410 Gone"));
    let notices = eventually("the notification", || async {
        let notices = disabled.lock().unwrap().clone();
        (!notices.is_empty()).then_some(notices)
    })
    .await;
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].hook.id, HookId::Int(gone.id));
    assert_eq!(notices[0].reason, "the target answered 410 Gone");
    let rows = delivery::Entity::find().all(&h.db).await.unwrap();
    let dead = rows.iter().find(|d| d.target.ends_with("/gone")).unwrap();
    assert_eq!(dead.state, delivery::state::FAILED);
    assert_eq!(dead.attempts, 1);

    h.run(new_book(1, "Second").insert(&h.db)).await.unwrap();
    eventually("the second book at /fine", || async { (h.receiver.count("fine") == 2).then_some(()) }).await;
    real_sleep(Duration::from_millis(300)).await;
    assert_eq!(h.receiver.count("gone"), 1, "nothing more reaches a disabled hook");
    assert_eq!(delivery::Entity::find().all(&h.db).await.unwrap().len(), 3, "no delivery is even recorded for it");

    // Enabled again, it receives the next event.
    assert!(h.engine.enable_hook(&HookId::Int(gone.id)).await.unwrap());
    h.receiver.respond("gone", 200);
    h.run(new_book(1, "Third").insert(&h.db)).await.unwrap();
    eventually("the third book at /gone", || async { (h.receiver.count("gone") == 2).then_some(()) }).await;
}

#[tokio::test]
async fn redirects_are_failures_retried_and_never_followed() {
    let h = Harness::new().await;
    h.receiver.reply("moved", Reply::status(301).header("location", &h.receiver.url("elsewhere")));
    h.subscribe(Some(1), "book.added", "moved").await;
    h.run(new_book(1, "Moved").insert(&h.db)).await.unwrap();

    let row = settled_after(&h, 1).await;
    assert_eq!((row.state, row.last_status), (delivery::state::PENDING, Some(301)));
    assert_eq!(h.receiver.count("elsewhere"), 0);
}

#[tokio::test]
async fn slow_down_answers_and_retry_after_push_the_next_attempt_back() {
    let h = Harness::with(|b| b.retry_policy(RetryPolicy::default().jitter(0.0))).await;
    h.receiver.reply("busy", Reply::status(429).header("retry-after", "120"));
    h.receiver.respond("unavailable", 503);
    let date = (chrono::Utc::now() + chrono::Duration::seconds(3600)).to_rfc2822().replace("+0000", "GMT");
    h.receiver.reply("dated", Reply::status(500).header("retry-after", &date));
    for path in ["busy", "unavailable", "dated"] {
        h.subscribe(Some(1), "book.added", path).await;
    }
    h.run(new_book(1, "Busy").insert(&h.db)).await.unwrap();

    let rows = tried_once(&h, 3).await;
    let wait = |path: &str| {
        let row = rows.iter().find(|d| d.target.ends_with(path)).unwrap();
        row.next_attempt_at - row.created_at
    };
    assert!((120_000..121_000).contains(&wait("/busy")), "{}", wait("/busy"));
    assert!((30_000..31_000).contains(&wait("/unavailable")), "{}", wait("/unavailable"));
    assert!((3_598_000..3_601_000).contains(&wait("/dated")), "{}", wait("/dated"));
}

#[tokio::test]
async fn timeouts_refused_connections_and_huge_bodies_are_retried() {
    let h = Harness::with(|b| b.timeout(Duration::from_millis(500)).response_excerpt(100)).await;
    h.receiver.reply("slow", Reply::status(200).after(Duration::from_secs(3)));
    h.receiver.reply("huge", Reply::status(500).body("x".repeat(4 * 1024 * 1024)));
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nowhere = format!("http://{}/nowhere", closed.local_addr().unwrap());
    drop(closed);
    h.subscribe(Some(1), "book.added", "slow").await;
    h.subscribe(Some(1), "book.added", "huge").await;
    h.engine.subscribe(&h.db, Some(1.into()), "book.added", &nowhere).await.unwrap();
    h.run(new_book(1, "Trouble").insert(&h.db)).await.unwrap();

    let rows = tried_once(&h, 3).await;
    assert!(rows.iter().all(|d| d.state == delivery::state::PENDING), "{rows:#?}");
    let error = |path: &str| rows.iter().find(|d| d.target.ends_with(path)).unwrap().last_error.clone().unwrap();
    assert!(error("/slow").starts_with("timed out"), "{}", error("/slow"));
    assert!(error("/nowhere").starts_with("cannot connect"), "{}", error("/nowhere"));
    assert_eq!(error("/huge"), "HTTP 500");
    let huge = rows.iter().find(|d| d.target.ends_with("/huge")).unwrap();
    let attempts = h.engine.attempts_of_delivery(huge.id).await.unwrap();
    assert_eq!(attempts[0].response.as_ref().map(String::len), Some(100));
}

#[tokio::test]
async fn a_hook_can_have_a_policy_of_its_own() {
    let h = Harness::with(|b| b.retry_policy_for(|hook| hook.target.ends_with("/once").then(RetryPolicy::no_retries)))
        .await;
    h.receiver.respond("once", 500);
    h.receiver.respond("often", 500);
    h.subscribe(Some(1), "book.added", "once").await;
    h.subscribe(Some(1), "book.added", "often").await;
    h.run(new_book(1, "Policies").insert(&h.db)).await.unwrap();

    let rows = tried_once(&h, 2).await;
    let state = |path: &str| rows.iter().find(|d| d.target.ends_with(path)).unwrap().state;
    assert_eq!(state("/once"), delivery::state::FAILED);
    assert_eq!(state("/often"), delivery::state::PENDING);
}

#[tokio::test(start_paused = true)]
async fn a_hook_failing_for_the_whole_period_is_disabled() {
    let _frozen = Frozen::new();
    let every_30_s = RetryPolicy::new([Duration::ZERO; 1].into_iter().chain([Duration::from_secs(30); 9])).jitter(0.0);
    let h = Harness::with(|b| {
        b.retry_policy(every_30_s).disable_after(Duration::from_secs(60)).poll_interval(Duration::from_millis(20))
    })
    .await;
    h.receiver.respond("flaky", 500);
    let hook = h.subscribe(Some(1), "book.added", "flaky").await;
    h.run(new_book(1, "Flaky").insert(&h.db)).await.unwrap();

    settled_after(&h, 1).await;
    let state = h.engine.hook_state(&HookId::Int(hook.id)).await.unwrap().unwrap();
    assert!(state.failing_since.is_some() && state.disabled_at.is_none(), "{state:?}");
    tokio::time::advance(Duration::from_secs(31)).await;
    settled_after(&h, 2).await;
    assert!(h.engine.hook_state(&HookId::Int(hook.id)).await.unwrap().unwrap().disabled_at.is_none());
    tokio::time::advance(Duration::from_secs(31)).await;
    let dead = eventually("the delivery killed", || async {
        let rows = delivery::Entity::find().all(&h.db).await.unwrap();
        rows.into_iter().find(|d| d.state == delivery::state::FAILED)
    })
    .await;
    assert_eq!(dead.attempts, 3);
    let state = h.engine.hook_state(&HookId::Int(hook.id)).await.unwrap().unwrap();
    assert_eq!(state.disabled_reason.as_deref(), Some("every attempt has failed for 1 min"));
    tokio::time::advance(Duration::from_secs(300)).await;
    real_sleep(Duration::from_millis(100)).await;
    assert_eq!(h.receiver.count("flaky"), 3);
}

#[tokio::test]
async fn out_of_range_delivery_settings_are_named() {
    let db = rest_hooks_tests::TestDb::sqlite().await;
    let start = |configure: fn(rest_hooks::Builder) -> rest_hooks::Builder| {
        configure(rest_hooks::Engine::builder().process_wide(false)).start(db.db.clone()).unwrap_err().to_string()
    };
    assert_eq!(
        start(|b| b.disable_after(Duration::from_secs(5))),
        "setting `disable_after` (5s) must be at least 1 min"
    );
    assert_eq!(start(|b| b.retention(Some(Duration::from_secs(1)))), "setting `retention` (1s) must be at least 1 min");
    assert_eq!(start(|b| b.per_target_concurrency(0)), "setting `per_target_concurrency` must be at least 1");
}

#[tokio::test]
async fn a_retry_due_before_the_idle_poll_is_not_kept_waiting() {
    let quick = RetryPolicy::new([Duration::ZERO, Duration::from_millis(200), Duration::from_millis(200)]).jitter(0.0);
    let h = Harness::with(|b| b.retry_policy(quick).poll_interval(Duration::from_secs(10))).await;
    h.receiver.respond("down", 500);
    h.subscribe(Some(1), "book.added", "down").await;
    let started = std::time::Instant::now();
    h.run(new_book(1, "Soon").insert(&h.db)).await.unwrap();

    let dead = eventually("three attempts", || async {
        let rows = delivery::Entity::find().all(&h.db).await.unwrap();
        rows.into_iter().find(|d| d.state == delivery::state::FAILED)
    })
    .await;
    assert_eq!(dead.attempts, 3);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}
