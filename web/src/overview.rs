//! The home page: for an admin this month's sales and commissions, what
//! the shop owes its members, and the jobs that need a person — each figure
//! the same read as its JSON report, over the month in the deployment's
//! zone. A member is sent to its own wallet.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use haat_domain::auth::Role;
use haat_domain::compensation::periods;
use haat_domain::error::DomainResult;
use haat_domain::jobs::admin::{self, Depth, Status};
use haat_domain::money::Money;
use haat_domain::reports::commissions::{self, CommissionGroup};
use haat_domain::reports::sales::{self, SalesGroup};
use haat_domain::reports::{Interval, liabilities};
use maud::{Markup, html};

use crate::chart::{self, Bar};
use crate::pages::{answer, frame};
use crate::sign_in::failed;
use crate::words::{self, t};
use crate::{WebState, session};

/// Dead jobs counted on the overview before it says "more than".
const DEAD_SHOWN: i64 = 100;

/// `GET /app`: the overview of a signed-in admin; a member goes to its
/// own wallet, a seller to its own page.
pub async fn page(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let session = match session::required(&state, &headers).await {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    match (session.role, session.member_id, session.seller_id) {
        (Role::Member, Some(member), _) => return Redirect::to(&format!("/app/members/{member}")).into_response(),
        (Role::Seller, _, Some(seller)) => return Redirect::to(&format!("/app/sellers/{seller}")).into_response(),
        (Role::Admin, ..) => {}
        _ => return session::not_found(),
    }
    match figures(&state).await {
        Ok(f) => answer(StatusCode::OK, frame(t("This month"), Some(&session), f.render())),
        Err(e) => failed(&e),
    }
}

/// What the overview shows.
struct Figures {
    period: String,
    orders: i64,
    net_sales: Money,
    today: (i64, Money),
    accrued: Money,
    owed: Money,
    dead_jobs: usize,
    /// This month's days: net sales and commissions accrued.
    days: Vec<(NaiveDate, Money, Money)>,
    depths: Vec<Depth>,
}

async fn figures(state: &WebState) -> DomainResult<Figures> {
    let zone = state.settings.time_zone;
    let currency = &state.settings.currency;
    let period = periods::period_of(Utc::now(), zone);
    let (from, to) = periods::bounds(&period, zone)?;
    let month = Interval { from, to, time_zone: zone };
    let mut tx = state.reads.begin().await?;
    haat_platform::db::report_snapshot(&mut tx, state.settings.report_time_limit).await?;
    let sold = sales::sales(&mut tx, &month, SalesGroup::Day, currency).await?;
    let earned = commissions::commissions(&mut tx, &month, CommissionGroup::Day, None, currency).await?;
    let owed = liabilities::roll_forward(&mut tx, &month, currency).await?;
    let dead = admin::list(&mut tx, Status::Dead, None, None, DEAD_SHOWN + 1).await?;
    let depths = admin::depths(&mut tx).await?;
    tx.rollback().await?;
    let today = Utc::now().with_timezone(&zone).date_naive();
    let (first, next) = (from.with_timezone(&zone).date_naive(), to.with_timezone(&zone).date_naive());
    let days: Vec<(NaiveDate, Money, Money)> = first
        .iter_days()
        .take_while(|d| *d < next)
        .map(|d| {
            let key = d.format("%Y-%m-%d").to_string();
            let net = sold.rows.iter().find(|r| r.key.as_deref() == Some(key.as_str())).map_or(Money::ZERO, |r| r.net);
            let paid =
                earned.rows.iter().find(|r| r.key.as_deref() == Some(key.as_str())).map_or(Money::ZERO, |r| r.accrued);
            (d, net, paid)
        })
        .collect();
    let key = today.format("%Y-%m-%d").to_string();
    let today = sold
        .rows
        .iter()
        .find(|r| r.key.as_deref() == Some(key.as_str()))
        .map_or((0, Money::ZERO), |r| (r.orders, r.net));
    Ok(Figures {
        period,
        orders: sold.totals.orders,
        net_sales: sold.totals.net,
        today,
        accrued: earned.totals.accrued,
        owed: owed.total.closing,
        dead_jobs: dead.len(),
        days,
        depths,
    })
}

impl Figures {
    fn render(&self) -> Markup {
        let money = |m: Money| words::money(m.0);
        let dead = if self.dead_jobs as i64 > DEAD_SHOWN {
            format!("more than {DEAD_SHOWN}")
        } else {
            self.dead_jobs.to_string()
        };
        let amount = words::money;
        let bars = |pick: fn(&(NaiveDate, Money, Money)) -> Money| -> Vec<Bar> {
            self.days.iter().map(|d| Bar { label: words::number(d.0.format("%-d")), values: vec![pick(d).0] }).collect()
        };
        html! {
            p { (t("Period")) " " (words::month(&self.period)) }
            dl.figures {
                dt { (t("Orders paid today")) } dd #orders-today { (words::number(self.today.0)) }
                dt { (t("Net sales today")) } dd #net-sales-today { (money(self.today.1)) }
                dt { (t("Orders paid")) } dd #orders { (words::number(self.orders)) }
                dt { (t("Net sales")) } dd #net-sales { (money(self.net_sales)) }
                dt { (t("Commissions accrued")) } dd #accrued { (money(self.accrued)) }
                dt { (t("Owed to members (now)")) } dd #owed { (money(self.owed)) }
                dt { (t("Dead jobs")) } dd #dead-jobs { a href="/app/jobs" { (dead) } }
                dt { (t("Audit")) } dd { a #run-audit href="/app/audit" { (t("Run the books' checks")) } }
            }
            (chart::bars(("sales-by-day", t("Net sales per day this month"), t("Day")), &[t("Net sales")], &bars(|d| d.1), amount))
            (chart::bars(("commissions-by-day", t("Commissions accrued per day this month"), t("Day")), &[t("Accrued")], &bars(|d| d.2), amount))
            section {
                h2 { (t("Queues")) }
                @if self.depths.iter().all(|d| d.status == "Done") {
                    p { (t("No job is waiting, running or failed.")) }
                } @else {
                    table #queues {
                        caption { (t("Jobs not done, by queue and status")) }
                        thead { tr { th scope="col" { "Queue" } th scope="col" { (t("Status")) } th scope="col" { (t("Jobs")) } } }
                        tbody {
                            @for d in self.depths.iter().filter(|d| d.status != "Done") {
                                tr { td { (d.queue) } td { (d.status) } td { (d.jobs) } }
                            }
                        }
                    }
                }
            }
        }
    }
}
