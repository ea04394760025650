//! Period close: admins read a closed period and may ask for a close now
//! (the same job the workers' schedule enqueues; it runs once per period).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use futures::FutureExt;
use haat_domain::compensation::periods;
use haat_domain::compensation::periods::PeriodView;
use haat_domain::jobs::{self, ClosePeriod};
use serde::Serialize;
use serde_json::Value;

use super::Routes;
use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, Path};
use crate::idem::{self, PostRequest};
use utoipa_axum::routes;

/// Period routes.
pub fn router() -> Routes {
    Routes::new().routes(routes!(show)).routes(routes!(close))
}

/// `POST /v1/admin/periods/{period}/close`'s answer.
#[derive(Serialize, utoipa::ToSchema)]
struct PeriodQueued {
    /// The period, `YYYY-MM`.
    period: String,
    /// Always `queued`.
    #[schema(pattern = "^queued$")]
    status: &'static str,
}

/// A closed period (admin).
#[utoipa::path(get, path = "/v1/admin/periods/{period}", tag = "periods",
    params(("period" = String, Path, description = "`YYYY-MM`")),
    responses((status = 200, description = "The closed period: ranks and bonuses", body = PeriodView)))]
async fn show(State(state): State<AppState>, auth: Auth, Path(period): Path<String>) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(to_json(&periods::get(&mut conn, &period).await?)?))
}

/// Closes a period now (admin).
#[utoipa::path(post, path = "/v1/admin/periods/{period}/close", tag = "periods",
    params(("period" = String, Path, description = "`YYYY-MM`")),
    responses((status = 202, description = "The close job is queued (it runs once per period)", body = PeriodQueued)))]
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
            Ok((StatusCode::ACCEPTED, to_json(&PeriodQueued { period, status: "queued" })?))
        }
        .boxed()
    })
    .await
}
