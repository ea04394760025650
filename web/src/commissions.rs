//! A member's commission lines, newest first, each told in words (the
//! sentence is the domain's), fifty a page.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use haat_domain::auth::Role;
use haat_domain::compensation::explained::{self, ExplainedLine};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use crate::WebState;
use crate::member::{self, Whose};
use crate::pages::{answer, frame};
use crate::sign_in::failed;
use crate::words::{self, t};

/// Lines a page shows.
const PER_PAGE: i64 = 50;

/// `?before=`: the page after the line with that id.
#[derive(Deserialize)]
pub struct Cursor {
    before: Option<Uuid>,
}

/// `GET /app/members/{id}/commissions`.
pub async fn page(
    State(state): State<WebState>,
    Path(id): Path<Uuid>,
    Query(cursor): Query<Cursor>,
    headers: HeaderMap,
) -> Response {
    let (session, whose) = match member::open(&state, &headers, id).await {
        Ok(opened) => opened,
        Err(answer) => return answer,
    };
    let mask = state.settings.mask_downline_names && session.role == Role::Member;
    let lines = async {
        let mut conn = state.reads.acquire().await?;
        explained::for_member(&mut conn, id, cursor.before, PER_PAGE + 1, mask).await
    };
    match lines.await {
        Ok(lines) => {
            let body = render(&state, &whose, &lines);
            answer(StatusCode::OK, frame(&whose.title("commissions"), Some(&session), body))
        }
        Err(e) => failed(&e),
    }
}

fn render(state: &WebState, whose: &Whose, lines: &[ExplainedLine]) -> Markup {
    let shown = &lines[..lines.len().min(PER_PAGE as usize)];
    let zone = state.settings.time_zone;
    html! {
        (whose.tabs("commissions"))
        @if shown.is_empty() {
            p { (t("No commissions yet.")) }
        } @else {
            table #commissions {
                caption { (t("Commission lines, newest first")) }
                thead { tr { th scope="col" { (t("Earned")) } th scope="col" { (t("What for")) } th scope="col" { (t("Amount")) } th scope="col" { (t("Status")) } } }
                tbody {
                    @for l in shown {
                        tr {
                            td { (words::day(l.line.created_at.with_timezone(&zone).date_naive())) }
                            td.explained { (l.sentence(zone, words::language())) }
                            td.amount { (words::money(l.line.amount)) }
                            td { (t(l.line.status.as_str())) }
                        }
                    }
                }
            }
        }
        @if lines.len() > shown.len() {
            @if let Some(last) = shown.last() {
                p { a href=(format!("/app/members/{}/commissions?before={}", whose.id, last.line.id)) { (t("Older lines")) } }
            }
        }
    }
}
