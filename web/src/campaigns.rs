//! The office's campaigns: each with its window, target, reward and where
//! it stands, the settlement once decided (what counted, what was paid),
//! and the two steps the office takes before then — settle now (the same
//! settlement job, due at once) and cancel. Creating and scheduling stay
//! with the API for now.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures::FutureExt;
use haat_domain::auth::sessions;
use haat_domain::error::DomainResult;
use haat_domain::rewards::campaigns::{self, Campaign, CampaignStatus};
use maud::{Markup, html};
use uuid::Uuid;

use crate::once;
use crate::words::{self, t};
use crate::{WebState, session};

/// Campaigns the page lists.
const SHOWN: i64 = 100;

/// `GET /app/campaigns`.
pub async fn page(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let zone = state.settings.time_zone;
    let render = move |csrf: &str, list: &Vec<Campaign>| render(zone, csrf, list);
    session::office_page(&state, &headers, t("Campaigns"), |c| campaigns::list(c, None, SHOWN).boxed(), render).await
}

fn render(zone: chrono_tz::Tz, csrf: &str, list: &[Campaign]) -> Markup {
    let at = |t: chrono::DateTime<chrono::Utc>| words::day_time(t, zone);
    html! {
        @if list.is_empty() {
            p { (t("No campaigns yet.")) }
        } @else {
            table #campaigns {
                caption { (t("Campaigns, newest first")) }
                thead { tr {
                    th scope="col" { (t("Name")) } th scope="col" { (t("Window")) } th scope="col" { (t("Target")) }
                    th scope="col" { (t("Settles")) } th scope="col" { (t("Status")) } th scope="col" { (t("Settlement")) }
                    th scope="col" { (t("Steps")) }
                } }
                tbody {
                    @for c in list {
                        tr data-campaign=(c.id) {
                            td { (c.name) }
                            td { (at(c.starts_at)) " – " (at(c.ends_at)) }
                            td { (c.trigger) " " (words::number(c.min_units)) "+ · " (words::percent(c.rate)) " " (c.reward.as_str()) }
                            td { (at(c.settle_at)) }
                            td.status { (t(c.status.as_str())) }
                            td.settlement {
                                @if let Some(s) = &c.settlement {
                                    (s.decision.as_str()) ": " (words::number(s.units)) " " (t("units")) ", "
                                    (words::number(s.paid_purchases)) " " (t("purchases paid")) ", " (words::money(s.paid_total))
                                }
                            }
                            td { (steps(csrf, c)) }
                        }
                    }
                }
            }
        }
    }
}

/// The office's steps from where the campaign stands.
fn steps(csrf: &str, c: &Campaign) -> Markup {
    let form = |step: &str, label: &'static str| {
        html! {
            form.step method="post" action=(format!("/app/campaigns/{}/{step}", c.id)) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="idempotency_key" value=(sessions::form_token());
                button type="submit" value=(step) { (t(label)) }
            }
        }
    };
    html! {
        @if c.status == CampaignStatus::Scheduled { (form("settle", "Settle now")) }
        @if matches!(c.status, CampaignStatus::Scheduled | CampaignStatus::Recurring) { (form("cancel", "Cancel")) }
    }
}

/// `POST /app/campaigns/{id}/{step}`: settle now or cancel, once per form.
pub async fn step(
    State(state): State<WebState>,
    Path((id, step)): Path<(Uuid, String)>,
    headers: HeaderMap,
    Form(form): Form<once::Signed>,
) -> Response {
    let settle = match step.as_str() {
        "settle" => true,
        "cancel" => false,
        _ => return session::not_found(),
    };
    let path = format!("/app/campaigns/{id}/{step}");
    let fields = serde_json::to_value(&form).unwrap_or_default();
    once::office_form(&state, &headers, &path, (&form.csrf, &form.idempotency_key), fields, move |tx| {
        async move {
            if settle {
                campaigns::settle_now(tx, id, chrono::Utc::now()).await?;
            } else {
                campaigns::cancel(tx, id).await?;
            }
            DomainResult::Ok("/app/campaigns".to_owned())
        }
        .boxed()
    })
    .await
}
