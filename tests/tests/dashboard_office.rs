//! The office's pages through the real api and worker: finding a member
//! and placing, suspending and reinstating it (a move into its own
//! downline refused with the reason shown), and a dead job retried from the
//! jobs page until its email is really sent. Each page passes axe-core.

use haat_tests::browser::Browser;
use haat_tests::web::{self, admin_session, hidden};
use haat_tests::*;
use reqwest::StatusCode;
use serde_json::Value;

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap_or_default()
}

/// Signs the office in with the admin key, in `browser`.
async fn office_signs_in(app: &TestApp, browser: &Browser) {
    browser.open(&format!("{}/app/sign-in", app.base)).await;
    browser.type_into("#key", &app.admin_token).await;
    browser.click("#admin-sign-in button[type=submit]").await;
    eventually("the overview", || async { (browser.path().await == "/app").then_some(()) }).await;
    let found = browser.accessibility_violations().await;
    assert!(found.is_empty(), "overview: {found:#?}");
}

async fn parent_of(app: &TestApp, member: &Value) -> Option<uuid::Uuid> {
    let id: uuid::Uuid = id(member).parse().expect("id");
    sqlx::query_scalar("SELECT parent_id FROM members WHERE id = $1").bind(id).fetch_one(&app.pool).await.expect("row")
}

#[tokio::test]
async fn in_a_real_browser_the_office_finds_a_member_and_a_move_into_its_own_downline_is_refused_with_the_reason() {
    let (app, chain, _) = delivered_and_held().await;
    let browser = Browser::start().await;
    office_signs_in(&app, &browser).await;
    browser.click("header nav a[href='/app/members']").await;
    browser.type_into("#q", chain[0]["email"].as_str().unwrap_or_default()).await;
    browser.click("#member-search button[type=submit]").await;
    let found = format!("#members tr[data-member='{}'] a", id(&chain[0]));
    assert_eq!(browser.text_once_shown(&found).await, "Member 0");
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "members: {violations:#?}");
    browser.click(&found).await;
    assert_eq!(browser.text_once_shown("h1").await, "Member 0's wallet");
    assert_eq!(browser.text("#pending").await, "৳15.00");
    assert_eq!(browser.text("#member-status").await, "active");
    browser.screenshot("admin-member").await;
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "a member's page with the office's panel: {violations:#?}");

    browser.type_into("#parent", chain[2]["referral_code"].as_str().unwrap_or_default()).await;
    browser.click("#placement button[type=submit]").await;
    let refusal = browser.text_once_shown("p.problem").await;
    assert_eq!(
        refusal,
        "parent_id: is the member itself or in its downline: the move would create a cycle. Nothing was done."
    );
    assert_eq!(parent_of(&app, &chain[0]).await, None, "nothing moved");
    browser.close().await;
}

#[tokio::test]
async fn the_office_places_suspends_and_reinstates_a_member_each_once_per_form() {
    let (app, chain, _) = delivered_and_held().await;
    let admin = admin_session(&app).await;
    let page_of = |member: &Value| format!("/app/members/{}", id(member));
    let (_, page) = web::page(&app, &admin, &page_of(&chain[2])).await;
    let place = format!("{}/placement", page_of(&chain[2]));
    let (csrf, key) = (hidden(&page, "id=\"placement\"", "csrf"), hidden(&page, "id=\"placement\"", "idempotency_key"));
    let under_top = [
        ("csrf", csrf.as_str()),
        ("idempotency_key", &key),
        ("parent", chain[0]["email"].as_str().unwrap_or_default()),
    ];
    let moved = web::post(&app, &admin, &place, &under_top).await;
    assert_eq!(moved, (StatusCode::SEE_OTHER, Some(format!("{}/team", page_of(&chain[2])))));
    assert_eq!(web::post(&app, &admin, &place, &under_top).await, moved, "a repost gets the first answer");
    assert_eq!(parent_of(&app, &chain[2]).await.map(|p| p.to_string()), Some(id(&chain[0]).to_owned()));
    let nobody = [("csrf", csrf.as_str()), ("idempotency_key", "k-nobody"), ("parent", "nobody@example.com")];
    let (status, _) = web::post(&app, &admin, &place, &nobody).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let status_of = |member: &Value| {
        let id: uuid::Uuid = id(member).parse().expect("id");
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT status FROM members WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .expect("row")
        }
    };
    let flip = |page: String| {
        let path = format!("{}/status", page_of(&chain[1]));
        let (app, admin) = (&app, &admin);
        async move {
            let fields = [
                ("csrf", hidden(&page, "member-status-form", "csrf")),
                ("idempotency_key", hidden(&page, "member-status-form", "idempotency_key")),
                ("to", hidden(&page, "member-status-form", "to")),
            ];
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            web::post(app, admin, &path, &fields).await
        }
    };
    let (_, page) = web::page(&app, &admin, &page_of(&chain[1])).await;
    assert!(page.contains(">Suspend</button>"), "{page}");
    assert_eq!(flip(page.clone()).await.0, StatusCode::SEE_OTHER);
    assert_eq!(status_of(&chain[1]).await, "suspended");
    assert_eq!(flip(page).await.0, StatusCode::SEE_OTHER, "the same form again");
    assert_eq!(status_of(&chain[1]).await, "suspended", "is not a second flip");
    let (_, page) = web::page(&app, &admin, &page_of(&chain[1])).await;
    assert!(page.contains("<dd id=\"member-status\">suspended</dd>") && page.contains(">Reinstate</button>"), "{page}");
    flip(page).await;
    assert_eq!(status_of(&chain[1]).await, "active");
    let forged = [("csrf", "forged"), ("idempotency_key", "k-forged"), ("to", "suspended")];
    let path = format!("{}/status", page_of(&chain[1]));
    assert_eq!(web::post(&app, &admin, &path, &forged).await.0, StatusCode::FORBIDDEN);
    assert_eq!(status_of(&chain[1]).await, "active");
}

#[tokio::test]
async fn in_a_real_browser_the_office_retries_a_dead_job_and_its_email_is_sent() {
    let (mut app, order, dead, good_smtp) = dead_placed_email("100").await;
    assert!(app.terminate_worker(1).await.success());
    app.set_worker_env("HAAT_SMTP_URL", &good_smtp);
    app.start_worker().await;

    let browser = Browser::start().await;
    office_signs_in(&app, &browser).await;
    browser.click("header nav a[href='/app/jobs']").await;
    let row = format!("#jobs tr[data-job='{}']", id(&dead));
    let shown = browser.text_once_shown(&row).await;
    assert!(shown.contains("notifications") && shown.contains("21 of 21"), "{shown}");
    assert!(shown.contains(dead["key"].as_str().unwrap_or("?")), "{shown}");
    assert!(shown.contains("1 email(s) not sent"), "the last error is shown: {shown}");
    browser.screenshot("admin-jobs").await;
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "jobs: {violations:#?}");
    browser.click(&format!("{row} button[type=submit]")).await;
    assert_eq!(
        browser.text_once_shown("#no-dead-jobs").await,
        "No dead jobs: every job has run or will run by itself."
    );
    let invoice = order["invoice_no"].as_str().unwrap_or_default().to_owned();
    eventually("the placed email arrives", || async {
        app.smtp.messages().into_iter().find(|m| m.data.contains(&invoice))
    })
    .await;
    browser.close().await;
}

#[tokio::test]
async fn in_a_real_browser_the_office_settles_one_campaign_now_and_cancels_another() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let now = chrono::Utc::now();
    let campaign = |name: &str| {
        serde_json::json!({"name": name, "scope": {"kind": "product", "product_id": tea["id"]},
            "starts_at": (now - chrono::Duration::hours(1)).to_rfc3339(), "ends_at": (now + chrono::Duration::days(1)).to_rfc3339(),
            "time_zone": "Asia/Dhaka", "settle_at": null, "rate": "0.10", "trigger": "reached",
            "min_units": 1, "max_units": null, "min_value": null, "max_value": null,
            "per_buyer_limit": 1, "reward": "cash", "budget": null})
    };
    let (status, launch) = app.admin("POST", "/v1/admin/campaigns", Some(&campaign("Tea launch"))).await;
    assert_eq!(status, StatusCode::CREATED, "{launch}");
    let (_, spare) = app.admin("POST", "/v1/admin/campaigns", Some(&campaign("Spare"))).await;
    let buyer = &app.create_chain(1).await[0];
    let order = app.place_order(buyer, &tea, 1, "cod").await;
    app.send_event("couriers", &delivered_event(&order)).await;
    quiescent(&app.pool).await;

    let browser = Browser::start().await;
    office_signs_in(&app, &browser).await;
    browser.click("header nav a[href='/app/campaigns']").await;
    let row = |c: &Value| format!("#campaigns tr[data-campaign='{}']", id(c));
    assert_eq!(browser.text_once_shown(&format!("{} td.status", row(&launch))).await, "scheduled");
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "campaigns: {violations:#?}");
    browser.click(&format!("{} button[value=settle]", row(&launch))).await;
    let path = format!("/v1/admin/campaigns/{}", id(&launch));
    eventually("the campaign is settled", || async {
        let (_, c) = app.admin("GET", &path, None).await;
        (c["status"] == "settled").then_some(())
    })
    .await;
    browser.click(&format!("{} button[value=cancel]", row(&spare))).await;
    eventually("the spare is cancelled", || async {
        let text = browser.text_if_shown(&format!("{} td.status", row(&spare))).await;
        (text.as_deref() == Some("cancelled")).then_some(())
    })
    .await;
    // 10% of the one 450.00 purchase in the window.
    assert_eq!(
        browser.text(&format!("{} td.settlement", row(&launch))).await,
        "paid: 1 units, 1 purchases paid, ৳45.00"
    );
    assert_eq!(browser.text(&format!("{} td.status", row(&launch))).await, "settled");
    browser.screenshot("admin-campaigns").await;
    browser.close().await;
    wallet_reaches(&app, buyer, "pending", "45.00").await;
}

#[tokio::test]
async fn in_a_real_browser_the_office_simulates_a_draft_plan_beside_what_was_paid_and_activates_it() {
    let (app, chain, _) = delivered_and_held().await;
    let mut draft = five_level_plan(7);
    draft["name"] = serde_json::json!("Richer");
    draft["draft"] = serde_json::json!(true);
    draft["levels"] = serde_json::json!(["0.20", "0.10"]);
    let draft = app.create_plan(draft).await;
    assert_eq!(draft["draft"], true, "{draft}");

    let browser = Browser::start().await;
    office_signs_in(&app, &browser).await;
    browser.click("header nav a[href='/app/plans']").await;
    let row = format!("#plans tr[data-plan='{}']", id(&draft));
    assert_eq!(browser.text_once_shown(&format!("{row} td.status")).await, "draft");
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "plans: {violations:#?}");
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (today - chrono::Duration::days(1), today + chrono::Duration::days(1));
    browser.open(&format!("{}/app/plans/{}/simulation?from={from}&to={to}", app.base, id(&draft))).await;
    // The one order's BV 300.00: 20% and 10% under the draft, 10% and 5% as paid.
    assert_eq!(browser.text_once_shown("#sim-orders").await, "1");
    assert_eq!(browser.text("#sim-simulated").await, "৳90.00");
    assert_eq!(browser.text("#sim-actual").await, "৳45.00");
    assert_eq!(browser.text("#sim-difference").await, "৳45.00");
    let first = browser.text("#sim-members tbody tr").await;
    assert_eq!(first.split_whitespace().collect::<Vec<_>>().join(" "), "Member 1 ৳60.00 ৳30.00 ৳30.00");
    let second = format!("#sim-members tr[data-member='{}']", id(&chain[0]));
    assert_eq!(
        browser.text(&second).await.split_whitespace().collect::<Vec<_>>().join(" "),
        "Member 0 ৳30.00 ৳15.00 ৳15.00"
    );
    browser.screenshot("admin-simulation").await;
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "simulation: {violations:#?}");

    browser.open(&format!("{}/app/plans", app.base)).await;
    browser.click(&format!("{row} button[value=activate]")).await;
    eventually("the draft is active", || async {
        let text = browser.text_if_shown(&format!("{row} td.status")).await;
        (text.as_deref() == Some("active")).then_some(())
    })
    .await;
    browser.close().await;

    let admin = web::admin_session(&app).await;
    let path = format!("/app/plans/{}/simulation?from=nope&to={to}", id(&draft));
    let (status, page) = web::page(&app, &admin, &path).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("from: must be a day, YYYY-MM-DD"), "{page}");
}

#[tokio::test]
async fn the_office_reads_its_products_coupons_and_flash_sales() {
    let app = TestApp::spawn().await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let coupon = serde_json::json!({"code": "LAUNCH10", "kind": "percent", "value": "0.10", "starts_at": "2026-01-01T00:00:00Z",
                                    "ends_at": "2030-01-01T00:00:00Z", "max_uses": 10, "min_subtotal": "400.00"});
    assert_eq!(app.admin("POST", "/v1/admin/coupons", Some(&coupon)).await.0, StatusCode::CREATED);
    let sale = serde_json::json!({"product_id": tea["id"], "price": "399.00", "starts_at": "2027-01-01T00:00:00Z",
                                  "ends_at": "2027-01-02T00:00:00Z"});
    let (status, answer) = app.admin("POST", "/v1/admin/flash-sales", Some(&sale)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let admin = web::admin_session(&app).await;
    let (status, page) = web::page(&app, &admin, "/app/catalogue").await;
    assert_eq!(status, StatusCode::OK);
    for row in [
        "<tr data-sku=\"TEA-500\"><td>TEA-500</td><td>TEA-500</td><td class=\"amount\">৳450.00</td><td>20.00</td><td>300.00</td><td>100</td><td>yes</td></tr>",
        "<tr data-coupon=\"LAUNCH10\"><td>LAUNCH10</td><td>10%</td><td>1 Jan 2026 00:00 – 1 Jan 2030 00:00</td><td>0 / 10</td><td class=\"amount\">৳400.00</td></tr>",
        "<tr><td>TEA-500 (TEA-500)</td><td class=\"amount\">৳399.00</td><td>1 Jan 2027 00:00 – 2 Jan 2027 00:00</td></tr>",
    ] {
        assert!(page.contains(row), "{row} in {page}");
    }
    let member = &app.create_chain(1).await[0];
    let session = web::member_session(&app, member["email"].as_str().unwrap_or_default()).await;
    assert_eq!(web::page(&app, &session, "/app/catalogue").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn in_a_real_browser_the_office_reads_a_report_and_downloads_the_same_csv_as_the_api_serves() {
    let (app, _, _) = delivered_and_held().await;
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (today, today + chrono::Duration::days(1));
    let query = format!("from={from}&to={to}&group_by=day");

    let browser = Browser::start().await;
    office_signs_in(&app, &browser).await;
    browser.open(&format!("{}/app/reports?report=sales&{query}", app.base)).await;
    let row = browser.text_once_shown("#report-rows tbody tr").await;
    // The interval's bounds, the day, 1 order, 1 unit, gross 450.00, no discount, credit or refund, net 450.00, PV, BV,
    // and no marketplace fee or margin (the shop's own tea).
    let expected = format!(
        "{from}T00:00:00+00:00 {to}T00:00:00+00:00 {today} 1 1 450.00 0.00 0.00 0.00 450.00 20.00 300.00 0.00 0.00"
    );
    assert_eq!(row, expected);
    let totals = browser.text("#report-totals").await.split_whitespace().collect::<Vec<_>>().join(" ");
    let sums = "bv 300.00 discounts 0.00 fees 0.00 gross 450.00 net 450.00 orders 1 platform_margin 0.00 pv 20.00 refunds 0.00 \
         store_credit 0.00 units 1";
    assert_eq!(totals, sums);
    browser.screenshot("admin-reports").await;
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "reports: {violations:#?}");
    browser.close().await;

    let admin = web::admin_session(&app).await;
    let csv = |path: String| {
        let (app, admin) = (&app, &admin);
        async move {
            let answer = web::client()
                .get(format!("{}{path}", app.base))
                .header(reqwest::header::COOKIE, format!("haat_session={admin}"))
                .bearer_auth(&app.admin_token)
                .send()
                .await
                .expect("csv");
            let kind =
                answer.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            (answer.status(), kind, answer.text().await.expect("body"))
        }
    };
    let from_dashboard = csv(format!("/app/reports/csv?report=sales&{query}")).await;
    let from_api = csv(format!("/v1/admin/reports/sales?{query}&format=csv")).await;
    assert_eq!(from_dashboard.0, StatusCode::OK);
    assert!(from_dashboard.1.starts_with("text/csv"), "{}", from_dashboard.1);
    assert_eq!(from_dashboard, from_api, "the same file");
    let line = from_dashboard.2.lines().nth(1).unwrap_or_default().to_owned();
    assert!(line.contains(&format!(",{today},1,1,450.00,")), "{line}");

    let (status, page) =
        web::page(&app, &admin, &format!("/app/reports?report=sales&from={from}&to={to}&group_by=colour")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("group_by: must be"), "{page}");
    let (status, _) = web::page(&app, &admin, "/app/reports?report=everything").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_office_runs_the_books_checks_and_sees_the_one_a_changed_summary_breaks() {
    let (app, chain, _) = delivered_and_held().await;
    let admin = web::admin_session(&app).await;
    let (_, overview) = web::page(&app, &admin, "/app").await;
    assert!(overview.contains("<a id=\"run-audit\" href=\"/app/audit\">"), "{overview}");
    let (status, page) = web::page(&app, &admin, "/app/audit").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<p id=\"audit-status\" role=\"status\">Every check holds: the books balance.</p>"),
        "{page}"
    );

    let member: uuid::Uuid = id(&chain[1]).parse().expect("id");
    sqlx::query("UPDATE ledger_hours SET amount = amount + 1 WHERE member_id = $1 AND entry_kind = 'commission'")
        .bind(member)
        .execute(&app.pool)
        .await
        .expect("tamper");
    let (_, page) = web::page(&app, &admin, "/app/audit").await;
    assert!(page.contains("1 checks fail."), "{page}");
    let row = page.find("data-check=\"ledger_summary_matches_postings\"").map(|i| &page[i..]).expect("the check");
    let row = &row[..row.find("</tr>").unwrap_or(row.len())];
    assert!(row.contains("<td class=\"status\">no</td>") && row.contains(&member.to_string()), "{row}");

    let session = web::member_session(&app, chain[1]["email"].as_str().unwrap_or_default()).await;
    assert_eq!(web::page(&app, &session, "/app/audit").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_office_creates_a_campaign_from_its_form_once_and_a_bad_rate_is_named() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let admin = web::admin_session(&app).await;
    let (_, page) = web::page(&app, &admin, "/app/campaigns").await;
    assert!(page.contains(&format!("<option value=\"{}\">TEA-500 (TEA-500)</option>", id(&tea))), "{page}");
    let (csrf, key) =
        (hidden(&page, "id=\"new-campaign\"", "csrf"), hidden(&page, "id=\"new-campaign\"", "idempotency_key"));
    let form = |rate: &'static str, key: String| {
        let (csrf, product) = (csrf.clone(), id(&tea).to_owned());
        vec![
            ("csrf", csrf),
            ("idempotency_key", key),
            ("name", "Tea week".into()),
            ("product", product),
            ("starts_at", "2027-01-01".into()),
            ("ends_at", "2027-01-07".into()),
            ("trigger", "reached".into()),
            ("min_units", "100".into()),
            ("rate", rate.into()),
            ("reward", "cash".into()),
            ("per_buyer_limit", "1".into()),
        ]
    };
    let post = |fields: Vec<(&'static str, String)>| {
        let (app, admin) = (&app, &admin);
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            web::post(app, admin, "/app/campaigns", &fields).await
        }
    };
    let listed = || async {
        app.admin("GET", "/v1/admin/campaigns", None).await.1["items"].as_array().cloned().unwrap_or_default()
    };
    assert_eq!(post(form("2", "k-bad".into())).await.0, StatusCode::UNPROCESSABLE_ENTITY, "a rate above 1");
    // The name is bounded in characters, not bytes: 201 Bengali letters are too many.
    let named = |name: String, key: &'static str| {
        let mut fields = form("0.10", key.into());
        fields[2].1 = name;
        fields
    };
    let (status, page) = {
        let fields = named("ক".repeat(201), "k-long-2");
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = web::client()
            .post(format!("{}/app/campaigns", app.base))
            .header(reqwest::header::COOKIE, format!("haat_session={admin}"))
            .form(&fields)
            .send()
            .await
            .expect("post");
        (answer.status(), answer.text().await.expect("page"))
    };
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("name: must be 1 to 200 characters"), "{page}");
    assert!(listed().await.is_empty(), "nothing was created");
    let created = post(form("0.10", key.clone())).await;
    assert_eq!(created, (StatusCode::SEE_OTHER, Some("/app/campaigns".into())));
    assert_eq!(post(form("0.10", key)).await, created, "the same form again");
    let campaigns = listed().await;
    assert_eq!(campaigns.len(), 1);
    let c = &campaigns[0];
    assert_eq!(
        (c["name"].as_str(), c["scope"]["product_id"].as_str(), c["rate"].as_str(), c["min_units"].as_i64()),
        (Some("Tea week"), Some(id(&tea)), Some("0.1"), Some(100)),
        "{c}"
    );
    assert_eq!(
        (c["status"].as_str(), c["per_buyer_limit"].as_i64(), c["reward"].as_str()),
        (Some("scheduled"), Some(1), Some("cash"))
    );
}
