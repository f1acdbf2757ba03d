//! The owner portal in a real browser: headless Chromium, driven through chromedriver, uses the
//! page the API serves as an owner would — signs in with a token, creates hooks, watches a
//! delivery arrive in the log, sends a test, replays a failure, turns a hook off and on — and
//! never sees another owner's hook. `REST_HOOKS_BLESS=1` writes the screenshot to docs/portal.png.

use rest_hooks::RetryPolicy;
use rest_hooks_tests::api::ApiServer;
use rest_hooks_tests::browser::Browser;
use rest_hooks_tests::{Harness, Reply};
use sea_orm::ActiveModelTrait;
use serde_json::json;

use crate::lifecycle::new_book;

/// The chromedriver binary: from the environment now, or as it was when the suite was built.
fn chromedriver() -> String {
    std::env::var("REST_HOOKS_CHROMEDRIVER")
        .ok()
        .or_else(|| option_env!("REST_HOOKS_CHROMEDRIVER").map(str::to_owned))
        .filter(|path| !path.is_empty())
        .unwrap_or_else(|| "chromedriver".to_owned())
}

/// The row of hook `id` in the page's table, and a button of it.
fn row(id: &str, button: &str) -> String {
    format!(r#"#hooks tr[data-hook="{id}"] button.{button}"#)
}

#[tokio::test]
#[cfg_attr(
    not(rest_hooks_chromedriver),
    ignore = "set REST_HOOKS_CHROMEDRIVER to the chromedriver binary to test the portal in headless Chromium"
)]
async fn an_owner_manages_hooks_in_the_portal() {
    let h = Harness::with(|b| b.retry_policy(RetryPolicy::no_retries())).await;
    let api = ApiServer::of(&h).await;
    h.receiver.reply("crm", Reply::status(500).body(r#"<img src=x onerror="alert(1)"> database is down"#));
    // Owner 2's hook, made through the engine: the portal of owner 1 must not show it.
    h.subscribe(Some(2), "book.added", "owner-two-only").await;

    let browser = Browser::start(&chromedriver()).await;
    browser.open(&api.url("/portal")).await;
    browser.text_of("#status", |text| text.starts_with("Not signed in")).await;

    // Sign in with a token, then subscribe two targets through the form.
    browser.type_into("#token", "token-1").await;
    browser.click("#token-use").await;
    let mut ids = Vec::new();
    for (event, path) in [("book.added", "inbox"), ("book.added", "crm")] {
        browser.click(&format!(r#"#event option[value="{event}"]"#)).await;
        browser.type_into("#target", &h.receiver.url(path)).await;
        browser.click("#create-button").await;
        let created_id = |text: &str| text.strip_prefix("Hook ")?.strip_suffix(" created.").map(str::to_owned);
        let created = browser.text_of("#status", |text| created_id(text).is_some_and(|id| !ids.contains(&id))).await;
        let id = created_id(&created).unwrap();
        // The secret is shown once, in the page.
        let secret = browser.text_of("#secret-value", |text| text.starts_with("whsec_")).await;
        let shown = browser.text_of("#secret-label", |text| text.contains(&id)).await;
        assert!(shown.contains("shown only now"), "{shown}");
        assert_eq!(browser.script("return sessionStorage.length", json!([])).await, json!(1), "only the token kept");
        assert!(
            !browser.script("return JSON.stringify(sessionStorage)", json!([])).await.to_string().contains(&secret)
        );
        browser.click("#secret-dismiss").await;
        browser.until("the hook's row", || async { browser.has(&row(&id, "test")).await.then_some(()) }).await;
        ids.push(id);
    }
    let (inbox, crm) = (&ids[0], &ids[1]);
    let listed = api.get("", 1).await.body["hooks"].clone();
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");

    // A book's delivery shows in the log of each hook: 200 for the inbox, 500 and the excerpt for the CRM.
    h.run(new_book(1, "Dune").insert(&h.db)).await.unwrap();
    h.receiver.wait_for(2).await;
    browser.click(&row(inbox, "attempts")).await;
    let outcome = browser.text_of("#attempts tr:first-child td:nth-child(3)", |text| text == "200").await;
    assert_eq!(outcome, "200");
    browser.click(&row(crm, "attempts")).await;
    browser.text_of("#detail-id", |text| text == crm).await;
    let excerpt =
        browser.text_of("#attempts tr:first-child td.excerpt", |text| text.contains("database is down")).await;
    assert!(excerpt.starts_with("<img"), "shown as text: {excerpt}");
    assert!(!browser.has("#attempts img").await, "the excerpt is not markup");

    // A test delivery, and its outcome.
    browser.click(&row(inbox, "test")).await;
    let test = browser.text_of("#outcome", |text| text.starts_with("Test ")).await;
    assert!(test.starts_with("Test delivered: status 200"), "{test}");
    assert_eq!(h.receiver.count("inbox"), 2);

    // The failed delivery replayed: it is tried again (and fails again).
    browser.click(&row(crm, "replay")).await;
    browser.text_of("#status", |text| text.contains("1 failed deliveries sent again")).await;
    h.receiver.wait_for(4).await;

    // Off and on again.
    browser.click(&row(crm, "toggle")).await;
    browser.text_of(&format!(r#"#hooks tr[data-hook="{crm}"] td:nth-child(4)"#), |text| text.starts_with("off")).await;
    assert_eq!(api.get(&format!("/{crm}"), 1).await.body["active"], false);
    browser.click(&row(crm, "toggle")).await;
    browser.text_of(&format!(r#"#hooks tr[data-hook="{crm}"] td:nth-child(4)"#), |text| text == "active").await;

    // The chart has bars once it is refreshed after the deliveries.
    browser.click("#refresh").await;
    browser.until("the chart's bars", || async { browser.has("#chart rect.failed").await.then_some(()) }).await;
    assert!(browser.has("#chart rect.delivered").await);
    browser.click(&row(inbox, "attempts")).await;
    browser.text_of("#attempts tr:first-child td:nth-child(3)", |text| text == "200").await;

    // Owner 2's hook is nowhere in the page.
    let page = browser.script("return document.documentElement.outerHTML", json!([])).await;
    let page = page.as_str().unwrap();
    assert!(page.contains(&h.receiver.url("inbox")), "the page shows the owner's hooks");
    assert!(!page.contains("owner-two-only"), "another owner's hook shows: {page}");
    assert_eq!(browser.script("return document.querySelectorAll('#hooks tr').length", json!([])).await, json!(2));

    let png = browser.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    if std::env::var_os("REST_HOOKS_BLESS").is_some() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/portal.png");
        std::fs::write(path, png).unwrap();
    }
}
