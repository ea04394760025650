//! Period close: admins read a closed period and may ask for a close now
//! (the same job the workers' schedule enqueues; it runs once per period).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::FutureExt;
use haat_domain::compensation::periods;
use haat_domain::jobs::{self, ClosePeriod};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, Path};
use crate::idem::{self, PostRequest};

/// Period routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/admin/periods/{period}", get(show)).route("/v1/admin/periods/{period}/close", post(close))
}

async fn show(State(state): State<AppState>, auth: Auth, Path(period): Path<String>) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(to_json(&periods::get(&mut conn, &period).await?)?))
}

async fn close(
    State(state): State<AppState>,
    auth: Auth,
    Path(period): Path<String>,
    post: PostRequest,
) -> ApiResult<Response> {
    auth.require_admin()?;
    periods::bounds(&period, state.settings.time_zone)?;
    let job = ClosePeriod { period: period.clone(), tick: chrono::Utc::now().timestamp_millis() };
    idem::post(&state, &auth, &post, &[], move |tx| {
        async move {
            jobs::enqueue(tx, &job, None).await?;
            Ok((StatusCode::ACCEPTED, json!({"period": period, "status": "queued"})))
        }
        .boxed()
    })
    .await
}
