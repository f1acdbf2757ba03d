//! The SSRF guard: every refused class at subscription time and again at connect time, a host
//! name that resolves to a private address, the allow-list, https-only, and redirects.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::post;
use rest_hooks::store::delivery;
use rest_hooks::{BuildError, Engine, Event, Finder, HookTarget, SubscribeError, ValidationError, hook};
use rest_hooks_tests::api::ApiServer;
use rest_hooks_tests::{Harness, PUBLIC_ADDRESS, Receiver, TestDb, TestResolver, public_names};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, DbErr, EntityTrait, Set};

use crate::lifecycle::{new_book, wait_until_settled};

/// One target per refused class, with what the refusal must say.
const MATRIX: &[(&str, &str)] = &[
    ("http://127.0.0.1/", "127.0.0.1 is loopback"),
    ("http://localhost:8080/", "`localhost` is loopback"),
    ("http://10.0.0.1/", "10.0.0.1 is private"),
    ("http://172.16.5.4/", "172.16.5.4 is private"),
    ("http://192.168.1.1/", "192.168.1.1 is private"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is link-local"),
    ("http://100.64.0.1/", "100.64.0.1 is shared address space (CGNAT)"),
    ("http://[fd00::1]/", "fd00::1 is unique-local"),
    ("http://[fe80::1]/", "fe80::1 is link-local"),
    ("http://224.0.0.1/", "224.0.0.1 is multicast"),
    ("http://[ff02::1]/", "ff02::1 is multicast"),
    ("http://0.0.0.0/", "0.0.0.0 is unspecified"),
    ("http://[::]/", ":: is unspecified"),
    ("http://[::1]/", "::1 is loopback"),
    ("http://192.0.2.10/", "192.0.2.10 is documentation"),
    ("http://[2001:db8::1]/", "2001:db8::1 is documentation"),
    ("http://255.255.255.255/", "255.255.255.255 is broadcast"),
    ("http://[::ffff:169.254.169.254]/", "embeds 169.254.169.254, which is link-local"),
    ("http://[::10.0.0.1]/", "embeds 10.0.0.1, which is private"),
    ("http://[::7f00:1]/", "embeds 127.0.0.1, which is loopback"),
    ("http://[::a9fe:a9fe]/", "embeds 169.254.169.254, which is link-local"),
    ("http://[64:ff9b::7f00:1]/", "embeds 127.0.0.1, which is loopback"),
    ("http://[2002:a00:1::1]/", "embeds 10.0.0.1, which is private"),
    ("http://2130706433/", "127.0.0.1 is loopback"),
    ("http://0x7f.0.0.1/", "127.0.0.1 is loopback"),
    ("http://0177.0.0.1/", "127.0.0.1 is loopback"),
    ("http://012.0.0.1/", "10.0.0.1 is private"),
    ("http://0xa9fea9fe/", "169.254.169.254 is link-local"),
    ("http://198.18.0.1/", "198.18.0.1 is benchmarking"),
    ("http://[2001:2::1]/", "2001:2::1 is benchmarking"),
    ("http://[2001:2:0:ffff::1]/", "2001:2:0:ffff::1 is benchmarking"),
    ("http://192.88.99.1/", "192.88.99.1 is deprecated (6to4 relay anycast)"),
    ("http://[2001:10::1]/", "2001:10::1 is deprecated (ORCHID)"),
    ("http://[2001:4:112::1]/", "2001:4:112::1 is reserved for protocol assignments"),
    ("http://nohost/", "`nohost` is a single-label name"),
    ("http:///nohost", "`nohost` is a single-label name"),
    ("https://intranet.:8443/hook", "`intranet.` is a single-label name"),
];

#[tokio::test]
async fn every_refused_class_is_refused_at_subscription_with_the_reason() {
    let h = Harness::guarded(|b| b.resolver(public_names(&["hooks.example.com"]))).await;
    for (target, reason) in MATRIX {
        let error = h.engine.subscribe(&h.db, None, "book.added", target).await.unwrap_err();
        let SubscribeError::Invalid(ValidationError::Target { target: named, reason: got }) = &error else {
            panic!("{target}: {error:?}")
        };
        assert_eq!(named, target);
        assert!(got.contains(reason), "{target}: {got}");
        assert!(got.contains("allow_targets"), "{got}");
    }
    // Saving the hook entity directly is checked the same way.
    let direct = hook::ActiveModel {
        owner: Set(None),
        event: Set("book.added".into()),
        target: Set("http://169.254.169.254/".into()),
        ..Default::default()
    };
    let error = h.run(direct.insert(&h.db)).await.unwrap_err();
    assert!(error.to_string().contains("169.254.169.254 is link-local"), "{error}");
    assert!(h.engine.subscribe(&h.db, None, "book.added", "https://hooks.example.com/in").await.is_ok());
}

/// Sends every event to fixed targets, bypassing subscription checks, as a finder of the
/// application's own (or rows written by other means) might.
struct Fixed(Vec<String>);

#[async_trait::async_trait]
impl Finder for Fixed {
    async fn find(&self, _db: &DatabaseTransaction, event: &Event) -> Result<Vec<HookTarget>, DbErr> {
        let hooks = self
            .0
            .iter()
            .enumerate()
            .map(|(id, target)| HookTarget::new(id as i64, event.name.clone(), target.clone()));
        Ok(hooks.collect())
    }
}

#[tokio::test]
async fn every_refused_class_is_refused_again_at_connect_time() {
    let targets: Vec<String> = MATRIX.iter().map(|(target, _)| (*target).to_owned()).collect();
    let h = Harness::guarded(|b| b.finder(Fixed(targets.clone())).connect_timeout(Duration::from_secs(1))).await;
    h.run(new_book(1, "Nowhere").insert(&h.db)).await.unwrap();

    let deliveries = wait_until_settled(&h, MATRIX.len()).await;
    for (target, reason) in MATRIX {
        let url = reqwest::Url::parse(target).unwrap().to_string();
        let delivery = deliveries.iter().find(|d| d.target == *target).unwrap();
        assert_eq!(delivery.state, delivery::state::FAILED);
        let error = delivery.last_error.as_deref().unwrap();
        assert!(error.starts_with(&format!("refused by the SSRF guard: target `{url}`")), "{target}: {error}");
        assert!(error.contains(reason), "{target}: {error}");
    }
}

fn at(receiver: &Receiver) -> SocketAddr {
    let url = reqwest::Url::parse(&receiver.url("")).unwrap();
    SocketAddr::new(url.host_str().unwrap().parse().unwrap(), 0)
}

fn port(receiver: &Receiver) -> u16 {
    reqwest::Url::parse(&receiver.url("")).unwrap().port().unwrap()
}

/// Writes a hook row straight to the table, past the checks a subscription makes, as a hook saved
/// before its name started resolving to a private address would be.
async fn insert_unchecked(h: &Harness, target: &str) {
    let now = chrono::Utc::now();
    let row = hook::ActiveModel {
        owner: Set(Some("1".to_owned())),
        event: Set("book.added".to_owned()),
        target: Set(target.to_owned()),
        created: Set(now),
        updated: Set(now),
        secret: Set(Some(rest_hooks::signing::Secret::generate().unwrap())),
        previous_secret: Set(None),
        previous_secret_until: Set(None),
        ..Default::default()
    };
    hook::Entity::insert(row).exec(&h.db).await.unwrap();
}

#[tokio::test]
async fn a_name_that_resolves_to_a_private_address_is_refused_at_subscription_and_when_connecting() {
    let receiver = Receiver::start().await;
    let resolver = TestResolver::default().map("hooks.internal.test", &[at(&receiver)]);
    let h = Harness::guarded(move |b| b.resolver(resolver)).await;
    let target = format!("http://hooks.internal.test:{}/rebound", port(&receiver));
    let refused = h.engine.subscribe(&h.db, Some(1.into()), "book.added", &target).await.unwrap_err().to_string();
    assert!(refused.contains("its host `hooks.internal.test` resolves to 127.0.0.1 (loopback)"), "{refused}");

    insert_unchecked(&h, &target).await;
    h.run(new_book(1, "Rebound").insert(&h.db)).await.unwrap();
    let deliveries = wait_until_settled(&h, 1).await;
    let error = deliveries[0].last_error.as_deref().unwrap();
    assert!(error.starts_with("refused by the SSRF guard"), "a refusal is reported as such: {error}");
    assert!(
        error.contains("host `hooks.internal.test` resolves only to refused addresses: 127.0.0.1 (loopback)"),
        "{error}"
    );
    // A refusal is final: the guard answers to configuration, not to a passing fault. The
    // delivery stays in the log, and can be replayed once the target is fixed or allowed.
    assert_eq!(deliveries[0].state, delivery::state::FAILED);
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn names_that_resolve_to_any_refused_class_are_refused_at_subscription_and_when_connecting() {
    let cases = [
        ("private.test", "10.1.2.3", "10.1.2.3 (private)"),
        ("metadata.test", "169.254.169.254", "169.254.169.254 (link-local)"),
        ("cgnat.test", "100.100.0.1", "100.100.0.1 (shared address space (CGNAT))"),
        ("ula.test", "fd00::53", "fd00::53 (unique-local)"),
        ("mapped.test", "::ffff:192.168.0.1", "::ffff:192.168.0.1 (an IPv4-mapped address of a refused IPv4 address)"),
        ("nat64.test", "64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:a9fe (a NAT64 address of a refused IPv4 address)"),
        ("multicast.test", "239.1.2.3", "239.1.2.3 (multicast)"),
        ("broadcast.test", "255.255.255.255", "255.255.255.255 (broadcast)"),
        ("docs.test", "2001:db8::7", "2001:db8::7 (documentation)"),
        ("sixtofour.test", "2002:c0a8:1::1", "2002:c0a8:1::1 (a 6to4 address of a refused IPv4 address)"),
        ("compatible.test", "::10.0.0.1", "::a00:1 (an IPv4-compatible address of a refused IPv4 address)"),
        ("linklocal6.test", "fe80::1", "fe80::1 (link-local)"),
        ("unspecified.test", "0.0.0.0", "0.0.0.0 (unspecified)"),
    ];
    let mut resolver = TestResolver::default();
    for (name, ip, _) in cases {
        resolver = resolver.map(name, &[SocketAddr::new(ip.parse().unwrap(), 0)]);
    }
    let targets = cases.iter().map(|(name, ..)| format!("http://{name}/hook")).collect();
    // The fixed finder sends to the names without a subscription; signing is beside the point here.
    let h = Harness::guarded(move |b| b.resolver(resolver).finder(Fixed(targets)).unsigned()).await;
    for (name, _, refused) in cases {
        let error = h.engine.check_target(&format!("http://{name}/hook")).await.unwrap_err().to_string();
        assert!(error.contains(&format!("its host `{name}` resolves to {refused}")), "{error}");
    }
    h.run(new_book(1, "Rebinding").insert(&h.db)).await.unwrap();

    let deliveries = wait_until_settled(&h, cases.len()).await;
    for (name, _, refused) in cases {
        let delivery = deliveries.iter().find(|d| d.target.contains(name)).unwrap();
        let error = delivery.last_error.as_deref().unwrap();
        let expected = format!("host `{name}` resolves only to refused addresses: {refused}");
        assert!(error.contains(&expected), "{error}");
    }
}

#[tokio::test]
async fn only_the_checked_addresses_of_a_name_are_connected_to() {
    let allowed = Receiver::start().await;
    // The same port on 127.0.0.2, which the allow-list leaves out: the client would try it first.
    let refused = Receiver::start_on(SocketAddr::from(([127, 0, 0, 2], port(&allowed)))).await;
    let addresses = [at(&refused), at(&allowed)];
    let resolver = TestResolver::default().map("mixed.test", &addresses);
    let h = Harness::guarded(move |b| b.resolver(resolver).allow_targets(["127.0.0.1/32"])).await;
    let target = format!("http://mixed.test:{}/pinned", port(&allowed));
    // A name with any refused address is refused at subscription…
    let error = h.engine.subscribe(&h.db, Some(1.into()), "book.added", &target).await.unwrap_err().to_string();
    assert!(error.contains("resolves to 127.0.0.2 (loopback)"), "{error}");
    // …and a hook that has one anyway is sent to the checked addresses only.
    insert_unchecked(&h, &target).await;
    h.run(new_book(1, "Pinned").insert(&h.db)).await.unwrap();

    assert_eq!(allowed.wait_for(1).await[0].path, "/pinned");
    assert!(refused.received().is_empty());
}

#[tokio::test]
async fn an_allowed_host_name_reaches_a_development_receiver() {
    let receiver = Receiver::start().await;
    let resolver = TestResolver::default().map("dev.test", &[at(&receiver)]);
    let h = Harness::guarded(move |b| b.resolver(resolver).allow_targets(["dev.test"])).await;
    let target = format!("http://dev.test:{}/dev", port(&receiver));
    h.engine.subscribe(&h.db, Some(1.into()), "book.added", &target).await.unwrap();
    h.run(new_book(1, "Allowed").insert(&h.db)).await.unwrap();
    assert_eq!(receiver.wait_for(1).await[0].path, "/dev");
    // The name is allowed, not the address behind it.
    assert!(h.engine.subscribe(&h.db, Some(1.into()), "book.added", &receiver.url("direct")).await.is_err());
}

#[tokio::test]
async fn a_redirect_to_a_private_address_is_not_followed() {
    let private = Receiver::start().await;
    let location = private.url("private");
    let app = Router::new()
        .route("/redirect", post(move || async move { (StatusCode::FOUND, [(header::LOCATION, location)]) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let allowed = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let resolver = TestResolver::default().map("allowed.test", &[allowed]);
    let h = Harness::guarded(move |b| b.resolver(resolver).allow_targets(["allowed.test"])).await;
    let target = format!("http://allowed.test:{}/redirect", allowed.port());
    h.engine.subscribe(&h.db, Some(1.into()), "book.added", &target).await.unwrap();
    h.run(new_book(1, "Redirected").insert(&h.db)).await.unwrap();

    let deliveries = wait_until_settled(&h, 1).await;
    assert_eq!(deliveries[0].last_status, Some(302));
    // A redirect is a failure, tried again on the schedule, never followed.
    assert_eq!(deliveries[0].state, delivery::state::PENDING);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(private.received().is_empty());
}

#[tokio::test]
async fn https_only_refuses_plain_http() {
    let h = Harness::guarded(|b| b.https_only(true).resolver(public_names(&["hooks.example.com"]))).await;
    let error = h.engine.subscribe(&h.db, None, "book.added", "http://hooks.example.com/").await.unwrap_err();
    assert!(error.to_string().contains("accepts https targets only"), "{error}");
    assert!(h.engine.subscribe(&h.db, None, "book.added", "https://hooks.example.com/").await.is_ok());

    // A plain-http target that got past subscription is refused before anything is sent.
    let h = Harness::guarded(|b| b.https_only(true).finder(Fixed(vec!["http://hooks.example.com/".into()]))).await;
    h.run(new_book(1, "Plain").insert(&h.db)).await.unwrap();
    let deliveries = wait_until_settled(&h, 1).await;
    let error = deliveries[0].last_error.as_deref().unwrap();
    assert!(
        error.starts_with("refused by the SSRF guard: target `http://hooks.example.com/`: it is not https"),
        "{error}"
    );
}

#[tokio::test]
async fn the_guard_can_be_turned_off_and_a_bad_allow_list_entry_is_named() {
    let h = Harness::guarded(|b| b.ssrf_guard(false)).await;
    h.subscribe(Some(1), "book.added", "unguarded").await;
    h.run(new_book(1, "Unguarded").insert(&h.db)).await.unwrap();
    h.receiver.wait_for(1).await;

    let db = TestDb::sqlite().await;
    let error = Engine::builder().allow_targets(["10.0.0.0/40"]).process_wide(false).start(db.db.clone()).unwrap_err();
    assert!(matches!(error, BuildError::Setting { name: "allow_targets", .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "setting `allow_targets` `10.0.0.0/40` is neither a CIDR, an IP address nor a host name"
    );
}

#[tokio::test]
async fn single_label_names_are_refused_unless_allowed_by_name() {
    // They would resolve through the server's DNS search domains, usually to its own network.
    let receiver = Receiver::start().await;
    let resolver = TestResolver::default().map("nohost", &[PUBLIC_ADDRESS]).map("intranet", &[at(&receiver)]);
    let h = Harness::guarded({
        let resolver = resolver.clone();
        move |b| b.resolver(resolver)
    })
    .await;
    for (target, name) in
        [("http:///nohost", "nohost"), ("http://nohost/hook", "nohost"), ("http://intranet./", "intranet.")]
    {
        let error = h.engine.check_target(target).await.unwrap_err().to_string();
        assert!(error.contains(&format!("its host `{name}` is a single-label name")), "{target}: {error}");
        let error = h.engine.subscribe(&h.db, Some(1.into()), "book.added", target).await.unwrap_err().to_string();
        assert!(error.contains("single-label"), "{target}: {error}");
    }
    assert_eq!(resolver.lookups("nohost"), 0, "refused before any lookup");
    // The API says why, to an owner too.
    let api = ApiServer::of(&h).await;
    let answer = api.post("", 1, serde_json::json!({"event": "book.added", "target": "http://nohost/hook"})).await;
    assert_eq!((answer.status, answer.body["field"].as_str()), (422, Some("target")), "{answer:?}");
    assert!(answer.body["message"].as_str().unwrap().contains("single-label"), "{answer:?}");

    // Allowed by its exact name, a single-label development host is called.
    let h = Harness::guarded(move |b| b.resolver(resolver).allow_targets(["intranet"])).await;
    let target = format!("http://intranet:{}/dev", port(&receiver));
    h.engine.subscribe(&h.db, Some(1.into()), "book.added", &target).await.unwrap();
    h.run(new_book(1, "Intranet").insert(&h.db)).await.unwrap();
    assert_eq!(receiver.wait_for(1).await[0].path, "/dev");
    assert!(h.engine.check_target("http://nohost/").await.is_err(), "only the allowed name");
}

#[tokio::test]
async fn a_name_that_does_not_resolve_is_refused_at_subscription() {
    let h = Harness::guarded(|b| b.resolver(TestResolver::default().map("hooks.example.com", &[PUBLIC_ADDRESS]))).await;
    let error = h.engine.subscribe(&h.db, None, "book.added", "https://nowhere.example.com/in").await.unwrap_err();
    let SubscribeError::Invalid(ValidationError::Target { reason, .. }) = &error else { panic!("{error:?}") };
    assert!(reason.starts_with("its host `nowhere.example.com` does not resolve"), "{reason}");
    assert!(h.engine.check_target("https://nowhere.example.com/in").await.is_err());
    assert!(h.engine.check_target("https://hooks.example.com/in").await.is_ok());
    let api = ApiServer::of(&h).await;
    let target = "https://nowhere.example.com/in";
    let answer = api.post("", 1, serde_json::json!({"event": "book.added", "target": target})).await;
    assert_eq!((answer.status, answer.body["field"].as_str()), (422, Some("target")), "{answer:?}");
    // An allowed name is taken as it is, resolving or not.
    let h = Harness::guarded(|b| b.resolver(TestResolver::default()).allow_targets(["nowhere.example.com"])).await;
    assert!(h.engine.subscribe(&h.db, None, "book.added", "https://nowhere.example.com/in").await.is_ok());
}

#[tokio::test]
async fn a_subscription_resolves_its_target_once() {
    let resolver = public_names(&["hooks.example.com"]);
    let h = Harness::guarded({
        let resolver = resolver.clone();
        move |b| b.resolver(resolver)
    })
    .await;
    h.engine.subscribe(&h.db, Some(1.into()), "book.added", "https://hooks.example.com/in").await.unwrap();
    assert_eq!(resolver.lookups("hooks.example.com"), 1);
    let api = ApiServer::of(&h).await;
    api.subscribe(1, "book.added", "https://hooks.example.com/api").await;
    assert_eq!(resolver.lookups("hooks.example.com"), 2);
    // Saving the hook entity directly checks it once as well.
    let direct = hook::ActiveModel {
        owner: Set(None),
        event: Set("book.added".into()),
        target: Set("https://hooks.example.com/direct".into()),
        ..Default::default()
    };
    h.run(direct.insert(&h.db)).await.unwrap();
    assert_eq!(resolver.lookups("hooks.example.com"), 3);
}
