//! The dashboard through the real api and worker: an admin signs in with
//! the admin key and reads this month's figures of a scenario placed
//! through the API, and a form without its CSRF token is refused.

use haat_tests::web::{self, cookie, emailed_token, sign_in_form, spend};
use haat_tests::*;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};

/// `GET /app` with the session cookie.
async fn home(app: &TestApp, client: &reqwest::Client, session: &str) -> reqwest::Response {
    client
        .get(format!("{}/app", app.base))
        .header(COOKIE, format!("haat_session={session}"))
        .send()
        .await
        .expect("home")
}

async fn sessions(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM web_sessions").fetch_one(&app.pool).await.expect("count")
}

#[tokio::test]
async fn a_visitor_is_sent_to_sign_in_and_a_wrong_key_or_a_missing_token_signs_no_one_in() {
    let app = TestApp::spawn().await;
    let client = web::client();
    let home = client.get(format!("{}/app", app.base)).send().await.expect("home");
    assert_eq!((home.status(), home.headers()[LOCATION].to_str().ok()), (StatusCode::SEE_OTHER, Some("/app/sign-in")));

    let csrf = sign_in_form(&app, &client).await;
    let wrong = client
        .post(format!("{}/app/sign-in", app.base))
        .header(COOKIE, format!("haat_sign_in={csrf}"))
        .form(&[("key", "not-the-key"), ("csrf", &csrf)])
        .send()
        .await
        .expect("wrong key");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.text().await.expect("page").contains("That is not an admin or seller key"));
    // The right key without the form's cookie: refused, as a form posted from elsewhere.
    let forged = client
        .post(format!("{}/app/sign-in", app.base))
        .form(&[("key", app.admin_token.as_str()), ("csrf", &csrf)])
        .send()
        .await
        .expect("forged");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(sessions(&app).await, 0, "nothing was written");
}

#[tokio::test]
async fn an_admin_signs_in_sees_this_months_figures_and_a_sign_out_without_its_token_is_refused() {
    let (app, _, _) = delivered_and_held().await;
    let client = web::client();
    let signed = web::admin_sign_in(&app, &client).await;
    assert_eq!((signed.status(), signed.headers()[LOCATION].to_str().ok()), (StatusCode::SEE_OTHER, Some("/app")));
    let (session, attributes) = cookie(&signed, "haat_session").expect("a session cookie");
    assert!(attributes.contains("HttpOnly") && attributes.contains("SameSite=Lax"), "{attributes}");
    let stored: String =
        sqlx::query_scalar("SELECT token_hash FROM web_sessions").fetch_one(&app.pool).await.expect("row");
    assert_ne!(stored, session, "only the token's digest is kept");

    let shown = home(&app, &client, &session).await;
    assert_eq!(shown.status(), StatusCode::OK);
    let page = shown.text().await.expect("page");
    // One cod order of 450.00, paid at delivery; 10% and 5% of BV 300.00 to the two uplines.
    for figure in [
        "<dd id=\"orders\">1</dd>",
        "<dd id=\"net-sales\">৳450.00</dd>",
        "<dd id=\"accrued\">৳45.00</dd>",
        "<dd id=\"owed\">৳45.00</dd>",
        "<dd id=\"dead-jobs\"><a href=\"/app/jobs\">0</a></dd>",
        "<dd id=\"orders-today\">1</dd>",
        "<dd id=\"net-sales-today\">৳450.00</dd>",
    ] {
        assert!(page.contains(figure), "{figure} in {page}");
    }
    // The charts' figures: today's bar is the day's sales and commissions.
    let today = chrono::Utc::now().format("%-d");
    let bar = |chart: &str| {
        let from = page.find(&format!("id=\"{chart}\"")).expect("the chart");
        let row = format!("<th scope=\"row\">{today}</th><td class=\"amount\">");
        let start = page[from..].find(&row).map(|i| from + i + row.len()).expect("today's row");
        page[start..].split('<').next().unwrap_or_default().to_owned()
    };
    assert_eq!((bar("sales-by-day"), bar("commissions-by-day")), ("৳450.00".to_owned(), "৳45.00".to_owned()));
    // The hold's release job waits for its day.
    assert!(page.contains("<tr><td>holds</td><td>Pending</td><td>1</td></tr>"), "{page}");
    let token: String =
        sqlx::query_scalar("SELECT csrf_token FROM web_sessions").fetch_one(&app.pool).await.expect("csrf");
    assert!(page.contains(&format!("name=\"csrf\" value=\"{token}\"")), "the sign-out form carries the token");

    let sign_out = |csrf: Option<String>| {
        let request =
            client.post(format!("{}/app/sign-out", app.base)).header(COOKIE, format!("haat_session={session}"));
        let form: Vec<(&str, String)> = csrf.map(|c| vec![("csrf", c)]).unwrap_or_default();
        request.form(&form).send()
    };
    assert_eq!(sign_out(None).await.expect("no token").status(), StatusCode::FORBIDDEN);
    assert_eq!(sign_out(Some("forged".into())).await.expect("forged").status(), StatusCode::FORBIDDEN);
    assert_eq!(home(&app, &client, &session).await.status(), StatusCode::OK, "still signed in");
    let out = sign_out(Some(token)).await.expect("sign out");
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(home(&app, &client, &session).await.status(), StatusCode::SEE_OTHER, "the session ended");
}

#[tokio::test]
async fn in_a_real_browser_an_admin_signs_in_reads_the_figures_and_signs_out() {
    let (app, _, _) = delivered_and_held().await;
    let browser = haat_tests::browser::Browser::start().await;
    browser.open(&format!("{}/app", app.base)).await;
    assert_eq!(browser.path().await, "/app/sign-in", "a visitor is sent to sign in");
    browser.screenshot("sign-in").await;
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "sign-in: {violations:#?}");
    browser.type_into("#key", &app.admin_token).await;
    browser.click("#admin-sign-in button[type=submit]").await;
    eventually("the overview", || async { (browser.path().await == "/app").then_some(()) }).await;
    assert_eq!(browser.text("h1").await, "This month");
    assert_eq!(browser.text("#orders").await, "1");
    assert_eq!(browser.text("#net-sales").await, "৳450.00");
    assert_eq!(browser.text("#accrued").await, "৳45.00");
    assert_eq!(browser.text("#owed").await, "৳45.00");
    browser.screenshot("admin-overview").await;
    browser.click("#sign-out button[type=submit]").await;
    eventually("signed out", || async { (browser.path().await == "/app/sign-in").then_some(()) }).await;
    browser.open(&format!("{}/app", app.base)).await;
    assert_eq!(browser.path().await, "/app/sign-in", "the session ended");
    browser.close().await;
}

#[tokio::test]
async fn a_member_signs_in_through_the_emailed_link_once_and_sees_only_its_own_wallet() {
    let (app, chain, _) = delivered_and_held().await;
    let client = web::client();
    let ask = |email: String| {
        let (app, client) = (&app, &client);
        async move { web::ask_for_link(app, client, &email).await }
    };
    // An address that is no member's gets the same answer, and no link.
    let (status, page) = ask("nobody@example.com".into()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("If that address belongs to a member"), "{page}");
    let links: i64 = sqlx::query_scalar("SELECT count(*) FROM sign_in_links").fetch_one(&app.pool).await.expect("n");
    assert_eq!(links, 0);

    let email = chain[1]["email"].as_str().unwrap_or_default().to_uppercase();
    assert_eq!(ask(email.clone()).await, (status, page), "the address is matched whatever its case");
    let token = emailed_token(&app, &email.to_lowercase()).await;
    let spent = spend(&app, &client, &token).await;
    assert_eq!((spent.status(), spent.headers()[LOCATION].to_str().ok()), (StatusCode::SEE_OTHER, Some("/app")));
    let (session, _) = cookie(&spent, "haat_session").expect("a member session");
    let home = home(&app, &client, &session).await;
    let own = format!("/app/members/{}", chain[1]["id"].as_str().unwrap_or_default());
    assert_eq!((home.status(), home.headers()[LOCATION].to_str().ok()), (StatusCode::SEE_OTHER, Some(own.as_str())));
    let (_, wallet) = web::page(&app, &session, &own).await;
    assert!(wallet.contains(chain[1]["name"].as_str().unwrap_or("?")), "{wallet}");
    // Level 1 of BV 300.00 at 10%, held.
    assert!(wallet.contains("<dd id=\"pending\">৳30.00</dd>"), "{wallet}");
    assert!(wallet.contains("<dd id=\"available\">৳0.00</dd>"), "{wallet}");
    assert!(!wallet.contains("Net sales"), "a member sees nothing of the shop's figures");
    // This month's bar of the earnings chart: the level commission.
    let month = chrono::Utc::now().format("%b %Y");
    let row = format!("<tr><th scope=\"row\">{month}</th><td class=\"amount\">৳30.00</td></tr>");
    assert!(wallet.contains("<th scope=\"col\">Level commissions</th>") && wallet.contains(&row), "{wallet}");

    let again = spend(&app, &client, &token).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED, "a link works once");
    assert_eq!(sessions(&app).await, 1);
}

#[tokio::test]
async fn in_a_real_browser_a_member_signs_in_through_the_emailed_link_and_sees_its_wallet() {
    let (app, chain, _) = delivered_and_held().await;
    let email = chain[1]["email"].as_str().unwrap_or_default().to_owned();
    let browser = haat_tests::browser::Browser::start().await;
    browser.open(&format!("{}/app/sign-in", app.base)).await;
    browser.type_into("#email", &email).await;
    browser.click("#member-sign-in button[type=submit]").await;
    eventually("the link is on its way", || async { (browser.path().await == "/app/sign-in/email").then_some(()) })
        .await;
    let token = emailed_token(&app, &email).await;
    browser.open(&format!("{}/app/sign-in/link?token={token}", app.base)).await;
    browser.click("#confirm-link button[type=submit]").await;
    let own = format!("/app/members/{}", chain[1]["id"].as_str().unwrap_or_default());
    eventually("the wallet", || async { (browser.path().await == own).then_some(()) }).await;
    assert_eq!(browser.text("h1").await, "Your wallet");
    assert_eq!(browser.text("#pending").await, "৳30.00");
    assert_eq!(browser.text("#available").await, "৳0.00");
    browser.screenshot("member-wallet").await;
    browser.close().await;
}

#[tokio::test]
async fn after_ten_sign_in_attempts_in_fifteen_minutes_even_the_right_key_is_refused() {
    let app = TestApp::spawn().await;
    let client = web::client();
    let csrf = sign_in_form(&app, &client).await;
    let attempt = |key: String| {
        let (app, client, csrf) = (&app, &client, csrf.clone());
        async move {
            client
                .post(format!("{}/app/sign-in", app.base))
                .header(COOKIE, format!("haat_sign_in={csrf}"))
                .form(&[("key", key.as_str()), ("csrf", &csrf)])
                .send()
                .await
                .expect("attempt")
                .status()
        }
    };
    for guess in 0..10 {
        assert_eq!(attempt(format!("guess-{guess}")).await, StatusCode::UNAUTHORIZED, "guess {guess}");
    }
    assert_eq!(attempt(app.admin_token.clone()).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(sessions(&app).await, 0);
}

#[tokio::test]
async fn a_sign_in_link_works_until_its_last_second_and_not_after_and_bad_fields_are_named() {
    let (app, chain, _) = delivered_and_held().await;
    let client = web::client();
    let email = |i: usize| chain[i]["email"].as_str().unwrap_or_default().to_owned();
    let ask = |email: String| {
        let (app, client) = (&app, &client);
        async move { assert_eq!(web::ask_for_link(app, client, &email).await.0, StatusCode::OK) }
    };
    // Moved to one second past its end: refused.
    ask(email(1)).await;
    let token = emailed_token(&app, &email(1)).await;
    sqlx::query("UPDATE sign_in_links SET expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .expect("age");
    assert_eq!(spend(&app, &client, &token).await.status(), StatusCode::UNAUTHORIZED);
    // A fresh one moved to two seconds before its end: still good.
    ask(email(0)).await;
    let fresh = emailed_token(&app, &email(0)).await;
    sqlx::query("UPDATE sign_in_links SET expires_at = now() + interval '2 seconds' WHERE used_at IS NULL AND expires_at > now()")
        .execute(&app.pool)
        .await
        .expect("near its end");
    assert_eq!(spend(&app, &client, &fresh).await.status(), StatusCode::SEE_OTHER);

    // Each field is bounded in characters (a Bengali address of 255 letters is too long) and refuses NUL.
    let csrf = sign_in_form(&app, &client).await;
    for (email, why) in [("ক".repeat(255), "must be 1 to 254 characters"), ("a\u{0}@x.bd".to_owned(), "NUL")] {
        let answer = client
            .post(format!("{}/app/sign-in/email", app.base))
            .header(COOKIE, format!("haat_sign_in={csrf}"))
            .form(&[("email", email.as_str()), ("csrf", &csrf)])
            .send()
            .await
            .expect("bad email");
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = answer.text().await.expect("page");
        assert!(page.contains("email: must") && page.contains(why), "{page}");
    }
    let unknown = client
        .post(format!("{}/app/sign-in/email", app.base))
        .header(COOKIE, format!("haat_sign_in={csrf}"))
        .form(&[("email", email(0).as_str()), ("csrf", &csrf), ("admin", "yes")])
        .send()
        .await
        .expect("unknown field");
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
