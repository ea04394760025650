//! A member's wallet page: the four balances, as the wallet route reads them.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use haat_domain::error::DomainResult;
use haat_domain::money::display::{Language, taka_of};
use maud::{Markup, html};
use uuid::Uuid;

use crate::WebState;
use crate::member;
use crate::pages::{answer, frame};
use crate::sign_in::failed;

/// `GET /app/members/{id}`.
pub async fn page(State(state): State<WebState>, Path(id): Path<Uuid>, headers: HeaderMap) -> Response {
    let (session, whose) = match member::open(&state, &headers, id).await {
        Ok(opened) => opened,
        Err(answer) => return answer,
    };
    match balances(&state, id).await {
        Ok(figures) => {
            let body = html! {
                (whose.tabs("wallet"))
                p { (whose.name) }
                (figures)
                @if !whose.own { (crate::office::panel(&whose.member, &session.csrf_token)) }
            };
            answer(StatusCode::OK, frame(&whose.title("wallet"), Some(&session), body))
        }
        Err(e) => failed(&e),
    }
}

async fn balances(state: &WebState, member: Uuid) -> DomainResult<Markup> {
    let mut conn = state.pool.acquire().await?;
    let w = haat_domain::ledger::wallet(&mut conn, member).await?;
    let money = |d| taka_of(d, Language::English);
    Ok(html! {
        dl.figures {
            dt { "Held (pending)" } dd #pending { (money(w.pending)) }
            dt { "Available" } dd #available { (money(w.available)) }
            dt { "Store credit" } dd #credit { (money(w.credit)) }
            dt { "Set aside for withdrawals" } dd #reserved { (money(w.reserved)) }
        }
    })
}
