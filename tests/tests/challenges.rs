//! Challenges and badges: a goal over a window measured from credited
//! orders, what was kept of them and the members a member sponsored;
//! completion awards points and a badge once, a return that takes the
//! member back below the goal undoes it, and reaching it again awards it
//! again — one award standing in the end, and one email.

use haat_tests::*;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};

async fn delivered_order(app: &TestApp, buyer: &Value, product: &Value) -> Value {
    let order = app.place_order(buyer, product, 1, "cod").await;
    assert_eq!(app.send_event("couriers", &delivered_event(&order)).await.0, StatusCode::OK);
    quiescent(&app.pool).await;
    order
}

async fn challenge(app: &TestApp, name: &str, goal: &str, target: &str, reward: Value) -> Value {
    let now = chrono::Utc::now();
    let mut body = json!({"name": name, "goal": goal, "target": target,
        "starts_at": (now - chrono::Duration::hours(1)).to_rfc3339(),
        "ends_at": (now + chrono::Duration::days(30)).to_rfc3339()});
    if let (Some(b), Some(r)) = (body.as_object_mut(), reward.as_object()) {
        b.extend(r.clone());
    }
    let (status, made) = app.admin("POST", "/v1/admin/challenges", Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    made
}

/// The member's standing in each challenge by name: (progress, status).
async fn standings(app: &TestApp, member: &Value) -> (Vec<(String, String, String)>, Vec<String>) {
    let path = format!("/v1/members/{}/challenges", member["id"].as_str().unwrap_or_default());
    let (status, c) = app.admin("GET", &path, None).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let rows = c["challenges"].as_array().into_iter().flatten();
    let badges = c["badges"].as_array().into_iter().flatten().map(|b| text(&b["badge"])).collect();
    (rows.map(|p| (text(&p["challenge"]["name"]), text(&p["progress"]), text(&p["status"]))).collect(), badges)
}

async fn status_reaches(app: &TestApp, member: &Value, name: &str, status: &str) {
    eventually(&format!("{name} {status}"), || async {
        let (rows, _) = standings(app, member).await;
        rows.iter().any(|(n, _, s)| n == name && s == status).then_some(())
    })
    .await;
}

fn completions(app: &TestApp, email: &Value, subject: &str) -> usize {
    app.smtp
        .messages()
        .into_iter()
        .filter(|m| m.to.iter().any(|t| Some(t.as_str()) == email.as_str()) && m.read().0 == subject)
        .count()
}

#[tokio::test]
async fn a_challenge_completed_then_undone_by_a_return_then_completed_again_stands_awarded_once() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(2).await;
    let (sponsor, buyer) = (&chain[0], &chain[1]);
    let reward = json!({"points": "50.00", "badge": "Regular"});
    challenge(&app, "Two orders this month", "orders", "2", reward).await;
    challenge(&app, "Spend 1000", "spend", "1000.00", json!({"badge": "Big spender"})).await;
    challenge(&app, "One active recruit", "recruits", "1", json!({"badge": "Recruiter"})).await;

    delivered_order(&app, buyer, &tea).await;
    let (rows, badges) = standings(&app, buyer).await;
    let row = |name: &str, progress: &str, status: &str| (name.to_owned(), progress.to_owned(), status.to_owned());
    assert!(rows.contains(&row("Two orders this month", "1", "open")), "{rows:?}");
    assert!(rows.contains(&row("Spend 1000", "450.00", "open")), "{rows:?}");
    assert!(badges.is_empty());
    // The buyer joined in the window and kept an order in it: the sponsor's recruit.
    let (sponsor_rows, sponsor_badges) = standings(&app, sponsor).await;
    assert!(sponsor_rows.contains(&row("One active recruit", "1", "awarded")), "{sponsor_rows:?}");
    assert_eq!(sponsor_badges, ["Recruiter"]);

    let second = delivered_order(&app, buyer, &tea).await;
    status_reaches(&app, buyer, "Two orders this month", "awarded").await;
    assert_eq!(wallet_reaches(&app, buyer, "credit", "50.00").await["credit"], "50.00");
    assert_eq!(standings(&app, buyer).await.1, ["Regular"]);

    // The second order comes back whole: one order kept, the award undone.
    let ret = json!({"lines": [{"order_line_id": second["lines"][0]["id"], "quantity": 1}], "reason": "damaged"});
    let path = format!("/v1/orders/{}/returns", second["id"].as_str().unwrap_or_default());
    assert_eq!(app.admin("POST", &path, Some(&ret)).await.0, StatusCode::CREATED);
    status_reaches(&app, buyer, "Two orders this month", "undone").await;
    wallet_reaches(&app, buyer, "credit", "0.00").await;
    let (rows, badges) = standings(&app, buyer).await;
    assert!(rows.contains(&row("Spend 1000", "450.00", "open")), "{rows:?}");
    assert!(badges.is_empty(), "the badge goes with the award: {badges:?}");

    delivered_order(&app, buyer, &tea).await;
    status_reaches(&app, buyer, "Two orders this month", "awarded").await;
    wallet_reaches(&app, buyer, "credit", "50.00").await;
    let (rows, badges) = standings(&app, buyer).await;
    assert!(rows.contains(&row("Two orders this month", "2", "awarded")), "{rows:?}");
    assert!(rows.contains(&row("Spend 1000", "900.00", "open")), "{rows:?}");
    assert_eq!(badges, ["Regular"]);
    quiescent(&app.pool).await;

    // In the end: one award standing (given twice, undone once), one email.
    assert_eq!((entries_of(&app, "challenge_reward").await, entries_of(&app, "challenge_reward_undone").await), (2, 1));
    let times: i32 = sqlx::query_scalar(
        "SELECT times FROM challenge_awards a JOIN challenges c ON c.id = a.challenge_id WHERE c.goal = 'orders'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("the award row");
    assert_eq!(times, 2);
    assert_eq!(completions(&app, &buyer["email"], "Challenge completed: Two orders this month"), 1);
    assert_eq!(completions(&app, &sponsor["email"], "Challenge completed: One active recruit"), 1);
    let mail = app.smtp.messages().into_iter().find(|m| m.read().0 == "Challenge completed: Two orders this month");
    let body = mail.map(|m| m.read().1).unwrap_or_default();
    assert!(body.contains("earned 50.00 points and the Regular badge"), "{body}");
    assert_eq!(ledger_totals(&app.pool).await, (Decimal::ZERO, 0));
    assert_eq!(failed_audit_checks(&app).await, Vec::<(String, Vec<String>)>::new());
}

#[tokio::test]
async fn a_challenge_with_a_bad_field_is_refused_naming_it_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let good = json!({"name": "Three orders", "goal": "orders", "target": "3", "starts_at": "2026-11-01",
                      "ends_at": "2026-11-30", "time_zone": "Asia/Dhaka", "points": "20.00"});
    let bad = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let cases = [
        (bad("goal", json!("visits")), "goal"),
        (bad("target", json!("2.5")), "target"),
        (bad("target", json!("0")), "target"),
        (bad("ends_at", json!("2026-10-01")), "ends_at"),
        (bad("time_zone", json!("Mars/Olympus")), "time_zone"),
        (bad("points", json!("-1.00")), "points"),
        (bad("name", json!("আ".repeat(201))), "name"),
        (bad("badge", json!("")), "badge"),
        (bad("colour", json!("gold")), "colour"),
    ];
    for (body, field) in cases {
        let (status, p) = app.admin("POST", "/v1/admin/challenges", Some(&body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {p}");
        assert!(p.to_string().contains(field), "{field}: {p}");
    }
    let mut neither = good.clone();
    neither.as_object_mut().map(|o| o.remove("points"));
    let (status, p) = app.admin("POST", "/v1/admin/challenges", Some(&neither)).await;
    assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("points")));
    assert_eq!(app.admin("GET", "/v1/admin/challenges", None).await.1["items"], json!([]));

    // The dates are local days: November in Dhaka is 2026-10-31T18:00Z to 2026-11-30T18:00Z.
    let (status, made) = app.admin("POST", "/v1/admin/challenges", Some(&good)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(
        (made["starts_at"].as_str(), made["ends_at"].as_str()),
        (Some("2026-10-31T18:00:00Z"), Some("2026-11-30T18:00:00Z"))
    );
    assert_eq!((made["target"].as_str(), made["points"].as_str()), (Some("3"), Some("20.00")));
}

#[tokio::test]
async fn in_a_real_browser_a_member_sees_how_far_it_is_in_each_challenge_and_the_badges_it_holds() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let buyer = &app.create_chain(2).await[1];
    let two = challenge(&app, "Two orders this month", "orders", "2", json!({"points": "50.00"})).await;
    let spend = challenge(&app, "Spend 400", "spend", "400.00", json!({"badge": "Big spender"})).await;
    delivered_order(&app, buyer, &tea).await;
    status_reaches(&app, buyer, "Spend 400", "awarded").await;

    let browser = haat_tests::browser::Browser::start().await;
    haat_tests::web::member_signs_in(&app, &browser, buyer["email"].as_str().unwrap_or_default()).await;
    browser.click("nav.tabs a[href$='/points']").await;
    let row = |c: &Value| format!("#challenges tr[data-challenge='{}']", c["id"].as_str().unwrap_or_default());
    let words = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let shown = words(browser.text_once_shown(&format!("{} td.progress", row(&two))).await);
    assert_eq!(shown, "1 / 2 orders");
    assert_eq!(browser.text(&format!("{} td.status", row(&two))).await, "in progress");
    let shown = words(browser.text(&format!("{} td.progress", row(&spend))).await);
    assert_eq!(shown, "৳450.00 / ৳400.00 spent");
    assert_eq!(browser.text(&format!("{} td.status", row(&spend))).await, "completed");
    assert_eq!(browser.text("#badges").await, "Big spender");
    browser.screenshot("member-challenges").await;
    let found = browser.accessibility_violations().await;
    assert!(found.is_empty(), "{found:#?}");
    browser.close().await;
}

#[tokio::test]
async fn an_order_confirmed_a_second_before_a_window_ends_counts_and_one_confirmed_as_it_ends_does_not() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let buyer = &app.create_chain(2).await[1];
    delivered_order(&app, buyer, &tea).await;
    let confirmed: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT commissionable_at FROM orders").fetch_one(&app.pool).await.expect("confirmed");
    let second = chrono::Duration::seconds(1);
    // Each window a second either side of the confirmation, at its start and at its end.
    for (name, starts, ends) in [
        ("ends a second after", confirmed - second * 60, confirmed + second),
        ("ends as it was confirmed", confirmed - second * 60, confirmed),
        ("starts as it was confirmed", confirmed, confirmed + second * 60),
        ("starts a second after", confirmed + second, confirmed + second * 60),
    ] {
        let body = json!({"name": name, "goal": "orders", "target": "1", "badge": "One",
                          "starts_at": starts.to_rfc3339(), "ends_at": ends.to_rfc3339()});
        assert_eq!(app.admin("POST", "/v1/admin/challenges", Some(&body)).await.0, StatusCode::CREATED);
    }
    // Progress is the one SQL function the award and the member's view both read.
    let progress = |name: &str| {
        let name = name.to_owned();
        let app = &app;
        async move {
            let counted: Option<String> = sqlx::query_scalar(
                "SELECT challenge_progress(c.id, $1::uuid)::text FROM challenges c WHERE c.name = $2",
            )
            .bind(buyer["id"].as_str().unwrap_or_default())
            .bind(&name)
            .fetch_one(&app.pool)
            .await
            .expect("progress");
            counted.unwrap_or_default()
        }
    };
    assert_eq!(progress("ends a second after").await, "1");
    assert_eq!(progress("ends as it was confirmed").await, "0", "the end is exclusive");
    assert_eq!(progress("starts as it was confirmed").await, "1", "the start is inclusive");
    assert_eq!(progress("starts a second after").await, "0");
}
