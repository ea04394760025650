//! A seller's lines — the orders of its products — as the seller and the
//! admin see them: what is to prepare and by when, and, once the order is
//! credited, the money of each line (fee, share, what returns took back,
//! the platform's margin, the hold).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::DomainResult;
use crate::money::{Money, Rate, in_minor_units};

/// One seller line.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SellerLine {
    /// The order line (also the cursor).
    pub order_line_id: Uuid,
    /// The order.
    pub order_id: Uuid,
    /// Its invoice number.
    pub invoice_no: String,
    /// The product's SKU.
    pub sku: String,
    /// The category it was sold in.
    pub category: String,
    /// Units sold.
    pub quantity: i32,
    /// Units returned, refunded or cancelled.
    pub reversed_quantity: i32,
    /// When it must be prepared by (absent until the order is ready:
    /// placed for cash on delivery, paid online).
    pub prepare_by: Option<DateTime<Utc>>,
    /// When the seller marked it prepared.
    pub prepared_at: Option<DateTime<Utc>>,
    /// Whether it was found late (neither prepared nor shipped in time).
    pub late: bool,
    /// The penalty it was charged for being late.
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub penalty: Option<Money>,
    /// The fee schedule version it was sold under.
    pub fee_schedule_version: i32,
    /// The fee rate it was sold under.
    pub fee_rate: Rate,
    /// The line's total after its share of the order's discounts (absent
    /// until the order is credited, as are the figures below).
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub basis: Option<Money>,
    /// The marketplace's fee.
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub fee: Option<Money>,
    /// The seller's share (basis − fee).
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub amount: Option<Money>,
    /// Of the share, taken back by returns.
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub reversed_amount: Option<Money>,
    /// Of the fee, given back with returns.
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub fee_reversed: Option<Money>,
    /// The platform's margin on the line: the fee kept, less the network's
    /// commissions and the buyer's instant reward on it (after returns);
    /// negative when the network earned more than the fee.
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub platform_margin: Option<Money>,
    /// `pending` (held) or `available` (released).
    pub status: Option<String>,
    /// When the hold ends (absent until delivery).
    pub release_at: Option<DateTime<Utc>>,
}

fn money(d: Option<rust_decimal::Decimal>) -> Option<Money> {
    d.map(|d| Money(in_minor_units(d)))
}

/// A page of a seller's lines, newest first, before cursor `before`.
pub async fn list(
    conn: &mut PgConnection,
    seller_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> DomainResult<Vec<SellerLine>> {
    let rows = sqlx::query!(
        r#"SELECT l.id, l.order_id, o.invoice_no, p.sku, l.category, l.quantity, l.reversed_quantity, l.prepare_by,
                  l.prepared_at, x.penalty AS "penalty?", s.version, l.fee_rate AS "fee_rate!",
                  c.basis AS "basis?", c.fee AS "fee?", c.amount AS "amount?",
                  c.reversed_amount AS "reversed_amount?", c.fee_reversed AS "fee_reversed?", c.status AS "status?",
                  c.release_at,
                  (SELECT coalesce(sum(m.amount - m.reversed_amount), 0) FROM commissions m
                    WHERE m.order_line_id = l.id) AS "commissions!",
                  (SELECT coalesce(sum(r.amount - r.reversed_amount), 0) FROM order_rewards r
                    WHERE r.order_line_id = l.id) AS "rewards!"
             FROM order_lines l
             JOIN orders o ON o.id = l.order_id
             JOIN products p ON p.id = l.product_id
             JOIN fee_schedules s ON s.id = l.fee_schedule_id
             LEFT JOIN seller_credits c ON c.order_line_id = l.id
             LEFT JOIN seller_late_lines x ON x.order_line_id = l.id
            WHERE l.seller_id = $1 AND ($2::uuid IS NULL OR l.id < $2)
            ORDER BY l.id DESC LIMIT $3"#,
        seller_id,
        before,
        limit
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let margin = r.fee.zip(r.fee_reversed).map(|(fee, back)| fee - back - r.commissions - r.rewards);
            SellerLine {
                order_line_id: r.id,
                order_id: r.order_id,
                invoice_no: r.invoice_no,
                sku: r.sku,
                category: r.category,
                quantity: r.quantity,
                reversed_quantity: r.reversed_quantity,
                prepare_by: r.prepare_by,
                prepared_at: r.prepared_at,
                late: r.penalty.is_some(),
                penalty: money(r.penalty),
                fee_schedule_version: r.version,
                fee_rate: super::fees::shown(r.fee_rate),
                basis: money(r.basis),
                fee: money(r.fee),
                amount: money(r.amount),
                reversed_amount: money(r.reversed_amount),
                fee_reversed: money(r.fee_reversed),
                platform_margin: money(margin),
                status: r.status,
                release_at: r.release_at,
            }
        })
        .collect())
}
