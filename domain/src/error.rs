//! The one error type of the domain. Each HTTP surface maps it once.

use serde::Serialize;

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON path of the field (`lines[0].quantity`).
    pub field: String,
    /// What is wrong with it, for a person.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Everything a domain operation can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Input that breaks a rule; nothing was written.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// The thing named does not exist (or is not visible to the caller).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with current state (duplicate, no stock…).
    #[error("{message}")]
    Conflict {
        /// Which field the conflict is about, when one is.
        field: Option<String>,
        /// What conflicts.
        message: String,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Anything else unexpected.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl DomainError {
    /// A single-field validation error.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }

    /// A conflict about one field.
    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Conflict { field: Some(field.into()), message: message.into() }
    }
}

impl From<apalis_postgres::Error> for DomainError {
    fn from(e: apalis_postgres::Error) -> Self {
        Self::Internal(anyhow::anyhow!("job queue: {e}"))
    }
}

/// Result of a domain operation.
pub type DomainResult<T> = Result<T, DomainError>;

/// Collects field errors so one request reports all its problems at once.
#[derive(Debug, Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    /// Records a problem with `field`.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// Runs a parse, recording its error under `field`.
    pub fn check<T, E: std::fmt::Display>(&mut self, field: &str, r: Result<T, E>) -> Option<T> {
        r.map_err(|e| self.add(field, e.to_string())).ok()
    }

    /// Ok when nothing was recorded.
    pub fn finish(self) -> DomainResult<()> {
        if self.0.is_empty() { Ok(()) } else { Err(DomainError::Invalid(self.0)) }
    }
}

/// True when `e` is a unique-constraint violation.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| d.is_unique_violation())
}
