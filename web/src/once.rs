//! A form that moves money is done once: each rendering carries a fresh
//! idempotency key in a hidden field, claimed as the JSON routes claim an
//! `Idempotency-Key` (the same table, a scope of the dashboard's own). A
//! double click, a reload that posts again or a retry after a lost answer
//! gets the first answer again and changes nothing twice.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use futures::future::BoxFuture;
use haat_domain::auth::sessions::Session;
use haat_domain::error::{DomainError, DomainResult};
use haat_domain::idempotency::{self, Claim};
use maud::html;
use serde_json::json;
use sqlx::{Connection, PgConnection};

use crate::pages::{answer, frame};
use crate::sign_in::failed;
use crate::words::t;
use crate::{WebState, session};

/// The longest idempotency key a form may post (ours are 45 characters).
const KEY_CHARS: usize = 200;

/// What a form's write does inside its transaction: where to send the
/// browser when it is done.
pub trait Write: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, DomainResult<String>> + Send {}
impl<F> Write for F where F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, DomainResult<String>> + Send {}

/// One posted form: who posted it, its key, and what identifies the request.
pub struct Posted<'a> {
    /// The session that posted it.
    pub session: &'a Session,
    /// The form's idempotency key.
    pub key: &'a str,
    /// The path posted to.
    pub path: &'a str,
    /// The form's fields, serialised, for telling a replay from a reuse.
    pub fields: serde_json::Value,
}

/// A form whose only fields are its CSRF token and idempotency key (a
/// button: retry, settle now, cancel).
#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Signed {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// The rendering's idempotency key.
    #[serde(default)]
    pub idempotency_key: String,
}

/// An office form: answered only to an admin's session carrying its CSRF
/// token (404 and 403 otherwise), then done once for its key.
pub async fn office_form(
    state: &WebState,
    headers: &HeaderMap,
    path: &str,
    (csrf, key): (&str, &str),
    fields: serde_json::Value,
    write: impl Write,
) -> Response {
    let session = match session::admin(state, headers).await {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    if let Some(refused) = session::forged(&session, csrf) {
        return refused;
    }
    run(state, Posted { session: &session, key, path, fields }, write).await
}

/// Runs `write` once for the form's key: the first time in one
/// transaction with the stored answer; again, the stored answer.
pub async fn run(state: &WebState, posted: Posted<'_>, write: impl Write) -> Response {
    if posted.key.is_empty() || haat_domain::input::chars(posted.key) > KEY_CHARS {
        return refused(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key: must be 1 to 200 characters");
    }
    match attempt(state, &posted, write).await {
        Ok(response) => response,
        Err(e) => failed(&e),
    }
}

async fn attempt(state: &WebState, posted: &Posted<'_>, write: impl Write) -> DomainResult<Response> {
    let scope = scope(posted.session);
    let hash = idempotency::request_hash("POST", posted.path, posted.fields.to_string().as_bytes());
    let conn = state.pool.acquire().await?;
    let mut held = match idempotency::claim_on(conn, &scope, posted.key, &hash).await? {
        Ok(held) => held,
        Err(Claim::Replay(status, body)) => return Ok(replayed(status, &body)),
        Err(Claim::Mismatch) => {
            return Ok(refused(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key: was already used for another form"));
        }
        Err(Claim::InFlight | Claim::Fresh) => {
            return Ok(refused(
                StatusCode::CONFLICT,
                "This form was already sent and is being done. Reload in a moment.",
            ));
        }
    };
    let answer = write_once(&mut held, &scope, posted.key, write).await;
    held.let_go().await;
    answer
}

/// The write and its stored answer, on the connection holding the claim.
async fn write_once(held: &mut idempotency::Held, scope: &str, key: &str, write: impl Write) -> DomainResult<Response> {
    let mut tx = held.conn().begin().await?;
    match write(&mut tx).await {
        Ok(location) => {
            idempotency::complete(&mut tx, scope, key, 303, &json!({ "location": location })).await?;
            tx.commit().await?;
            Ok(Redirect::to(&location).into_response())
        }
        Err(e) => {
            tx.rollback().await.ok();
            let conn = held.conn();
            match refusal(&e) {
                Some((status, text)) => {
                    let body = json!({ "problem": text });
                    idempotency::complete(conn, scope, key, status.as_u16(), &body).await?;
                    Ok(refused(status, &text))
                }
                None => {
                    idempotency::release(conn, scope, key).await.ok();
                    Err(e)
                }
            }
        }
    }
}

/// Who did it, as the ledger's steps record it (`web:member:{id}`,
/// `web:seller:{id}`, `web:admin`); also the scope of the session's keys,
/// so the dashboard's keys are kept apart from API keys' and from other
/// members' and sellers'.
pub fn scope(session: &Session) -> String {
    match (session.member_id, session.seller_id) {
        (Some(member), _) => format!("web:member:{member}"),
        (None, Some(seller)) => format!("web:seller:{seller}"),
        (None, None) => OFFICE.to_owned(),
    }
}

/// The scope and source of the office's sessions (only admin sessions
/// have neither member nor seller).
pub const OFFICE: &str = "web:admin";

/// A refusal the viewer can act on (a field's rule, a state that does not
/// allow it), in words naming the field; none for our own failures.
fn refusal(e: &DomainError) -> Option<(StatusCode, String)> {
    match e {
        DomainError::Invalid(fields) => {
            let text = fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ");
            Some((StatusCode::UNPROCESSABLE_ENTITY, text))
        }
        DomainError::Conflict { field, message } => {
            let text = field.as_ref().map_or_else(|| message.clone(), |f| format!("{f}: {message}"));
            Some((StatusCode::CONFLICT, text))
        }
        DomainError::NotFound(what) => Some((StatusCode::NOT_FOUND, format!("{what}: not found"))),
        _ => None,
    }
}

/// The stored answer, again.
fn replayed(status: u16, body: &serde_json::Value) -> Response {
    match (status, body["location"].as_str(), body["problem"].as_str()) {
        (303, Some(location), _) => Redirect::to(location).into_response(),
        (_, _, Some(problem)) => refused(StatusCode::from_u16(status).unwrap_or(StatusCode::CONFLICT), problem),
        _ => refused(StatusCode::CONFLICT, "This form was already sent."),
    }
}

/// A page saying what was refused and that nothing was done.
fn refused(status: StatusCode, text: &str) -> Response {
    let body = html! { p.problem role="alert" { (text.trim_end_matches('.')) ". Nothing was done." } };
    answer(status, frame(t("Not done"), None, body))
}
