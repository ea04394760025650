//! Withdrawals: members (or storefronts for them) request; admins approve,
//! mark paid, reject or fail.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::FutureExt;
use haat_domain::ledger::Holder;
use haat_domain::ledger::withdrawals::{self, Action, NewWithdrawal, Rules, Withdrawal};
use haat_domain::network::members;
use serde::Deserialize;
use serde_json::Value;

use super::{ListOf, Page, Routes, page_by_id, page_of, uuid_cursor};
use crate::AppState;
use crate::error::{ApiError, ApiResult, to_json};
use crate::extract::{Auth, PathId, Query, RawBody, parse_json};
use crate::idem;
use haat_domain::ids::{MemberId, TypedId, WithdrawalId};
use utoipa_axum::routes;

/// Withdrawal routes.
pub fn router() -> Routes {
    Routes::new()
        .routes(routes!(request, list))
        .routes(routes!(queue))
        .routes(routes!(approve))
        .routes(routes!(paid))
        .routes(routes!(reject))
        .routes(routes!(failed))
}

/// Requests a withdrawal of available money (the member, storefront or admin).
#[utoipa::path(post, path = "/v1/members/{id}/withdrawals", tag = "wallet", request_body = NewWithdrawal,
    params(("id" = MemberId, Path, description = "The member"), ("Idempotency-Key" = String, Header, description = "Required: the same key and body answer the first response again")),
    responses((status = 201, description = "The withdrawal, requested; the amount is reserved", body = Withdrawal)))]
async fn request(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<MemberId>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    idem::key_of(&headers, true)?;
    let member_id = id.uuid();
    auth.require_member_access(member_id, "member")?;
    members::get(&mut *state.pool.acquire().await?, member_id).await?;
    request_for(&state, &auth, Holder::Member(member_id), &headers, &body).await
}

/// Records a member's or seller's withdrawal request under its required
/// Idempotency-Key, once the caller may ask for that holder.
pub(crate) async fn request_for(
    state: &AppState,
    auth: &Auth,
    holder: Holder,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    idem::key_of(headers, true)?;
    let input: NewWithdrawal = parse_json(body)?;
    let s = &state.settings;
    let rules = Rules { min: s.withdrawal_min, multiple: s.withdrawal_multiple };
    let currency = s.currency.clone();
    let source = auth.source();
    let path = match holder {
        Holder::Member(id) => format!("/v1/members/{id}/withdrawals"),
        Holder::Seller(id) => format!("/v1/sellers/{id}/withdrawals"),
    };
    let req = idem::Request { auth, headers, route: ("POST", &path), body, required: true };
    idem::run(state, req, move |tx| {
        async move {
            let w = withdrawals::request(tx, holder, &input, rules, &currency, &source).await?;
            Ok((StatusCode::CREATED, to_json(&w)?))
        }
        .boxed()
    })
    .await
}

/// A member's withdrawals.
#[utoipa::path(get, path = "/v1/members/{id}/withdrawals", tag = "wallet", params(("id" = MemberId, Path, description = "The member"), Page),
    responses((status = 200, description = "A page of the member's withdrawals, newest first", body = ListOf<Withdrawal>)))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<MemberId>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    let member_id = id.uuid();
    auth.require_member_access(member_id, "member")?;
    let limit = page.limit()?;
    let before = uuid_cursor(&page)?;
    let mut conn = state.pool.acquire().await?;
    members::get(&mut conn, member_id).await?;
    let rows = withdrawals::list_for(&mut conn, Holder::Member(member_id), before, limit).await?;
    let last = rows.last().map(|w| w.id.to_string());
    let items = rows.iter().map(to_json).collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(page_of(items, limit, || last)))
}

/// Body of an admin step (optional).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct StepBody {
    /// The payout's reference at the provider (for `paid`).
    #[serde(default)]
    reference: Option<String>,
    /// Why (at most 1000 characters).
    #[serde(default)]
    note: Option<String>,
}

/// The four admin steps of a withdrawal, one route each.
macro_rules! step_route {
    ($name:ident, $path:literal, $action:expr, $what:literal) => {
        #[doc = $what]
        #[utoipa::path(post, path = $path, tag = "wallet", request_body(content = StepBody, description = "Optional"),
                    params(("id" = WithdrawalId, Path, description = "The withdrawal")),
                    responses((status = 200, description = "The withdrawal after the step", body = Withdrawal)))]
        async fn $name(
            State(state): State<AppState>,
            auth: Auth,
            PathId(id): PathId<WithdrawalId>,
            headers: HeaderMap,
            RawBody(body): RawBody,
        ) -> ApiResult<Response> {
            act(state, auth, id, $action, headers, body).await
        }
    };
}

step_route!(approve, "/v1/admin/withdrawals/{id}/approve", Action::Approve, "Approves a requested withdrawal (admin).");
step_route!(
    paid,
    "/v1/admin/withdrawals/{id}/paid",
    Action::Paid,
    "Records an approved withdrawal as paid out (admin)."
);
step_route!(
    reject,
    "/v1/admin/withdrawals/{id}/reject",
    Action::Reject,
    "Rejects a withdrawal; the money goes back (admin)."
);
step_route!(
    failed,
    "/v1/admin/withdrawals/{id}/failed",
    Action::Fail,
    "Records a payout that failed; the money goes back (admin)."
);

async fn act(
    state: AppState,
    auth: Auth,
    id: WithdrawalId,
    action: Action,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let id = id.uuid();
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

/// `?status=` of the payout queue.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct StatusFilter {
    /// Only withdrawals in this status.
    #[param(value_type = Option<haat_domain::ledger::withdrawals::WithdrawalStatus>)]
    status: Option<String>,
}

/// `GET /v1/admin/withdrawals?status=`: the payout queue, newest first.
#[utoipa::path(get, path = "/v1/admin/withdrawals", tag = "wallet", params(StatusFilter, Page),
    responses((status = 200, description = "A page of withdrawals, newest first", body = ListOf<Withdrawal>)))]
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
