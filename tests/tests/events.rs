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

/// Every event the endpoint received, each checked with the spec's
/// algorithm, as (type, data) in arrival order.
fn received_events(endpoint: &Endpoint, secret: &str) -> Vec<(String, Value)> {
    endpoint
        .received()
        .iter()
        .map(|post| verified(secret, post).1)
        .map(|body| (body["type"].as_str().unwrap_or_default().to_owned(), body["data"].clone()))
        .collect()
}

/// The data of the received events of `kind`, ordered by `field`.
fn of_kind(events: &[(String, Value)], kind: &str, field: &str) -> Vec<Value> {
    let mut found: Vec<Value> = events.iter().filter(|(t, _)| t == kind).map(|(_, d)| d.clone()).collect();
    found.sort_by_key(|d| d[field].as_str().unwrap_or_default().to_owned());
    found
}

/// Emails to `member` whose subject is `subject`.
fn mails_to(app: &TestApp, member: &Value, subject: &str) -> usize {
    let email = member["email"].as_str().unwrap_or_default().to_owned();
    app.smtp.messages().iter().filter(|m| m.to.contains(&email) && m.read().0 == subject).count()
}

#[tokio::test]
async fn members_an_order_its_release_and_a_return_are_told_as_signed_events_with_exact_amounts_and_milestones_emailed_once()
 {
    let (url, pool) = fresh_database().await;
    let app = TestApp::spawn_on(url, pool, &[("HAAT_EVENTS_ALLOW_LOOPBACK", "true")]).await;
    app.create_plan(loyalty_plan("credit")).await;
    let endpoint = Endpoint::start(&[]).await;
    let every_type = [
        "order.paid",
        "order.delivered",
        "order.returned",
        "commission.earned",
        "commission.released",
        "commission.reversed",
        "member.joined",
        "points.earned",
        "tier.changed",
    ];
    let made = register(&app, &endpoint, &every_type).await;
    let secret = made["secret"].as_str().unwrap_or_default().to_owned();
    let chain = app.create_chain(3).await;
    let (root, sponsor, buyer) = (&chain[0], &chain[1], &chain[2]);
    // Three TEA-500 (450.00, BV 300.00): 1,350.00 of spend and BV 900.00.
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let order = app.place_order(buyer, &tea, 3, "cod").await;
    app.send_event("couriers", &delivered_event(&order)).await;
    wallet_reaches(&app, sponsor, "pending", "90.00").await;
    quiescent(&app.pool).await;
    let_days_pass(&app, 8).await;
    wallet_reaches(&app, sponsor, "available", "90.00").await;
    let ret = json!({"lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 1}], "reason": "damaged"});
    let path = format!("/v1/orders/{}/returns", order["id"].as_str().unwrap_or_default());
    assert_eq!(app.admin("POST", &path, Some(&ret)).await.0, StatusCode::CREATED);
    wallet_reaches(&app, sponsor, "available", "60.00").await;
    quiescent(&app.pool).await;

    let events = received_events(&endpoint, &secret);
    let joined = of_kind(&events, "member.joined", "member_id");
    let ids = |list: &[Value], field: &str| list.iter().map(|d| d[field].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&joined, "member_id"), vec![root["id"].clone(), sponsor["id"].clone(), buyer["id"].clone()]);
    assert_eq!((&joined[2]["sponsor_id"], &joined[2]["email"]), (&sponsor["id"], &buyer["email"]));
    for kind in ["order.paid", "order.delivered"] {
        let told = of_kind(&events, kind, "order_id");
        assert_eq!(ids(&told, "order_id"), vec![order["id"].clone()], "{kind} once");
    }
    let by_member = |kind: &str| -> Vec<(Value, Value)> {
        let mut told: Vec<(Value, Value)> = events
            .iter()
            .filter(|(t, _)| t == kind)
            .map(|(_, d)| (d["member_id"].clone(), d["amount"].clone()))
            .collect();
        told.sort_by_key(|(m, _)| m.as_str().unwrap_or_default().to_owned());
        told
    };
    let expected = |amounts: [&str; 2]| {
        let mut e = vec![(sponsor["id"].clone(), json!(amounts[0])), (root["id"].clone(), json!(amounts[1]))];
        e.sort_by_key(|(m, _)| m.as_str().unwrap_or_default().to_owned());
        e
    };
    // 10% and 5% of BV 900.00; released whole; a third of each taken back.
    assert_eq!(by_member("commission.earned"), expected(["90.00", "45.00"]));
    assert_eq!(by_member("commission.released"), expected(["90.00", "45.00"]));
    assert_eq!(by_member("commission.reversed"), expected(["30.00", "15.00"]));
    let earned = of_kind(&events, "commission.earned", "member_id");
    assert!(earned.iter().all(|d| d["order_id"] == order["id"] && d["release_at"].is_string()), "{earned:?}");
    let levels: Vec<i64> = {
        let mut l: Vec<i64> = earned.iter().filter_map(|d| d["level"].as_i64()).collect();
        l.sort();
        l
    };
    assert_eq!(levels, vec![1, 2]);
    let returned = of_kind(&events, "order.returned", "order_id");
    assert_eq!((returned.len(), &returned[0]["kind"]), (1, &json!("return")));
    // 2% of 1,350.00 in points (no tier before the order), which lifts the
    // buyer from no tier to silver (1,000.00).
    let points = of_kind(&events, "points.earned", "order_id");
    assert_eq!(points.len(), 1);
    assert_eq!((&points[0]["member_id"], &points[0]["points"]), (&buyer["id"], &json!("27.00")));
    let tier = of_kind(&events, "tier.changed", "order_id");
    assert_eq!(tier, vec![json!({"member_id": buyer["id"], "order_id": order["id"], "from": null, "to": "silver"})]);
    assert_eq!(events.len(), 3 + 2 + 2 * 3 + 1 + 1 + 1, "nothing sent twice: {events:?}");

    assert_eq!(mails_to(&app, buyer, "Thank you for your first order"), 1);
    assert_eq!(mails_to(&app, buyer, "You reached the silver tier"), 1);
    assert_eq!(mails_to(&app, sponsor, "Thank you for your first order"), 0, "the sponsor bought nothing");
}

#[tokio::test]
async fn a_withdrawal_is_told_at_each_step_it_reaches() {
    let (app, chain, _) = released_kit_commission_with(&[("HAAT_EVENTS_ALLOW_LOOPBACK", "true")]).await;
    let endpoint = Endpoint::start(&[]).await;
    let types = ["withdrawal.requested", "withdrawal.approved", "withdrawal.paid", "withdrawal.rejected"];
    let made = register(&app, &endpoint, &types).await;
    let path = format!("/v1/members/{}/withdrawals", chain[0]["id"].as_str().unwrap_or_default());
    let body = json!({"amount": "1000.00", "method": "bkash", "account": "01711000000"}).to_string();
    let (status, w) = app.call_with("POST", &path, &app.admin_token, Some(body), &[("idempotency-key", "w-1")]).await;
    assert_eq!(status, StatusCode::CREATED, "{w}");
    let step = format!("/v1/admin/withdrawals/{}", w["id"].as_str().unwrap_or_default());
    assert_eq!(app.admin("POST", &format!("{step}/approve"), None).await.0, StatusCode::OK);
    let paid = json!({"reference": "BKASH-TRX-1"});
    assert_eq!(app.admin("POST", &format!("{step}/paid"), Some(&paid)).await.0, StatusCode::OK);
    assert_eq!(app.admin("POST", &format!("{step}/paid"), Some(&paid)).await.0, StatusCode::OK, "twice: no change");
    quiescent(&app.pool).await;

    let events = received_events(&endpoint, made["secret"].as_str().unwrap_or_default());
    let told: Vec<(&str, &Value, &Value, &Value)> =
        events.iter().map(|(t, d)| (t.as_str(), &d["withdrawal_id"], &d["member_id"], &d["amount"])).collect();
    let (id, member, amount) = (&w["id"], &chain[0]["id"], &json!("1000.00"));
    assert_eq!(
        told,
        vec![
            ("withdrawal.requested", id, member, amount),
            ("withdrawal.approved", id, member, amount),
            ("withdrawal.paid", id, member, amount)
        ]
    );
}

#[tokio::test]
async fn an_endpoint_failing_a_minute_short_of_five_days_is_retried_and_at_five_days_disabled_and_the_admin_emailed_once()
 {
    let (url, pool) = fresh_database().await;
    let env = [("HAAT_EVENTS_ALLOW_LOOPBACK", "true"), ("HAAT_ADMIN_EMAIL", "ops@shop.example.com")];
    let app = TestApp::spawn_on(url, pool, &env).await;
    app.create_plan(five_level_plan(7)).await;
    let endpoint = Endpoint::start(&[500, 500, 500]).await;
    let made = register(&app, &endpoint, &["member.joined"]).await;
    let id = made["id"].as_str().unwrap_or_default().to_owned();
    app.create_chain(1).await;
    let deliveries = format!("/v1/admin/event-endpoints/{id}/deliveries");
    eventually("the first attempt failed", || async {
        let (_, d) = app.admin("GET", &deliveries, None).await;
        (d["items"][0]["attempts"] == 1).then_some(())
    })
    .await;
    // A minute short of five days of failures, the next failure is retried.
    let age = |by: &'static str| {
        let (pool, id) = (app.pool.clone(), id.clone());
        async move {
            sqlx::query("UPDATE event_endpoints SET failing_since = now() - $2::interval WHERE id = $1::uuid")
                .bind(&id)
                .bind(by)
                .execute(&pool)
                .await
                .expect("age the failures");
        }
    };
    age("5 days - 1 minute").await;
    let_the_wait_pass(&app).await;
    let retried = eventually("the second attempt failed and is retried", || async {
        let (_, d) = app.admin("GET", &deliveries, None).await;
        let item = d["items"][0].clone();
        (item["attempts"] == 2 && item["next_at"].is_string()).then_some(item)
    })
    .await;
    assert_eq!(retried["status"], "pending");
    let (_, still) = app.admin("GET", &format!("/v1/admin/event-endpoints/{id}"), None).await;
    assert_eq!(still["status"], "active");
    // Five days to the second by the next attempt: disabled.
    age("5 days").await;
    let_the_wait_pass(&app).await;
    let path = format!("/v1/admin/event-endpoints/{id}");
    let disabled = eventually("disabled", || async {
        let (_, e) = app.admin("GET", &path, None).await;
        (e["status"] == "disabled").then_some(e)
    })
    .await;
    assert_eq!(disabled["disabled_reason"], "every delivery failed for five days");
    let (_, d) = app.admin("GET", &deliveries, None).await;
    assert_eq!((&d["items"][0]["status"], &d["items"][0]["attempts"]), (&json!("failed"), &json!(3)));
    let told = eventually("the admin's email", || async {
        let mails: Vec<_> =
            app.smtp.messages().into_iter().filter(|m| m.to.iter().any(|t| t == "ops@shop.example.com")).collect();
        (!mails.is_empty()).then_some(mails)
    })
    .await;
    quiescent(&app.pool).await;
    let (subject, body) = told[0].read();
    assert_eq!(subject, format!("Event endpoint disabled: {}", endpoint.url));
    assert!(body.contains("every delivery failed for five days") && body.contains(&id), "{body}");
    // An admin disabling it again tells nobody again.
    assert_eq!(app.admin("POST", &format!("{path}/disable"), None).await.0, StatusCode::OK);
    quiescent(&app.pool).await;
    let to_admin = app.smtp.messages().into_iter().filter(|m| m.to.iter().any(|t| t == "ops@shop.example.com")).count();
    assert_eq!((to_admin, endpoint.received().len()), (1, 3));
}

#[tokio::test]
async fn a_period_close_that_raises_ranks_tells_each_raised_member_once_and_emails_the_rank() {
    let (url, pool) = fresh_database().await;
    let app = TestApp::spawn_on(url, pool, &[("HAAT_EVENTS_ALLOW_LOOPBACK", "true")]).await;
    let (chain, period) = last_months_team(&app).await;
    let endpoint = Endpoint::start(&[]).await;
    let made = register(&app, &endpoint, &["member.rank_changed"]).await;
    let close = format!("/v1/admin/periods/{period}/close");
    for _ in 0..2 {
        assert_eq!(app.admin("POST", &close, None).await.0, StatusCode::ACCEPTED);
        quiescent(&app.pool).await;
    }
    // Group PV 100 (gold), 60 and 40 (silver); the last member's 20 is no rank.
    let events = received_events(&endpoint, made["secret"].as_str().unwrap_or_default());
    let mut told: Vec<(String, Value, Value)> = events
        .iter()
        .map(|(t, d)| {
            assert_eq!((t.as_str(), &d["period"]), ("member.rank_changed", &json!(period)));
            (
                d["member_id"].as_str().unwrap_or_default().to_owned(),
                d["highest_rank"].clone(),
                d["paid_as_rank"].clone(),
            )
        })
        .collect();
    told.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected: Vec<(String, Value, Value)> = [(0, "gold"), (1, "silver"), (2, "silver")]
        .into_iter()
        .map(|(i, rank)| (chain[i]["id"].as_str().unwrap_or_default().to_owned(), json!(rank), json!(rank)))
        .collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(told, expected);
    assert_eq!(mails_to(&app, &chain[0], "You reached the rank of gold"), 1);
    assert_eq!(mails_to(&app, &chain[1], "You reached the rank of silver"), 1);
    assert_eq!(mails_to(&app, &chain[3], "You reached the rank of silver"), 0);
}

#[tokio::test]
async fn a_rejected_and_a_failed_withdrawal_are_told_once_each() {
    let (app, chain, _) = released_kit_commission_with(&[("HAAT_EVENTS_ALLOW_LOOPBACK", "true")]).await;
    let endpoint = Endpoint::start(&[]).await;
    let made = register(&app, &endpoint, &["withdrawal.rejected", "withdrawal.failed"]).await;
    let path = format!("/v1/members/{}/withdrawals", chain[0]["id"].as_str().unwrap_or_default());
    let ask = |amount: &str, key: &str| {
        let body = json!({"amount": amount, "method": "bkash", "account": "01711000000"}).to_string();
        let (app, path, key) = (&app, path.clone(), key.to_owned());
        async move {
            let (status, w) =
                app.call_with("POST", &path, &app.admin_token, Some(body), &[("idempotency-key", &key)]).await;
            assert_eq!(status, StatusCode::CREATED, "{w}");
            format!("/v1/admin/withdrawals/{}", w["id"].as_str().unwrap_or_default())
        }
    };
    let rejected = ask("500.00", "w-rejected").await;
    assert_eq!(app.admin("POST", &format!("{rejected}/reject"), None).await.0, StatusCode::OK);
    assert_eq!(app.admin("POST", &format!("{rejected}/reject"), None).await.0, StatusCode::OK, "twice: no change");
    let failed = ask("700.00", "w-failed").await;
    assert_eq!(app.admin("POST", &format!("{failed}/approve"), None).await.0, StatusCode::OK);
    let note = json!({"note": "wallet closed"});
    assert_eq!(app.admin("POST", &format!("{failed}/failed"), Some(&note)).await.0, StatusCode::OK);
    quiescent(&app.pool).await;

    let events = received_events(&endpoint, made["secret"].as_str().unwrap_or_default());
    let told: Vec<(&str, &str)> =
        events.iter().map(|(t, d)| (t.as_str(), d["amount"].as_str().unwrap_or_default())).collect();
    assert_eq!(told, [("withdrawal.rejected", "500.00"), ("withdrawal.failed", "700.00")]);
    assert_eq!(app.wallet(&chain[0]).await["available"], "1200.00", "both gave the money back");
}

#[tokio::test]
async fn points_reaching_their_age_are_told_once_however_often_the_expiry_runs() {
    let (url, pool) = fresh_database().await;
    let app = TestApp::spawn_on(url, pool, &[("HAAT_EVENTS_ALLOW_LOOPBACK", "true")]).await;
    app.create_plan(loyalty_plan("credit")).await;
    let endpoint = Endpoint::start(&[]).await;
    let made = register(&app, &endpoint, &["points.expired"]).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let buyer = &app.create_chain(2).await[1];
    let order = app.place_order(buyer, &tea, 3, "cod").await;
    app.send_event("couriers", &delivered_event(&order)).await;
    quiescent(&app.pool).await;
    let_days_pass(&app, 8).await;
    wallet_reaches(&app, buyer, "credit", "27.00").await;
    sqlx::query("UPDATE order_rewards SET expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .expect("age the lot");
    for _ in 0..2 {
        assert_eq!(app.admin("POST", "/v1/admin/loyalty/expire", None).await.0, StatusCode::ACCEPTED);
    }
    wallet_reaches(&app, buyer, "credit", "0.00").await;
    quiescent(&app.pool).await;

    let events = received_events(&endpoint, made["secret"].as_str().unwrap_or_default());
    let told: Vec<(&str, &Value, &Value, &Value)> =
        events.iter().map(|(t, d)| (t.as_str(), &d["member_id"], &d["order_line_id"], &d["points"])).collect();
    assert_eq!(told, [("points.expired", &buyer["id"], &order["lines"][0]["id"], &json!("27.00"))]);
}

#[tokio::test]
async fn a_settled_campaign_tells_each_paid_purchase_once_however_often_it_is_settled() {
    let app = app().await;
    let endpoint = Endpoint::start(&[]).await;
    let made = register(&app, &endpoint, &["cashback.paid"]).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(3).await;
    let mut lines = Vec::new();
    for buyer in [&chain[1], &chain[2]] {
        let order = app.place_order(buyer, &tea, 1, "online").await;
        assert_eq!(app.send_event("payments", &paid_event(&order)).await.0, StatusCode::OK);
        lines.push((buyer["id"].clone(), order["lines"][0]["id"].clone()));
    }
    quiescent(&app.pool).await;
    let now = chrono::Utc::now();
    let body = json!({"name": "Tea week", "scope": {"kind": "all"},
                      "starts_at": (now - chrono::Duration::hours(1)).to_rfc3339(),
                      "ends_at": (now + chrono::Duration::hours(1)).to_rfc3339(),
                      "rate": "0.10", "trigger": "reached", "min_units": 2});
    let (status, campaign) = app.admin("POST", "/v1/admin/campaigns", Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{campaign}");
    let path = format!("/v1/admin/campaigns/{}", campaign["id"].as_str().unwrap_or_default());
    assert_eq!(app.admin("POST", &format!("{path}/settle"), None).await.0, StatusCode::ACCEPTED);
    eventually("settled", || async { (app.admin("GET", &path, None).await.1["status"] == "settled").then_some(()) })
        .await;
    assert_eq!(app.admin("POST", &format!("{path}/settle"), None).await.0, StatusCode::CONFLICT, "settled once");
    quiescent(&app.pool).await;

    let events = received_events(&endpoint, made["secret"].as_str().unwrap_or_default());
    let mut told: Vec<(Value, Value, Value, Value)> = events
        .iter()
        .filter(|(t, _)| t == "cashback.paid")
        .map(|(_, d)| (d["member_id"].clone(), d["order_line_id"].clone(), d["amount"].clone(), d["reward"].clone()))
        .collect();
    told.sort_by_key(|t| t.1.as_str().unwrap_or_default().to_owned());
    let mut expected: Vec<(Value, Value, Value, Value)> =
        lines.into_iter().map(|(m, l)| (m, l, json!("45.00"), json!("cash"))).collect();
    expected.sort_by_key(|t| t.1.as_str().unwrap_or_default().to_owned());
    assert_eq!((events.len(), told), (2, expected));
}
