//! Events out: an endpoint stand-in (an HTTP server of the test's own)
//! receives haat's events signed per Standard Webhooks and checks them with
//! the spec's algorithm; a 500 is tried again on the spec's schedule (time
//! moved, not slept) until a 200 delivers it; a 410 disables the endpoint;
//! a replay sends the same `webhook-id` again; a delivered event is not
//! sent twice.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as Code};
use axum::routing::post;
use haat_domain::integrations::webhooks::{WebhookSecret, verify};
use haat_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// What the endpoint received, and what it answers next.
#[derive(Default)]
struct Inbox {
    received: Vec<(HeaderMap, String)>,
    answers: Vec<u16>,
}

/// An endpoint: answers each post with the next scripted status (200 when
/// the script is done) and keeps what it received.
struct Endpoint {
    url: String,
    inbox: Arc<Mutex<Inbox>>,
}

async fn receive(State(inbox): State<Arc<Mutex<Inbox>>>, headers: HeaderMap, body: String) -> Code {
    let mut inbox = inbox.lock().expect("inbox");
    inbox.received.push((headers, body));
    let status = if inbox.answers.is_empty() { 200 } else { inbox.answers.remove(0) };
    Code::from_u16(status).unwrap_or(Code::OK)
}

impl Endpoint {
    async fn start(answers: &[u16]) -> Self {
        let inbox = Arc::new(Mutex::new(Inbox { received: Vec::new(), answers: answers.to_vec() }));
        let app = Router::new().route("/hooks", post(receive)).with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let url = format!("http://{}/hooks", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Self { url, inbox }
    }

    fn received(&self) -> Vec<(HeaderMap, String)> {
        self.inbox.lock().map(|i| i.received.clone()).unwrap_or_default()
    }
}

async fn app() -> TestApp {
    let (url, pool) = fresh_database().await;
    let app = TestApp::spawn_on(url, pool, &[("HAAT_EVENTS_ALLOW_LOOPBACK", "true")]).await;
    app.create_plan(five_level_plan(7)).await;
    app
}

async fn register(app: &TestApp, endpoint: &Endpoint, types: &[&str]) -> Value {
    let body = json!({"url": endpoint.url, "event_types": types});
    let (status, made) = app.admin("POST", "/v1/admin/event-endpoints", Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert!(made["secret"].as_str().is_some_and(|s| s.starts_with("whsec_")), "{made}");
    made
}

/// Checks one received post with the spec's algorithm; returns its id and body.
fn verified(secret: &str, (headers, body): &(HeaderMap, String)) -> (String, Value) {
    let secret = WebhookSecret::parse(secret).expect("secret");
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let checked = verify(
        &secret,
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
        body.as_bytes(),
        chrono::Utc::now(),
    );
    assert_eq!(checked, Ok(()), "signed per Standard Webhooks: {headers:?}");
    (header("webhook-id").unwrap_or_default().to_owned(), serde_json::from_str(body).expect("JSON"))
}

/// Moves the pending delivery jobs' start to now, as if their wait had passed.
async fn let_the_wait_pass(app: &TestApp) {
    sqlx::query("UPDATE apalis.jobs SET run_at = now() WHERE job_type = 'haat.events' AND status = 'Pending'")
        .execute(&app.pool)
        .await
        .expect("move the retry");
}

#[tokio::test]
async fn a_paid_order_is_sent_signed_and_a_500_is_tried_again_on_the_schedule_until_delivered_once() {
    let app = app().await;
    let endpoint = Endpoint::start(&[500]).await;
    let made = register(&app, &endpoint, &["order.paid"]).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let buyer = &app.create_chain(1).await[0];
    let order = app.place_order(buyer, &tea, 1, "cod").await;
    app.send_event("couriers", &delivered_event(&order)).await;

    eventually("the first attempt", || async { (!endpoint.received().is_empty()).then_some(()) }).await;
    let deliveries = format!("/v1/admin/event-endpoints/{}/deliveries", made["id"].as_str().unwrap_or_default());
    let retry = eventually("the retry scheduled", || async {
        let (_, d) = app.admin("GET", &deliveries, None).await;
        let item = d["items"][0].clone();
        (item["attempts"] == 1 && item["next_at"].is_string()).then_some(item)
    })
    .await;
    assert_eq!((&retry["status"], &retry["last_status"]), (&json!("pending"), &json!(500)));
    let next_at: chrono::DateTime<chrono::Utc> =
        retry["next_at"].as_str().and_then(|t| t.parse().ok()).expect("next_at");
    let wait = next_at - chrono::Utc::now();
    assert!(wait <= chrono::Duration::milliseconds(5500), "the second try waits 5 s (a tenth more at most): {wait}");
    assert_eq!(endpoint.received().len(), 1, "not before its time");

    let_the_wait_pass(&app).await;
    eventually("delivered", || async {
        let (_, d) = app.admin("GET", &deliveries, None).await;
        (d["items"][0]["status"] == "delivered").then_some(())
    })
    .await;
    quiescent(&app.pool).await;
    let received = endpoint.received();
    assert_eq!(received.len(), 2, "one failed attempt, one delivered: never again after success");
    let secret = made["secret"].as_str().unwrap_or_default();
    let (first_id, first) = verified(secret, &received[0]);
    assert_eq!(first, verified(secret, &received[1]).1, "the same body each attempt");
    let (second_id, second) = verified(secret, &received[1]);
    assert_eq!(first_id, second_id, "one event, one webhook-id");
    assert_eq!((&second["type"], &second["data"]["order_id"]), (&json!("order.paid"), &order["id"]));
    assert!(second["timestamp"].is_string());

    // A replay sends the same event under the same webhook-id.
    let (_, d) = app.admin("GET", &deliveries, None).await;
    let delivery = d["items"][0]["id"].as_str().unwrap_or_default().to_owned();
    let (status, again) = app.admin("POST", &format!("/v1/admin/event-deliveries/{delivery}/replay"), None).await;
    assert_eq!((status, &again["replay_of"]), (StatusCode::ACCEPTED, &json!(delivery)), "{again}");
    eventually("the replay", || async { (endpoint.received().len() == 3).then_some(()) }).await;
    assert_eq!(verified(secret, &endpoint.received()[2]).0, first_id);
}

#[tokio::test]
async fn a_410_disables_the_endpoint_and_nothing_more_is_sent_to_it() {
    let app = app().await;
    let endpoint = Endpoint::start(&[410]).await;
    let made = register(&app, &endpoint, &["order.paid"]).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let buyer = &app.create_chain(1).await[0];
    let order = app.place_order(buyer, &tea, 1, "cod").await;
    app.send_event("couriers", &delivered_event(&order)).await;
    let path = format!("/v1/admin/event-endpoints/{}", made["id"].as_str().unwrap_or_default());
    let disabled = eventually("disabled", || async {
        let (_, e) = app.admin("GET", &path, None).await;
        (e["status"] == "disabled").then_some(e)
    })
    .await;
    assert_eq!(disabled["disabled_reason"], "the endpoint answered 410 Gone");
    assert!(disabled.get("secret").is_none(), "a secret is never listed: {disabled}");
    quiescent(&app.pool).await;
    assert_eq!(endpoint.received().len(), 1, "a 410 is not tried again");
    let second = app.place_order(buyer, &tea, 1, "cod").await;
    app.send_event("couriers", &delivered_event(&second)).await;
    quiescent(&app.pool).await;
    assert_eq!(endpoint.received().len(), 1, "a disabled endpoint gets nothing");
}

#[tokio::test]
async fn an_endpoint_must_be_https_on_a_public_address_and_name_known_event_types() {
    let app = TestApp::spawn().await;
    for (url, types, field) in [
        ("http://shop.example.com/hooks", json!(["order.paid"]), "url"),
        ("https://10.0.0.5/hooks", json!(["order.paid"]), "url"),
        ("https://127.0.0.1/hooks", json!(["order.paid"]), "url"),
        ("https://[::1]/hooks", json!(["order.paid"]), "url"),
        ("https://crm.example.com/hooks", json!(["order.shipped"]), "event_types[0]"),
        ("https://crm.example.com/hooks", json!([]), "event_types"),
    ] {
        let (status, problem) =
            app.admin("POST", "/v1/admin/event-endpoints", Some(&json!({"url": url, "event_types": types}))).await;
        assert_eq!(
            (status, problem["errors"][0]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{url}"
        );
    }
    let (_, listed) = app.admin("GET", "/v1/admin/event-endpoints", None).await;
    assert_eq!(listed["items"], json!([]), "nothing was written");
    let (status, made) = app
        .admin(
            "POST",
            "/v1/admin/event-endpoints",
            Some(&json!({"url": "https://crm.example.com/hooks", "event_types": ["order.returned"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["id"].as_str().unwrap_or_default();
    let (status, rotated) = app.admin("POST", &format!("/v1/admin/event-endpoints/{id}/rotate-secret"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(rotated["secret"], made["secret"]);
    assert_eq!(app.admin("DELETE", &format!("/v1/admin/event-endpoints/{id}"), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.admin("GET", &format!("/v1/admin/event-endpoints/{id}"), None).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_event_committed_before_its_worker_is_killed_is_sent_once_by_the_next_worker() {
    let mut app = app().await;
    let endpoint = Endpoint::start(&[]).await;
    let made = register(&app, &endpoint, &["order.delivered"]).await;
    // The first worker serves everything but `events`, so the delivery's
    // job is committed with the order's delivery and waits.
    app.kill_worker(0).await;
    let all_but_events = "webhooks,confirmations,volume,commission,holds,reversals,notifications,periods,campaigns,\
                          loyalty,maintenance,expiries,simulations,shipments,shipment_batches,preparation";
    app.set_worker_env("HAAT_WORKER_QUEUES", all_but_events);
    app.start_worker().await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let buyer = &app.create_chain(1).await[0];
    let order = app.place_order(buyer, &tea, 1, "cod").await;
    app.send_event("couriers", &delivered_event(&order)).await;
    let deliveries = format!("/v1/admin/event-endpoints/{}/deliveries", made["id"].as_str().unwrap_or_default());
    eventually("the delivery is committed", || async {
        let (_, d) = app.admin("GET", &deliveries, None).await;
        (d["items"][0]["status"] == "pending").then_some(())
    })
    .await;
    app.kill_worker(1).await;
    assert!(endpoint.received().is_empty(), "nothing was sent before the kill");

    app.set_worker_env("HAAT_WORKER_QUEUES", &format!("{all_but_events},events"));
    app.start_worker().await;
    let delivered = eventually("delivered by the next worker", || async {
        let (_, d) = app.admin("GET", &deliveries, None).await;
        (d["items"][0]["status"] == "delivered").then_some(d["items"][0].clone())
    })
    .await;
    assert_eq!(delivered["attempts"], 1);
    let received = endpoint.received();
    assert_eq!(received.len(), 1, "sent once");
    let (_, body) = verified(made["secret"].as_str().unwrap_or_default(), &received[0]);
    assert_eq!((&body["type"], &body["data"]["order_id"]), (&json!("order.delivered"), &order["id"]));
}
