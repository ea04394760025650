//! Signing in and out. An admin signs in with the admin key (the
//! configured one, or an admin API key), a seller with its seller key; a
//! member with a one-time link
//! emailed to its address (15 minutes, once). The sign-in forms carry a
//! CSRF token from their own cookie, and a session's forms the session's.

use axum::Form;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use haat_domain::auth::{self, Role, sessions};
use maud::html;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::pages::{answer, forbidden, frame, to_sign_in};
use crate::words::{self, t};
use crate::{WebState, cookies};

/// How long the sign-in form's CSRF cookie lives (seconds).
const FORM_LIFETIME: i64 = 15 * 60;

/// `GET /app/sign-in`: the forms, with a fresh CSRF token in their cookie.
pub async fn form(headers: HeaderMap) -> Response {
    let csrf = sessions::form_token();
    with_form_token(&headers, &csrf, sign_in_page(&csrf, None))
}

/// A page of forms posted before any session exists, answered with the
/// cookie holding their CSRF token.
fn with_form_token(headers: &HeaderMap, csrf: &str, page: maud::Markup) -> Response {
    let mut response = answer(StatusCode::OK, page);
    let (name, value) = cookies::set(headers, cookies::SIGN_IN, csrf, FORM_LIFETIME);
    if let Ok(value) = value.parse() {
        response.headers_mut().insert(name, value);
    }
    response
}

fn sign_in_page(csrf: &str, problem: Option<&str>) -> maud::Markup {
    let body = html! {
        @if let Some(problem) = problem {
            p.problem role="alert" { (problem) }
        }
        section {
            h2 { (t("Members")) }
            form #member-sign-in method="post" action="/app/sign-in/email" {
                input type="hidden" name="csrf" value=(csrf);
                label for="email" { (t("Your email address")) }
                input id="email" name="email" type="email" autocomplete="email" required;
                button type="submit" { (t("Email me a sign-in link")) }
            }
        }
        section {
            h2 { (t("Office")) }
            form #admin-sign-in method="post" action="/app/sign-in" {
                input type="hidden" name="csrf" value=(csrf);
                label for="key" { (t("Admin or seller key")) }
                input id="key" name="key" type="password" autocomplete="current-password" required;
                button type="submit" { (t("Sign in")) }
            }
        }
    };
    frame(t("Sign in"), None, body)
}

/// What every sign-in form's POST checks first: the attempt is counted
/// (too many from one address: 429), then the form's CSRF token (403).
/// `None` when it may go on.
async fn refused(state: &WebState, from: SocketAddr, headers: &HeaderMap, posted_csrf: &str) -> Option<Response> {
    if let Some(answer) = too_many(state, from).await {
        return Some(answer);
    }
    (!form_token_matches(headers, posted_csrf)).then(forbidden)
}

/// Counts a sign-in attempt from the client's address; `Some(answer)`
/// when there were too many (429) or the count failed.
async fn too_many(state: &WebState, from: SocketAddr) -> Option<Response> {
    let allowed = match state.pool.acquire().await {
        Ok(mut conn) => sessions::attempt_allowed(&mut conn, &from.ip().to_string()).await,
        Err(e) => Err(e.into()),
    };
    match allowed {
        Ok(true) => None,
        Ok(false) => {
            let minutes = sessions::ATTEMPT_WINDOW.num_minutes();
            let body = html! { p.problem role="alert" { (words::tf("Too many sign-in attempts from here. Try again in {} minutes.", minutes)) } };
            Some(answer(StatusCode::TOO_MANY_REQUESTS, frame(t("Too many attempts"), None, body)))
        }
        Err(e) => Some(failed(&e)),
    }
}

/// The longest a posted key, token or CSRF token may be (ours are 45).
const TOKEN_CHARS: usize = 200;
/// The longest email address (RFC 5321's path limit).
const EMAIL_CHARS: usize = 254;

/// Each posted field within its length (in characters) and free of NUL,
/// or a 422 page naming the first that is not.
pub fn invalid(fields: &[(&str, &str, usize)]) -> Option<Response> {
    let (field, problem) = fields.iter().find_map(|(name, value, max)| {
        haat_domain::input::required(value, *max).err().map(|e| (*name, e.to_string()))
    })?;
    Some(bad_field(field, &problem))
}

/// A 422 page naming the field and what is wrong with it.
pub fn bad_field(field: &str, problem: &str) -> Response {
    let body = html! { p.problem role="alert" { (field) ": " (problem) ". Nothing was done." } };
    answer(StatusCode::UNPROCESSABLE_ENTITY, frame(t("Check the form"), None, body))
}

/// Whether the posted CSRF token is the one the form's cookie holds.
fn form_token_matches(headers: &HeaderMap, posted: &str) -> bool {
    cookies::read(headers, cookies::SIGN_IN)
        .is_some_and(|expected| bool::from(expected.as_bytes().ct_eq(posted.as_bytes())))
}

/// The answer to a sign-in that opened `opened`: its cookie, the form's
/// spent, and the way home.
fn signed_in(headers: &HeaderMap, opened: &sessions::Opened) -> Response {
    let session = cookies::set(headers, cookies::SESSION, &opened.token, sessions::LIFETIME.num_seconds());
    let spent = cookies::set(headers, cookies::SIGN_IN, "", 0);
    (AppendHeaders([session, spent]), Redirect::to("/app")).into_response()
}

/// The sign-in form as posted.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    key: String,
    csrf: String,
}

/// `POST /app/sign-in`: an admin key opens an admin session, a seller key
/// a session of its seller.
pub async fn submit(
    State(state): State<WebState>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    if let Some(refused) = refused(&state, from, &headers, &form.csrf).await {
        return refused;
    }
    if let Some(invalid) = invalid(&[("key", &form.key, TOKEN_CHARS)]) {
        return invalid;
    }
    let opened = async {
        let mut conn = state.pool.acquire().await?;
        match key_holder(&state, &mut conn, form.key.trim()).await? {
            Some(KeyHolder::Admin) => sessions::open(&mut conn, Role::Admin, None).await.map(Some),
            Some(KeyHolder::Seller(seller)) => sessions::open_seller(&mut conn, seller).await.map(Some),
            None => Ok(None),
        }
    };
    match opened.await {
        Ok(Some(opened)) => signed_in(&headers, &opened),
        Ok(None) => {
            let page = sign_in_page(&form.csrf, Some(t("That is not an admin or seller key. Nothing was signed in.")));
            answer(StatusCode::UNAUTHORIZED, page)
        }
        Err(e) => failed(&e),
    }
}

/// The member's form as posted.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailLink {
    email: String,
    csrf: String,
}

/// `POST /app/sign-in/email`: emails a one-time link to the member with
/// that address, and answers the same whether there is one or not.
pub async fn email_link(
    State(state): State<WebState>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<EmailLink>,
) -> Response {
    if let Some(refused) = refused(&state, from, &headers, &form.csrf).await {
        return refused;
    }
    if let Some(invalid) = invalid(&[("email", &form.email, EMAIL_CHARS)]) {
        return invalid;
    }
    let link_base = format!("{}/app/sign-in/link", state.settings.public_url);
    let queued = async {
        let mut tx = state.pool.begin().await?;
        sessions::email_link(&mut tx, &form.email, &link_base).await?;
        tx.commit().await?;
        Ok::<_, haat_domain::error::DomainError>(())
    };
    if let Err(e) = queued.await {
        return failed(&e);
    }
    let minutes = sessions::LINK_LIFETIME.num_minutes();
    let body = html! {
        p role="status" { (words::tf("If that address belongs to a member, a sign-in link is on its way. It works once, for {} minutes.", minutes)) }
    };
    answer(StatusCode::OK, frame(t("Check your email"), None, body))
}

/// `?token=` of an emailed link.
#[derive(Deserialize)]
pub struct LinkToken {
    token: Option<String>,
}

/// `GET /app/sign-in/link?token=`: asks to confirm, so that a mail
/// scanner following the link does not spend it.
pub async fn confirm_link(headers: HeaderMap, axum::extract::Query(link): axum::extract::Query<LinkToken>) -> Response {
    let csrf = sessions::form_token();
    let token = link.token.unwrap_or_default();
    let body = html! {
        form #confirm-link method="post" action="/app/sign-in/link" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="token" value=(token);
            button type="submit" { (t("Sign in")) }
        }
    };
    with_form_token(&headers, &csrf, frame(t("Sign in"), None, body))
}

/// The confirmation as posted.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendLink {
    token: String,
    csrf: String,
}

/// `POST /app/sign-in/link`: spends the link and opens the member's session.
pub async fn spend_link(
    State(state): State<WebState>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<SpendLink>,
) -> Response {
    if let Some(refused) = refused(&state, from, &headers, &form.csrf).await {
        return refused;
    }
    if let Some(invalid) = invalid(&[("token", &form.token, TOKEN_CHARS)]) {
        return invalid;
    }
    let opened = async {
        let mut tx = state.pool.begin().await?;
        let Some(member) = sessions::redeem_link(&mut tx, &form.token).await? else { return Ok(None) };
        let opened = sessions::open(&mut tx, Role::Member, Some(member)).await?;
        tx.commit().await?;
        Ok::<_, haat_domain::error::DomainError>(Some(opened))
    };
    match opened.await {
        Ok(Some(opened)) => signed_in(&headers, &opened),
        Ok(None) => {
            let body =
                html! { p.problem role="alert" { (t("This link has been used or has expired. Ask for a new one.")) } };
            answer(StatusCode::UNAUTHORIZED, frame(t("Link not valid"), None, body))
        }
        Err(e) => failed(&e),
    }
}

/// Who a key signing in to the dashboard is.
enum KeyHolder {
    /// The configured admin key, or an admin API key.
    Admin,
    /// A seller API key.
    Seller(uuid::Uuid),
}

/// Whose `key` is, when it may sign in to the dashboard.
async fn key_holder(
    state: &WebState,
    conn: &mut sqlx::PgConnection,
    key: &str,
) -> haat_domain::error::DomainResult<Option<KeyHolder>> {
    let given = Sha256::digest(key.as_bytes());
    if bool::from(given.ct_eq(&state.admin_token_digest)) {
        return Ok(Some(KeyHolder::Admin));
    }
    Ok(auth::principal(conn, key).await?.and_then(|p| match (p.role, p.seller_id) {
        (Role::Admin, _) => Some(KeyHolder::Admin),
        (Role::Seller, Some(seller)) => Some(KeyHolder::Seller(seller)),
        _ => None,
    }))
}

/// The sign-out form as posted.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignOut {
    csrf: Option<String>,
}

/// `POST /app/sign-out`: ends the session (its CSRF token required).
pub async fn sign_out(State(state): State<WebState>, headers: HeaderMap, Form(form): Form<SignOut>) -> Response {
    let Some(token) = cookies::read(&headers, cookies::SESSION) else { return to_sign_in() };
    let ended = async {
        let mut conn = state.pool.acquire().await?;
        let Some(session) = sessions::find(&mut conn, &token).await? else { return Ok(false) };
        let posted = form.csrf.unwrap_or_default();
        if !bool::from(session.csrf_token.as_bytes().ct_eq(posted.as_bytes())) {
            return Ok(false);
        }
        sessions::end(&mut conn, &token).await?;
        Ok::<_, haat_domain::error::DomainError>(true)
    };
    match ended.await {
        Ok(true) => ([cookies::set(&headers, cookies::SESSION, "", 0)], to_sign_in()).into_response(),
        Ok(false) => forbidden(),
        Err(e) => failed(&e),
    }
}

/// Something failed on our side: logged, and a page that says so.
pub fn failed(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "dashboard page failed");
    let body = html! { p { (t("Something went wrong on our side. Nothing was changed; try again.")) } };
    answer(StatusCode::INTERNAL_SERVER_ERROR, frame(t("Something went wrong"), None, body))
}
