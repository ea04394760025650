//! Signing in and out. An admin signs in with the admin key (the
//! configured one, or an admin API key); the form carries a CSRF token
//! from its own cookie, and a session's forms carry the session's token.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use haat_domain::auth::{self, Role, sessions};
use maud::html;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::pages::{answer, forbidden, frame, to_sign_in};
use crate::{WebState, cookies};

/// How long the sign-in form's CSRF cookie lives (seconds).
const FORM_LIFETIME: i64 = 15 * 60;

/// `GET /app/sign-in`: the form, with a fresh CSRF token in its cookie.
pub async fn form(headers: HeaderMap) -> Response {
    let csrf = haat_domain::auth::sessions::form_token();
    let page = sign_in_page(&csrf, None);
    let mut response = answer(StatusCode::OK, page);
    let (name, value) = cookies::set(&headers, cookies::SIGN_IN, &csrf, FORM_LIFETIME);
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
        form method="post" action="/app/sign-in" {
            input type="hidden" name="csrf" value=(csrf);
            label for="key" { "Admin key" }
            input id="key" name="key" type="password" autocomplete="current-password" required;
            button type="submit" { "Sign in" }
        }
    };
    frame("Sign in", None, body)
}

/// The sign-in form as posted.
#[derive(Deserialize)]
pub struct SignIn {
    key: String,
    csrf: String,
}

/// `POST /app/sign-in`: an admin key opens an admin session.
pub async fn submit(State(state): State<WebState>, headers: HeaderMap, Form(form): Form<SignIn>) -> Response {
    match cookies::read(&headers, cookies::SIGN_IN) {
        Some(expected) if bool::from(expected.as_bytes().ct_eq(form.csrf.as_bytes())) => {}
        _ => return forbidden(),
    }
    match is_admin_key(&state, form.key.trim()).await {
        Ok(true) => {}
        Ok(false) => {
            let page = sign_in_page(&form.csrf, Some("That is not an admin key. Nothing was signed in."));
            return answer(StatusCode::UNAUTHORIZED, page);
        }
        Err(e) => return failed(&e),
    }
    let opened = match state.pool.acquire().await {
        Ok(mut conn) => sessions::open(&mut conn, Role::Admin, None).await,
        Err(e) => Err(e.into()),
    };
    match opened {
        Ok(opened) => {
            let lifetime = sessions::LIFETIME.num_seconds();
            let session = cookies::set(&headers, cookies::SESSION, &opened.token, lifetime);
            let spent = cookies::set(&headers, cookies::SIGN_IN, "", 0);
            (AppendHeaders([session, spent]), Redirect::to("/app")).into_response()
        }
        Err(e) => failed(&e),
    }
}

/// Whether `key` is the configured admin key or an admin API key.
async fn is_admin_key(state: &WebState, key: &str) -> haat_domain::error::DomainResult<bool> {
    let given = Sha256::digest(key.as_bytes());
    if bool::from(given.ct_eq(&state.admin_token_digest)) {
        return Ok(true);
    }
    let mut conn = state.pool.acquire().await?;
    Ok(auth::principal(&mut conn, key).await?.is_some_and(|p| p.role == Role::Admin))
}

/// The sign-out form as posted.
#[derive(Deserialize)]
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
    let body = html! { p { "Something went wrong on our side. Nothing was changed; try again." } };
    answer(StatusCode::INTERNAL_SERVER_ERROR, frame("Something went wrong", None, body))
}
