//! Loyalty analytics (admin): per member, the cohort retention table and
//! monthly churn, and the program's return per month; each as JSON or, with
//! `format=csv` or `Accept: text/csv`, as CSV, read in one read-only
//! snapshot with its methods stated in the answer.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use futures::FutureExt;
use haat_domain::error::DomainError;
use haat_domain::reports::analytics::{self, Analytics};
use haat_domain::reports::cohorts::{self, Retention, Roi};
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa_axum::routes;

use super::Routes;
use super::reports::{Asked, Range, in_snapshot};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Query};

/// A figure that may be absent, as a CSV cell (empty when absent).
fn text(d: Option<Decimal>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// Analytics routes.
pub fn router() -> Routes {
    Routes::new().routes(routes!(member_analytics)).routes(routes!(retention)).routes(routes!(program_return))
}

/// `?horizon_days=` of the analytics' predicted value.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Horizon {
    /// Days the predicted value looks ahead (1 to 3650, default 365).
    horizon_days: Option<String>,
}

/// Loyalty analytics (admin): per member and in aggregate, orders, spend,
/// average order value, historical and predicted lifetime value, points
/// earned, redeemed and expired, days since the last order, the churn
/// verdict and the segment, each method stated in the answer.
#[utoipa::path(get, path = "/v1/admin/analytics/members", tag = "reports", params(Range, Horizon),
    responses((status = 200, description = "The orders confirmed in the interval, taken as of its end; as CSV one \
        row per member: interval_start, interval_end, member_id, name, orders, spend, average_order_value, \
        first_order_at, last_order_at, days_since_last_order, usual_interval_days, predicted_value, \
        points_earned, points_redeemed, points_expired, redemption_rate, r, f, m, segment",
        content((Analytics = "application/json"), (String = "text/csv")))))]
async fn member_analytics(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Query(range): Query<Range>,
    Query(horizon): Query<Horizon>,
) -> ApiResult<Response> {
    let asked = Asked::admin(&state, &auth, &range, &headers)?;
    let horizon_days = match horizon.horizon_days.as_deref() {
        None => 365,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=3650).contains(d))
            .ok_or_else(|| DomainError::invalid("horizon_days", "must be a whole number of days from 1 to 3650"))?,
    };
    let interval = asked.interval;
    let report =
        in_snapshot(&state, |c| async move { analytics::compute(c, &interval, horizon_days).await }.boxed()).await?;
    let rows = report.members.iter().map(|m| {
        vec![
            m.member_id.to_string(),
            m.name.clone(),
            m.orders.to_string(),
            m.spend.to_string(),
            m.average_order_value.to_string(),
            m.first_order_at.to_rfc3339(),
            m.last_order_at.to_rfc3339(),
            m.days_since_last_order.to_string(),
            text(m.usual_interval_days),
            text(m.predicted_value),
            m.points_earned.to_string(),
            m.points_redeemed.to_string(),
            m.points_expired.to_string(),
            text(m.redemption_rate),
            m.rfm[0].to_string(),
            m.rfm[1].to_string(),
            m.rfm[2].to_string(),
            m.segment.as_str().to_owned(),
        ]
    });
    let header = [
        "member_id",
        "name",
        "orders",
        "spend",
        "average_order_value",
        "first_order_at",
        "last_order_at",
        "days_since_last_order",
        "usual_interval_days",
        "predicted_value",
        "points_earned",
        "points_redeemed",
        "points_expired",
        "redemption_rate",
        "r",
        "f",
        "m",
        "segment",
    ];
    asked.answer(&report, "member_analytics", &header, rows)
}

/// Retention by cohort (admin): members by the month of their first order,
/// how many of each cohort ordered in each later month, and the churn rate
/// of each month, with the methods stated.
#[utoipa::path(get, path = "/v1/admin/analytics/cohorts", tag = "reports", params(Range),
    responses((status = 200, description = "The interval's months in its time zone; as CSV one row per cohort and \
        month: interval_start, interval_end, cohort, members, month, active, retention, then one row per month's \
        churn with cohort `churn`: month, active_before (as members), churned (as active), rate (as retention)",
        content((Retention = "application/json"), (String = "text/csv")))))]
async fn retention(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Query(range): Query<Range>,
) -> ApiResult<Response> {
    let asked = Asked::admin(&state, &auth, &range, &headers)?;
    let interval = asked.interval;
    let report = in_snapshot(&state, |c| async move { cohorts::retention(c, &interval).await }.boxed()).await?;
    let mut rows = Vec::new();
    for c in &report.cohorts {
        let later = report.months.iter().skip_while(|m| **m != c.month);
        for ((month, active), share) in later.zip(&c.active).zip(&c.retention) {
            let row = [&c.month, &c.members.to_string(), month, &active.to_string(), &share.to_string()];
            rows.push(row.map(String::clone).to_vec());
        }
    }
    for m in &report.churn {
        rows.push(vec![
            "churn".to_owned(),
            m.active_before.to_string(),
            m.month.clone(),
            m.churned.to_string(),
            text(m.rate),
        ]);
    }
    let header = ["cohort", "members", "month", "active", "retention"];
    asked.answer(&report, "cohorts", &header, rows)
}

/// The loyalty program's return per month (admin): the incremental spend
/// of rewarded members against the cost of the rewards, the method stated.
#[utoipa::path(get, path = "/v1/admin/analytics/roi", tag = "reports", params(Range),
    responses((status = 200, description = "One entry per month of the interval; as CSV one row per month: \
        interval_start, interval_end, month, rewarded_members, other_members, rewarded_spend, other_spend, \
        incremental_spend, points_redeemed, cashback, cost, return",
        content((Roi = "application/json"), (String = "text/csv")))))]
async fn program_return(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Query(range): Query<Range>,
) -> ApiResult<Response> {
    let asked = Asked::admin(&state, &auth, &range, &headers)?;
    let interval = asked.interval;
    let report = in_snapshot(&state, |c| async move { cohorts::roi(c, &interval).await }.boxed()).await?;
    let rows = report.months.iter().map(|m| {
        vec![
            m.month.clone(),
            m.rewarded_members.to_string(),
            m.other_members.to_string(),
            m.rewarded_spend.to_string(),
            m.other_spend.to_string(),
            text(m.incremental_spend),
            m.points_redeemed.to_string(),
            m.cashback.to_string(),
            m.cost.to_string(),
            text(m.program_return),
        ]
    });
    let header = [
        "month",
        "rewarded_members",
        "other_members",
        "rewarded_spend",
        "other_spend",
        "incremental_spend",
        "points_redeemed",
        "cashback",
        "cost",
        "return",
    ];
    asked.answer(&report, "program_return", &header, rows)
}
