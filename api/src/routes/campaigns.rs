//! Cashback campaigns: admins create them, move or repeat their
//! settlement, settle them early or cancel them, and read the decision.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use futures::FutureExt;
use futures::future::BoxFuture;
use haat_domain::DomainResult;
use haat_domain::rewards::campaigns::{self, Campaign, Defaults, NewCampaign, ScheduleInput};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{ListOf, Page, Routes, admin_create, page_by_id, uuid_cursor};
use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, PathId, Query, RawBody, parse_json};
use crate::idem::{self, PostRequest};
use haat_domain::ids::{CampaignId, TypedId};
use utoipa_axum::routes;

/// Campaign routes.
pub fn router() -> Routes {
    Routes::new()
        .routes(routes!(create, list))
        .routes(routes!(show))
        .routes(routes!(schedule))
        .routes(routes!(settle))
        .routes(routes!(cancel))
}

/// Creates a cashback campaign (admin).
#[utoipa::path(post, path = "/v1/admin/campaigns", tag = "campaigns", request_body = NewCampaign,
    responses((status = 201, description = "The campaign, scheduled", body = Campaign)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let defaults =
        Defaults { time_zone: state.settings.time_zone, grace_seconds: state.settings.campaign_grace_seconds };
    let now = chrono::Utc::now();
    admin_create(&state, &auth, &post, &body, move |c, input: &NewCampaign| {
        campaigns::create(c, input, defaults, now).boxed()
    })
    .await
}

/// Lists campaigns (admin).
#[utoipa::path(get, path = "/v1/admin/campaigns", tag = "campaigns", params(Page),
    responses((status = 200, description = "A page of campaigns, newest first", body = ListOf<Campaign>)))]
async fn list(State(state): State<AppState>, auth: Auth, Query(page): Query<Page>) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let limit = page.limit()?;
    let mut conn = state.pool.acquire().await?;
    let items = campaigns::list(&mut conn, uuid_cursor(&page)?, limit).await?;
    page_by_id(&items, limit, |i| i.id)
}

/// One campaign (admin).
#[utoipa::path(get, path = "/v1/admin/campaigns/{id}", tag = "campaigns", params(("id" = CampaignId, Path, description = "The campaign")),
    responses((status = 200, description = "The campaign with its settlement once decided", body = Campaign)))]
async fn show(State(state): State<AppState>, auth: Auth, PathId(id): PathId<CampaignId>) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let id = id.uuid();
    let mut conn = state.pool.acquire().await?;
    Ok(Json(to_json(&campaigns::get(&mut conn, id).await?)?))
}

/// Moves or repeats a campaign's settlement (admin).
#[utoipa::path(post, path = "/v1/admin/campaigns/{id}/schedule", tag = "campaigns", request_body = ScheduleInput,
    params(("id" = CampaignId, Path, description = "The campaign")), responses((status = 200, description = "The campaign, rescheduled", body = Campaign)))]
async fn schedule(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<CampaignId>,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let input: ScheduleInput = parse_json(&body)?;
    let change = Change { state: &state, auth: &auth, post: &post, body: &body, status: StatusCode::OK };
    change.run(id, move |c, id| async move { campaigns::schedule(c, id, &input).await }.boxed()).await
}

/// Settles now: answers 202, the settlement job does the work.
#[utoipa::path(post, path = "/v1/admin/campaigns/{id}/settle", tag = "campaigns", params(("id" = CampaignId, Path, description = "The campaign")),
    responses((status = 202, description = "The campaign with `job_id`, its settlement job \
        (`GET /v1/admin/jobs/{id}`: status, then the outcome as result)", body = Campaign)))]
async fn settle(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<CampaignId>,
    post: PostRequest,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let now = chrono::Utc::now();
    let change = Change { state: &state, auth: &auth, post: &post, body: &[], status: StatusCode::ACCEPTED };
    change
        .run(id, move |c, id| {
            async move {
                let (campaign, job) = campaigns::settle_now(c, id, now).await?;
                let job_id = super::id_of_job(c, &job).await?;
                Ok(SettleAnswer { campaign, job_id })
            }
            .boxed()
        })
        .await
}

/// The answer of `POST …/settle`: the campaign and its settlement job.
#[derive(serde::Serialize)]
struct SettleAnswer {
    #[serde(flatten)]
    campaign: Campaign,
    job_id: String,
}

/// Cancels a campaign before it settles (admin).
#[utoipa::path(post, path = "/v1/admin/campaigns/{id}/cancel", tag = "campaigns", params(("id" = CampaignId, Path, description = "The campaign")),
    responses((status = 200, description = "The campaign, cancelled", body = Campaign)))]
async fn cancel(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<CampaignId>,
    post: PostRequest,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let change = Change { state: &state, auth: &auth, post: &post, body: &[], status: StatusCode::OK };
    change.run(id, |c, id| campaigns::cancel(c, id).boxed()).await
}

/// One campaign change: the request it answers and the status it answers with.
struct Change<'a> {
    state: &'a AppState,
    auth: &'a Auth,
    post: &'a PostRequest,
    body: &'a [u8],
    status: StatusCode,
}

impl Change<'_> {
    /// Runs `f` in one transaction under the request's Idempotency-Key.
    async fn run<T: serde::Serialize + Send + 'static>(
        self,
        id: CampaignId,
        f: impl for<'c> FnOnce(&'c mut PgConnection, Uuid) -> BoxFuture<'c, DomainResult<T>> + Send + 'static,
    ) -> ApiResult<Response> {
        let id = id.uuid();
        let status = self.status;
        idem::post(self.state, self.auth, self.post, self.body, move |tx| {
            async move { Ok((status, to_json(&f(tx, id).await?)?)) }.boxed()
        })
        .await
    }
}
