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
use haat_domain::catalog::products::{self, Product};
use haat_domain::error::DomainResult;
use haat_domain::rewards::campaigns::{self, Campaign, CampaignStatus, Defaults, NewCampaign, ScopeInput};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::once;
use crate::sign_in::{bad_field, invalid};
use crate::words::{self, t};
use crate::{WebState, session};

/// Campaigns the page lists.
const SHOWN: i64 = 100;

/// `GET /app/campaigns`.
pub async fn page(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let zone = state.settings.time_zone;
    let render = move |csrf: &str, (list, products): &(Vec<Campaign>, Vec<Product>)| {
        html! { (render(zone, csrf, list)) (new_form(csrf, products)) }
    };
    session::office_page(&state, &headers, t("Campaigns"), |c| read(c).boxed(), render).await
}

async fn read(c: &mut sqlx::PgConnection) -> DomainResult<(Vec<Campaign>, Vec<Product>)> {
    Ok((campaigns::list(c, None, SHOWN).await?, products::list(c, None, SHOWN).await?))
}

/// The form that creates a campaign (its rules and defaults are the domain's).
fn new_form(csrf: &str, products: &[Product]) -> Markup {
    html! {
        section {
            h2 { (t("New campaign")) }
            form #new-campaign method="post" action="/app/campaigns" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="idempotency_key" value=(sessions::form_token());
                label for="c-name" { (t("Name")) }
                input #c-name name="name" required maxlength="200";
                label for="c-product" { (t("Which products count")) }
                select #c-product name="product" {
                    option value="" { (t("every product")) }
                    @for p in products.iter().filter(|p| p.active) { option value=(p.id) { (p.name) " (" (p.sku) ")" } }
                }
                label for="c-starts" { (t("From")) }
                input #c-starts name="starts_at" type="date" required;
                label for="c-ends" { (t("Until (the end of that day)")) }
                input #c-ends name="ends_at" type="date" required;
                label for="c-trigger" { (t("Pays when the target is")) }
                select #c-trigger name="trigger" {
                    option value="reached" { (t("reached")) }
                    option value="missed" { (t("missed")) }
                }
                label for="c-min-units" { (t("Target: units sold")) }
                input #c-min-units name="min_units" inputmode="numeric" required;
                label for="c-rate" { (t("Cashback rate (0.10 is 10%)")) }
                input #c-rate name="rate" inputmode="decimal" required;
                label for="c-reward" { (t("Paid as")) }
                select #c-reward name="reward" {
                    option value="cash" { (t("cash")) }
                    option value="credit" { (t("store credit")) }
                }
                label for="c-limit" { (t("Rewarded purchases per buyer (empty: all)")) }
                input #c-limit name="per_buyer_limit" inputmode="numeric";
                button type="submit" { (t("Create")) }
            }
        }
    }
}

/// The new campaign's form as posted.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Created {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    idempotency_key: String,
    name: String,
    #[serde(default)]
    product: String,
    starts_at: String,
    ends_at: String,
    trigger: String,
    min_units: String,
    rate: String,
    reward: String,
    #[serde(default)]
    per_buyer_limit: String,
}

/// `POST /app/campaigns`: creates and schedules a campaign, once per form.
pub async fn create(State(state): State<WebState>, headers: HeaderMap, Form(form): Form<Created>) -> Response {
    let bounded = [
        ("name", form.name.as_str(), 200),
        ("starts_at", &form.starts_at, 40),
        ("ends_at", &form.ends_at, 40),
        ("trigger", &form.trigger, 20),
        ("rate", &form.rate, 20),
        ("reward", &form.reward, 20),
    ];
    if let Some(invalid) = invalid(&bounded) {
        return invalid;
    }
    let Ok(min_units) = form.min_units.trim().parse::<i64>() else {
        return bad_field("min_units", "must be a whole number");
    };
    let per_buyer_limit = match form.per_buyer_limit.trim() {
        "" => None,
        n => match n.parse::<i32>() {
            Ok(n) => Some(n),
            Err(_) => return bad_field("per_buyer_limit", "must be a whole number or empty"),
        },
    };
    let scope = match form.product.trim() {
        "" => ScopeInput { kind: "all".into(), product_id: None, seller_id: None },
        id => match id.parse() {
            Ok(id) => ScopeInput { kind: "product".into(), product_id: Some(id), seller_id: None },
            Err(_) => return bad_field("product", "is not a product"),
        },
    };
    let input = NewCampaign {
        name: form.name.trim().to_owned(),
        scope,
        starts_at: form.starts_at.clone(),
        ends_at: form.ends_at.clone(),
        time_zone: None,
        settle_at: None,
        grace_seconds: None,
        cron: None,
        rate: form.rate.trim().to_owned(),
        trigger: form.trigger.clone(),
        min_units,
        max_units: None,
        min_value: None,
        max_value: None,
        per_buyer_limit,
        reward: Some(form.reward.clone()),
        budget: None,
    };
    let defaults =
        Defaults { time_zone: state.settings.time_zone, grace_seconds: state.settings.campaign_grace_seconds };
    let fields = serde_json::to_value(&form).unwrap_or_default();
    once::office_form(&state, &headers, "/app/campaigns", (&form.csrf, &form.idempotency_key), fields, move |tx| {
        async move {
            campaigns::create(tx, &input, defaults, chrono::Utc::now()).await?;
            DomainResult::Ok("/app/campaigns".to_owned())
        }
        .boxed()
    })
    .await
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
