//! The dashboard in a real browser: headless Chromium loads `/ui` and a queue page of an emulator with queues
//! and messages; the test checks the numbers in the rendered DOM and saves screenshots to
//! `target/dashboard.png` and `target/dashboard-queue.png` (the paths are printed).
//!
//! Chromium is required in CI: `.ci/run` installs Debian's `chromium` and sets `SQSKIT_REQUIRE_BROWSER_TESTS=1`,
//! so a missing browser fails there. Elsewhere (a machine with only the Rust toolchain) the test is skipped
//! with a note when no browser is found.
//! `SQSKIT_CHROMIUM` names another browser binary.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use common::{TestEnv, raw_request, str_attr};

const HOSTILE_BODY: &str = r#"<script>document.title="owned"</script><b>bold</b> & "quoted""#;

/// The browser binary, or `None` when the developer asked to skip browser tests.
fn browser() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SQSKIT_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
            .find(|candidate| candidate.is_file())
    });
    // Required where the suite is authoritative (.ci/run sets SQSKIT_REQUIRE_BROWSER_TESTS=1); skipped with a
    // note elsewhere, so that `cargo test --workspace` passes on a machine with only the Rust toolchain.
    if found.is_none() && std::env::var("SQSKIT_REQUIRE_BROWSER_TESTS").as_deref() != Ok("1") {
        eprintln!("no chromium found: skipping the dashboard browser test (.ci/run requires it)");
        return None;
    }
    Some(found.unwrap_or_else(|| {
        panic!(
            "SQSKIT_REQUIRE_BROWSER_TESTS=1 and no Chromium: install it with `apt-get install -y chromium` (.ci/run \
             does) or point SQSKIT_CHROMIUM at a browser"
        )
    }))
}

/// Runs headless Chromium on `url` with `args` (`--dump-dom` or `--screenshot=...`) and returns its stdout.
async fn chromium(browser: &Path, url: &str, args: &[String]) -> String {
    let profile = tempfile::tempdir().expect("profile directory");
    let run = tokio::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("chromium finishes within 120 s")
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", browser.display()));
    assert!(
        output.status.success(),
        "chromium failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 DOM")
}

async fn dump_dom(browser: &Path, url: &str) -> String {
    chromium(browser, url, &["--dump-dom".to_owned()]).await
}

async fn screenshot(browser: &Path, url: &str, file: &str, height: u32) -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("target directory").to_path_buf();
    let path = target.join(file);
    if path.exists() {
        std::fs::remove_file(&path).expect("remove the previous screenshot");
    }
    let args = [format!("--screenshot={}", path.display()), format!("--window-size=1280,{height}")];
    chromium(browser, url, &args).await;
    let size = std::fs::metadata(&path).map(|meta| meta.len()).unwrap_or(0);
    assert!(size > 10_000, "screenshot {} is missing or blank ({size} bytes)", path.display());
    println!("dashboard screenshot: {}", path.display());
    path
}

/// The HTML of the first element fragment starting at `marker`, up to `end`.
fn fragment<'a>(dom: &'a str, marker: &str, end: &str) -> &'a str {
    let start = dom.find(marker).unwrap_or_else(|| panic!("{marker} not in the DOM:\n{dom}"));
    let rest = &dom[start..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

/// The text of the element carrying `data-metric="<metric>"` inside `html`.
fn metric<'a>(html: &'a str, metric: &str) -> &'a str {
    let marker = format!("data-metric=\"{metric}\">");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {metric} in {html}")) + marker.len();
    let rest = &html[start..];
    &rest[..rest.find('<').unwrap_or(rest.len())]
}

fn row<'a>(dom: &'a str, queue: &str) -> &'a str {
    fragment(dom, &format!("<tr data-queue=\"{queue}\">"), "</tr>")
}

/// Three queues: `orders` (dead letters to `orders-dlq`) with a depth history over six virtual minutes,
/// visible, in-flight and delayed messages, one of them hostile HTML; `orders-dlq`; `payments.fifo`.
async fn populated_emulator() -> TestEnv {
    let env = TestEnv::start().await;
    let dlq = env.create_queue("orders-dlq").await;
    let policy = format!(r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":"3"}}"#, TestEnv::arn_of("orders-dlq"));
    let orders = env.create_queue_with("orders", &[("VisibilityTimeout", "300"), ("RedrivePolicy", &policy)]).await;
    let payments =
        env.create_queue_with("payments.fifo", &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]).await;
    env.client.tag_queue().queue_url(&orders).tags("team", "checkout").send().await.expect("tag");
    env.client
        .send_message()
        .queue_url(&orders)
        .message_body(HOSTILE_BODY)
        .message_attributes("origin", str_attr("String", "<i>web</i>"))
        .send()
        .await
        .expect("send");
    for (step, count) in [2, 3, 4, 3, 2, 1].into_iter().enumerate() {
        for n in 0..count {
            env.send(&orders, &format!(r#"{{"order":{},"step":{step}}}"#, 100 * step + n)).await;
        }
        env.emu.depth_history().sample(env.emu.engine());
        env.advance(60);
    }
    assert_eq!(env.receive(&orders, 4).await.len(), 4);
    env.client.send_message().queue_url(&orders).message_body("later").delay_seconds(120).send().await.expect("send");
    for body in ["lost-1", "lost-2"] {
        env.send(&dlq, body).await;
    }
    for (group, body) in [("alice", "pay 10"), ("bob", "pay 20"), ("alice", "pay 30")] {
        env.client
            .send_message()
            .queue_url(&payments)
            .message_body(body)
            .message_group_id(group)
            .send()
            .await
            .expect("send");
    }
    env.emu.depth_history().sample(env.emu.engine());
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_shows_queues_numbers_links_and_a_safe_peek() {
    let Some(browser) = browser() else { return };
    let env = populated_emulator().await;
    let (visible, in_flight, delayed) = env.counts(&env.url_of("orders")).await;
    assert_eq!((visible, in_flight, delayed), (12, 4, 1));

    let overview = dump_dom(&browser, &format!("{}/ui", env.endpoint)).await;
    let detail = dump_dom(&browser, &format!("{}/ui/queues/orders", env.endpoint)).await;
    let missing = raw_request(&env.endpoint, "GET", "/ui/queues/nope%3Cb%3E", &[], Vec::new()).await;
    let overview_png = screenshot(&browser, &format!("{}/ui", env.endpoint), "dashboard.png", 800).await;
    let detail_png =
        screenshot(&browser, &format!("{}/ui/queues/orders", env.endpoint), "dashboard-queue.png", 1500).await;

    let totals = fragment(&overview, "<section class=\"stats\">", "</section>");
    assert_eq!(metric(totals, "queues"), "3");
    assert_eq!(metric(totals, "visible"), "17");
    assert_eq!(metric(totals, "in-flight"), "4");
    let orders = row(&overview, "orders");
    assert_eq!(metric(orders, "visible"), "12");
    assert_eq!(metric(orders, "in-flight"), "4");
    assert_eq!(metric(orders, "delayed"), "1");
    assert_eq!(metric(orders, "oldest"), "6m 0s");
    assert!(orders.contains("href=\"/ui/queues/orders-dlq\""), "{orders}");
    assert!(orders.contains("data-samples=\"7\""), "a point per sample and one for now: {orders}");
    let dlq = row(&overview, "orders-dlq");
    assert_eq!(metric(dlq, "visible"), "2");
    assert!(fragment(dlq, "data-metric=\"dead-letter-sources\"", "</td>").contains("href=\"/ui/queues/orders\""));
    let payments = row(&overview, "payments.fifo");
    assert_eq!(metric(payments, "visible"), "3");
    assert!(payments.contains("FIFO"), "{payments}");

    assert_eq!(metric(&detail, "sent"), "17");
    assert_eq!(metric(&detail, "received"), "4");
    assert_eq!(detail.matches("<tr data-message=").count(), 17);
    assert_eq!(detail.matches("class=\"badge in-flight\"").count(), 4);
    assert!(detail.contains("&lt;script&gt;document.title=\"owned\"&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt; &amp;"));
    assert!(detail.contains("&lt;i&gt;web&lt;/i&gt;"));
    assert!(!detail.contains("<script") && !detail.contains("<b>bold"), "hostile body rendered as markup");
    assert!(detail.contains("<title>orders · sqskit emulator</title>"));
    assert!(detail.contains("RedrivePolicy") && detail.contains("checkout"));
    assert_eq!(missing.status, 404);
    assert!(String::from_utf8_lossy(&missing.body).contains("nope&lt;b&gt;"));
    eprintln!("screenshots: {} {}", overview_png.display(), detail_png.display());
    env.shutdown().await;
}

#[tokio::test]
async fn pages_answer_without_a_browser_and_peeking_changes_nothing() {
    let env = TestEnv::start().await;
    let url = env.create_queue("plain").await;
    env.send(&url, "hello").await;

    let overview = raw_request(&env.endpoint, "GET", "/ui", &[], Vec::new()).await;
    let detail = raw_request(&env.endpoint, "GET", "/ui/queues/plain", &[], Vec::new()).await;

    assert_eq!(overview.status, 200);
    assert_eq!(overview.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(String::from_utf8_lossy(&detail.body).contains("hello"));
    let attributes = env
        .client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .expect("attributes");
    let visible = attributes.attributes().and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages));
    assert_eq!(visible.map(String::as_str), Some("1"));
    assert_eq!(env.receive_one(&url).await.body(), Some("hello"));
    env.shutdown().await;
}

#[tokio::test]
async fn queues_of_other_regions_are_listed_with_their_region_and_pages_of_their_own() {
    let env = TestEnv::start().await;
    let ireland = common::sdk_client_in(&env.endpoint, "eu-west-1").await;
    let url = env.url_of("regional");
    ireland.create_queue().queue_name("regional").send().await.expect("create in Ireland");
    ireland.send_message().queue_url(&url).message_body("in Ireland").send().await.expect("send");

    let overview = raw_request(&env.endpoint, "GET", "/ui", &[], Vec::new()).await;
    let overview = String::from_utf8_lossy(&overview.body).into_owned();
    let row = row(&overview, "regional");
    assert!(row.contains(r#"href="/ui/queues/regional?region=eu-west-1""#), "{row}");
    assert!(row.contains("eu-west-1 · 000000000000"), "{row}");

    let default_region = raw_request(&env.endpoint, "GET", "/ui/queues/regional", &[], Vec::new()).await;
    assert_eq!(default_region.status, 404, "us-east-1 has no such queue");
    let page =
        raw_request(&env.endpoint, "GET", "/ui/queues/regional?region=eu-west-1&account=000000000000", &[], Vec::new())
            .await;
    assert_eq!(page.status, 200);
    let page = String::from_utf8_lossy(&page.body).into_owned();
    assert!(page.contains("arn:aws:sqs:eu-west-1:000000000000:regional") && page.contains("in Ireland"), "{page}");
    env.shutdown().await;
}
