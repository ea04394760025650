//! API keys (admin): create (the secret is shown once) and revoke.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::{Json, Router};
use haat_domain::auth::{self, Role};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, RawBody, parse_id, parse_json};

/// Key routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/admin/api-keys", post(create)).route("/v1/admin/api-keys/{id}", delete(revoke))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    role: String,
    #[serde(default)]
    member_id: Option<uuid::Uuid>,
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    auth.require_admin()?;
    let input: NewKey = parse_json(&body)?;
    let role = Role::parse(&input.role).ok_or_else(|| {
        ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "role", "must be admin, storefront or member")
    })?;
    let mut conn = state.pool.acquire().await?;
    let (id, token) = auth::create_key(&mut conn, role, input.member_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "role": role.as_str(), "member_id": input.member_id, "token": token })),
    ))
}

async fn revoke(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    auth.require_admin()?;
    let id = parse_id(&id, "api key")?;
    let mut conn = state.pool.acquire().await?;
    auth::revoke_key(&mut conn, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
