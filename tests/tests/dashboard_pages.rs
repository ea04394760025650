//! The dashboard's member and office pages through the real api and
//! worker, in the real browser where it matters: a member's commission
//! lines in words, its team opened two levels deep, a withdrawal asked for
//! by the member and paid by the office; a member seeing only its own
//! pages; forms refused without their CSRF token and done once per key.
//! Every main page is checked by axe-core.

use haat_tests::browser::Browser;
use haat_tests::web::{self, admin_session, hidden, member_session, member_signs_in};
use haat_tests::*;
use reqwest::StatusCode;
use serde_json::Value;

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap_or_default()
}

/// Fails naming every accessibility violation of the page shown now.
async fn accessible(browser: &Browser, page: &str) {
    let found = browser.accessibility_violations().await;
    assert!(found.is_empty(), "{page}: {found:#?}");
}

#[tokio::test]
async fn in_a_real_browser_a_member_reads_its_commission_in_words_and_opens_two_levels_of_its_team() {
    let (app, chain, order) = delivered_and_held().await;
    let (top, middle, buyer) = (&chain[0], &chain[1], &chain[2]);
    let (_, lines) = app.admin("GET", &format!("/v1/members/{}/commissions", id(top)), None).await;
    let release_at: chrono::DateTime<chrono::Utc> =
        lines["items"][0]["release_at"].as_str().and_then(|t| t.parse().ok()).expect("release_at");
    let browser = Browser::start().await;
    member_signs_in(&app, &browser, top["email"].as_str().unwrap_or_default()).await;
    assert_eq!(browser.path().await, format!("/app/members/{}", id(top)));
    assert_eq!(browser.text("h1").await, "Your wallet");
    // Level 2 of BV 300.00 at 5%, held for seven days.
    assert_eq!(browser.text("#pending").await, "৳15.00");
    assert_eq!(browser.text("#available").await, "৳0.00");
    let until = release_at.format("%-d %b %Y").to_string();
    let released = browser.text("#releases tbody tr").await;
    assert_eq!(
        released.split_whitespace().collect::<Vec<_>>().join(" "),
        format!("{until} commissions available ৳15.00")
    );
    accessible(&browser, "wallet").await;

    browser.click("nav.tabs a[href$='/commissions']").await;
    let said = browser.text_once_shown("#commissions tbody tr td.explained").await;
    let invoice = order["invoice_no"].as_str().unwrap_or_default();
    assert_eq!(said, format!("Level 2 of Member 2's order {invoice}: 5% of BV 300.00 = ৳15.00, held until {until}"));
    assert_eq!(browser.text("#commissions tbody tr td.amount").await, "৳15.00");
    browser.screenshot("member-commissions").await;
    accessible(&browser, "commissions").await;

    browser.click("nav.tabs a[href$='/team']").await;
    let first = browser.text_once_shown(&format!("#team li[data-member='{}'] .name", id(middle))).await;
    assert_eq!(first, "Member 1");
    assert!(
        browser.client.find(fantoccini::Locator::Css(&format!("li[data-member='{}']", id(buyer)))).await.is_err(),
        "the second level is not sent with the first"
    );
    browser.click(&format!("li[data-member='{}'] summary", id(middle))).await;
    let second = format!("li[data-member='{}'] li[data-member='{}']", id(middle), id(buyer));
    assert_eq!(browser.text_once_shown(&format!("{second} .name")).await, "Member 2");
    let level = browser.client.find(fantoccini::Locator::Css(&second)).await.expect("level 2");
    assert_eq!(level.attr("data-level").await.expect("attribute").as_deref(), Some("2"));
    browser.screenshot("member-team").await;
    accessible(&browser, "team").await;
    // Another member's page, typed into the address bar: not found, and nothing of theirs shown.
    browser.open(&format!("{}/app/members/{}/commissions", app.base, id(middle))).await;
    assert_eq!(browser.text_once_shown("h1").await, "Not found");
    assert!(!browser.text("main").await.contains("Member 1"));
    browser.close().await;

    // Without JavaScript the same level is a page of its own, within the member's own tree only.
    let session = member_session(&app, top["email"].as_str().unwrap_or_default()).await;
    let (status, page) =
        web::page(&app, &session, &format!("/app/members/{}/team?under={}", id(top), id(middle))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("data-member=\"{}\" data-level=\"2\"", id(buyer))), "{page}");
    let sideways = member_session(&app, middle["email"].as_str().unwrap_or_default()).await;
    let (status, _) = web::page(&app, &sideways, &format!("/app/members/{}/team?under={}", id(middle), id(top))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "its upline is not in its tree");
}

#[tokio::test]
async fn in_a_real_browser_a_member_asks_for_a_withdrawal_the_office_pays_it_and_the_member_sees_it_paid() {
    let (app, chain, _) = released_kit_commission().await;
    let member = Browser::start().await;
    member_signs_in(&app, &member, chain[0]["email"].as_str().unwrap_or_default()).await;
    member.click("nav.tabs a[href$='/withdrawals']").await;
    member.text_once_shown("#request-withdrawal").await;
    accessible(&member, "withdrawals").await;
    member.type_into("#amount", "500.00").await;
    member.type_into("#account", "01711000000").await;
    member.click("#request-withdrawal button[type=submit]").await;
    assert_eq!(member.text_once_shown("#withdrawals tbody tr td.status").await, "requested");
    assert_eq!(member.text("#withdrawals tbody tr td.amount").await, "৳500.00");

    let office = Browser::start().await;
    office.open(&format!("{}/app/sign-in", app.base)).await;
    office.type_into("#key", &app.admin_token).await;
    office.click("#admin-sign-in button[type=submit]").await;
    eventually("the overview", || async { (office.path().await == "/app").then_some(()) }).await;
    office.click("header nav a[href='/app/payouts']").await;
    assert_eq!(office.text_once_shown("#payouts tbody tr td.amount").await, "৳500.00");
    assert_eq!(office.text("#payouts tbody tr td a").await, "Member 0");
    accessible(&office, "payouts").await;
    office.click("#payouts button[value=approve]").await;
    eventually("approved", || async {
        office.client.current_url().await.ok()?.query()?.contains("approved").then_some(())
    })
    .await;
    office.type_into("#payouts input[name=reference]", "BKASH-TRX-9X1").await;
    office.screenshot("admin-payouts").await;
    office.click("#payouts button[value=paid]").await;
    eventually("paid", || async { office.client.current_url().await.ok()?.query()?.contains("paid").then_some(()) })
        .await;
    assert_eq!(office.text("#payouts tbody tr td.status").await, "paid");
    office.close().await;

    member.client.refresh().await.expect("reload");
    assert_eq!(member.text_once_shown("#withdrawals tbody tr td.status").await, "paid");
    assert!(member.text("#withdrawals tbody tr").await.contains("ref BKASH-TRX-9X1"));
    member.screenshot("member-withdrawals").await;
    member.click("nav.tabs a[href$='/members/{}']".replace("{}", id(&chain[0])).as_str()).await;
    assert_eq!(member.text_once_shown("#available").await, "৳700.00");
    assert_eq!(member.text("#reserved").await, "৳0.00");
    member.close().await;
}

#[tokio::test]
async fn a_member_session_gets_not_found_for_another_members_pages_and_the_offices_and_an_admin_sees_any() {
    let (app, chain, _) = delivered_and_held().await;
    let session = member_session(&app, chain[1]["email"].as_str().unwrap_or_default()).await;
    let own = format!("/app/members/{}", id(&chain[1]));
    let other = format!("/app/members/{}", id(&chain[0]));
    for tab in ["", "/commissions", "/team", "/orders", "/points", "/cashback", "/share", "/withdrawals"] {
        assert_eq!(web::page(&app, &session, &format!("{own}{tab}")).await.0, StatusCode::OK, "own {tab}");
        let (status, page) = web::page(&app, &session, &format!("{other}{tab}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "another's {tab}");
        assert!(!page.contains("Member 0"), "nothing of the other member shows: {page}");
    }
    let unknown = format!("/app/members/{}", uuid::Uuid::new_v4());
    assert_eq!(web::page(&app, &session, &unknown).await.0, StatusCode::NOT_FOUND);
    assert_eq!(web::page(&app, &session, "/app/payouts").await.0, StatusCode::NOT_FOUND);
    let (csrf, key) = {
        let (_, page) = web::page(&app, &session, &format!("{own}/withdrawals")).await;
        (hidden(&page, "request-withdrawal", "csrf"), hidden(&page, "request-withdrawal", "idempotency_key"))
    };
    let fields =
        [("amount", "500.00"), ("method", "bkash"), ("account", "0171"), ("csrf", &csrf), ("idempotency_key", &key)];
    assert_eq!(web::post(&app, &session, &format!("{other}/withdrawals"), &fields).await.0, StatusCode::NOT_FOUND);

    let admin = admin_session(&app).await;
    let (status, page) = web::page(&app, &admin, &other).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<h1>Member 0's wallet</h1>") && page.contains("<dd id=\"pending\">৳15.00</dd>"), "{page}");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM withdrawals").fetch_one(&app.pool).await.expect("n");
    assert_eq!(count, 0, "nothing was written");
}

#[tokio::test]
async fn a_withdrawal_form_without_its_csrf_token_is_refused_and_a_double_click_asks_and_approves_once() {
    let (app, chain, _) = released_kit_commission().await;
    let session = member_session(&app, chain[0]["email"].as_str().unwrap_or_default()).await;
    let path = format!("/app/members/{}/withdrawals", id(&chain[0]));
    let (_, page) = web::page(&app, &session, &path).await;
    let (csrf, key) =
        (hidden(&page, "request-withdrawal", "csrf"), hidden(&page, "request-withdrawal", "idempotency_key"));
    let ask = |amount: &'static str, csrf: String, key: String| {
        let (app, session, path) = (&app, &session, &path);
        async move {
            let fields = [
                ("amount", amount),
                ("method", "bkash"),
                ("account", "01711000000"),
                ("csrf", &csrf),
                ("idempotency_key", &key),
            ];
            web::post(app, session, path, &fields).await
        }
    };
    let withdrawals = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM withdrawals").fetch_one(&app.pool).await.expect("n")
    };
    assert_eq!(ask("500.00", String::new(), key.clone()).await.0, StatusCode::FORBIDDEN, "no token");
    assert_eq!(ask("500.00", "forged".into(), key.clone()).await.0, StatusCode::FORBIDDEN, "a wrong token");
    let (status, _) = ask("550.00", csrf.clone(), "k-odd".into()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the rules are the domain's");
    assert_eq!(withdrawals().await, 0, "nothing was written");

    let first = ask("500.00", csrf.clone(), key.clone()).await;
    assert_eq!(first, (StatusCode::SEE_OTHER, Some(path.clone())));
    assert_eq!(ask("500.00", csrf.clone(), key.clone()).await, first, "the second click gets the first answer");
    assert_eq!(ask("600.00", csrf.clone(), key.clone()).await.0, StatusCode::UNPROCESSABLE_ENTITY, "a key is one form");
    assert_eq!(withdrawals().await, 1);

    let admin = admin_session(&app).await;
    let (_, queue) = web::page(&app, &admin, "/app/payouts").await;
    let w: String = sqlx::query_scalar("SELECT id::text FROM withdrawals").fetch_one(&app.pool).await.expect("id");
    let approve = format!("/app/payouts/{w}/approve");
    let form = format!("action=\"{approve}\"");
    let (csrf, key) = (hidden(&queue, &form, "csrf"), hidden(&queue, &form, "idempotency_key"));
    let fields = [("csrf", csrf.as_str()), ("idempotency_key", &key), ("step", "approve")];
    let clicked = web::post(&app, &admin, &approve, &fields).await;
    assert_eq!(clicked, (StatusCode::SEE_OTHER, Some("/app/payouts?status=approved".into())));
    assert_eq!(web::post(&app, &admin, &approve, &fields).await, clicked);
    let wallet = app.wallet(&chain[0]).await;
    assert_eq!((wallet["available"].as_str(), wallet["reserved"].as_str()), (Some("700.00"), Some("500.00")));
    let steps: i64 = sqlx::query_scalar("SELECT count(*) FROM withdrawal_history WHERE status = 'approved'")
        .fetch_one(&app.pool)
        .await
        .expect("steps");
    assert_eq!(steps, 1);
    let unsigned = [("idempotency_key", "k-unsigned"), ("step", "approve")];
    assert_eq!(web::post(&app, &admin, &approve, &unsigned).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn in_a_real_browser_a_member_reads_its_order_with_its_history_and_another_members_order_is_not_found() {
    let (app, chain, order) = delivered_and_held().await;
    let buyer = &chain[2];
    let browser = Browser::start().await;
    member_signs_in(&app, &browser, buyer["email"].as_str().unwrap_or_default()).await;
    browser.click("nav.tabs a[href$='/orders']").await;
    let row = format!("#orders tr[data-order='{}']", id(&order));
    assert_eq!(browser.text_once_shown(&format!("{row} td.status")).await, "delivered");
    assert_eq!(browser.text(&format!("{row} td.amount")).await, "৳450.00");
    accessible(&browser, "orders").await;
    browser.click(&format!("{row} a")).await;
    assert_eq!(browser.text_once_shown("h1").await, format!("Order {}", order["invoice_no"].as_str().unwrap_or("?")));
    assert_eq!(browser.text("#order-total").await, "৳450.00");
    assert_eq!(browser.text("#lines tbody td").await, "TEA-500 (TEA-500)");
    let history = browser.text("#history").await;
    let steps: Vec<&str> = history.lines().filter_map(|l| l.rsplit(" · ").next()).collect();
    assert_eq!(steps, ["pending_payment", "delivered"], "{history}");
    browser.screenshot("member-order").await;
    accessible(&browser, "an order").await;
    browser.close().await;

    // The order under another member's own pages: not found, as if there were none.
    let other = member_session(&app, chain[1]["email"].as_str().unwrap_or_default()).await;
    let path = format!("/app/members/{}/orders/{}", id(&chain[1]), id(&order));
    assert_eq!(web::page(&app, &other, &path).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn in_a_real_browser_a_member_sees_its_tier_what_the_next_one_needs_and_when_its_points_expire() {
    let app = TestApp::spawn().await;
    let plan = loyalty_plan("credit");
    app.create_plan(plan).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let buyer = &app.create_chain(2).await[1];
    let order = app.place_order(buyer, &tea, 3, "cod").await;
    app.send_event("couriers", &delivered_event(&order)).await;
    quiescent(&app.pool).await;
    let_days_pass(&app, 8).await;
    // 2% of 1,350.00, released as store credit.
    wallet_reaches(&app, buyer, "credit", "27.00").await;
    let expires: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT expires_at FROM order_rewards").fetch_one(&app.pool).await.expect("the lot");

    let browser = Browser::start().await;
    member_signs_in(&app, &browser, buyer["email"].as_str().unwrap_or_default()).await;
    browser.click("nav.tabs a[href$='/points']").await;
    assert_eq!(browser.text_once_shown("#tier").await, "silver");
    assert_eq!(browser.text("#spend").await, "৳1,350.00");
    assert_eq!(browser.text("#earn-rate").await, "3%");
    assert_eq!(browser.text("#next-tier").await, "gold (5%)");
    assert_eq!(browser.text("#to-next-tier").await, "৳98,650.00");
    assert_eq!((browser.text("#points").await, browser.text("#pending-points").await), ("27.00".into(), "0.00".into()));
    let lot = browser.text("#lots tbody tr").await;
    assert_eq!(lot.split_whitespace().collect::<Vec<_>>().join(" "), format!("{} 27.00", expires.format("%-d %b %Y")));
    browser.screenshot("member-points").await;
    accessible(&browser, "points").await;
    browser.close().await;
}

#[tokio::test]
async fn in_a_real_browser_a_member_finds_its_join_link_and_a_link_per_product_on_sale() {
    let (database_url, pool) = fresh_database().await;
    let app = TestApp::spawn_on(database_url, pool, &[("HAAT_SHOP_URL", "https://shop.example.com/")]).await;
    app.create_plan(five_level_plan(7)).await;
    app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let retired = app.create_product("OLD-1", "100.00", "50.00", 0).await;
    let path = format!("/v1/admin/products/{}", id(&retired));
    let (status, _) = app.admin("PATCH", &path, Some(&serde_json::json!({"active": false}))).await;
    assert_eq!(status, StatusCode::OK);
    let member = &app.create_chain(1).await[0];
    let code = member["referral_code"].as_str().unwrap_or_default();

    let browser = Browser::start().await;
    member_signs_in(&app, &browser, member["email"].as_str().unwrap_or_default()).await;
    browser.click("nav.tabs a[href$='/share']").await;
    assert_eq!(browser.text_once_shown("#referral-code").await, code);
    assert_eq!(browser.text("#join-link").await, format!("https://shop.example.com/join?ref={code}"));
    let row = browser.text("#product-links tr[data-sku='TEA-500']").await;
    assert!(
        row.contains(&format!("https://shop.example.com/products?sku=TEA-500&ref={code}")) && row.contains("৳450.00"),
        "{row}"
    );
    let listed = browser.client.find_all(fantoccini::Locator::Css("#product-links tbody tr")).await.expect("rows");
    assert_eq!(listed.len(), 1, "a product no longer on sale has no link");
    browser.screenshot("member-share").await;
    accessible(&browser, "share").await;
    browser.close().await;
}

#[tokio::test]
async fn a_member_sees_the_cashback_on_its_orders_held_and_what_a_return_took_back() {
    let app = TestApp::spawn().await;
    app.create_plan(loyalty_plan("cash")).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let buyer = &app.create_chain(2).await[1];
    let order = app.place_order(buyer, &tea, 3, "cod").await;
    app.send_event("couriers", &delivered_event(&order)).await;
    // 2% of 1,350.00, held.
    wallet_reaches(&app, buyer, "pending", "27.00").await;
    let release_at: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT release_at FROM order_rewards").fetch_one(&app.pool).await.expect("reward");
    let session = member_session(&app, buyer["email"].as_str().unwrap_or_default()).await;
    let path = format!("/app/members/{}/cashback", id(buyer));
    let row = |page: &str| {
        let start = page.find("<tbody>").expect("a row") + "<tbody>".len();
        page[start..page.find("</tbody>").expect("the end")].to_owned()
    };
    let invoice = order["invoice_no"].as_str().unwrap_or_default();
    let (status, page) = web::page(&app, &session, &path).await;
    assert_eq!(status, StatusCode::OK);
    let until = release_at.format("%-d %b %Y");
    assert_eq!(
        row(&page),
        format!(
            "<tr><td>cashback on your order</td><td>{invoice}</td><td class=\"amount\">৳27.00</td>\
                 <td class=\"amount\">৳0.00</td><td class=\"status\">held until {until}</td></tr>"
        )
    );

    let ret =
        serde_json::json!({"lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 1}], "reason": "damaged"});
    let (status, _) = app.admin("POST", &format!("/v1/orders/{}/returns", id(&order)), Some(&ret)).await;
    assert_eq!(status, StatusCode::CREATED);
    wallet_reaches(&app, buyer, "pending", "18.00").await;
    let (_, page) = web::page(&app, &session, &path).await;
    assert!(row(&page).contains("<td class=\"amount\">৳27.00</td><td class=\"amount\">৳9.00</td>"), "{page}");
}

#[tokio::test]
async fn a_member_sees_this_periods_volume_the_rank_it_reaches_and_what_the_next_rank_still_needs() {
    let app = TestApp::spawn().await;
    app.create_plan(bonus_plan()).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(2).await;
    for buyer in &chain {
        let order = app.place_order(buyer, &tea, 1, "cod").await;
        app.send_event("couriers", &delivered_event(&order)).await;
    }
    wallet_reaches(&app, &chain[0], "pending", "30.00").await;
    quiescent(&app.pool).await;
    let session = member_session(&app, chain[0]["email"].as_str().unwrap_or_default()).await;
    let (_, page) = web::page(&app, &session, &format!("/app/members/{}", id(&chain[0]))).await;
    // Its own PV 20.00 and its member's 20.00: silver (20 / 40); gold needs group PV 100.00.
    for figure in [
        "<dd id=\"personal-pv\">20.00</dd>",
        "<dd id=\"group-pv\">40.00</dd>",
        "<dd id=\"rank\">silver</dd>",
        "<dd id=\"next-rank\">gold</dd>",
        "<dd id=\"next-rank-needs\">personal PV 0.00, group PV 60.00</dd>",
    ] {
        assert!(page.contains(figure), "{figure} in {page}");
    }
}

#[tokio::test]
async fn in_a_real_browser_a_member_reads_its_parcels_tracking_number_and_opens_its_printable_invoice() {
    let app = TestApp::spawn().await;
    let (chain, order) = two_members_and_an_order(&app, "cod").await;
    let path = format!("/v1/orders/{}/shipments", id(&order));
    let body = serde_json::json!({"courier": "steadfast"}).to_string();
    assert_eq!(app.call_with("POST", &path, &app.admin_token, Some(body), &[]).await.0, StatusCode::ACCEPTED);
    eventually("the parcel is booked", || async {
        let (_, list) = app.admin("GET", &path, None).await;
        (list["items"][0]["status"] == "booked").then_some(())
    })
    .await;
    let browser = Browser::start().await;
    member_signs_in(&app, &browser, chain[1]["email"].as_str().unwrap_or_default()).await;
    browser.open(&format!("{}/app/members/{}/orders/{}", app.base, id(&chain[1]), id(&order))).await;
    assert_eq!(browser.text_once_shown("#parcel .tracking").await, "SFT00001");
    accessible(&browser, "an order with its parcel").await;
    browser.click("#invoice-link").await;
    assert_eq!(browser.text_once_shown("h2").await, "Invoice");
    let total = browser.text("tr.total td").await;
    assert_eq!(total, "৳450.00");
    assert!(browser.text("p.payment").await.contains("collect ৳450.00"));
    browser.screenshot("member-invoice").await;
    accessible(&browser, "the printable invoice").await;
    browser.close().await;
}
