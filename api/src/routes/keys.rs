//! API keys (admin): create (the secret is shown once) and revoke.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use futures::FutureExt;
use haat_domain::auth::{self, KeyView, Role};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ListOf, Page, Routes, page_by_id, uuid_cursor};
use crate::AppState;
use crate::error::{ApiError, ApiResult, to_json};
use crate::extract::{Auth, PathId, Query, RawBody, parse_json};
use crate::idem::{self, PostRequest};
use haat_domain::ids::{ApiKeyId, TypedId};
use utoipa_axum::routes;

/// Key routes.
pub fn router() -> Routes {
    Routes::new().routes(routes!(create, list)).routes(routes!(revoke))
}

/// `POST /v1/admin/api-keys`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewKey {
    /// What the key may do.
    #[schema(value_type = Role)]
    role: String,
    /// The member a `member` key acts for.
    #[serde(default)]
    member_id: Option<uuid::Uuid>,
    /// The seller a `seller` key reads for.
    #[serde(default)]
    seller_id: Option<uuid::Uuid>,
}

/// A new key, with its secret (shown once).
#[derive(Serialize, utoipa::ToSchema)]
struct KeyCreated {
    /// The key's id.
    id: uuid::Uuid,
    /// Its role.
    role: Role,
    /// The member a member key acts for.
    member_id: Option<uuid::Uuid>,
    /// The seller a seller key reads for.
    seller_id: Option<uuid::Uuid>,
    /// The secret: `Authorization: Bearer <token>`. Null when this is a
    /// replay under the same Idempotency-Key: the secret is kept only as a
    /// digest, so it is shown once.
    token: Option<String>,
}

/// Creates a key. A retry under the same Idempotency-Key answers the same
/// key (its secret null: it is shown once) instead of making a second one.
#[utoipa::path(post, path = "/v1/admin/api-keys", tag = "operations", request_body = NewKey,
    responses((status = 201, description = "The key; its secret is shown this once", body = KeyCreated)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    post: PostRequest,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let input: NewKey = parse_json(&body)?;
    let role = Role::parse(&input.role).ok_or_else(|| {
        ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "role", "must be admin, storefront, member or seller")
    })?;
    idem::post(&state, &auth, &post, &body, move |tx| {
        async move {
            let binding = auth::Binding { member_id: input.member_id, seller_id: input.seller_id };
            let (id, token) = auth::create_key(tx, role, binding).await?;
            let made =
                KeyCreated { id, role, member_id: input.member_id, seller_id: input.seller_id, token: Some(token) };
            Ok((StatusCode::CREATED, to_json(&made)?))
        }
        .boxed()
    })
    .await
}

/// `GET /v1/admin/api-keys`: every key, revoked ones included, never a
/// secret; newest first, a page at a time.
#[utoipa::path(get, path = "/v1/admin/api-keys", tag = "operations", params(Page),
    responses((status = 200, description = "A page of keys, never their secrets", body = ListOf<KeyView>)))]
async fn list(State(state): State<AppState>, auth: Auth, Query(page): Query<Page>) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let limit = page.limit()?;
    let mut conn = state.pool.acquire().await?;
    let keys = auth::list_keys(&mut conn, uuid_cursor(&page)?, limit).await?;
    page_by_id(&keys, limit, |k| k.id)
}

/// Revokes a key (admin).
#[utoipa::path(delete, path = "/v1/admin/api-keys/{id}", tag = "operations",
    params(("id" = ApiKeyId, Path, description = "The key")),
    responses((status = 204, description = "Revoked: it no longer authenticates")))]
async fn revoke(State(state): State<AppState>, auth: Auth, PathId(id): PathId<ApiKeyId>) -> ApiResult<StatusCode> {
    auth.require_admin()?;
    let id = id.uuid();
    let mut conn = state.pool.acquire().await?;
    auth::revoke_key(&mut conn, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
