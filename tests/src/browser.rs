//! A real headless browser for the dashboard's tests: the system's
//! Chromium, driven over WebDriver by the system's chromedriver (both
//! Debian packages, installed by `scripts/bootstrap`; nothing downloads a
//! browser of its own). Screenshots go under `target/screenshots/`.

use std::net::TcpListener;
use std::process::Stdio;

use fantoccini::{Client, ClientBuilder, Locator};
use tokio::process::{Child, Command};

use crate::{eventually, workspace_dir};

/// How many times a browser session is asked for before the test fails.
const SESSION_ATTEMPTS: usize = 3;

/// A browser session and the driver serving it (stopped with it).
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    _driver: Child,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium.
    pub async fn start() -> Self {
        // Two TLS back ends are linked in; the driver speaks plain HTTP,
        // but the client still needs one chosen (a second call is a no-op).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let logs = workspace_dir().join("target").join("test-logs");
        std::fs::create_dir_all(&logs).ok();
        let driver_log = logs.join(format!("chromedriver-{port}.log"));
        let log = std::fs::File::create(&driver_log).expect("driver log");
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver (scripts/bootstrap installs chromium-driver)");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                // The tests may run as root, where Chromium's sandbox cannot start.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--lang=en-US"]
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        // First the driver itself (it answers /status once it listens), then
        // the browser session, which starts Chromium: on a loaded machine
        // that start can fail or outlast a short wait, so it gets attempts
        // of its own, and a failure says what the driver said.
        let status = format!("{url}/status");
        eventually("chromedriver answers", || {
            let status = status.clone();
            async move { reqwest::get(&status).await.ok().filter(|r| r.status().is_success()).map(|_| ()) }
        })
        .await;
        let mut failures = Vec::new();
        for _ in 0..SESSION_ATTEMPTS {
            let mut builder = ClientBuilder::rustls().expect("a TLS client for the driver");
            match builder.capabilities(capabilities.clone()).connect(&url).await {
                Ok(client) => return Self { client, _driver: driver },
                Err(e) => failures.push(e.to_string()),
            }
        }
        let said = std::fs::read_to_string(&driver_log).unwrap_or_default();
        let tail: Vec<&str> = said.lines().rev().take(20).collect();
        panic!(
            "no browser session after {SESSION_ATTEMPTS} attempts: {failures:?}\nchromedriver said (last lines first):\n{}",
            tail.join("\n")
        );
    }

    /// Opens `url`.
    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// The text of the element `css` selects.
    pub async fn text(&self, css: &str) -> String {
        self.client.find(Locator::Css(css)).await.expect(css).text().await.expect("text")
    }

    /// Types `text` into the field `css` selects.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.client.find(Locator::Css(css)).await.expect(css).send_keys(text).await.expect("typing");
    }

    /// Clicks the element `css` selects.
    pub async fn click(&self, css: &str) {
        self.client.find(Locator::Css(css)).await.expect(css).click().await.expect("click");
    }

    /// The path of the page shown now.
    pub async fn path(&self) -> String {
        self.client.current_url().await.expect("url").path().to_owned()
    }

    /// Saves a screenshot of the page as `target/screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = workspace_dir().join("target").join("screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write the screenshot");
    }

    /// The text of the element `css` selects, if the page shows one now
    /// (none while a page is loading or when there is none).
    pub async fn text_if_shown(&self, css: &str) -> Option<String> {
        let found = self.client.find(Locator::Css(css)).await.ok()?;
        found.text().await.ok()
    }

    /// Waits until the page shows an element `css` selects, and gives its text.
    pub async fn text_once_shown(&self, css: &str) -> String {
        eventually(css, || self.text_if_shown(css)).await
    }

    /// What axe-core (vendored under `tests/vendor/axe-core`) finds wrong
    /// on the page shown now against WCAG 2 A and AA and its best
    /// practices — labels, headings in order, contrast, landmarks — as
    /// `rule: elements`; empty when it finds nothing.
    pub async fn accessibility_violations(&self) -> Vec<String> {
        let axe = std::fs::read_to_string(workspace_dir().join("tests/vendor/axe-core/axe.min.js")).expect("axe-core");
        self.client.execute(&axe, vec![]).await.expect("load axe-core");
        let run = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } })
               .then(r => done(r.passes.length === 0 ? ["axe-core checked nothing"]
                         : r.violations.map(v => v.id + ": " + v.nodes.map(n => n.target.join(" ")).join(", "))),
                     e => done(["axe-core failed: " + e]));"#;
        let found = self.client.execute_async(run, vec![]).await.expect("run axe-core");
        serde_json::from_value(found).expect("a list of violations")
    }

    /// Ends the browser session.
    pub async fn close(self) {
        self.client.close().await.expect("close the browser");
    }
}
