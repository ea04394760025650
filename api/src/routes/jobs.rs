//! Jobs for operators: list them by status (`dead` ones above all) and put
//! a dead one back to run.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use futures::FutureExt;
use haat_domain::jobs::admin::{self, JobView, Status};
use serde::Deserialize;
use serde_json::Value;

use super::{ListOf, Page, Routes, page_of};
use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, Path, Query};
use crate::idem::{self, PostRequest};
use utoipa_axum::routes;

/// Job routes.
pub fn router() -> Routes {
    Routes::new().routes(routes!(list)).routes(routes!(show)).routes(routes!(retry))
}

/// `?status=&queue=` of the job list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Filter {
    /// `dead` (default), `failed` (attempts left), `pending`, `running` or `done`.
    status: Option<String>,
    /// A public queue name (`notifications`, `commissions`, …).
    queue: Option<String>,
}

/// Lists jobs by status, `dead` by default (admin).
#[utoipa::path(get, path = "/v1/admin/jobs", tag = "operations", params(Filter, Page),
    responses((status = 200, description = "A page of jobs in that status", body = ListOf<JobView>)))]
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
#[utoipa::path(get, path = "/v1/admin/jobs/{id}", tag = "operations",
    params(("id" = String, Path, description = "The job")),
    responses((status = 200, description = "The job's status, attempts and last result", body = JobView)))]
async fn show(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(to_json(&admin::get(&mut conn, &id).await?)?))
}

/// Puts a dead or failed job back to run (admin).
#[utoipa::path(post, path = "/v1/admin/jobs/{id}/retry", tag = "operations",
    params(("id" = String, Path, description = "The job")),
    responses((status = 200, description = "The job, due again with fresh attempts", body = JobView)))]
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
