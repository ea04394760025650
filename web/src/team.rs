//! A member's team as a tree opened a level at a time: the page shows the
//! members placed directly under the member (a hundred at a time); each
//! with members of their own opens in place (htmx asks this same route for
//! just that level) or, without JavaScript, as a page of its own. Only
//! members of the viewer's own downline open (the domain checks it).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use haat_domain::auth::Role;
use haat_domain::compensation::periods;
use haat_domain::error::DomainError;
use haat_domain::network::genealogy::{self, Downline};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use crate::member::{self, Whose};
use crate::pages::{answer, frame};
use crate::sign_in::failed;
use crate::words::{self, t};
use crate::{WebState, session};

/// Members one level shows before "more".
pub const PER_LEVEL: i64 = 100;

/// `?under=` (whose level; the member's own when absent) and `?after=`
/// (the rest of that level after this member).
#[derive(Deserialize)]
pub struct Level {
    under: Option<Uuid>,
    after: Option<Uuid>,
}

/// `GET /app/members/{id}/team`: the page, or with `HX-Request` only the
/// level's items.
pub async fn page(
    State(state): State<WebState>,
    Path(id): Path<Uuid>,
    Query(level): Query<Level>,
    headers: HeaderMap,
) -> Response {
    let (session, whose) = match member::open(&state, &headers, id).await {
        Ok(opened) => opened,
        Err(answer) => return answer,
    };
    let node = level.under.unwrap_or(id);
    let period = periods::period_of(Utc::now(), state.settings.time_zone);
    let mask = state.settings.mask_downline_names && session.role == Role::Member;
    let found = async {
        let mut conn = state.reads.acquire().await?;
        genealogy::children(&mut conn, id, node, &period, level.after, PER_LEVEL + 1, mask).await
    };
    let found = match found.await {
        Ok(found) => found,
        Err(DomainError::NotFound(_)) => return session::not_found(),
        Err(e) => return failed(&e),
    };
    let items = items(&whose, node, &found);
    if headers.get("hx-request").is_some() {
        return Html(items.into_string()).into_response();
    }
    let body = html! {
        (whose.tabs("team"))
        p { (t("Personal volume of this month; group volume and rank of the last closed period.")) }
        @if node != id {
            p { a href=(format!("/app/members/{id}/team")) { (t("Back to the first level")) } }
        }
        @if found.is_empty() {
            p { (t("No one is placed here yet.")) }
        } @else {
            ul.tree #team { (items) }
        }
    };
    answer(StatusCode::OK, frame(&whose.title("team"), Some(&session), body))
}

/// One level's members, then a way to the rest of the level when there is more.
fn items(whose: &Whose, node: Uuid, found: &[Downline]) -> Markup {
    let shown = &found[..found.len().min(PER_LEVEL as usize)];
    let base = format!("/app/members/{}/team", whose.id);
    html! {
        @for d in shown { (item(&base, d)) }
        @if found.len() > shown.len() {
            @if let Some(last) = shown.last() {
                @let more = format!("{base}?under={node}&after={}", last.member_id);
                li.more { a href=(more) hx-get=(more) hx-target="closest li" hx-swap="outerHTML" { (t("More members")) } }
            }
        }
    }
}

fn item(base: &str, d: &Downline) -> Markup {
    let opens = format!("{base}?under={}", d.member_id);
    html! {
        li data-member=(d.member_id) data-level=(d.level) {
            span.name { (d.name) }
            " · " (t("level")) " " (words::number(d.level)) " · " (t(d.status.as_str()))
            " · PV " (words::number(d.personal_pv)) " · BV " (words::number(d.personal_bv))
            @if let Some(group) = d.group_bv { " · " (t("group BV")) " " (words::number(group)) }
            @if let Some(rank) = &d.rank { " · " (rank) }
            @if d.direct_members > 0 {
                details hx-get=(opens) hx-trigger="toggle once" hx-target="find ul" {
                    summary { (words::number(d.direct_members)) " " (t("under")) " " (d.name) }
                    ul { li { a href=(opens) { (t("Open this level")) } } }
                }
            }
        }
    }
}
