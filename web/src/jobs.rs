//! The jobs that need a person: dead ones (every attempt used) with their
//! last error, each with a retry (done once per form, as the API's retry).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures::FutureExt;
use haat_domain::auth::sessions;
use haat_domain::error::DomainResult;
use haat_domain::jobs::admin::{self, JobView, Status};
use maud::{Markup, html};

use crate::once;
use crate::words::t;
use crate::{WebState, session, words};

/// Dead jobs the page lists.
const SHOWN: i64 = 100;

/// `GET /app/jobs`.
pub async fn page(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let zone = state.settings.time_zone;
    let render = move |csrf: &str, jobs: &Vec<JobView>| render(zone, csrf, jobs);
    let title = t("Dead jobs");
    session::office_page(&state, &headers, title, |c| admin::list(c, Status::Dead, None, None, SHOWN).boxed(), render)
        .await
}

fn render(zone: chrono_tz::Tz, csrf: &str, jobs: &[JobView]) -> Markup {
    html! {
        @if jobs.is_empty() {
            p #no-dead-jobs { "No dead jobs: every job has run or will run by itself." }
        } @else {
            table #jobs {
                caption { "Jobs that used every attempt, newest first" }
                thead { tr { th scope="col" { "Queue" } th scope="col" { "What" } th scope="col" { "Attempts" } th scope="col" { "Last tried" } th scope="col" { "Last error" } th scope="col" { "Retry" } } }
                tbody {
                    @for job in jobs {
                        tr data-job=(job.id) {
                            td { (job.queue) }
                            td { (job.key.as_deref().unwrap_or("—")) }
                            td { (job.attempts) " of " (job.max_attempts) }
                            td { (words::day_time(job.done_at.unwrap_or(job.run_at), zone)) }
                            td.error { (last_error(job)) }
                            td {
                                form.step method="post" action=(format!("/app/jobs/{}/retry", job.id)) {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="idempotency_key" value=(sessions::form_token());
                                    button type="submit" { "Retry" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The last attempt's error as text (the queue keeps it as JSON).
fn last_error(job: &JobView) -> String {
    match &job.last_result {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => other.get("Err").and_then(|e| e.as_str()).map_or_else(|| other.to_string(), str::to_owned),
        None => "—".into(),
    }
}

/// `POST /app/jobs/{id}/retry`.
pub async fn retry(
    State(state): State<WebState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<once::Signed>,
) -> Response {
    let path = format!("/app/jobs/{id}/retry");
    let fields = serde_json::to_value(&form).unwrap_or_default();
    once::office_form(&state, &headers, &path, (&form.csrf, &form.idempotency_key), fields, move |tx| {
        async move {
            admin::retry(tx, &id).await?;
            DomainResult::Ok("/app/jobs".to_owned())
        }
        .boxed()
    })
    .await
}
