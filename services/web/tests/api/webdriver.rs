//! A small W3C WebDriver client over the HTTP client the tests already
//! use: Debian's `chromedriver` driving headless `chromium`. The protocol
//! is a handful of JSON calls, so the tests need no client crate (and its
//! dependency tree) for it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// How long the driver may take to start and a page to settle.
const DEADLINE: Duration = Duration::from_secs(20);

/// The W3C key code of Tab.
const TAB: &str = "\u{E004}";

/// The element reference key of the W3C protocol.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one headless Chromium session.
#[derive(Debug)]
pub struct Chromium {
    driver: Child,
    http: reqwest::Client,
    /// `http://127.0.0.1:{port}/session/{id}`.
    session: String,
    port: u16,
    id: String,
}

impl Chromium {
    /// Starts `chromedriver` on a free port and a headless session at a
    /// desktop size.
    pub async fn start() -> Self {
        let port = test_support::later_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (scripts/test.sh installs it)");
        let http = test_support::http_client();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            let ready = http.get(format!("{base}/status")).send().await;
            if let Ok(ready) = ready
                && let Ok(status) = ready.json::<Value>().await
                && status["value"]["ready"] == true
            {
                break;
            }
            assert!(started.elapsed() < DEADLINE, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&json!({ "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": { "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=1280,900",
                ] }
            } } }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        Self {
            driver,
            http,
            session: format!("{base}/session/{session}"),
            port,
            id: session,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        if answer["value"].get("error").is_some() {
            // What the browser shows says more than the driver's error.
            let shown: Value = self
                .http
                .post(format!("{}/execute/sync", self.session))
                .json(&json!({ "script": "return location.href + '\\n' + document.body.innerText;", "args": [] }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            panic!(
                "{path}: {}\nthe page: {}",
                answer["value"]["message"], shown["value"]
            );
        }
        answer["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    pub async fn back(&self) {
        self.post("/back", json!({})).await;
    }

    pub async fn current_path(&self) -> String {
        let url = self.call(reqwest::Method::GET, "/url", None).await;
        let url = url.as_str().unwrap();
        let after_host = url.splitn(4, '/').nth(3).unwrap_or_default();
        format!("/{after_host}")
    }

    /// The first element matching `css`.
    pub async fn find(&self, css: &str) -> String {
        let found = self
            .post("/element", json!({ "using": "css selector", "value": css }))
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("{css}: {found}"))
            .to_owned()
    }

    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.post(&format!("/element/{element}/click"), json!({}))
            .await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.post(
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    pub async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        let text = self
            .call(
                reqwest::Method::GET,
                &format!("/element/{element}/text"),
                None,
            )
            .await;
        text.as_str().unwrap().to_owned()
    }

    /// Runs `script` in the page and returns its value.
    pub async fn run(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": [] }))
            .await
    }

    /// Runs `script` with a callback as its last argument and returns
    /// what it passes to the callback.
    pub async fn run_async(&self, script: &str) -> Value {
        self.post("/execute/async", json!({ "script": script, "args": [] }))
            .await
    }

    /// Waits until `script` returns true.
    pub async fn wait_until(&self, what: &str, script: &str) {
        let started = Instant::now();
        while self.run(script).await != json!(true) {
            assert!(started.elapsed() < DEADLINE, "waited in vain for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Presses Tab once, as a keyboard does.
    pub async fn press_tab(&self) {
        self.post(
            "/actions",
            json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": [
                { "type": "keyDown", "value": TAB }, { "type": "keyUp", "value": TAB }
            ] }] }),
        )
        .await;
    }

    /// Sets the viewport's width (and a height) in CSS pixels.
    pub async fn resize(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({ "width": width, "height": height }))
            .await;
    }

    /// Writes a PNG of the viewport to `target/screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, STANDARD.decode(png.as_str().unwrap()).unwrap()).unwrap();
        path
    }
}

/// Where the tests leave their screenshots.
pub fn screenshots_dir() -> PathBuf {
    test_support::workspace_root().join("target/screenshots")
}

/// Ends the browser session, so chromedriver closes Chromium, then stops
/// chromedriver. Blocking and by hand, because a test that fails drops
/// this without awaiting anything.
impl Drop for Chromium {
    fn drop(&mut self) {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = stream.set_read_timeout(Some(DEADLINE));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.id
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
