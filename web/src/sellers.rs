//! The marketplace on the dashboard. A seller (signed in with its seller
//! key) sees its balance, the lines it has to prepare with their deadlines
//! (and marks them prepared), and its statement; an admin sees the same
//! page for any seller, and the office's list of sellers (approve,
//! suspend) and fee schedules (activate).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::FutureExt;
use haat_domain::auth::sessions::{self, Session};
use haat_domain::error::DomainResult;
use haat_domain::ledger::{self, Holder, StatementLine};
use haat_domain::marketplace::escrow::{self, SellerBalance};
use haat_domain::marketplace::fees::{self, FeeSchedule};
use haat_domain::marketplace::lines::{self, SellerLine};
use haat_domain::marketplace::preparation;
use haat_domain::marketplace::sellers::{self, Seller, SellerStatus};
use maud::{Markup, html};
use uuid::Uuid;

use crate::once::{self, Posted, Signed};
use crate::pages::{answer, frame};
use crate::sign_in::failed;
use crate::words::{self, t};
use crate::{WebState, session};

/// Lines and postings the seller's page shows.
const SHOWN: i64 = 50;

/// A seller's session or an admin's, when it may see `seller`'s page;
/// else 404.
async fn seeing(state: &WebState, headers: &HeaderMap, seller: Uuid) -> Result<Session, Response> {
    let session = session::required(state, headers).await?;
    if session.may_see_seller(seller) { Ok(session) } else { Err(session::not_found()) }
}

/// What the seller's page shows.
struct SellerPage {
    seller: Seller,
    balance: SellerBalance,
    lines: Vec<SellerLine>,
    postings: Vec<StatementLine>,
}

/// `GET /app/sellers/{id}`: the seller's balance, lines and statement.
pub async fn page(State(state): State<WebState>, Path(id): Path<Uuid>, headers: HeaderMap) -> Response {
    let session = match seeing(&state, &headers, id).await {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    let read = async {
        let mut conn = state.pool.acquire().await?;
        let seller = sellers::get(&mut conn, id).await?;
        let balance = escrow::balance(&mut conn, id).await?;
        let lines = lines::list(&mut conn, id, None, SHOWN).await?;
        let postings = ledger::statement(&mut conn, Holder::Seller(id), None, SHOWN).await?;
        DomainResult::Ok(SellerPage { seller, balance, lines, postings })
    };
    match read.await {
        Ok(p) => {
            let body = render(&state, &session.csrf_token, &p);
            answer(StatusCode::OK, frame(&p.seller.name, Some(&session), body))
        }
        Err(haat_domain::error::DomainError::NotFound(_)) => session::not_found(),
        Err(e) => failed(&e),
    }
}

fn render(state: &WebState, csrf: &str, p: &SellerPage) -> Markup {
    let zone = state.settings.time_zone;
    let at = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| words::day_time(t, zone)).unwrap_or_default();
    html! {
        section {
            h2 { (t("Balance")) }
            table #seller-balance {
                thead { tr { th scope="col" { (t("Held")) } th scope="col" { (t("Available")) } th scope="col" { (t("Reserved")) } } }
                tbody { tr {
                    td.amount { (words::money(p.balance.pending.get())) }
                    td.amount { (words::money(p.balance.available.get())) }
                    td.amount { (words::money(p.balance.reserved.get())) }
                } }
            }
        }
        section {
            h2 { (t("Lines")) }
            @if p.lines.is_empty() {
                p { (t("No lines yet.")) }
            } @else {
                table #seller-lines {
                    thead { tr {
                        th scope="col" { (t("Invoice")) } th scope="col" { "SKU" } th scope="col" { (t("Units")) }
                        th scope="col" { (t("Prepare by")) } th scope="col" { (t("Status")) } th scope="col" { (t("Share")) }
                    } }
                    tbody {
                        @for l in &p.lines {
                            tr data-line=(l.order_line_id) {
                                td { (l.invoice_no) }
                                td { (l.sku) }
                                td.amount { (words::number(l.quantity)) }
                                td { (at(l.prepare_by)) }
                                td.status { (preparation_state(csrf, p.seller.id, l)) }
                                td.amount { (l.amount.map(|a| words::money(a.get())).unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 { (t("Statement")) }
            @if p.postings.is_empty() {
                p { (t("No postings yet.")) }
            } @else {
                table #seller-statement {
                    thead { tr {
                        th scope="col" { (t("When")) } th scope="col" { (t("What")) } th scope="col" { (t("Account")) }
                        th scope="col" { (t("Amount")) } th scope="col" { (t("Balance")) }
                    } }
                    tbody {
                        @for s in &p.postings {
                            tr {
                                td { (words::day_time(s.at, zone)) }
                                td { (s.kind.as_str()) }
                                td { (s.account.as_str()) }
                                td.amount { (words::money(s.amount)) }
                                td.amount { (words::money(s.balance_after)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Where a line's preparation stands, with the form that marks it
/// prepared while it is not.
fn preparation_state(csrf: &str, seller: Uuid, l: &SellerLine) -> Markup {
    html! {
        @if l.late {
            (t("late")) " (" (l.penalty.map(|p| words::money(p.get())).unwrap_or_default()) ")"
        } @else if l.prepared_at.is_some() {
            (t("prepared"))
        } @else if l.prepare_by.is_some() {
            form.step method="post" action=(format!("/app/sellers/{seller}/lines/{}/prepared", l.order_line_id)) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="idempotency_key" value=(sessions::form_token());
                button type="submit" { (t("Mark prepared")) }
            }
        } @else {
            (t("waiting for payment"))
        }
    }
}

/// `POST /app/sellers/{id}/lines/{line}/prepared`: marks a line prepared
/// (the seller's session or an admin's, with its CSRF token), once.
pub async fn prepared(
    State(state): State<WebState>,
    Path((id, line)): Path<(Uuid, Uuid)>,
    headers: HeaderMap,
    Form(form): Form<Signed>,
) -> Response {
    let session = match seeing(&state, &headers, id).await {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    if let Some(refused) = session::forged(&session, &form.csrf) {
        return refused;
    }
    let path = format!("/app/sellers/{id}/lines/{line}/prepared");
    let fields = serde_json::to_value(&form).unwrap_or_default();
    let posted = Posted { session: &session, key: &form.idempotency_key, path: &path, fields };
    once::run(&state, posted, move |tx| {
        async move {
            preparation::mark_prepared(tx, id, line, chrono::Utc::now()).await?;
            DomainResult::Ok(format!("/app/sellers/{id}"))
        }
        .boxed()
    })
    .await
}

/// What the office's marketplace page shows.
struct Office {
    sellers: Vec<Seller>,
    schedules: Vec<FeeSchedule>,
}

/// `GET /app/sellers`: every seller with the steps it can take, and every
/// fee schedule version (admin).
pub async fn office(State(state): State<WebState>, headers: HeaderMap) -> Response {
    session::office_page(
        &state,
        &headers,
        t("Sellers"),
        |c| {
            async move {
                let sellers = sellers::list(c, None, None, 200).await?;
                let schedules = fees::list(c).await?;
                Ok(Office { sellers, schedules })
            }
            .boxed()
        },
        render_office,
    )
    .await
}

fn render_office(csrf: &str, o: &Office) -> Markup {
    let button = |action: String, label: &'static str| {
        html! {
            form.step method="post" action=(action) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="idempotency_key" value=(sessions::form_token());
                button type="submit" { (t(label)) }
            }
        }
    };
    html! {
        section {
            h2 { (t("Sellers")) }
            table #sellers {
                thead { tr { th scope="col" { (t("Name")) } th scope="col" { (t("Status")) } th scope="col" { (t("Steps")) } } }
                tbody {
                    @for s in &o.sellers {
                        tr data-seller=(s.id) {
                            td { a href=(format!("/app/sellers/{}", s.id)) { (s.name) } }
                            td.status { (t(s.status.as_str())) }
                            td.steps {
                                @if s.status != SellerStatus::Approved {
                                    (button(format!("/app/sellers/{}/approve", s.id), "Approve"))
                                }
                                @if s.status == SellerStatus::Approved {
                                    (button(format!("/app/sellers/{}/suspend", s.id), "Suspend"))
                                }
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 { (t("New fee schedule")) }
            p { (t("A new version is written once and changes nothing until it is activated.")) }
            form #new-fee-schedule method="post" action="/app/fee-schedules" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="idempotency_key" value=(sessions::form_token());
                label for="f-name" { (t("Name")) }
                input #f-name name="name" required maxlength="200";
                label for="f-default" { (t("Default rate (0.05 is 5%)")) }
                input #f-default name="default_rate" inputmode="decimal" required;
                label for="f-categories" { (t("Rates by category, one per line: category=rate")) }
                textarea #f-categories name="categories" rows="3" {}
                label for="f-per-item" { (t("Fixed fee per item (৳)")) }
                input #f-per-item name="per_item_fee" inputmode="decimal" value="0.00" required;
                label for="f-hold" { (t("Hold (business days)")) }
                input #f-hold name="seller_hold_business_days" inputmode="numeric" value="7" required;
                label for="f-penalty" { (t("Penalty per late line (৳)")) }
                input #f-penalty name="late_line_penalty" inputmode="decimal" value="0.00" required;
                button type="submit" { (t("Create")) }
            }
        }
        section {
            h2 { (t("Fee schedules")) }
            table #fee-schedules {
                thead { tr {
                    th scope="col" { (t("Version")) } th scope="col" { (t("Name")) } th scope="col" { (t("Default rate")) }
                    th scope="col" { (t("Per item")) } th scope="col" { (t("Hold (business days)")) } th scope="col" { (t("Status")) }
                } }
                tbody {
                    @for f in &o.schedules {
                        tr data-schedule=(f.id) {
                            td { (words::number(f.version)) }
                            td { (f.name) }
                            td { (words::percent(f.default_rate.get())) }
                            td.amount { (words::money(f.per_item_fee.get())) }
                            td { (words::number(f.seller_hold_business_days)) }
                            td.status {
                                @if f.in_force { (t("in force")) } @else { (button(format!("/app/fee-schedules/{}/activate", f.id), "Activate")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `POST /app/sellers/{id}/{step}`: approve or suspend a seller (admin).
pub async fn step(
    State(state): State<WebState>,
    Path((id, step)): Path<(Uuid, String)>,
    headers: HeaderMap,
    Form(form): Form<Signed>,
) -> Response {
    let to = match step.as_str() {
        "approve" => SellerStatus::Approved,
        "suspend" => SellerStatus::Suspended,
        _ => return session::not_found(),
    };
    let path = format!("/app/sellers/{id}/{step}");
    let fields = serde_json::to_value(&form).unwrap_or_default();
    once::office_form(&state, &headers, &path, (&form.csrf, &form.idempotency_key), fields, move |tx| {
        async move {
            sellers::set_status(tx, id, to, chrono::Utc::now()).await?;
            DomainResult::Ok("/app/sellers".to_owned())
        }
        .boxed()
    })
    .await
}

/// The new fee schedule form as posted.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct NewSchedule {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    idempotency_key: String,
    name: String,
    default_rate: String,
    #[serde(default)]
    categories: String,
    per_item_fee: String,
    seller_hold_business_days: String,
    late_line_penalty: String,
}

/// The `category=rate` lines of the form, or the field's problem.
fn categories(text: &str) -> Result<std::collections::BTreeMap<String, String>, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.split_once('=')
                .map(|(c, r)| (c.trim().to_owned(), r.trim().to_owned()))
                .ok_or_else(|| format!("{l:?} is not category=rate"))
        })
        .collect()
}

/// `POST /app/fee-schedules`: writes a new fee schedule version (admin).
pub async fn create(State(state): State<WebState>, headers: HeaderMap, Form(form): Form<NewSchedule>) -> Response {
    let bounded = [
        ("name", form.name.as_str(), 200),
        ("default_rate", &form.default_rate, 20),
        ("per_item_fee", &form.per_item_fee, 20),
        ("seller_hold_business_days", &form.seller_hold_business_days, 4),
        ("late_line_penalty", &form.late_line_penalty, 20),
    ];
    if let Some(invalid) = crate::sign_in::invalid(&bounded) {
        return invalid;
    }
    if haat_domain::input::chars(&form.categories) > 10_000 || form.categories.contains('\0') {
        return crate::sign_in::bad_field("categories", "must be at most 10000 characters, without NUL");
    }
    let categories = match categories(&form.categories) {
        Ok(c) => c,
        Err(problem) => return crate::sign_in::bad_field("categories", &problem),
    };
    let Ok(hold) = form.seller_hold_business_days.trim().parse::<i32>() else {
        return crate::sign_in::bad_field("seller_hold_business_days", "must be a whole number");
    };
    let input = fees::NewFeeSchedule {
        name: form.name.trim().to_owned(),
        default_rate: form.default_rate.trim().to_owned(),
        categories,
        sellers: Vec::new(),
        per_item_fee: form.per_item_fee.trim().to_owned(),
        seller_hold_business_days: hold,
        late_line_penalty: Some(form.late_line_penalty.trim().to_owned()),
    };
    let fields = serde_json::to_value(&form).unwrap_or_default();
    once::office_form(&state, &headers, "/app/fee-schedules", (&form.csrf, &form.idempotency_key), fields, move |tx| {
        async move {
            fees::create(tx, &input).await?;
            DomainResult::Ok("/app/sellers".to_owned())
        }
        .boxed()
    })
    .await
}

/// `POST /app/fee-schedules/{id}/activate`: puts a schedule in force (admin).
pub async fn activate(
    State(state): State<WebState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Form(form): Form<Signed>,
) -> Response {
    let path = format!("/app/fee-schedules/{id}/activate");
    let fields = serde_json::to_value(&form).unwrap_or_default();
    once::office_form(&state, &headers, &path, (&form.csrf, &form.idempotency_key), fields, move |tx| {
        async move {
            fees::activate(tx, id, chrono::Utc::now()).await?;
            DomainResult::Ok("/app/sellers".to_owned())
        }
        .boxed()
    })
    .await
}
