//! Orders: placing them (stock taken atomically, all or nothing), reading
//! them with their history, and applying the facts providers report.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult, Problems};
use crate::jobs::{self, CreditVolume};
use crate::ledger::{self, Account, Entry, MemberAccount, Posting, SystemAccount};
use crate::money::{MONEY_SCALE, parse_amount};
use crate::notifications::{self, Email};
use crate::plans;
use crate::rules::order_state::{self, Facts, OrderFact, Outcome, PaymentMethod};

/// Most lines one order may have.
pub const MAX_LINES: usize = 100;
/// Most units of one line.
pub const MAX_QUANTITY: i64 = 10_000;

/// One requested line.
#[derive(Debug, Clone, Deserialize)]
pub struct NewLine {
    /// The product.
    pub product_id: Uuid,
    /// Units, at least 1.
    pub quantity: i64,
}

/// Where to ship.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Address {
    /// Recipient.
    pub name: String,
    /// Phone.
    pub phone: String,
    /// Street address.
    pub line1: String,
    /// More street address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// Postcode.
    #[serde(default)]
    pub postcode: Option<String>,
}

/// An order as a storefront sends it.
#[derive(Debug, Clone, Deserialize)]
pub struct NewOrder {
    /// The buying member.
    #[serde(default)]
    pub buyer_id: Option<Uuid>,
    /// A guest buyer (not supported yet).
    #[serde(default)]
    pub guest: Option<serde_json::Value>,
    /// The referrer of a guest order (not supported yet).
    #[serde(default)]
    pub referrer_code: Option<String>,
    /// What is bought.
    pub lines: Vec<NewLine>,
    /// Where to.
    pub shipping_address: Address,
    /// `online` or `cod`.
    pub payment_method: String,
    /// Not supported yet.
    #[serde(default)]
    pub coupon_code: Option<String>,
    /// Store credit to spend, a decimal string.
    #[serde(default)]
    pub store_credit: Option<String>,
    /// Not supported yet.
    #[serde(default)]
    pub pickup_point_id: Option<Uuid>,
}

/// A stored order line.
#[derive(Debug, Clone, Serialize)]
pub struct OrderLine {
    /// Id.
    pub id: Uuid,
    /// Product.
    pub product_id: Uuid,
    /// Units.
    pub quantity: i32,
    /// Price per unit at order time.
    pub unit_price: Decimal,
    /// PV per unit at order time.
    pub pv: Decimal,
    /// BV per unit at order time.
    pub bv: Decimal,
    /// unit_price × quantity.
    pub line_total: Decimal,
}

/// One status change.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryItem {
    /// The new status.
    pub status: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Who caused it (`api`, `webhook:{provider}:{id}`, …).
    pub source: String,
}

/// An order with its lines and history.
#[derive(Debug, Clone, Serialize)]
pub struct Order {
    /// Id.
    pub id: Uuid,
    /// What gateways and couriers call it.
    pub invoice_no: String,
    /// The buyer.
    pub buyer_id: Uuid,
    /// Derived from the facts.
    pub status: String,
    /// `online` or `cod`.
    pub payment_method: String,
    /// Currency of all amounts.
    pub currency: String,
    /// Lines.
    pub lines: Vec<OrderLine>,
    /// Σ line totals.
    pub subtotal: Decimal,
    /// Discount.
    pub discount: Decimal,
    /// Store credit spent.
    pub store_credit: Decimal,
    /// What the buyer pays.
    pub total: Decimal,
    /// Σ PV.
    pub pv: Decimal,
    /// Σ BV.
    pub bv: Decimal,
    /// Shipping address.
    pub shipping_address: serde_json::Value,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Status changes, oldest first.
    pub history: Vec<HistoryItem>,
}

struct Priced {
    product_id: Uuid,
    quantity: i32,
    unit_price: Decimal,
    pv: Decimal,
    bv: Decimal,
    category: String,
    commissionable: bool,
}

fn check_request(input: &NewOrder) -> DomainResult<(Uuid, PaymentMethod, Decimal)> {
    let mut p = Problems::default();
    if input.guest.is_some() || input.referrer_code.is_some() {
        p.add("guest", "guest orders are not supported yet: send buyer_id");
    }
    let buyer = input.buyer_id;
    if buyer.is_none() && input.guest.is_none() {
        p.add("buyer_id", "is required");
    }
    if input.lines.is_empty() || input.lines.len() > MAX_LINES {
        p.add("lines", format!("must have 1 to {MAX_LINES} lines"));
    }
    for (i, line) in input.lines.iter().enumerate() {
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            p.add(format!("lines[{i}].quantity"), format!("must be from 1 to {MAX_QUANTITY}"));
        }
    }
    let method = PaymentMethod::parse(&input.payment_method);
    if method.is_none() {
        p.add("payment_method", "must be \"online\" or \"cod\"");
    }
    if input.coupon_code.is_some() {
        p.add("coupon_code", "coupons are not supported yet: send null");
    }
    if input.pickup_point_id.is_some() {
        p.add("pickup_point_id", "pickup points are not supported yet: send null");
    }
    let credit = match &input.store_credit {
        None => Some(Decimal::new(0, MONEY_SCALE)),
        Some(s) => p.check("store_credit", parse_amount(s, MONEY_SCALE)),
    };
    let a = &input.shipping_address;
    for (field, value) in [("name", &a.name), ("phone", &a.phone), ("line1", &a.line1), ("city", &a.city)] {
        if value.trim().is_empty() || value.len() > 300 {
            p.add(format!("shipping_address.{field}"), "must be 1 to 300 characters");
        }
    }
    p.finish()?;
    match (buyer, method, credit) {
        (Some(b), Some(m), Some(c)) => Ok((b, m, c)),
        _ => Err(DomainError::invalid("buyer_id", "is required")),
    }
}

/// Places an order: checks the buyer, takes stock for every line (all or
/// nothing: any refusal rolls the caller's transaction back), spends store
/// credit, writes the order and its "placed" notification.
pub async fn place(conn: &mut PgConnection, input: &NewOrder, currency: &str) -> DomainResult<Order> {
    let (buyer_id, method, store_credit) = check_request(input)?;
    let buyer = sqlx::query!("SELECT status, email, name FROM members WHERE id = $1 FOR SHARE", buyer_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| DomainError::invalid("buyer_id", "no such member"))?;
    if buyer.status != "active" {
        return Err(DomainError::invalid("buyer_id", "a suspended member cannot order"));
    }
    let priced = take_stock(conn, &input.lines).await?;
    let subtotal: Decimal = priced.iter().map(|l| l.unit_price * Decimal::from(l.quantity)).sum();
    if store_credit > subtotal {
        return Err(DomainError::invalid("store_credit", "is more than the order's subtotal"));
    }
    let discount = Decimal::new(0, MONEY_SCALE);
    let total = subtotal - discount - store_credit;
    let pv: Decimal = priced.iter().map(|l| l.pv * Decimal::from(l.quantity)).sum();
    let bv: Decimal = priced.iter().map(|l| l.bv * Decimal::from(l.quantity)).sum();
    let id = Uuid::now_v7();
    let seq = sqlx::query_scalar!(r#"SELECT nextval('invoice_no_seq') AS "n!""#).fetch_one(&mut *conn).await?;
    let invoice_no = format!("INV-{seq:06}");
    let address = serde_json::to_value(&input.shipping_address).map_err(anyhow::Error::from)?;
    sqlx::query!(
        "INSERT INTO orders (id, invoice_no, buyer_id, status, payment_method, currency, subtotal, discount,
                             store_credit, total, pv, bv, shipping_address)
         VALUES ($1, $2, $3, 'pending_payment', $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        id,
        invoice_no,
        buyer_id,
        method.as_str(),
        currency,
        subtotal,
        discount,
        store_credit,
        total,
        pv,
        bv,
        address
    )
    .execute(&mut *conn)
    .await?;
    for (i, l) in priced.iter().enumerate() {
        sqlx::query!(
            "INSERT INTO order_lines (id, order_id, line_no, product_id, quantity, unit_price, pv, bv, line_total,
                                      category, commissionable)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            Uuid::now_v7(),
            id,
            i as i32 + 1,
            l.product_id,
            l.quantity,
            l.unit_price,
            l.pv,
            l.bv,
            l.unit_price * Decimal::from(l.quantity),
            l.category,
            l.commissionable
        )
        .execute(&mut *conn)
        .await?;
    }
    record_history(conn, id, "pending_payment", "api").await?;
    if !store_credit.is_zero() {
        spend_store_credit(conn, currency, id, buyer_id, store_credit).await?;
    }
    let email = Email {
        dedupe_key: format!("order_placed:{id}"),
        member_id: Some(buyer_id),
        to: buyer.email,
        subject: format!("Order {invoice_no} received"),
        body: format!("Dear {},\n\nwe received your order {invoice_no} of {total} {currency}.\n", buyer.name),
    };
    notifications::queue(conn, &email).await?;
    get(conn, id).await
}

/// Decrements stock for every product of the order, in product-id order (so
/// concurrent orders never deadlock), refusing the whole order on the first
/// unknown product or shortfall.
async fn take_stock(conn: &mut PgConnection, lines: &[NewLine]) -> DomainResult<Vec<Priced>> {
    let mut wanted: BTreeMap<Uuid, (i64, usize)> = BTreeMap::new();
    for (i, l) in lines.iter().enumerate() {
        let e = wanted.entry(l.product_id).or_insert((0, i));
        e.0 += l.quantity;
    }
    let mut found = BTreeMap::new();
    for (product_id, (quantity, first_line)) in wanted {
        let qty = i32::try_from(quantity).unwrap_or(i32::MAX);
        let row = sqlx::query!(
            "UPDATE products SET stock = stock - $2, updated_at = now()
              WHERE id = $1 AND active AND stock >= $2
              RETURNING price, pv, bv, category, commissionable",
            product_id,
            qty
        )
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else {
            return Err(refusal(conn, product_id, first_line).await);
        };
        found.insert(product_id, row);
    }
    Ok(lines
        .iter()
        .map(|l| {
            let p = &found[&l.product_id];
            Priced {
                product_id: l.product_id,
                quantity: l.quantity as i32,
                unit_price: p.price,
                pv: p.pv,
                bv: p.bv,
                category: p.category.clone(),
                commissionable: p.commissionable,
            }
        })
        .collect())
}

async fn refusal(conn: &mut PgConnection, product_id: Uuid, line: usize) -> DomainError {
    let row = sqlx::query!("SELECT active, stock FROM products WHERE id = $1", product_id).fetch_optional(conn).await;
    match row {
        Ok(Some(p)) if p.active => {
            DomainError::conflict(format!("lines[{line}].quantity"), format!("not enough stock: {} available", p.stock))
        }
        Ok(_) => DomainError::invalid(format!("lines[{line}].product_id"), "no such product, or not for sale"),
        Err(e) => e.into(),
    }
}

async fn spend_store_credit(
    conn: &mut PgConnection,
    currency: &str,
    order_id: Uuid,
    buyer_id: Uuid,
    amount: Decimal,
) -> DomainResult<()> {
    let balance = ledger::wallet(conn, buyer_id).await?.credit;
    if balance < amount {
        return Err(DomainError::invalid("store_credit", format!("is more than the buyer's {balance} of credit")));
    }
    let key = format!("order_store_credit:{order_id}");
    let reference = order_id.to_string();
    ledger::post(
        conn,
        currency,
        Entry {
            idempotency_key: &key,
            kind: "store_credit_spent",
            reference: &reference,
            postings: vec![
                Posting { account: Account::Member(buyer_id, MemberAccount::Credit), amount: -amount },
                Posting { account: Account::System(SystemAccount::StoreCreditRedeemed), amount },
            ],
        },
    )
    .await?;
    Ok(())
}

async fn record_history(conn: &mut PgConnection, order_id: Uuid, status: &str, source: &str) -> DomainResult<()> {
    sqlx::query!("INSERT INTO order_history (order_id, status, source) VALUES ($1, $2, $3)", order_id, status, source)
        .execute(conn)
        .await?;
    Ok(())
}

/// Reads an order with its lines and history.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> DomainResult<Order> {
    let o = sqlx::query!("SELECT * FROM orders WHERE id = $1", id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(DomainError::NotFound("order"))?;
    let lines = sqlx::query_as!(
        OrderLine,
        "SELECT id, product_id, quantity, unit_price, pv, bv, line_total FROM order_lines
          WHERE order_id = $1 ORDER BY line_no",
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    let history = sqlx::query_as!(
        HistoryItem,
        "SELECT status, at, source FROM order_history WHERE order_id = $1 ORDER BY id",
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(Order {
        id: o.id,
        invoice_no: o.invoice_no,
        buyer_id: o.buyer_id,
        status: o.status,
        payment_method: o.payment_method,
        currency: o.currency,
        lines,
        subtotal: o.subtotal,
        discount: o.discount,
        store_credit: o.store_credit,
        total: o.total,
        pv: o.pv,
        bv: o.bv,
        shipping_address: o.shipping_address,
        created_at: o.created_at,
        history,
    })
}

/// The order's buyer (for access checks).
pub async fn buyer_of(conn: &mut PgConnection, id: Uuid) -> DomainResult<Uuid> {
    sqlx::query_scalar!("SELECT buyer_id FROM orders WHERE id = $1", id)
        .fetch_optional(conn)
        .await?
        .ok_or(DomainError::NotFound("order"))
}

/// The order a provider's invoice number names.
pub async fn id_by_invoice(conn: &mut PgConnection, invoice_no: &str) -> DomainResult<Option<Uuid>> {
    Ok(sqlx::query_scalar!("SELECT id FROM orders WHERE invoice_no = $1", invoice_no).fetch_optional(conn).await?)
}

/// Applies a reported fact to an order, under the order's row lock (so two
/// webhooks for one order never interleave). Records the fact whatever its
/// outcome, records a status change in the history, and — once the facts
/// satisfy the plan's `credit_on` — marks the order commissionable under the
/// plan version in effect now and enqueues `credit_volume` in this
/// transaction.
pub async fn apply_fact(
    conn: &mut PgConnection,
    order_id: Uuid,
    fact: OrderFact,
    source: &str,
    now: DateTime<Utc>,
) -> DomainResult<Outcome> {
    let o = sqlx::query!(
        "SELECT payment_method, status, paid_at, shipped_at, delivered_at, cancelled_at, commissionable_at,
                invoice_no, buyer_id
           FROM orders WHERE id = $1 FOR UPDATE",
        order_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let method = PaymentMethod::parse(&o.payment_method).unwrap_or(PaymentMethod::Online);
    let facts = Facts {
        paid: o.paid_at.is_some(),
        shipped: o.shipped_at.is_some(),
        delivered: o.delivered_at.is_some(),
        cancelled: o.cancelled_at.is_some(),
    };
    let (next, outcome) = order_state::apply(method, facts, fact);
    sqlx::query!(
        "INSERT INTO order_events (order_id, fact, outcome, source, at) VALUES ($1, $2, $3, $4, $5)",
        order_id,
        fact.as_str(),
        outcome.as_str(),
        source,
        now
    )
    .execute(&mut *conn)
    .await?;
    if next == facts {
        return Ok(outcome);
    }
    let status = order_state::status(method, next);
    sqlx::query!(
        "UPDATE orders SET paid_at = CASE WHEN $2 THEN coalesce(paid_at, $6) END,
                shipped_at = CASE WHEN $3 THEN coalesce(shipped_at, $6) END,
                delivered_at = CASE WHEN $4 THEN coalesce(delivered_at, $6) END,
                status = $5, updated_at = $6
          WHERE id = $1",
        order_id,
        next.paid,
        next.shipped,
        next.delivered,
        status,
        now
    )
    .execute(&mut *conn)
    .await?;
    if status != o.status {
        record_history(conn, order_id, status, source).await?;
        if status == "delivered" {
            notify_delivered(conn, order_id, o.buyer_id, &o.invoice_no).await?;
        }
    }
    if o.commissionable_at.is_none() {
        mark_commissionable(conn, order_id, next, now).await?;
    }
    Ok(outcome)
}

async fn mark_commissionable(
    conn: &mut PgConnection,
    order_id: Uuid,
    facts: Facts,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let Some(plan) = plans::in_effect(conn, now).await? else {
        tracing::warn!(%order_id, "no plan in effect: the order earns no commissions");
        return Ok(());
    };
    if !order_state::is_commissionable(facts, plan.credit_on) {
        return Ok(());
    }
    sqlx::query!(
        "UPDATE orders SET commissionable_at = $2, plan_id = $3 WHERE id = $1 AND commissionable_at IS NULL",
        order_id,
        now,
        plan.id
    )
    .execute(&mut *conn)
    .await?;
    jobs::enqueue(conn, &CreditVolume { order_id }, None).await
}

async fn notify_delivered(
    conn: &mut PgConnection,
    order_id: Uuid,
    buyer_id: Uuid,
    invoice_no: &str,
) -> DomainResult<()> {
    let buyer = sqlx::query!("SELECT email, name FROM members WHERE id = $1", buyer_id).fetch_one(&mut *conn).await?;
    let email = Email {
        dedupe_key: format!("order_delivered:{order_id}"),
        member_id: Some(buyer_id),
        to: buyer.email,
        subject: format!("Order {invoice_no} delivered"),
        body: format!("Dear {},\n\nyour order {invoice_no} has been delivered.\n", buyer.name),
    };
    notifications::queue(conn, &email).await
}
