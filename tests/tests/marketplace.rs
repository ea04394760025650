//! The marketplace's money: fee schedules by category and seller, each
//! seller's share held in escrow until business days after delivery, the
//! platform's margin per line, and returns taking back the returned share
//! of the seller's credit, the fee and the network's commissions.

use chrono::{Datelike, Days, NaiveDate, Utc, Weekday};
use haat_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn product(sku: &str, category: &str, price: &str, bv: &str, seller: uuid::Uuid) -> Value {
    json!({"sku": sku, "name": sku, "category": category, "price": price, "pv": "10.00", "bv": bv,
           "stock": 50, "commissionable": true, "seller_id": seller})
}

async fn created(app: &TestApp, path: &str, body: &Value) -> Value {
    let (status, made) = app.admin("POST", path, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{path}: {made}");
    made
}

/// Writes a fee schedule and puts it in force; returns it.
async fn schedule_in_force(app: &TestApp, body: &Value) -> Value {
    let schedule = created(app, "/v1/admin/fee-schedules", body).await;
    assert_eq!(schedule["in_force"], false, "a new version waits for its activation");
    let id = schedule["id"].as_str().unwrap_or_default();
    let (status, active) = app.admin("POST", &format!("/v1/admin/fee-schedules/{id}/activate"), None).await;
    assert_eq!((status, &active["in_force"]), (StatusCode::OK, &json!(true)), "{active}");
    active
}

async fn seller_balance(app: &TestApp, seller: uuid::Uuid) -> Value {
    let (status, balance) = app.admin("GET", &format!("/v1/sellers/{seller}/balance"), None).await;
    assert_eq!(status, StatusCode::OK, "{balance}");
    balance
}

async fn seller_balance_reaches(app: &TestApp, seller: uuid::Uuid, field: &str, amount: &str) -> Value {
    eventually(&format!("seller {seller} {field} = {amount}"), || async {
        let b = seller_balance(app, seller).await;
        (b[field] == amount).then_some(b)
    })
    .await
}

/// The seller's lines, newest first.
async fn seller_lines(app: &TestApp, seller: uuid::Uuid) -> Vec<Value> {
    let (status, lines) = app.admin("GET", &format!("/v1/sellers/{seller}/lines"), None).await;
    assert_eq!(status, StatusCode::OK, "{lines}");
    lines["items"].as_array().cloned().unwrap_or_default()
}

/// (basis, fee rate, fee, share, reversed share, fee given back, platform margin, status)
fn money_of(line: &Value) -> [&str; 8] {
    ["basis", "fee_rate", "fee", "amount", "reversed_amount", "fee_reversed", "platform_margin", "status"]
        .map(|f| line[f].as_str().unwrap_or_default())
}

/// Lets the sellers' holds of `order` end now: their release time and the
/// order's due release job are moved to now, as if the days had passed.
async fn let_seller_holds_end(app: &TestApp, order: &Value) {
    let id: uuid::Uuid = order["id"].as_str().and_then(|s| s.parse().ok()).expect("order id");
    let mut tx = app.pool.begin().await.expect("begin");
    let first: chrono::DateTime<Utc> =
        sqlx::query_scalar("SELECT min(release_at) FROM seller_credits WHERE order_id = $1 AND status = 'pending'")
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .expect("held seller shares");
    let shift = (first - Utc::now()).num_milliseconds() as f64 / 1000.0 + 1.0;
    for statement in [
        "UPDATE seller_credits SET release_at = release_at - make_interval(secs => $2)
          WHERE order_id = $1 AND status = 'pending'",
        "UPDATE apalis.jobs SET run_at = run_at - make_interval(secs => $2)
          WHERE job_type = 'haat.holds' AND status = 'Pending'
            AND starts_with(idempotency_key, 'release_hold:' || $1 || ':')
            AND run_at <= (SELECT min(release_at) FROM seller_credits WHERE order_id = $1) + make_interval(secs => $2 + 1)",
    ] {
        sqlx::query(statement).bind(id).bind(shift).execute(&mut *tx).await.expect("shift the sellers' holds");
    }
    tx.commit().await.expect("commit");
}

fn dhaka_date(at: chrono::DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&chrono_tz::Asia::Dhaka).date_naive()
}

/// The first day after `day` that is not a Friday: the public holiday the
/// test lists, so the hold meets both a Friday and a listed holiday.
fn holiday_after(day: NaiveDate) -> NaiveDate {
    let next = day + Days::new(1);
    if next.weekday() == Weekday::Fri { next + Days::new(1) } else { next }
}

#[tokio::test]
async fn a_two_seller_order_credits_each_share_at_its_categorys_rate_and_releases_it_business_days_after_delivery() {
    let today = dhaka_date(Utc::now());
    let holiday = holiday_after(today);
    let holidays = format!("{}", holiday.format("%Y-%m-%d"));
    let (url, pool) = fresh_database().await;
    let env = [("HAAT_TIME_ZONE", "Asia/Dhaka"), ("HAAT_PUBLIC_HOLIDAYS", holidays.as_str())];
    let app = TestApp::spawn_on(url, pool, &env).await;
    app.create_plan(five_level_plan(7)).await;
    let woodworks = approved_seller(&app, "Dhaka Woodworks").await;
    let crafts = approved_seller(&app, "Rangpur Crafts").await;
    let schedule = schedule_in_force(
        &app,
        &json!({"name": "Launch terms", "default_rate": "0.07",
                "categories": {"furniture": "0.03", "fashion": "0.08"},
                "per_item_fee": "5.00", "seller_hold_business_days": 6}),
    )
    .await;
    assert_eq!(schedule["per_item_fee"], "5.00");
    let chair =
        created(&app, "/v1/admin/products", &product("CHAIR-1", "furniture", "2000.00", "500.00", woodworks)).await;
    let kantha =
        created(&app, "/v1/admin/products", &product("KANTHA-1", "fashion", "1200.00", "300.00", crafts)).await;
    created(
        &app,
        "/v1/admin/coupons",
        &json!({"code": "FLAT380", "kind": "fixed", "value": "380.00", "starts_at": "2026-01-01T00:00:00Z",
                "ends_at": "2030-01-01T00:00:00Z", "max_uses": null, "min_subtotal": "400.00"}),
    )
    .await;
    let chain = app.create_chain(3).await;
    let mut body = order_body(&chain[2], &chair, 2, "cod");
    body["lines"] = json!([{"product_id": chair["id"], "quantity": 2}, {"product_id": kantha["id"], "quantity": 3}]);
    body["coupon_code"] = json!("FLAT380");
    let (status, order) = app
        .call_with(
            "POST",
            "/v1/orders",
            &app.admin_token,
            Some(body.to_string()),
            &[("idempotency-key", "two-sellers")],
        )
        .await;
    assert_eq!(
        (status, order["subtotal"].as_str(), order["total"].as_str()),
        (StatusCode::CREATED, Some("7600.00"), Some("7220.00"))
    );
    assert_eq!(app.send_event("couriers", &delivered_event(&order)).await.0, StatusCode::OK);
    seller_balance_reaches(&app, crafts, "pending", "3131.40").await;
    quiescent(&app.pool).await;

    // Chairs: 4,000.00 less 5% of the discount = 3,800.00; fee 3% = 114.00
    // plus 2 × 5.00. The network earns 10% and 5% of BV 1,000.00 = 150.00,
    // more than the fee: the platform loses 26.00 on the line.
    let wood = seller_lines(&app, woodworks).await;
    assert_eq!(wood.len(), 1);
    assert_eq!(money_of(&wood[0]), ["3800.00", "0.03", "124.00", "3676.00", "0.00", "0.00", "-26.00", "pending"]);
    assert_eq!(wood[0]["fee_schedule_version"], schedule["version"]);
    // Kanthas: 3,600.00 → 3,420.00; fee 8% = 273.60 plus 3 × 5.00 =
    // 288.60; the network earns 90.00 + 45.00 on BV 900.00.
    let craft = seller_lines(&app, crafts).await;
    assert_eq!(money_of(&craft[0]), ["3420.00", "0.08", "288.60", "3131.40", "0.00", "0.00", "153.60", "pending"]);
    assert_eq!(
        seller_balance(&app, woodworks).await,
        json!({"pending": "3676.00", "available": "0.00", "reserved": "0.00"})
    );
    assert_eq!(app.wallet(&chain[1]).await["pending"], "190.00");
    assert_eq!(app.wallet(&chain[0]).await["pending"], "95.00");

    // The sales report by seller shows each seller's fees and the
    // platform's margin, negative on the chairs.
    let (_, sales) =
        app.admin("GET", "/v1/admin/reports/sales?from=2026-01-01&to=2031-01-01&group_by=seller", None).await;
    let margins: Vec<(Value, Value, Value, Value)> = sales["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| (r["key"].clone(), r["net"].clone(), r["fees"].clone(), r["platform_margin"].clone()))
        .collect();
    let mut expected = vec![
        (json!(woodworks.to_string()), json!("3800.00"), json!("124.00"), json!("-26.00")),
        (json!(crafts.to_string()), json!("3420.00"), json!("288.60"), json!("153.60")),
    ];
    expected.sort_by_key(|r| r.0.as_str().unwrap_or_default().to_owned());
    assert_eq!(margins, expected);
    assert_eq!((&sales["totals"]["fees"], &sales["totals"]["platform_margin"]), (&json!("412.60"), &json!("127.60")));

    // Six business days after the delivery day, in Dhaka's dates, skip
    // the listed holiday (the first day after it that is not a Friday) and
    // a Friday: the sixth business day is the eighth day — or the ninth
    // when the delivery day is a Thursday, whose eighth day is a second
    // Friday.
    let (_, read) = app.admin("GET", &format!("/v1/orders/{}", order["id"].as_str().unwrap_or_default()), None).await;
    let delivered = read["history"]
        .as_array()
        .and_then(|h| h.iter().find(|i| i["status"] == "delivered"))
        .and_then(|i| i["at"].as_str()?.parse::<chrono::DateTime<Utc>>().ok())
        .expect("delivered in the history");
    let day = dhaka_date(delivered);
    assert_eq!(day, today, "delivered the day the holiday was chosen for");
    let last = day + Days::new(if day.weekday() == Weekday::Thu { 9 } else { 8 });
    let expected = format!("{}T18:00:00Z", last.format("%Y-%m-%d"));
    assert_eq!(wood[0]["release_at"], expected, "released at midnight in Dhaka after the sixth business day");
    assert_eq!(craft[0]["release_at"], expected);

    let_seller_holds_end(&app, &order).await;
    seller_balance_reaches(&app, woodworks, "available", "3676.00").await;
    seller_balance_reaches(&app, crafts, "available", "3131.40").await;
    assert_eq!(seller_balance(&app, crafts).await["pending"], "0.00");
    assert_eq!(app.wallet(&chain[1]).await["pending"], "190.00", "the network's 7-day hold runs on");
    assert_eq!(entries_of(&app, "seller_credit_release").await, 2);
    assert_eq!(failed_audit_checks(&app).await, vec![]);
}

#[tokio::test]
async fn a_partial_return_takes_back_exactly_the_returned_share_of_seller_credit_fee_and_commissions() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let crafts = approved_seller(&app, "Rangpur Crafts").await;
    schedule_in_force(
        &app,
        &json!({"name": "Fashion 8%", "default_rate": "0.08", "per_item_fee": "5.00", "seller_hold_business_days": 5}),
    )
    .await;
    let kantha =
        created(&app, "/v1/admin/products", &product("KANTHA-1", "fashion", "1200.00", "300.00", crafts)).await;
    let chain = app.create_chain(3).await;
    let order = app.place_order(&chain[2], &kantha, 3, "cod").await;
    app.send_event("couriers", &delivered_event(&order)).await;
    // 3,600.00: fee 288.00 + 15.00 = 303.00, share 3,297.00.
    seller_balance_reaches(&app, crafts, "pending", "3297.00").await;
    wallet_reaches(&app, &chain[1], "pending", "90.00").await;
    let key = seller_key(&app, crafts).await;

    let ret = json!({"lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 1}], "reason": "torn"});
    let (status, _) = app
        .admin("POST", &format!("/v1/orders/{}/returns", order["id"].as_str().unwrap_or_default()), Some(&ret))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // One unit of three: 1,099.00 of the share, 101.00 of the fee, 30.00
    // and 15.00 of the commissions.
    seller_balance_reaches(&app, crafts, "pending", "2198.00").await;
    wallet_reaches(&app, &chain[1], "pending", "60.00").await;
    wallet_reaches(&app, &chain[0], "pending", "30.00").await;
    quiescent(&app.pool).await;
    let line = &seller_lines(&app, crafts).await[0];
    assert_eq!(money_of(line), ["3600.00", "0.08", "303.00", "3297.00", "1099.00", "101.00", "112.00", "pending"]);
    assert_eq!(line["reversed_quantity"], 1);
    assert_eq!(entries_of(&app, "seller_credit_cancelled").await, 1);
    assert_eq!(entries_of(&app, "seller_fee_refunded").await, 1);

    // The hold ends; the rest of the units come back later: what was
    // released is clawed back, at the stored amounts, to the paisa.
    let_seller_holds_end(&app, &order).await;
    seller_balance_reaches(&app, crafts, "available", "2198.00").await;
    let ret = json!({"lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 2}], "reason": "torn"});
    let (status, _) = app
        .admin("POST", &format!("/v1/orders/{}/returns", order["id"].as_str().unwrap_or_default()), Some(&ret))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    seller_balance_reaches(&app, crafts, "available", "0.00").await;
    quiescent(&app.pool).await;
    let line = &seller_lines(&app, crafts).await[0];
    assert_eq!(money_of(line), ["3600.00", "0.08", "303.00", "3297.00", "3297.00", "303.00", "0.00", "available"]);
    assert_eq!(entries_of(&app, "seller_credit_clawback").await, 1);

    // The seller's finance report: every unit came back, share and fee.
    let (status, finance) = app
        .call("GET", &format!("/v1/sellers/{crafts}/reports/finance?from=2026-01-01&to=2031-01-01"), &key, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{finance}");
    let figures = ["revenue", "fees", "returns", "refunds", "fees_refunded", "penalties", "payouts", "net"]
        .map(|f| finance[f].as_str().unwrap_or_default().to_owned());
    assert_eq!(figures, ["3600.00", "303.00", "3600.00", "0.00", "303.00", "0.00", "0.00", "0.00"].map(String::from));
    let csv = app
        .http
        .get(format!("{}/v1/sellers/{crafts}/reports/finance?from=2026-01-01&to=2031-01-01&format=csv", app.base))
        .bearer_auth(&key)
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("csv text");
    assert!(
        csv.lines().nth(1).is_some_and(|row| row.ends_with(",3600.00,303.00,3600.00,0.00,303.00,0.00,0.00,0.00")),
        "{csv}"
    );
    assert_eq!(failed_audit_checks(&app).await, vec![]);
}

#[tokio::test]
async fn a_new_fee_schedule_does_not_touch_lines_sold_before_it() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let woodworks = approved_seller(&app, "Dhaka Woodworks").await;
    let first = schedule_in_force(
        &app,
        &json!({"name": "Launch", "default_rate": "0.05", "per_item_fee": "0.00", "seller_hold_business_days": 3,
                "sellers": [{"seller_id": woodworks, "category": "furniture", "rate": "0.04"}]}),
    )
    .await;
    assert_eq!(first["sellers"], json!([{"seller_id": woodworks, "category": "furniture", "rate": "0.04"}]));
    let chair =
        created(&app, "/v1/admin/products", &product("CHAIR-1", "furniture", "2000.00", "500.00", woodworks)).await;
    let chain = app.create_chain(2).await;
    let before = app.place_order(&chain[1], &chair, 1, "cod").await;

    // A new version puts this seller at 6%; the order placed before it is
    // delivered (and credited) only afterwards.
    let second = schedule_in_force(
        &app,
        &json!({"name": "Revised", "default_rate": "0.05", "per_item_fee": "1.00", "seller_hold_business_days": 3,
                "sellers": [{"seller_id": woodworks, "rate": "0.06"}]}),
    )
    .await;
    let (_, old) =
        app.admin("GET", &format!("/v1/admin/fee-schedules/{}", first["id"].as_str().unwrap_or_default()), None).await;
    assert_eq!((old["in_force"].as_bool(), old["version"].clone()), (Some(false), first["version"].clone()));
    let after = app.place_order(&chain[1], &chair, 1, "cod").await;
    for order in [&before, &after] {
        app.send_event("couriers", &delivered_event(order)).await;
    }
    // 2,000.00 at 4% = 80.00, and at 6% plus 1.00 = 121.00.
    seller_balance_reaches(&app, woodworks, "pending", "3799.00").await;
    let lines = seller_lines(&app, woodworks).await;
    let by_order = |o: &Value| lines.iter().find(|l| l["order_id"] == o["id"]).cloned().unwrap_or_default();
    let (old_line, new_line) = (by_order(&before), by_order(&after));
    assert_eq!(
        (&old_line["fee_schedule_version"], &old_line["fee_rate"], &old_line["fee"]),
        (&first["version"], &json!("0.04"), &json!("80.00"))
    );
    assert_eq!(
        (&new_line["fee_schedule_version"], &new_line["fee_rate"], &new_line["fee"]),
        (&second["version"], &json!("0.06"), &json!("121.00"))
    );

    let (_, listed) = app.admin("GET", "/v1/admin/fee-schedules", None).await;
    let versions: Vec<(Value, Value)> =
        listed["items"].as_array().into_iter().flatten().map(|s| (s["name"].clone(), s["in_force"].clone())).collect();
    assert_eq!(
        versions,
        vec![(json!("Revised"), json!(true)), (json!("Launch"), json!(false)), (json!("No fees"), json!(false))]
    );
    assert_eq!(failed_audit_checks(&app).await, vec![]);
}

#[tokio::test]
async fn a_fee_schedule_with_a_bad_rate_or_an_unknown_seller_is_refused_naming_the_field_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            json!({"name": "X", "default_rate": "1.5", "per_item_fee": "0.00", "seller_hold_business_days": 3}),
            "default_rate",
        ),
        (
            json!({"name": "X", "default_rate": "0.05", "per_item_fee": "-1.00", "seller_hold_business_days": 3}),
            "per_item_fee",
        ),
        (
            json!({"name": "X", "default_rate": "0.05", "per_item_fee": "0.00", "seller_hold_business_days": 61}),
            "seller_hold_business_days",
        ),
        (
            json!({"name": "X", "default_rate": "0.05", "per_item_fee": "0.00", "seller_hold_business_days": 3,
                "categories": {"fashion": "0.123456"}}),
            "categories.fashion",
        ),
        (
            json!({"name": "X", "default_rate": "0.05", "per_item_fee": "0.00", "seller_hold_business_days": 3,
                "sellers": [{"seller_id": uuid::Uuid::new_v4(), "rate": "0.02"}]}),
            "sellers[0].seller_id",
        ),
    ];
    for (body, field) in cases {
        let (status, problem) = app.admin("POST", "/v1/admin/fee-schedules", Some(&body)).await;
        assert_eq!(
            (status, problem["errors"][0]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{problem}"
        );
    }
    // The name is bounded in characters: 201 Bengali letters are too many, 200 are not.
    let named = |n: usize| json!({"name": "ফ".repeat(n), "default_rate": "0.05", "per_item_fee": "0.00", "seller_hold_business_days": 3});
    let (status, problem) = app.admin("POST", "/v1/admin/fee-schedules", Some(&named(201))).await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str(), problem["errors"][0]["message"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("name"), Some("must be 1 to 200 characters"))
    );
    let (status, problem) = app
        .admin(
            "POST",
            "/v1/admin/fee-schedules",
            Some(&json!({"name": "X", "default_rate": "0.05",
        "per_item_fee": "0.00", "seller_hold_business_days": 3, "colour": "red"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an unknown field is refused: {problem}");
    let (_, listed) = app.admin("GET", "/v1/admin/fee-schedules", None).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1), "only the schema's own 'No fees'");
    assert_eq!(app.admin("POST", "/v1/admin/fee-schedules", Some(&named(200))).await.0, StatusCode::CREATED);
    let (status, _) =
        app.admin("POST", &format!("/v1/admin/fee-schedules/{}/activate", uuid::Uuid::new_v4()), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A cod order of one unit of each of two products (two sellers'), placed
/// for `buyer`.
async fn one_of_each(app: &TestApp, buyer: &Value, first: &Value, second: &Value) -> Value {
    let mut body = order_body(buyer, first, 1, "cod");
    body["lines"] = json!([{"product_id": first["id"], "quantity": 1}, {"product_id": second["id"], "quantity": 1}]);
    app.place_order_body(&body).await
}

/// A new seller key for `seller` (admin): its secret.
async fn seller_key(app: &TestApp, seller: uuid::Uuid) -> String {
    let key = created(app, "/v1/admin/api-keys", &json!({"role": "seller", "seller_id": seller})).await;
    assert_eq!((key["role"].as_str(), key["seller_id"].as_str()), (Some("seller"), Some(seller.to_string().as_str())));
    key["token"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_seller_key_reads_only_its_own_seller_and_everything_else_is_not_found() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let woodworks = approved_seller(&app, "Dhaka Woodworks").await;
    let crafts = approved_seller(&app, "Rangpur Crafts").await;
    let chair =
        created(&app, "/v1/admin/products", &product("CHAIR-1", "furniture", "2000.00", "500.00", woodworks)).await;
    let kantha =
        created(&app, "/v1/admin/products", &product("KANTHA-1", "fashion", "1200.00", "300.00", crafts)).await;
    let chain = app.create_chain(2).await;
    let order = one_of_each(&app, &chain[1], &chair, &kantha).await;
    app.send_event("couriers", &delivered_event(&order)).await;
    // The schema's "No fees" schedule: the whole 2,000.00 is the seller's.
    seller_balance_reaches(&app, woodworks, "pending", "2000.00").await;
    let key = seller_key(&app, woodworks).await;

    let (status, balance) = app.call("GET", &format!("/v1/sellers/{woodworks}/balance"), &key, None).await;
    assert_eq!((status, &balance["pending"]), (StatusCode::OK, &json!("2000.00")));
    let (status, lines) = app.call("GET", &format!("/v1/sellers/{woodworks}/lines"), &key, None).await;
    assert_eq!(status, StatusCode::OK);
    let skus: Vec<&Value> = lines["items"].as_array().into_iter().flatten().map(|l| &l["sku"]).collect();
    assert_eq!(skus, vec![&json!("CHAIR-1")], "only its own line of the two-seller order");
    let (status, statement) = app.call("GET", &format!("/v1/sellers/{woodworks}/statement"), &key, None).await;
    assert_eq!(status, StatusCode::OK);
    let posting = &statement["items"][0];
    assert_eq!(
        (&posting["kind"], &posting["account"], &posting["amount"], &posting["balance_after"]),
        (&json!("seller_credit"), &json!("pending"), &json!("2000.00"), &json!("2000.00"))
    );
    let (status, products) = app.call("GET", &format!("/v1/sellers/{woodworks}/products"), &key, None).await;
    assert_eq!((status, products["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)));

    let order_id = order["id"].as_str().unwrap_or_default();
    let member = chain[1]["id"].as_str().unwrap_or_default();
    let elsewhere = [
        ("GET", format!("/v1/sellers/{crafts}/balance")),
        ("GET", format!("/v1/sellers/{crafts}/statement")),
        ("GET", format!("/v1/sellers/{crafts}/lines")),
        ("GET", format!("/v1/sellers/{}/balance", uuid::Uuid::new_v4())),
        ("GET", format!("/v1/orders/{order_id}")),
        ("GET", format!("/v1/members/{member}/wallet")),
        ("GET", "/v1/products".to_owned()),
        ("GET", "/v1/admin/sellers".to_owned()),
        ("GET", "/v1/admin/fee-schedules".to_owned()),
        ("POST", format!("/v1/orders/{order_id}/returns")),
    ];
    for (method, path) in elsewhere {
        let (status, problem) = app.call(method, &path, &key, Some(&json!({}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {problem}");
    }
    // A member key cannot read a seller either.
    let member_key = created(&app, "/v1/admin/api-keys", &json!({"role": "member", "member_id": member})).await;
    let token = member_key["token"].as_str().unwrap_or_default();
    assert_eq!(
        app.call("GET", &format!("/v1/sellers/{woodworks}/balance"), token, None).await.0,
        StatusCode::NOT_FOUND
    );

    for (body, field) in [
        (json!({"role": "seller"}), "seller_id"),
        (json!({"role": "seller", "seller_id": uuid::Uuid::new_v4()}), "seller_id"),
        (json!({"role": "storefront", "seller_id": woodworks}), "seller_id"),
        (json!({"role": "seller", "seller_id": woodworks, "member_id": member}), "member_id"),
    ] {
        let (status, problem) = app.admin("POST", "/v1/admin/api-keys", Some(&body)).await;
        assert_eq!(
            (status, problem["errors"][0]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_line_not_prepared_in_time_is_penalised_once_however_often_the_check_runs() {
    let mut app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let woodworks = approved_seller(&app, "Dhaka Woodworks").await;
    let crafts = approved_seller(&app, "Rangpur Crafts").await;
    schedule_in_force(
        &app,
        &json!({"name": "Strict", "default_rate": "0.05", "per_item_fee": "0.00", "seller_hold_business_days": 3,
                "late_line_penalty": "50.00"}),
    )
    .await;
    let chair =
        created(&app, "/v1/admin/products", &product("CHAIR-1", "furniture", "2000.00", "500.00", woodworks)).await;
    let kantha =
        created(&app, "/v1/admin/products", &product("KANTHA-1", "fashion", "1200.00", "300.00", crafts)).await;
    let chain = app.create_chain(2).await;
    let order = one_of_each(&app, &chain[1], &chair, &kantha).await;
    let (chair_line, kantha_line) =
        (order["lines"][0]["id"].as_str().unwrap_or_default(), order["lines"][1]["id"].as_str().unwrap_or_default());

    // Dhaka Woodworks marks its line prepared; Rangpur Crafts cannot mark
    // another seller's line.
    let wood_key = seller_key(&app, woodworks).await;
    let (status, prepared) =
        app.call("POST", &format!("/v1/sellers/{woodworks}/lines/{chair_line}/prepared"), &wood_key, None).await;
    assert_eq!((status, &prepared["late"]), (StatusCode::OK, &json!(false)), "{prepared}");
    let crafts_key = seller_key(&app, crafts).await;
    let (status, _) =
        app.call("POST", &format!("/v1/sellers/{crafts}/lines/{chair_line}/prepared"), &crafts_key, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Three days pass (the sellers' default preparation time): the
    // deadlines and the one mark move back together.
    let order_id: uuid::Uuid = order["id"].as_str().and_then(|s| s.parse().ok()).expect("order id");
    sqlx::query(
        "UPDATE order_lines SET prepare_by = prepare_by - interval '3 days 1 minute',
                prepared_at = prepared_at - interval '3 days 1 minute' WHERE order_id = $1",
    )
    .bind(order_id)
    .execute(&app.pool)
    .await
    .expect("let three days pass");
    app.set_worker_env("HAAT_PREPARATION_CHECK_CRON", "* * * * * *");
    app.start_worker().await;
    seller_balance_reaches(&app, crafts, "available", "-50.00").await;
    eventually("three checks done", || async {
        let done: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM apalis.jobs WHERE job_type = 'haat.preparation' AND status = 'Done'",
        )
        .fetch_one(&app.pool)
        .await
        .ok()?;
        (done >= 3).then_some(())
    })
    .await;
    assert_eq!(entries_of(&app, "seller_penalty").await, 1, "one penalty however many checks ran");
    assert_eq!(seller_balance(&app, crafts).await["available"], "-50.00");
    assert_eq!(seller_balance(&app, woodworks).await["available"], "0.00", "prepared in time");

    let (_, lines) = app.call("GET", &format!("/v1/sellers/{crafts}/lines"), &crafts_key, None).await;
    let line = &lines["items"][0];
    assert_eq!(
        (&line["order_line_id"], &line["late"], &line["penalty"]),
        (&json!(kantha_line), &json!(true), &json!("50.00"))
    );
    let (_, report) = app.admin("GET", "/v1/admin/reports/late-lines?from=2026-01-01&to=2031-01-01", None).await;
    assert_eq!(
        report["sellers"],
        json!([{"seller_id": crafts, "seller_name": "Rangpur Crafts", "late_lines": 1, "penalties": "50.00"}])
    );
    assert_eq!(
        (&report["rows"][0]["sku"], &report["rows"][0]["invoice_no"]),
        (&json!("KANTHA-1"), &order["invoice_no"])
    );
    assert_eq!(failed_audit_checks(&app).await, vec![]);
}

#[tokio::test]
async fn a_seller_withdraws_its_released_share_through_the_members_flow() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let crafts = approved_seller(&app, "Rangpur Crafts").await;
    let kantha =
        created(&app, "/v1/admin/products", &product("KANTHA-1", "fashion", "1200.00", "300.00", crafts)).await;
    let buyer = &app.create_chain(1).await[0];
    let order = app.place_order(buyer, &kantha, 3, "cod").await;
    app.send_event("couriers", &delivered_event(&order)).await;
    seller_balance_reaches(&app, crafts, "pending", "3600.00").await;
    let_seller_holds_end(&app, &order).await;
    seller_balance_reaches(&app, crafts, "available", "3600.00").await;

    let key = seller_key(&app, crafts).await;
    let path = format!("/v1/sellers/{crafts}/withdrawals");
    let ask = |amount: &str| json!({"amount": amount, "method": "bank", "account": "0123456789012"}).to_string();
    let (status, problem) =
        app.call_with("POST", &path, &key, Some(ask("3700.00")), &[("idempotency-key", "w0")]).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("amount")));
    let (status, w) = app.call_with("POST", &path, &key, Some(ask("3000.00")), &[("idempotency-key", "w1")]).await;
    assert_eq!(
        (status, w["status"].as_str(), w["seller_id"].as_str()),
        (StatusCode::CREATED, Some("requested"), Some(crafts.to_string().as_str())),
        "{w}"
    );
    assert!(w.get("member_id").is_none(), "a seller's withdrawal names no member: {w}");
    let id = w["id"].as_str().unwrap_or_default();
    let (status, _) = app.admin("POST", &format!("/v1/admin/withdrawals/{id}/approve"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        seller_balance(&app, crafts).await,
        json!({"pending": "0.00", "available": "600.00", "reserved": "3000.00"})
    );
    let (status, paid) = app
        .admin("POST", &format!("/v1/admin/withdrawals/{id}/paid"), Some(&json!({"reference": "BANK-TRX-77"})))
        .await;
    assert_eq!((status, paid["status"].as_str()), (StatusCode::OK, Some("paid")), "{paid}");
    assert_eq!(
        seller_balance(&app, crafts).await,
        json!({"pending": "0.00", "available": "600.00", "reserved": "0.00"})
    );

    let (_, mine) = app.call("GET", &path, &key, None).await;
    let steps: Vec<&Value> =
        mine["items"][0]["history"].as_array().into_iter().flatten().map(|s| &s["status"]).collect();
    assert_eq!(steps, vec![&json!("requested"), &json!("approved"), &json!("paid")]);
    let (_, queue) = app.admin("GET", "/v1/admin/withdrawals?status=paid", None).await;
    assert_eq!(queue["items"][0]["id"], w["id"], "the payout queue holds sellers' withdrawals too");
    let (_, finance) = app
        .call("GET", &format!("/v1/sellers/{crafts}/reports/finance?from=2026-01-01&to=2031-01-01"), &key, None)
        .await;
    let figures = ["revenue", "fees", "payouts", "net"].map(|f| finance[f].as_str().unwrap_or_default().to_owned());
    assert_eq!(figures, ["3600.00", "0.00", "3000.00", "3600.00"].map(String::from), "{finance}");
    eventually("the seller's paid email", || async {
        app.smtp.messages().into_iter().find(|m| {
            m.to.iter().any(|t| t.contains("@sellers.example.com"))
                && m.data.contains("Your withdrawal of 3000.00 BDT is paid")
        })
    })
    .await;
    assert_eq!(failed_audit_checks(&app).await, vec![]);
}

/// Where the seller credit of `order` stands, as `tx` sees it.
async fn credit_status(tx: &mut sqlx::PgConnection, order: uuid::Uuid) -> String {
    sqlx::query_scalar("SELECT status FROM seller_credits WHERE order_id = $1")
        .bind(order)
        .fetch_one(tx)
        .await
        .expect("the credit")
}

#[tokio::test]
async fn a_sellers_release_and_a_lines_deadline_are_judged_to_the_second_around_their_due_moment() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let crafts = approved_seller(&app, "Rangpur Crafts").await;
    let kantha =
        created(&app, "/v1/admin/products", &product("KANTHA-1", "fashion", "1200.00", "300.00", crafts)).await;
    let buyer = &app.create_chain(1).await[0];
    let delivered = app.place_order(buyer, &kantha, 1, "cod").await;
    app.send_event("couriers", &delivered_event(&delivered)).await;
    seller_balance_reaches(&app, crafts, "pending", "1200.00").await;
    let waiting = app.place_order(buyer, &kantha, 1, "cod").await;
    let id = |o: &Value| o["id"].as_str().and_then(|s| s.parse::<uuid::Uuid>().ok()).expect("order id");
    let (release_at, prepare_by): (chrono::DateTime<Utc>, chrono::DateTime<Utc>) = sqlx::query_as(
        "SELECT (SELECT release_at FROM seller_credits WHERE order_id = $1),
                (SELECT prepare_by FROM order_lines WHERE order_id = $2)",
    )
    .bind(id(&delivered))
    .bind(id(&waiting))
    .fetch_one(&app.pool)
    .await
    .expect("the due moments");
    let calendar = haat_domain::marketplace::escrow::HoldCalendar::default();
    let (job, _) = haat_domain::jobs::ReleaseHold::at(id(&delivered), release_at);
    let early = chrono::Duration::milliseconds(300);

    // Run by a clock 300 ms before the hold's end, nothing is released; at
    // its end, the share is. All in a transaction rolled back after.
    let mut tx = app.pool.begin().await.expect("begin");
    let release = haat_domain::compensation::commissions::release_holds;
    release(&mut tx, job, release_at - early, "BDT", &calendar).await.expect("the early run");
    assert_eq!(credit_status(&mut tx, id(&delivered)).await, "pending");
    release(&mut tx, job, release_at, "BDT", &calendar).await.expect("the run at the end");
    assert_eq!(credit_status(&mut tx, id(&delivered)).await, "available");

    // A second before the deadline the line is not late; a second after, it is.
    let check = haat_domain::marketplace::preparation::check;
    assert_eq!(check(&mut tx, prepare_by - chrono::Duration::seconds(1), "BDT").await.expect("check"), 0);
    assert_eq!(check(&mut tx, prepare_by + chrono::Duration::seconds(1), "BDT").await.expect("check"), 1);
    tx.rollback().await.expect("rollback");
}
