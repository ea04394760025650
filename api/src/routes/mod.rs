//! One module per resource, each exposing its `router()`.

pub mod analytics;
pub mod business_accounts;
pub mod campaigns;
pub mod catalog;
pub mod challenges;
pub mod coupons;
pub mod events;
pub mod fee_schedules;
pub mod flash_sales;
pub mod invoices;
pub mod jobs;
pub mod keys;
pub mod loyalty;
pub mod members;
pub mod ops;
pub mod orders;
pub mod payments;
pub mod periods;
pub mod pickup_points;
pub mod plans;
pub mod reports;
pub mod sellers;
pub mod shipments;
pub mod wallet;
pub mod webhooks;
pub mod withdrawals;

use axum::Json;
use axum::http::StatusCode;
use axum::response::Response;
use futures::FutureExt;
use futures::future::BoxFuture;
use haat_domain::error::DomainResult;
use serde::Deserialize;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::PgConnection;

use crate::AppState;
use crate::error::{ApiError, ApiResult, to_json};
use crate::extract::{Auth, parse_json};
use crate::idem::{self, PostRequest};

/// A page of a list, as every list answers.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ListOf<T> {
    /// This page's items.
    items: Vec<T>,
    /// Where the next page starts; null on the last page.
    next_cursor: Option<String>,
}

/// The answer of a request whose work a job does: `{"status": "queued"}`,
/// with the job's id where the job reports what it did
/// (`GET /v1/admin/jobs/{id}`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Queued {
    /// Always `queued`.
    #[schema(pattern = "^queued$")]
    pub status: &'static str,
    /// The job, for `GET /v1/admin/jobs/{id}` (status, attempts, result).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
}

/// [`Queued`], as its JSON value.
pub fn queued() -> ApiResult<Value> {
    to_json(&Queued { status: "queued", job_id: None })
}

/// Enqueues `job` in the caller's transaction and returns its id (an
/// identical job enqueued before is the one answered), for
/// `GET /v1/admin/jobs/{id}`.
pub async fn enqueue_for_id<J: haat_domain::jobs::Job>(tx: &mut PgConnection, job: &J) -> DomainResult<String> {
    haat_domain::jobs::enqueue(tx, job, None).await?;
    id_of_job(tx, job).await
}

/// The id of `job`'s row (enqueued in this transaction, or before).
pub async fn id_of_job<J: haat_domain::jobs::Job>(tx: &mut PgConnection, job: &J) -> DomainResult<String> {
    haat_domain::jobs::admin::id_of(tx, J::QUEUE, &job.key()).await
}

/// [`enqueue_for_id`], answered as [`Queued`] with the id.
pub async fn enqueue_and_answer<J: haat_domain::jobs::Job>(tx: &mut PgConnection, job: &J) -> DomainResult<Value> {
    let job_id = Some(enqueue_for_id(tx, job).await?);
    serde_json::to_value(Queued { status: "queued", job_id }).map_err(|e| haat_domain::DomainError::Internal(e.into()))
}

/// What each resource module's `router()` gives: its routes together with
/// their OpenAPI paths, taken from the same `#[utoipa::path]` annotations.
pub type Routes = utoipa_axum::router::OpenApiRouter<AppState>;

/// Default and largest page sizes of list endpoints.
pub const DEFAULT_LIMIT: i64 = 50;
/// The largest page a client may ask for.
pub const MAX_LIMIT: i64 = 200;

/// `?limit=&cursor=` of list endpoints.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// Opaque cursor from the previous page.
    pub cursor: Option<String>,
}

impl Page {
    /// The validated page size.
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit.as_deref().map(str::parse::<i64>) {
            None => Ok(DEFAULT_LIMIT),
            Some(Ok(l)) if (1..=MAX_LIMIT).contains(&l) => Ok(l),
            Some(_) => Err(ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "limit", "must be from 1 to 200")),
        }
    }
}

/// The 422 of a cursor we did not give.
pub fn bad_cursor() -> ApiError {
    ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "cursor", "is not a cursor we gave")
}

/// Parses a uuid cursor.
pub fn uuid_cursor(page: &Page) -> Result<Option<uuid::Uuid>, ApiError> {
    page.cursor.as_deref().map(|c| uuid::Uuid::parse_str(c).map_err(|_| bad_cursor())).transpose()
}

/// A list response: `{"items": [...], "next_cursor": ...}`; the cursor is
/// given only when the page was full.
pub fn page_of(
    items: Vec<serde_json::Value>,
    limit: i64,
    cursor: impl FnOnce() -> Option<String>,
) -> serde_json::Value {
    let next = if items.len() as i64 == limit { cursor() } else { None };
    serde_json::json!({ "items": items, "next_cursor": next })
}

/// An admin POST that creates one thing: checks the role, parses the body
/// (errors name the field), runs `create` in one transaction under the
/// request's optional Idempotency-Key and answers 201 with what it made.
pub async fn admin_create<I, O>(
    state: &AppState,
    auth: &Auth,
    post: &PostRequest,
    body: &[u8],
    create: impl for<'c> FnOnce(&'c mut PgConnection, &'c I) -> BoxFuture<'c, DomainResult<O>> + Send + 'static,
) -> ApiResult<Response>
where
    I: DeserializeOwned + Send + Sync + 'static,
    O: Serialize,
{
    auth.require_admin()?;
    let input: I = parse_json(body)?;
    idem::post(state, auth, post, body, move |tx| {
        async move {
            let made = create(tx, &input).await?;
            Ok((StatusCode::CREATED, to_json(&made)?))
        }
        .boxed()
    })
    .await
}

/// A whole short list (a handful of fee schedules or event endpoints) in
/// the list shape, with no further page.
pub fn all_of<T: Serialize>(items: &[T]) -> ApiResult<Json<Value>> {
    let values = items.iter().map(to_json).collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(page_of(values, i64::MAX, || None)))
}

/// A page of items that are paged by their uuid v7 ids, newest first: the
/// cursor is the last item's id when the page was full.
pub fn page_by_id<T: Serialize>(items: &[T], limit: i64, id: impl Fn(&T) -> uuid::Uuid) -> ApiResult<Json<Value>> {
    let last = items.last().map(|i| id(i).to_string());
    let values = items.iter().map(to_json).collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(page_of(values, limit, || last)))
}
