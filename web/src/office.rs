//! The office's side of members: finding one (by email, phone or referral
//! code, as the API's search), and on a member's page what the office may
//! do — suspend, reinstate, place under another member (a move into the
//! member's own downline is refused by the domain, the reason shown).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::FutureExt;
use haat_domain::auth::sessions;
use haat_domain::error::{DomainError, DomainResult};
use haat_domain::network::members::{self, Member, MemberStatus};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::once;
use crate::pages::{answer, frame};
use crate::sign_in::{bad_field, failed, invalid};
use crate::words::{self, t};
use crate::{WebState, session};

/// Members a search page lists.
const SHOWN: i64 = 50;

/// `?q=` of the search.
#[derive(Deserialize)]
pub struct Search {
    q: Option<String>,
}

/// `GET /app/members?q=`: the newest members, or the one `q` names.
pub async fn search(State(state): State<WebState>, Query(search): Query<Search>, headers: HeaderMap) -> Response {
    let session = match session::admin(&state, &headers).await {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    let q = search.q.unwrap_or_default();
    let found = async {
        let mut conn = state.reads.acquire().await?;
        members::search(&mut conn, Some(&q), None, SHOWN).await
    };
    let (found, problem) = match found.await {
        Ok(found) => (found, None),
        Err(DomainError::Invalid(fields)) => {
            (Vec::new(), fields.first().map(|f| format!("{}: {}", f.field, f.message)))
        }
        Err(e) => return failed(&e),
    };
    let status = if problem.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    answer(status, frame(t("Members"), Some(&session), render(&state, &q, &found, problem.as_deref())))
}

fn render(state: &WebState, q: &str, found: &[Member], problem: Option<&str>) -> Markup {
    let zone = state.settings.time_zone;
    html! {
        form #member-search method="get" action="/app/members" role="search" {
            label for="q" { "Email, phone or referral code" }
            input #q name="q" type="search" value=(q) maxlength="254";
            button type="submit" { "Find" }
        }
        @if let Some(problem) = problem {
            p.problem role="alert" { (problem) }
        }
        @if found.is_empty() {
            p { "No member found." }
        } @else {
            table #members {
                caption { @if q.trim().is_empty() { "The newest members" } @else { "The member found" } }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Referral code" } th scope="col" { (t("Status")) } th scope="col" { "Joined" } } }
                tbody {
                    @for m in found {
                        tr data-member=(m.id) {
                            td { a href=(format!("/app/members/{}", m.id)) { (m.name) } }
                            td { (m.email) }
                            td { (m.referral_code) }
                            td.status { (t(m.status.as_str())) }
                            td { (words::day(m.joined_at.with_timezone(&zone).date_naive())) }
                        }
                    }
                }
            }
        }
    }
}

/// What the office sees and may do on a member's page.
pub fn panel(member: &Member, csrf: &str) -> Markup {
    let base = format!("/app/members/{}", member.id);
    let (to, label) = match member.status {
        MemberStatus::Active => ("suspended", "Suspend"),
        MemberStatus::Suspended => ("active", "Reinstate"),
    };
    html! {
        section #office {
            h2 { (t("Office")) }
            dl.figures {
                dt { "Email" } dd { (member.email) }
                dt { "Referral code" } dd { (member.referral_code) }
                dt { (t("Status")) } dd #member-status { (t(member.status.as_str())) }
            }
            form.step #member-status-form method="post" action=(format!("{base}/status")) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="idempotency_key" value=(sessions::form_token());
                input type="hidden" name="to" value=(to);
                button type="submit" { (label) }
            }
            form #placement method="post" action=(format!("{base}/placement")) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="idempotency_key" value=(sessions::form_token());
                label for="parent" { "Place under (email, phone or referral code)" }
                input #parent name="parent" required maxlength="254";
                button type="submit" { "Place" }
            }
        }
    }
}

/// The status form as posted.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    idempotency_key: String,
    to: String,
}

/// `POST /app/members/{id}/status`: suspends or reinstates.
pub async fn set_status(
    State(state): State<WebState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Form(form): Form<StatusForm>,
) -> Response {
    let suspended = match form.to.as_str() {
        "suspended" => true,
        "active" => false,
        _ => return bad_field("to", "must be suspended or active"),
    };
    let fields = serde_json::to_value(&form).unwrap_or_default();
    let path = format!("/app/members/{id}/status");
    once::office_form(&state, &headers, &path, (&form.csrf, &form.idempotency_key), fields, move |tx| {
        async move {
            members::set_status(tx, id, suspended).await?;
            DomainResult::Ok(format!("/app/members/{id}"))
        }
        .boxed()
    })
    .await
}

/// The placement form as posted.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    idempotency_key: String,
    parent: String,
}

/// `POST /app/members/{id}/placement`: places the member under the one
/// the form names.
pub async fn place(
    State(state): State<WebState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Form(form): Form<PlacementForm>,
) -> Response {
    if let Some(invalid) = invalid(&[("parent", form.parent.trim(), 254)]) {
        return invalid;
    }
    let parent = form.parent.trim().to_owned();
    let fields = serde_json::to_value(&form).unwrap_or_default();
    let path = format!("/app/members/{id}/placement");
    once::office_form(&state, &headers, &path, (&form.csrf, &form.idempotency_key), fields, move |tx| {
        async move {
            let parent = members::looked_up(tx, "parent", &parent).await?;
            members::place(tx, id, parent.id).await?;
            DomainResult::Ok(format!("/app/members/{id}/team"))
        }
        .boxed()
    })
    .await
}
