//! Metrics: what the engine records through the `metrics` facade for delivered, retried, refused
//! and disabled attempts, the attempt histograms, and the backlog gauges while a receiver is held.
//!
//! A recorder is installed once for the whole test binary (the engine records from tasks on the
//! runtime and from its actor thread, which a thread-local recorder would miss); each test's engine
//! puts its own `test` label on every metric, so tests running side by side stay apart.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use metrics::{Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, SharedString, Unit};
use rest_hooks::{Event, Finder, HookTarget};
use rest_hooks_tests::{Harness, Reply, eventually};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, DbErr};

use crate::lifecycle::new_book;

/// What the test recorder has seen, by metric name and labels (`name{key=value,…}`, labels sorted).
#[derive(Default)]
struct Seen {
    counters: Mutex<HashMap<String, u64>>,
    gauges: Mutex<HashMap<String, f64>>,
    histograms: Mutex<HashMap<String, Vec<f64>>>,
}

/// The recorder of the test binary, installed on first use.
fn seen() -> &'static Arc<Seen> {
    static SEEN: OnceLock<Arc<Seen>> = OnceLock::new();
    SEEN.get_or_init(|| {
        let seen = Arc::new(Seen::default());
        metrics::set_global_recorder(Recorder(Arc::clone(&seen))).unwrap();
        seen
    })
}

struct Recorder(Arc<Seen>);

/// One metric of the recorder: where it writes and under which name.
struct Handle {
    seen: Arc<Seen>,
    key: String,
}

fn key_of(key: &Key) -> String {
    let labels: BTreeMap<&str, &str> = key.labels().map(|label| (label.key(), label.value())).collect();
    let labels: Vec<String> = labels.iter().map(|(key, value)| format!("{key}={value}")).collect();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl metrics::Recorder for Recorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(Handle { seen: Arc::clone(&self.0), key: key_of(key) }))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::new(Handle { seen: Arc::clone(&self.0), key: key_of(key) }))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(Handle { seen: Arc::clone(&self.0), key: key_of(key) }))
    }
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        *self.seen.counters.lock().unwrap().entry(self.key.clone()).or_default() += value;
    }

    fn absolute(&self, value: u64) {
        self.seen.counters.lock().unwrap().insert(self.key.clone(), value);
    }
}

impl GaugeFn for Handle {
    fn increment(&self, value: f64) {
        *self.seen.gauges.lock().unwrap().entry(self.key.clone()).or_default() += value;
    }

    fn decrement(&self, value: f64) {
        *self.seen.gauges.lock().unwrap().entry(self.key.clone()).or_default() -= value;
    }

    fn set(&self, value: f64) {
        self.seen.gauges.lock().unwrap().insert(self.key.clone(), value);
    }
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        self.seen.histograms.lock().unwrap().entry(self.key.clone()).or_default().push(value);
    }
}

/// A harness whose engine labels its metrics `test="<test>"`.
async fn labelled(test: &str, configure: impl FnOnce(rest_hooks::Builder) -> rest_hooks::Builder) -> Harness {
    seen();
    let test = test.to_owned();
    Harness::with(move |b| configure(b.metrics_label("test", test))).await
}

fn deliveries(test: &str, outcome: &str) -> u64 {
    let key = format!("rest_hooks_deliveries_total{{outcome={outcome},test={test}}}");
    seen().counters.lock().unwrap().get(&key).copied().unwrap_or(0)
}

fn samples(name: &str, test: &str) -> Vec<f64> {
    seen().histograms.lock().unwrap().get(&format!("{name}{{test={test}}}")).cloned().unwrap_or_default()
}

fn gauge(name: &str, labels: &str) -> Option<f64> {
    seen().gauges.lock().unwrap().get(&format!("{name}{{{labels}}}")).copied()
}

/// Waits until `test` counted `count` attempts with `outcome`.
async fn counted(test: &str, outcome: &str, count: u64) {
    eventually(&format!("{count} `{outcome}` attempts"), || async {
        (deliveries(test, outcome) >= count).then_some(())
    })
    .await;
    assert_eq!(deliveries(test, outcome), count, "`{outcome}` attempts");
}

#[tokio::test]
async fn a_delivered_attempt_is_counted_with_its_duration_and_latency() {
    let test = "delivered";
    let h = labelled(test, |b| b).await;
    h.subscribe(Some(1), "book.added", "ok").await;
    h.run(new_book(1, "Counted").insert(&h.db)).await.unwrap();

    h.receiver.wait_for(1).await;
    counted(test, "delivered", 1).await;
    let durations = samples("rest_hooks_attempt_duration_seconds", test);
    assert_eq!(durations.len(), 1);
    assert!(durations[0] > 0.0 && durations[0] < 10.0, "{durations:?}");
    let latencies = samples("rest_hooks_first_attempt_latency_seconds", test);
    assert_eq!(latencies.len(), 1, "the first attempt's latency");
    assert!(latencies[0] >= 0.0 && latencies[0] < 10.0, "{latencies:?}");
    assert!(!samples("rest_hooks_dispatch_pass_duration_seconds", test).is_empty(), "dispatch passes are timed");
    for outcome in ["retried", "dead", "refused", "disabled"] {
        assert_eq!(deliveries(test, outcome), 0, "`{outcome}` attempts");
    }
}

#[tokio::test]
async fn a_500_is_counted_as_retried() {
    let test = "retried";
    let h = labelled(test, |b| b).await;
    h.receiver.respond("down", 500);
    h.subscribe(Some(1), "book.added", "down").await;
    h.run(new_book(1, "Again").insert(&h.db)).await.unwrap();

    counted(test, "retried", 1).await;
    assert_eq!(deliveries(test, "delivered"), 0);
    assert_eq!(samples("rest_hooks_first_attempt_latency_seconds", test).len(), 1);
}

#[tokio::test]
async fn a_gone_receiver_is_counted_as_disabled_and_its_hook_as_disabled() {
    let test = "gone";
    let h = labelled(test, |b| b).await;
    h.receiver.respond("gone", 410);
    h.subscribe(Some(1), "book.added", "gone").await;
    h.run(new_book(1, "Gone").insert(&h.db)).await.unwrap();

    counted(test, "disabled", 1).await;
    let key = format!("rest_hooks_hooks_disabled_total{{test={test}}}");
    eventually("the disabling counted", || async { seen().counters.lock().unwrap().get(&key).copied() }).await;
    assert_eq!(seen().counters.lock().unwrap()[&key], 1);
}

/// Finds one hook on a private address, which the SSRF guard refuses when connecting.
struct Private;

#[async_trait::async_trait]
impl Finder for Private {
    async fn find(&self, _db: &DatabaseTransaction, event: &Event) -> Result<Vec<HookTarget>, DbErr> {
        Ok(vec![HookTarget::new(1, event.name.clone(), "http://10.0.0.1/hook")])
    }
}

#[tokio::test]
async fn a_refused_target_is_counted_as_refused() {
    let test = "refused";
    seen();
    let h = Harness::guarded(|b| b.finder(Private).metrics_label("test", test)).await;
    h.run(new_book(1, "Nowhere").insert(&h.db)).await.unwrap();

    counted(test, "refused", 1).await;
    assert_eq!(deliveries(test, "dead"), 0, "a refusal is not counted as dead too");
}

#[tokio::test]
async fn backlog_gauges_show_the_deliveries_a_held_receiver_keeps_waiting() {
    let test = "backlog";
    let h = labelled(test, |b| {
        b.per_target_concurrency(1).metrics_per_receiver(true).backlog_interval(Duration::from_millis(20))
    })
    .await;
    h.receiver.reply("held", Reply::status(200).after(Duration::from_secs(60)));
    h.subscribe(Some(1), "book.added", "held").await;
    for title in ["One", "Two", "Three"] {
        h.run(new_book(1, title).insert(&h.db)).await.unwrap();
    }

    h.receiver.wait_for(1).await;
    let labels = format!("test={test}");
    let backlog = || {
        [
            "rest_hooks_outbox_pending",
            "rest_hooks_deliveries_pending",
            "rest_hooks_deliveries_due",
            "rest_hooks_deliveries_leased",
        ]
        .map(|name| gauge(name, &labels))
    };
    // One request under way to the receiver's only slot; the others wait, queued here (held with
    // their event, no row yet) or in the database (a row each, due).
    eventually("the backlog gauges", || async {
        let [outbox, pending, due, leased] = backlog();
        let in_flight = gauge("rest_hooks_deliveries_in_flight", &labels);
        let all = pending.zip(in_flight).is_some_and(|(p, f)| p + f == 3.0 && f >= 1.0);
        (outbox == Some(0.0) && all && due.zip(leased).zip(pending).is_some_and(|((d, l), p)| d + l == p)).then_some(())
    })
    .await;
    let receiver = h.receiver.url("").trim_end_matches('/').to_owned();
    let per_receiver = format!("receiver={receiver},{labels}");
    assert_eq!(gauge("rest_hooks_receiver_requests_in_flight", &per_receiver), Some(1.0));
}

fn statements(test: &str) -> u64 {
    let key = format!("rest_hooks_engine_statements_total{{test={test}}}");
    seen().counters.lock().unwrap().get(&key).copied().unwrap_or(0)
}

#[tokio::test]
async fn the_engines_own_statements_are_counted_and_the_applications_saves_are_not() {
    let test = "statements";
    let h = labelled(test, |b| b.deliver(false)).await;
    h.subscribe(Some(1), "book.added", "ok").await;
    let subscribing = statements(test);
    for i in 0..20 {
        h.run(new_book(1, &format!("Saved {i}")).insert(&h.db)).await.unwrap();
    }
    assert_eq!(
        statements(test),
        subscribing,
        "the saves and their outbox rows went through the application's connection"
    );

    let delivering = "statements-delivering";
    let worker = rest_hooks_tests::bookstore_events(rest_hooks::Engine::builder())
        .allow_targets(["127.0.0.1/32"])
        .metrics_label("test", delivering)
        .start(h.db.clone())
        .unwrap();
    h.receiver.wait_for(20).await;
    eventually("the outcomes written", || async { (statements(delivering) > 0).then_some(()) }).await;
    worker.shutdown().await;
}
