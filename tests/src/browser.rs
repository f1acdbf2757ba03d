//! A headless Chromium driven through chromedriver's W3C WebDriver HTTP protocol, spoken with
//! reqwest: enough to open a page, click, type, read it back and take a screenshot. Every wait
//! polls against a deadline; dropping the browser ends its session and the chromedriver process.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// How long a browser step may take before the test fails.
pub const BROWSER_WAIT: Duration = Duration::from_secs(20);

/// The key under which WebDriver names an element.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one headless session in it.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    http: reqwest::Client,
}

impl Browser {
    /// Starts `chromedriver` on a free port of 127.0.0.1 and a headless session in it.
    pub async fn start(chromedriver: &str) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {chromedriver}: {e}"));
        let mut browser = Browser { driver, port, session: String::new(), http: reqwest::Client::new() };
        browser
            .until("chromedriver to be ready", || async {
                let status = browser.http.get(browser.url("/status")).send().await.ok()?;
                let body: Value = serde_json::from_str(&status.text().await.ok()?).ok()?;
                body["value"]["ready"].as_bool().filter(|ready| *ready)
            })
            .await;
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"]},
        }}});
        let created = browser.command(reqwest::Method::POST, "/session", Some(capabilities)).await;
        let created = created.unwrap_or_else(|e| panic!("create a WebDriver session: {e}"));
        browser.session = created["sessionId"].as_str().expect("a session id").to_owned();
        browser
    }

    /// Opens `url`.
    pub async fn open(&self, url: &str) {
        self.session_command(reqwest::Method::POST, "/url", json!({"url": url})).await.expect("open the page");
    }

    /// Clicks the element `css` selects, once it is there and clickable.
    pub async fn click(&self, css: &str) {
        self.until(&format!("to click `{css}`"), || async {
            let element = self.find(css).await?;
            let path = format!("/element/{element}/click");
            self.session_command(reqwest::Method::POST, &path, json!({})).await.ok()
        })
        .await;
    }

    /// Types `text` into the element `css` selects.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.until(&format!("to type into `{css}`"), || async {
            let element = self.find(css).await?;
            let path = format!("/element/{element}/value");
            self.session_command(reqwest::Method::POST, &path, json!({"text": text})).await.ok()
        })
        .await;
    }

    /// The text of the element `css` selects, once `accept` takes it; panics after
    /// [`BROWSER_WAIT`] with the last text seen.
    pub async fn text_of(&self, css: &str, accept: impl Fn(&str) -> bool) -> String {
        let script = "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;";
        let deadline = Instant::now() + BROWSER_WAIT;
        loop {
            let text = self.script(script, json!([css])).await;
            if let Some(text) = text.as_str().filter(|text| accept(text)) {
                return text.to_owned();
            }
            assert!(Instant::now() < deadline, "timed out after {BROWSER_WAIT:?} waiting for `{css}`; it reads {text}");
            crate::real_sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether an element `css` selects is in the page now.
    pub async fn has(&self, css: &str) -> bool {
        self.script("return document.querySelector(arguments[0]) !== null;", json!([css])).await == json!(true)
    }

    /// Runs `script` in the page with `args`; its return value.
    pub async fn script(&self, script: &str, args: Value) -> Value {
        let body = json!({"script": script, "args": args});
        self.session_command(reqwest::Method::POST, "/execute/sync", body).await.expect("run a script")
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Vec<u8> {
        let value = self.session_command(reqwest::Method::GET, "/screenshot", Value::Null).await.expect("screenshot");
        base64::engine::general_purpose::STANDARD.decode(value.as_str().expect("base64")).expect("a PNG")
    }

    /// Resizes the window to `width` × `height` CSS pixels.
    pub async fn resize(&self, width: u32, height: u32) {
        let rect = json!({"width": width, "height": height});
        self.session_command(reqwest::Method::POST, "/window/rect", rect).await.expect("resize the window");
    }

    /// Saves a PNG of the window as `name`.png in `target/portal-screens` (beside the test
    /// binary's build folder) and prints where.
    pub async fn save_screenshot(&self, name: &str) -> std::path::PathBuf {
        let png = self.screenshot().await;
        let exe = std::env::current_exe().expect("the test binary's path");
        let target = exe.ancestors().nth(3).expect("the target folder");
        let dir = target.join("portal-screens");
        std::fs::create_dir_all(&dir).expect("a folder for screenshots");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("save a screenshot");
        println!("screenshot: {}", path.display());
        path
    }

    /// Polls `check` until it answers, every 50 ms; panics after [`BROWSER_WAIT`].
    pub async fn until<T, F, Fut>(&self, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + BROWSER_WAIT;
        loop {
            if let Some(found) = check().await {
                return found;
            }
            assert!(Instant::now() < deadline, "timed out after {BROWSER_WAIT:?} waiting for {what}");
            crate::real_sleep(Duration::from_millis(50)).await;
        }
    }

    /// The id of the first element `css` selects, if there is one now.
    async fn find(&self, css: &str) -> Option<String> {
        let body = json!({"using": "css selector", "value": css});
        let found = self.session_command(reqwest::Method::POST, "/element", body).await.ok()?;
        found[ELEMENT].as_str().map(str::to_owned)
    }

    /// A command of this session.
    async fn session_command(&self, method: reqwest::Method, path: &str, body: Value) -> Result<Value, String> {
        let body = (!body.is_null()).then_some(body);
        self.command(method, &format!("/session/{}{path}", self.session), body).await
    }

    /// A WebDriver command: its `value`, or the error it answered.
    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let ok = response.status().is_success();
        let text = response.text().await.map_err(|e| e.to_string())?;
        let mut answer: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}: {text}"))?;
        let value = answer["value"].take();
        if ok { Ok(value) } else { Err(format!("{path}: {value}")) }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Browser {
    /// Ends the session (which closes Chromium) with a blocking request, then chromedriver.
    fn drop(&mut self) {
        if !self.session.is_empty()
            && let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port))
        {
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                self.session, self.port
            );
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
