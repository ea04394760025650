//! A member's withdrawals: each with where it stands and its steps, and a
//! form to request one (a request is done once per rendering of the form).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::FutureExt;
use haat_domain::auth::sessions;
use haat_domain::error::DomainResult;
use haat_domain::ledger::withdrawals::{self, NewWithdrawal, Rules, Withdrawal};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::member::{self, Whose};
use crate::once::{self, Posted};
use crate::pages::{answer, frame};
use crate::sign_in::{failed, invalid};
use crate::{WebState, session};

use crate::words::{self, t};

/// Withdrawals the page lists.
const SHOWN: i64 = 50;

/// `GET /app/members/{id}/withdrawals`.
pub async fn page(State(state): State<WebState>, Path(id): Path<Uuid>, headers: HeaderMap) -> Response {
    let (session, whose) = match member::open(&state, &headers, id).await {
        Ok(opened) => opened,
        Err(answer) => return answer,
    };
    let listed = async {
        let mut conn = state.reads.acquire().await?;
        withdrawals::list_for(&mut conn, haat_domain::ledger::Holder::Member(id), None, SHOWN).await
    };
    match listed.await {
        Ok(list) => {
            let body = render(&state, &whose, &session.csrf_token, &list);
            answer(StatusCode::OK, frame(&whose.title("withdrawals"), Some(&session), body))
        }
        Err(e) => failed(&e),
    }
}

fn render(state: &WebState, whose: &Whose, csrf: &str, list: &[Withdrawal]) -> Markup {
    let zone = state.settings.time_zone;
    let money = words::money;
    let s = &state.settings;
    html! {
        (whose.tabs("withdrawals"))
        section {
            h2 { (t("Request a withdrawal")) }
            p { (t("At least")) " " (money(s.withdrawal_min)) ", " (t("in multiples of")) " " (money(s.withdrawal_multiple)) ", " (t("from the available balance.")) }
            form #request-withdrawal method="post" action=(format!("/app/members/{}/withdrawals", whose.id)) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="idempotency_key" value=(sessions::form_token());
                label for="amount" { (t("Amount (৳)")) }
                input #amount name="amount" inputmode="decimal" required;
                label for="method" { (t("Paid by")) }
                select #method name="method" {
                    option value="bkash" { "bKash" }
                    option value="nagad" { "Nagad" }
                    option value="rocket" { "Rocket" }
                    option value="bank" { (t("Bank transfer")) }
                }
                label for="account" { (t("Wallet or account number")) }
                input #account name="account" required maxlength="64";
                button type="submit" { (t("Request")) }
            }
        }
        section {
            h2 { (t("Withdrawals")) }
            @if list.is_empty() {
                p { (t("None yet.")) }
            } @else {
                table #withdrawals {
                    caption { (t("Withdrawals, newest first")) }
                    thead { tr { th scope="col" { (t("Asked")) } th scope="col" { (t("Amount")) } th scope="col" { (t("To")) } th scope="col" { (t("Status")) } th scope="col" { (t("Steps")) } } }
                    tbody {
                        @for w in list {
                            tr data-withdrawal=(w.id) {
                                td { (words::day_time(w.created_at, zone)) }
                                td.amount { (money(w.amount)) }
                                td { (w.method) " " (w.account) }
                                td.status { (t(w.status.as_str())) }
                                td {
                                    @for step in &w.history {
                                        (t(step.status.as_str())) " " (words::day_time(step.at, zone)) br;
                                    }
                                    @if let Some(reference) = &w.reference { "ref " (reference) }
                                    @if let Some(note) = &w.note { " · " (note) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The request form as posted.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Requested {
    amount: String,
    method: String,
    account: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    idempotency_key: String,
}

/// `POST /app/members/{id}/withdrawals`: requests one, once for the form's key.
pub async fn request(
    State(state): State<WebState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Form(form): Form<Requested>,
) -> Response {
    let session = match session::seeing(&state, &headers, id).await {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    if let Some(refused) = session::forged(&session, &form.csrf) {
        return refused;
    }
    let bounded = [("amount", form.amount.as_str(), 32), ("method", &form.method, 32), ("account", &form.account, 64)];
    if let Some(invalid) = invalid(&bounded) {
        return invalid;
    }
    let path = format!("/app/members/{id}/withdrawals");
    let input = NewWithdrawal {
        amount: form.amount.trim().to_owned(),
        method: form.method.clone(),
        account: form.account.clone(),
    };
    let s = &state.settings;
    let rules = Rules { min: s.withdrawal_min, multiple: s.withdrawal_multiple };
    let currency = s.currency.clone();
    let source = once::scope(&session);
    let back = path.clone();
    let fields = serde_json::to_value(&form).unwrap_or_default();
    let posted = Posted { session: &session, key: &form.idempotency_key, path: &path, fields };
    once::run(&state, posted, move |tx| {
        async move {
            haat_domain::network::members::get(tx, id).await?;
            withdrawals::request(tx, haat_domain::ledger::Holder::Member(id), &input, rules, &currency, &source)
                .await?;
            DomainResult::Ok(back)
        }
        .boxed()
    })
    .await
}
