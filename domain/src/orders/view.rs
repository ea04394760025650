//! Reading orders: one with its lines, history and events, a member's
//! orders a page at a time, and the lookups webhooks and access checks need.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::facts::{LoggedFact, stored_method, stored_status};
use crate::rules::order_state::{OrderStatus, Outcome, PaymentMethod};

use super::reversals;
use crate::error::{DomainError, DomainResult};
use crate::money::in_minor_units as money;

/// A stored order line.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderLine {
    /// Id.
    pub id: Uuid,
    /// Product.
    pub product_id: Uuid,
    /// Units.
    pub quantity: i32,
    /// Price per unit at order time.
    #[schema(value_type = crate::money::DecimalText)]
    pub unit_price: Decimal,
    /// PV per unit at order time.
    #[schema(value_type = crate::money::DecimalText)]
    pub pv: Decimal,
    /// BV per unit at order time.
    #[schema(value_type = crate::money::DecimalText)]
    pub bv: Decimal,
    /// unit_price × quantity.
    #[schema(value_type = crate::money::DecimalText)]
    pub line_total: Decimal,
    /// Units returned, refunded or cancelled so far.
    pub reversed_quantity: i32,
    /// The catalog price, when a business account's price list or
    /// quantity break priced the line instead.
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub catalog_price: Option<Decimal>,
    /// The price list that priced the line.
    pub price_list_id: Option<Uuid>,
    /// The quantity break that applied.
    pub quantity_break_id: Option<Uuid>,
}

/// One status change.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryItem {
    /// The new status.
    pub status: OrderStatus,
    /// When.
    pub at: DateTime<Utc>,
    /// Who caused it (`api`, `webhook:{provider}:{id}`, …).
    pub source: String,
}

/// An order with its lines and history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Order {
    /// Id.
    pub id: Uuid,
    /// What gateways and couriers call it.
    pub invoice_no: String,
    /// The buying member (null for a guest order).
    pub buyer_id: Option<Uuid>,
    /// A guest order's referrer: the member whose share link it came
    /// through (gets the volume as customer volume and the retail margin).
    pub referrer_id: Option<Uuid>,
    /// A guest order's buyer.
    pub guest: Option<serde_json::Value>,
    /// Where the order is collected.
    pub pickup_point_id: Option<Uuid>,
    /// The business account the buyer bought for.
    pub business_account_id: Option<Uuid>,
    /// Derived from the facts.
    pub status: OrderStatus,
    /// How the buyer pays.
    pub payment_method: PaymentMethod,
    /// Currency of all amounts.
    pub currency: String,
    /// Lines.
    pub lines: Vec<OrderLine>,
    /// Σ line totals.
    #[schema(value_type = crate::money::DecimalText)]
    pub subtotal: Decimal,
    /// Discount (from the coupon).
    #[schema(value_type = crate::money::DecimalText)]
    pub discount: Decimal,
    /// The coupon redeemed.
    pub coupon_id: Option<Uuid>,
    /// Store credit spent.
    #[schema(value_type = crate::money::DecimalText)]
    pub store_credit: Decimal,
    /// What the buyer pays.
    #[schema(value_type = crate::money::DecimalText)]
    pub total: Decimal,
    /// Σ PV.
    #[schema(value_type = crate::money::DecimalText)]
    pub pv: Decimal,
    /// Σ BV.
    #[schema(value_type = crate::money::DecimalText)]
    pub bv: Decimal,
    /// Shipping address.
    pub shipping_address: serde_json::Value,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Status changes, oldest first.
    pub history: Vec<HistoryItem>,
    /// Every fact reported, with what it did (`applied`, `held`,
    /// `duplicate`, `ignored`), oldest first.
    pub events: Vec<EventItem>,
    /// Returns, refunds and cancellation, oldest first.
    pub reversals: Vec<reversals::Reversal>,
}

/// One reported fact and what it did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventItem {
    /// `paid`, `delivered`, `return`, …
    pub fact: LoggedFact,
    /// What it did.
    pub outcome: Outcome,
    /// Who reported it.
    pub source: String,
    /// When.
    pub at: DateTime<Utc>,
}
/// An order as a list shows it: its figures and status, without lines or
/// history (`get` has those).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderSummary {
    /// Id.
    pub id: Uuid,
    /// Invoice number.
    pub invoice_no: String,
    /// Status.
    pub status: OrderStatus,
    /// How the buyer pays.
    pub payment_method: PaymentMethod,
    /// Currency.
    pub currency: String,
    /// Σ lines.
    #[schema(value_type = crate::money::DecimalText)]
    pub subtotal: Decimal,
    /// Coupon discount.
    #[schema(value_type = crate::money::DecimalText)]
    pub discount: Decimal,
    /// Store credit spent.
    #[schema(value_type = crate::money::DecimalText)]
    pub store_credit: Decimal,
    /// What the buyer pays.
    #[schema(value_type = crate::money::DecimalText)]
    pub total: Decimal,
    /// Σ PV.
    #[schema(value_type = crate::money::DecimalText)]
    pub pv: Decimal,
    /// Σ BV.
    #[schema(value_type = crate::money::DecimalText)]
    pub bv: Decimal,
    /// Placed.
    pub created_at: DateTime<Utc>,
}

/// A page of the orders `member_id` placed, newest first.
pub async fn list_for_member(
    conn: &mut PgConnection,
    member_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> DomainResult<Vec<OrderSummary>> {
    let rows = sqlx::query!(
        "SELECT id, invoice_no, status, payment_method, currency, subtotal, discount, store_credit, total, pv, bv,
                created_at
           FROM orders WHERE buyer_id = $1 AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
        member_id,
        before,
        limit
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|o| {
            Ok(OrderSummary {
                id: o.id,
                invoice_no: o.invoice_no,
                status: stored_status(o.id, &o.status)?,
                payment_method: stored_method(o.id, &o.payment_method)?,
                currency: o.currency,
                subtotal: money(o.subtotal),
                discount: money(o.discount),
                store_credit: money(o.store_credit),
                total: money(o.total),
                pv: money(o.pv),
                bv: money(o.bv),
                created_at: o.created_at,
            })
        })
        .collect()
}

/// Reads an order with its lines and history.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> DomainResult<Order> {
    read(conn, id, Recorded::Read).await
}

/// The order that `place` has just written, in the placing transaction:
/// nobody else sees it yet, so no fact and no return can have been
/// recorded for it, and only its row, lines and history are read.
pub(super) async fn just_placed(conn: &mut PgConnection, id: Uuid) -> DomainResult<Order> {
    read(conn, id, Recorded::NoneYet).await
}

/// Whether an order's recorded facts and returns are read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Recorded {
    /// Read them.
    Read,
    /// There are none (the order was placed in this transaction).
    NoneYet,
}

async fn read(conn: &mut PgConnection, id: Uuid, recorded: Recorded) -> DomainResult<Order> {
    let o = sqlx::query!("SELECT * FROM orders WHERE id = $1", id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(DomainError::NotFound("order"))?;
    let lines = sqlx::query_as!(
        OrderLine,
        "SELECT id, product_id, quantity, unit_price, pv, bv, line_total, reversed_quantity, catalog_price,
                price_list_id, quantity_break_id
           FROM order_lines WHERE order_id = $1 ORDER BY line_no",
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    let history = sqlx::query!("SELECT status, at, source FROM order_history WHERE order_id = $1 ORDER BY id", id)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|h| Ok(HistoryItem { status: stored_status(id, &h.status)?, at: h.at, source: h.source }))
        .collect::<DomainResult<Vec<_>>>()?;
    let (events, reversals) = match recorded {
        Recorded::NoneYet => (Vec::new(), Vec::new()),
        Recorded::Read => {
            let events = sqlx::query_as!(
                EventItem,
                r#"SELECT fact AS "fact: LoggedFact", outcome AS "outcome: Outcome", source, at FROM order_events
                    WHERE order_id = $1 ORDER BY id"#,
                id
            )
            .fetch_all(&mut *conn)
            .await?;
            (events, reversals::list(conn, id).await?)
        }
    };
    Ok(Order {
        id: o.id,
        invoice_no: o.invoice_no,
        buyer_id: o.buyer_id,
        referrer_id: o.referrer_id,
        guest: o.guest,
        pickup_point_id: o.pickup_point_id,
        business_account_id: o.business_account_id,
        status: stored_status(o.id, &o.status)?,
        payment_method: stored_method(o.id, &o.payment_method)?,
        currency: o.currency,
        lines,
        subtotal: money(o.subtotal),
        discount: money(o.discount),
        coupon_id: o.coupon_id,
        store_credit: money(o.store_credit),
        total: money(o.total),
        pv: o.pv,
        bv: o.bv,
        shipping_address: o.shipping_address,
        created_at: o.created_at,
        history,
        events,
        reversals,
    })
}

/// The member whose order it is (for access checks): the buyer, or a guest
/// order's referrer.
pub async fn owner_of(conn: &mut PgConnection, id: Uuid) -> DomainResult<Uuid> {
    sqlx::query_scalar!(r#"SELECT coalesce(buyer_id, referrer_id) AS "owner!" FROM orders WHERE id = $1"#, id)
        .fetch_optional(conn)
        .await?
        .ok_or(DomainError::NotFound("order"))
}

/// The order a provider's invoice number names.
pub async fn id_by_invoice(conn: &mut PgConnection, invoice_no: &str) -> DomainResult<Option<Uuid>> {
    Ok(sqlx::query_scalar!("SELECT id FROM orders WHERE invoice_no = $1", invoice_no).fetch_optional(conn).await?)
}
