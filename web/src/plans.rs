//! The office's plans: every version with its rates and whether it is a
//! draft, a draft's activation (done once per form), and a draft's
//! simulation over past orders beside what was paid — the domain's replay
//! in a read-only transaction that is rolled back. A range of more orders
//! than `HAAT_SIMULATION_INLINE_ORDERS` is left to the API's job.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use futures::FutureExt;
use haat_domain::auth::sessions;
use haat_domain::compensation::plans::{self, Plan};
use haat_domain::compensation::simulation::{self, Range, Simulation};
use haat_domain::error::{DomainError, DomainResult};
use haat_domain::jobs::progress::Progress;
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use crate::pages::{answer, frame};
use crate::sign_in::{bad_field, failed};
use crate::words::{self, t};
use crate::{WebState, once, session};

/// Versions the page lists.
const SHOWN: i64 = 50;
/// Members a simulation shows, those whose pay would change most.
const MEMBERS_SHOWN: usize = 20;

/// `GET /app/plans`.
pub async fn page(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let render = |csrf: &str, list: &Vec<Plan>| render(csrf, list);
    session::office_page(&state, &headers, t("Plans"), |c| plans::list(c, None, SHOWN).boxed(), render).await
}

fn rates(levels: &[haat_domain::money::Rate]) -> String {
    levels.iter().map(|r| words::percent(r.0)).collect::<Vec<_>>().join(" · ")
}

fn render(csrf: &str, list: &[Plan]) -> Markup {
    html! {
        table #plans {
            caption { (t("Plan versions, newest first")) }
            thead { tr {
                th scope="col" { (t("Version")) } th scope="col" { (t("Name")) } th scope="col" { (t("Effective from")) }
                th scope="col" { (t("Level rates")) } th scope="col" { (t("Holding days")) } th scope="col" { (t("Status")) }
                th scope="col" { (t("Steps")) }
            } }
            tbody {
                @for p in list {
                    tr data-plan=(p.id) {
                        td { (words::number(p.version)) }
                        td { (p.name) }
                        td { (words::day(p.effective_from.date_naive())) }
                        td { (rates(&p.levels)) }
                        td { (words::number(p.holding_days)) }
                        td.status { @if p.draft { (t("draft")) } @else { (t("active")) } }
                        td {
                            @if p.draft {
                                form.step method="post" action=(format!("/app/plans/{}/activate", p.id)) {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="idempotency_key" value=(sessions::form_token());
                                    button type="submit" value="activate" { (t("Activate")) }
                                }
                                form.step method="get" action=(format!("/app/plans/{}/simulation", p.id)) {
                                    label for=(format!("from-{}", p.id)) { (t("From")) }
                                    input type="date" id=(format!("from-{}", p.id)) name="from" required;
                                    label for=(format!("to-{}", p.id)) { (t("To (not included)")) }
                                    input type="date" id=(format!("to-{}", p.id)) name="to" required;
                                    button type="submit" value="simulate" { (t("Simulate")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `POST /app/plans/{id}/activate`.
pub async fn activate(
    State(state): State<WebState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Form(form): Form<once::Signed>,
) -> Response {
    let path = format!("/app/plans/{id}/activate");
    let fields = serde_json::to_value(&form).unwrap_or_default();
    once::office_form(&state, &headers, &path, (&form.csrf, &form.idempotency_key), fields, move |tx| {
        async move {
            plans::activate(tx, id).await?;
            DomainResult::Ok("/app/plans".to_owned())
        }
        .boxed()
    })
    .await
}

/// `?from=&to=` of a simulation: days in the deployment's zone.
#[derive(Deserialize)]
pub struct Days {
    from: Option<String>,
    to: Option<String>,
}

/// The start of `day` (`YYYY-MM-DD`) in `zone`; none when it is no day.
fn start_of(day: Option<&str>, zone: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    let date = day.and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())?;
    zone.from_local_datetime(&date.and_hms_opt(0, 0, 0)?).earliest().map(|t| t.with_timezone(&Utc))
}

/// `GET /app/plans/{id}/simulation?from=&to=`.
pub async fn simulation(
    State(state): State<WebState>,
    Path(id): Path<Uuid>,
    Query(days): Query<Days>,
    headers: HeaderMap,
) -> Response {
    let session = match session::admin(&state, &headers).await {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    let zone = state.settings.time_zone;
    let range = match (start_of(days.from.as_deref(), zone), start_of(days.to.as_deref(), zone)) {
        (Some(from), Some(to)) => Range { from, to },
        (None, _) => return bad_field("from", "must be a day, YYYY-MM-DD"),
        (_, None) => return bad_field("to", "must be a day, YYYY-MM-DD"),
    };
    let replayed = async {
        let mut tx = state.pool.begin().await?;
        haat_platform::db::read_only(&mut tx).await?;
        let plan = plans::get(&mut tx, id).await?;
        if simulation::orders_in(&mut tx, &range).await? > state.settings.simulation_inline_orders {
            return Ok((plan, None));
        }
        let result = simulation::simulate(&mut tx, id, &range, &mut Progress::unwatched()).await?;
        let ids: Vec<Uuid> = result.members.iter().map(|m| m.member_id).collect();
        let names = haat_domain::network::members::names(&mut tx, &ids).await?;
        tx.rollback().await?;
        DomainResult::Ok((plan, Some((result, names))))
    };
    let title = t("Simulation");
    match replayed.await {
        Ok((plan, result)) => {
            answer(StatusCode::OK, frame(title, Some(&session), render_simulation(&plan, result.as_ref())))
        }
        Err(DomainError::NotFound(_)) => session::not_found(),
        Err(DomainError::Invalid(fields)) => {
            let f = fields.first();
            bad_field(f.map_or("range", |f| f.field.as_str()), f.map_or("is not valid", |f| f.message.as_str()))
        }
        Err(e) => failed(&e),
    }
}

type Replayed = (Simulation, std::collections::HashMap<Uuid, String>);

fn render_simulation(plan: &Plan, result: Option<&Replayed>) -> Markup {
    let mut most: Vec<&simulation::MemberFigures> = result.map(|(s, _)| s.members.iter().collect()).unwrap_or_default();
    most.sort_by_key(|m| std::cmp::Reverse(m.figures.difference.abs()));
    html! {
        p { (t("Plan")) " " (words::number(plan.version)) " · " (plan.name) }
        @match result {
            None => p.problem role="alert" { (t("Too many orders in this range to replay here; ask the API for a simulation job.")) }
            Some((s, names)) => {
                dl.figures {
                    dt { (t("Orders replayed")) } dd #sim-orders { (words::number(s.orders)) }
                    dt { (t("This plan would have paid")) } dd #sim-simulated { (words::money(s.total.simulated)) }
                    dt { (t("Paid")) } dd #sim-actual { (words::money(s.total.actual)) }
                    dt { (t("Difference")) } dd #sim-difference { (words::money(s.total.difference)) }
                }
                table #sim-members {
                    caption { (t("The members whose pay would change most")) }
                    thead { tr { th scope="col" { (t("Member")) } th scope="col" { (t("Would be paid")) } th scope="col" { (t("Paid")) } th scope="col" { (t("Difference")) } } }
                    tbody {
                        @for m in most.iter().take(MEMBERS_SHOWN) {
                            tr data-member=(m.member_id) {
                                td { (names.get(&m.member_id).map_or("?", String::as_str)) }
                                td.amount { (words::money(m.figures.simulated)) }
                                td.amount { (words::money(m.figures.actual)) }
                                td.amount { (words::money(m.figures.difference)) }
                            }
                        }
                    }
                }
            }
        }
        p { a href="/app/plans" { (t("Back to the plans")) } }
    }
}
