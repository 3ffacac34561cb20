//! The emulator's own pages in SigV4 mode: `/ui`, `/metrics` and `/_sqskit/*` need the admin token (header,
//! or a dashboard session signed in with it) or a SigV4-signed request of an account, which then sees only
//! its own queues; an anonymous caller sees no queue and no message.

use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use sqskit_emulator::auth::{AuthMode, Credential};
use sqskit_emulator::{Clock, Emulator, ManualClock, RunningEmulator};

use crate::common::{REGION, RawResponse, raw_request, sdk_client_as, start_emulator, stop_emulator};

const ACCOUNT_A: &str = "111111111111";
const ACCOUNT_B: &str = "222222222222";
const TOKEN: &str = "operator-token";

struct Env {
    emu: RunningEmulator,
    clock: ManualClock,
    endpoint: String,
}

async fn start() -> Env {
    let clock = ManualClock::new();
    let credentials =
        vec![Credential::new("AKIDA", "secret-a", ACCOUNT_A), Credential::new("AKIDB", "secret-b", ACCOUNT_B)];
    let emu = start_emulator(
        Emulator::builder().clock(clock.clone()).auth(AuthMode::Sigv4).credentials(credentials).admin_token(TOKEN),
    )
    .await;
    let endpoint = emu.endpoint();
    // Each account has a queue holding a message only it may read.
    for (key, secret, queue, body) in
        [("AKIDA", "secret-a", "a-orders", "secret-of-a"), ("AKIDB", "secret-b", "b-orders", "secret-of-b")]
    {
        let client = sdk_client_as(&endpoint, key, secret, None).await;
        let url = client.create_queue().queue_name(queue).send().await.unwrap().queue_url.unwrap();
        client.send_message().queue_url(&url).message_body(body).send().await.unwrap();
    }
    Env { emu, clock, endpoint }
}

/// A request signed by `key` (header signing) at the emulator's clock.
async fn signed(env: &Env, key: (&str, &str), method: &str, path: &str, body: &[u8]) -> RawResponse {
    let identity = Credentials::new(key.0, key.1, None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::Headers;
    let time = UNIX_EPOCH + Duration::from_millis(env.clock.now().as_millis());
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("sqs")
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let url = format!("{}{path}", env.endpoint);
    let signable = SignableRequest::new(method, &url, std::iter::empty(), SignableBody::Bytes(body)).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let headers: Vec<(String, String)> =
        instructions.headers().map(|(name, value)| (name.to_owned(), value.to_owned())).collect();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    raw_request(&env.endpoint, method, path, &headers, body.to_vec()).await
}

fn text(response: &RawResponse) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

const A: (&str, &str) = ("AKIDA", "secret-a");

#[tokio::test]
async fn anonymous_callers_see_no_queue_and_no_message() {
    let env = start().await;
    for path in ["/ui", "/ui/queues/a-orders", "/ui/queues/b-orders?account=222222222222", "/ui/new-queue"] {
        let page = raw_request(&env.endpoint, "GET", path, &[], Vec::new()).await;
        let body = text(&page);
        assert_eq!(page.status, 401, "{path}: {body}");
        assert!(body.contains("Sign in"), "{path} offers the sign-in form: {body}");
        for secret in ["a-orders", "b-orders", "secret-of-a", "secret-of-b"] {
            assert!(!body.contains(secret), "{path} leaks {secret}");
        }
    }
    for path in ["/metrics", "/_sqskit/queues/a-orders/messages?account=111111111111", "/_sqskit/clock"] {
        let response = raw_request(&env.endpoint, "GET", path, &[], Vec::new()).await;
        assert_eq!(response.status, 401, "{path}");
        assert!(!text(&response).contains("secret-of"), "{path}");
    }
    let reset = raw_request(&env.endpoint, "POST", "/_sqskit/reset", &[], Vec::new()).await;
    assert_eq!(reset.status, 401);
    // A wrong token is refused too; a forged signature gets AWS's words.
    let wrong = raw_request(&env.endpoint, "GET", "/ui", &[("x-sqskit-admin-token", "guess")], Vec::new()).await;
    assert_eq!(wrong.status, 401);
    let forged = signed(&env, ("AKIDA", "not-the-secret"), "GET", "/ui", b"").await;
    assert_eq!(forged.status, 403);
    assert!(text(&forged).contains("Sign in") && !text(&forged).contains("a-orders"));
    stop_emulator(env.emu).await;
}

#[tokio::test]
async fn a_signed_account_sees_only_its_own_queues_everywhere() {
    let env = start().await;
    let overview = signed(&env, A, "GET", "/ui", b"").await;
    assert_eq!(overview.status, 200, "{}", text(&overview));
    assert!(text(&overview).contains("a-orders") && !text(&overview).contains("b-orders"));
    let page = signed(&env, A, "GET", "/ui/queues/a-orders", b"").await;
    assert_eq!(page.status, 200);
    assert!(text(&page).contains("secret-of-a"));
    let other = signed(&env, A, "GET", "/ui/queues/b-orders?account=222222222222", b"").await;
    assert_eq!(other.status, 404);
    assert!(!text(&other).contains("secret-of-b"));

    let metrics = text(&signed(&env, A, "GET", "/metrics", b"").await);
    assert!(metrics.contains("queue=\"a-orders\""), "{metrics}");
    assert!(!metrics.contains("b-orders") && !metrics.contains("sqskit_requests_total"), "{metrics}");

    let peek = signed(&env, A, "GET", "/_sqskit/queues/a-orders/messages", b"").await;
    assert_eq!(peek.status, 200);
    assert!(text(&peek).contains("secret-of-a"));
    let peek_other = signed(&env, A, "GET", "/_sqskit/queues/b-orders/messages?account=222222222222", b"").await;
    assert_eq!(peek_other.status, 404);
    assert!(!text(&peek_other).contains("secret-of-b"));
    // The clock and fault rules are every account's: the operator's only.
    assert_eq!(signed(&env, A, "GET", "/_sqskit/clock", b"").await.status, 403);
    assert_eq!(signed(&env, A, "POST", "/_sqskit/reset", br#"{"account":"222222222222"}"#).await.status, 403);
    // A reset by an account resets that account.
    let reset = signed(&env, A, "POST", "/_sqskit/reset", b"").await;
    assert_eq!(reset.status, 200, "{}", text(&reset));
    assert_eq!(reset.json()["deleted_queues"], 1);
    assert!(env.emu.engine().get_queue_url_in(ACCOUNT_B, "b-orders", None).is_ok());
    assert!(env.emu.engine().get_queue_url_in(ACCOUNT_A, "a-orders", None).is_err());
    stop_emulator(env.emu).await;
}

#[tokio::test]
async fn the_operator_sees_everything_with_the_token_or_a_signed_in_session() {
    let env = start().await;
    let token = [("x-sqskit-admin-token", TOKEN)];
    let overview = raw_request(&env.endpoint, "GET", "/ui", &token, Vec::new()).await;
    assert_eq!(overview.status, 200);
    assert!(text(&overview).contains("a-orders") && text(&overview).contains("b-orders"));
    let metrics = text(&raw_request(&env.endpoint, "GET", "/metrics", &token, Vec::new()).await);
    assert!(metrics.contains("b-orders") && metrics.contains("sqskit_requests_total"));
    assert_eq!(raw_request(&env.endpoint, "GET", "/_sqskit/clock", &token, Vec::new()).await.status, 200);

    // A browser signs in with the token through the form and then browses with its session cookie.
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let wrong = raw_request(&env.endpoint, "POST", "/ui/login", &form, b"token=guess".to_vec()).await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.header("set-cookie").is_none());
    let right = raw_request(&env.endpoint, "POST", "/ui/login", &form, format!("token={TOKEN}").into_bytes()).await;
    assert_eq!(right.status, 303);
    let cookie = right.header("set-cookie").unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_owned();
    let page = raw_request(
        &env.endpoint,
        "GET",
        "/ui/queues/b-orders?account=222222222222",
        &[("cookie", &session)],
        Vec::new(),
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(text(&page).contains("secret-of-b") && text(&page).contains("Sign out"));
    stop_emulator(env.emu).await;
}
