//! B2B: price lists per account tier and business accounts grouping
//! members (admin); an account's orders and figures.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use futures::FutureExt;
use haat_domain::catalog::price_lists::{self, NewPriceList, PriceList};
use haat_domain::ids::{BusinessAccountId, PriceListId, TypedId};
use haat_domain::network::business_accounts::{self, Account, NewAccount, NewAccountMember};
use haat_domain::orders::{self, Order};
use serde_json::Value;
use utoipa_axum::routes;

use super::{ListOf, Page, Routes, admin_create, all_of, page_by_id, uuid_cursor};
use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, PathId, Query, RawBody, parse_json};
use crate::idem::{self, PostRequest};

/// B2B routes.
pub fn router() -> Routes {
    Routes::new()
        .routes(routes!(create_list, lists))
        .routes(routes!(show_list))
        .routes(routes!(create_account))
        .routes(routes!(show_account))
        .routes(routes!(add_member))
        .routes(routes!(account_orders))
}

/// Writes a price list for an account tier; from now it is the tier's list in force (admin).
#[utoipa::path(post, path = "/v1/admin/price-lists", tag = "b2b", request_body = NewPriceList,
    responses((status = 201, description = "The price list", body = PriceList)))]
async fn create_list(
    State(state): State<AppState>,
    auth: Auth,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    admin_create(&state, &auth, &post, &body, |c, input: &NewPriceList| price_lists::create(c, input).boxed()).await
}

/// Every price list, newest first (admin).
#[utoipa::path(get, path = "/v1/admin/price-lists", tag = "b2b",
    responses((status = 200, description = "The price lists", body = ListOf<PriceList>)))]
async fn lists(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    all_of(&price_lists::list(&mut *state.pool.acquire().await?).await?)
}

/// One price list (admin).
#[utoipa::path(get, path = "/v1/admin/price-lists/{id}", tag = "b2b",
    params(("id" = PriceListId, Path, description = "The price list")),
    responses((status = 200, description = "The price list", body = PriceList)))]
async fn show_list(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<PriceListId>,
) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    Ok(Json(to_json(&price_lists::get(&mut *state.pool.acquire().await?, id.uuid()).await?)?))
}

/// Creates a business account with the members who buy for it (admin).
#[utoipa::path(post, path = "/v1/admin/business-accounts", tag = "b2b", request_body = NewAccount,
    responses((status = 201, description = "The account", body = Account)))]
async fn create_account(
    State(state): State<AppState>,
    auth: Auth,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    admin_create(&state, &auth, &post, &body, |c, input: &NewAccount| business_accounts::create(c, input).boxed()).await
}

/// A business account: its members, orders, spend and points (admin).
#[utoipa::path(get, path = "/v1/admin/business-accounts/{id}", tag = "b2b",
    params(("id" = BusinessAccountId, Path, description = "The account")),
    responses((status = 200, description = "The account", body = Account)))]
async fn show_account(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<BusinessAccountId>,
) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    Ok(Json(to_json(&business_accounts::get(&mut *state.pool.acquire().await?, id.uuid()).await?)?))
}

/// Adds a member to a business account (admin).
#[utoipa::path(post, path = "/v1/admin/business-accounts/{id}/members", tag = "b2b", request_body = NewAccountMember,
    params(("id" = BusinessAccountId, Path, description = "The account")),
    responses((status = 200, description = "The account", body = Account)))]
async fn add_member(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<BusinessAccountId>,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let input: NewAccountMember = parse_json(&body)?;
    idem::post(&state, &auth, &post, &body, move |tx| {
        async move {
            business_accounts::get(tx, id.uuid()).await?;
            business_accounts::add(tx, id.uuid(), input.member_id, "member_id").await?;
            Ok((StatusCode::OK, to_json(&business_accounts::get(tx, id.uuid()).await?)?))
        }
        .boxed()
    })
    .await
}

/// A business account's orders, newest first (admin).
#[utoipa::path(get, path = "/v1/admin/business-accounts/{id}/orders", tag = "b2b",
    params(("id" = BusinessAccountId, Path, description = "The account"), Page),
    responses((status = 200, description = "A page of the account's orders", body = ListOf<Order>)))]
async fn account_orders(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<BusinessAccountId>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let limit = page.limit()?;
    let mut conn = state.pool.acquire().await?;
    business_accounts::get(&mut conn, id.uuid()).await?;
    let mut found = Vec::new();
    for order_id in business_accounts::order_ids(&mut conn, id.uuid(), uuid_cursor(&page)?, limit).await? {
        found.push(orders::get(&mut conn, order_id).await?);
    }
    page_by_id(&found, limit, |o| o.id)
}
