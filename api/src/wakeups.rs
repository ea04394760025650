//! Every request runs inside `jobs::wakes::collect`: the queues it wrote
//! jobs for are woken once it has answered, after its transaction, so its
//! commit never waits on Postgres's notification lock. Requests answered
//! together share their wake-ups (`jobs::wakes::Coalescing`).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use haat_domain::jobs::wakes::{self, Coalescing};

/// The middleware: runs the request, then wakes (without holding up the
/// answer) the workers of every queue it wrote a job due now to.
pub async fn after_request(State(waker): State<Coalescing>, request: Request, next: Next) -> Response {
    let (response, queues) = wakes::collect(next.run(request)).await;
    waker.wake(queues);
    response
}
