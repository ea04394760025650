//! Sales over an interval, by day, product, category or seller. An order
//! counts when it was paid (cod: when delivered, the collection being the
//! payment); a return, refund or cancellation of a paid order counts when
//! it was recorded. Discounts and store credit are spread over an order's
//! lines by line total, truncated to the paisa, the first line taking what
//! truncation left, so every grouping adds up to the same totals.

use futures::StreamExt;
use serde::Serialize;
use sqlx::PgConnection;

use super::{Grouped, Heading, Interval, RowStream};
use crate::error::DomainResult;
use crate::money::{Money, Volume, in_minor_units};

crate::words::stored_words!(
    /// How the sales report groups its rows.
    SalesGroup {
        /// The local day (in the report's zone) of the sale or reversal.
        Day = "day",
        /// The product's SKU.
        Product = "product",
        /// The product's category at order time.
        Category = "category",
        /// The product's seller (`none`: the shop's own).
        Seller = "seller",
    }
);

impl SalesGroup {
    /// Parses `group_by` (default `day`).
    pub fn parse_param(raw: Option<&str>) -> DomainResult<Self> {
        super::group_by(raw, Self::Day, Self::parse, "day, product, category or seller")
    }
}

/// One group's figures (or, as `totals`, every group's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SalesRow {
    /// The group (`2026-11-03`, a SKU, a category, a seller id or `none`);
    /// absent on the totals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Orders paid in the interval with a line in the group.
    pub orders: i64,
    /// Units of those lines.
    pub units: i64,
    /// Σ line totals at order prices.
    pub gross: Money,
    /// Coupon discounts, spread over lines.
    pub discounts: Money,
    /// Store credit spent, spread over lines.
    pub store_credit: Money,
    /// Units returned, refunded or cancelled after payment, at the price
    /// paid after the order's discount.
    pub refunds: Money,
    /// gross − discounts − store credit − refunds.
    pub net: Money,
    /// PV of the units sold.
    pub pv: Volume,
    /// BV of the units sold.
    pub bv: Volume,
    /// The marketplace's fees on the sellers' lines sold, as they stand now
    /// (less what returns gave back; a line counts once it is credited).
    pub fees: Money,
    /// The platform's margin on those lines: the fees kept less the
    /// network's commissions and the buyers' instant rewards on them (after
    /// returns); negative when the network earned more than the fees. The
    /// shop's own products count 0 here (they carry no fee).
    pub platform_margin: Money,
}

/// `GET /v1/admin/reports/sales`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Sales {
    /// Interval, zone, currency and freshness.
    #[serde(flatten)]
    pub heading: Heading,
    /// How the rows are grouped.
    pub group_by: SalesGroup,
    /// One per group, in key order.
    pub rows: Vec<SalesRow>,
    /// Over every group.
    pub totals: SalesRow,
}

/// The sales report, read whole. Run it in a snapshot
/// (`platform::db::snapshot`).
pub async fn sales(
    conn: &mut PgConnection,
    interval: &Interval,
    group_by: SalesGroup,
    currency: &str,
) -> DomainResult<Sales> {
    let (heading, rows) = sales_rows(conn, interval, group_by, currency).await?;
    let (rows, totals) = super::collect(rows).await?;
    Ok(Sales { heading, group_by, rows, totals })
}

/// The sales report's heading, then its rows as they are read (the groups
/// in key order, the totals last). Run it in a snapshot.
pub async fn sales_rows<'c>(
    conn: &'c mut PgConnection,
    interval: &Interval,
    group_by: SalesGroup,
    currency: &str,
) -> DomainResult<(Heading, RowStream<'c, SalesRow>)> {
    let heading = interval.heading(currency, super::as_of(conn).await?);
    let rows = sqlx::query!(
        r#"WITH sold AS (
             SELECT o.id AS order_id, o.paid_at AS at, p.sku, l.category, coalesce(l.seller_id, p.seller_id) AS seller_id,
                    l.quantity, l.line_total,
                    l.pv * l.quantity AS pv, l.bv * l.quantity AS bv,
                    coalesce(trunc(l.line_total * o.discount / nullif(o.subtotal, 0), 2), 0) AS discount_share,
                    coalesce(trunc(l.line_total * o.store_credit / nullif(o.subtotal, 0), 2), 0) AS credit_share,
                    o.discount, o.store_credit,
                    l.line_no = min(l.line_no) OVER (PARTITION BY o.id) AS first_line,
                    coalesce(c.fee - c.fee_reversed, 0) AS fee_kept,
                    CASE WHEN c.order_line_id IS NULL THEN 0
                         ELSE c.fee - c.fee_reversed
                              - (SELECT coalesce(sum(m.amount - m.reversed_amount), 0) FROM commissions m
                                  WHERE m.order_line_id = l.id)
                              - (SELECT coalesce(sum(w.amount - w.reversed_amount), 0) FROM order_rewards w
                                  WHERE w.order_line_id = l.id) END AS margin
               FROM orders o
               JOIN order_lines l ON l.order_id = o.id
               JOIN products p ON p.id = l.product_id
               LEFT JOIN seller_credits c ON c.order_line_id = l.id
              WHERE o.paid_at >= $1 AND o.paid_at < $2 AND o.currency = $5
           ), spread AS (
             SELECT *,
                    discount_share + CASE WHEN first_line
                        THEN discount - sum(discount_share) OVER (PARTITION BY order_id) ELSE 0 END AS discounts,
                    credit_share + CASE WHEN first_line
                        THEN store_credit - sum(credit_share) OVER (PARTITION BY order_id) ELSE 0 END AS credits
               FROM sold
           ), refunded AS (
             SELECT r.created_at AS at, p.sku, l.category, coalesce(l.seller_id, p.seller_id) AS seller_id,
                    coalesce(trunc(rl.quantity * l.unit_price * (o.subtotal - o.discount) / nullif(o.subtotal, 0), 2), 0)
                        AS refund
               FROM order_reversals r
               JOIN order_reversal_lines rl ON rl.reversal_id = r.id
               JOIN order_lines l ON l.id = rl.order_line_id
               JOIN orders o ON o.id = r.order_id
               JOIN products p ON p.id = l.product_id
              WHERE o.paid_at IS NOT NULL AND r.created_at >= $1 AND r.created_at < $2 AND o.currency = $5
           ), facts AS (
             SELECT order_id, at, sku, category, seller_id, quantity::bigint AS units, line_total AS gross,
                    discounts, credits, 0::numeric AS refunds, pv, bv, fee_kept, margin
               FROM spread
             UNION ALL
             SELECT NULL, at, sku, category, seller_id, 0, 0, 0, 0, refund, 0, 0, 0, 0 FROM refunded
           ), keyed AS (
             SELECT CASE $3::text
                      WHEN 'day' THEN to_char(at AT TIME ZONE $4::text, 'YYYY-MM-DD')
                      WHEN 'product' THEN sku
                      WHEN 'category' THEN category
                      ELSE coalesce(seller_id::text, 'none')
                    END AS key, *
               FROM facts
           )
           SELECT key, GROUPING(key) = 1 AS "total!", count(DISTINCT order_id) AS "orders!",
                  coalesce(sum(units), 0)::bigint AS "units!", coalesce(sum(gross), 0) AS "gross!",
                  coalesce(sum(discounts), 0) AS "discounts!", coalesce(sum(credits), 0) AS "store_credit!",
                  coalesce(sum(refunds), 0) AS "refunds!", coalesce(sum(pv), 0) AS "pv!", coalesce(sum(bv), 0) AS "bv!",
                  coalesce(sum(fee_kept), 0) AS "fees!", coalesce(sum(margin), 0) AS "margin!"
             FROM keyed
            GROUP BY GROUPING SETS ((key), ())
            ORDER BY GROUPING(key), key"#,
        interval.from,
        interval.to,
        group_by.as_str(),
        interval.time_zone.name(),
        currency
    )
    .fetch(conn)
    .map(|found| {
        let r = found?;
        let (gross, discounts) = (Money(in_minor_units(r.gross)), Money(in_minor_units(r.discounts)));
        let (store_credit, refunds) = (Money(in_minor_units(r.store_credit)), Money(in_minor_units(r.refunds)));
        let row = SalesRow {
            key: if r.total { None } else { r.key },
            orders: r.orders,
            units: r.units,
            gross,
            discounts,
            store_credit,
            refunds,
            net: gross - discounts - store_credit - refunds,
            pv: Volume(in_minor_units(r.pv)),
            bv: Volume(in_minor_units(r.bv)),
            fees: Money(in_minor_units(r.fees)),
            platform_margin: Money(in_minor_units(r.margin)),
        };
        Ok(Grouped::of(r.total, row))
    })
    .boxed();
    Ok((heading, rows))
}
