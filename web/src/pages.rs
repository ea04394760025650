//! The page frame every page shares, its stylesheet, and the answers that
//! are whole pages of their own (refused, sign in first).

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};

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

/// A whole page: `title` as its heading, and a sign-out form when signed
/// in (carrying the session's CSRF token).
pub fn frame(title: &str, signed_in: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · haat" }
                link rel="stylesheet" href="/app/assets/app.css";
            }
            body {
                header {
                    span.brand { "haat" }
                    @if let Some(csrf) = signed_in {
                        form method="post" action="/app/sign-out" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Sign out" }
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

/// A page answered with `status`.
pub fn answer(status: StatusCode, page: Markup) -> Response {
    (status, Html(page.into_string())).into_response()
}

/// A refused form (its CSRF token missing or wrong): nothing was done.
pub fn forbidden() -> Response {
    let body = html! { p { "This form has expired or did not come from this site. Nothing was done." } };
    answer(StatusCode::FORBIDDEN, frame("Not allowed", None, body))
}

/// Where a visitor without a session goes.
pub fn to_sign_in() -> Response {
    Redirect::to("/app/sign-in").into_response()
}
