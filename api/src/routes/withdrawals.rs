//! Withdrawals: members (or storefronts for them) request; admins approve,
//! mark paid, reject or fail.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::FutureExt;
use haat_domain::ledger::withdrawals::{self, Action, NewWithdrawal, Rules};
use haat_domain::network::members;
use serde::Deserialize;
use serde_json::Value;

use super::{Page, page_by_id, page_of, uuid_cursor};
use crate::AppState;
use crate::error::{ApiError, ApiResult, to_json};
use crate::extract::{Auth, Path, Query, RawBody, parse_id, parse_json};
use crate::idem;

/// Withdrawal routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/members/{id}/withdrawals", post(request).get(list))
        .route("/v1/admin/withdrawals", get(queue))
        .route("/v1/admin/withdrawals/{id}/{action}", post(act))
}

async fn request(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let member_id = parse_id(&id, "member")?;
    auth.require_member_access(member_id, "member")?;
    let input: NewWithdrawal = parse_json(&body)?;
    let s = &state.settings;
    let rules = Rules { min: s.withdrawal_min, multiple: s.withdrawal_multiple };
    let currency = s.currency.clone();
    let source = auth.source();
    let path = format!("/v1/members/{member_id}/withdrawals");
    let req = idem::Request { auth: &auth, headers: &headers, route: ("POST", &path), body: &body, required: true };
    idem::run(&state, req, move |tx| {
        async move {
            members::get(tx, member_id).await?;
            let w = withdrawals::request(tx, member_id, &input, rules, &currency, &source).await?;
            Ok((StatusCode::CREATED, to_json(&w)?))
        }
        .boxed()
    })
    .await
}

async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    let member_id = parse_id(&id, "member")?;
    auth.require_member_access(member_id, "member")?;
    let limit = page.limit()?;
    let before = uuid_cursor(&page)?;
    let mut conn = state.pool.acquire().await?;
    members::get(&mut conn, member_id).await?;
    let rows = withdrawals::list_for_member(&mut conn, member_id, before, limit).await?;
    let last = rows.last().map(|w| w.id.to_string());
    let items = rows.iter().map(to_json).collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(page_of(items, limit, || last)))
}

/// Body of an admin step.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepBody {
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

async fn act(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let id = parse_id(&id, "withdrawal")?;
    let action = match action.as_str() {
        "approve" => Action::Approve,
        "paid" => Action::Paid,
        "reject" => Action::Reject,
        "failed" => Action::Fail,
        _ => return Err(ApiError::not_found("route")),
    };
    let input: StepBody = if body.is_empty() { StepBody::default() } else { parse_json(&body)? };
    if input.note.as_ref().is_some_and(|n| haat_domain::input::chars(n) > 1000) {
        return Err(ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "note", "must be at most 1000 characters"));
    }
    let currency = state.settings.currency.clone();
    let source = auth.source();
    let path = format!("/v1/admin/withdrawals/{id}/{action:?}");
    let req = idem::Request { auth: &auth, headers: &headers, route: ("POST", &path), body: &body, required: false };
    idem::run(&state, req, move |tx| {
        async move {
            let (r, n) = (input.reference.as_deref(), input.note.as_deref());
            let w = withdrawals::act(tx, id, action, r, n, &currency, &source).await?;
            Ok((StatusCode::OK, to_json(&w)?))
        }
        .boxed()
    })
    .await
}

#[derive(Debug, Deserialize)]
struct StatusFilter {
    status: Option<String>,
}

/// `GET /v1/admin/withdrawals?status=`: the payout queue, newest first.
async fn queue(
    State(state): State<AppState>,
    auth: Auth,
    Query(f): Query<StatusFilter>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let limit = page.limit()?;
    let mut conn = state.pool.acquire().await?;
    let rows = withdrawals::list(&mut conn, f.status.as_deref(), uuid_cursor(&page)?, limit).await?;
    page_by_id(&rows, limit, |w| w.id)
}
