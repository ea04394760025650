//! Period close: admins read a closed period and may ask for a close now
//! (the same job the workers' schedule enqueues; it runs once per period).
//! In review mode a close keeps a run, which admins read (JSON or CSV),
//! commit or discard.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use futures::FutureExt;
use haat_domain::compensation::periods;
use haat_domain::compensation::periods::PeriodView;
use haat_domain::compensation::periods::review::{self, RunView};
use haat_domain::jobs::ClosePeriod;
use serde::Serialize;
use serde_json::Value;

use super::Routes;
use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, Path, Query};
use crate::idem::{self, PostRequest};
use utoipa_axum::routes;

/// Period routes.
pub fn router() -> Routes {
    Routes::new()
        .routes(routes!(show))
        .routes(routes!(close))
        .routes(routes!(run))
        .routes(routes!(commit))
        .routes(routes!(discard))
}

/// `POST /v1/admin/periods/{period}/close`'s answer.
#[derive(Serialize, utoipa::ToSchema)]
struct PeriodQueued {
    /// The period, `YYYY-MM`.
    period: String,
    /// Always `queued`.
    #[schema(pattern = "^queued$")]
    status: &'static str,
    /// The close job, for `GET /v1/admin/jobs/{id}` (status, attempts, and
    /// its outcome once run).
    job_id: String,
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
            let job_id = super::enqueue_for_id(tx, &job).await?;
            Ok((StatusCode::ACCEPTED, to_json(&PeriodQueued { period, status: "queued", job_id })?))
        }
        .boxed()
    })
    .await
}

/// `?format=` of a run.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RunFormat {
    /// `json` (default) or `csv` (the bonus lines); `Accept: text/csv` also asks for CSV.
    format: Option<String>,
}

/// The period's latest run (review mode): totals, ranks and every bonus line
/// with its reason, and whether committing it would be refused (admin).
#[utoipa::path(get, path = "/v1/admin/periods/{period}/run", tag = "periods",
    params(("period" = String, Path, description = "`YYYY-MM`"), RunFormat),
    responses((status = 200, description = "The run; as CSV its bonus lines (member_id, bonus, basis, amount, reason)",
        content((RunView = "application/json"), (String = "text/csv")))))]
async fn run(
    State(state): State<AppState>,
    auth: Auth,
    headers: axum::http::HeaderMap,
    Path(period): Path<String>,
    Query(q): Query<RunFormat>,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let (start, end) = periods::bounds(&period, state.settings.time_zone)?;
    let csv = crate::csv_export::wanted(q.format.as_deref(), &headers)?;
    let mut conn = state.pool.acquire().await?;
    let view = review::get(&mut conn, &period).await?;
    if !csv {
        return Ok(axum::response::IntoResponse::into_response(Json(to_json(&view)?)));
    }
    let interval = haat_domain::reports::Interval { from: start, to: end, time_zone: state.settings.time_zone };
    let rows = view.bonus_lines.iter().map(|b| {
        vec![b.member_id.to_string(), b.bonus.clone(), b.basis.to_string(), b.amount.to_string(), b.reason.clone()]
    });
    let header = ["member_id", "bonus", "basis", "amount", "reason"];
    crate::csv_export::attachment(&format!("period_run_{period}"), &interval, &header, rows)
}

/// Commits the period's computed run: posts exactly its lines, once, and
/// closes the period; a stale run is refused with the reason (admin).
#[utoipa::path(post, path = "/v1/admin/periods/{period}/run/commit", tag = "periods",
    params(("period" = String, Path, description = "`YYYY-MM`")),
    responses((status = 200, description = "The committed run", body = RunView)))]
async fn commit(
    State(state): State<AppState>,
    auth: Auth,
    Path(period): Path<String>,
    post: PostRequest,
) -> ApiResult<Response> {
    auth.require_admin()?;
    periods::bounds(&period, state.settings.time_zone)?;
    let (tz, currency) = (state.settings.time_zone, state.settings.currency.clone());
    idem::post(&state, &auth, &post, &[], move |tx| {
        async move {
            let view = review::commit(tx, &period, tz, chrono::Utc::now(), &currency).await?;
            Ok((StatusCode::OK, to_json(&view)?))
        }
        .boxed()
    })
    .await
}

/// Discards the period's computed run; closing again computes a new one (admin).
#[utoipa::path(post, path = "/v1/admin/periods/{period}/run/discard", tag = "periods",
    params(("period" = String, Path, description = "`YYYY-MM`")),
    responses((status = 200, description = "The discarded run", body = RunView)))]
async fn discard(
    State(state): State<AppState>,
    auth: Auth,
    Path(period): Path<String>,
    post: PostRequest,
) -> ApiResult<Response> {
    auth.require_admin()?;
    periods::bounds(&period, state.settings.time_zone)?;
    idem::post(&state, &auth, &post, &[], move |tx| {
        async move {
            let view = review::discard(tx, &period, chrono::Utc::now()).await?;
            Ok((StatusCode::OK, to_json(&view)?))
        }
        .boxed()
    })
    .await
}
