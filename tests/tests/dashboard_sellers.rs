//! The marketplace on the dashboard, in a real browser: a seller signs in
//! with its seller key, reads its balance, its lines with their deadlines
//! and its statement, and marks a line prepared; another seller's page is
//! not found to it. The office approves and suspends sellers and puts a
//! fee schedule in force. Each page passes axe-core.

use haat_tests::browser::Browser;
use haat_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn product(sku: &str, seller: uuid::Uuid) -> Value {
    json!({"sku": sku, "name": sku, "category": "furniture", "price": "2000.00", "pv": "10.00", "bv": "500.00",
           "stock": 50, "commissionable": true, "seller_id": seller})
}

async fn signs_in_with(app: &TestApp, browser: &Browser, key: &str) {
    browser.open(&format!("{}/app/sign-in", app.base)).await;
    browser.type_into("#key", key).await;
    browser.click("#admin-sign-in button[type=submit]").await;
}

#[tokio::test]
async fn in_a_real_browser_a_seller_reads_its_balance_lines_and_statement_and_marks_a_line_prepared() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let seller = approved_seller(&app, "Dhaka Woodworks").await;
    let other = approved_seller(&app, "Rangpur Crafts").await;
    let (status, chair) = app.admin("POST", "/v1/admin/products", Some(&product("CHAIR-1", seller))).await;
    assert_eq!(status, StatusCode::CREATED, "{chair}");
    let buyer = &app.create_chain(1).await[0];
    let delivered = app.place_order(buyer, &chair, 1, "cod").await;
    app.send_event("couriers", &delivered_event(&delivered)).await;
    eventually("the seller's share", || async {
        let (_, b) = app.admin("GET", &format!("/v1/sellers/{seller}/balance"), None).await;
        (b["pending"] == "2000.00").then_some(())
    })
    .await;
    let waiting = app.place_order(buyer, &chair, 2, "cod").await;
    let (_, key) = app.admin("POST", "/v1/admin/api-keys", Some(&json!({"role": "seller", "seller_id": seller}))).await;

    let browser = Browser::start().await;
    signs_in_with(&app, &browser, key["token"].as_str().unwrap_or_default()).await;
    eventually("the seller's page", || async {
        (browser.path().await == format!("/app/sellers/{seller}")).then_some(())
    })
    .await;
    assert_eq!(browser.text_once_shown("h1").await, "Dhaka Woodworks");
    assert_eq!(browser.text("#seller-balance tbody td:nth-child(1)").await, "৳2,000.00", "held");
    let line = |order: &Value| {
        format!("#seller-lines tr[data-line='{}']", order["lines"][0]["id"].as_str().unwrap_or_default())
    };
    assert_eq!(
        browser.text(&format!("{} td:nth-child(1)", line(&waiting))).await,
        waiting["invoice_no"].as_str().unwrap_or_default()
    );
    assert_eq!(browser.text(&format!("{} td:nth-child(6)", line(&delivered))).await, "৳2,000.00", "its share");
    assert!(!browser.text(&format!("{} td:nth-child(4)", line(&waiting))).await.is_empty(), "a deadline is shown");
    assert_eq!(browser.text("#seller-statement tbody tr td:nth-child(2)").await, "seller_credit");
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "the seller's page: {violations:#?}");

    browser.click(&format!("{} button[type=submit]", line(&waiting))).await;
    eventually("the line is prepared", || async {
        let text = browser.text_if_shown(&format!("{} td.status", line(&waiting))).await;
        (text.as_deref() == Some("prepared")).then_some(())
    })
    .await;
    let (_, lines) = app.admin("GET", &format!("/v1/sellers/{seller}/lines"), None).await;
    let marked = lines["items"].as_array().into_iter().flatten().find(|l| l["order_id"] == waiting["id"]).cloned();
    assert!(marked.is_some_and(|l| l["prepared_at"].is_string()), "marked in the database too");
    browser.screenshot("seller-page").await;

    // Another seller's page, and the office's, are not this seller's; the
    // overview sends it back to its own page.
    for path in [format!("/app/sellers/{other}"), "/app/sellers".to_owned()] {
        browser.open(&format!("{}{path}", app.base)).await;
        assert_eq!(browser.text_once_shown("h1").await, "Not found", "{path}");
    }
    browser.open(&format!("{}/app", app.base)).await;
    eventually("back to its own page", || async {
        (browser.path().await == format!("/app/sellers/{seller}")).then_some(())
    })
    .await;
    browser.close().await;
}

#[tokio::test]
async fn in_a_real_browser_the_office_suspends_a_seller_and_puts_a_fee_schedule_in_force() {
    let app = TestApp::spawn().await;
    let seller = approved_seller(&app, "Sylhet Tea Estates").await;
    let body = json!({"name": "Autumn terms", "default_rate": "0.06", "per_item_fee": "2.00",
                      "seller_hold_business_days": 5});
    let (status, schedule) = app.admin("POST", "/v1/admin/fee-schedules", Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{schedule}");

    let browser = Browser::start().await;
    signs_in_with(&app, &browser, &app.admin_token).await;
    eventually("the overview", || async { (browser.path().await == "/app").then_some(()) }).await;
    browser.click("header nav a[href='/app/sellers']").await;
    let row = format!("#sellers tr[data-seller='{seller}']");
    assert_eq!(browser.text_once_shown(&format!("{row} td.status")).await, "approved");
    let schedule_row = format!("#fee-schedules tr[data-schedule='{}']", schedule["id"].as_str().unwrap_or_default());
    assert_eq!(browser.text(&format!("{schedule_row} td:nth-child(3)")).await, "6%");
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "the sellers page: {violations:#?}");

    browser.click(&format!("{row} button[type=submit]")).await;
    eventually("the seller is suspended", || async {
        let text = browser.text_if_shown(&format!("{row} td.status")).await;
        (text.as_deref() == Some("suspended")).then_some(())
    })
    .await;
    let (_, read) = app.admin("GET", &format!("/v1/admin/sellers/{seller}"), None).await;
    assert_eq!(read["status"], "suspended");

    browser.click(&format!("{schedule_row} button[type=submit]")).await;
    eventually("the schedule is in force", || async {
        let text = browser.text_if_shown(&format!("{schedule_row} td.status")).await;
        (text.as_deref() == Some("in force")).then_some(())
    })
    .await;
    let (_, read) = app
        .admin("GET", &format!("/v1/admin/fee-schedules/{}", schedule["id"].as_str().unwrap_or_default()), None)
        .await;
    assert_eq!(read["in_force"], true);

    // A new version from the form: written, not in force.
    browser.type_into("#f-name", "Winter terms").await;
    browser.type_into("#f-default", "0.05").await;
    browser.type_into("#f-categories", "fashion=0.08\nfurniture=0.03").await;
    browser.click("#new-fee-schedule button[type=submit]").await;
    let made = eventually("the new version", || async {
        let (_, listed) = app.admin("GET", "/v1/admin/fee-schedules", None).await;
        listed["items"].as_array()?.iter().find(|s| s["name"] == "Winter terms").cloned()
    })
    .await;
    assert_eq!(
        (&made["categories"], &made["default_rate"], &made["in_force"]),
        (&json!({"fashion": "0.08", "furniture": "0.03"}), &json!("0.05"), &json!(false))
    );
    let made_row = format!("#fee-schedules tr[data-schedule='{}']", made["id"].as_str().unwrap_or_default());
    assert_eq!(browser.text_once_shown(&format!("{made_row} td:nth-child(2)")).await, "Winter terms");
    browser.type_into("#f-name", "Too dear").await;
    browser.type_into("#f-default", "1.5").await;
    browser.click("#new-fee-schedule button[type=submit]").await;
    assert_eq!(
        browser.text_once_shown("p.problem").await,
        "default_rate: must be between 0 and 1 (a fraction: \"0.10\" is 10%). Nothing was done."
    );
    browser.screenshot("admin-sellers").await;
    browser.close().await;
}
