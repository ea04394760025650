//! Withdrawals requested over an interval, by status or method: how many,
//! how much, and how long the paid ones took from request to paid.

use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;

use super::{Heading, Interval};
use crate::error::DomainResult;
use crate::money::{Money, in_minor_units};

crate::words::stored_words!(
    /// How the payouts report groups its rows.
    PayoutGroup {
        /// The withdrawal's status now.
        Status = "status",
        /// The payout method (`bkash`, `nagad`, `bank`, …).
        Method = "method",
    }
);

impl PayoutGroup {
    /// Parses `group_by` (default `status`).
    pub fn parse_param(raw: Option<&str>) -> DomainResult<Self> {
        super::group_by(raw, Self::Status, Self::parse, "status or method")
    }
}

/// One group of withdrawals (or, as `totals`, all of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PayoutRow {
    /// The status or method; absent on the totals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Withdrawals requested in the interval.
    pub count: i64,
    /// Their amounts.
    pub amount: Money,
    /// Median hours from request to paid over the paid ones, to two places
    /// (null when none was paid).
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub median_hours_to_paid: Option<Decimal>,
}

/// `GET /v1/admin/reports/payouts`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Payouts {
    /// Interval, zone, currency and freshness.
    #[serde(flatten)]
    pub heading: Heading,
    /// How the rows are grouped.
    pub group_by: PayoutGroup,
    /// One per group, in key order.
    pub rows: Vec<PayoutRow>,
    /// Over every group.
    pub totals: PayoutRow,
}

/// The payouts report. Run it in a snapshot (`platform::db::snapshot`).
pub async fn payouts(
    conn: &mut PgConnection,
    interval: &Interval,
    group_by: PayoutGroup,
    currency: &str,
) -> DomainResult<Payouts> {
    let as_of = super::as_of(conn).await?;
    let found = sqlx::query!(
        r#"WITH asked AS (
             SELECT CASE $3::text WHEN 'status' THEN w.status ELSE w.method END AS key, w.amount,
                    (SELECT extract(epoch FROM min(h.at) - w.created_at) / 3600 FROM withdrawal_history h
                      WHERE h.withdrawal_id = w.id AND h.status = 'paid') AS hours
               FROM withdrawals w
              WHERE w.created_at >= $1 AND w.created_at < $2 AND w.currency = $4
           )
           SELECT key, GROUPING(key) = 1 AS "total!", count(*) AS "count!", coalesce(sum(amount), 0) AS "amount!",
                  round((percentile_cont(0.5) WITHIN GROUP (ORDER BY hours))::numeric, 2) AS median
             FROM asked
            GROUP BY GROUPING SETS ((key), ())
            ORDER BY GROUPING(key), key"#,
        interval.from,
        interval.to,
        group_by.as_str(),
        currency
    )
    .fetch_all(&mut *conn)
    .await?;
    let (rows, totals) = super::groups_and_total(found.into_iter().map(|r| {
        let row = PayoutRow {
            key: if r.total { None } else { r.key },
            count: r.count,
            amount: Money(in_minor_units(r.amount)),
            median_hours_to_paid: r.median.map(in_minor_units),
        };
        (r.total, row)
    }))?;
    Ok(Payouts { heading: interval.heading(currency, as_of), group_by, rows, totals })
}
