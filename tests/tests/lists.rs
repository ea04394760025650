//! Every list pages the same way: `?limit=` (default 50, at most 200) and
//! `?cursor=`, answering `{"items", "next_cursor"}`, newest first; a walk
//! of the pages gives every item exactly once.

use std::collections::HashSet;

use haat_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Walks `path` a page of `limit` at a time; returns every item's id in
/// the order given and the number of pages.
async fn walk(app: &TestApp, path: &str, limit: usize) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let after = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let (status, page) = app.admin("GET", &format!("{path}{sep}limit={limit}{after}"), None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        let items = page["items"].as_array().cloned().unwrap_or_default();
        assert!(items.len() <= limit, "{path}: a page holds at most its limit");
        ids.extend(items.iter().filter_map(|i| i["id"].as_str().map(str::to_owned)));
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return (ids, pages),
        }
    }
}

fn newest_first(ids: &[String]) -> bool {
    ids.windows(2).all(|w| w[0] > w[1])
}

#[tokio::test]
async fn a_cursor_walk_over_250_coupons_returns_each_exactly_once_newest_first() {
    let app = TestApp::spawn().await;
    let mut made = Vec::new();
    for i in 0..250 {
        let body = json!({"code": format!("C{i:03}"), "kind": "fixed", "value": "10.00",
                          "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z"});
        let (status, c) = app.admin("POST", "/v1/admin/coupons", Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        made.push(c["id"].as_str().unwrap_or_default().to_owned());
    }
    let (walked, pages) = walk(&app, "/v1/admin/coupons", 40).await;
    assert_eq!(pages, 7, "six full pages of 40 and one of 10");
    assert_eq!(walked.len(), 250);
    assert_eq!(walked.iter().collect::<HashSet<_>>().len(), 250, "each exactly once");
    made.reverse();
    assert_eq!(walked, made, "newest first");
    // The default page is 50; more than 200 is refused naming limit.
    let (_, first) = app.admin("GET", "/v1/admin/coupons", None).await;
    assert_eq!(first["items"].as_array().map(Vec::len), Some(50));
    let (status, p) = app.admin("GET", "/v1/admin/coupons?limit=201", None).await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("limit")));
    let (status, p) = app.admin("GET", "/v1/admin/coupons?cursor=not-ours", None).await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("cursor")));
}

#[tokio::test]
async fn plans_campaigns_flash_sales_pickup_points_and_api_keys_page_the_same_way() {
    let app = TestApp::spawn().await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(1).await;
    for i in 0..3 {
        app.create_plan(json!({"name": format!("Plan {i}"), "effective_from": format!("2026-0{}-01T00:00:00Z", i + 1),
                               "credit_on": "delivered", "holding_days": 7, "levels": ["0.10"]}))
            .await;
        let writes: [(&str, Value); 4] = [
            (
                "/v1/admin/campaigns",
                json!({"name": format!("Eid {i}"), "scope": {"kind": "all"},
                "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-12-31T00:00:00Z", "trigger": "reached",
                "min_units": 1, "rate": "0.10"}),
            ),
            (
                "/v1/admin/flash-sales",
                json!({"product_id": tea["id"], "price": "400.00",
                "starts_at": format!("2026-12-0{}T00:00:00Z", i + 1), "ends_at": format!("2026-12-0{}T12:00:00Z", i + 1)}),
            ),
            ("/v1/admin/pickup-points", json!({"name": format!("Point {i}"), "operator_id": chain[0]["id"]})),
            ("/v1/admin/api-keys", json!({"role": "storefront"})),
        ];
        for (path, body) in writes {
            let (status, made) = app.admin("POST", path, Some(&body)).await;
            assert_eq!(status, StatusCode::CREATED, "{path}: {made}");
        }
    }
    for path in
        ["/v1/admin/plans", "/v1/admin/campaigns", "/v1/admin/flash-sales", "/v1/pickup-points", "/v1/admin/api-keys"]
    {
        let (ids, pages) = walk(&app, path, 2).await;
        assert_eq!((ids.len(), pages), (3, 2), "{path}: {ids:?}");
        assert!(newest_first(&ids), "{path}: {ids:?}");
    }
    // Keys are listed without their secrets, revoked ones too.
    let (_, keys) = app.admin("GET", "/v1/admin/api-keys", None).await;
    let first = keys["items"][0].clone();
    let id = first["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(app.admin("DELETE", &format!("/v1/admin/api-keys/{id}"), None).await.0, StatusCode::NO_CONTENT);
    let (_, keys) = app.admin("GET", "/v1/admin/api-keys", None).await;
    for key in keys["items"].as_array().into_iter().flatten() {
        assert!(key.get("token").is_none() && key.get("token_hash").is_none(), "{key}");
    }
    assert_eq!(keys["items"][0]["role"], "storefront");
    assert!(keys["items"][0]["revoked_at"].is_string(), "{keys}");
    assert!(keys["items"][1]["revoked_at"].is_null(), "{keys}");
}

#[tokio::test]
async fn a_members_orders_the_payout_queue_by_status_and_member_search_are_lists_too() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(0)).await;
    let gold = app.create_product("GOLD-1", "15000.00", "12000.00", 100).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(2).await;
    let (earner, buyer) = (&chain[0], &chain[1]);
    let mut placed = Vec::new();
    for product in [&gold, &tea, &tea] {
        let order = app.place_order(buyer, product, 1, "cod").await;
        placed.push(order["id"].as_str().unwrap_or_default().to_owned());
    }
    let buyer_id = buyer["id"].as_str().unwrap_or_default();
    let (ids, pages) = walk(&app, &format!("/v1/members/{buyer_id}/orders"), 2).await;
    placed.reverse();
    assert_eq!((ids, pages), (placed.clone(), 2));
    let (_, page) = app.admin("GET", &format!("/v1/members/{buyer_id}/orders?limit=1"), None).await;
    assert_eq!(
        (page["items"][0]["total"].as_str(), page["items"][0]["status"].as_str()),
        (Some("450.00"), Some("pending_payment"))
    );
    // A member key reads its own orders, and nobody else's.
    let (_, key) =
        app.admin("POST", "/v1/admin/api-keys", Some(&json!({"role": "member", "member_id": earner["id"]}))).await;
    let token = key["token"].as_str().unwrap_or_default();
    let earner_id = earner["id"].as_str().unwrap_or_default();
    assert_eq!(app.call("GET", &format!("/v1/members/{buyer_id}/orders"), token, None).await.0, StatusCode::NOT_FOUND);
    let (status, own) = app.call("GET", &format!("/v1/members/{earner_id}/orders"), token, None).await;
    assert_eq!((status, own["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)));

    // The gold order pays its upline 1200.00 at once (no hold): two
    // withdrawals of 500.00, one approved.
    let first_order = app.admin("GET", &format!("/v1/orders/{}", placed[2]), None).await.1;
    assert_eq!(app.send_event("couriers", &delivered_event(&first_order)).await.0, StatusCode::OK);
    wallet_reaches(&app, earner, "available", "1200.00").await;
    let mut made = Vec::new();
    for n in 0..2 {
        let body = json!({"amount": "500.00", "method": "bkash", "account": "01711000000"}).to_string();
        let key = format!("w-{n}");
        let (status, w) = app
            .call_with(
                "POST",
                &format!("/v1/members/{earner_id}/withdrawals"),
                &app.admin_token,
                Some(body),
                &[("idempotency-key", &key)],
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{w}");
        made.push(w["id"].as_str().unwrap_or_default().to_owned());
    }
    let (status, w) = app.admin("POST", &format!("/v1/admin/withdrawals/{}/approve", made[0]), Some(&json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{w}");
    let listed = |status: &'static str| {
        let app = &app;
        async move {
            let (s, page) = app.admin("GET", &format!("/v1/admin/withdrawals{status}"), None).await;
            assert_eq!(s, StatusCode::OK, "{page}");
            page["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|w| w["id"].as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed("").await, [made[1].clone(), made[0].clone()]);
    assert_eq!(listed("?status=requested").await, [made[1].clone()]);
    assert_eq!(listed("?status=approved").await, [made[0].clone()]);
    assert_eq!(listed("?status=paid").await, Vec::<String>::new());
    let (status, p) = app.admin("GET", "/v1/admin/withdrawals?status=lost", None).await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("status")));

    // Members by email (any case), phone or referral code (any case).
    let body = json!({"name": "Rahima", "email": "Rahima@Example.com", "phone": "+8801811000000"});
    let (_, rahima) = app.admin("POST", "/v1/members", Some(&body)).await;
    let code = rahima["referral_code"].as_str().unwrap_or_default().to_lowercase();
    for q in ["rahima@example.com", "%2B8801811000000", code.as_str()] {
        let (_, found) = app.admin("GET", &format!("/v1/admin/members?q={q}"), None).await;
        let ids: Vec<&Value> = found["items"].as_array().into_iter().flatten().map(|m| &m["id"]).collect();
        assert_eq!(ids, [&rahima["id"]], "q={q}: {found}");
    }
    let (status, p) = app.admin("GET", &format!("/v1/admin/members?q={}", "ক".repeat(255)), None).await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("q")), "{p}");
    let (status, _) = app.admin("GET", &format!("/v1/admin/members?q={}", "ক".repeat(254)), None).await;
    assert_eq!(status, StatusCode::OK, "254 Bengali letters are within the bound");
    let (_, nobody) = app.admin("GET", "/v1/admin/members?q=nobody@example.com", None).await;
    assert_eq!(nobody["items"], json!([]));
    let (all, _) = walk(&app, "/v1/admin/members", 2).await;
    assert_eq!(all.len(), 3);
}
