//! B2B: a business account's members buy at their tier's price list with
//! its quantity breaks; each line records the list and the break that
//! priced it, BV follows the price paid (unless the list sets it), and the
//! upline's commissions are on that BV. The account has its own orders,
//! spend and points.

use haat_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap_or_default()
}

async fn delivered(app: &TestApp, order: &Value) {
    assert_eq!(app.send_event("couriers", &delivered_event(order)).await.0, StatusCode::OK);
    quiescent(&app.pool).await;
}

/// An order of several lines for `buyer` (admin key).
async fn order_of(app: &TestApp, buyer: &Value, lines: &[(&Value, i64)]) -> Value {
    let mut body = order_body(buyer, lines[0].0, lines[0].1, "cod");
    body["lines"] = lines.iter().map(|(p, q)| json!({"product_id": p["id"], "quantity": q})).collect();
    app.place_order_body(&body).await
}

async fn member_under(app: &TestApp, sponsor: &Value, name: &str) -> Value {
    let body = json!({"name": name, "email": format!("{}@example.com", uuid::Uuid::new_v4().simple()),
                      "sponsor_code": sponsor["referral_code"]});
    let (status, m) = app.admin("POST", "/v1/members", Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    m
}

/// (unit price, PV, BV, line total, catalog price, list, break) of a line.
fn priced(line: &Value) -> [&Value; 7] {
    [
        &line["unit_price"],
        &line["pv"],
        &line["bv"],
        &line["line_total"],
        &line["catalog_price"],
        &line["price_list_id"],
        &line["quantity_break_id"],
    ]
}

#[tokio::test]
async fn a_wholesale_buyers_order_is_priced_by_its_list_and_quantity_break_and_commissions_are_on_the_price_paid() {
    let app = TestApp::spawn().await;
    app.create_plan(loyalty_plan("credit")).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 1000).await;
    let rice = app.create_product("RICE-5", "600.00", "400.00", 1000).await;
    let chain = app.create_chain(3).await;
    let (root, sponsor, buyer) = (&chain[0], &chain[1], &chain[2]);
    let colleague = member_under(&app, root, "Colleague").await;

    // Before the account: the catalog price, and 10% / 5% of the product's BV.
    let retail = app.place_order(buyer, &tea, 1, "cod").await;
    let retail_line = priced(&retail["lines"][0]);
    assert_eq!(
        retail_line,
        [
            &json!("450.00"),
            &json!("20.00"),
            &json!("300.00"),
            &json!("450.00"),
            &Value::Null,
            &Value::Null,
            &Value::Null
        ]
    );
    delivered(&app, &retail).await;

    let list = json!({"name": "Wholesale 2026", "tier": "wholesale",
        "entries": [{"product_id": id(&tea), "price": "360.00"},
                    {"product_id": id(&rice), "price": "500.00", "pv": "15.00", "bv": "250.00"}],
        "breaks": [{"product_id": id(&tea), "min_quantity": 10, "rate": "0.05"},
                   {"product_id": id(&tea), "min_quantity": 50, "rate": "0.10"},
                   {"category": "grocery", "min_quantity": 20, "rate": "0.03"}]});
    let (status, list) = app.admin("POST", "/v1/admin/price-lists", Some(&list)).await;
    assert_eq!(status, StatusCode::CREATED, "{list}");
    let break_of = |product: Option<&Value>, min: i64| {
        let breaks = list["breaks"].as_array().cloned().unwrap_or_default();
        let found = breaks
            .into_iter()
            .find(|b| b["min_quantity"] == min && b["product_id"] == product.map_or(Value::Null, |p| p["id"].clone()));
        found.map(|b| b["id"].clone()).unwrap_or_default()
    };
    let account = json!({"name": "Dhaka Traders", "tier": "wholesale", "member_ids": [id(buyer)]});
    let (status, account) = app.admin("POST", "/v1/admin/business-accounts", Some(&account)).await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    let path = format!("/v1/admin/business-accounts/{}", id(&account));
    let (status, _) = app.admin("POST", &format!("{path}/members"), Some(&json!({"member_id": id(&colleague)}))).await;
    assert_eq!(status, StatusCode::OK);

    // 12 tea (the tea break from 10: 5% off 360.00) and 8 rice (20 grocery
    // units: the category's 3% off 500.00).
    let order = order_of(&app, buyer, &[(&tea, 12), (&rice, 8)]).await;
    let l = &list["id"];
    assert_eq!(
        priced(&order["lines"][0]),
        [
            &json!("342.00"),
            &json!("20.00"),
            &json!("228.00"),
            &json!("4104.00"),
            &json!("450.00"),
            l,
            &break_of(Some(&tea), 10)
        ]
    );
    assert_eq!(
        priced(&order["lines"][1]),
        [
            &json!("485.00"),
            &json!("15.00"),
            &json!("242.50"),
            &json!("3880.00"),
            &json!("600.00"),
            l,
            &break_of(None, 20)
        ]
    );
    assert_eq!(
        (&order["subtotal"], &order["pv"], &order["bv"]),
        (&json!("7984.00"), &json!("360.00"), &json!("4676.00"))
    );
    assert_eq!(order["business_account_id"], account["id"]);
    delivered(&app, &order).await;

    // 50 tea: the product's own 10% break (324.00, BV 216.00) before the category's.
    let big = order_of(&app, &colleague, &[(&tea, 50)]).await;
    assert_eq!(
        priced(&big["lines"][0]),
        [
            &json!("324.00"),
            &json!("20.00"),
            &json!("216.00"),
            &json!("16200.00"),
            &json!("450.00"),
            l,
            &break_of(Some(&tea), 50)
        ]
    );
    delivered(&app, &big).await;

    // Level 1 pays 10% of the BV paid, level 2 5%: the sponsor 30.00 retail
    // + 273.60 + 194.00; the root 15.00 + 136.80 + 97.00, and 1080.00 as the
    // colleague's sponsor.
    wallet_reaches(&app, sponsor, "pending", "497.60").await;
    wallet_reaches(&app, root, "pending", "1328.80").await;

    // The account's own history and rewards: 2% points on each of its orders.
    let (status, seen) = app.admin("GET", &path, None).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!((&seen["orders"], &seen["spend"]), (&json!(2), &json!("24184.00")));
    assert_eq!((&seen["points_earned"], &seen["points_left"]), (&json!("483.68"), &json!("0.00")));
    let members: Vec<&Value> = seen["members"].as_array().into_iter().flatten().map(|m| &m["member_id"]).collect();
    assert_eq!(members, [&buyer["id"], &colleague["id"]]);
    let (_, orders) = app.admin("GET", &format!("{path}/orders"), None).await;
    let ids: Vec<&Value> = orders["items"].as_array().into_iter().flatten().map(|o| &o["id"]).collect();
    assert_eq!(ids, [&big["id"], &order["id"]], "newest first; the retail order is not the account's");
    assert_eq!(ledger_totals(&app.pool).await, (rust_decimal::Decimal::ZERO, 0));
    assert_eq!(failed_audit_checks(&app).await, Vec::<(String, Vec<String>)>::new());
}

#[tokio::test]
async fn a_bad_price_list_or_account_is_refused_naming_the_field_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 10).await;
    let good = json!({"name": "Wholesale", "tier": "wholesale",
        "entries": [{"product_id": id(&tea), "price": "360.00"}],
        "breaks": [{"product_id": id(&tea), "min_quantity": 10, "rate": "0.05"}]});
    let with = |path: &[&str], value: Value| {
        let mut body = good.clone();
        let mut at = &mut body;
        for step in &path[..path.len() - 1] {
            at = match step.parse::<usize>() {
                Ok(i) => &mut at[i],
                Err(_) => &mut at[*step],
            };
        }
        at[path[path.len() - 1]] = value;
        body
    };
    let cases = [
        (with(&["tier"], json!("Whole Sale")), "tier"),
        (with(&["entries", "0", "price"], json!("0.00")), "entries[0].price"),
        (with(&["entries", "0", "product_id"], json!(uuid::Uuid::now_v7())), "entries[0].product_id"),
        (with(&["breaks", "0", "min_quantity"], json!(1)), "breaks[0].min_quantity"),
        (with(&["breaks", "0", "rate"], json!("1.00")), "breaks[0].rate"),
        (with(&["breaks", "0", "category"], json!("grocery")), "breaks[0].product_id"),
        (with(&["name"], json!("")), "name"),
    ];
    for (body, field) in cases {
        let (status, p) = app.admin("POST", "/v1/admin/price-lists", Some(&body)).await;
        assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{p}");
    }
    // Bounds: text counted in characters, no NUL, lists of a bounded length.
    let many_entries: Vec<Value> =
        (0..10_001).map(|_| json!({"product_id": uuid::Uuid::now_v7(), "price": "1.00"})).collect();
    let many_breaks: Vec<Value> =
        (0..1_001).map(|i| json!({"category": "grocery", "min_quantity": i + 2, "rate": "0.01"})).collect();
    let bounded = [
        (with(&["name"], json!("আ".repeat(201))), "name"),
        (with(&["name"], json!("Whole\u{0}sale")), "name"),
        (with(&["entries"], json!(many_entries)), "entries"),
        (with(&["breaks"], json!(many_breaks)), "breaks"),
        (with(&["colour"], json!("gold")), "colour"),
    ];
    for (body, field) in bounded {
        let (status, p) = app.admin("POST", "/v1/admin/price-lists", Some(&body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {p}");
        assert!(p.to_string().contains(field), "{field}: {p}");
    }
    assert_eq!(app.admin("GET", "/v1/admin/price-lists", None).await.1["items"], json!([]));
    let (status, kept) =
        app.admin("POST", "/v1/admin/price-lists", Some(&with(&["name"], json!("আ".repeat(200))))).await;
    assert_eq!((status, kept["name"].as_str().map(|n| n.chars().count())), (StatusCode::CREATED, Some(200)));

    let member = &app.create_chain(1).await[0];
    let too_many: Vec<uuid::Uuid> = (0..1_001).map(|_| uuid::Uuid::now_v7()).collect();
    for (body, field) in [
        (json!({"name": "আ".repeat(201), "tier": "wholesale"}), "name"),
        (json!({"name": "Tra\u{0}ders", "tier": "wholesale"}), "name"),
        (json!({"name": "Traders", "tier": "wholesale", "member_ids": too_many}), "member_ids"),
        (json!({"name": "Traders", "tier": "wholesale", "credit_limit": "5"}), "credit_limit"),
    ] {
        let (status, p) = app.admin("POST", "/v1/admin/business-accounts", Some(&body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {p}");
        assert!(p.to_string().contains(field), "{field}: {p}");
    }
    let unknown = json!({"name": "Traders", "tier": "wholesale", "member_ids": [uuid::Uuid::now_v7()]});
    let (status, p) = app.admin("POST", "/v1/admin/business-accounts", Some(&unknown)).await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("member_ids[0]")));
    let first = json!({"name": "Traders", "tier": "wholesale", "member_ids": [id(member)]});
    assert_eq!(app.admin("POST", "/v1/admin/business-accounts", Some(&first)).await.0, StatusCode::CREATED);
    let second = json!({"name": "Other traders", "tier": "wholesale", "member_ids": [id(member)]});
    let (status, p) = app.admin("POST", "/v1/admin/business-accounts", Some(&second)).await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::CONFLICT, Some("member_ids[0]")), "{p}");
    let accounts: i64 =
        sqlx::query_scalar("SELECT count(*) FROM business_accounts").fetch_one(&app.pool).await.expect("count");
    assert_eq!(accounts, 1, "the refused accounts wrote nothing");
}
