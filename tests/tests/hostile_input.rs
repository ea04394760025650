//! Input as a careless client, a gateway or an attacker sends it: every
//! refusal is a problem+json 4xx naming the field, nothing is written, and
//! an event that can never be applied is recorded as refused instead of
//! failing its job for an hour.

use haat_tests::providers::*;
use haat_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn send(app: &TestApp, method: &str, path: &str, body: Option<String>, headers: &[(&str, &str)]) -> Reply {
    app.request(method, path, &app.admin_token, body, headers).await
}

/// Asserts `method path body` is refused with `status` as problem+json
/// naming `field`.
async fn refused(app: &TestApp, method: &str, path: &str, body: &Value, status: StatusCode, field: &str) {
    let key = uuid::Uuid::new_v4().to_string();
    let r = send(app, method, path, Some(body.to_string()), &[("idempotency-key", &key)]).await;
    assert_eq!(r.status, status, "{method} {path}: {}", r.body);
    assert_eq!(r.content_type, "application/problem+json", "{method} {path}");
    assert_eq!(r.field(), field, "{method} {path}: {}", r.body);
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&app.pool)
        .await
        .expect("count rows")
}

/// Row counts of every table a refused request could have written to.
async fn rows(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for t in ["members", "products", "orders", "order_reversals", "pickup_points", "coupons", "campaigns", "api_keys"] {
        out.push(count(app, t).await);
    }
    out
}

const NUL: &str = "\u{0}";

#[tokio::test]
async fn a_nul_character_in_any_text_field_is_a_422_naming_the_field_and_writes_nothing() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(2).await;
    let order = app.place_order(&chain[1], &tea, 1, "cod").await;
    let before = rows(&app).await;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;

    let member = |name: &str, email: &str| json!({"name": name, "email": email});
    refused(&app, "POST", "/v1/members", &member(&format!("Ra{NUL}him"), "r@example.com"), unprocessable, "name").await;
    refused(&app, "POST", "/v1/members", &member("Rahim", &format!("r{NUL}@example.com")), unprocessable, "email")
        .await;
    let mut body = order_body(&chain[1], &tea, 1, "cod");
    body["shipping_address"]["line1"] = json!(format!("House 1{NUL}"));
    refused(&app, "POST", "/v1/orders", &body, unprocessable, "shipping_address.line1").await;
    let product = json!({"sku": format!("SKU{NUL}"), "name": "Tea", "category": "grocery", "price": "1.00",
                         "pv": "1.00", "bv": "1.00", "stock": 1});
    refused(&app, "POST", "/v1/admin/products", &product, unprocessable, "sku").await;
    let product = json!({"sku": "SKU-2", "name": format!("চা{NUL}"), "category": "grocery", "price": "1.00",
                         "pv": "1.00", "bv": "1.00", "stock": 1});
    refused(&app, "POST", "/v1/admin/products", &product, unprocessable, "name").await;
    let line = order["lines"][0]["id"].clone();
    let ret = json!({"lines": [{"order_line_id": line, "quantity": 1}], "reason": format!("broken{NUL}")});
    let path = format!("/v1/orders/{}/returns", order["id"].as_str().unwrap_or_default());
    refused(&app, "POST", &path, &ret, unprocessable, "reason").await;
    let point = json!({"name": format!("Point{NUL}"), "operator_id": chain[0]["id"]});
    refused(&app, "POST", "/v1/admin/pickup-points", &point, unprocessable, "name").await;
    // A NUL in a key is named too.
    refused(
        &app,
        "POST",
        "/v1/members",
        &json!({format!("na{NUL}me"): "x"}),
        unprocessable,
        format!("na{NUL}me").as_str(),
    )
    .await;
    assert_eq!(rows(&app).await, before, "nothing was written");

    // Query strings: a NUL is a 422 naming the parameter.
    let r = send(&app, "GET", "/v1/admin/webhook-events?provider=steadfast%00", None, &[]).await;
    assert_eq!((r.status, r.field()), (unprocessable, "provider"), "{}", r.body);
    // The unsigned bKash callback: 422 naming paymentID, nothing stored.
    let url = format!("{}/v1/webhooks/payments/bkash?paymentID=TR%0011&status=success", app.base);
    let res = app.http.get(url).send().await.expect("callback");
    assert_eq!(res.status(), unprocessable);
    let body: Value = res.json().await.expect("problem json");
    assert_eq!(body["errors"][0]["field"], "paymentID", "{body}");
    assert_eq!(app.events_of("bkash").await, 0);
}

#[tokio::test]
async fn signed_events_that_can_never_be_applied_are_recorded_as_refused_not_retried() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(2).await;
    let order = app.place_order(&chain[1], &tea, 1, "cod").await;
    // A generic event whose invoice number holds a NUL (a JSON escape: the
    // body itself is stored as sent).
    let mut event = delivered_event(&order);
    event["data"]["invoice_no"] = json!(format!("{}{NUL}", order["invoice_no"].as_str().unwrap_or_default()));
    assert_eq!(app.send_event("couriers", &event).await.0, StatusCode::OK);
    assert_eq!(app.outcomes_of("generic").await, ["refused:invoice_no contains a NUL character"]);
    // A Steadfast invoice holding one: refused the same way.
    let mut body: Value =
        serde_json::from_str(&steadfast_body(&order, "delivered", "2026-11-22 12:45:30")).expect("json");
    body["invoice"] = json!(format!("INV{NUL}"));
    assert_eq!(app.steadfast(body.to_string(), STEADFAST_TOKEN).await.0, StatusCode::OK);
    assert_eq!(app.outcomes_of("steadfast").await, ["refused:invoice_no contains a NUL character"]);
    // In a status, which is part of the event's identity, it cannot be
    // stored at all: 422 and nothing stored.
    body["invoice"] = order["invoice_no"].clone();
    body["status"] = json!(format!("deliv{NUL}ered"));
    assert_eq!(app.steadfast(body.to_string(), STEADFAST_TOKEN).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    // Each job ran once and is done: nothing waits for an hour of retries.
    let attempts: Vec<(String, i32)> =
        sqlx::query_as("SELECT status, attempts FROM apalis.jobs WHERE job_type = 'haat.webhooks' ORDER BY run_at")
            .fetch_all(&app.pool)
            .await
            .expect("jobs");
    assert_eq!(attempts, [("Done".to_owned(), 1), ("Done".to_owned(), 1)]);
    // A raw NUL byte in an authenticated body cannot be stored: 422, nothing stored.
    let raw = format!("{{\"consignment_id\": 1, \"invoice\": \"INV{NUL}\"}}");
    assert_eq!(app.steadfast(raw, STEADFAST_TOKEN).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.events_of("steadfast").await, 1);
    assert_eq!(app.wallet(&chain[0]).await["pending"], "0.00", "nothing was applied");
}

#[tokio::test]
async fn a_signed_webhook_whose_timestamp_would_wrap_the_age_check_is_refused_and_not_stored() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(2).await;
    let order = app.place_order(&chain[1], &tea, 1, "cod").await;
    let body = delivered_event(&order).to_string();
    let now = chrono::Utc::now().timestamp();
    for (i, ts) in [now.wrapping_add(i64::MIN), i64::MIN, i64::MAX, now - 301].into_iter().enumerate() {
        let status = app.webhook_signed("couriers", &format!("msg_wrap_{i}"), ts, &body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "timestamp {ts}");
    }
    assert_eq!(app.events_of("generic").await, 0);
}

#[tokio::test]
async fn amounts_beyond_what_the_books_hold_are_a_422_naming_the_field() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let chain = app.create_chain(2).await;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let product = |price: &str| {
        json!({"sku": "BIG-1", "name": "Gold", "category": "grocery", "price": price, "pv": "1.00", "bv": "1.00",
               "stock": 100000})
    };
    refused(&app, "POST", "/v1/admin/products", &product("1000000000000000000"), unprocessable, "price").await;
    let coupon = json!({"code": "HUGE", "kind": "fixed", "value": "100000000000000000",
                        "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z"});
    refused(&app, "POST", "/v1/admin/coupons", &coupon, unprocessable, "value").await;
    let campaign = json!({"name": "Huge", "scope": {"kind": "all"}, "starts_at": "2026-12-01T00:00:00Z",
                          "ends_at": "2026-12-31T00:00:00Z", "trigger": "reached", "min_units": 1, "rate": "0.10",
                          "budget": "10000000000000000000"});
    refused(&app, "POST", "/v1/admin/campaigns", &campaign, unprocessable, "budget").await;
    // A campaign ending in a year chrono or Postgres could not add a grace to.
    let mut far = campaign.clone();
    far["budget"] = json!(null);
    far["ends_at"] = json!("+200000-01-01T00:00:00Z");
    refused(&app, "POST", "/v1/admin/campaigns", &far, unprocessable, "ends_at").await;
    // The largest price is allowed; ten thousand of it is more than an order may total.
    let (status, gold) = app.admin("POST", "/v1/admin/products", Some(&product("1000000000000.00"))).await;
    assert_eq!(status, StatusCode::CREATED, "{gold}");
    refused(&app, "POST", "/v1/orders", &order_body(&chain[1], &gold, 10_000, "cod"), unprocessable, "lines").await;
    assert_eq!((count(&app, "orders").await, count(&app, "coupons").await, count(&app, "campaigns").await), (0, 0, 0));
    let stock: i32 =
        sqlx::query_scalar("SELECT stock FROM products WHERE sku = 'BIG-1'").fetch_one(&app.pool).await.expect("stock");
    assert_eq!(stock, 100_000, "no stock was taken");
}

#[tokio::test]
async fn unknown_fields_duplicated_parameters_and_axums_own_rejections_are_problem_json_naming_the_field() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(2).await;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let before = rows(&app).await;
    let member = json!({"name": "Rahim", "email": "rahim@example.com", "sponser_code": chain[0]["referral_code"]});
    refused(&app, "POST", "/v1/members", &member, unprocessable, "sponser_code").await;
    // A misspelled coupon_code would have lost the discount without a word.
    let mut order = order_body(&chain[1], &tea, 1, "cod");
    order.as_object_mut().expect("object").remove("coupon_code");
    order["coupon"] = json!("EID10");
    refused(&app, "POST", "/v1/orders", &order, unprocessable, "coupon").await;
    let mut order = order_body(&chain[1], &tea, 1, "cod");
    order["lines"][0]["qty"] = json!(2);
    refused(&app, "POST", "/v1/orders", &order, unprocessable, "lines[0].qty").await;
    let mut order = order_body(&chain[1], &tea, 1, "cod");
    order["shipping_address"]["zip"] = json!("1207");
    refused(&app, "POST", "/v1/orders", &order, unprocessable, "shipping_address.zip").await;
    assert_eq!(rows(&app).await, before, "nothing was written");

    let member_id = chain[1]["id"].as_str().unwrap_or_default();
    for path in [
        format!("/v1/members/{member_id}/commissions?limit=1&limit=2"),
        "/v1/admin/jobs?status=dead&status=done".to_owned(),
    ] {
        let r = send(&app, "GET", &path, None, &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.body);
        assert_eq!(r.content_type, "application/problem+json", "{path}");
        assert!(["limit", "status"].contains(&r.field()), "{path}: {}", r.body);
    }
    // axum's own rejections: a body that is not JSON at all, a wrong
    // content type, an unknown route and method.
    let r = send(&app, "GET", "/v1/members/not-a-uuid/wallet%ZZ", None, &[]).await;
    assert!(r.status.is_client_error());
    assert_eq!(r.content_type, "application/problem+json", "{}", r.body);
    let r = send(&app, "DELETE", "/v1/orders", None, &[]).await;
    assert_eq!((r.status, r.content_type.as_str()), (StatusCode::METHOD_NOT_ALLOWED, "application/problem+json"));
    let res = app
        .http
        .post(format!("{}/v1/webhooks/couriers/generic", app.base))
        .header("webhook-id", "msg_1")
        .header("webhook-timestamp", "not-a-number")
        .header("webhook-signature", "v1,AAAA")
        .body("{}")
        .send()
        .await
        .expect("webhook");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn text_limits_count_characters_so_bengali_names_fit_as_they_read() {
    let app = TestApp::spawn().await;
    let name = "রহিমা".repeat(40);
    assert_eq!((name.chars().count(), name.len()), (200, 600));
    let body = json!({"name": name, "email": "rahima@example.com"});
    let (status, member) = app.admin("POST", "/v1/members", Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{member}");
    assert_eq!(member["name"], name);
    let too_long = json!({"name": format!("{name}ক"), "email": "karim@example.com"});
    refused(&app, "POST", "/v1/members", &too_long, StatusCode::UNPROCESSABLE_ENTITY, "name").await;
    let product = json!({"sku": "CHA-1", "name": "চা".repeat(100), "category": "মুদি".repeat(16), "price": "1.00",
                         "pv": "1.00", "bv": "1.00", "stock": 1});
    let (status, p) = app.admin("POST", "/v1/admin/products", Some(&product)).await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let mut long = product.clone();
    long["sku"] = json!("CHA-2");
    long["category"] = json!("মুদি".repeat(17));
    refused(&app, "POST", "/v1/admin/products", &long, StatusCode::UNPROCESSABLE_ENTITY, "category").await;
    assert_eq!(count(&app, "members").await, 1);
}

#[tokio::test]
async fn a_retried_admin_create_under_one_idempotency_key_makes_one_thing_and_answers_the_same() {
    let app = TestApp::spawn().await;
    let coupon = json!({"code": "EID10", "kind": "percent", "value": "0.10",
                        "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z"})
    .to_string();
    let first = send(&app, "POST", "/v1/admin/coupons", Some(coupon.clone()), &[("idempotency-key", "c-1")]).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let again = send(&app, "POST", "/v1/admin/coupons", Some(coupon.clone()), &[("idempotency-key", "c-1")]).await;
    assert_eq!((again.status, &again.body), (StatusCode::CREATED, &first.body));
    assert_eq!(count(&app, "coupons").await, 1);
    let other =
        send(&app, "POST", "/v1/admin/coupons", Some(coupon.replace("EID10", "EID20")), &[("idempotency-key", "c-1")])
            .await;
    assert_eq!((other.status, other.field()), (StatusCode::UNPROCESSABLE_ENTITY, "Idempotency-Key"));

    let key = json!({"role": "storefront"}).to_string();
    let first = send(&app, "POST", "/v1/admin/api-keys", Some(key.clone()), &[("idempotency-key", "k-1")]).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert!(first.body["token"].as_str().is_some_and(|t| t.len() >= 16), "{}", first.body);
    let again = send(&app, "POST", "/v1/admin/api-keys", Some(key), &[("idempotency-key", "k-1")]).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body["id"], first.body["id"], "the same key, not a second one");
    assert_eq!(again.body["token"], Value::Null, "the secret is shown once and never stored for replays");
    assert_eq!(count(&app, "api_keys").await, 1);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency_keys WHERE response_body::text LIKE $1")
        .bind(format!("%{}%", first.body["token"].as_str().unwrap_or("?")))
        .fetch_one(&app.pool)
        .await
        .expect("replays");
    assert_eq!(stored, 0);
    // A state change too: the second suspend under the key is the first's answer.
    let chain = app.create_chain(1).await;
    let path = format!("/v1/admin/members/{}/suspend", chain[0]["id"].as_str().unwrap_or_default());
    let first = send(&app, "POST", &path, None, &[("idempotency-key", "s-1")]).await;
    let again = send(&app, "POST", &path, None, &[("idempotency-key", "s-1")]).await;
    assert_eq!((first.status, &first.body), (again.status, &again.body));
    assert_eq!(first.body["status"], "suspended");
}

#[tokio::test]
async fn a_bkash_cancel_hint_never_blocks_the_success_hint_of_the_same_payment() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(2).await;
    let order = app.place_order(&chain[1], &tea, 1, "online").await;
    // The browser's cancel lands first (or an attacker sends one): bKash
    // knows no completed payment yet.
    assert_eq!(app.bkash_callback("TR0022XYZ", "cancel").await, StatusCode::OK);
    assert_eq!(app.outcomes_of("bkash").await.len(), 1);
    let order_id = order["id"].as_str().unwrap_or_default();
    assert_eq!(app.admin("GET", &format!("/v1/orders/{order_id}"), None).await.1["status"], "pending_payment");
    // Then the buyer pays and bKash completes the payment.
    app.standin.register_payment(
        "TR0022XYZ",
        json!({"statusCode": "0000", "statusMessage": "Successful", "paymentID": "TR0022XYZ", "trxID": "BFD90XYZ",
               "amount": "450", "transactionStatus": "Completed", "currency": "BDT", "intent": "sale",
               "merchantInvoiceNumber": order["invoice_no"]}),
    );
    assert_eq!(app.bkash_callback("TR0022XYZ", "success").await, StatusCode::OK);
    let outcomes = app.outcomes_of("bkash").await;
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert_eq!(outcomes[1], "applied");
    assert_eq!(app.admin("GET", &format!("/v1/orders/{order_id}"), None).await.1["status"], "paid");
    // Once bKash said paid, further hints are duplicates: nothing is asked again.
    let asked = app.standin.calls("execute");
    for status in ["success", "cancel", "failure"] {
        assert_eq!(app.bkash_callback("TR0022XYZ", status).await, StatusCode::OK);
    }
    assert_eq!(app.outcomes_of("bkash").await.len(), 2);
    assert_eq!(app.standin.calls("execute"), asked);
}

/// `make(text)` posted to `path` with a Bengali text of `max` characters is
/// not refused for `field`; with `max + 1` it is a 422 naming `field`.
async fn limit_counts_characters(app: &TestApp, path: &str, field: &str, max: usize, make: impl Fn(String) -> Value) {
    let at = make("ক".repeat(max));
    let key = uuid::Uuid::new_v4().to_string();
    let r = send(app, "POST", path, Some(at.to_string()), &[("idempotency-key", &key)]).await;
    let named = r.body["errors"].as_array().into_iter().flatten().any(|e| e["field"] == field);
    assert!(!named, "{path}: {max} Bengali letters ({} bytes) refused for {field}: {}", max * 3, r.body);
    refused(app, "POST", path, &make("ক".repeat(max + 1)), StatusCode::UNPROCESSABLE_ENTITY, field).await;
}

#[tokio::test]
async fn every_text_limit_counts_bengali_characters_not_bytes() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(2).await;
    let order = app.place_order(&chain[1], &tea, 1, "cod").await;
    let email = || format!("m-{}@example.com", uuid::Uuid::new_v4().simple());
    limit_counts_characters(&app, "/v1/members", "name", 200, |t| json!({"name": t, "email": email()})).await;
    for (field, max) in
        [("name", 300), ("phone", 300), ("line1", 300), ("city", 300), ("line2", 300), ("postcode", 300)]
    {
        let path = format!("shipping_address.{field}");
        limit_counts_characters(&app, "/v1/orders", &path, max, |t| {
            let mut body = order_body(&chain[1], &tea, 1, "cod");
            body["shipping_address"][field] = json!(t);
            body
        })
        .await;
    }
    limit_counts_characters(&app, "/v1/orders", "guest.name", 200, |t| {
        let mut body = order_body(&chain[1], &tea, 1, "cod");
        body.as_object_mut().expect("object").remove("buyer_id");
        body["guest"] = json!({"name": t, "email": email()});
        body["referrer_code"] = chain[0]["referral_code"].clone();
        body
    })
    .await;
    let returns = format!("/v1/orders/{}/returns", order["id"].as_str().unwrap_or_default());
    let line = order["lines"][0]["id"].clone();
    limit_counts_characters(
        &app,
        &returns,
        "reason",
        1000,
        |t| json!({"lines": [{"order_line_id": line, "quantity": 1}], "reason": t}),
    )
    .await;
    for (field, max) in [("name", 200), ("sku", 64), ("category", 64)] {
        limit_counts_characters(&app, "/v1/admin/products", field, max, |t| {
            let mut p = json!({"sku": format!("S-{}", uuid::Uuid::new_v4().simple()), "name": "Tea",
                               "category": "grocery", "price": "1.00", "pv": "1.00", "bv": "1.00", "stock": 1});
            p[field] = json!(t);
            p
        })
        .await;
    }
    limit_counts_characters(
        &app,
        "/v1/admin/pickup-points",
        "name",
        200,
        |t| json!({"name": t, "operator_id": chain[0]["id"]}),
    )
    .await;
    limit_counts_characters(&app, "/v1/admin/campaigns", "name", 200, |t| {
        json!({"name": t, "scope": {"kind": "all"}, "starts_at": "2026-12-01T00:00:00Z",
               "ends_at": "2026-12-31T00:00:00Z", "trigger": "reached", "min_units": 1, "rate": "0.10"})
    })
    .await;
    limit_counts_characters(&app, "/v1/admin/plans", "name", 200, |t| {
        json!({"name": t, "effective_from": "2027-01-01T00:00:00Z", "credit_on": "delivered",
               "holding_days": 7, "levels": ["0.10"], "draft": true})
    })
    .await;
    let withdrawals = format!("/v1/members/{}/withdrawals", chain[1]["id"].as_str().unwrap_or_default());
    limit_counts_characters(
        &app,
        &withdrawals,
        "account",
        64,
        |t| json!({"amount": "500.00", "method": "bkash", "account": t}),
    )
    .await;
    let reject = format!("/v1/admin/withdrawals/{}/reject", uuid::Uuid::now_v7());
    limit_counts_characters(&app, &reject, "note", 1000, |t| json!({"note": t})).await;
}
