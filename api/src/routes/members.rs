//! Members: create, read, admin placement and suspension.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::FutureExt;
use haat_domain::money::{DecimalText, VOLUME_SCALE, format};
use haat_domain::network::genealogy::{self, Downline, TreeNode};
use haat_domain::network::members::{self, Member, NewMember};
use haat_domain::orders::{self, OrderSummary};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ListOf, Page, Routes, page_by_id, uuid_cursor};
use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, PathId, Query, RawBody, parse_json};
use crate::idem::{self, PostRequest};
use haat_domain::ids::{MemberId, TypedId};
use utoipa_axum::routes;

/// Member routes.
pub fn router() -> Routes {
    Routes::new()
        .routes(routes!(create))
        .routes(routes!(show))
        .routes(routes!(volume))
        .routes(routes!(team))
        .routes(routes!(tree))
        .routes(routes!(orders_of))
        .routes(routes!(search))
        .routes(routes!(place))
        .routes(routes!(suspend))
        .routes(routes!(reinstate))
}

/// The API shape of a member.
pub fn view(m: &Member) -> ApiResult<Value> {
    to_json(m)
}

/// `GET /v1/members/{id}/volume`.
#[derive(Serialize, utoipa::ToSchema)]
struct VolumeView {
    /// The period, `YYYY-MM`.
    period: String,
    /// The member's own PV.
    #[schema(value_type = DecimalText)]
    personal_pv: String,
    /// The member's own BV.
    #[schema(value_type = DecimalText)]
    personal_bv: String,
    /// PV of the member and its whole downline.
    #[schema(value_type = DecimalText)]
    group_pv: String,
    /// BV of the member and its whole downline.
    #[schema(value_type = DecimalText)]
    group_bv: String,
}

/// `GET /v1/members/{id}/team`.
#[derive(Serialize, utoipa::ToSchema)]
struct TeamView {
    /// Whose downline.
    member_id: uuid::Uuid,
    /// The period, `YYYY-MM`.
    period: String,
    /// How many levels down.
    depth: i32,
    /// One entry per level.
    levels: Vec<TeamLevelView>,
    /// A page of the members themselves, by level then id (an extension).
    items: Vec<Downline>,
    /// Where the next page of members starts; null on the last page.
    next_cursor: Option<String>,
}

/// `GET /v1/members/{id}/tree`.
#[derive(Serialize, utoipa::ToSchema)]
struct TreeView {
    /// Whose subtree.
    member_id: uuid::Uuid,
    /// The period of the personal volumes, `YYYY-MM`.
    period: String,
    /// How many levels down.
    depth: i32,
    /// The members placed directly under it, each with its own.
    children: Vec<TreeNode>,
}

/// One level of a team.
#[derive(Serialize, utoipa::ToSchema)]
struct TeamLevelView {
    /// 1 = the member's direct placements.
    level: i32,
    /// Members at this level.
    members: i64,
    /// Their PV in the period.
    #[schema(value_type = DecimalText)]
    pv: String,
    /// Their BV in the period.
    #[schema(value_type = DecimalText)]
    bv: String,
}

/// Creates a member under the sponsor whose code is given (storefront, admin).
#[utoipa::path(post, path = "/v1/members", tag = "members", request_body = NewMember,
    responses((status = 201, description = "The member, placed under its sponsor", body = Member)))]
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
            Ok((StatusCode::CREATED, view(&m)?))
        }
        .boxed()
    })
    .await
}

/// One member (a member key: its own only).
#[utoipa::path(get, path = "/v1/members/{id}", tag = "members", params(("id" = MemberId, Path, description = "The member")),
    responses((status = 200, description = "The member", body = Member)))]
async fn show(State(state): State<AppState>, auth: Auth, PathId(id): PathId<MemberId>) -> ApiResult<Json<Value>> {
    let id = visible_member(&auth, id)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(view(&members::get(&mut conn, id).await?)?))
}

/// `POST /v1/admin/members/{id}/placement`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Placement {
    /// The new placement parent (not in the member's own downline).
    parent_id: uuid::Uuid,
}

/// Re-places a member under another parent (admin).
#[utoipa::path(post, path = "/v1/admin/members/{id}/placement", tag = "members", request_body = Placement,
    params(("id" = MemberId, Path, description = "The member")), responses((status = 200, description = "The member, re-placed", body = Member)))]
async fn place(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<MemberId>,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let id = id.uuid();
    let input: Placement = parse_json(&body)?;
    idem::post(&state, &auth, &post, &body, move |tx| {
        async move { Ok((StatusCode::OK, view(&members::place(tx, id, input.parent_id).await?)?)) }.boxed()
    })
    .await
}

async fn set_status(
    state: AppState,
    auth: Auth,
    id: MemberId,
    post: PostRequest,
    suspended: bool,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let id = id.uuid();
    idem::post(&state, &auth, &post, &[], move |tx| {
        async move { Ok((StatusCode::OK, view(&members::set_status(tx, id, suspended).await?)?)) }.boxed()
    })
    .await
}

/// Suspends a member (admin).
#[utoipa::path(post, path = "/v1/admin/members/{id}/suspend", tag = "members", params(("id" = MemberId, Path, description = "The member")),
    responses((status = 200, description = "The member, suspended", body = Member)))]
async fn suspend(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<MemberId>,
    post: PostRequest,
) -> ApiResult<Response> {
    set_status(state, auth, id, post, true).await
}

/// Reinstates a suspended member (admin).
#[utoipa::path(post, path = "/v1/admin/members/{id}/reinstate", tag = "members", params(("id" = MemberId, Path, description = "The member")),
    responses((status = 200, description = "The member, active again", body = Member)))]
async fn reinstate(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<MemberId>,
    post: PostRequest,
) -> ApiResult<Response> {
    set_status(state, auth, id, post, false).await
}

/// `?period=&depth=` of the volume and team reads.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PeriodQuery {
    /// `YYYY-MM` (default: this month).
    #[param(pattern = r"^[0-9]{4}-[0-9]{2}$")]
    period: Option<String>,
    /// Levels: the team's (1 to 10, default 3) or the tree's (1 to 3, default 2).
    #[param(value_type = Option<i32>)]
    depth: Option<String>,
}

impl PeriodQuery {
    fn period(&self) -> Result<String, crate::error::ApiError> {
        let period = self.period.clone().unwrap_or_else(|| chrono::Utc::now().format("%Y-%m").to_string());
        Ok(members::parse_period(&period)?)
    }

    /// `depth`, or `default` when absent.
    fn depth(&self, default: i32) -> Result<i32, crate::error::ApiError> {
        match self.depth.as_deref().map(str::parse::<i32>) {
            None => Ok(default),
            Some(Ok(d)) => Ok(d),
            Some(Err(_)) => Err(haat_domain::DomainError::invalid("depth", "must be a whole number").into()),
        }
    }
}

/// A member's volume in a period.
#[utoipa::path(get, path = "/v1/members/{id}/volume", tag = "members",
    params(("id" = MemberId, Path, description = "The member"),
        ("period" = Option<String>, Query, description = "`YYYY-MM` (default: this month)", pattern = r"^[0-9]{4}-[0-9]{2}$")),
    responses((status = 200, description = "Personal and group volume in the period", body = VolumeView)))]
async fn volume(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<MemberId>,
    Query(q): Query<PeriodQuery>,
) -> ApiResult<Json<Value>> {
    let id = visible_member(&auth, id)?;
    let period = q.period()?;
    let mut conn = state.pool.acquire().await?;
    let v = members::volume(&mut conn, id, &period).await?;
    to_json(&VolumeView {
        period: v.period,
        personal_pv: format(v.personal_pv, VOLUME_SCALE),
        personal_bv: format(v.personal_bv, VOLUME_SCALE),
        group_pv: format(v.group_pv, VOLUME_SCALE),
        group_bv: format(v.group_bv, VOLUME_SCALE),
    })
    .map(Json)
}

/// A member's downline by level: counts and volume per level, and a page
/// of the members themselves.
#[utoipa::path(get, path = "/v1/members/{id}/team", tag = "members",
    params(("id" = MemberId, Path, description = "The member"), PeriodQuery, Page),
    responses((status = 200, description = "The downline by level with counts and volume, and a page of its members", body = TeamView)))]
async fn team(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<MemberId>,
    Query(q): Query<PeriodQuery>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    let id = visible_member(&auth, id)?;
    let period = q.period()?;
    let depth = q.depth(3)?;
    let limit = page.limit()?;
    let after = page.cursor.as_deref().map(team_cursor).transpose()?;
    let mut conn = state.reads.acquire().await?;
    let levels = members::team(&mut conn, id, depth, &period).await?;
    let mask = masked(&state, &auth);
    let items = genealogy::team_members(&mut conn, id, depth, &period, after, limit, mask).await?;
    let levels = levels
        .iter()
        .map(|l| TeamLevelView {
            level: l.level,
            members: l.members,
            pv: format(l.pv, VOLUME_SCALE),
            bv: format(l.bv, VOLUME_SCALE),
        })
        .collect();
    let next_cursor =
        (items.len() as i64 == limit).then(|| items.last().map(|d| format!("{}:{}", d.level, d.member_id))).flatten();
    to_json(&TeamView { member_id: id, period, depth, levels, items, next_cursor }).map(Json)
}

/// A team page's cursor: `{level}:{member id}` of the last member shown.
fn team_cursor(raw: &str) -> ApiResult<genealogy::After> {
    raw.split_once(':')
        .and_then(|(level, id)| Some((level.parse().ok()?, id.parse().ok()?)))
        .ok_or_else(super::bad_cursor)
}

/// Whether names beyond level 1 are masked for this caller: only member
/// keys, only where the deployment asks.
fn masked(state: &AppState, auth: &Auth) -> bool {
    state.settings.mask_downline_names && auth.0.role == haat_domain::auth::Role::Member
}

/// A member's subtree a few levels deep, for a tree view that expands a
/// member at a time.
#[utoipa::path(get, path = "/v1/members/{id}/tree", tag = "members",
    params(("id" = MemberId, Path, description = "The member"), PeriodQuery),
    responses((status = 200, description = "The members under it, nested, `depth` levels (1 to 3, default 2)", body = TreeView)))]
async fn tree(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<MemberId>,
    Query(q): Query<PeriodQuery>,
) -> ApiResult<Json<Value>> {
    let id = visible_member(&auth, id)?;
    let period = q.period()?;
    let depth = q.depth(2)?;
    let mut conn = state.reads.acquire().await?;
    let children = genealogy::tree(&mut conn, id, depth, &period, masked(&state, &auth)).await?;
    to_json(&TreeView { member_id: id, period, depth, children }).map(Json)
}

/// The member a read is about, checked against the caller's key.
fn visible_member(auth: &Auth, id: MemberId) -> ApiResult<uuid::Uuid> {
    let id = id.uuid();
    auth.require_member_access(id, "member")?;
    Ok(id)
}

/// `GET /v1/members/{id}/orders`: the member's orders, newest first (a
/// member key sees only its own).
#[utoipa::path(get, path = "/v1/members/{id}/orders", tag = "members", params(("id" = MemberId, Path, description = "The member"), Page),
    responses((status = 200, description = "A page of the member's orders, newest first", body = ListOf<OrderSummary>)))]
async fn orders_of(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<MemberId>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    let id = visible_member(&auth, id)?;
    let limit = page.limit()?;
    let mut conn = state.reads.acquire().await?;
    members::get(&mut conn, id).await?;
    let items = orders::list_for_member(&mut conn, id, uuid_cursor(&page)?, limit).await?;
    page_by_id(&items, limit, |o| o.id)
}

/// `?q=` of the member search.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Search {
    /// An email, phone or referral code (exact; email case-insensitive).
    q: Option<String>,
}

/// `GET /v1/admin/members?q=`: members, newest first; with `q`, the one
/// whose email, phone or referral code it is.
#[utoipa::path(get, path = "/v1/admin/members", tag = "members", params(Search, Page),
    responses((status = 200, description = "A page of members, newest first", body = ListOf<Member>)))]
async fn search(
    State(state): State<AppState>,
    auth: Auth,
    Query(s): Query<Search>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let limit = page.limit()?;
    let mut conn = state.reads.acquire().await?;
    let found = members::search(&mut conn, s.q.as_deref(), uuid_cursor(&page)?, limit).await?;
    page_by_id(&found, limit, |m| m.id)
}
