//! Request extractors: the caller's identity and JSON bodies whose errors
//! name the offending field.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use haat_domain::auth::{self, Principal, Role};
use haat_domain::ids::TypedId;
use haat_domain::input::TextError;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;

/// The authenticated caller, for every route but a seller's own: a seller
/// key is answered 404 here, so it learns nothing of what else exists.
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = caller(parts, state).await?;
        if principal.role == Role::Seller {
            return Err(ApiError::not_found("resource"));
        }
        Ok(Self(principal))
    }
}

/// The caller of a seller's own routes: an admin, or a seller key (for
/// its own seller only, see [`SellerAuth::require_seller`]). Any other key
/// is answered 404.
#[derive(Debug, Clone)]
pub struct SellerAuth(pub Principal);

impl FromRequestParts<AppState> for SellerAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self(caller(parts, state).await?))
    }
}

impl SellerAuth {
    /// An admin sees any seller, a seller key only its own: anything else
    /// is 404, whether or not the seller exists.
    pub fn require_seller(&self, seller_id: Uuid) -> Result<(), ApiError> {
        match (self.0.role, self.0.seller_id) {
            (Role::Admin, _) => Ok(()),
            (Role::Seller, Some(own)) if own == seller_id => Ok(()),
            _ => Err(ApiError::not_found("seller")),
        }
    }
}

/// The principal of the request's `Authorization: Bearer` key.
async fn caller(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <api key>"))?;
    let token = header
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("Authorization must be Bearer <api key>"))?;
    // Digests have a fixed length, so comparing them leaks nothing of the token.
    let given = Sha256::digest(token.as_bytes());
    if bool::from(given.ct_eq(&state.admin_token_digest)) {
        return Ok(Principal { key_id: "config".into(), role: Role::Admin, member_id: None, seller_id: None });
    }
    let mut conn = state.pool.acquire().await?;
    auth::principal(&mut conn, token).await?.ok_or_else(|| ApiError::unauthorized("unknown or revoked api key"))
}

impl Auth {
    /// Admin routes.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.0.role == Role::Admin { Ok(()) } else { Err(ApiError::forbidden()) }
    }

    /// Routes for storefronts and admins (acting for any member).
    pub fn require_storefront(&self) -> Result<(), ApiError> {
        match self.0.role {
            Role::Admin | Role::Storefront => Ok(()),
            Role::Member | Role::Seller => Err(ApiError::forbidden()),
        }
    }

    /// Who did it, as recorded in histories: `api:{key id}`.
    pub fn source(&self) -> String {
        format!("api:{}", self.0.key_id)
    }

    /// A member key sees only its own member: anything else is 404, so it
    /// learns nothing of whether other members exist.
    pub fn require_member_access(&self, member_id: Uuid, what: &str) -> Result<(), ApiError> {
        match (self.0.role, self.0.member_id) {
            (Role::Admin | Role::Storefront, _) => Ok(()),
            (Role::Member, Some(own)) if own == member_id => Ok(()),
            _ => Err(ApiError::not_found(what)),
        }
    }
}

/// The raw body, with an over-size body answered 413 as problem+json.
#[derive(Debug)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state).await.map(Self).map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Payload too large", "request bodies are limited to 1 MiB")
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "Bad request", e.body_text())
            }
        })
    }
}

/// Parses a JSON body; errors name the JSON path of the bad field. A NUL
/// character (U+0000) in any string or key is refused, naming where it is:
/// no text column can store one.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if let Some(field) = nul_in_json(body) {
        return Err(ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, field, TextError::Nul.to_string()));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let status = if inner.is_syntax() || inner.is_eof() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let field = if path == "." { "body".to_owned() } else { path };
        ApiError::field(status, field, strip_position(&inner.to_string()))
    })
}

/// The JSON path of the first string or key holding U+0000, if any. JSON
/// can carry one only as the escape `\u0000`, so bodies without that text
/// are not walked at all.
fn nul_in_json(body: &[u8]) -> Option<String> {
    body.windows(6).position(|w| w.eq_ignore_ascii_case(b"\\u0000"))?;
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    nul_path(&value, String::new())
}

fn nul_path(v: &serde_json::Value, at: String) -> Option<String> {
    let here = || if at.is_empty() { "body".to_owned() } else { at.clone() };
    match v {
        serde_json::Value::String(s) if s.contains('\0') => Some(here()),
        serde_json::Value::Array(items) => {
            items.iter().enumerate().find_map(|(i, item)| nul_path(item, format!("{}[{i}]", here())))
        }
        serde_json::Value::Object(map) => map.iter().find_map(|(k, item)| {
            let path = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
            if k.contains('\0') { Some(path) } else { nul_path(item, path) }
        }),
        _ => None,
    }
}

/// A query string parsed into `T`, answering problem+json that names the
/// parameter: a duplicated parameter (`?limit=1&limit=2`) is 400, a value
/// holding U+0000 is 422.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let raw = parts.uri.query().unwrap_or_default();
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
            .map_err(|e| ApiError::field(StatusCode::BAD_REQUEST, "query", e.to_string()))?;
        if let Some((k, _)) = pairs.iter().find(|(k, v)| k.contains('\0') || v.contains('\0')) {
            return Err(ApiError::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                k.replace('\0', ""),
                TextError::Nul.to_string(),
            ));
        }
        serde_urlencoded::from_str(raw).map(Self).map_err(|e| {
            let message = e.to_string();
            ApiError::field(
                StatusCode::BAD_REQUEST,
                named_field(&message).unwrap_or("query").to_owned(),
                message.clone(),
            )
        })
    }
}

/// The field a serde message names in backticks (``duplicate field `limit` ``).
pub fn named_field(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once('`')?;
    rest.split_once('`').map(|(name, _)| name).filter(|n| !n.is_empty())
}

fn strip_position(msg: &str) -> String {
    msg.split(" at line ").next().unwrap_or(msg).to_owned()
}

/// The route's one `{id}`, parsed once into its typed id. Ids are opaque
/// strings we chose, so one that is not ours names nothing: a 404 saying
/// what was not found (`member not found`), as for an id we do not have.
#[derive(Debug)]
pub struct PathId<T>(pub T);

impl<T: TypedId, S: Send + Sync> FromRequestParts<S> for PathId<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state).await?;
        T::parse(&raw).map(Self).ok_or_else(|| ApiError::not_found(T::WHAT))
    }
}

/// Path parameters parsed into `T`; a parameter holding U+0000 is a 422
/// naming it (no text column stores one, so it can name nothing we have),
/// any other rejection a problem+json 400.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::field(StatusCode::BAD_REQUEST, "path", e.body_text()))?;
        if let Some((name, _)) = raw.iter().find(|(_, v)| v.contains('\0')) {
            return Err(ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, name, TextError::Nul.to_string()));
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Self(v))
            .map_err(|e| ApiError::field(StatusCode::BAD_REQUEST, "path", e.body_text()))
    }
}
