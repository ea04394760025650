//! The dashboard as a browser's requests: a client that shows redirects,
//! the cookies a page sets, signing in (the admin key; a member's emailed
//! link, as it arrives through the real SMTP server) and reading pages.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};

use crate::{TestApp, eventually};

/// A client that shows redirects instead of following them, as a test of
/// where a page sends the browser must.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// The value a response sets for cookie `name`, and the cookie's attributes.
pub fn cookie(response: &reqwest::Response, name: &str) -> Option<(String, String)> {
    response.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (pair, attributes) = v.split_once(';').unwrap_or((v, ""));
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| (value.to_owned(), attributes.trim().to_owned()))
    })
}

/// The sign-in form's CSRF token and its cookie.
pub async fn sign_in_form(app: &TestApp, client: &reqwest::Client) -> String {
    let form = client.get(format!("{}/app/sign-in", app.base)).send().await.expect("form");
    assert_eq!(form.status(), StatusCode::OK);
    let (token, attributes) = cookie(&form, "haat_sign_in").expect("the form's CSRF cookie");
    assert!(attributes.contains("HttpOnly") && attributes.contains("SameSite=Lax"), "{attributes}");
    let page = form.text().await.expect("page");
    assert!(page.contains(&format!("name=\"csrf\" value=\"{token}\"")), "{page}");
    assert!(page.contains("<label for=\"key\">Admin or seller key</label>"), "{page}");
    token
}

/// The token of the first sign-in link emailed to `email`, once it has arrived.
pub async fn emailed_token(app: &TestApp, email: &str) -> String {
    emailed_token_after(app, email, 0).await
}

/// The bodies of the sign-in emails `email` has received so far (in
/// either language), decoded.
pub fn sign_in_mails(app: &TestApp, email: &str) -> Vec<String> {
    let mails = app.smtp.messages().into_iter().filter(|m| m.to.iter().any(|t| t.contains(email)));
    mails.map(|m| m.read().1).filter(|body| body.contains("/app/sign-in/link?token=")).collect()
}

/// The token of the sign-in link emailed to `email` after the first
/// `seen` of them, once it has arrived.
pub async fn emailed_token_after(app: &TestApp, email: &str, seen: usize) -> String {
    let body = eventually("the sign-in email", || async { sign_in_mails(app, email).into_iter().nth(seen) }).await;
    let start = body.find("token=").expect("a link with a token") + "token=".len();
    body[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
}

/// Posts the link's confirmation form (with a fresh form token), as the browser does.
pub async fn spend(app: &TestApp, client: &reqwest::Client, token: &str) -> reqwest::Response {
    let page = client.get(format!("{}/app/sign-in/link?token={token}", app.base)).send().await.expect("link page");
    assert_eq!(page.status(), StatusCode::OK);
    let (csrf, _) = cookie(&page, "haat_sign_in").expect("the form's CSRF cookie");
    client
        .post(format!("{}/app/sign-in/link", app.base))
        .header(COOKIE, format!("haat_sign_in={csrf}"))
        .form(&[("token", token), ("csrf", &csrf)])
        .send()
        .await
        .expect("spend the link")
}

/// Asks the sign-in form for a link to `email`, as the browser posts it
/// (with a fresh form token): the answer's status and page.
pub async fn ask_for_link(app: &TestApp, client: &reqwest::Client, email: &str) -> (StatusCode, String) {
    let csrf = sign_in_form(app, client).await;
    let answer = client
        .post(format!("{}/app/sign-in/email", app.base))
        .header(COOKIE, format!("haat_sign_in={csrf}"))
        .form(&[("email", email), ("csrf", &csrf)])
        .send()
        .await
        .expect("ask for a link");
    (answer.status(), answer.text().await.expect("page"))
}

/// A member's session cookie, signed in through the link emailed to `email`.
pub async fn member_session(app: &TestApp, email: &str) -> String {
    let client = client();
    let seen = sign_in_mails(app, email).len();
    assert_eq!(ask_for_link(app, &client, email).await.0, StatusCode::OK);
    let token = emailed_token_after(app, email, seen).await;
    let spent = spend(app, &client, &token).await;
    assert_eq!(spent.status(), StatusCode::SEE_OTHER);
    cookie(&spent, "haat_session").expect("a member session").0
}

/// The answer to signing in with the admin key through the sign-in form.
pub async fn admin_sign_in(app: &TestApp, client: &reqwest::Client) -> reqwest::Response {
    let csrf = sign_in_form(app, client).await;
    client
        .post(format!("{}/app/sign-in", app.base))
        .header(COOKIE, format!("haat_sign_in={csrf}"))
        .form(&[("key", app.admin_token.as_str()), ("csrf", &csrf)])
        .send()
        .await
        .expect("sign in")
}

/// An admin's session cookie, signed in with the admin key.
pub async fn admin_session(app: &TestApp) -> String {
    let signed = admin_sign_in(app, &client()).await;
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    cookie(&signed, "haat_session").expect("an admin session").0
}

/// `GET path` as the session: its status and page.
pub async fn page(app: &TestApp, session: &str, path: &str) -> (StatusCode, String) {
    let answer = client()
        .get(format!("{}{path}", app.base))
        .header(COOKIE, format!("haat_session={session}"))
        .send()
        .await
        .expect("page");
    (answer.status(), answer.text().await.expect("page"))
}

/// `POST path` of `fields` as the session: its status and `Location`.
pub async fn post(app: &TestApp, session: &str, path: &str, fields: &[(&str, &str)]) -> (StatusCode, Option<String>) {
    let answer = client()
        .post(format!("{}{path}", app.base))
        .header(COOKIE, format!("haat_session={session}"))
        .form(fields)
        .send()
        .await
        .expect("post");
    let location = answer.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (answer.status(), location)
}

/// The value of the first hidden field `name` in `page` after `after`.
pub fn hidden(page: &str, after: &str, name: &str) -> String {
    let from = page.find(after).unwrap_or_else(|| panic!("{after} in {page}"));
    let marker = format!("name=\"{name}\" value=\"");
    let start =
        page[from..].find(&marker).map(|i| from + i + marker.len()).unwrap_or_else(|| panic!("{name} in {page}"));
    page[start..].chars().take_while(|c| *c != '"').collect()
}

/// Signs `email`'s member in through its emailed link, in `browser`.
pub async fn member_signs_in(app: &TestApp, browser: &crate::browser::Browser, email: &str) {
    browser.open(&format!("{}/app/sign-in", app.base)).await;
    browser.type_into("#email", email).await;
    browser.click("#member-sign-in button[type=submit]").await;
    eventually("the link is on its way", || async { (browser.path().await == "/app/sign-in/email").then_some(()) })
        .await;
    let token = emailed_token(app, email).await;
    browser.open(&format!("{}/app/sign-in/link?token={token}", app.base)).await;
    browser.click("#confirm-link button[type=submit]").await;
    eventually("the wallet", || async { browser.path().await.starts_with("/app/members/").then_some(()) }).await;
}
