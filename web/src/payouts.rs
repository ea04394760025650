//! The payout queue: the withdrawals members asked for, and the office's
//! steps on each — approve, mark paid (with the provider's reference),
//! reject, failed. Each step's form is done once for its key, so a double
//! click does nothing twice; the rules of each step are the domain's.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::FutureExt;
use haat_domain::auth::sessions;
use haat_domain::error::DomainResult;
use haat_domain::ledger::withdrawals::{self, Action, Withdrawal, WithdrawalStatus};
use haat_domain::network::members;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

use crate::once;
use crate::pages::{answer, frame};
use crate::sign_in::{failed, invalid};
use crate::words::{self, t};
use crate::{WebState, session};

/// Withdrawals the queue shows.
const SHOWN: i64 = 100;

/// `?status=` of the queue (`requested` when absent, `all` for every one).
#[derive(Deserialize)]
pub struct Filter {
    status: Option<String>,
}

/// `GET /app/payouts`.
pub async fn page(State(state): State<WebState>, Query(filter): Query<Filter>, headers: HeaderMap) -> Response {
    let session = match session::admin(&state, &headers).await {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    let status = filter.status.unwrap_or_else(|| "requested".into());
    let listed = async {
        let mut conn = state.pool.acquire().await?;
        let wanted = (status != "all").then_some(status.as_str());
        let list = withdrawals::list(&mut conn, wanted, None, SHOWN).await?;
        let ids: Vec<Uuid> = list.iter().filter_map(|w| w.member_id).collect();
        let mut names = members::names(&mut conn, &ids).await?;
        // Sellers withdraw through the same queue.
        for seller_id in list.iter().filter_map(|w| w.seller_id) {
            let seller = haat_domain::marketplace::sellers::get(&mut conn, seller_id).await?;
            names.insert(seller_id, seller.name);
        }
        DomainResult::Ok((list, names))
    };
    match listed.await {
        Ok((list, names)) => {
            let body = render(&state, &session.csrf_token, &status, &list, &names);
            answer(StatusCode::OK, frame(t("Payouts"), Some(&session), body))
        }
        Err(haat_domain::error::DomainError::Invalid(_)) => session::not_found(),
        Err(e) => failed(&e),
    }
}

fn render(state: &WebState, csrf: &str, status: &str, list: &[Withdrawal], names: &HashMap<Uuid, String>) -> Markup {
    let zone = state.settings.time_zone;
    let filters = ["requested", "approved", "paid", "rejected", "failed", "all"];
    html! {
        nav.tabs aria-label="Withdrawals by status" {
            @for f in filters {
                @if f == status {
                    a href=(format!("/app/payouts?status={f}")) aria-current="page" { (f) }
                } @else {
                    a href=(format!("/app/payouts?status={f}")) { (f) }
                }
            }
        }
        @if list.is_empty() {
            p { "No withdrawals here." }
        } @else {
            table #payouts {
                caption { "Withdrawals " (status) ", newest first" }
                thead { tr { th scope="col" { "Member" } th scope="col" { (t("Asked")) } th scope="col" { (t("Amount")) } th scope="col" { (t("To")) } th scope="col" { (t("Status")) } th scope="col" { (t("Steps")) } } }
                tbody {
                    @for w in list {
                        tr data-withdrawal=(w.id) {
                            td { (holder(w, names)) }
                            td { (words::day_time(w.created_at, zone)) }
                            td.amount { (words::money(w.amount)) }
                            td { (w.method) " " (w.account) }
                            td.status { (t(w.status.as_str())) }
                            td.steps { (steps(csrf, w)) }
                        }
                    }
                }
            }
        }
    }
}

/// Who asked: a link to the member, or the seller's name.
fn holder(w: &Withdrawal, names: &HashMap<Uuid, String>) -> Markup {
    let name = |id: &Uuid| names.get(id).map_or("?", String::as_str).to_owned();
    match (w.member_id, w.seller_id) {
        (Some(m), _) => html! { a href=(format!("/app/members/{m}")) { (name(&m)) } },
        (None, Some(s)) => html! { (name(&s)) " (seller)" },
        (None, None) => html! { "?" },
    }
}

/// The forms of the steps a withdrawal can take from where it stands.
fn steps(csrf: &str, w: &Withdrawal) -> Markup {
    let form = |action: &str, label: &str, extra: Markup| {
        html! {
            form.step method="post" action=(format!("/app/payouts/{}/{action}", w.id)) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="idempotency_key" value=(sessions::form_token());
                (extra)
                button type="submit" name="step" value=(action) { (label) }
            }
        }
    };
    let reference = html! {
        label for=(format!("reference-{}", w.id)) { "Provider reference" }
        input id=(format!("reference-{}", w.id)) name="reference" required maxlength="100";
    };
    let note = html! {
        label for=(format!("note-{}", w.id)) { "Why" }
        input id=(format!("note-{}", w.id)) name="note" maxlength="1000";
    };
    html! {
        @match w.status {
            WithdrawalStatus::Requested => {
                (form("approve", "Approve", html! {}))
                (form("reject", "Reject", note))
            }
            WithdrawalStatus::Approved => {
                (form("paid", "Mark paid", reference))
                (form("failed", "Payout failed", html! {}))
            }
            _ => {}
        }
    }
}

/// A step's form as posted.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Stepped {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    idempotency_key: String,
    step: Option<String>,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// `POST /app/payouts/{id}/{step}`: one step, once for the form's key.
pub async fn step(
    State(state): State<WebState>,
    Path((id, step)): Path<(Uuid, String)>,
    headers: HeaderMap,
    Form(form): Form<Stepped>,
) -> Response {
    let action = match step.as_str() {
        "approve" => Action::Approve,
        "paid" => Action::Paid,
        "reject" => Action::Reject,
        "failed" => Action::Fail,
        _ => return session::not_found(),
    };
    let reference = form.reference.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
    let note = form.note.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
    let bounded: Vec<(&str, &str, usize)> = [("reference", reference.as_deref(), 100), ("note", note.as_deref(), 1000)]
        .into_iter()
        .filter_map(|(field, value, max)| value.map(|v| (field, v, max)))
        .collect();
    if let Some(invalid) = invalid(&bounded) {
        return invalid;
    }
    let path = format!("/app/payouts/{id}/{step}");
    let currency = state.settings.currency.clone();
    let source = once::OFFICE;
    let fields = serde_json::to_value(&form).unwrap_or_default();
    once::office_form(&state, &headers, &path, (&form.csrf, &form.idempotency_key), fields, move |tx| {
        async move {
            let w = withdrawals::act(tx, id, action, reference.as_deref(), note.as_deref(), &currency, source).await?;
            DomainResult::Ok(format!("/app/payouts?status={}", w.status.as_str()))
        }
        .boxed()
    })
    .await
}
