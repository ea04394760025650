//! Placing orders: validation that names the field, all-or-nothing stock,
//! Idempotency-Key semantics.

use haat_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn orders_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&app.pool).await.expect("count")
}

async fn stock(app: &TestApp, product: &Value) -> i64 {
    let (_, p) = app.admin("GET", &format!("/v1/products/{}", product["id"].as_str().unwrap_or_default()), None).await;
    p["stock"].as_i64().expect("stock")
}

async fn post_order(app: &TestApp, body: String) -> (StatusCode, Value) {
    let key = uuid::Uuid::new_v4().to_string();
    app.call_with("POST", "/v1/orders", &app.admin_token, Some(body), &[("idempotency-key", &key)]).await
}

fn first_field(problem: &Value) -> &str {
    problem["errors"][0]["field"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn bad_order_input_is_refused_naming_the_problem_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 5).await;
    let soap = app.create_product("SOAP-3", "240.00", "120.00", 50).await;
    let buyer = &app.create_chain(1).await[0];

    let mut unknown = order_body(buyer, &tea, 1, "cod");
    unknown["lines"][0]["product_id"] = json!(uuid::Uuid::new_v4());
    let (status, problem) = post_order(&app, unknown.to_string()).await;
    assert_eq!((status, first_field(&problem)), (StatusCode::UNPROCESSABLE_ENTITY, "lines[0].product_id"));

    let (status, problem) = post_order(&app, order_body(buyer, &tea, 0, "cod").to_string()).await;
    assert_eq!((status, first_field(&problem)), (StatusCode::UNPROCESSABLE_ENTITY, "lines[0].quantity"));

    let mut text = order_body(buyer, &tea, 1, "cod");
    text["lines"][0]["quantity"] = json!("two");
    let (status, problem) = post_order(&app, text.to_string()).await;
    assert_eq!((status, first_field(&problem)), (StatusCode::UNPROCESSABLE_ENTITY, "lines[0].quantity"));

    let (status, problem) = post_order(&app, order_body(buyer, &tea, 6, "cod").to_string()).await;
    assert_eq!((status, first_field(&problem)), (StatusCode::CONFLICT, "lines[0].quantity"));
    assert!(problem["detail"].as_str().unwrap_or_default().contains("5 available"), "{problem}");

    // The first line could be filled, the second cannot: nothing is taken.
    let mut two_lines = order_body(buyer, &soap, 3, "cod");
    two_lines["lines"] = json!([{"product_id": soap["id"], "quantity": 3}, {"product_id": tea["id"], "quantity": 9}]);
    let (status, problem) = post_order(&app, two_lines.to_string()).await;
    assert_eq!((status, first_field(&problem)), (StatusCode::CONFLICT, "lines[1].quantity"));

    let (status, problem) = post_order(&app, "{not json".to_owned()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["status"], 400);

    let mut bad_method = order_body(buyer, &tea, 1, "cheque");
    bad_method["payment_method"] = json!("cheque");
    let (status, problem) = post_order(&app, bad_method.to_string()).await;
    assert_eq!((status, first_field(&problem)), (StatusCode::UNPROCESSABLE_ENTITY, "payment_method"));

    assert_eq!(orders_count(&app).await, 0);
    assert_eq!((stock(&app, &tea).await, stock(&app, &soap).await), (5, 50));
}

#[tokio::test]
async fn an_idempotency_key_replay_returns_the_identical_response_and_another_body_is_refused() {
    let app = TestApp::spawn().await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 10).await;
    let buyer = &app.create_chain(1).await[0];
    let body = order_body(buyer, &tea, 2, "online").to_string();
    let key = [("idempotency-key", "order-abc-1")];

    let first = app.call_with("POST", "/v1/orders", &app.admin_token, Some(body.clone()), &key).await;
    let again = app.call_with("POST", "/v1/orders", &app.admin_token, Some(body.clone()), &key).await;
    assert_eq!(first.0, StatusCode::CREATED);
    assert_eq!(first, again);
    assert_eq!(first.1["total"], "900.00");
    assert_eq!(orders_count(&app).await, 1);
    assert_eq!(stock(&app, &tea).await, 8);

    let other = order_body(buyer, &tea, 3, "online").to_string();
    let (status, problem) = app.call_with("POST", "/v1/orders", &app.admin_token, Some(other), &key).await;
    assert_eq!((status, first_field(&problem)), (StatusCode::UNPROCESSABLE_ENTITY, "Idempotency-Key"));

    let (status, problem) = app.call_with("POST", "/v1/orders", &app.admin_token, Some(body), &[]).await;
    assert_eq!((status, first_field(&problem)), (StatusCode::BAD_REQUEST, "Idempotency-Key"));
    assert_eq!(orders_count(&app).await, 1);
    assert_eq!(stock(&app, &tea).await, 8);
}

#[tokio::test]
async fn an_answered_idempotency_key_leaves_its_claim_unlocked_so_a_retry_on_any_connection_is_replayed() {
    let app = TestApp::spawn().await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 10).await;
    let buyer = &app.create_chain(1).await[0];
    let body = order_body(buyer, &tea, 1, "online").to_string();
    let key = [("idempotency-key", "order-unlocked-1")];
    let first = app.call_with("POST", "/v1/orders", &app.admin_token, Some(body.clone()), &key).await;
    assert_eq!(first.0, StatusCode::CREATED);
    // No connection of the api's pool still holds the claim's lock: one
    // that did would make a retry on another connection answer 409.
    let held: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
          WHERE l.locktype = 'advisory' AND d.datname = current_database()",
    )
    .fetch_one(&app.pool)
    .await
    .expect("advisory locks");
    assert_eq!(held, 0);
    let again = app.call_with("POST", "/v1/orders", &app.admin_token, Some(body), &key).await;
    assert_eq!(first, again);
    assert_eq!(orders_count(&app).await, 1);
}

#[tokio::test]
async fn a_request_in_flight_when_the_api_is_killed_leaves_no_claim_and_its_retry_is_placed_at_once() {
    let mut app = TestApp::spawn().await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 10).await;
    let buyer = &app.create_chain(1).await[0];
    let body = order_body(buyer, &tea, 2, "cod").to_string();
    let key = "order-in-flight-1";

    // The product's row is held, so the order waits at its first line.
    let mut held = app.pool.begin().await.expect("begin");
    sqlx::query("SELECT 1 FROM products WHERE id = $1::uuid FOR UPDATE")
        .bind(tea["id"].as_str().unwrap_or_default())
        .execute(&mut *held)
        .await
        .expect("hold the product");
    let request = app
        .http
        .post(format!("{}/v1/orders", app.base))
        .bearer_auth(&app.admin_token)
        .header("idempotency-key", key)
        .header("content-type", "application/json")
        .body(body.clone())
        .send();
    let in_flight = tokio::spawn(request);
    eventually("the order waits for the product's row", || async {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
        )
        .fetch_one(&app.pool)
        .await
        .ok()?;
        (waiting == 1).then_some(())
    })
    .await;
    let claimed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM idempotency_keys WHERE key = $1 AND response_status IS NULL")
            .bind(key)
            .fetch_one(&app.pool)
            .await
            .expect("claims");
    assert_eq!(claimed, 1, "the key is claimed while the request runs");

    app.restart_api().await;
    assert!(in_flight.await.expect("joins").is_err(), "the killed api never answered");
    held.rollback().await.expect("let the product go");
    // The dead request's session ends (its transaction rolled back): its claim with it.
    eventually("the dead request's session is gone", || async {
        let locks: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2")
                .fetch_one(&app.pool)
                .await
                .ok()?;
        (locks == 0).then_some(())
    })
    .await;

    let headers = [("idempotency-key", key)];
    let (status, order) = app.call_with("POST", "/v1/orders", &app.admin_token, Some(body.clone()), &headers).await;
    assert_eq!(status, StatusCode::CREATED, "taken over at once, not 409 until a timer runs out: {order}");
    let again = app.call_with("POST", "/v1/orders", &app.admin_token, Some(body), &headers).await;
    assert_eq!(again, (StatusCode::CREATED, order));
    assert_eq!((orders_count(&app).await, stock(&app, &tea).await), (1, 8), "placed once");
}

#[tokio::test]
async fn an_online_order_unpaid_at_the_end_of_its_window_expires_and_gives_back_its_stock_and_coupon() {
    let (url, pool) = fresh_database().await;
    // A window long enough for the paid order's webhook to be applied
    // within it on a loaded machine (the test waits for that below).
    let app = TestApp::spawn_on(url, pool, &[("HAAT_PAYMENT_WINDOW_SECONDS", "4")]).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 5).await;
    let buyer = &app.create_chain(1).await[0];
    let coupon = json!({"code": "ONCE", "kind": "fixed", "value": "50.00", "max_uses": 1,
                        "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"});
    assert_eq!(app.admin("POST", "/v1/admin/coupons", Some(&coupon)).await.0, StatusCode::CREATED);
    let mut body = order_body(buyer, &tea, 2, "online");
    body["coupon_code"] = json!("ONCE");
    let (status, unpaid) = post_order(&app, body.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{unpaid}");
    assert_eq!((unpaid["total"].as_str(), stock(&app, &tea).await), (Some("850.00"), 3));
    // One paid in time is left alone.
    let paid = app.place_order(buyer, &tea, 1, "online").await;
    assert_eq!(app.send_event("payments", &paid_event(&paid)).await.0, StatusCode::OK);
    let paid_id = paid["id"].as_str().unwrap_or_default().to_owned();
    eventually("the paid order is paid", || async {
        let (_, o) = app.admin("GET", &format!("/v1/orders/{paid_id}"), None).await;
        (o["status"] == "paid").then_some(())
    })
    .await;

    let id = unpaid["id"].as_str().unwrap_or_default().to_owned();
    let expired = eventually("the unpaid order expires", || async {
        let (_, o) = app.admin("GET", &format!("/v1/orders/{id}"), None).await;
        (o["status"] == "cancelled").then_some(o)
    })
    .await;
    let last = expired["history"].as_array().and_then(|h| h.last().cloned()).unwrap_or_default();
    assert_eq!((last["status"].as_str(), last["source"].as_str()), (Some("cancelled"), Some("expiry")));
    assert_eq!(stock(&app, &tea).await, 4, "its two units are back; the paid order keeps its one");
    let uses: i32 =
        sqlx::query_scalar("SELECT uses FROM coupons WHERE code = 'ONCE'").fetch_one(&app.pool).await.expect("uses");
    assert_eq!(uses, 0, "its coupon use is back");
    let mut again = order_body(buyer, &tea, 1, "cod");
    again["coupon_code"] = json!("ONCE");
    assert_eq!(post_order(&app, again.to_string()).await.0, StatusCode::CREATED, "the coupon can be used again");
    let pid = paid["id"].as_str().unwrap_or_default();
    // The paid order's window ends too; its job finds it paid.
    eventually("both expiry jobs ran", || async {
        let done: i64 =
            sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE job_type = 'haat.expiries' AND status = 'Done'")
                .fetch_one(&app.pool)
                .await
                .ok()?;
        (done == 2).then_some(())
    })
    .await;
    let key: Option<String> = sqlx::query_scalar("SELECT idempotency_key FROM apalis.jobs WHERE idempotency_key = $1")
        .bind(format!("expire_order:{pid}"))
        .fetch_optional(&app.pool)
        .await
        .expect("expiry job");
    assert!(key.is_some(), "the paid order had its expiry job");
    assert_eq!(app.admin("GET", &format!("/v1/orders/{pid}"), None).await.1["status"], "paid");
    let (_, audit) = app.admin("GET", "/v1/admin/audit", None).await;
    assert_eq!(audit["ok"], true, "{audit}");
}
