//! API keys (admin): create (the secret is shown once) and revoke.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, post};
use axum::{Json, Router};
use futures::FutureExt;
use haat_domain::auth::{self, Role};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Page, page_by_id, uuid_cursor};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, Path, Query, RawBody, parse_id, parse_json};
use crate::idem::{self, PostRequest};

/// Key routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/admin/api-keys", post(create).get(list)).route("/v1/admin/api-keys/{id}", delete(revoke))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    role: String,
    #[serde(default)]
    member_id: Option<uuid::Uuid>,
}

/// Creates a key. A retry under the same Idempotency-Key answers the same
/// key (secret included) instead of making a second live one.
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let input: NewKey = parse_json(&body)?;
    let role = Role::parse(&input.role).ok_or_else(|| {
        ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "role", "must be admin, storefront or member")
    })?;
    idem::post(&state, &auth, &post, &body, move |tx| {
        async move {
            let (id, token) = auth::create_key(tx, role, input.member_id).await?;
            Ok((
                StatusCode::CREATED,
                json!({ "id": id, "role": role.as_str(), "member_id": input.member_id, "token": token }),
            ))
        }
        .boxed()
    })
    .await
}

/// `GET /v1/admin/api-keys`: every key, revoked ones included, never a
/// secret; newest first, a page at a time.
async fn list(State(state): State<AppState>, auth: Auth, Query(page): Query<Page>) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let limit = page.limit()?;
    let mut conn = state.pool.acquire().await?;
    let keys = auth::list_keys(&mut conn, uuid_cursor(&page)?, limit).await?;
    page_by_id(&keys, limit, |k| k.id)
}

async fn revoke(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    auth.require_admin()?;
    let id = parse_id(&id, "api key")?;
    let mut conn = state.pool.acquire().await?;
    auth::revoke_key(&mut conn, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
