//! Who is looking: the session a request's cookie names, whether it may
//! see the member a page is about, and the CSRF check of its forms.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use haat_domain::auth::sessions::{self, Session};
use haat_domain::error::DomainResult;
use maud::html;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::pages::{answer, forbidden, frame, to_sign_in};
use crate::sign_in::failed;
use crate::words::t;
use crate::{WebState, cookies};

/// The live session the request's cookie names, if any.
pub async fn signed_in(state: &WebState, headers: &HeaderMap) -> DomainResult<Option<Session>> {
    let Some(token) = cookies::read(headers, cookies::SESSION) else { return Ok(None) };
    let mut conn = state.pool.acquire().await?;
    sessions::find(&mut conn, &token).await
}

/// The request's session, or the answer for a visitor without one (sent
/// to sign in) or a failed read.
pub async fn required(state: &WebState, headers: &HeaderMap) -> Result<Session, Response> {
    match signed_in(state, headers).await {
        Ok(Some(session)) => Ok(session),
        Ok(None) => Err(to_sign_in()),
        Err(e) => Err(failed(&e)),
    }
}

/// The session, when it may see `member`'s pages; else a 404, as if the
/// member did not exist.
pub async fn seeing(state: &WebState, headers: &HeaderMap, member: Uuid) -> Result<Session, Response> {
    let session = required(state, headers).await?;
    if session.may_see(member) { Ok(session) } else { Err(not_found()) }
}

/// An admin's session, or a 404 for a member (the office's pages do not
/// exist for members).
pub async fn admin(state: &WebState, headers: &HeaderMap) -> Result<Session, Response> {
    let session = required(state, headers).await?;
    if session.role == haat_domain::auth::Role::Admin { Ok(session) } else { Err(not_found()) }
}

/// An office page: answered only to an admin (404 otherwise), its figures
/// read by `read` on the primary (the office acts on what it sees), and
/// rendered by `render` with the session's CSRF token for its forms.
pub async fn office_page<T>(
    state: &WebState,
    headers: &HeaderMap,
    title: &str,
    read: impl for<'c> FnOnce(&'c mut sqlx::PgConnection) -> futures::future::BoxFuture<'c, DomainResult<T>>,
    render: impl FnOnce(&str, &T) -> maud::Markup,
) -> Response {
    let session = match admin(state, headers).await {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    let read = async {
        let mut conn = state.pool.acquire().await?;
        read(&mut conn).await
    };
    match read.await {
        Ok(figures) => answer(StatusCode::OK, frame(title, Some(&session), render(&session.csrf_token, &figures))),
        Err(e) => failed(&e),
    }
}

/// The 403 page when a posted form does not carry its session's CSRF
/// token; none when it does.
pub fn forged(session: &Session, posted: &str) -> Option<Response> {
    let same = bool::from(session.csrf_token.as_bytes().ct_eq(posted.as_bytes()));
    (!same).then(forbidden)
}

/// The page for something that does not exist or is not the viewer's.
pub fn not_found() -> Response {
    let body = html! { p { (t("There is no such page.")) } };
    answer(StatusCode::NOT_FOUND, frame(t("Not found"), None, body))
}
