//! Plans: admins write new versions (immutable) and list them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use futures::FutureExt;
use haat_domain::compensation::plans::{self, PlanInput};
use haat_domain::compensation::simulation::{self, Range};
use serde_json::Value;

use super::{Page, admin_create, page_by_id, uuid_cursor};

use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, Path, Query, RawBody, parse_id, parse_json};
use crate::idem::{self, PostRequest};

/// Plan routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/plans", post(create).get(list))
        .route("/v1/admin/plans/{id}/activate", post(activate))
        .route("/v1/admin/plans/{id}/simulate", post(simulate))
}

fn to_value(plan: &plans::Plan) -> ApiResult<Value> {
    to_json(plan)
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    admin_create(&state, &auth, &post, &body, |c, input: &PlanInput| plans::create(c, input).boxed()).await
}

async fn list(State(state): State<AppState>, auth: Auth, Query(page): Query<Page>) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let limit = page.limit()?;
    let mut conn = state.pool.acquire().await?;
    let items = plans::list(&mut conn, uuid_cursor(&page)?, limit).await?;
    page_by_id(&items, limit, |i| i.id)
}

async fn activate(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    post: PostRequest,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let id = parse_id(&id, "plan")?;
    idem::post(&state, &auth, &post, &[], move |tx| {
        async move { Ok((StatusCode::OK, to_value(&plans::activate(tx, id).await?)?)) }.boxed()
    })
    .await
}

/// Replays past orders under the plan in a read-only transaction that is
/// rolled back: Postgres itself guarantees nothing is written.
async fn simulate(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let id = parse_id(&id, "plan")?;
    let range: Range = parse_json(&body)?;
    let mut tx = state.pool.begin().await?;
    haat_platform::db::read_only(&mut tx).await?;
    let result = simulation::simulate(&mut tx, id, &range).await?;
    tx.rollback().await?;
    Ok(Json(to_json(&result)?))
}
