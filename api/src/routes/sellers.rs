//! Marketplace sellers (admin): record, list, read, approve, suspend.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::FutureExt;
use haat_domain::catalog::{self, products::Product};
use haat_domain::ids::{OrderLineId, SellerId, TypedId};
use haat_domain::ledger::Holder;
use haat_domain::ledger::withdrawals::{self, NewWithdrawal, Withdrawal};
use haat_domain::marketplace::escrow::{self, SellerBalance};
use haat_domain::marketplace::lines::{self as seller_lines, SellerLine};
use haat_domain::marketplace::preparation::{self, Prepared};
use haat_domain::marketplace::sellers::{self, NewSeller, Seller, SellerStatus};
use serde::Deserialize;
use serde_json::Value;
use utoipa_axum::routes;

use super::wallet::StatementView;
use super::{ListOf, Page, Routes, admin_create, page_by_id, uuid_cursor};
use crate::AppState;
use crate::error::{ApiError, ApiResult, to_json};
use crate::extract::{Auth, Path, PathId, Query, RawBody, SellerAuth};
use crate::idem::{self, PostRequest};

/// Seller routes.
pub fn router() -> Routes {
    Routes::new()
        .routes(routes!(create, list))
        .routes(routes!(show))
        .routes(routes!(approve))
        .routes(routes!(suspend))
        .routes(routes!(balance))
        .routes(routes!(lines))
        .routes(routes!(statement))
        .routes(routes!(prepared))
        .routes(routes!(withdraw, withdrawals))
        .routes(routes!(products))
}

/// Records a seller, `pending` until approved (admin).
#[utoipa::path(post, path = "/v1/admin/sellers", tag = "sellers", request_body = NewSeller,
    responses((status = 201, description = "The seller, pending", body = Seller)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let currency = state.settings.currency.clone();
    admin_create(&state, &auth, &post, &body, move |c, input: &NewSeller| {
        async move { sellers::create(c, input, &currency).await }.boxed()
    })
    .await
}

/// `?status=` of the seller list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct StatusFilter {
    /// `pending`, `approved` or `suspended`.
    status: Option<String>,
}

/// Sellers, oldest first (admin).
#[utoipa::path(get, path = "/v1/admin/sellers", tag = "sellers", params(Page, StatusFilter),
    responses((status = 200, description = "A page of sellers", body = ListOf<Seller>)))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Query(page): Query<Page>,
    Query(filter): Query<StatusFilter>,
) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let status = match filter.status.as_deref() {
        None => None,
        Some(word) => Some(SellerStatus::parse(word).ok_or_else(|| {
            ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "status", "must be pending, approved or suspended")
        })?),
    };
    let limit = page.limit()?;
    let mut conn = state.pool.acquire().await?;
    let items = sellers::list(&mut conn, status, uuid_cursor(&page)?, limit).await?;
    page_by_id(&items, limit, |s| s.id)
}

/// One seller (admin).
#[utoipa::path(get, path = "/v1/admin/sellers/{id}", tag = "sellers", params(("id" = SellerId, Path, description = "The seller")),
    responses((status = 200, description = "The seller", body = Seller)))]
async fn show(State(state): State<AppState>, auth: Auth, PathId(id): PathId<SellerId>) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    Ok(Json(to_json(&sellers::get(&mut *state.pool.acquire().await?, id.uuid()).await?)?))
}

async fn step(
    state: &AppState,
    auth: &Auth,
    post: &PostRequest,
    id: SellerId,
    to: SellerStatus,
) -> ApiResult<Response> {
    auth.require_admin()?;
    idem::post(state, auth, post, b"", move |tx| {
        async move {
            let seller = sellers::set_status(tx, id.uuid(), to, chrono::Utc::now()).await?;
            Ok((StatusCode::OK, to_json(&seller)?))
        }
        .boxed()
    })
    .await
}

/// Approves a seller: its products may be listed and ordered (admin).
#[utoipa::path(post, path = "/v1/admin/sellers/{id}/approve", tag = "sellers", params(("id" = SellerId, Path, description = "The seller")),
    responses((status = 200, description = "The seller, approved", body = Seller)))]
async fn approve(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<SellerId>,
    post: PostRequest,
) -> ApiResult<Response> {
    step(&state, &auth, &post, id, SellerStatus::Approved).await
}

/// Suspends a seller: its products cannot be ordered until it is approved again (admin).
#[utoipa::path(post, path = "/v1/admin/sellers/{id}/suspend", tag = "sellers", params(("id" = SellerId, Path, description = "The seller")),
    responses((status = 200, description = "The seller, suspended", body = Seller)))]
async fn suspend(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<SellerId>,
    post: PostRequest,
) -> ApiResult<Response> {
    step(&state, &auth, &post, id, SellerStatus::Suspended).await
}

/// The seller a seller route is for, once the caller may see it and it
/// exists.
async fn seller_of(state: &AppState, auth: &SellerAuth, id: SellerId) -> ApiResult<uuid::Uuid> {
    auth.require_seller(id.uuid())?;
    sellers::get(&mut *state.pool.acquire().await?, id.uuid()).await?;
    Ok(id.uuid())
}

/// A seller's balances: held, released, reserved for payouts (admin, or
/// the seller's own key).
#[utoipa::path(get, path = "/v1/sellers/{id}/balance", tag = "sellers", params(("id" = SellerId, Path, description = "The seller")),
    responses((status = 200, description = "The seller's balances", body = SellerBalance)))]
async fn balance(
    State(state): State<AppState>,
    auth: SellerAuth,
    PathId(id): PathId<SellerId>,
) -> ApiResult<Json<Value>> {
    let id = seller_of(&state, &auth, id).await?;
    Ok(Json(to_json(&escrow::balance(&mut *state.pool.acquire().await?, id).await?)?))
}

/// A seller's sold lines — the orders of its products — with their fee,
/// share, platform margin and hold, newest first (admin, or the seller's
/// own key).
#[utoipa::path(get, path = "/v1/sellers/{id}/lines", tag = "sellers",
    params(("id" = SellerId, Path, description = "The seller"), Page),
    responses((status = 200, description = "A page of the seller's lines", body = ListOf<SellerLine>)))]
async fn lines(
    State(state): State<AppState>,
    auth: SellerAuth,
    PathId(id): PathId<SellerId>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    let id = seller_of(&state, &auth, id).await?;
    let limit = page.limit()?;
    let items = seller_lines::list(&mut *state.pool.acquire().await?, id, uuid_cursor(&page)?, limit).await?;
    page_by_id(&items, limit, |l| l.order_line_id)
}

/// A seller's ledger statement: its postings with running balances,
/// newest first (admin, or the seller's own key).
#[utoipa::path(get, path = "/v1/sellers/{id}/statement", tag = "sellers",
    params(("id" = SellerId, Path, description = "The seller"), Page),
    responses((status = 200, description = "A page of postings with running balances, newest first", body = ListOf<StatementView>)))]
async fn statement(
    State(state): State<AppState>,
    auth: SellerAuth,
    PathId(id): PathId<SellerId>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    let id = seller_of(&state, &auth, id).await?;
    super::wallet::statement_page(&state, Holder::Seller(id), &page).await
}

/// A seller's products (admin, or the seller's own key).
#[utoipa::path(get, path = "/v1/sellers/{id}/products", tag = "sellers",
    params(("id" = SellerId, Path, description = "The seller"), Page),
    responses((status = 200, description = "A page of the seller's products", body = ListOf<Product>)))]
async fn products(
    State(state): State<AppState>,
    auth: SellerAuth,
    PathId(id): PathId<SellerId>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    let id = seller_of(&state, &auth, id).await?;
    let limit = page.limit()?;
    let items =
        catalog::products::list_of(&mut *state.pool.acquire().await?, Some(id), uuid_cursor(&page)?, limit).await?;
    page_by_id(&items, limit, |p| p.id)
}

/// Marks one of the seller's lines prepared, before its `prepare_by`
/// (admin, or the seller's own key); marking it again changes nothing.
#[utoipa::path(post, path = "/v1/sellers/{id}/lines/{line_id}/prepared", tag = "sellers",
    params(("id" = SellerId, Path, description = "The seller"), ("line_id" = OrderLineId, Path, description = "The order line")),
    responses((status = 200, description = "The line's deadline and when it was prepared", body = Prepared)))]
async fn prepared(
    State(state): State<AppState>,
    auth: SellerAuth,
    Path((id, line_id)): Path<(String, String)>,
    post: PostRequest,
) -> ApiResult<Response> {
    let id = SellerId::parse(&id).ok_or_else(|| ApiError::not_found("seller"))?;
    let line_id = OrderLineId::parse(&line_id).ok_or_else(|| ApiError::not_found("order line"))?;
    let seller = seller_of(&state, &auth, id).await?;
    let principal = Auth(auth.0.clone());
    idem::post(&state, &principal, &post, b"", move |tx| {
        async move {
            let prepared = preparation::mark_prepared(tx, seller, line_id.uuid(), chrono::Utc::now()).await?;
            Ok((StatusCode::OK, to_json(&prepared)?))
        }
        .boxed()
    })
    .await
}

/// Requests a withdrawal of the seller's available money (admin, or the
/// seller's own key): the members' flow, approved and paid by an admin
/// through `/v1/admin/withdrawals/{id}/…`.
#[utoipa::path(post, path = "/v1/sellers/{id}/withdrawals", tag = "sellers", request_body = NewWithdrawal,
    params(("id" = SellerId, Path, description = "The seller"), ("Idempotency-Key" = String, Header, description = "Required: the same key and body answer the first response again")),
    responses((status = 201, description = "The withdrawal, requested", body = Withdrawal)))]
async fn withdraw(
    State(state): State<AppState>,
    auth: SellerAuth,
    PathId(id): PathId<SellerId>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let seller = seller_of(&state, &auth, id).await?;
    super::withdrawals::request_for(&state, &Auth(auth.0.clone()), Holder::Seller(seller), &headers, &body).await
}

/// A seller's withdrawals, newest first (admin, or the seller's own key).
#[utoipa::path(get, path = "/v1/sellers/{id}/withdrawals", tag = "sellers",
    params(("id" = SellerId, Path, description = "The seller"), Page),
    responses((status = 200, description = "A page of the seller's withdrawals, newest first", body = ListOf<Withdrawal>)))]
async fn withdrawals(
    State(state): State<AppState>,
    auth: SellerAuth,
    PathId(id): PathId<SellerId>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    let seller = seller_of(&state, &auth, id).await?;
    let limit = page.limit()?;
    let rows =
        withdrawals::list_for(&mut *state.pool.acquire().await?, Holder::Seller(seller), uuid_cursor(&page)?, limit)
            .await?;
    page_by_id(&rows, limit, |w| w.id)
}
