//! Runs a write under the `Idempotency-Key` rules of the HTTP contract:
//! same key and body → the first response again; other body → 422; still in
//! flight → 409. The write and its stored response commit together.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use haat_domain::idempotency::{self, Claim};
use serde_json::Value;
use sqlx::{Connection, PgConnection};

use crate::AppState;
use crate::error::{ApiError, ApiResult, json_response};
use crate::extract::Auth;

/// Longest key accepted.
const MAX_KEY_LEN: usize = 255;

/// What a write returns on success.
pub type Written = (StatusCode, Value);

/// A write: runs inside the transaction it is given.
pub trait Work: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, ApiResult<Written>> + Send {}
impl<F> Work for F where F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, ApiResult<Written>> + Send {}

/// The request's identity for idempotency.
pub struct Request<'a> {
    /// The caller.
    pub auth: &'a Auth,
    /// Its headers.
    pub headers: &'a HeaderMap,
    /// Method and path.
    pub route: (&'a str, &'a str),
    /// The raw body.
    pub body: &'a [u8],
    /// Whether the contract requires the header on this route.
    pub required: bool,
}

/// The request's `Idempotency-Key`, checked: a malformed one is a 400, and
/// so is a missing one where the contract requires it (handlers of those
/// routes call this first, so a missing header is named before anything
/// else about the request).
pub fn key_of(headers: &HeaderMap, required: bool) -> ApiResult<Option<String>> {
    Ok(match headers.get("idempotency-key") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN)
                .ok_or_else(|| {
                    ApiError::field(StatusCode::BAD_REQUEST, "Idempotency-Key", "must be 1 to 255 visible characters")
                })?
                .to_owned(),
        ),
        None if required => {
            return Err(ApiError::field(StatusCode::BAD_REQUEST, "Idempotency-Key", "this header is required here"));
        }
        None => None,
    })
}

/// Runs `work` in one transaction, honouring the request's idempotency key.
pub async fn run(state: &AppState, req: Request<'_>, work: impl Work) -> ApiResult<Response> {
    let claimed = match claim(state, req).await? {
        Claimed::Answered(res) => return Ok(res),
        Claimed::First(claimed) => claimed,
    };
    let Some(mut first) = claimed else {
        let mut tx = state.pool.begin().await?;
        let (status, body) = work(&mut tx).await?;
        tx.commit().await?;
        return Ok(json_response(status, body));
    };
    // The write runs on the connection that claimed the key (and holds its
    // lock): holding one connection while waiting for a second would starve
    // the pool as soon as more requests than connections arrive at once.
    let (scope, key) = (first.0.scope().to_owned(), first.0.key().to_owned());
    let outcome = {
        let mut tx = first.0.conn().begin().await?;
        match work(&mut tx).await {
            Ok((status, body)) => {
                let let_go =
                    idempotency::complete_and_let_go(&mut tx, &scope, &key, status.as_u16(), &without_secrets(&body))
                        .await?;
                tx.commit().await?;
                Ok((status, body, let_go))
            }
            Err(e) => {
                tx.rollback().await.ok();
                Err(e)
            }
        }
    };
    match outcome {
        Ok((status, body, true)) => {
            first.0.put_back();
            Ok(json_response(status, body))
        }
        Ok((status, body, false)) => {
            first.0.let_go().await;
            Ok(json_response(status, body))
        }
        Err(e) => {
            let answer = refused(first.0.conn(), &scope, &key, e).await;
            first.0.let_go().await;
            answer
        }
    }
}

/// A request's key, claimed for its first run: the claim and the
/// connection whose session holds its lock.
pub struct First(idempotency::Held);

impl First {
    /// For a request whose work spans several transactions and an outside
    /// call: the claiming connection goes back to the pool meanwhile (held
    /// by every waiting request, it would starve the pool), so the claim
    /// is marked detached and waits on the timer instead of the lock.
    pub async fn detach(self) -> ApiResult<Detached> {
        let detached = Detached { scope: self.0.scope().to_owned(), key: self.0.key().to_owned() };
        self.0.detach().await?;
        Ok(detached)
    }
}

/// A claimed key whose request does its work in transactions of its own.
pub struct Detached {
    scope: String,
    key: String,
}

impl Detached {
    /// Stores the answer of the request (whose every step is safe to
    /// repeat): a retry with the key gets it.
    pub async fn finish(self, state: &AppState, outcome: ApiResult<Written>) -> ApiResult<Response> {
        let mut conn = state.pool.acquire().await?;
        match outcome {
            Ok((status, body)) => {
                idempotency::complete(&mut conn, &self.scope, &self.key, status.as_u16(), &without_secrets(&body))
                    .await?;
                Ok(json_response(status, body))
            }
            Err(e) => refused(&mut conn, &self.scope, &self.key, e).await,
        }
    }
}

async fn refused(conn: &mut PgConnection, scope: &str, key: &str, e: ApiError) -> ApiResult<Response> {
    if e.status.is_client_error() {
        idempotency::complete(conn, scope, key, e.status.as_u16(), &e.body()).await?;
    } else {
        idempotency::release(conn, scope, key).await.ok();
    }
    Err(e)
}

/// What claiming a request's key found.
pub enum Claimed {
    /// The request was answered before (or conflicts, or is in flight): this.
    Answered(Response),
    /// This is the request's first run (`None`: it carries no key).
    First(Option<First>),
}

/// Claims the request's `Idempotency-Key` (committed at once, its lock
/// held by the claiming connection), or finds the answer it already has.
pub async fn claim(state: &AppState, req: Request<'_>) -> ApiResult<Claimed> {
    let Some(key) = key_of(req.headers, req.required)? else {
        return Ok(Claimed::First(None));
    };
    let scope = req.auth.0.key_id.clone();
    let hash = idempotency::request_hash(req.route.0, req.route.1, req.body);
    let conn = state.pool.acquire().await?;
    let found = match idempotency::claim_on(conn, &scope, &key, &hash).await? {
        Ok(held) => return Ok(Claimed::First(Some(First(held)))),
        Err(found) => found,
    };
    let answered = match found {
        Claim::Replay(status, body) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            json_response(status, body)
        }
        Claim::Mismatch => {
            return Err(ApiError::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Idempotency-Key",
                "was already used with a different request body",
            ));
        }
        // (A fresh claim came back as `Ok` above.)
        Claim::InFlight | Claim::Fresh => {
            let mut res = ApiError::new(
                StatusCode::CONFLICT,
                "Conflict",
                "a request with this Idempotency-Key is still being processed",
            )
            .into_response();
            // The contract: retry later with the same key.
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            res
        }
    };
    Ok(Claimed::Answered(answered))
}

/// Fields of a response that are shown once and never stored: an API key's
/// secret is kept only as a digest, so a replay answers the same key with
/// its `token` null rather than keep the secret in the replay table.
pub const SECRET_FIELDS: &[&str] = &["token"];

/// The response as stored for replays: [`SECRET_FIELDS`] set to null.
fn without_secrets(body: &Value) -> Value {
    let mut stored = body.clone();
    if let Some(map) = stored.as_object_mut() {
        for field in SECRET_FIELDS {
            if let Some(v) = map.get_mut(*field) {
                *v = Value::Null;
            }
        }
    }
    stored
}

/// What a POST's idempotency is keyed on besides its body: its headers
/// (the `Idempotency-Key`) and path.
#[derive(Debug)]
pub struct PostRequest {
    /// The request's headers.
    pub headers: HeaderMap,
    /// Its path.
    pub path: String,
}

impl<S: Send + Sync> FromRequestParts<S> for PostRequest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Ok(Self { headers: parts.headers.clone(), path: parts.uri.path().to_owned() })
    }
}

/// Runs a POST whose key is optional (the contract accepts
/// `Idempotency-Key` on every POST) in one transaction under that key.
pub async fn post(
    state: &AppState,
    auth: &Auth,
    req: &PostRequest,
    body: &[u8],
    work: impl Work,
) -> ApiResult<Response> {
    let request = Request { auth, headers: &req.headers, route: ("POST", &req.path), body, required: false };
    run(state, request, work).await
}
