//! The plan engine end to end, with exact amounts: guest orders through a
//! share link, pickup points, qualification with and without compression, a
//! plan change between two orders of the same day, suspension and the
//! payout cap.

use haat_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap_or_default()
}

/// (kind, physical level, paid level, amount, plan version) of what `member`
/// earned on `order`.
async fn earned_on(app: &TestApp, member: &Value, order: &Value) -> Vec<(String, i64, i64, String, i64)> {
    let (status, list) = app.admin("GET", &format!("/v1/members/{}/commissions", id(member)), None).await;
    assert_eq!(status, StatusCode::OK);
    let mut out: Vec<_> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["order_id"] == order["id"])
        .map(|c| {
            (
                c["kind"].as_str().unwrap_or_default().to_owned(),
                c["physical_level"].as_i64().unwrap_or(-1),
                c["paid_level"].as_i64().unwrap_or(-1),
                c["amount"].as_str().unwrap_or_default().to_owned(),
                c["plan_version"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    out.sort();
    out
}

async fn deliver(app: &TestApp, order: &Value) {
    assert_eq!(app.send_event("couriers", &delivered_event(order)).await.0, StatusCode::OK);
    quiescent(&app.pool).await;
}

async fn post_order(app: &TestApp, body: &Value) -> (StatusCode, Value) {
    let key = uuid::Uuid::new_v4().to_string();
    app.call_with("POST", "/v1/orders", &app.admin_token, Some(body.to_string()), &[("idempotency-key", &key)]).await
}

fn guest_order(product: &Value, referrer_code: &Value, pickup_point: &Value) -> Value {
    let mut body = order_body(&Value::Null, product, 1, "cod");
    let o = body.as_object_mut().expect("order body is an object");
    o.remove("buyer_id");
    o.insert("guest".into(), json!({"name": "Karim", "email": "karim@example.com", "phone": "+8801711000001"}));
    o.insert("referrer_code".into(), referrer_code.clone());
    o.insert("pickup_point_id".into(), pickup_point.clone());
    body
}

#[tokio::test]
async fn a_guest_order_through_a_share_link_pays_the_referrer_retail_its_upline_levels_and_the_pickup_point() {
    let app = TestApp::spawn().await;
    let plan = json!({"name": "Retail", "effective_from": "2026-01-01T00:00:00Z", "credit_on": "delivered",
                      "holding_days": 7, "levels": ["0.10", "0.05", "0.03"],
                      "retail_rate": "0.05", "pickup_rate": "0.02"});
    app.create_plan(plan).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(4).await;
    let referrer = &chain[3];
    let operator = &app.create_chain(1).await[0];
    let (status, point) = app
        .admin(
            "POST",
            "/v1/admin/pickup-points",
            Some(&json!({"name": "Mirpur outlet", "operator_id": operator["id"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{point}");

    // Refused whole, naming the field, nothing written.
    let refusals = [
        (guest_order(&tea, &Value::Null, &point["id"]), "referrer_code"),
        (guest_order(&tea, &json!("NOSUCH"), &point["id"]), "referrer_code"),
        (guest_order(&tea, &referrer["referral_code"], &json!(uuid::Uuid::new_v4())), "pickup_point_id"),
    ];
    for (body, field) in refusals {
        let (status, problem) = post_order(&app, &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let (_, product) = app.admin("GET", &format!("/v1/products/{}", id(&tea)), None).await;
    assert_eq!(product["stock"], 100, "refused orders took no stock");

    let (status, order) = post_order(&app, &guest_order(&tea, &referrer["referral_code"], &point["id"])).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!((order["buyer_id"].clone(), order["referrer_id"].clone()), (Value::Null, referrer["id"].clone()));
    deliver(&app, &order).await;

    assert_eq!(earned_on(&app, referrer, &order).await, [("retail".into(), 0, 0, "15.00".into(), 1)]);
    assert_eq!(earned_on(&app, &chain[2], &order).await, [("level".into(), 1, 1, "30.00".into(), 1)]);
    assert_eq!(earned_on(&app, &chain[1], &order).await, [("level".into(), 2, 2, "15.00".into(), 1)]);
    assert_eq!(earned_on(&app, &chain[0], &order).await, [("level".into(), 3, 3, "9.00".into(), 1)]);
    assert_eq!(earned_on(&app, operator, &order).await, [("pickup".into(), 0, 0, "6.00".into(), 1)]);
    assert_eq!(app.wallet(referrer).await["pending"], "15.00");

    // The referrer's share link brought customer volume, counted as theirs.
    let period = chrono::Utc::now().format("%Y-%m").to_string();
    let (_, volume) = app.admin("GET", &format!("/v1/members/{}/volume?period={period}", id(referrer)), None).await;
    assert_eq!((volume["personal_pv"].as_str(), volume["personal_bv"].as_str()), (Some("20.00"), Some("300.00")));

    let (_, lines) = app.admin("GET", &format!("/v1/members/{}/commissions", id(referrer)), None).await;
    let retail = &lines["items"][0];
    assert_eq!((retail["rule"].as_str(), retail["rate"].as_str()), (Some("retail_rate"), Some("0.0500")));
    assert_eq!(retail["qualification"]["suspended"], false);
    eventually("the guest is told the order was received", || async {
        app.smtp
            .messages()
            .into_iter()
            .find(|m| m.to.iter().any(|t| t.contains("karim@example.com")) && m.data.contains("received"))
    })
    .await;
    assert_eq!(ledger_totals(&app.pool).await, (rust_decimal::Decimal::ZERO, 0));
}

#[tokio::test]
async fn an_inactive_upline_forfeits_under_no_compression_and_is_compressed_past_after_a_same_day_plan_change() {
    let app = TestApp::spawn().await;
    let v1 = json!({"name": "Qualified", "effective_from": "2026-01-01T00:00:00Z", "credit_on": "delivered",
                    "holding_days": 7, "levels": ["0.10", "0.05", "0.03"],
                    "min_personal_pv": "20.00", "active_window_days": 30, "compression": "none"});
    app.create_plan(v1).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(5).await;
    // chain[0], chain[1] and chain[3] buy 20 PV this month; chain[2] does not.
    for m in [&chain[0], &chain[1], &chain[3]] {
        let own = app.place_order(m, &tea, 1, "cod").await;
        deliver(&app, &own).await;
    }
    let buyer = &chain[4];
    let first = app.place_order(buyer, &tea, 1, "cod").await;
    deliver(&app, &first).await;
    assert_eq!(earned_on(&app, &chain[3], &first).await, [("level".into(), 1, 1, "30.00".into(), 1)]);
    assert_eq!(earned_on(&app, &chain[2], &first).await, []);
    assert_eq!(earned_on(&app, &chain[1], &first).await, [("level".into(), 3, 3, "9.00".into(), 1)]);
    let breakage: (String, i32, String) = sqlx::query_as(
        "SELECT b.reason, b.physical_level, b.amount::text FROM commission_breakage b
           JOIN order_lines l ON l.id = b.order_line_id WHERE l.order_id = $1::text::uuid",
    )
    .bind(id(&first))
    .fetch_one(&app.pool)
    .await
    .expect("one forfeited share");
    assert_eq!(breakage, ("inactive".into(), 2, "15.00".into()));

    // The same day, a new version with dynamic compression takes effect.
    let v2 = json!({"name": "Qualified, compressed", "effective_from": chrono::Utc::now().to_rfc3339(),
                    "credit_on": "delivered", "holding_days": 7, "levels": ["0.10", "0.05", "0.03"],
                    "min_personal_pv": "20.00", "active_window_days": 30, "compression": "dynamic"});
    assert_eq!(app.create_plan(v2).await["version"], 2);
    let second = app.place_order(buyer, &tea, 1, "cod").await;
    deliver(&app, &second).await;
    assert_eq!(earned_on(&app, &chain[3], &second).await, [("level".into(), 1, 1, "30.00".into(), 2)]);
    assert_eq!(earned_on(&app, &chain[2], &second).await, []);
    assert_eq!(earned_on(&app, &chain[1], &second).await, [("level".into(), 3, 2, "15.00".into(), 2)]);
    assert_eq!(earned_on(&app, &chain[0], &second).await, [("level".into(), 4, 3, "9.00".into(), 2)]);
    // The first order keeps what it was paid under version 1.
    assert_eq!(earned_on(&app, &chain[1], &first).await, [("level".into(), 3, 3, "9.00".into(), 1)]);
    assert_eq!(earned_on(&app, &chain[0], &first).await, []);

    let (_, lines) = app.admin("GET", &format!("/v1/members/{}/commissions", id(&chain[1])), None).await;
    let q = &lines["items"][0]["qualification"];
    assert_eq!((q["personal_pv"].as_str(), q["min_personal_pv"].as_str()), (Some("20.00"), Some("20.00")));
    assert_eq!((q["qualified"].as_bool(), q["compression"].as_str()), (Some(true), Some("dynamic")));
}

#[tokio::test]
async fn a_suspended_upline_earns_nothing_and_the_payout_cap_scales_the_rest_by_one_factor() {
    let app = TestApp::spawn().await;
    let mut plan = five_level_plan(7);
    plan["payout_cap_rate"] = json!("0.15");
    app.create_plan(plan).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(6).await;
    let (status, _) = app.admin("POST", &format!("/v1/admin/members/{}/suspend", id(&chain[3])), None).await;
    assert_eq!(status, StatusCode::OK);
    let order = app.place_order(&chain[5], &tea, 1, "cod").await;
    deliver(&app, &order).await;

    // Uncapped 30 + 9 + 6 + 3 = 48.00 over a cap of 15% × 300.00 = 45.00:
    // every line × 0.9375, rounded toward zero.
    let expected = [(4, 1, "28.12"), (2, 3, "8.43"), (1, 4, "5.62"), (0, 5, "2.81")];
    for (member, level, amount) in expected {
        assert_eq!(earned_on(&app, &chain[member], &order).await, [("level".into(), level, level, amount.into(), 1)]);
    }
    assert_eq!(earned_on(&app, &chain[3], &order).await, []);
    let factors: Vec<String> = sqlx::query_scalar("SELECT DISTINCT cap_factor::text FROM commissions")
        .fetch_all(&app.pool)
        .await
        .expect("cap factors");
    assert_eq!(factors, ["0.9375000000"]);
    let forfeited: (String, String) = sqlx::query_as("SELECT reason, amount::text FROM commission_breakage")
        .fetch_one(&app.pool)
        .await
        .expect("the suspended member's share is breakage");
    assert_eq!(forfeited, ("suspended".into(), "15.00".into()));
}

async fn row_counts(app: &TestApp) -> Vec<i64> {
    let counts: (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_history),
                (SELECT count(*) FROM order_events), (SELECT count(*) FROM volume_entries),
                (SELECT count(*) FROM commissions), (SELECT count(*) FROM commission_breakage),
                (SELECT count(*) FROM journal_entries), (SELECT count(*) FROM postings),
                (SELECT count(*) FROM accounts), (SELECT count(*) FROM notifications),
                (SELECT count(*) FROM plans), (SELECT count(*) FROM apalis.jobs)",
    )
    .fetch_one(&app.pool)
    .await
    .expect("count rows");
    let (a, b, c, d, e, f, g, h, i, j, k, l) = counts;
    vec![a, b, c, d, e, f, g, h, i, j, k, l]
}

#[tokio::test]
async fn a_draft_plan_simulated_on_past_orders_writes_nothing_and_matches_what_it_then_pays() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(6).await;
    let buyer = &chain[5];
    let started = chrono::Utc::now() - chrono::Duration::minutes(1);
    let past = app.place_order(buyer, &tea, 1, "cod").await;
    deliver(&app, &past).await;

    let draft = json!({"name": "Grocery push", "draft": true, "effective_from": "2026-01-01T00:00:00Z",
                       "credit_on": "delivered", "holding_days": 7, "levels": ["0.20", "0.10"],
                       "category_levels": {"grocery": ["0.08", "0.04", "0.02"]}});
    let draft = app.create_plan(draft).await;
    assert_eq!(draft["draft"], true);
    let simulate = format!("/v1/admin/plans/{}/simulate", id(&draft));

    let (status, problem) = app
        .admin("POST", &simulate, Some(&json!({"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"})))
        .await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("to")));

    let before = row_counts(&app).await;
    let range =
        json!({"from": started.to_rfc3339(), "to": (chrono::Utc::now() + chrono::Duration::minutes(1)).to_rfc3339()});
    let (status, sim) = app.admin("POST", &simulate, Some(&range)).await;
    assert_eq!(status, StatusCode::OK, "{sim}");
    assert_eq!(row_counts(&app).await, before, "a simulation writes nothing");
    assert_eq!(sim["orders"], 1);
    // Grocery under the draft: 8%, 4%, 2% of 300.00; actually paid 10/5/3/2/1%.
    assert_eq!((sim["total"]["simulated"].as_str(), sim["total"]["actual"].as_str()), (Some("42.00"), Some("63.00")));
    assert_eq!(sim["total"]["difference"], "-21.00");
    let figures = |m: &Value| {
        let row = sim["members"].as_array().into_iter().flatten().find(|r| r["member_id"] == m["id"]).cloned();
        row.map(|r| {
            (
                r["simulated"].as_str().unwrap_or_default().to_owned(),
                r["actual"].as_str().unwrap_or_default().to_owned(),
            )
        })
    };
    assert_eq!(figures(&chain[4]), Some(("24.00".into(), "30.00".into())));
    assert_eq!(figures(&chain[3]), Some(("12.00".into(), "15.00".into())));
    assert_eq!(figures(&chain[2]), Some(("6.00".into(), "9.00".into())));
    assert_eq!(figures(&chain[1]), Some(("0.00".into(), "6.00".into())));

    // Activated, the draft pays exactly what it simulated on the same order.
    let (status, active) = app.admin("POST", &format!("/v1/admin/plans/{}/activate", id(&draft)), None).await;
    assert_eq!((status, active["draft"].as_bool()), (StatusCode::OK, Some(false)));
    let now = app.place_order(buyer, &tea, 1, "cod").await;
    deliver(&app, &now).await;
    for row in sim["members"].as_array().into_iter().flatten() {
        let member = json!({"id": row["member_id"]});
        let paid: rust_decimal::Decimal = earned_on(&app, &member, &now)
            .await
            .iter()
            .map(|(_, _, _, amount, _)| amount.parse::<rust_decimal::Decimal>().unwrap_or_default())
            .sum();
        let simulated: rust_decimal::Decimal = row["simulated"].as_str().unwrap_or_default().parse().expect("decimal");
        assert_eq!(paid, simulated, "member {member}");
    }
}

#[tokio::test]
async fn a_simulation_over_more_orders_than_a_request_replays_is_a_job_that_counts_its_orders_and_answers_the_figures()
{
    let (url, pool) = fresh_database().await;
    let app = TestApp::spawn_on(url, pool, &[("HAAT_SIMULATION_INLINE_ORDERS", "1")]).await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(6).await;
    let started = chrono::Utc::now() - chrono::Duration::minutes(1);
    for _ in 0..2 {
        let past = app.place_order(&chain[5], &tea, 1, "cod").await;
        deliver(&app, &past).await;
    }
    let draft = json!({"name": "Grocery push", "draft": true, "effective_from": "2026-01-01T00:00:00Z",
                       "credit_on": "delivered", "holding_days": 7, "levels": ["0.20", "0.10"],
                       "category_levels": {"grocery": ["0.08", "0.04", "0.02"]}});
    let draft = app.create_plan(draft).await;
    let simulate = format!("/v1/admin/plans/{}/simulate", id(&draft));
    let range =
        json!({"from": started.to_rfc3339(), "to": (chrono::Utc::now() + chrono::Duration::minutes(1)).to_rfc3339()});

    let (status, queued) = app.admin("POST", &simulate, Some(&range)).await;
    assert_eq!((status, queued["status"].as_str()), (StatusCode::ACCEPTED, Some("queued")), "{queued}");
    let job = format!("/v1/admin/jobs/{}", queued["job_id"].as_str().unwrap_or_default());
    let done = eventually("the simulation job done", || async {
        let (_, j) = app.admin("GET", &job, None).await;
        (j["status"] == "Done").then_some(j)
    })
    .await;
    assert_eq!(done["progress"], json!({"unit": "orders", "done": 2, "total": 2}));
    let sim = &done["result"]["simulation"];
    assert_eq!((sim["orders"].as_i64(), done["result"]["members_total"].as_i64()), (Some(2), Some(5)), "{done}");
    // Twice one order: 8%, 4%, 2% of 300.00 under the draft; 10/5/3/2/1% paid.
    assert_eq!(sim["total"], json!({"simulated": "84.00", "actual": "126.00", "difference": "-42.00"}));
    let figures = |m: &Value| {
        let row = sim["members"].as_array().into_iter().flatten().find(|r| r["member_id"] == m["id"]).cloned();
        row.map(|r| (r["simulated"].clone(), r["actual"].clone()))
    };
    assert_eq!(figures(&chain[4]), Some((json!("48.00"), json!("60.00"))));
    // Level 5 is paid 1% of 300.00 per order now, nothing under the draft.
    assert_eq!(figures(&chain[0]), Some((json!("0.00"), json!("6.00"))));

    // The same range asked again is the same job, already answered.
    let (status, again) = app.admin("POST", &simulate, Some(&range)).await;
    assert_eq!((status, &again["job_id"]), (StatusCode::ACCEPTED, &queued["job_id"]));
    let (status, problem) = app
        .admin("POST", &simulate, Some(&json!({"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"})))
        .await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("to")));
}
