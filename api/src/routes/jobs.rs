//! Jobs for operators: list them by status (`dead` ones above all) and put
//! a dead one back to run.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::FutureExt;
use haat_domain::jobs::admin::{self, Status};
use serde::Deserialize;
use serde_json::Value;

use super::{Page, page_of};
use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, Path, Query};
use crate::idem::{self, PostRequest};

/// Job routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/jobs", get(list))
        .route("/v1/admin/jobs/{id}", get(show))
        .route("/v1/admin/jobs/{id}/retry", post(retry))
}

/// `?status=&queue=&limit=&cursor=`.
#[derive(Debug, Deserialize)]
struct Filter {
    status: Option<String>,
    queue: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Query(filter): Query<Filter>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let status: Status = filter.status.as_deref().unwrap_or("dead").parse()?;
    let queue = filter.queue.as_deref().map(admin::parse_queue).transpose()?;
    let limit = page.limit()?;
    let mut conn = state.pool.acquire().await?;
    let jobs = admin::list(&mut conn, status, queue, page.cursor.as_deref(), limit).await?;
    let last = jobs.last().map(|j| j.id.clone());
    let items = jobs.iter().map(to_json).collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(page_of(items, limit, || last)))
}

/// `GET /v1/admin/jobs/{id}`: one job's status, attempts and last result.
async fn show(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(to_json(&admin::get(&mut conn, &id).await?)?))
}

async fn retry(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    post: PostRequest,
) -> ApiResult<Response> {
    auth.require_admin()?;
    idem::post(&state, &auth, &post, &[], move |tx| {
        async move { Ok((StatusCode::OK, to_json(&admin::retry(tx, &id).await?)?)) }.boxed()
    })
    .await
}
