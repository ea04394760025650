//! The dashboard's two cookies: the session (an opaque token, HttpOnly,
//! SameSite=Lax, Secure when the request came over TLS through a proxy)
//! and the sign-in form's CSRF token, set with the form and checked
//! against the field it posts.

use axum::http::HeaderMap;
use axum::http::header::{COOKIE, SET_COOKIE};

/// The session cookie's name.
pub const SESSION: &str = "haat_session";
/// The sign-in form's CSRF cookie.
pub const SIGN_IN: &str = "haat_sign_in";

/// The value of cookie `name` in the request, if sent.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// A `Set-Cookie` value for `name`, living `max_age` seconds (0: removed).
pub fn set(headers: &HeaderMap, name: &str, value: &str, max_age: i64) -> (axum::http::HeaderName, String) {
    let over_tls = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https");
    let secure = if over_tls { "; Secure" } else { "" };
    (SET_COOKIE, format!("{name}={value}; Path=/app; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"))
}
