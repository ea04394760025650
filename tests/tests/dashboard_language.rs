//! The dashboard in Bengali: a browser that prefers Bengali gets it, the
//! switch on every page keeps a choice in the browser and brings it back
//! to the page it was on (and to no other site), and a member reads its
//! wallet and commission lines in Bengali with Bengali digits.

use haat_tests::browser::Browser;
use haat_tests::web;
use haat_tests::*;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT_LANGUAGE, COOKIE, LOCATION};

/// Bengali digits, written out here (not taken from the code under test).
fn bn(n: impl std::fmt::Display) -> String {
    const DIGITS: [char; 10] = ['০', '১', '২', '৩', '৪', '৫', '৬', '৭', '৮', '৯'];
    n.to_string().chars().map(|c| c.to_digit(10).map_or(c, |d| DIGITS[d as usize])).collect()
}

const MONTHS: [&str; 12] =
    ["জানুয়ারি", "ফেব্রুয়ারি", "মার্চ", "এপ্রিল", "মে", "জুন", "জুলাই", "আগস্ট", "সেপ্টেম্বর", "অক্টোবর", "নভেম্বর", "ডিসেম্বর"];

#[tokio::test]
async fn a_browser_preferring_bengali_gets_bengali_and_the_switch_keeps_a_choice_and_goes_back_only_to_our_pages() {
    let app = TestApp::spawn().await;
    let client = web::client();
    let sign_in = |cookie: Option<&'static str>| {
        let mut request =
            client.get(format!("{}/app/sign-in", app.base)).header(ACCEPT_LANGUAGE, "bn-BD,bn;q=0.9,en;q=0.8");
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        request.send()
    };
    let answer = sign_in(None).await.expect("page");
    assert_eq!(answer.headers()["content-language"], "bn");
    let page = answer.text().await.expect("page");
    assert!(page.contains("<html lang=\"bn\">") && page.contains("আপনার ইমেইল ঠিকানা"), "{page}");
    assert!(page.contains("<button type=\"submit\" name=\"lang\" value=\"en\" lang=\"en\">English</button>"), "{page}");

    let switch = |lang: &'static str, back: &'static str| {
        client.post(format!("{}/app/language", app.base)).form(&[("lang", lang), ("back", back)]).send()
    };
    let switched = switch("en", "/app/sign-in").await.expect("switch");
    assert_eq!(
        (switched.status(), switched.headers()[LOCATION].to_str().ok()),
        (StatusCode::SEE_OTHER, Some("/app/sign-in"))
    );
    let (value, attributes) = web::cookie(&switched, "haat_lang").expect("the choice is kept");
    assert_eq!(value, "en");
    assert!(attributes.contains("Max-Age=31536000") && attributes.contains("SameSite=Lax"), "{attributes}");
    let page = sign_in(Some("haat_lang=en")).await.expect("page").text().await.expect("page");
    assert!(
        page.contains("<html lang=\"en\">") && page.contains("Your email address"),
        "the choice wins over the browser's"
    );

    for elsewhere in ["https://evil.example/app", "//evil.example/app", "/app//evil.example", "/other"] {
        let answer = switch("bn", elsewhere).await.expect("switch");
        assert_eq!(answer.headers()[LOCATION].to_str().ok(), Some("/app"), "{elsewhere}");
    }
}

#[tokio::test]
async fn in_a_real_browser_a_member_switches_to_bengali_and_reads_its_wallet_and_commission_in_bengali() {
    let (app, chain, order) = delivered_and_held().await;
    let top = &chain[0];
    let member = top["id"].as_str().unwrap_or_default().to_owned();
    let (_, lines) = app.admin("GET", &format!("/v1/members/{member}/commissions"), None).await;
    let release_at: chrono::DateTime<chrono::Utc> =
        lines["items"][0]["release_at"].as_str().and_then(|t| t.parse().ok()).expect("release_at");

    let browser = Browser::start().await;
    web::member_signs_in(&app, &browser, top["email"].as_str().unwrap_or_default()).await;
    let wallet = format!("/app/members/{member}");
    eventually("the wallet", || async { (browser.path().await == wallet).then_some(()) }).await;
    assert_eq!(browser.text("h1").await, "Your wallet");

    browser.click("#language button[value=bn]").await;
    assert_eq!(browser.text_once_shown("html[lang=bn] h1").await, "আপনার ওয়ালেট");
    assert_eq!(browser.path().await, wallet, "the switch comes back to the same page");
    assert_eq!(browser.text("#pending").await, "৳১৫.০০");
    assert_eq!(browser.text("#available").await, "৳০.০০");
    browser.screenshot("member-wallet-bengali").await;
    let found = browser.accessibility_violations().await;
    assert!(found.is_empty(), "the Bengali wallet: {found:#?}");

    browser.click("nav.tabs a[href$='/commissions']").await;
    let said = browser.text_once_shown("html[lang=bn] #commissions tbody tr td.explained").await;
    let release = release_at.date_naive();
    use chrono::Datelike;
    let until = format!("{} {} {}", bn(release.day()), MONTHS[release.month0() as usize], bn(release.year()));
    let invoice = order["invoice_no"].as_str().unwrap_or_default();
    assert_eq!(said, format!("Member 2-এর অর্ডার {invoice}-এ লেভেল ২: BV ৩০০.০০-এর ৫% = ৳১৫.০০, {until} পর্যন্ত আটকে আছে"));
    assert_eq!(browser.text("#commissions tbody tr td.amount").await, "৳১৫.০০");
    browser.screenshot("member-commissions-bengali").await;
    let found = browser.accessibility_violations().await;
    assert!(found.is_empty(), "the Bengali commissions: {found:#?}");
    browser.close().await;
}

#[tokio::test]
async fn a_members_choice_of_bengali_is_kept_for_its_emails_and_a_switch_without_its_token_is_refused() {
    let (app, chain, _) = released_kit_commission().await;
    let member = &chain[0];
    let email = member["email"].as_str().unwrap_or_default().to_owned();
    let session = web::member_session(&app, &email).await;
    let wallet = format!("/app/members/{}", member["id"].as_str().unwrap_or_default());
    let (_, page) = web::page(&app, &session, &wallet).await;
    let csrf = web::hidden(&page, "id=\"language\"", "csrf");
    let switch = |csrf: String| {
        let (app, session, wallet) = (&app, &session, wallet.clone());
        async move { web::post(app, session, "/app/language", &[("lang", "bn"), ("back", &wallet), ("csrf", &csrf)]).await }
    };
    assert_eq!(switch("forged".into()).await.0, StatusCode::FORBIDDEN);
    let language = || async {
        let id: uuid::Uuid = member["id"].as_str().unwrap_or_default().parse().expect("id");
        sqlx::query_scalar::<_, String>("SELECT language FROM members WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .expect("row")
    };
    assert_eq!(language().await, "en", "nothing was kept");
    assert_eq!(switch(csrf.clone()).await, (StatusCode::SEE_OTHER, Some(wallet.clone())));
    assert_eq!(language().await, "bn");

    // A withdrawal's emails and a new sign-in link now come in Bengali, amounts with Bengali digits.
    let path = format!("/v1/members/{}/withdrawals", member["id"].as_str().unwrap_or_default());
    let body = serde_json::json!({"amount": "500.00", "method": "bkash", "account": "01711000000"}).to_string();
    let (status, _) = app.call_with("POST", &path, &app.admin_token, Some(body), &[("idempotency-key", "k-bn")]).await;
    assert_eq!(status, StatusCode::CREATED);
    let (subject, text) = eventually("the withdrawal's email", || async {
        app.smtp
            .messages()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.contains(&email)))
            .map(|m| m.read())
            .find(|(s, _)| s.contains("উত্তোলন"))
    })
    .await;
    assert_eq!(subject, "আপনার ৳৫০০.০০ উত্তোলন: অনুরোধ করা হয়েছে");
    assert_eq!(text.trim_end(), "প্রিয় Member 0,\n\nআপনার ৳৫০০.০০ উত্তোলনের অবস্থা এখন: অনুরোধ করা হয়েছে।");
    let seen = web::sign_in_mails(&app, &email).len();
    web::member_session(&app, &email).await;
    let mails = app.smtp.messages().into_iter().filter(|m| m.to.iter().any(|t| t.contains(&email)));
    let links: Vec<(String, String)> =
        mails.map(|m| m.read()).filter(|(_, b)| b.contains("/app/sign-in/link?token=")).collect();
    let (subject, text) = links.get(seen).cloned().expect("the second sign-in email");
    assert_eq!(subject, "আপনার haat সাইন-ইন লিংক");
    assert!(text.starts_with("প্রিয় Member 0,\n\nএই লিংক দিয়ে") && text.contains("১৫ মিনিটের জন্য"), "{text}");
    assert_eq!(links[0].0, "Your haat sign-in link", "the first, before the switch, was in English");
}
