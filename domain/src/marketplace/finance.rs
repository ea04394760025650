//! A seller's finance report over an interval: what its lines brought in,
//! what the marketplace kept, what returns, refunds and penalties took
//! back, and what was paid out. Every figure is read from what was stored
//! when it happened (the credits, the reversals, the late lines, the
//! withdrawals), so the report adds up with the seller's ledger.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::DomainResult;
use crate::money::{Money, in_minor_units};
use crate::reports::{Heading, Interval};
use crate::rules::reversal::reversed_share;

/// `GET /v1/sellers/{id}/reports/finance`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SellerFinance {
    /// Interval, zone, currency and freshness.
    #[serde(flatten)]
    pub heading: Heading,
    /// The seller.
    pub seller_id: Uuid,
    /// The value of the lines credited in the interval (after discounts).
    pub revenue: Money,
    /// The marketplace's fees on them.
    pub fees: Money,
    /// The value of units returned in the interval (share and fee).
    pub returns: Money,
    /// The value of units refunded or cancelled in the interval.
    pub refunds: Money,
    /// The fees given back with those returns and refunds.
    pub fees_refunded: Money,
    /// Penalties charged for lines found late in the interval.
    pub penalties: Money,
    /// Withdrawals paid out in the interval.
    pub payouts: Money,
    /// revenue − fees − returns − refunds + fees refunded − penalties: what
    /// the seller earned in the interval (payouts are its own money moving).
    pub net: Money,
}

/// The seller's finance report over `interval`. Run it in a snapshot.
pub async fn report(
    conn: &mut PgConnection,
    seller_id: Uuid,
    interval: &Interval,
    currency: &str,
) -> DomainResult<SellerFinance> {
    let (from, to) = (interval.from, interval.to);
    let credited = sqlx::query!(
        r#"SELECT coalesce(sum(basis), 0) AS "revenue!", coalesce(sum(fee), 0) AS "fees!" FROM seller_credits
            WHERE seller_id = $1 AND created_at >= $2 AND created_at < $3"#,
        seller_id,
        from,
        to
    )
    .fetch_one(&mut *conn)
    .await?;
    let (returns, refunds, fees_refunded) = reversals(conn, seller_id, from, to).await?;
    let penalties = sqlx::query_scalar!(
        r#"SELECT coalesce(sum(penalty), 0) AS "p!" FROM seller_late_lines
            WHERE seller_id = $1 AND found_at >= $2 AND found_at < $3"#,
        seller_id,
        from,
        to
    )
    .fetch_one(&mut *conn)
    .await?;
    let payouts = sqlx::query_scalar!(
        r#"SELECT coalesce(sum(w.amount), 0) AS "p!" FROM withdrawals w
             JOIN withdrawal_history h ON h.withdrawal_id = w.id AND h.status = 'paid'
            WHERE w.seller_id = $1 AND h.at >= $2 AND h.at < $3"#,
        seller_id,
        from,
        to
    )
    .fetch_one(&mut *conn)
    .await?;
    let as_of = crate::reports::as_of(conn).await?;
    let m = |d: Decimal| Money(in_minor_units(d));
    let net = credited.revenue - credited.fees - returns - refunds + fees_refunded - penalties;
    Ok(SellerFinance {
        heading: interval.heading(currency, as_of),
        seller_id,
        revenue: m(credited.revenue),
        fees: m(credited.fees),
        returns: m(returns),
        refunds: m(refunds),
        fees_refunded: m(fees_refunded),
        penalties: m(penalties),
        payouts: m(payouts),
        net: m(net),
    })
}

/// (returns, refunds, fees refunded) recorded in `[from, to)`: each
/// reversal of a seller line takes the cumulative share of the stored share
/// and fee its units stand for (`rules::reversal`), exactly as the ledger
/// took them, attributed to the reversal's kind and time.
async fn reversals(
    conn: &mut PgConnection,
    seller_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> DomainResult<(Decimal, Decimal, Decimal)> {
    let rows = sqlx::query!(
        r#"SELECT c.order_line_id, c.amount, c.fee, l.quantity, r.kind, r.created_at, rl.quantity AS units
             FROM seller_credits c
             JOIN order_lines l ON l.id = c.order_line_id
             JOIN order_reversal_lines rl ON rl.order_line_id = c.order_line_id
             JOIN order_reversals r ON r.id = rl.reversal_id
            WHERE c.seller_id = $1 AND r.created_at < $2
            ORDER BY c.order_line_id, r.seq"#,
        seller_id,
        to
    )
    .fetch_all(conn)
    .await?;
    let (mut returns, mut refunds, mut fees_back) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    let mut units_so_far: BTreeMap<Uuid, i32> = BTreeMap::new();
    for r in rows {
        let before = units_so_far.get(&r.order_line_id).copied().unwrap_or(0);
        let after = before + r.units;
        units_so_far.insert(r.order_line_id, after);
        if r.created_at < from {
            continue;
        }
        let taken =
            |stored: Decimal| reversed_share(stored, r.quantity, after) - reversed_share(stored, r.quantity, before);
        let (share, fee) = (taken(r.amount), taken(r.fee));
        match r.kind.as_str() {
            "return" => returns += share + fee,
            _ => refunds += share + fee,
        }
        fees_back += fee;
    }
    Ok((returns, refunds, fees_back))
}
