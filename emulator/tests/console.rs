//! The console in a real browser, driven as a person would drive it: headless Chromium through chromedriver
//! (WebDriver, `fantoccini`) clicks links, types into the forms and presses their buttons. It creates a queue
//! with a dead-letter queue, sends a message, sees it, lets it dead-letter (receives from the console, the
//! manual clock moved between them), redrives it from the dead-letter queue's page and sees it back; deletes a
//! received message; a forged cross-site POST from another site's page is refused; in SigV4 mode an
//! anonymous browser sees no queue and no message. Screenshots go to `target/console*.png`.
//!
//! Chromium and chromedriver are required in CI: `.ci/run` installs Debian's `chromium` and
//! `chromium-driver` and sets `SQSKIT_REQUIRE_BROWSER_TESTS=1`, so a missing browser fails there; elsewhere
//! the test is skipped with a note. `SQSKIT_CHROMIUM` and `SQSKIT_CHROMEDRIVER` name other binaries.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{TestEnv, raw_request, sdk_client_as, start_emulator, stop_emulator};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use sqskit_emulator::auth::{AuthMode, Credential};
use sqskit_emulator::{Emulator, ManualClock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Chromium and chromedriver, or `None` when the developer's machine has neither (skipped with a note).
fn browser() -> Option<(PathBuf, PathBuf)> {
    let find = |variable: &str, names: &[&str]| {
        std::env::var_os(variable).map(PathBuf::from).or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
                    .find(|candidate| candidate.is_file())
            })
        })
    };
    let chromium = find("SQSKIT_CHROMIUM", &["chromium", "chromium-browser"]);
    let driver = find("SQSKIT_CHROMEDRIVER", &["chromedriver"]);
    match (chromium, driver) {
        (Some(chromium), Some(driver)) => Some((chromium, driver)),
        _ if std::env::var("SQSKIT_REQUIRE_BROWSER_TESTS").as_deref() == Ok("1") => panic!(
            "SQSKIT_REQUIRE_BROWSER_TESTS=1 and no Chromium with chromedriver: `apt-get install -y chromium \
             chromium-driver` (.ci/run does) or set SQSKIT_CHROMIUM and SQSKIT_CHROMEDRIVER"
        ),
        _ => {
            eprintln!("no chromium/chromedriver found: skipping the console browser tests (.ci/run requires them)");
            None
        }
    }
}

/// A running chromedriver and a browser session on it; both end when dropped (the driver is killed).
struct Browser {
    client: Client,
    _driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start(chromium: &Path, driver: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = tokio::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run chromedriver: {error}"));
        let profile = tempfile::tempdir().unwrap();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": chromium,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                         "--disable-background-networking", "--window-size=1280,1600",
                         format!("--user-data-dir={}", profile.path().display())],
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut attempt = 0;
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(capabilities.clone()).connect(&url).await {
                Ok(client) => break client,
                Err(error) if attempt < 100 => {
                    attempt += 1;
                    if attempt % 20 == 0 {
                        eprintln!("waiting for chromedriver: {error}");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("chromedriver did not start a session: {error}"),
            }
        };
        Self { client, _driver: driver, _profile: profile }
    }

    async fn open(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// Waits (up to 10 s) for an element: a click returns before the page it submitted has loaded, so the
    /// next element may not be there yet.
    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    async fn type_into(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    async fn choose(&self, css: &str, value: &str) {
        let select = self.find(css).await;
        select.select_by_value(value).await.unwrap();
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// Waits (up to 10 s) until the element's text is `expected`: a click returns before the page it
    /// submitted has loaded.
    async fn wait_text(&self, css: &str, expected: &str) {
        let mut seen = String::new();
        for _ in 0..200 {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                if let Ok(text) = element.text().await {
                    if text == expected {
                        return;
                    }
                    seen = text;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{css} shows {seen:?}, not {expected:?}, at {}", self.path().await);
    }

    /// Waits (up to 10 s) until the browser is at `expected` (path and query).
    async fn wait_path(&self, expected: &str) {
        for _ in 0..200 {
            if self.path().await == expected {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(self.path().await, expected);
    }

    async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    async fn screenshot(&self, file: &str) {
        let png = self.client.screenshot().await.unwrap();
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join(file);
        std::fs::write(&target, png).unwrap();
        println!("console screenshot: {}", target.display());
    }

    async fn close(self) {
        self.client.close().await.unwrap();
    }
}

/// Waits (up to 10 s) until `done` holds.
async fn eventually(done: impl Fn() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(done(), "condition not reached within 10 s");
}

/// The visible count of a queue, as its page shows it.
async fn visible(browser: &Browser) -> String {
    browser.text("section.stats [data-metric=visible]").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_creates_sends_dead_letters_and_redrives_from_the_console() {
    let Some((chromium, driver)) = browser() else { return };
    let env = TestEnv::start().await;
    let browser = Browser::start(&chromium, &driver).await;
    let ui = |path: &str| format!("{}{path}", env.endpoint);

    // Create "orders" with a new dead-letter queue after 2 receives.
    browser.open(&ui("/ui")).await;
    browser.click("a.button[href='/ui/new-queue']").await;
    browser.type_into("form#create input[name=name]", "orders").await;
    browser.type_into("form#create input[name=VisibilityTimeout]", "30").await;
    browser.choose("form#create select[name=dead_letter_queue]", "new").await;
    browser.type_into("form#create input[name=max_receive_count]", "2").await;
    browser.click("form#create button[type=submit]").await;
    browser.wait_path("/ui/queues/orders?notice=created").await;
    browser.wait_text("p.notice", "Queue created.").await;
    browser.wait_text("[data-metric=dead-letter-queue] a", "orders-dlq").await;
    let attributes = env.attributes(&env.url_of("orders")).await;
    assert_eq!(attributes["VisibilityTimeout"], "30");
    assert!(attributes["RedrivePolicy"].contains(&TestEnv::arn_of("orders-dlq")), "{attributes:?}");
    assert!(attributes["RedrivePolicy"].contains("\"maxReceiveCount\":2"), "{attributes:?}");

    // Send a message whose body is markup: shown as text.
    browser.type_into("form#send textarea[name=body]", "<b>order 42</b>").await;
    browser.type_into("form#send input[name=attribute_name]", "origin").await;
    browser.type_into("form#send input[name=attribute_value]", "console").await;
    browser.click("form#send button[type=submit]").await;
    browser.wait_text("p.notice", "Message sent.").await;
    assert_eq!(visible(&browser).await, "1");
    browser.wait_text("table.messages code.body", "<b>order 42</b>").await;
    assert!(browser.source().await.contains("&lt;b&gt;order 42&lt;/b&gt;"));
    browser.screenshot("console-queue.png").await;

    // Receive it twice from the console, letting the visibility timeout pass on the manual clock; the third
    // receive moves it to the dead-letter queue.
    let engine = env.emu.engine();
    for round in 1..=3 {
        browser.open(&ui("/ui/queues/orders")).await;
        browser.type_into("form#receive input[name=visibility_timeout]", "30").await;
        browser.click("form#receive button[type=submit]").await;
        if round < 3 {
            browser.wait_text("table.received code.body", "<b>order 42</b>").await;
            // The clock moves only once the engine counted this receive.
            eventually(|| engine.peek("orders", 1).unwrap().first().map(|m| m.receive_count) == Some(round)).await;
            env.advance(31);
        } else {
            browser.wait_text("p.notice", "No message was visible.").await;
        }
    }
    eventually(|| engine.peek("orders-dlq", 1).unwrap().len() == 1).await;
    browser.open(&ui("/ui/queues/orders")).await;
    assert_eq!(visible(&browser).await, "0");

    // On the dead-letter queue's page: the message, then a redrive back to its source.
    browser.click("[data-metric=dead-letter-queue] a").await;
    browser.wait_path("/ui/queues/orders-dlq").await;
    assert_eq!(visible(&browser).await, "1");
    browser.wait_text("table.messages code.body", "<b>order 42</b>").await;
    browser.click("form#redrive button[type=submit]").await;
    browser.wait_path("/ui/queues/orders-dlq/redrive").await;
    let mut status = String::new();
    for _ in 0..50 {
        env.advance(1);
        browser.open(&ui("/ui/queues/orders-dlq/redrive")).await;
        status = browser.text("table.tasks tbody tr td span.badge").await;
        if status == "COMPLETED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "COMPLETED");
    browser.wait_text("table.tasks [data-metric=moved]", "1").await;
    browser.screenshot("console-redrive.png").await;

    // Back in "orders": receive it and delete it from the console.
    browser.open(&ui("/ui/queues/orders")).await;
    assert_eq!(visible(&browser).await, "1");
    browser.wait_text("table.messages code.body", "<b>order 42</b>").await;
    browser.click("form#receive button[type=submit]").await;
    browser.click("form.delete-message button[type=submit]").await;
    browser.wait_text("p.notice", "Message deleted.").await;
    let (visible_now, in_flight, _) = env.counts(&env.url_of("orders")).await;
    assert_eq!((visible_now, in_flight), (0, 0));

    // A refused action reports AWS's error: purging twice within 60 seconds.
    browser.click("form#purge button[type=submit]").await;
    browser.wait_text("p.notice", "Queue purged.").await;
    browser.click("form#purge button[type=submit]").await;
    browser.wait_text("[data-error-code]", "PurgeQueueInProgress").await;
    assert!(browser.text("[data-error-message]").await.contains("60 seconds"));
    browser.close().await;
    env.shutdown().await;
}

/// Serves one fixed HTML page on its own port (another site: `localhost`, not `127.0.0.1`) to every request.
async fn evil_site(html: String) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let html = html.clone();
            tokio::spawn(async move {
                let mut request = vec![0u8; 8192];
                let _ = stream.read(&mut request).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{html}",
                    html.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_cross_site_post_is_refused() {
    let Some((chromium, driver)) = browser() else { return };
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "keep me").await;
    let browser = Browser::start(&chromium, &driver).await;
    // The person has the console open (the browser holds a session cookie) ...
    browser.open(&format!("{}/ui/queues/orders", env.endpoint)).await;
    assert_eq!(visible(&browser).await, "1");
    // ... and visits another site whose page posts to the console (without the session's form token).
    let forged = format!(
        r#"<html><body><form id="f" method="post" action="{}/ui/queues/orders/purge"><input name="csrf" value="guess"></form><script>document.getElementById("f").submit()</script></body></html>"#,
        env.endpoint
    );
    let port = evil_site(forged).await;
    browser.open(&format!("http://localhost:{port}/")).await;
    let mut refused = false;
    for _ in 0..50 {
        if browser.path().await == "/ui/queues/orders/purge" {
            refused = browser.source().await.contains("cross-site request forgery");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "the forged form reached the console and was refused: {}", browser.source().await);
    assert_eq!(env.counts(&url).await.0, 1, "nothing was purged");
    // The same refusal without a browser: a POST without the token, and one from another origin.
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let bare = raw_request(&env.endpoint, "POST", "/ui/queues/orders/purge", &form, Vec::new()).await;
    assert_eq!(bare.status, 403);
    assert_eq!(env.counts(&url).await.0, 1, "nothing was purged");
    browser.close().await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_sigv4_mode_an_anonymous_browser_sees_no_queue_and_no_message() {
    let Some((chromium, driver)) = browser() else { return };
    let emu = start_emulator(
        Emulator::builder()
            .clock(ManualClock::new())
            .auth(AuthMode::Sigv4)
            .credentials(vec![Credential::new("AKIDA", "secret-a", "111111111111")])
            .admin_token("operator-token"),
    )
    .await;
    let client = sdk_client_as(&emu.endpoint(), "AKIDA", "secret-a", None).await;
    let url = client.create_queue().queue_name("private-orders").send().await.unwrap().queue_url.unwrap();
    client.send_message().queue_url(&url).message_body("card 4111").send().await.unwrap();
    let browser = Browser::start(&chromium, &driver).await;
    for path in ["/ui", "/ui/queues/private-orders?account=111111111111", "/metrics"] {
        browser.open(&format!("{}{path}", emu.endpoint())).await;
        let page = browser.source().await;
        assert!(!page.contains("private-orders") && !page.contains("card 4111"), "{path} shows: {page}");
    }
    browser.open(&format!("{}/ui", emu.endpoint())).await;
    browser.wait_text("h1", "Sign in").await;
    browser.screenshot("console-sign-in.png").await;
    // The operator signs in with the admin token and then sees the account's queue.
    browser.type_into("input[name=token]", "operator-token").await;
    browser.click("form.console button[type=submit]").await;
    browser.wait_text("tr[data-queue=private-orders] a.queue", "private-orders").await;
    browser.close().await;
    stop_emulator(emu).await;
}
