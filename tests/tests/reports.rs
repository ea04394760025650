//! Finance reports through the real api and workers: the liabilities
//! roll-forward over three consecutive intervals of one scenario, exact to
//! the paisa, in JSON and CSV alike.

use chrono::{DateTime, Utc};
use haat_tests::*;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// The database's clock once everything due has run: a boundary between
/// two phases of the scenario.
async fn boundary(app: &TestApp) -> DateTime<Utc> {
    quiescent(&app.pool).await;
    sqlx::query_scalar("SELECT now()").fetch_one(&app.pool).await.expect("now")
}

async fn liabilities(app: &TestApp, from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
    let path = format!(
        "/v1/admin/reports/liabilities?from={}&to={}&time_zone=Asia/Dhaka",
        urlencode(&from.to_rfc3339()),
        urlencode(&to.to_rfc3339())
    );
    let (status, report) = app.admin("GET", &path, None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

/// A bucket as compared: (account, opening, [(kind, amount)], closing).
type Figures = (String, String, Vec<(String, String)>, String);

/// The figures of every bucket.
fn figures(report: &Value) -> Vec<Figures> {
    let text = |v: &Value| v.as_str().unwrap_or("?").to_owned();
    report["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|b| {
            let moves = b["movements"].as_array().expect("movements");
            (
                text(&b["account"]),
                text(&b["opening"]),
                moves.iter().map(|m| (text(&m["kind"]), text(&m["amount"]))).collect(),
                text(&b["closing"]),
            )
        })
        .collect()
}

fn bucket(
    account: &str,
    opening: &str,
    moves: &[(&str, &str)],
    closing: &str,
) -> (String, String, Vec<(String, String)>, String) {
    let moves = moves.iter().map(|(k, a)| (k.to_string(), a.to_string())).collect();
    (account.into(), opening.into(), moves, closing.into())
}

/// Σ of the members' cached balances by bucket: kept by every posting's
/// transaction, independently of the report's sums over postings.
async fn cached_balances(app: &TestApp) -> Vec<(String, Decimal)> {
    sqlx::query_as("SELECT kind, sum(balance) FROM accounts WHERE member_id IS NOT NULL GROUP BY kind ORDER BY kind")
        .fetch_all(&app.pool)
        .await
        .expect("balances")
}

#[tokio::test]
async fn the_liabilities_roll_forward_balances_to_the_paisa_over_three_consecutive_intervals() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let kit = app.create_product("KIT-1", "15000.00", "12000.00", 10).await;
    let chain = app.create_chain(3).await;
    let t0 = boundary(&app).await;

    // Earned and held: BV 24,000 pays level 1 10% = 2,400.00 and level 2 5% = 1,200.00.
    let order = app.place_order(&chain[2], &kit, 2, "cod").await;
    app.send_event("couriers", &delivered_event(&order)).await;
    wallet_reaches(&app, &chain[0], "pending", "1200.00").await;
    let t1 = boundary(&app).await;

    // Released, then one unit of two returned: half of each line clawed back.
    let_days_pass(&app, 8).await;
    wallet_reaches(&app, &chain[0], "available", "1200.00").await;
    let ret = json!({"lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 1}], "reason": "damaged"});
    let returns = format!("/v1/orders/{}/returns", order["id"].as_str().unwrap_or_default());
    assert_eq!(app.admin("POST", &returns, Some(&ret)).await.0, StatusCode::CREATED);
    wallet_reaches(&app, &chain[0], "available", "600.00").await;
    let t2 = boundary(&app).await;

    // Withdrawn: one paid out, one approved and still reserved.
    withdrawal(&app, &chain[1], "500.00", "bkash", "paid").await;
    withdrawal(&app, &chain[0], "500.00", "bkash", "approved").await;
    let t3 = boundary(&app).await;

    let first = liabilities(&app, t0, t1).await;
    assert_eq!(
        figures(&first),
        [
            bucket("pending", "0.00", &[("commission", "3600.00")], "3600.00"),
            bucket("available", "0.00", &[], "0.00"),
            bucket("reserved", "0.00", &[], "0.00"),
            bucket("credit", "0.00", &[], "0.00"),
        ]
    );
    let second = liabilities(&app, t1, t2).await;
    assert_eq!(
        figures(&second),
        [
            bucket("pending", "3600.00", &[("release", "-3600.00")], "0.00"),
            bucket("available", "0.00", &[("clawback", "-1800.00"), ("release", "3600.00")], "1800.00"),
            bucket("reserved", "0.00", &[], "0.00"),
            bucket("credit", "0.00", &[], "0.00"),
        ]
    );
    let third = liabilities(&app, t2, t3).await;
    assert_eq!(
        figures(&third),
        [
            bucket("pending", "0.00", &[], "0.00"),
            bucket("available", "1800.00", &[("withdrawal_reserve", "-1000.00")], "800.00"),
            bucket("reserved", "0.00", &[("withdrawal_paid", "-500.00"), ("withdrawal_reserve", "1000.00")], "500.00"),
            bucket("credit", "0.00", &[], "0.00"),
        ]
    );
    for (earlier, later) in [(&first, &second), (&second, &third)] {
        for (e, l) in earlier["accounts"].as_array().expect("a").iter().zip(later["accounts"].as_array().expect("a")) {
            assert_eq!(e["closing"], l["opening"], "{} closes one interval as it opens the next", e["account"]);
        }
    }
    assert_eq!(
        (third["total"]["opening"].as_str(), third["total"]["closing"].as_str()),
        (Some("1800.00"), Some("1300.00"))
    );
    let cached: Vec<(String, Decimal)> = cached_balances(&app).await;
    let closing = |account: &str| {
        third["accounts"].as_array().expect("a").iter().find(|b| b["account"] == account).expect("bucket")["closing"]
            .as_str()
            .and_then(|c| c.parse::<Decimal>().ok())
    };
    for (account, balance) in cached {
        assert_eq!(closing(&account), Some(balance), "{account}: the report's closing is the members' balance");
    }
    assert_eq!(
        (third["from"].as_str(), third["time_zone"].as_str(), third["currency"].as_str()),
        (Some(t2.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true).as_str()), Some("Asia/Dhaka"), Some("BDT"))
    );
}

#[tokio::test]
async fn the_liabilities_csv_has_the_json_figures_row_for_row_as_an_attachment() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let kit = app.create_product("KIT-1", "15000.00", "12000.00", 10).await;
    let chain = app.create_chain(2).await;
    let order = app.place_order(&chain[1], &kit, 1, "cod").await;
    app.send_event("couriers", &delivered_event(&order)).await;
    wallet_reaches(&app, &chain[0], "pending", "1200.00").await;
    quiescent(&app.pool).await;

    let query = "from=2026-01-01&to=2030-01-01&time_zone=Asia/Dhaka";
    let (_, json) = app.admin("GET", &format!("/v1/admin/reports/liabilities?{query}"), None).await;
    let csv = app
        .http
        .get(format!("{}/v1/admin/reports/liabilities?{query}", app.base))
        .bearer_auth(&app.admin_token)
        .header("accept", "text/csv")
        .send()
        .await
        .expect("csv");
    assert_eq!(csv.status(), StatusCode::OK);
    let header = |name: &str| csv.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(header("content-type"), "text/csv; charset=utf-8");
    assert_eq!(
        header("content-disposition"),
        "attachment; filename=\"liabilities_2026-01-01T0000_2030-01-01T0000_Asia-Dhaka.csv\""
    );
    let text = csv.text().await.expect("body");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("interval_start,interval_end,account,kind,amount"));
    let rows: Vec<Vec<String>> = lines.map(|l| l.split(',').map(str::to_owned).collect()).collect();
    let mut expected = Vec::new();
    for (account, opening, moves, closing) in figures(&json) {
        expected.push(vec![account.clone(), "opening".into(), opening]);
        expected.extend(moves.into_iter().map(|(kind, amount)| vec![account.clone(), kind, amount]));
        expected.push(vec![account, "closing".into(), closing]);
    }
    let bounds = ["2026-01-01T00:00:00+06:00", "2030-01-01T00:00:00+06:00"].map(String::from);
    assert!(rows.iter().all(|r| r[..2] == bounds), "{text}");
    assert_eq!(rows.iter().map(|r| r[2..].to_vec()).collect::<Vec<_>>(), expected);
    assert!(expected.contains(&vec!["pending".into(), "commission".into(), "1200.00".into()]), "{expected:?}");

    let (status, problem) = app.admin("GET", "/v1/admin/reports/liabilities?from=2026-12-01&to=2026-11-01", None).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("to")));
    let (status, problem) = app.admin("GET", "/v1/admin/reports/liabilities?to=2026-11-01", None).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("from")));
    let (status, problem) = app.admin("GET", &format!("/v1/admin/reports/liabilities?{query}&format=xlsx"), None).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("format")));
    let (_, key) =
        app.admin("POST", "/v1/admin/api-keys", Some(&json!({"role": "member", "member_id": chain[0]["id"]}))).await;
    let member = key["token"].as_str().unwrap_or_default();
    let (status, _) = app.call("GET", &format!("/v1/admin/reports/liabilities?{query}"), member, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn product(
    app: &TestApp,
    sku: &str,
    category: &str,
    price: &str,
    pv: &str,
    bv: &str,
    seller: Option<&str>,
) -> Value {
    let body = json!({"sku": sku, "name": sku, "category": category, "price": price, "pv": pv, "bv": bv,
                      "stock": 100, "commissionable": true, "seller_id": seller});
    let (status, p) = app.admin("POST", "/v1/admin/products", Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    p
}

async fn sales(app: &TestApp, group_by: &str) -> Value {
    let path =
        format!("/v1/admin/reports/sales?from=2026-01-01&to=2030-01-01&time_zone=Asia/Dhaka&group_by={group_by}");
    let (status, report) = app.admin("GET", &path, None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

/// (key, orders, units, gross, discounts, store_credit, refunds, net, pv, bv) of each row, as text.
fn sales_rows(rows: &Value) -> Vec<Vec<String>> {
    let fields = [
        "key",
        "orders",
        "units",
        "gross",
        "discounts",
        "store_credit",
        "refunds",
        "net",
        "pv",
        "bv",
        "fees",
        "platform_margin",
    ];
    let one = |r: &Value| -> Vec<String> {
        fields.iter().map(|f| r[*f].as_str().map(str::to_owned).unwrap_or_else(|| r[*f].to_string())).collect()
    };
    match rows {
        Value::Array(rows) => rows.iter().map(one).collect(),
        row => vec![one(row)],
    }
}

fn texts(row: &[&str]) -> Vec<String> {
    row.iter().map(|s| s.to_string()).collect()
}

/// `row` under another key.
fn renamed(key: &str, row: &[&str]) -> Vec<String> {
    [&[key][..], &row[1..]].concat().into_iter().map(str::to_owned).collect()
}

#[tokio::test]
async fn sales_add_up_to_the_same_totals_by_product_category_seller_and_day_with_discounts_spread_to_the_paisa() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let seller = approved_seller(&app, "Soap maker").await.to_string();
    let tea = product(&app, "TEA-1", "grocery", "500.00", "10.00", "400.00", None).await;
    let soap = product(&app, "SOAP-1", "beauty", "300.00", "5.00", "200.00", Some(&seller)).await;
    let coupon = json!({"code": "FLAT100", "kind": "fixed", "value": "100.00", "starts_at": "2026-01-01T00:00:00Z",
                        "ends_at": "2030-01-01T00:00:00Z", "max_uses": 1, "min_subtotal": "0"});
    assert_eq!(app.admin("POST", "/v1/admin/coupons", Some(&coupon)).await.0, StatusCode::CREATED);
    let chain = app.create_chain(2).await;

    // 2 × TEA + 1 × SOAP = 1,300.00 less 100.00 off: TEA's lines take 76.92 + the 0.01
    // truncation left, SOAP's 23.07.
    let mut body = order_body(&chain[1], &tea, 2, "cod");
    body["lines"] = json!([{"product_id": tea["id"], "quantity": 2}, {"product_id": soap["id"], "quantity": 1}]);
    body["coupon_code"] = json!("FLAT100");
    let key = uuid::Uuid::new_v4().to_string();
    let (status, first) = app
        .call_with("POST", "/v1/orders", &app.admin_token, Some(body.to_string()), &[("idempotency-key", &key)])
        .await;
    assert_eq!((status, first["discount"].as_str()), (StatusCode::CREATED, Some("100.00")), "{first}");
    let second = app.place_order(&chain[1], &soap, 1, "cod").await;
    let unpaid = app.place_order(&chain[1], &tea, 3, "cod").await;
    for order in [&first, &second] {
        app.send_event("couriers", &delivered_event(order)).await;
    }
    wallet_reaches(&app, &chain[0], "pending", "120.00").await;
    // One TEA back: 500.00 × 1,200 / 1,300 = 461.538…, so 461.53.
    let ret = json!({"lines": [{"order_line_id": first["lines"][0]["id"], "quantity": 1}], "reason": "damaged"});
    let returns = format!("/v1/orders/{}/returns", first["id"].as_str().unwrap_or_default());
    assert_eq!(app.admin("POST", &returns, Some(&ret)).await.0, StatusCode::CREATED);
    quiescent(&app.pool).await;
    assert_eq!(unpaid["status"], "pending_payment", "an unpaid cod order is not a sale yet: {unpaid}");

    // SOAP is a seller's, sold under the schema's "No fees" schedule: no
    // fee, and its 2 × 20.00 of commissions are the platform's loss.
    let soap_row =
        ["SOAP-1", "2", "2", "600.00", "23.07", "0.00", "0.00", "576.93", "10.00", "400.00", "0.00", "-40.00"];
    let tea_row =
        ["TEA-1", "1", "2", "1000.00", "76.93", "0.00", "461.53", "461.54", "20.00", "800.00", "0.00", "0.00"];
    let totals =
        ["null", "2", "4", "1600.00", "100.00", "0.00", "461.53", "1038.47", "30.00", "1200.00", "0.00", "-40.00"];
    let by_product = sales(&app, "product").await;
    assert_eq!(sales_rows(&by_product["rows"]), [texts(&soap_row), texts(&tea_row)]);
    assert_eq!(sales_rows(&by_product["totals"]), [texts(&totals)]);

    let by_category = sales(&app, "category").await;
    assert_eq!(sales_rows(&by_category["rows"]), [renamed("beauty", &soap_row), renamed("grocery", &tea_row)]);
    assert_eq!(by_category["totals"], by_product["totals"]);

    let by_seller = sales(&app, "seller").await;
    let mut expected = [renamed(&seller, &soap_row), renamed("none", &tea_row)];
    expected.sort();
    assert_eq!(sales_rows(&by_seller["rows"]), expected);
    assert_eq!(by_seller["totals"], by_product["totals"]);

    let paid_at: DateTime<Utc> = sqlx::query_scalar("SELECT paid_at FROM orders WHERE invoice_no = $1")
        .bind(first["invoice_no"].as_str())
        .fetch_one(&app.pool)
        .await
        .expect("paid");
    let dhaka = chrono::FixedOffset::east_opt(6 * 3600).expect("+06:00");
    let day = paid_at.with_timezone(&dhaka).format("%Y-%m-%d").to_string();
    let by_day = sales(&app, "day").await;
    assert_eq!(sales_rows(&by_day["rows"]), [renamed(&day, &totals)]);

    let csv = app
        .http
        .get(format!("{}/v1/admin/reports/sales?from=2026-01-01&to=2030-01-01&group_by=product&format=csv", app.base))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("csv");
    assert!(
        csv.headers()["content-disposition"].to_str().unwrap_or_default().contains("sales_by_product_2026-01-01T0000")
    );
    let text = csv.text().await.expect("body");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "interval_start,interval_end,key,orders,units,gross,discounts,store_credit,refunds,net,pv,bv,fees,platform_margin"
    );
    let csv_rows: Vec<Vec<String>> =
        lines[1..].iter().map(|l| l.split(',').skip(2).map(str::to_owned).collect()).collect();
    assert_eq!(csv_rows, sales_rows(&by_product["rows"]));

    let (status, problem) =
        app.admin("GET", "/v1/admin/reports/sales?from=2026-01-01&to=2026-02-01&group_by=week", None).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("group_by")));
    let (_, before) = app.admin("GET", "/v1/admin/reports/sales?from=2026-01-01&to=2026-02-01", None).await;
    assert_eq!((before["rows"].as_array().map(Vec::len), before["totals"]["gross"].as_str()), (Some(0), Some("0.00")));
}

async fn commissions(app: &TestApp, group_by: &str) -> Value {
    let path = format!("/v1/admin/reports/commissions?from=2026-01-01&to=2030-01-01&group_by={group_by}");
    let (status, report) = app.admin("GET", &path, None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

/// (key, accrued, released, cancelled_while_held, clawed_back, breakage, rounding, net) of each row.
fn commission_rows(rows: &Value) -> Vec<Vec<String>> {
    let fields = ["key", "accrued", "released", "cancelled_while_held", "clawed_back", "breakage", "rounding", "net"];
    let one = |r: &Value| fields.iter().map(|f| r[*f].as_str().unwrap_or("null").to_owned()).collect::<Vec<_>>();
    match rows {
        Value::Array(rows) => rows.iter().map(one).collect(),
        row => vec![one(row)],
    }
}

async fn return_units(app: &TestApp, order: &Value, units: i64) {
    let ret = json!({"lines": [{"order_line_id": order["lines"][0]["id"], "quantity": units}], "reason": "damaged"});
    let returns = format!("/v1/orders/{}/returns", order["id"].as_str().unwrap_or_default());
    assert_eq!(app.admin("POST", &returns, Some(&ret)).await.0, StatusCode::CREATED);
    quiescent(&app.pool).await;
}

#[tokio::test]
async fn commissions_report_accrual_release_cancellation_clawback_breakage_and_rounding_by_kind_level_and_member() {
    let app = TestApp::spawn().await;
    let mut plan = five_level_plan(7);
    plan["order_cashback_rate"] = json!("0.02");
    plan["order_cashback_reward"] = json!("cash");
    app.create_plan(plan).await;
    // BV 333.33 a unit, so every level's share has a residue below the paisa.
    let kit = app.create_product("KIT-3", "500.00", "333.33", 10).await;
    let chain = app.create_chain(4).await;
    let suspend = format!("/v1/admin/members/{}/suspend", chain[1]["id"].as_str().unwrap_or_default());
    assert_eq!(app.admin("POST", &suspend, None).await.0, StatusCode::OK);

    // A: 3 units, BV 999.99: level 1 99.99 (0.009 kept), level 2 forfeited 49.99, level 3 29.99 (0.0097);
    // the buyer's 2% of 1,500.00 = 30.00. B: 1 unit: 33.33 (0.003), forfeited 16.66, 9.99 (0.0099); 10.00.
    let a = app.place_order(&chain[3], &kit, 3, "cod").await;
    let b = app.place_order(&chain[3], &kit, 1, "cod").await;
    for order in [&a, &b] {
        app.send_event("couriers", &delivered_event(order)).await;
    }
    wallet_reaches(&app, &chain[2], "pending", "133.32").await;
    wallet_reaches(&app, &chain[3], "pending", "40.00").await;
    return_units(&app, &b, 1).await; // while held: cancelled
    let_days_pass(&app, 8).await;
    wallet_reaches(&app, &chain[2], "available", "99.99").await;
    wallet_reaches(&app, &chain[3], "available", "30.00").await;
    return_units(&app, &a, 1).await; // after release: a third clawed back (33.33, 9.99, 10.00)
    wallet_reaches(&app, &chain[2], "available", "66.66").await;

    let by_kind = commissions(&app, "kind").await;
    assert_eq!(
        commission_rows(&by_kind["rows"]),
        [
            texts(&["level", "173.30", "129.98", "43.32", "43.32", "66.65", "0.031600", "86.66"]),
            texts(&["order_reward", "40.00", "30.00", "10.00", "10.00", "0.00", "0.000000", "20.00"]),
        ]
    );
    let totals = texts(&["null", "213.30", "159.98", "53.32", "53.32", "66.65", "0.031600", "106.66"]);
    assert_eq!(commission_rows(&by_kind["totals"]), std::slice::from_ref(&totals));

    let by_level = commissions(&app, "level").await;
    assert_eq!(
        commission_rows(&by_level["rows"]),
        [
            texts(&["0", "40.00", "30.00", "10.00", "10.00", "0.00", "0.000000", "20.00"]),
            texts(&["1", "133.32", "99.99", "33.33", "33.33", "0.00", "0.012000", "66.66"]),
            texts(&["2", "0.00", "0.00", "0.00", "0.00", "66.65", "0.000000", "0.00"]),
            texts(&["3", "39.98", "29.99", "9.99", "9.99", "0.00", "0.019600", "20.00"]),
        ]
    );
    assert_eq!(commission_rows(&by_level["totals"]), std::slice::from_ref(&totals));

    let by_member = commissions(&app, "member").await;
    let member_row = |m: &Value| {
        let id = m["id"].as_str().unwrap_or_default();
        by_member["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["key"] == id)
            .map(|r| commission_rows(r).remove(0))
    };
    let id = |i: usize| chain[i]["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        member_row(&chain[0]),
        Some(renamed(&id(0), &["", "39.98", "29.99", "9.99", "9.99", "0.00", "0.019600", "20.00"]))
    );
    assert_eq!(
        member_row(&chain[1]),
        Some(renamed(&id(1), &["", "0.00", "0.00", "0.00", "0.00", "66.65", "0.000000", "0.00"]))
    );
    assert_eq!(
        member_row(&chain[2]),
        Some(renamed(&id(2), &["", "133.32", "99.99", "33.33", "33.33", "0.00", "0.012000", "66.66"]))
    );
    assert_eq!(
        member_row(&chain[3]),
        Some(renamed(&id(3), &["", "40.00", "30.00", "10.00", "10.00", "0.00", "0.000000", "20.00"]))
    );
    assert_eq!(by_member["rows"].as_array().map(Vec::len), Some(4));
    assert_eq!(commission_rows(&by_member["totals"]), std::slice::from_ref(&totals));

    // Read from the postings alone (days of a half-hour zone cannot come
    // from whole UTC hours) and with ragged edges (part hours at both
    // ends), the figures are the same.
    for path in [
        "/v1/admin/reports/commissions?from=2026-01-01&to=2030-01-01&group_by=day&time_zone=Asia/Kolkata",
        "/v1/admin/reports/commissions?from=2026-01-01T00%3A30%3A00Z&to=2029-12-31T23%3A45%3A00Z&group_by=kind",
    ] {
        let (status, report) = app.admin("GET", path, None).await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(commission_rows(&report["totals"]), std::slice::from_ref(&totals), "{path}");
    }
    let (_, ragged) = app
        .admin(
            "GET",
            "/v1/admin/reports/commissions?from=2026-01-01T00%3A30%3A00Z&to=2029-12-31T23%3A45%3A00Z&group_by=kind",
            None,
        )
        .await;
    assert_eq!(ragged["rows"], by_kind["rows"]);
}

/// Requests a withdrawal of `amount` by `method` and takes it to `to`
/// (`requested`, `approved`, `paid` or `rejected`); returns its id.
async fn withdrawal(app: &TestApp, member: &Value, amount: &str, method: &str, to: &str) -> String {
    let path = format!("/v1/members/{}/withdrawals", member["id"].as_str().unwrap_or_default());
    let body = json!({"amount": amount, "method": method, "account": "01711000000"}).to_string();
    let key = uuid::Uuid::new_v4().to_string();
    let (status, w) = app.call_with("POST", &path, &app.admin_token, Some(body), &[("idempotency-key", &key)]).await;
    assert_eq!(status, StatusCode::CREATED, "{w}");
    let id = w["id"].as_str().unwrap_or_default().to_owned();
    let steps: &[&str] = match to {
        "approved" => &["approve"],
        "paid" => &["approve", "paid"],
        "rejected" => &["reject"],
        _ => &[],
    };
    for step in steps {
        let body = json!({"reference": "TRX-1"});
        let (status, answer) =
            app.admin("POST", &format!("/v1/admin/withdrawals/{id}/{step}"), (*step == "paid").then_some(&body)).await;
        assert_eq!(status, StatusCode::OK, "{step}: {answer}");
    }
    id
}

/// Makes a paid withdrawal take `hours` from request to paid.
async fn paid_after(app: &TestApp, id: &str, hours: i32) {
    sqlx::query(
        "UPDATE withdrawal_history h SET at = w.created_at + make_interval(hours => $2)
           FROM withdrawals w WHERE w.id = h.withdrawal_id AND w.id = $1::uuid AND h.status = 'paid'",
    )
    .bind(id)
    .bind(hours)
    .execute(&app.pool)
    .await
    .expect("move the payment");
}

#[tokio::test]
async fn payouts_by_status_and_method_count_sum_and_take_the_median_time_to_paid() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let kit = app.create_product("KIT-1", "15000.00", "12000.00", 10).await;
    let chain = app.create_chain(3).await;
    let order = app.place_order(&chain[2], &kit, 2, "cod").await;
    app.send_event("couriers", &delivered_event(&order)).await;
    wallet_reaches(&app, &chain[0], "pending", "1200.00").await;
    let_days_pass(&app, 8).await;
    wallet_reaches(&app, &chain[1], "available", "2400.00").await;
    wallet_reaches(&app, &chain[0], "available", "1200.00").await;

    for (hours, method) in [(2, "bkash"), (30, "bkash"), (5, "nagad")] {
        let id = withdrawal(&app, &chain[1], "500.00", method, "paid").await;
        paid_after(&app, &id, hours).await;
    }
    withdrawal(&app, &chain[1], "600.00", "bank", "rejected").await;
    withdrawal(&app, &chain[0], "700.00", "bkash", "approved").await;
    withdrawal(&app, &chain[0], "500.00", "nagad", "requested").await;

    let report = |group: &'static str| {
        let app = &app;
        async move {
            let path = format!("/v1/admin/reports/payouts?from=2026-01-01&to=2030-01-01&group_by={group}");
            let (status, r) = app.admin("GET", &path, None).await;
            assert_eq!(status, StatusCode::OK, "{r}");
            r
        }
    };
    let rows = |r: &Value| -> Vec<(String, i64, String, Value)> {
        r["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|x| {
                let key = x["key"].as_str().unwrap_or_default().to_owned();
                let amount = x["amount"].as_str().unwrap_or_default().to_owned();
                (key, x["count"].as_i64().unwrap_or(-1), amount, x["median_hours_to_paid"].clone())
            })
            .collect()
    };
    let by_status = report("status").await;
    assert_eq!(
        rows(&by_status),
        [
            ("approved".into(), 1, "700.00".into(), Value::Null),
            ("paid".into(), 3, "1500.00".into(), json!("5.00")),
            ("rejected".into(), 1, "600.00".into(), Value::Null),
            ("requested".into(), 1, "500.00".into(), Value::Null),
        ]
    );
    let by_method = report("method").await;
    assert_eq!(
        rows(&by_method),
        [
            ("bank".into(), 1, "600.00".into(), Value::Null),
            ("bkash".into(), 3, "1700.00".into(), json!("16.00")),
            ("nagad".into(), 2, "1000.00".into(), json!("5.00")),
        ]
    );
    for r in [&by_status, &by_method] {
        let t = &r["totals"];
        assert_eq!(
            (t["count"].as_i64(), t["amount"].as_str(), t["median_hours_to_paid"].as_str()),
            (Some(6), Some("3300.00"), Some("5.00"))
        );
    }
}

#[tokio::test]
async fn a_closed_period_shows_who_advanced_in_rank_and_its_bonuses_in_the_commissions_report() {
    let app = TestApp::spawn().await;
    let (chain, period) = last_months_team(&app).await;
    let close = format!("/v1/admin/periods/{period}/close");
    assert_eq!(app.admin("POST", &close, None).await.0, StatusCode::ACCEPTED);
    quiescent(&app.pool).await;

    let (status, report) = app.admin("GET", &format!("/v1/admin/reports/rank-advancement?period={period}"), None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let advanced: Vec<(String, Value, String)> = report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["member_id"].as_str().unwrap_or_default().to_owned(),
                r["from_rank"].clone(),
                r["to_rank"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let id = |i: usize| chain[i]["id"].as_str().unwrap_or_default().to_owned();
    // Group PV: root 100 (gold), then 60 and 40 (silver), 20 (none); names are "Member 0" … "Member 3".
    assert_eq!(
        advanced,
        [
            (id(0), Value::Null, "gold".into()),
            (id(1), Value::Null, "silver".into()),
            (id(2), Value::Null, "silver".into())
        ]
    );
    let csv = app
        .http
        .get(format!("{}/v1/admin/reports/rank-advancement?period={period}&format=csv", app.base))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("csv");
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap_or_default()
            .starts_with("attachment; filename=\"rank_advancement_"),
        "{:?}",
        csv.headers()
    );
    let text = csv.text().await.expect("body");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "interval_start,interval_end,member_id,name,from_rank,to_rank,paid_as_rank");
    let csv_rows: Vec<(String, String)> = lines[1..]
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[2].to_owned(), f[5].to_owned())
        })
        .collect();
    let json_rows: Vec<(String, String)> = advanced.iter().map(|(m, _, to)| (m.clone(), to.clone())).collect();
    assert_eq!(csv_rows, json_rows, "the CSV has the JSON's rows: {text}");
    assert_eq!(
        app.admin("GET", "/v1/admin/reports/rank-advancement?period=2026-13", None).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.admin("GET", "/v1/admin/reports/rank-advancement?period=2019-01", None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.admin("GET", "/v1/admin/reports/rank-advancement", None).await.0, StatusCode::BAD_REQUEST);

    // Bonuses: the root 100.00 + 1% of 1,500.00 BV, the next two 100.00 each; one level of 10% on
    // 300.00 BV to each sponsor (five orders: the root's of two units pays no one).
    let by_kind = commissions(&app, "kind").await;
    let kinds: Vec<Vec<String>> = commission_rows(&by_kind["rows"]);
    assert_eq!(
        kinds,
        [
            texts(&["bonus", "315.00", "0.00", "0.00", "0.00", "0.00", "0.000000", "315.00"]),
            texts(&["level", "90.00", "0.00", "0.00", "0.00", "0.00", "0.000000", "90.00"]),
        ]
    );
    let (status, top) =
        app.admin("GET", "/v1/admin/reports/top-earners?from=2026-01-01&to=2030-01-01&limit=2", None).await;
    assert_eq!(status, StatusCode::OK, "{top}");
    let earners: Vec<(String, String, String)> = top["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let text = |f: &str| r[f].as_str().unwrap_or_default().to_owned();
            (text("member_id"), text("name"), text("earned"))
        })
        .collect();
    // The root: 115.00 of bonuses + 30.00 of level 1; the next: 100.00 + 30.00.
    assert_eq!(earners, [(id(0), "Member 0".into(), "145.00".into()), (id(1), "Member 1".into(), "130.00".into())]);
    assert_eq!(
        app.admin("GET", "/v1/admin/reports/top-earners?from=2026-01-01&to=2030-01-01&limit=0", None).await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_member_reads_its_own_earnings_and_another_members_are_not_found() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let kit = app.create_product("KIT-1", "15000.00", "12000.00", 10).await;
    let chain = app.create_chain(3).await;
    let order = app.place_order(&chain[2], &kit, 1, "cod").await;
    app.send_event("couriers", &delivered_event(&order)).await;
    wallet_reaches(&app, &chain[0], "pending", "600.00").await;
    let key_of = |m: &Value| json!({"role": "member", "member_id": m["id"]});
    let (_, own) = app.admin("POST", "/v1/admin/api-keys", Some(&key_of(&chain[1]))).await;
    let token = own["token"].as_str().unwrap_or_default().to_owned();

    let earnings = |m: &Value, group: &str| {
        format!(
            "/v1/members/{}/earnings?from=2026-01-01&to=2030-01-01&group_by={group}",
            m["id"].as_str().unwrap_or_default()
        )
    };
    let (status, mine) = app.call("GET", &earnings(&chain[1], "kind"), &token, None).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(
        commission_rows(&mine["rows"]),
        [texts(&["level", "1200.00", "0.00", "0.00", "0.00", "0.00", "0.000000", "1200.00"])]
    );
    let (status, by_month) = app.call("GET", &earnings(&chain[1], "month"), &token, None).await;
    assert_eq!((status, by_month["totals"]["accrued"].as_str()), (StatusCode::OK, Some("1200.00")));
    for other in [&chain[0], &chain[2]] {
        let (status, problem) = app.call("GET", &earnings(other, "kind"), &token, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    }
    let stranger = format!("/v1/members/{}/earnings?from=2026-01-01&to=2030-01-01", uuid::Uuid::new_v4());
    assert_eq!(app.admin("GET", &stranger, None).await.0, StatusCode::NOT_FOUND);
    let (status, problem) = app.call("GET", &earnings(&chain[1], "level"), &token, None).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("group_by")));
    for admin_only in ["sales", "commissions", "liabilities", "payouts", "top-earners"] {
        let path = format!("/v1/admin/reports/{admin_only}?from=2026-01-01&to=2030-01-01");
        assert_eq!(app.call("GET", &path, &token, None).await.0, StatusCode::FORBIDDEN, "{admin_only}");
    }
}

#[tokio::test]
async fn points_credited_spent_and_expired_show_in_the_credit_bucket_and_the_reports_to_the_paisa() {
    let app = TestApp::spawn().await;
    let mut plan = five_level_plan(7);
    plan["order_cashback_rate"] = json!("0.02");
    plan["order_cashback_reward"] = json!("credit");
    plan["points_expiry_days"] = json!(30);
    app.create_plan(plan).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let soap = app.create_product("SOAP-1", "100.00", "50.00", 100).await;
    let chain = app.create_chain(2).await;
    let t0 = boundary(&app).await;

    // Points of 2%: 9.00 and 2.00, held a week like the sponsor's 30.00 and 5.00.
    // Delivered one after the other, so the tea's lot is the older (spent first).
    let older = app.place_order(&chain[1], &tea, 1, "cod").await;
    app.send_event("couriers", &delivered_event(&older)).await;
    wallet_reaches(&app, &chain[0], "pending", "30.00").await;
    let newer = app.place_order(&chain[1], &soap, 1, "cod").await;
    app.send_event("couriers", &delivered_event(&newer)).await;
    wallet_reaches(&app, &chain[0], "pending", "35.00").await;
    let_days_pass(&app, 8).await;
    wallet_reaches(&app, &chain[1], "credit", "11.00").await;
    // 5.00 of it spent at checkout (out of the older lot); that order earns 2.00 more, held.
    let mut body = order_body(&chain[1], &soap, 1, "cod");
    body["store_credit"] = json!("5.00");
    let key = uuid::Uuid::new_v4().to_string();
    let (status, third) = app
        .call_with("POST", "/v1/orders", &app.admin_token, Some(body.to_string()), &[("idempotency-key", &key)])
        .await;
    assert_eq!(status, StatusCode::CREATED, "{third}");
    app.send_event("couriers", &delivered_event(&third)).await;
    wallet_reaches(&app, &chain[0], "pending", "5.00").await;
    // The older lot's 4.00 left expire.
    sqlx::query("UPDATE order_rewards SET expires_at = now() - interval '1 second' WHERE order_id = $1::uuid")
        .bind(older["id"].as_str())
        .execute(&app.pool)
        .await
        .expect("let the older lot age");
    let (status, queued) = app.admin("POST", "/v1/admin/loyalty/expire", None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    wallet_reaches(&app, &chain[1], "credit", "2.00").await;
    let t1 = boundary(&app).await;
    let job = format!("/v1/admin/jobs/{}", queued["job_id"].as_str().unwrap_or_default());
    assert_eq!(app.admin("GET", &job, None).await.1["result"], json!({"lots_expired": 1}));

    let report = liabilities(&app, t0, t1).await;
    assert_eq!(
        figures(&report),
        [
            bucket("pending", "0.00", &[("commission", "40.00"), ("release", "-35.00")], "5.00"),
            bucket("available", "0.00", &[("release", "35.00")], "35.00"),
            bucket("reserved", "0.00", &[], "0.00"),
            bucket(
                "credit",
                "0.00",
                &[("order_points", "11.00"), ("points_expired", "-4.00"), ("store_credit_spent", "-5.00")],
                "2.00"
            ),
        ]
    );
    let by_kind = commissions(&app, "kind").await;
    assert_eq!(
        commission_rows(&by_kind["rows"]),
        [
            texts(&["level", "40.00", "35.00", "0.00", "0.00", "0.00", "0.000000", "40.00"]),
            texts(&["order_reward", "11.00", "0.00", "0.00", "0.00", "0.00", "0.000000", "11.00"]),
        ]
    );
    let by_day = sales(&app, "category").await;
    assert_eq!(
        sales_rows(&by_day["rows"]),
        [texts(&["grocery", "3", "3", "650.00", "0.00", "5.00", "0.00", "645.00", "60.00", "400.00", "0.00", "0.00"])]
    );
}

#[tokio::test]
async fn a_campaign_payout_is_cashback_accrued_and_a_pending_movement_in_the_reports() {
    use haat_domain::seed::{self, SeedMember, SeedPurchase};
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let body = json!({"sku": "COURSE-A", "name": "COURSE-A", "category": "courses", "price": "1500.00", "pv": "1.00",
                      "bv": "1.00", "stock": 1000, "commissionable": true});
    let (status, course) = app.admin("POST", "/v1/admin/products", Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{course}");
    // Three buyers, one unit each, credited inside the campaign's window (seeded).
    let root = SeedMember { id: uuid::Uuid::now_v7(), parent_id: None };
    let buyers: Vec<SeedMember> =
        (0..3).map(|_| SeedMember { id: uuid::Uuid::now_v7(), parent_id: Some(root.id) }).collect();
    let mut rows = vec![root.clone()];
    rows.extend(buyers.iter().cloned());
    let plan: uuid::Uuid = sqlx::query_scalar("SELECT id FROM plans LIMIT 1").fetch_one(&app.pool).await.expect("plan");
    let product: uuid::Uuid = course["id"].as_str().and_then(|s| s.parse().ok()).expect("product id");
    let now = Utc::now();
    let purchases: Vec<SeedPurchase> = buyers
        .iter()
        .map(|b| SeedPurchase { buyer_id: b.id, quantity: 1, credited_at: now - chrono::Duration::days(2) })
        .collect();
    let mut conn = app.pool.acquire().await.expect("connection");
    seed::members(&mut conn, &rows, "BDT").await.expect("members");
    seed::credited_orders(&mut conn, product, plan, &purchases, chrono_tz::UTC, "BDT", true).await.expect("orders");
    drop(conn);
    let t0 = boundary(&app).await;

    // Reached: 10% of 1,500.00 to each buyer, held in pending.
    let campaign = json!({"name": "Course launch", "scope": {"kind": "product", "product_id": course["id"]},
        "starts_at": (now - chrono::Duration::days(3)).to_rfc3339(), "ends_at": (now - chrono::Duration::hours(2)).to_rfc3339(),
        "time_zone": "Asia/Dhaka", "settle_at": null, "rate": "0.10", "trigger": "reached", "min_units": 3,
        "max_units": 100, "min_value": null, "max_value": null, "per_buyer_limit": 1, "reward": "cash", "budget": null});
    let (status, c) = app.admin("POST", "/v1/admin/campaigns", Some(&campaign)).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    eventually("the campaign settled", || async {
        let (_, got) =
            app.admin("GET", &format!("/v1/admin/campaigns/{}", c["id"].as_str().unwrap_or_default()), None).await;
        (got["status"] == "settled").then_some(())
    })
    .await;
    let t1 = boundary(&app).await;

    let report = liabilities(&app, t0, t1).await;
    assert_eq!(figures(&report)[0], bucket("pending", "0.00", &[("cashback", "450.00")], "450.00"));
    let path = format!(
        "/v1/admin/reports/commissions?from={}&to={}&group_by=kind",
        urlencode(&t0.to_rfc3339()),
        urlencode(&t1.to_rfc3339())
    );
    let (status, by_kind) = app.admin("GET", &path, None).await;
    assert_eq!(status, StatusCode::OK, "{by_kind}");
    assert_eq!(
        commission_rows(&by_kind["rows"]),
        [texts(&["cashback", "450.00", "0.00", "0.00", "0.00", "0.00", "0.000000", "450.00"])]
    );
}

#[tokio::test]
async fn a_report_past_its_time_limit_is_cancelled_and_answered_503_then_answers_once_it_can_run() {
    let (url, pool) = fresh_database().await;
    let app = TestApp::spawn_on(url, pool, &[("HAAT_REPORT_TIME_LIMIT_SECONDS", "1")]).await;
    // Hold the summary every such report reads: its statement waits, and
    // the wait counts against the limit.
    let mut holding = app.pool.begin().await.expect("begin");
    sqlx::query("LOCK TABLE ledger_hours IN ACCESS EXCLUSIVE MODE").execute(&mut *holding).await.expect("lock");
    for path in [
        "/v1/admin/reports/commissions?from=2026-01-01&to=2030-01-01&group_by=kind",
        "/v1/admin/reports/liabilities?from=2026-01-01&to=2030-01-01",
    ] {
        let (status, problem) = app.admin("GET", path, None).await;
        assert_eq!(
            (status, problem["title"].as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, Some("Took too long")),
            "{path}"
        );
    }
    holding.rollback().await.expect("release");
    let (status, report) =
        app.admin("GET", "/v1/admin/reports/commissions?from=2026-01-01&to=2030-01-01&group_by=kind", None).await;
    assert_eq!((status, report["totals"]["accrued"].as_str()), (StatusCode::OK, Some("0.00")), "{report}");
}
