//! Deadline cashback campaigns, settled by the real job: the seed's three
//! cases with exact payouts (thousands of orders seeded in bulk through the
//! domain), per-buyer limits, budgets, seller scope, the window's edges,
//! settlement run twice and concurrently, clawback after settlement,
//! recurring occurrences, and the refusals of the admin API.

use chrono::{DateTime, Duration, DurationRound, Utc};
use haat_domain::rewards::campaigns::{self, Outcome};
use haat_tests::*;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;

async fn app_with_plan(holding_days: i64) -> TestApp {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(holding_days)).await;
    app
}

async fn product(app: &TestApp, sku: &str, price: &str, seller: Option<Uuid>) -> Value {
    let body = json!({"sku": sku, "name": sku, "category": "courses", "price": price, "pv": "1.00", "bv": "1.00",
                      "stock": 100000, "commissionable": true, "seller_id": seller});
    let (status, p) = app.admin("POST", "/v1/admin/products", Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "product created: {p}");
    p
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}

async fn create(app: &TestApp, body: &Value) -> Value {
    let (status, c) = app.admin("POST", "/v1/admin/campaigns", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "campaign created: {c}");
    c
}

/// Waits until the campaign's settlement is stored; returns the campaign.
async fn settled(app: &TestApp, campaign: &Value) -> Value {
    let path = format!("/v1/admin/campaigns/{}", campaign["id"].as_str().unwrap_or_default());
    eventually("the campaign is settled", || async {
        let (_, c) = app.admin("GET", &path, None).await;
        (c["status"] == "settled").then_some(c)
    })
    .await
}

/// The audit passes (ledger, cached balances, campaign terms), and every
/// member account's last posting shows its balance.
async fn audit_ok(app: &TestApp) {
    let (_, audit) = app.admin("GET", "/v1/admin/audit", None).await;
    assert_eq!(audit["ok"], true, "{audit}");
    let off: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM accounts a
           JOIN LATERAL (SELECT balance_after FROM postings p WHERE p.account_id = a.id ORDER BY p.id DESC LIMIT 1) l
             ON true
          WHERE a.member_id IS NOT NULL AND l.balance_after <> a.balance",
    )
    .fetch_one(&app.pool)
    .await
    .expect("last balances");
    assert_eq!(off, 0, "accounts whose last balance_after is not their balance");
}

#[tokio::test]
async fn a_course_campaign_pays_ten_percent_to_each_of_a_thousand_buyers_and_nothing_when_999_were_sold() {
    let app = app_with_plan(7).await;
    let course = product(&app, "COURSE-A", "1500.00", None).await;
    let other = product(&app, "COURSE-B", "1500.00", None).await;
    let buyers = seed_buyers(&app, 1999).await;
    seed_purchases(&app, &course, &buyers[..1000], in_window).await;
    seed_purchases(&app, &other, &buyers[1000..], in_window).await;

    let thousand = create(&app, &course_campaign(&course, 1000, 10000)).await;
    assert_eq!(thousand["status"], "scheduled");
    let mut body = course_campaign(&other, 1000, 10000);
    body["settle_at"] = json!(iso(Utc::now() + Duration::days(1)));
    let short = create(&app, &body).await;
    // The first settles on its default schedule (its grace has passed); the
    // second is settled early by the admin.
    let (status, queued) = app
        .admin("POST", &format!("/v1/admin/campaigns/{}/settle", short["id"].as_str().unwrap_or_default()), None)
        .await;
    assert_eq!((status, &queued["id"]), (StatusCode::ACCEPTED, &short["id"]), "{queued}");
    let job = format!("/v1/admin/jobs/{}", queued["job_id"].as_str().unwrap_or_default());

    let paid = settled(&app, &thousand).await;
    let s = &paid["settlement"];
    assert_eq!((s["decision"].as_str(), s["units"].as_i64()), (Some("paid"), Some(1000)));
    assert_eq!((s["value"].as_str(), s["paid_total"].as_str()), (Some("1500000.00"), Some("150000.00")));
    assert_eq!((s["eligible_purchases"].as_i64(), s["paid_purchases"].as_i64()), (Some(1000), Some(1000)));
    assert_eq!(s["scale"], Value::Null);
    assert_eq!(buyers_holding(&app, &buyers[..1000], "pending", "150.00").await, 1000);

    let not_paid = settled(&app, &short).await;
    let s = &not_paid["settlement"];
    assert_eq!((s["decision"].as_str(), s["units"].as_i64()), (Some("not_paid"), Some(999)));
    assert_eq!((s["value"].as_str(), s["paid_total"].as_str()), (Some("1498500.00"), Some("0.00")));
    assert_eq!(s["eligible_purchases"], 999);
    assert_eq!(buyers_holding(&app, &buyers[1000..], "pending", "0.00").await, 999);
    assert_eq!(entries_of(&app, "cashback").await, 1000);
    // The admin's settlement answered its job, which tells what it did.
    // The queue marks the job done just after its work commits.
    let settling = eventually("the settlement job done", || async {
        let (_, j) = app.admin("GET", &job, None).await;
        (j["status"] == "Done").then_some(j)
    })
    .await;
    assert_eq!(
        settling["result"],
        json!({"campaign_id": short["id"], "outcome": "settled", "paid": false, "payouts": 0})
    );

    // Every paid buyer is told, once.
    let emails: i64 = sqlx::query_scalar("SELECT count(*) FROM notifications WHERE dedupe_key LIKE 'cashback:%'")
        .fetch_one(&app.pool)
        .await
        .expect("count emails");
    assert_eq!(emails, 1000);
    let first = format!("{}@seed.invalid", buyers[0]);
    let queued: (String, String) =
        sqlx::query_as("SELECT subject, body FROM notifications WHERE to_email = $1 AND dedupe_key LIKE 'cashback:%'")
            .bind(&first)
            .fetch_one(&app.pool)
            .await
            .expect("the first buyer's email");
    assert_eq!(queued.0, "150.00 BDT cashback from Course launch");
    assert!(queued.1.contains("pays you 150.00 BDT cashback. It is held until"), "{}", queued.1);
    // They go out over SMTP (a thousand take a while: one arriving will do).
    eventually("a cashback email sent", || async {
        app.smtp.messages().into_iter().find(|m| m.data.contains("150.00 BDT cashback from Course launch"))
    })
    .await;
    assert_eq!(ledger_totals(&app.pool).await, (Decimal::ZERO, 0));
    audit_ok(&app).await;
}

#[tokio::test]
async fn enough_units_with_9999_99_of_value_against_a_minimum_of_10000_pays_nothing_and_10000_pays() {
    let app = app_with_plan(7).await;
    let cheap = product(&app, "GUIDE-999", "9.99", None).await;
    let round = product(&app, "GUIDE-1000", "10.00", None).await;
    let buyers = seed_buyers(&app, 2001).await;
    seed_purchases(&app, &cheap, &buyers[..1001], in_window).await;
    seed_purchases(&app, &round, &buyers[1001..], in_window).await;
    let mut body = course_campaign(&cheap, 1000, 10000);
    body["min_value"] = json!("10000.00");
    let short = create(&app, &body).await;
    body["scope"]["product_id"] = round["id"].clone();
    let enough = create(&app, &body).await;

    let s = settled(&app, &short).await["settlement"].clone();
    assert_eq!((s["decision"].as_str(), s["units"].as_i64()), (Some("not_paid"), Some(1001)));
    assert_eq!((s["value"].as_str(), s["paid_total"].as_str()), (Some("9999.99"), Some("0.00")));
    let s = settled(&app, &enough).await["settlement"].clone();
    assert_eq!((s["decision"].as_str(), s["units"].as_i64()), (Some("paid"), Some(1000)));
    assert_eq!((s["value"].as_str(), s["paid_total"].as_str()), (Some("10000.00"), Some("1000.00")));
    assert_eq!(buyers_holding(&app, &buyers[1001..], "pending", "1.00").await, 1000);
    assert_eq!(buyers_holding(&app, &buyers[..1001], "pending", "0.00").await, 1001);
}

#[tokio::test]
async fn a_missed_campaign_refunds_every_ticket_in_full_when_99_were_sold_and_nothing_when_100_were() {
    let app = app_with_plan(7).await;
    let show = product(&app, "TICKET-A", "850.00", None).await;
    let sold_out = product(&app, "TICKET-B", "850.00", None).await;
    let buyers = seed_buyers(&app, 199).await;
    seed_purchases(&app, &show, &buyers[..99], in_window).await;
    seed_purchases(&app, &sold_out, &buyers[99..], in_window).await;
    let guarantee = |p: &Value| {
        let mut body = course_campaign(p, 100, 0);
        body["trigger"] = json!("missed");
        body["rate"] = json!("1.00");
        body["max_units"] = Value::Null;
        body["reward"] = json!("credit");
        body
    };
    let missed = create(&app, &guarantee(&show)).await;
    let reached = create(&app, &guarantee(&sold_out)).await;

    let s = settled(&app, &missed).await["settlement"].clone();
    assert_eq!((s["decision"].as_str(), s["units"].as_i64()), (Some("paid"), Some(99)));
    assert_eq!((s["paid_total"].as_str(), s["release_at"].as_str()), (Some("84150.00"), None));
    assert_eq!(buyers_holding(&app, &buyers[..99], "credit", "850.00").await, 99);
    let s = settled(&app, &reached).await["settlement"].clone();
    assert_eq!((s["decision"].as_str(), s["units"].as_i64()), (Some("not_paid"), Some(100)));
    assert_eq!(buyers_holding(&app, &buyers[99..], "credit", "0.00").await, 100);
    assert_eq!(ledger_totals(&app.pool).await, (Decimal::ZERO, 0));
}

#[tokio::test]
async fn a_buyer_with_three_paid_orders_and_a_limit_of_one_gets_one_payout() {
    let app = app_with_plan(7).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(3).await;
    let (regular, once) = (&chain[1], &chain[2]);
    let mut orders = Vec::new();
    for buyer in [regular, regular, regular, once] {
        let order = app.place_order(buyer, &tea, 1, "online").await;
        assert_eq!(app.send_event("payments", &paid_event(&order)).await.0, StatusCode::OK);
        orders.push(order);
    }
    quiescent(&app.pool).await;
    let now = Utc::now();
    let body = json!({"name": "Tea week", "scope": {"kind": "all"}, "starts_at": iso(now - Duration::hours(1)),
                      "ends_at": iso(now + Duration::hours(1)), "rate": "0.10", "trigger": "reached",
                      "min_units": 4, "per_buyer_limit": 1});
    let campaign = create(&app, &body).await;
    assert_eq!((campaign["reward"].as_str(), campaign["time_zone"].as_str()), (Some("cash"), Some("UTC")));
    let path = format!("/v1/admin/campaigns/{}", campaign["id"].as_str().unwrap_or_default());
    assert_eq!(app.admin("POST", &format!("{path}/settle"), None).await.0, StatusCode::ACCEPTED);

    let s = settled(&app, &campaign).await["settlement"].clone();
    assert_eq!((s["units"].as_i64(), s["eligible_purchases"].as_i64()), (Some(4), Some(4)));
    assert_eq!((s["paid_purchases"].as_i64(), s["paid_total"].as_str()), (Some(2), Some("90.00")));
    assert_eq!(app.wallet(regular).await["pending"], "45.00");
    assert_eq!(app.wallet(once).await["pending"], "45.00");
    let statement = app
        .admin("GET", &format!("/v1/members/{}/statement", regular["id"].as_str().unwrap_or_default()), None)
        .await
        .1;
    let kinds: Vec<&str> =
        statement["items"].as_array().into_iter().flatten().filter_map(|l| l["kind"].as_str()).collect();
    assert_eq!(kinds, ["cashback"], "{statement}");
    audit_ok(&app).await;
    let email = regular["email"].as_str().unwrap_or_default().to_owned();
    eventually("the regular's cashback email", || async {
        app.smtp.messages().into_iter().find(|m| m.to.contains(&email) && m.data.contains("45.00 BDT cashback"))
    })
    .await;
}

#[tokio::test]
async fn a_budget_scales_every_payout_by_one_factor_and_the_sum_stays_within_it() {
    let app = app_with_plan(7).await;
    let course = product(&app, "COURSE-A", "1000.00", None).await;
    let buyers = seed_buyers(&app, 10).await;
    seed_purchases(&app, &course, &buyers, in_window).await;
    let mut body = course_campaign(&course, 10, 100);
    body["budget"] = json!("333.33");
    let s = settled(&app, &create(&app, &body).await).await["settlement"].clone();
    assert_eq!((s["decision"].as_str(), s["scale"].as_str()), (Some("paid"), Some("0.3333300000")));
    assert_eq!(s["paid_total"], "333.30");
    assert_eq!(buyers_holding(&app, &buyers, "pending", "33.33").await, 10);
    audit_ok(&app).await;
    // The audit would see a payout past the budget.
    sqlx::query("UPDATE campaign_payouts SET amount = amount + 1.00 WHERE order_line_id = (SELECT order_line_id FROM campaign_payouts LIMIT 1)")
        .execute(&app.pool)
        .await
        .expect("tamper");
    let (_, audit) = app.admin("GET", "/v1/admin/audit", None).await;
    let found = audit["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == "campaign_payouts_within_terms")
        .map(|c| c["violations"].to_string())
        .unwrap_or_default();
    assert!(found.contains("paid 334.30 over the budget of 333.33"), "{audit}");
}

#[tokio::test]
async fn a_seller_scope_counts_only_that_sellers_products_and_only_orders_paid_inside_the_window() {
    let app = app_with_plan(7).await;
    let (seller, rival) = (approved_seller(&app, "Ours").await, approved_seller(&app, "Rival").await);
    let ours =
        [product(&app, "OURS-1", "100.00", Some(seller)).await, product(&app, "OURS-2", "200.00", Some(seller)).await];
    let theirs = product(&app, "THEIRS", "100.00", Some(rival)).await;
    let buyers = seed_buyers(&app, 12).await;
    let hour = Utc::now().duration_trunc(Duration::hours(1)).expect("an hour") - Duration::hours(5);
    let (starts, ends) = (hour, hour + Duration::hours(2));
    seed_purchases(&app, &ours[0], &buyers[..3], |i| starts + Duration::minutes(i as i64)).await;
    seed_purchases(&app, &ours[1], &buyers[3..5], |i| starts + Duration::minutes(30 + i as i64)).await;
    seed_purchases(&app, &theirs, &buyers[5..8], |i| starts + Duration::minutes(i as i64)).await;
    // Paid just before the window, exactly at its (exclusive) end, and after.
    let outside = [starts - Duration::seconds(1), ends, ends + Duration::minutes(5), ends + Duration::hours(1)];
    seed_purchases(&app, &ours[0], &buyers[8..12], |i| outside[i]).await;

    let body = json!({"name": "Seller week", "scope": {"kind": "seller", "seller_id": seller},
                      "starts_at": iso(starts), "ends_at": iso(ends), "grace_seconds": 0, "rate": "0.05",
                      "trigger": "reached", "min_units": 5, "max_units": 5});
    let s = settled(&app, &create(&app, &body).await).await["settlement"].clone();
    assert_eq!(
        (s["decision"].as_str(), s["units"].as_i64(), s["value"].as_str()),
        (Some("paid"), Some(5), Some("700.00"))
    );
    assert_eq!(buyers_holding(&app, &buyers[..3], "pending", "5.00").await, 3);
    assert_eq!(buyers_holding(&app, &buyers[3..5], "pending", "10.00").await, 2);
    assert_eq!(buyers_holding(&app, &buyers[5..], "pending", "0.00").await, 7);
}

#[tokio::test]
async fn settlement_run_twice_and_by_three_workers_at_once_pays_once() {
    let mut app = app_with_plan(7).await;
    app.start_worker().await;
    app.start_worker().await;
    let course = product(&app, "COURSE-A", "1500.00", None).await;
    let buyers = seed_buyers(&app, 50).await;
    seed_purchases(&app, &course, &buyers, in_window).await;
    let mut body = course_campaign(&course, 50, 50);
    body["settle_at"] = json!(iso(Utc::now() + Duration::days(1)));
    let campaign = create(&app, &body).await;
    let path = format!("/v1/admin/campaigns/{}/settle", campaign["id"].as_str().unwrap_or_default());
    // Concurrent settle requests: each queues a job under a new schedule.
    let answers = futures::future::join_all((0..3).map(|_| app.admin("POST", &path, None))).await;
    assert!(answers.iter().all(|(s, _)| *s == StatusCode::ACCEPTED || *s == StatusCode::CONFLICT), "{answers:?}");
    settled(&app, &campaign).await;
    eventually("every due settle job has run", || async {
        let busy: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM apalis.jobs WHERE job_type = 'haat.campaigns'
                AND status NOT IN ('Done', 'Failed', 'Killed') AND run_at <= now()",
        )
        .fetch_one(&app.pool)
        .await
        .ok()?;
        (busy == 0).then_some(())
    })
    .await;

    // The job itself, run again for every schedule the campaign ever had,
    // by three connections at once: nothing more happens.
    let id: Uuid = campaign["id"].as_str().and_then(|s| s.parse().ok()).expect("id");
    let runs = (1..=4).flat_map(|version| (0..3).map(move |_| version)).map(|version| {
        let pool = app.pool.clone();
        async move {
            let mut tx = pool.begin().await.expect("transaction");
            let outcome = campaigns::settle(&mut tx, id, version, Utc::now(), "BDT").await.expect("settle runs");
            tx.commit().await.expect("commit");
            outcome
        }
    });
    let outcomes = futures::future::join_all(runs).await;
    assert!(outcomes.iter().all(|o| *o == Outcome::Nothing), "{outcomes:?}");
    assert_eq!(entries_of(&app, "cashback").await, 50);
    assert_eq!(buyers_holding(&app, &buyers, "pending", "150.00").await, 50);
    let settlements: i64 = sqlx::query_scalar("SELECT count(*) FROM campaign_settlements")
        .fetch_one(&app.pool)
        .await
        .expect("count settlements");
    assert_eq!(settlements, 1);
}

#[tokio::test]
async fn a_refund_after_settlement_claws_back_released_cashback_in_proportion_to_the_units_refunded() {
    // No hold: the cash is released as soon as it is paid.
    let app = app_with_plan(0).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(3).await;
    let (other, buyer) = (&chain[1], &chain[2]);
    let order = app.place_order(buyer, &tea, 3, "online").await;
    let other_order = app.place_order(other, &tea, 1, "online").await;
    for o in [&order, &other_order] {
        assert_eq!(app.send_event("payments", &paid_event(o)).await.0, StatusCode::OK);
    }
    quiescent(&app.pool).await;
    let now = Utc::now();
    let body = json!({"name": "Tea week", "scope": {"kind": "product", "product_id": tea["id"]},
                      "starts_at": iso(now - Duration::hours(1)), "ends_at": iso(now + Duration::hours(1)),
                      "rate": "0.10", "trigger": "reached", "min_units": 1, "reward": "cash"});
    let campaign = create(&app, &body).await;
    let path = format!("/v1/admin/campaigns/{}", campaign["id"].as_str().unwrap_or_default());
    assert_eq!(app.admin("POST", &format!("{path}/settle"), None).await.0, StatusCode::ACCEPTED);
    settled(&app, &campaign).await;
    wallet_reaches(&app, buyer, "available", "135.00").await;
    wallet_reaches(&app, other, "available", "45.00").await;

    // One unit of three refunded: a third of the cashback comes back.
    let partial = json!({"type": "payment.refunded", "data": {"invoice_no": order["invoice_no"], "refund_id": "RF-1",
                         "lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 1}]}});
    assert_eq!(app.send_event("payments", &partial).await.0, StatusCode::OK);
    wallet_reaches(&app, buyer, "available", "90.00").await;
    let whole =
        json!({"type": "payment.refunded", "data": {"invoice_no": other_order["invoice_no"], "refund_id": "RF-2"}});
    assert_eq!(app.send_event("payments", &whole).await.0, StatusCode::OK);
    wallet_reaches(&app, other, "available", "0.00").await;
    // The same refund again changes nothing.
    assert_eq!(app.send_event("payments", &partial).await.0, StatusCode::OK);
    quiescent(&app.pool).await;
    assert_eq!(app.wallet(buyer).await["available"], "90.00");
    assert_eq!(entries_of(&app, "cashback_clawback").await, 2);
    let email = buyer["email"].as_str().unwrap_or_default().to_owned();
    eventually("the clawback email", || async {
        app.smtp
            .messages()
            .into_iter()
            .find(|m| m.to.contains(&email) && m.data.contains("45.00 BDT of cashback reversed"))
    })
    .await;
    assert_eq!(ledger_totals(&app.pool).await, (Decimal::ZERO, 0));
}

#[tokio::test]
async fn held_cash_is_released_when_the_plans_hold_ends_and_a_refund_while_held_cancels_it() {
    let app = app_with_plan(7).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(3).await;
    let (keeper, refunder) = (&chain[1], &chain[2]);
    let kept = app.place_order(keeper, &tea, 1, "online").await;
    let refunded = app.place_order(refunder, &tea, 1, "online").await;
    for o in [&kept, &refunded] {
        assert_eq!(app.send_event("payments", &paid_event(o)).await.0, StatusCode::OK);
    }
    quiescent(&app.pool).await;
    let now = Utc::now();
    let body = json!({"name": "Tea week", "scope": {"kind": "all"}, "starts_at": iso(now - Duration::hours(1)),
                      "ends_at": iso(now + Duration::hours(1)), "rate": "0.10", "trigger": "reached", "min_units": 2});
    let campaign = create(&app, &body).await;
    let path = format!("/v1/admin/campaigns/{}", campaign["id"].as_str().unwrap_or_default());
    assert_eq!(app.admin("POST", &format!("{path}/settle"), None).await.0, StatusCode::ACCEPTED);
    let s = settled(&app, &campaign).await["settlement"].clone();
    let release_at: DateTime<Utc> = s["release_at"].as_str().and_then(|t| t.parse().ok()).expect("release_at");
    assert!(release_at > Utc::now() + Duration::days(6), "held for the plan's 7 days: {release_at}");
    assert_eq!(app.wallet(keeper).await["pending"], "45.00");

    let refund =
        json!({"type": "payment.refunded", "data": {"invoice_no": refunded["invoice_no"], "refund_id": "RF-9"}});
    assert_eq!(app.send_event("payments", &refund).await.0, StatusCode::OK);
    wallet_reaches(&app, refunder, "pending", "0.00").await;
    assert_eq!(entries_of(&app, "cashback_cancelled").await, 1);

    // Seven days pass: the release job's time comes.
    sqlx::query("UPDATE apalis.jobs SET run_at = now() WHERE job_type = 'haat.campaigns' AND status = 'Pending'")
        .execute(&app.pool)
        .await
        .expect("shift the release");
    let w = wallet_reaches(&app, keeper, "available", "45.00").await;
    assert_eq!(w["pending"], "0.00");
    quiescent(&app.pool).await;
    let w = app.wallet(refunder).await;
    assert_eq!((w["pending"].as_str(), w["available"].as_str()), (Some("0.00"), Some("0.00")));
    assert_eq!(entries_of(&app, "cashback_release").await, 1);
    assert_eq!(ledger_totals(&app.pool).await, (Decimal::ZERO, 0));
    audit_ok(&app).await;
}

#[tokio::test]
async fn a_recurring_campaign_settles_each_hourly_occurrence_on_its_own() {
    let app = app_with_plan(7).await;
    let course = product(&app, "COURSE-A", "100.00", None).await;
    let buyers = seed_buyers(&app, 6).await;
    let end = Utc::now().duration_trunc(Duration::hours(1)).expect("an hour");
    let start = end - Duration::hours(3);
    // Two sales in the first hour, one in the second, three in the third.
    let hours = [0, 0, 1, 2, 2, 2];
    seed_purchases(&app, &course, &buyers, |i| start + Duration::hours(hours[i]) + Duration::minutes(10 + i as i64))
        .await;
    let body = json!({"name": "Hourly", "scope": {"kind": "product", "product_id": course["id"]},
                      "starts_at": iso(start), "ends_at": iso(end), "grace_seconds": 0, "rate": "0.10",
                      "trigger": "reached", "min_units": 2, "settle_at": iso(Utc::now() + Duration::days(30))});
    let campaign = create(&app, &body).await;
    let path = format!("/v1/admin/campaigns/{}", campaign["id"].as_str().unwrap_or_default());
    let (status, c) = app.admin("POST", &format!("{path}/schedule"), Some(&json!({"cron": "0 0 * * * *"}))).await;
    assert_eq!((status, c["status"].as_str()), (StatusCode::OK, Some("recurring")), "{c}");

    let c = settled(&app, &campaign).await;
    let occurrences = c["occurrences"].as_array().cloned().unwrap_or_default();
    let decisions: Vec<(&str, i64)> = occurrences
        .iter()
        .map(|o| (o["settlement"]["decision"].as_str().unwrap_or("-"), o["settlement"]["units"].as_i64().unwrap_or(-1)))
        .collect();
    assert_eq!(decisions, [("paid", 2), ("not_paid", 1), ("paid", 3)]);
    let windows: Vec<(String, String)> = occurrences
        .iter()
        .map(|o| (o["starts_at"].as_str().unwrap_or("").to_owned(), o["ends_at"].as_str().unwrap_or("").to_owned()))
        .collect();
    for (i, (s, e)) in windows.iter().enumerate() {
        let s: DateTime<Utc> = s.parse().expect("start");
        let e: DateTime<Utc> = e.parse().expect("end");
        assert_eq!((s, e), (start + Duration::hours(i as i64), start + Duration::hours(i as i64 + 1)));
    }
    assert_eq!(buyers_holding(&app, &buyers, "pending", "10.00").await, 5);
}

#[tokio::test]
async fn campaign_refusals_name_the_field_and_a_campaign_moves_only_while_scheduled() {
    let app = app_with_plan(7).await;
    let course = product(&app, "COURSE-A", "100.00", None).await;
    let good = json!({"name": "Launch", "scope": {"kind": "product", "product_id": course["id"]},
                      "starts_at": "2027-10-01", "ends_at": "2027-10-10", "time_zone": "Asia/Dhaka",
                      "rate": "0.10", "trigger": "reached", "min_units": 10});
    let refusals = [
        ("trigger", json!("missed"), "max_units", json!(100)),
        ("rate", json!("0"), "rate", json!("0")),
        ("scope", json!({"kind": "product", "product_id": Uuid::now_v7()}), "scope.product_id", json!(null)),
        ("scope", json!({"kind": "seller"}), "scope.seller_id", json!(null)),
        ("ends_at", json!("2027-09-01"), "ends_at", json!(null)),
        ("time_zone", json!("Mars/Olympus"), "time_zone", json!(null)),
        ("settle_at", json!("2027-10-05T00:00:00Z"), "settle_at", json!(null)),
        ("reward", json!("points"), "reward", json!(null)),
    ];
    for (field, value, named, extra) in refusals {
        let mut body = good.clone();
        body[field] = value;
        if named == "max_units" {
            body["max_units"] = extra;
        }
        let (status, p) = app.admin("POST", "/v1/admin/campaigns", Some(&body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {p}");
        let fields: Vec<&str> =
            p["errors"].as_array().into_iter().flatten().filter_map(|e| e["field"].as_str()).collect();
        assert!(fields.contains(&named), "{field} → {p}");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM campaigns").fetch_one(&app.pool).await.expect("count");
    assert_eq!(count, 0, "nothing written");

    // Date-only bounds are local days in the campaign's zone.
    let c = create(&app, &good).await;
    assert_eq!(
        (c["starts_at"].as_str(), c["ends_at"].as_str()),
        (Some("2027-09-30T18:00:00Z"), Some("2027-10-10T18:00:00Z"))
    );
    assert_eq!(c["settle_at"], "2027-10-10T19:00:00Z", "ends_at plus the default hour of grace");
    let path = format!("/v1/admin/campaigns/{}", c["id"].as_str().unwrap_or_default());
    let later = json!({"settle_at": "2027-12-01T00:00:00Z"});
    let (status, moved) = app.admin("POST", &format!("{path}/schedule"), Some(&later)).await;
    assert_eq!((status, moved["settle_at"].as_str()), (StatusCode::OK, Some("2027-12-01T00:00:00Z")), "{moved}");
    // The first schedule's job, should it run, no longer settles.
    let id: Uuid = c["id"].as_str().and_then(|s| s.parse().ok()).expect("id");
    let mut tx = app.pool.begin().await.expect("transaction");
    assert_eq!(campaigns::settle(&mut tx, id, 1, Utc::now(), "BDT").await.expect("settle runs"), Outcome::Nothing);
    tx.commit().await.expect("commit");
    assert_eq!(app.admin("GET", &path, None).await.1["status"], "scheduled");
    let (status, p) = app.admin("POST", &format!("{path}/schedule"), Some(&json!({}))).await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("settle_at")));

    let (status, cancelled) = app.admin("POST", &format!("{path}/cancel"), None).await;
    assert_eq!((status, cancelled["status"].as_str()), (StatusCode::OK, Some("cancelled")));
    for action in ["settle", "cancel"] {
        let (status, p) = app.admin("POST", &format!("{path}/{action}"), None).await;
        assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::CONFLICT, Some("status")), "{action}: {p}");
    }
    let (status, _) = app.admin("GET", &format!("/v1/admin/campaigns/{}", Uuid::now_v7()), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let settlements: i64 =
        sqlx::query_scalar("SELECT count(*) FROM campaign_settlements").fetch_one(&app.pool).await.expect("count");
    assert_eq!(settlements, 0);
}

#[tokio::test]
async fn cancelling_an_occurrence_schedules_the_next_and_cancelling_the_recurring_campaign_stops_it() {
    let app = app_with_plan(7).await;
    let course = product(&app, "COURSE-A", "100.00", None).await;
    let hour = Utc::now().duration_trunc(Duration::hours(1)).expect("an hour") + Duration::hours(1);
    let body = json!({"name": "Hourly", "scope": {"kind": "product", "product_id": course["id"]},
                      "starts_at": iso(hour), "ends_at": iso(hour + Duration::hours(3)), "grace_seconds": 0,
                      "rate": "0.10", "trigger": "reached", "min_units": 1, "cron": "0 0 * * * *"});
    let template = create(&app, &body).await;
    assert_eq!(template["status"], "recurring");
    let first = template["occurrences"][0].clone();
    assert_eq!((first["status"].as_str(), first["parent_id"].clone()), (Some("scheduled"), template["id"].clone()));
    assert_eq!(
        first["settle_at"].as_str().map(|t| t.parse::<DateTime<Utc>>().ok()),
        Some(Some(hour + Duration::hours(1)))
    );

    let (status, _) = app
        .admin("POST", &format!("/v1/admin/campaigns/{}/cancel", first["id"].as_str().unwrap_or_default()), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let path = format!("/v1/admin/campaigns/{}", template["id"].as_str().unwrap_or_default());
    let t = app.admin("GET", &path, None).await.1;
    let statuses: Vec<&str> =
        t["occurrences"].as_array().into_iter().flatten().filter_map(|o| o["status"].as_str()).collect();
    assert_eq!(statuses, ["cancelled", "scheduled"]);
    assert_eq!(
        t["occurrences"][1]["starts_at"].as_str().map(|t| t.parse::<DateTime<Utc>>().ok()),
        Some(Some(hour + Duration::hours(1)))
    );

    let (status, t) = app.admin("POST", &format!("{path}/cancel"), None).await;
    assert_eq!((status, t["status"].as_str()), (StatusCode::OK, Some("cancelled")));
    let statuses: Vec<&str> =
        t["occurrences"].as_array().into_iter().flatten().filter_map(|o| o["status"].as_str()).collect();
    assert_eq!(statuses, ["cancelled", "cancelled"]);
}
