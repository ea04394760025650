//! Every request runs inside `jobs::wakes::collect`: the queues it wrote
//! jobs for are woken once it has answered, after its transaction, so its
//! commit never waits on Postgres's notification lock.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use haat_domain::jobs::wakes;
use sqlx::PgPool;

/// The middleware: runs the request, then wakes (without holding up the
/// answer) the workers of every queue it wrote a job due now to.
pub async fn after_request(State(pool): State<PgPool>, request: Request, next: Next) -> Response {
    let (response, queues) = wakes::collect(next.run(request)).await;
    if !queues.is_empty() {
        tokio::spawn(async move {
            if let Err(e) = wakes::send(&pool, &queues).await {
                // The jobs are written; the workers' due check finds them.
                tracing::warn!(error = %e, ?queues, "could not wake the job queues");
            }
        });
    }
    response
}
