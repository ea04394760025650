//! Plans: admins write new versions (immutable) and list them.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use haat_domain::compensation::plans::{self, Plan, PlanInput};
use haat_domain::compensation::simulation::{self, Range, Simulation};
use serde_json::Value;

use super::{ListOf, Page, Routes, admin_create, page_by_id, uuid_cursor};

use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, PathId, Query, RawBody, parse_json};
use crate::idem::{self, PostRequest};
use haat_domain::ids::{PlanId, TypedId};
use haat_domain::jobs::SimulatePlan;
use haat_domain::jobs::progress::Progress;
use utoipa_axum::routes;

/// Plan routes.
pub fn router() -> Routes {
    Routes::new().routes(routes!(create, list)).routes(routes!(activate)).routes(routes!(simulate))
}

fn to_value(plan: &plans::Plan) -> ApiResult<Value> {
    to_json(plan)
}

/// Writes a new plan version (admin).
#[utoipa::path(post, path = "/v1/admin/plans", tag = "plans", request_body = PlanInput,
    responses((status = 201, description = "The new plan version (a draft until activated, unless effective now)", body = Plan)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    admin_create(&state, &auth, &post, &body, |c, input: &PlanInput| plans::create(c, input).boxed()).await
}

/// Lists plan versions (admin).
#[utoipa::path(get, path = "/v1/admin/plans", tag = "plans", params(Page),
    responses((status = 200, description = "A page of plan versions, newest first", body = ListOf<Plan>)))]
async fn list(State(state): State<AppState>, auth: Auth, Query(page): Query<Page>) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let limit = page.limit()?;
    let mut conn = state.pool.acquire().await?;
    let items = plans::list(&mut conn, uuid_cursor(&page)?, limit).await?;
    page_by_id(&items, limit, |i| i.id)
}

/// Activates a plan version (admin).
#[utoipa::path(post, path = "/v1/admin/plans/{id}/activate", tag = "plans",
    params(("id" = PlanId, Path, description = "The plan version")),
    responses((status = 200, description = "The plan, now active and immutable", body = Plan)))]
async fn activate(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<PlanId>,
    post: PostRequest,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let id = id.uuid();
    idem::post(&state, &auth, &post, &[], move |tx| {
        async move { Ok((StatusCode::OK, to_value(&plans::activate(tx, id).await?)?)) }.boxed()
    })
    .await
}

/// Replays past orders under the plan in a read-only transaction that is
/// rolled back: Postgres itself guarantees nothing is written. A range of
/// more orders than `HAAT_SIMULATION_INLINE_ORDERS` is replayed by a job
/// instead (the same range asked again answers the same job).
#[utoipa::path(post, path = "/v1/admin/plans/{id}/simulate", tag = "plans", request_body = Range,
    params(("id" = PlanId, Path, description = "The plan version")),
    responses((status = 200, description = "What the plan would have paid beside what was paid", body = Simulation),
        (status = 202, description = "The range holds more orders than a request replays: the job's id; its result \
            is `{simulation, members_total}` (the members whose pay would change most, at most 10,000), its \
            progress orders done of the total", body = super::Queued)))]
async fn simulate(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<PlanId>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    auth.require_admin()?;
    // Nothing is written, so a key changes nothing; a malformed one is still refused.
    idem::key_of(&headers, false)?;
    let id = id.uuid();
    let range: Range = parse_json(&body)?;
    let mut tx = state.pool.begin().await?;
    haat_platform::db::read_only(&mut tx).await?;
    plans::get(&mut tx, id).await?;
    if simulation::orders_in(&mut tx, &range).await? > state.settings.simulation_inline_orders {
        tx.rollback().await?;
        let job = SimulatePlan { plan_id: id, from: range.from, to: range.to };
        let mut tx = state.pool.begin().await?;
        let queued = super::enqueue_and_answer(&mut tx, &job).await?;
        tx.commit().await?;
        return Ok((StatusCode::ACCEPTED, Json(queued)).into_response());
    }
    let result = simulation::simulate(&mut tx, id, &range, &mut Progress::unwatched()).await?;
    tx.rollback().await?;
    Ok(Json(to_json(&result)?).into_response())
}
