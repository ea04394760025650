//! The page frame every page shares, its stylesheet, and the answers that
//! are whole pages of their own (refused, sign in first).

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use haat_domain::auth::Role;
use haat_domain::auth::sessions::Session;
use maud::{DOCTYPE, Markup, html};

use crate::words::{self, t};

/// The stylesheet, served from here (nothing loads from elsewhere).
const STYLESHEET: &str = include_str!("../assets/app.css");

/// `GET /app/assets/app.css`.
pub async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLESHEET).into_response()
}

/// The Bengali font (the Taka sign and the script), regular and bold
/// (`web/assets/fonts/README.md`).
const BENGALI_400: &[u8] = include_bytes!("../assets/fonts/noto-sans-bengali-bengali-400-normal.woff2");
const BENGALI_700: &[u8] = include_bytes!("../assets/fonts/noto-sans-bengali-bengali-700-normal.woff2");

/// `GET /app/assets/fonts/noto-sans-bengali-400.woff2`.
pub async fn bengali_regular() -> Response {
    font(BENGALI_400)
}

/// `GET /app/assets/fonts/noto-sans-bengali-700.woff2`.
pub async fn bengali_bold() -> Response {
    font(BENGALI_700)
}

fn font(bytes: &'static [u8]) -> Response {
    ([(header::CONTENT_TYPE, "font/woff2"), (header::CACHE_CONTROL, "public, max-age=604800")], bytes).into_response()
}

/// The htmx script, served from here: it loads parts of pages (a level of
/// the team tree) that plain links also reach without it.
const HTMX: &str = include_str!("../assets/vendor/htmx.min.js");

/// `GET /app/assets/htmx.min.js`.
pub async fn htmx() -> Response {
    let headers =
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=604800")];
    (headers, HTMX).into_response()
}

/// A whole page: `title` as its heading, the language switch, and when
/// signed in the way around for the session's role and a sign-out form
/// (carrying the session's CSRF token).
pub fn frame(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(words::language().tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · haat" }
                link rel="stylesheet" href="/app/assets/app.css";
                script src="/app/assets/htmx.min.js" defer {}
            }
            body {
                header {
                    span.brand { "haat" }
                    @if let Some(session) = session { (nav(session)) }
                    (switch(session))
                    @if let Some(session) = session {
                        form #sign-out method="post" action="/app/sign-out" {
                            input type="hidden" name="csrf" value=(session.csrf_token);
                            button type="submit" { (t("Sign out")) }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The language switch: each language named in itself; signed in, it
/// carries the session's CSRF token, so a member's choice is kept for its
/// emails too.
fn switch(session: Option<&Session>) -> Markup {
    html! {
        form #language method="post" action="/app/language" aria-label=(t("Language")) {
            input type="hidden" name="back" value=(words::path());
            @if let Some(session) = session {
                input type="hidden" name="csrf" value=(session.csrf_token);
            }
            button type="submit" name="lang" value="en" lang="en" { "English" }
            button type="submit" name="lang" value="bn" lang="bn" { "বাংলা" }
        }
    }
}

/// The pages a session's role has.
fn nav(session: &Session) -> Markup {
    html! {
        nav aria-label=(t("Main")) {
            @match (session.role, session.member_id) {
                (Role::Member, Some(member)) => {
                    a href=(format!("/app/members/{member}")) { (t("Wallet")) }
                    a href=(format!("/app/members/{member}/commissions")) { (t("Commissions")) }
                    a href=(format!("/app/members/{member}/team")) { (t("Team")) }
                    a href=(format!("/app/members/{member}/orders")) { (t("Orders")) }
                    a href=(format!("/app/members/{member}/points")) { (t("Points")) }
                    a href=(format!("/app/members/{member}/cashback")) { (t("Cashback")) }
                    a href=(format!("/app/members/{member}/share")) { (t("Share")) }
                    a href=(format!("/app/members/{member}/withdrawals")) { (t("Withdrawals")) }
                }
                (Role::Seller, _) => {
                    @if let Some(seller) = session.seller_id {
                        a href=(format!("/app/sellers/{seller}")) { (t("My shop")) }
                    }
                }
                _ => {
                    a href="/app" { (t("Overview")) }
                    a href="/app/members" { (t("Members")) }
                    a href="/app/payouts" { (t("Payouts")) }
                    a href="/app/sellers" { (t("Sellers")) }
                    a href="/app/campaigns" { (t("Campaigns")) }
                    a href="/app/plans" { (t("Plans")) }
                    a href="/app/catalogue" { (t("Catalogue")) }
                    a href="/app/reports" { (t("Reports")) }
                    a href="/app/jobs" { (t("Jobs")) }
                    a href="/app/audit" { (t("Audit")) }
                }
            }
        }
    }
}

/// The switch as posted.
#[derive(serde::Deserialize)]
pub struct Switch {
    lang: String,
    #[serde(default)]
    back: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /app/language`: remembers the language in this browser for a
/// year and goes back to the page. A member's session posting its CSRF
/// token also keeps the choice on the member, for its emails. Without a
/// session the switch changes nothing but the cookie the browser itself
/// keeps, so it needs no token.
pub async fn switch_language(
    axum::extract::State(state): axum::extract::State<crate::WebState>,
    headers: axum::http::HeaderMap,
    axum::Form(form): axum::Form<Switch>,
) -> Response {
    let language = haat_domain::money::display::Language::of_tag(&form.lang);
    if let Ok(Some(session)) = crate::session::signed_in(&state, &headers).await {
        if crate::session::forged(&session, &form.csrf).is_some() {
            return forbidden();
        }
        if let Some(member) = session.member_id {
            let kept = async {
                let mut conn = state.pool.acquire().await?;
                haat_domain::network::members::set_language(&mut conn, member, language).await
            };
            if let Err(e) = kept.await {
                return crate::sign_in::failed(&e);
            }
        }
    }
    let cookie = crate::cookies::set(&headers, words::COOKIE, language.tag(), 365 * 24 * 3600);
    ([cookie], Redirect::to(words::back_to(&form.back))).into_response()
}

/// A page answered with `status`.
pub fn answer(status: StatusCode, page: Markup) -> Response {
    (status, Html(page.into_string())).into_response()
}

/// A refused form (its CSRF token missing or wrong): nothing was done.
pub fn forbidden() -> Response {
    let body = html! { p { (t("This form has expired or did not come from this site. Nothing was done.")) } };
    answer(StatusCode::FORBIDDEN, frame(t("Not allowed"), None, body))
}

/// Where a visitor without a session goes.
pub fn to_sign_in() -> Response {
    Redirect::to("/app/sign-in").into_response()
}
