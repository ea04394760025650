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
use serde_json::{Value, json};

use super::Page;
use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, Path, Query};
use crate::idem::{self, PostRequest};

/// Job routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/admin/jobs", get(list)).route("/v1/admin/jobs/{id}/retry", post(retry))
}

/// `?status=&queue=&limit=`.
#[derive(Debug, Deserialize)]
struct Filter {
    status: Option<String>,
    queue: Option<String>,
    limit: Option<String>,
}

async fn list(State(state): State<AppState>, auth: Auth, Query(filter): Query<Filter>) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let status: Status = filter.status.as_deref().unwrap_or("dead").parse()?;
    let limit = Page { limit: filter.limit, cursor: None }.limit()?;
    let mut conn = state.pool.acquire().await?;
    let jobs = admin::list(&mut conn, status, filter.queue.as_deref(), limit).await?;
    Ok(Json(json!({ "items": to_json(&jobs)?, "next_cursor": null })))
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
