//! The owner portal in a real browser: headless Chromium, driven through chromedriver, uses the
//! page the API serves as an owner would — signs in with a token, creates hooks, watches a
//! delivery arrive in the log, sends a test, asks for a replay while a retry is scheduled, turns a
//! hook off and on, reads the chart's scale, deletes a hook, rotates a secret — and never sees
//! another owner's hook; once the owner forgets the token, or the server refuses it, nothing of
//! theirs is left in the page. Screenshots of each state go to `target/portal-screens`;
//! `REST_HOOKS_BLESS=1` writes the first to docs/portal.png.

use std::time::Duration;

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

/// The cell under hook `id`'s row, where its messages and confirmations show.
fn note(id: &str) -> String {
    format!(r#"#hooks tr[data-note="{id}"] td"#)
}

/// The page's markup, and the text it shows.
async fn page_of(browser: &Browser) -> String {
    let page = browser.script("return document.documentElement.outerHTML + document.body.innerText", json!([])).await;
    page.as_str().expect("the page").to_owned()
}

#[tokio::test]
#[cfg_attr(
    not(rest_hooks_chromedriver),
    ignore = "set REST_HOOKS_CHROMEDRIVER to the chromedriver binary to test the portal in headless Chromium"
)]
async fn an_owner_manages_hooks_in_the_portal() {
    // A failed delivery waits an hour for its second attempt.
    let retry_in_an_hour = RetryPolicy::new([Duration::ZERO, Duration::from_secs(3600)]).jitter(0.0);
    let h = Harness::with(|b| b.retry_policy(retry_in_an_hour)).await;
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
        let created =
            browser.text_of("#create-note .done", |text| created_id(text).is_some_and(|id| !ids.contains(&id))).await;
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

    // Nothing is dead yet: the page says the failed delivery waits for its retry, under the hook.
    browser.click(&row(crm, "replay")).await;
    let replay = browser.text_of(&note(crm), |text| text.contains("waiting")).await;
    assert!(
        replay.starts_with("No failed delivery to send again; 1 delivery is still waiting for a retry"),
        "{replay}"
    );
    assert_eq!(browser.text_of("#status", |_| true).await, "", "said beside the button: {replay}");

    // Off and on again.
    browser.click(&row(crm, "toggle")).await;
    browser.text_of(&format!(r#"#hooks tr[data-hook="{crm}"] td:nth-child(4)"#), |text| text.starts_with("off")).await;
    assert_eq!(api.get(&format!("/{crm}"), 1).await.body["active"], false);
    browser.click(&row(crm, "toggle")).await;
    browser.text_of(&format!(r#"#hooks tr[data-hook="{crm}"] td:nth-child(4)"#), |text| text == "active").await;

    // The chart has bars once it is refreshed after the deliveries, and a scale up to them.
    browser.click("#refresh").await;
    browser.until("the chart's bars", || async { browser.has("#chart rect.failed").await.then_some(()) }).await;
    assert!(browser.has("#chart rect.delivered").await);
    let ticks = browser
        .script(
            "return [...document.querySelectorAll('#chart text.y-tick')].map(t => Number(t.textContent))",
            json!([]),
        )
        .await;
    assert_eq!(ticks, json!([0, 1, 2]), "one delivered and one failed attempt in the same hour");
    browser.click(&row(inbox, "attempts")).await;
    browser.text_of("#attempts tr:first-child td:nth-child(3)", |text| text == "200").await;

    // Owner 2's hook is nowhere in the page.
    let page = page_of(&browser).await;
    assert!(page.contains(&h.receiver.url("inbox")), "the page shows the owner's hooks");
    assert!(!page.contains("owner-two-only"), "another owner's hook shows: {page}");
    assert_eq!(browser.script("return document.querySelectorAll('#hooks tr').length", json!([])).await, json!(2));

    let png = browser.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    if std::env::var_os("REST_HOOKS_BLESS").is_some() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/portal.png");
        std::fs::write(path, png).unwrap();
    }
    browser.save_screenshot("1-hooks").await;

    // A mistake is told beside the form that made it.
    browser.type_into("#target", "ftp://example.com/hooks").await;
    browser.click("#create-button").await;
    let refused = browser.text_of("#create-note .error", |text| !text.is_empty()).await;
    assert!(refused.contains("target"), "{refused}");
    assert_eq!(browser.text_of("#status", |_| true).await, "");
    browser.save_screenshot("2-error-beside-the-form").await;

    // 420 px wide, nothing is cut off: not the token field, not a button.
    browser.resize(420, 900).await;
    let narrow = "return window.innerWidth <= 420 ? [document.documentElement.scrollWidth, window.innerWidth] : null";
    let widths = browser
        .until("a narrow window", || async { browser.script(narrow, json!([])).await.as_array().cloned() })
        .await;
    assert!(widths[0].as_u64() <= widths[1].as_u64(), "the page is wider than the window: {widths:?}");
    let outside = "return [...document.querySelectorAll('header *, button, input, select')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth).map(e => e.id || e.textContent)";
    assert_eq!(browser.script(outside, json!([])).await, json!([]), "controls outside the window");
    browser.save_screenshot("3-narrow").await;
    browser.resize(1280, 900).await;

    // Deleted after an in-page confirmation.
    browser.click(&row(crm, "delete")).await;
    browser.text_of(&note(crm), |text| text.starts_with(&format!("Delete hook {crm}?"))).await;
    browser.save_screenshot("4-confirm-delete").await;
    browser.click(&format!("{} button.yes", note(crm))).await;
    browser.text_of("#hooks-note", |text| text == format!("Hook {crm} deleted.")).await;
    assert!(!browser.has(&row(crm, "delete")).await);
    assert_eq!(api.get(&format!("/{crm}"), 1).await.status, 404);

    // A new secret, shown under its hook until the next action starts.
    browser.click(&row(inbox, "rotate")).await;
    browser.click(&format!("{} button.yes", note(inbox))).await;
    let secret = browser.text_of(&format!("{} #secret-value", note(inbox)), |text| text.starts_with("whsec_")).await;
    browser.save_screenshot("5-rotated").await;
    browser.click(&row(inbox, "attempts")).await;
    browser.until("the secret to go", || async { (!browser.has("#secret").await).then_some(()) }).await;
    assert!(!page_of(&browser).await.contains(&secret), "the secret stays after the next action");
    browser.click(&row(inbox, "rotate")).await;
    browser.click(&format!("{} button.yes", note(inbox))).await;
    let secret = browser.text_of("#secret-value", |text| text.starts_with("whsec_") && text != secret).await;

    // Forget: nothing of Alice's stays in the page.
    let alice = [h.receiver.url("inbox"), h.receiver.url("crm"), secret, "database is down".to_owned()];
    let nothing_of = |page: &str, whose: &[String]| {
        let left: Vec<_> = whose.iter().filter(|datum| page.contains(datum.as_str())).collect();
        assert!(left.is_empty(), "{left:?} left in the page: {page}");
    };
    browser.click("#token-forget").await;
    browser.text_of("#status", |text| text.starts_with("Not signed in")).await;
    nothing_of(&page_of(&browser).await, &alice);
    let shown = "return [document.querySelectorAll('#hooks tr, #attempts tr, #chart *').length,
        document.getElementById('detail').hidden, document.getElementById('detail-id').textContent]";
    assert_eq!(browser.script(shown, json!([])).await, json!([0, true, ""]), "hooks, attempts, chart");
    browser.save_screenshot("6-forgotten").await;

    // Bob signs in: his hook, and still nothing of Alice's.
    browser.type_into("#token", "token-2").await;
    browser.click("#token-use").await;
    browser.text_of("#hooks td.target", |text| text.contains("owner-two-only")).await;
    browser.until("Bob's chart", || async { browser.has("#chart svg").await.then_some(()) }).await;
    let page = page_of(&browser).await;
    nothing_of(&page, &alice);
    assert!(!browser.has(&row(inbox, "attempts")).await, "Alice's hook {inbox} shows");
    assert!(!browser.has("#chart rect").await, "Alice's bars in Bob's chart");
    let label =
        browser.script("return document.querySelector('#chart svg').getAttribute('aria-label')", json!([])).await;
    assert_eq!(label, json!("0 attempts in the last 24 hours"));
    assert_eq!(browser.script(shown, json!([])).await[1], json!(true), "Alice's attempts");
    browser.save_screenshot("7-bob").await;

    // The server refuses the token (revoked meanwhile): Bob's hook leaves the page too.
    browser.script("sessionStorage.setItem('rest_hooks.portal.token', 'token-revoked')", json!([])).await;
    browser.click("#refresh").await;
    browser.text_of("#status", |text| text.starts_with("Not signed in")).await;
    assert!(!page_of(&browser).await.contains("owner-two-only"), "Bob's hook stays after a 401");
    assert_eq!(browser.script(shown, json!([])).await, json!([0, true, ""]), "hooks, attempts, chart");
    browser.save_screenshot("8-refused").await;
}

#[tokio::test]
#[cfg_attr(
    not(rest_hooks_chromedriver),
    ignore = "set REST_HOOKS_CHROMEDRIVER to the chromedriver binary to test the portal in headless Chromium"
)]
async fn the_portal_shows_and_edits_the_applications_own_hook_fields() {
    use rest_hooks_tests::entities::book_webhook;
    let h = Harness::with(|b| {
        b.event("chapter.added", "bookstore.Chapter.created").hook_entity::<book_webhook::Entity>().unsigned()
    })
    .await;
    let api =
        ApiServer::serve(rest_hooks::api::HooksApi::new(h.engine.clone(), rest_hooks_tests::api::bearer).unwrap())
            .await;
    let browser = Browser::start(&chromedriver()).await;
    browser.open(&api.url("/portal")).await;
    browser.type_into("#token", "token-1").await;
    browser.click("#token-use").await;

    // The create form has an input per field, of the field's type.
    browser
        .until("the field inputs", || async {
            browser.has(r#"#create-fields input[data-field="book_id"]"#).await.then_some(())
        })
        .await;
    let kind = browser
        .script(r#"return document.querySelector('#create-fields input[data-field="book_id"]').type"#, json!([]))
        .await;
    assert_eq!(kind, "number");
    browser.type_into("#target", &h.receiver.url("first")).await;
    let book = h.run(new_book(1, "Mine").insert(&h.db)).await.unwrap();
    browser.type_into(r#"#create-fields input[data-field="book_id"]"#, &book.id.to_string()).await;
    browser.click("#create-button").await;
    let created = browser.text_of("#create-note .done", |text| text.ends_with(" created.")).await;
    let id = created.strip_prefix("Hook ").and_then(|rest| rest.strip_suffix(" created.")).unwrap().to_owned();
    assert_eq!(api.get(&format!("/{id}"), 1).await.body["book_id"], book.id, "sent as a number");

    // The hook's row shows the values and saves a change; an empty input clears its field.
    let input = |name: &str| format!(r#"#hooks tr[data-hook="{id}"] td.fields input[data-field="{name}"]"#);
    browser.until("the hook's fields", || async { browser.has(&input("title_word")).await.then_some(()) }).await;
    let shown = browser
        .script(&format!("return document.querySelector('{}').value", input("book_id").replace('\'', "\\'")), json!([]))
        .await;
    assert_eq!(shown, book.id.to_string());
    browser.type_into(&input("title_word"), "Epilogue").await;
    browser
        .script(&format!("document.querySelector('{}').value = ''", input("book_id").replace('\'', "\\'")), json!([]))
        .await;
    browser.click(&row(&id, "save-fields")).await;
    browser.text_of(&note(&id), |text| text.ends_with(" saved.")).await;
    let hook = api.get(&format!("/{id}"), 1).await.body;
    assert_eq!((&hook["title_word"], &hook["book_id"]), (&json!("Epilogue"), &json!(null)), "{hook}");

    // A value the API refuses is said beside the hook, and nothing changes.
    browser.type_into(&input("book_id"), "99999999999").await;
    browser.click(&row(&id, "save-fields")).await;
    let refused = browser.text_of(&note(&id), |text| text.contains("out of range")).await;
    assert!(refused.contains("book_id"), "{refused}");
    assert_eq!(api.get(&format!("/{id}"), 1).await.body["book_id"], json!(null));
    browser.save_screenshot("own-fields").await;
}
