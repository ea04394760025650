//! The API's one error type, mapped once to RFC 9457 problem+json. A 5xx
//! never leaks internals: its cause is logged, the client gets a generic text.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use haat_domain::{DomainError, FieldError};
use serde_json::{Value, json};

/// Everything a handler can answer instead of success.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Short, stable summary.
    pub title: &'static str,
    /// Human-readable explanation.
    pub detail: String,
    /// Field-level problems.
    pub errors: Vec<FieldError>,
}

impl ApiError {
    /// An error without field details.
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        Self { status, title, detail: detail.into(), errors: Vec::new() }
    }

    /// Bad input about one field.
    pub fn field(status: StatusCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        let e = FieldError::new(field, message);
        Self { status, title: "Invalid request", detail: format!("{}: {}", e.field, e.message), errors: vec![e] }
    }

    /// 401.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", detail)
    }

    /// 403.
    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", "this API key's role may not do this")
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found", format!("{what} not found"))
    }

    /// The problem+json body.
    pub fn body(&self) -> Value {
        json!({
            "type": "about:blank",
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
            "errors": self.errors,
        })
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(errors) => {
                let detail =
                    errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
                Self { status: StatusCode::UNPROCESSABLE_ENTITY, title: "Invalid request", detail, errors }
            }
            DomainError::NotFound(what) => Self::not_found(what),
            DomainError::Conflict { field, message } => {
                let errors = field.map(|f| vec![FieldError::new(f, message.clone())]).unwrap_or_default();
                Self { status: StatusCode::CONFLICT, title: "Conflict", detail: message, errors }
            }
            DomainError::Database(e) => Self::from(e),
            DomainError::Internal(e) => internal(&e),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        // 57014: the statement was cancelled, by its time limit (a report).
        if e.as_database_error().and_then(|d| d.code()).is_some_and(|code| code == "57014") {
            tracing::warn!(error = %e, "statement cancelled");
            return Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Took too long",
                "the database cancelled the statement at its time limit: ask for a shorter interval",
            );
        }
        internal(&e)
    }
}

fn internal(cause: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(error = %cause, "internal error");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal error", "something went wrong on our side")
}

/// Answers `body` with `status`, as problem+json when it is an error.
pub fn json_response(status: StatusCode, body: Value) -> Response {
    let mut res = (status, Json(body)).into_response();
    if status.is_client_error() || status.is_server_error() {
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    }
    res
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, self.body())
    }
}

/// Handler result.
pub type ApiResult<T> = Result<T, ApiError>;

/// A domain value as the JSON the API answers (its serde form); failing to
/// serialize is our bug, so it is an opaque 500.
pub fn to_json<T: serde::Serialize>(value: &T) -> ApiResult<Value> {
    serde_json::to_value(value).map_err(|e| internal(&e))
}

/// Turns every error answer that is not already problem+json — axum's own
/// rejections of paths, query strings, headers and bodies, answered before
/// a handler runs — into problem+json, naming the field when the rejection
/// names one in backticks. Every client then parses errors one way.
pub async fn problem_json_everywhere(res: Response) -> Response {
    let status = res.status();
    let is_problem =
        res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return res;
    }
    let text = axum::body::to_bytes(res.into_body(), 64 * 1024).await.map(|b| b.to_vec()).unwrap_or_default();
    let detail = String::from_utf8_lossy(&text).trim().to_owned();
    let title = status.canonical_reason().unwrap_or("Error");
    let mut e = match crate::extract::named_field(&detail) {
        Some(field) => ApiError::field(status, field, detail.clone()),
        None => ApiError::new(status, "Invalid request", detail.clone()),
    };
    if e.errors.is_empty() {
        e.detail = if detail.is_empty() { title.to_owned() } else { detail };
    }
    e.into_response()
}

/// The answer to a handler that panicked: logged with what it said, and a
/// problem+json 500 that says nothing of it.
pub fn panicked(cause: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = cause
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| cause.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    internal(&format!("handler panicked: {what}")).into_response()
}
