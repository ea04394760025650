//! Members: create, read, admin placement and suspension.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::FutureExt;
use haat_domain::money::{VOLUME_SCALE, format};
use haat_domain::network::members::{self, Member, NewMember};
use haat_domain::orders;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Page, page_by_id, uuid_cursor};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Path, Query, RawBody, parse_id, parse_json};
use crate::idem::{self, PostRequest};

/// Member routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/members", post(create))
        .route("/v1/members/{id}", get(show))
        .route("/v1/members/{id}/volume", get(volume))
        .route("/v1/members/{id}/team", get(team))
        .route("/v1/members/{id}/orders", get(orders_of))
        .route("/v1/admin/members", get(search))
        .route("/v1/admin/members/{id}/placement", post(place))
        .route("/v1/admin/members/{id}/suspend", post(suspend))
        .route("/v1/admin/members/{id}/reinstate", post(reinstate))
}

/// The API shape of a member.
pub fn view(m: &Member) -> Value {
    json!({
        "id": m.id, "name": m.name, "email": m.email, "phone": m.phone,
        "referral_code": m.referral_code, "sponsor_id": m.sponsor_id, "parent_id": m.parent_id,
        "status": m.status, "joined_at": m.joined_at,
    })
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    auth.require_storefront()?;
    let input: NewMember = parse_json(&body)?;
    let currency = state.settings.currency.clone();
    let req =
        idem::Request { auth: &auth, headers: &headers, route: ("POST", "/v1/members"), body: &body, required: false };
    idem::run(&state, req, move |tx| {
        async move {
            let m = members::create(tx, &input, &currency).await?;
            Ok((StatusCode::CREATED, view(&m)))
        }
        .boxed()
    })
    .await
}

async fn show(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = visible_member(&auth, &id)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(view(&members::get(&mut conn, id).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Placement {
    parent_id: uuid::Uuid,
}

async fn place(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let id = parse_id(&id, "member")?;
    let input: Placement = parse_json(&body)?;
    idem::post(&state, &auth, &post, &body, move |tx| {
        async move { Ok((StatusCode::OK, view(&members::place(tx, id, input.parent_id).await?))) }.boxed()
    })
    .await
}

async fn set_status(
    state: AppState,
    auth: Auth,
    id: String,
    post: PostRequest,
    suspended: bool,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let id = parse_id(&id, "member")?;
    idem::post(&state, &auth, &post, &[], move |tx| {
        async move { Ok((StatusCode::OK, view(&members::set_status(tx, id, suspended).await?))) }.boxed()
    })
    .await
}

async fn suspend(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    post: PostRequest,
) -> ApiResult<Response> {
    set_status(state, auth, id, post, true).await
}

async fn reinstate(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    post: PostRequest,
) -> ApiResult<Response> {
    set_status(state, auth, id, post, false).await
}

#[derive(Deserialize)]
struct PeriodQuery {
    period: Option<String>,
    depth: Option<String>,
}

impl PeriodQuery {
    fn period(&self) -> Result<String, crate::error::ApiError> {
        let period = self.period.clone().unwrap_or_else(|| chrono::Utc::now().format("%Y-%m").to_string());
        Ok(members::parse_period(&period)?)
    }
}

async fn volume(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<PeriodQuery>,
) -> ApiResult<Json<Value>> {
    let id = visible_member(&auth, &id)?;
    let period = q.period()?;
    let mut conn = state.pool.acquire().await?;
    let v = members::volume(&mut conn, id, &period).await?;
    Ok(Json(json!({
        "period": v.period,
        "personal_pv": format(v.personal_pv, VOLUME_SCALE), "personal_bv": format(v.personal_bv, VOLUME_SCALE),
        "group_pv": format(v.group_pv, VOLUME_SCALE), "group_bv": format(v.group_bv, VOLUME_SCALE),
    })))
}

async fn team(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<PeriodQuery>,
) -> ApiResult<Json<Value>> {
    let id = visible_member(&auth, &id)?;
    let period = q.period()?;
    let depth = match q.depth.as_deref().map(str::parse::<i32>) {
        None => 3,
        Some(Ok(d)) => d,
        Some(Err(_)) => return Err(haat_domain::DomainError::invalid("depth", "must be a whole number").into()),
    };
    let mut conn = state.pool.acquire().await?;
    let levels = members::team(&mut conn, id, depth, &period).await?;
    let levels: Vec<Value> = levels
        .iter()
        .map(|l| json!({"level": l.level, "members": l.members, "pv": format(l.pv, VOLUME_SCALE), "bv": format(l.bv, VOLUME_SCALE)}))
        .collect();
    Ok(Json(json!({ "member_id": id, "period": period, "depth": depth, "levels": levels })))
}

/// The member a read is about, checked against the caller's key.
fn visible_member(auth: &Auth, id: &str) -> ApiResult<uuid::Uuid> {
    let id = parse_id(id, "member")?;
    auth.require_member_access(id, "member")?;
    Ok(id)
}

/// `GET /v1/members/{id}/orders`: the member's orders, newest first (a
/// member key sees only its own).
async fn orders_of(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    let id = visible_member(&auth, &id)?;
    let limit = page.limit()?;
    let mut conn = state.pool.acquire().await?;
    members::get(&mut conn, id).await?;
    let items = orders::list_for_member(&mut conn, id, uuid_cursor(&page)?, limit).await?;
    page_by_id(&items, limit, |o| o.id)
}

#[derive(Deserialize)]
struct Search {
    q: Option<String>,
}

/// `GET /v1/admin/members?q=`: members, newest first; with `q`, the one
/// whose email, phone or referral code it is.
async fn search(
    State(state): State<AppState>,
    auth: Auth,
    Query(s): Query<Search>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let limit = page.limit()?;
    let mut conn = state.pool.acquire().await?;
    let found = members::search(&mut conn, s.q.as_deref(), uuid_cursor(&page)?, limit).await?;
    let last = found.last().map(|m| m.id.to_string());
    Ok(Json(super::page_of(found.iter().map(view).collect(), limit, || last)))
}
