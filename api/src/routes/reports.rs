//! Finance reports (admin): the same figures as JSON or, with `format=csv`
//! or `Accept: text/csv`, as a CSV attachment. Each is read in one
//! read-only snapshot.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use futures::future::BoxFuture;
use haat_domain::error::DomainResult;
use haat_domain::ids::{MemberId, SellerId, TypedId};
use haat_domain::marketplace::finance::{self, SellerFinance};
use haat_domain::marketplace::preparation::{self, LateLines};
use haat_domain::network::members;
use haat_domain::reports::Interval;
use haat_domain::reports::commissions::{self, CommissionGroup, CommissionRow, Commissions, TopEarners};
use haat_domain::reports::liabilities::{self, Liabilities};
use haat_domain::reports::payouts::{self, PayoutGroup, Payouts};
use haat_domain::reports::ranks::{self, RankAdvancement};
use haat_domain::reports::sales::{self, Sales, SalesGroup, SalesRow};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use super::Routes;
use crate::AppState;
use crate::error::ApiError;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, PathId, Query, SellerAuth};
use crate::{csv_export, report_stream};
use utoipa_axum::routes;

/// Report routes.
pub fn router() -> Routes {
    Routes::new()
        .routes(routes!(liabilities_report))
        .routes(routes!(sales_report))
        .routes(routes!(commissions_report))
        .routes(routes!(payouts_report))
        .routes(routes!(top_earners_report))
        .routes(routes!(rank_advancement_report))
        .routes(routes!(member_earnings))
        .routes(routes!(late_lines_report))
        .routes(routes!(seller_finance_report))
}

/// A seller's finance report over the interval: revenue, fees, returns,
/// refunds, fees refunded, penalties, payouts and net (admin, or the
/// seller's own key).
#[utoipa::path(get, path = "/v1/sellers/{id}/reports/finance", tag = "reports",
    params(("id" = SellerId, Path, description = "The seller"), Range),
    responses((status = 200, description = "The seller's figures; as CSV one row: interval_start, interval_end \
        then each figure", content((SellerFinance = "application/json"), (String = "text/csv")))))]
async fn seller_finance_report(
    State(state): State<AppState>,
    auth: SellerAuth,
    PathId(id): PathId<SellerId>,
    headers: HeaderMap,
    Query(range): Query<Range>,
) -> ApiResult<Response> {
    auth.require_seller(id.uuid())?;
    let asked = Asked::parse(&state, &range, &headers)?;
    let seller = id.uuid();
    haat_domain::marketplace::sellers::get(&mut *state.pool.acquire().await?, seller).await?;
    let (interval, currency) = (asked.interval, state.settings.currency.clone());
    let report =
        in_snapshot(&state, |c| async move { finance::report(c, seller, &interval, &currency).await }.boxed()).await?;
    let figures = [
        report.revenue,
        report.fees,
        report.returns,
        report.refunds,
        report.fees_refunded,
        report.penalties,
        report.payouts,
        report.net,
    ];
    let header = ["revenue", "fees", "returns", "refunds", "fees_refunded", "penalties", "payouts", "net"];
    let row = figures.iter().map(ToString::to_string).collect();
    asked.answer(&report, "seller_finance", &header, [row])
}

/// Seller lines found late in the interval, by seller, with each seller's
/// count and penalties (admin).
#[utoipa::path(get, path = "/v1/admin/reports/late-lines", tag = "reports", params(Range),
    responses((status = 200, description = "Per seller: late lines and penalties; and every late line; as CSV \
        one row per late line: seller_id, seller_name, invoice_no, sku, prepare_by, prepared_at, penalty, found_at",
        content((LateLines = "application/json"), (String = "text/csv")))))]
async fn late_lines_report(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Query(range): Query<Range>,
) -> ApiResult<Response> {
    let asked = Asked::admin(&state, &auth, &range, &headers)?;
    let (from, to) = (asked.interval.from, asked.interval.to);
    let report = in_snapshot(&state, |c| preparation::late_lines(c, from, to).boxed()).await?;
    let rows = report.rows.iter().map(|r| {
        let prepared = r.prepared_at.map(|t| t.to_rfc3339()).unwrap_or_default();
        vec![
            r.seller_id.to_string(),
            r.seller_name.clone(),
            r.invoice_no.clone(),
            r.sku.clone(),
            r.prepare_by.to_rfc3339(),
            prepared,
            r.penalty.to_string(),
            r.found_at.to_rfc3339(),
        ]
    });
    let header = ["seller_id", "seller_name", "invoice_no", "sku", "prepare_by", "prepared_at", "penalty", "found_at"];
    asked.answer(&report, "late_lines", &header, rows)
}

/// `?from=&to=&time_zone=&format=` of every report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Range {
    /// Inclusive start: a date (`2026-11-01`, midnight in `time_zone`) or an RFC 3339 time.
    from: Option<String>,
    /// Exclusive end, as `from`; at most 3660 days after it.
    to: Option<String>,
    /// IANA time zone (default the deployment's).
    time_zone: Option<String>,
    /// `json` (default) or `csv`; `Accept: text/csv` also asks for CSV.
    format: Option<String>,
}

/// `?group_by=` of a report that groups its rows.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Grouping {
    /// How rows are grouped (each report lists its words; the first is the default).
    group_by: Option<String>,
}

/// A report request parsed at the edge: who may read it was checked, the
/// interval and the answer's format are known.
pub(super) struct Asked {
    pub(super) interval: Interval,
    csv: bool,
}

impl Asked {
    pub(super) fn admin(state: &AppState, auth: &Auth, range: &Range, headers: &HeaderMap) -> ApiResult<Self> {
        auth.require_admin()?;
        Self::parse(state, range, headers)
    }

    fn parse(state: &AppState, range: &Range, headers: &HeaderMap) -> ApiResult<Self> {
        let interval = Interval::parse(
            range.from.as_deref(),
            range.to.as_deref(),
            range.time_zone.as_deref(),
            state.settings.time_zone,
        )?;
        Ok(Self { interval, csv: csv_export::wanted(range.format.as_deref(), headers)? })
    }

    /// How a streamed report is answered: CSV named `name`, or JSON.
    fn shape<R>(
        &self,
        name: String,
        group_by: &'static str,
        header: &'static [&'static str],
        record: fn(&R) -> Vec<String>,
    ) -> report_stream::Shape<R> {
        report_stream::Shape { name, group_by, header, record, csv: self.csv.then_some(self.interval) }
    }

    /// The answer: `report` as JSON, or `rows` under `header` as a CSV file
    /// named after `name`.
    pub(super) fn answer<T: Serialize, I>(
        &self,
        report: &T,
        name: &str,
        header: &[&str],
        rows: I,
    ) -> ApiResult<Response>
    where
        I: IntoIterator<Item = Vec<String>>,
    {
        if self.csv {
            csv_export::attachment(name, &self.interval, header, rows)
        } else {
            Ok(Json(to_json(report)?).into_response())
        }
    }
}

/// Runs `read` in one read-only snapshot (on the replica when one is
/// configured), each statement bounded by the report time limit, and
/// rolls it back.
pub(super) async fn in_snapshot<T>(
    state: &AppState,
    read: impl for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, DomainResult<T>>,
) -> ApiResult<T> {
    let mut tx = state.reads.begin().await?;
    haat_platform::db::report_snapshot(&mut tx, state.settings.report_time_limit).await?;
    let report = read(&mut tx).await?;
    tx.rollback().await?;
    Ok(report)
}

/// What the shop owes its members: a roll-forward per account bucket (admin).
#[utoipa::path(get, path = "/v1/admin/reports/liabilities", tag = "reports", params(Range),
    responses((status = 200, description = "Opening, movements by entry kind and closing of each bucket; \
        as CSV one row per figure: interval_start, interval_end, account, kind (opening, an entry kind, closing), amount",
        content((Liabilities = "application/json"), (String = "text/csv")))))]
async fn liabilities_report(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Query(range): Query<Range>,
) -> ApiResult<Response> {
    let asked = Asked::admin(&state, &auth, &range, &headers)?;
    let (interval, currency) = (asked.interval, state.settings.currency.clone());
    let report =
        in_snapshot(&state, |c| async move { liabilities::roll_forward(c, &interval, &currency).await }.boxed())
            .await?;
    let mut rows = Vec::new();
    for b in &report.accounts {
        let account = b.account.as_str();
        rows.push(vec![account.to_owned(), "opening".into(), b.opening.to_string()]);
        rows.extend(b.movements.iter().map(|m| vec![account.to_owned(), m.kind.as_str().into(), m.amount.to_string()]));
        rows.push(vec![account.to_owned(), "closing".into(), b.closing.to_string()]);
    }
    asked.answer(&report, "liabilities", &["account", "kind", "amount"], rows)
}

/// Sales by day, product, category or seller (admin).
#[utoipa::path(get, path = "/v1/admin/reports/sales", tag = "reports", params(Range, Grouping),
    responses((status = 200, description = "One row per group and the totals; an order counts when paid (cod: \
        delivered), a reversal of a paid order when recorded. As CSV the rows only: interval_start, interval_end, \
        then the row's fields in order",
        content((Sales = "application/json"), (String = "text/csv")))))]
async fn sales_report(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Query(range): Query<Range>,
    Query(grouping): Query<Grouping>,
) -> ApiResult<Response> {
    let asked = Asked::admin(&state, &auth, &range, &headers)?;
    let group_by = SalesGroup::parse_param(grouping.group_by.as_deref())?;
    let (interval, currency) = (asked.interval, state.settings.currency.clone());
    let shape = asked.shape(format!("sales_by_{}", group_by.as_str()), group_by.as_str(), SALES_HEADER, sales_record);
    report_stream::respond(&state.reads, state.settings.report_time_limit, shape, move |c| {
        async move { sales::sales_rows(c, &interval, group_by, &currency).await }.boxed()
    })
    .await
}

/// The sales report's CSV columns.
const SALES_HEADER: &[&str] = &[
    "key",
    "orders",
    "units",
    "gross",
    "discounts",
    "store_credit",
    "refunds",
    "net",
    "pv",
    "bv",
    "fees",
    "platform_margin",
];

fn sales_record(r: &SalesRow) -> Vec<String> {
    let mut row = vec![r.key.clone().unwrap_or_default(), r.orders.to_string(), r.units.to_string()];
    row.extend([r.gross, r.discounts, r.store_credit, r.refunds, r.net].map(|m| m.to_string()));
    row.extend([r.pv.to_string(), r.bv.to_string(), r.fees.to_string(), r.platform_margin.to_string()]);
    row
}

/// What the network earned: commissions, bonuses, cashback and buyers' rewards (admin).
#[utoipa::path(get, path = "/v1/admin/reports/commissions", tag = "reports", params(Range, Grouping),
    responses((status = 200, description = "One row per group (day, kind, level or member) and the totals, from \
        the ledger entries posted in the interval; as CSV the rows only",
        content((Commissions = "application/json"), (String = "text/csv")))))]
async fn commissions_report(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Query(range): Query<Range>,
    Query(grouping): Query<Grouping>,
) -> ApiResult<Response> {
    let asked = Asked::admin(&state, &auth, &range, &headers)?;
    let group_by = CommissionGroup::parse_param(grouping.group_by.as_deref())?;
    let (interval, currency) = (asked.interval, state.settings.currency.clone());
    let shape = asked.shape(
        format!("commissions_by_{}", group_by.as_str()),
        group_by.as_str(),
        COMMISSIONS_HEADER,
        commission_record,
    );
    report_stream::respond(&state.reads, state.settings.report_time_limit, shape, move |c| {
        async move { commissions::commission_rows(c, &interval, group_by, None, &currency).await }.boxed()
    })
    .await
}

/// The commissions report's CSV columns (a member's earnings too).
const COMMISSIONS_HEADER: &[&str] =
    &["key", "accrued", "released", "cancelled_while_held", "clawed_back", "breakage", "rounding", "net"];

fn commission_record(r: &CommissionRow) -> Vec<String> {
    let mut row = vec![r.key.clone().unwrap_or_default()];
    row.extend([r.accrued, r.released, r.cancelled_while_held, r.clawed_back, r.breakage].map(|m| m.to_string()));
    row.extend([r.rounding.to_string(), r.net.to_string()]);
    row
}

/// A member's own earnings: the commissions report of that member alone
/// (a member key reads only its own; another member is 404).
#[utoipa::path(get, path = "/v1/members/{id}/earnings", tag = "reports",
    params(("id" = MemberId, Path, description = "The member"), Range, Grouping),
    responses((status = 200, description = "The member's commissions report rows (group_by day, month or kind)",
        content((Commissions = "application/json"), (String = "text/csv")))))]
async fn member_earnings(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    PathId(id): PathId<MemberId>,
    Query(range): Query<Range>,
    Query(grouping): Query<Grouping>,
) -> ApiResult<Response> {
    let id = id.uuid();
    auth.require_member_access(id, "member")?;
    let asked = Asked::parse(&state, &range, &headers)?;
    let group_by = match grouping.group_by.as_deref() {
        None | Some("day") => CommissionGroup::Day,
        Some("month") => CommissionGroup::Month,
        Some("kind") => CommissionGroup::Kind,
        Some(_) => {
            return Err(ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "group_by", "must be day, month or kind"));
        }
    };
    let (interval, currency) = (asked.interval, state.settings.currency.clone());
    let shape = asked.shape(
        format!("earnings_by_{}", group_by.as_str()),
        group_by.as_str(),
        COMMISSIONS_HEADER,
        commission_record,
    );
    report_stream::respond(&state.reads, state.settings.report_time_limit, shape, move |c| {
        async move {
            members::get(c, id).await?;
            commissions::commission_rows(c, &interval, group_by, Some(id), &currency).await
        }
        .boxed()
    })
    .await
}

/// Withdrawals requested in the interval by status or method (admin).
#[utoipa::path(get, path = "/v1/admin/reports/payouts", tag = "reports", params(Range, Grouping),
    responses((status = 200, description = "Count, amount and median hours from request to paid per status or \
        method, and the totals; as CSV the rows only",
        content((Payouts = "application/json"), (String = "text/csv")))))]
async fn payouts_report(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Query(range): Query<Range>,
    Query(grouping): Query<Grouping>,
) -> ApiResult<Response> {
    let asked = Asked::admin(&state, &auth, &range, &headers)?;
    let group_by = PayoutGroup::parse_param(grouping.group_by.as_deref())?;
    let (interval, currency) = (asked.interval, state.settings.currency.clone());
    let report =
        in_snapshot(&state, |c| async move { payouts::payouts(c, &interval, group_by, &currency).await }.boxed())
            .await?;
    let rows = report.rows.iter().map(|r| {
        let median = r.median_hours_to_paid.map(|m| m.to_string()).unwrap_or_default();
        vec![r.key.clone().unwrap_or_default(), r.count.to_string(), r.amount.to_string(), median]
    });
    let header = ["key", "count", "amount", "median_hours_to_paid"];
    asked.answer(&report, &format!("payouts_by_{}", group_by.as_str()), &header, rows)
}

/// `?limit=` of the top earners.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Top {
    /// How many, 1 to 200 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    limit: Option<String>,
}

/// The members who earned most in the interval (admin).
#[utoipa::path(get, path = "/v1/admin/reports/top-earners", tag = "reports", params(Range, Top),
    responses((status = 200, description = "Members by net earnings, most first; as CSV the rows",
        content((TopEarners = "application/json"), (String = "text/csv")))))]
async fn top_earners_report(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Query(range): Query<Range>,
    Query(top): Query<Top>,
) -> ApiResult<Response> {
    let asked = Asked::admin(&state, &auth, &range, &headers)?;
    let limit = match top.limit.as_deref().map(str::parse::<usize>) {
        None => 20,
        Some(Ok(n)) if (1..=200).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::field(StatusCode::BAD_REQUEST, "limit", "must be a whole number from 1 to 200"));
        }
    };
    let (interval, currency) = (asked.interval, state.settings.currency.clone());
    let report =
        in_snapshot(&state, |c| async move { commissions::top_earners(c, &interval, limit, &currency).await }.boxed())
            .await?;
    let rows = report.rows.iter().map(|r| vec![r.member_id.to_string(), r.name.clone(), r.earned.to_string()]);
    asked.answer(&report, "top_earners", &["member_id", "name", "earned"], rows)
}

/// `?period=&format=` of the rank advancement report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PeriodParam {
    /// A closed period, `YYYY-MM`.
    period: Option<String>,
    /// `json` (default) or `csv`; `Accept: text/csv` also asks for CSV.
    format: Option<String>,
}

/// Members who reached a higher rank in a closed period (admin).
#[utoipa::path(get, path = "/v1/admin/reports/rank-advancement", tag = "reports", params(PeriodParam),
    responses((status = 200, description = "Each advancement with the rank before and after; as CSV the rows, \
        after the period's bounds in the deployment's time zone",
        content((RankAdvancement = "application/json"), (String = "text/csv")))))]
async fn rank_advancement_report(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Query(param): Query<PeriodParam>,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let csv = csv_export::wanted(param.format.as_deref(), &headers)?;
    let period =
        param.period.ok_or_else(|| ApiError::field(StatusCode::BAD_REQUEST, "period", "is required (YYYY-MM)"))?;
    let asked = period.clone();
    let report = in_snapshot(&state, |c| async move { ranks::advancement(c, &asked).await }.boxed()).await?;
    if !csv {
        return Ok(Json(to_json(&report)?).into_response());
    }
    let zone = state.settings.time_zone;
    let (from, to) = haat_domain::compensation::periods::bounds(&period, zone)?;
    let rows = report.rows.iter().map(|r| {
        let rank = |r: &Option<String>| r.clone().unwrap_or_default();
        vec![r.member_id.to_string(), r.name.clone(), rank(&r.from_rank), r.to_rank.clone(), rank(&r.paid_as_rank)]
    });
    let header = ["member_id", "name", "from_rank", "to_rank", "paid_as_rank"];
    csv_export::attachment("rank_advancement", &Interval { from, to, time_zone: zone }, &header, rows)
}
