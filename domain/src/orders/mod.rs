//! Orders: placing them (stock taken atomically, all or nothing), reading
//! them with their history, and applying the facts providers report.

pub mod reversals;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::catalog::coupons;
use crate::catalog::flash_sales;
use crate::compensation::plans;
use crate::error::{DomainError, DomainResult, Problems};
use crate::jobs::{self, CreditVolume};
use crate::ledger::{self, Account, Entry, MemberAccount, Posting, SystemAccount};
use crate::money::{MAX_ORDER_TOTAL, MONEY_SCALE, in_minor_units as money, parse_amount};
use crate::notifications::{self, Email};
use crate::rules::order_state::{self, Facts, OrderFact, Outcome, PaymentMethod, Reversed};

/// Most lines one order may have.
pub const MAX_LINES: usize = 100;
/// Most units of one line.
pub const MAX_QUANTITY: i64 = 10_000;

/// One requested line.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLine {
    /// The product.
    pub product_id: Uuid,
    /// Units, at least 1.
    pub quantity: i64,
}

/// Where to ship.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// The buying member.
    #[serde(default)]
    pub buyer_id: Option<Uuid>,
    /// A guest buyer (instead of `buyer_id`).
    #[serde(default)]
    pub guest: Option<Guest>,
    /// The referral code of the member whose share link a guest used.
    #[serde(default)]
    pub referrer_code: Option<String>,
    /// What is bought.
    pub lines: Vec<NewLine>,
    /// Where to.
    pub shipping_address: Address,
    /// `online` or `cod`.
    pub payment_method: String,
    /// A coupon to redeem (its discount lowers the price, not the volume).
    #[serde(default)]
    pub coupon_code: Option<String>,
    /// Store credit to spend, a decimal string.
    #[serde(default)]
    pub store_credit: Option<String>,
    /// Where the buyer collects the order (its operator earns `pickup_rate`).
    #[serde(default)]
    pub pickup_point_id: Option<Uuid>,
}

/// A buyer who is not a member, ordering through a member's share link.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guest {
    /// Name.
    pub name: String,
    /// Where order emails go.
    pub email: String,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
}

/// Who is buying.
#[derive(Debug, Clone)]
enum Buyer {
    Member(Uuid),
    Guest(Guest, String),
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
    /// Units returned, refunded or cancelled so far.
    pub reversed_quantity: i32,
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
    /// The buying member (null for a guest order).
    pub buyer_id: Option<Uuid>,
    /// A guest order's referrer: the member whose share link it came
    /// through (gets the volume as customer volume and the retail margin).
    pub referrer_id: Option<Uuid>,
    /// A guest order's buyer.
    pub guest: Option<serde_json::Value>,
    /// Where the order is collected.
    pub pickup_point_id: Option<Uuid>,
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
    /// Discount (from the coupon).
    pub discount: Decimal,
    /// The coupon redeemed.
    pub coupon_id: Option<Uuid>,
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
    /// Every fact reported, with what it did (`applied`, `held`,
    /// `duplicate`, `ignored`), oldest first.
    pub events: Vec<EventItem>,
    /// Returns, refunds and cancellation, oldest first.
    pub reversals: Vec<reversals::Reversal>,
}

/// One reported fact and what it did.
#[derive(Debug, Clone, Serialize)]
pub struct EventItem {
    /// `paid`, `delivered`, `return`, …
    pub fact: String,
    /// What it did.
    pub outcome: String,
    /// Who reported it.
    pub source: String,
    /// When.
    pub at: DateTime<Utc>,
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

fn check_buyer(p: &mut Problems, input: &NewOrder) -> Option<Buyer> {
    match (input.buyer_id, &input.guest, &input.referrer_code) {
        (Some(id), None, None) => Some(Buyer::Member(id)),
        (Some(_), Some(_), _) => {
            p.add("guest", "send either buyer_id or guest, not both");
            None
        }
        (Some(_), None, Some(_)) => {
            p.add("referrer_code", "is only for guest orders: a member's own order is theirs");
            None
        }
        (None, Some(g), Some(code)) => {
            let email_ok = crate::input::chars(&g.email) <= 254
                && g.email.split_once('@').is_some_and(|(a, b)| !a.is_empty() && b.contains('.'));
            if !email_ok {
                p.add("guest.email", "must be an email address");
            }
            if g.name.trim().is_empty() || crate::input::chars(&g.name) > 200 {
                p.add("guest.name", "must be 1 to 200 characters");
            }
            Some(Buyer::Guest(g.clone(), code.trim().to_owned()))
        }
        (None, Some(_), None) => {
            p.add("referrer_code", "is required for a guest order");
            None
        }
        (None, None, _) => {
            p.add("buyer_id", "is required (or guest and referrer_code)");
            None
        }
    }
}

fn check_request(input: &NewOrder) -> DomainResult<(Buyer, PaymentMethod, Decimal)> {
    let mut p = Problems::default();
    let buyer = check_buyer(&mut p, input);
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
    let credit = match &input.store_credit {
        None => Some(Decimal::new(0, MONEY_SCALE)),
        Some(s) => p.check("store_credit", parse_amount(s, MONEY_SCALE)),
    };
    if matches!(buyer, Some(Buyer::Guest(..))) && credit.is_some_and(|c| !c.is_zero()) {
        p.add("store_credit", "a guest has no store credit");
    }
    let a = &input.shipping_address;
    for (field, value) in [("name", &a.name), ("phone", &a.phone), ("line1", &a.line1), ("city", &a.city)] {
        if value.trim().is_empty() || crate::input::chars(value) > 300 {
            p.add(format!("shipping_address.{field}"), "must be 1 to 300 characters");
        }
    }
    for (field, value) in [("line2", &a.line2), ("postcode", &a.postcode)] {
        if let Some(v) = value {
            crate::input::check_bounded(&mut p, &format!("shipping_address.{field}"), v, 300);
        }
    }
    p.finish()?;
    match (buyer, method, credit) {
        (Some(b), Some(m), Some(c)) => Ok((b, m, c)),
        _ => Err(DomainError::invalid("buyer_id", "is required")),
    }
}

/// Who an order's emails go to and whose order it is.
struct Parties {
    buyer_id: Option<Uuid>,
    referrer_id: Option<Uuid>,
    guest: Option<serde_json::Value>,
    email: String,
    name: String,
}

async fn parties(conn: &mut PgConnection, buyer: &Buyer) -> DomainResult<Parties> {
    match buyer {
        Buyer::Member(id) => {
            let m = sqlx::query!("SELECT status, email, name FROM members WHERE id = $1 FOR SHARE", id)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| DomainError::invalid("buyer_id", "no such member"))?;
            if m.status != "active" {
                return Err(DomainError::invalid("buyer_id", "a suspended member cannot order"));
            }
            Ok(Parties { buyer_id: Some(*id), referrer_id: None, guest: None, email: m.email, name: m.name })
        }
        Buyer::Guest(g, code) => {
            let referrer = sqlx::query_scalar!("SELECT id FROM members WHERE referral_code = $1", code)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| DomainError::invalid("referrer_code", "no member has this referral code"))?;
            let guest = serde_json::to_value(g).map_err(anyhow::Error::from)?;
            Ok(Parties {
                buyer_id: None,
                referrer_id: Some(referrer),
                guest: Some(guest),
                email: g.email.clone(),
                name: g.name.clone(),
            })
        }
    }
}

async fn check_pickup_point(conn: &mut PgConnection, id: Option<Uuid>) -> DomainResult<()> {
    let Some(id) = id else { return Ok(()) };
    let active = sqlx::query_scalar!("SELECT active FROM pickup_points WHERE id = $1", id).fetch_optional(conn).await?;
    match active {
        Some(true) => Ok(()),
        _ => Err(DomainError::invalid("pickup_point_id", "no such pickup point, or closed")),
    }
}

/// Places an order: checks the buyer (or the guest's referrer) and the
/// pickup point, takes stock for every line (all or nothing: any refusal
/// rolls the caller's transaction back), spends store credit, writes the
/// order and its "placed" notification.
pub async fn place(
    conn: &mut PgConnection,
    input: &NewOrder,
    currency: &str,
    payment_window: chrono::Duration,
) -> DomainResult<Order> {
    let (buyer, method, store_credit) = check_request(input)?;
    let buyer = parties(conn, &buyer).await?;
    check_pickup_point(conn, input.pickup_point_id).await?;
    let priced = price_lines(conn, &input.lines).await?;
    let subtotal = order_sum(&priced, |l| l.unit_price, "lines")?;
    let (coupon_id, discount) = match input.coupon_code.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(code) => {
            let (id, discount) = coupons::redeem(conn, code, subtotal, Utc::now()).await?;
            (Some(id), discount)
        }
        None => (None, Decimal::new(0, MONEY_SCALE)),
    };
    if store_credit > subtotal - discount {
        return Err(DomainError::invalid("store_credit", "is more than the order's subtotal after discount"));
    }
    let total = subtotal - discount - store_credit;
    let pv = order_sum(&priced, |l| l.pv, "lines")?;
    let bv = order_sum(&priced, |l| l.bv, "lines")?;
    let id = Uuid::now_v7();
    let seq = sqlx::query_scalar!(r#"SELECT nextval('invoice_no_seq') AS "n!""#).fetch_one(&mut *conn).await?;
    let invoice_no = format!("INV-{seq:06}");
    let address = serde_json::to_value(&input.shipping_address).map_err(anyhow::Error::from)?;
    sqlx::query!(
        "INSERT INTO orders (id, invoice_no, buyer_id, status, payment_method, currency, subtotal, discount,
                             store_credit, total, pv, bv, shipping_address, referrer_id, guest, pickup_point_id,
                             coupon_id)
         VALUES ($1, $2, $3, 'pending_payment', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        id,
        invoice_no,
        buyer.buyer_id,
        method.as_str(),
        currency,
        subtotal,
        discount,
        store_credit,
        total,
        pv,
        bv,
        address,
        buyer.referrer_id,
        buyer.guest,
        input.pickup_point_id,
        coupon_id
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
    if let (Some(buyer_id), false) = (buyer.buyer_id, store_credit.is_zero()) {
        spend_store_credit(conn, currency, id, buyer_id, store_credit).await?;
    }
    let email = Email {
        dedupe_key: format!("order_placed:{id}"),
        member_id: buyer.buyer_id,
        to: buyer.email,
        subject: format!("Order {invoice_no} received"),
        body: format!("Dear {},\n\nwe received your order {invoice_no} of {total} {currency}.\n", buyer.name),
    };
    notifications::queue(conn, &email).await?;
    if method == PaymentMethod::Online {
        let at = Utc::now() + payment_window;
        crate::jobs::enqueue(conn, &crate::jobs::ExpireOrder { order_id: id }, Some(at)).await?;
    }
    let order = get(conn, id).await?;
    // Last, even after reading the order back: the products' rows stay
    // locked until the commit, so a popular product's orders wait for each
    // other only that long.
    take_stock(conn, &input.lines).await?;
    Ok(order)
}

/// Σ per unit × units over the lines, in checked arithmetic and refused
/// (naming `field`) above [`MAX_ORDER_TOTAL`]: however large the prices
/// and quantities sent, nothing overflows and nothing too large for the
/// columns is written.
fn order_sum(lines: &[Priced], per_unit: impl Fn(&Priced) -> Decimal, field: &str) -> DomainResult<Decimal> {
    let too_large = || DomainError::invalid(field, "the order's total is more than one quadrillion");
    let mut sum = Decimal::new(0, MONEY_SCALE);
    for l in lines {
        let line = per_unit(l).checked_mul(Decimal::from(l.quantity)).ok_or_else(too_large)?;
        sum = sum.checked_add(line).ok_or_else(too_large)?;
    }
    if sum > MAX_ORDER_TOTAL {
        return Err(too_large());
    }
    Ok(sum)
}

/// Each product of the order with the quantity wanted and its first line.
fn wanted(lines: &[NewLine]) -> BTreeMap<Uuid, (i64, usize)> {
    let mut wanted: BTreeMap<Uuid, (i64, usize)> = BTreeMap::new();
    for (i, l) in lines.iter().enumerate() {
        let e = wanted.entry(l.product_id).or_insert((0, i));
        e.0 += l.quantity;
    }
    wanted
}

/// Decrements stock for every product of the order, in product-id order (so
/// concurrent orders never deadlock), refusing the whole order (its
/// transaction rolls back) on the first product short of stock or no
/// longer for sale.
async fn take_stock(conn: &mut PgConnection, lines: &[NewLine]) -> DomainResult<()> {
    for (product_id, (quantity, first_line)) in wanted(lines) {
        let qty = i32::try_from(quantity).unwrap_or(i32::MAX);
        let taken = sqlx::query!(
            "UPDATE products SET stock = stock - $2, updated_at = now() WHERE id = $1 AND active AND stock >= $2",
            product_id,
            qty
        )
        .execute(&mut *conn)
        .await?;
        if taken.rows_affected() == 0 {
            return Err(refusal(conn, product_id, first_line).await);
        }
    }
    Ok(())
}

/// Prices each line from the catalog without locking anything (a running
/// flash sale's price replaces the catalog price); refuses an unknown
/// product or one not for sale, naming its line. Stock is taken at the end
/// of the order's transaction (`take_stock`).
async fn price_lines(conn: &mut PgConnection, lines: &[NewLine]) -> DomainResult<Vec<Priced>> {
    let mut found = BTreeMap::new();
    for (product_id, (_, first_line)) in wanted(lines) {
        let row = sqlx::query!(
            "SELECT price, pv, bv, category, commissionable FROM products WHERE id = $1 AND active",
            product_id
        )
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else {
            return Err(DomainError::invalid(
                format!("lines[{first_line}].product_id"),
                "no such product, or not for sale",
            ));
        };
        found.insert(product_id, row);
    }
    let ids: Vec<Uuid> = found.keys().copied().collect();
    let sale_prices = flash_sales::prices_at(conn, &ids, Utc::now()).await?;
    Ok(lines
        .iter()
        .map(|l| {
            let p = &found[&l.product_id];
            Priced {
                product_id: l.product_id,
                quantity: l.quantity as i32,
                unit_price: sale_prices.get(&l.product_id).copied().unwrap_or(p.price),
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
    let key = crate::ledger::keys::store_credit_spent(order_id);
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
    // Points are spent before plain store credit, oldest lot first.
    crate::rewards::loyalty::spend_points(conn, buyer_id, order_id, amount, chrono::Utc::now()).await
}

async fn record_history(conn: &mut PgConnection, order_id: Uuid, status: &str, source: &str) -> DomainResult<()> {
    sqlx::query!("INSERT INTO order_history (order_id, status, source) VALUES ($1, $2, $3)", order_id, status, source)
        .execute(conn)
        .await?;
    Ok(())
}

/// An order as a list shows it: its figures and status, without lines or
/// history (`get` has those).
#[derive(Debug, Clone, Serialize)]
pub struct OrderSummary {
    /// Id.
    pub id: Uuid,
    /// Invoice number.
    pub invoice_no: String,
    /// Status.
    pub status: String,
    /// `online` or `cod`.
    pub payment_method: String,
    /// Currency.
    pub currency: String,
    /// Σ lines.
    pub subtotal: Decimal,
    /// Coupon discount.
    pub discount: Decimal,
    /// Store credit spent.
    pub store_credit: Decimal,
    /// What the buyer pays.
    pub total: Decimal,
    /// Σ PV.
    pub pv: Decimal,
    /// Σ BV.
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
    Ok(rows
        .into_iter()
        .map(|o| OrderSummary {
            id: o.id,
            invoice_no: o.invoice_no,
            status: o.status,
            payment_method: o.payment_method,
            currency: o.currency,
            subtotal: money(o.subtotal),
            discount: money(o.discount),
            store_credit: money(o.store_credit),
            total: money(o.total),
            pv: money(o.pv),
            bv: money(o.bv),
            created_at: o.created_at,
        })
        .collect())
}

/// Reads an order with its lines and history.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> DomainResult<Order> {
    let o = sqlx::query!("SELECT * FROM orders WHERE id = $1", id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(DomainError::NotFound("order"))?;
    let lines = sqlx::query_as!(
        OrderLine,
        "SELECT id, product_id, quantity, unit_price, pv, bv, line_total, reversed_quantity FROM order_lines
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
    let events = sqlx::query_as!(
        EventItem,
        "SELECT fact, outcome, source, at FROM order_events WHERE order_id = $1 ORDER BY id",
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    let reversals = reversals::list(conn, id).await?;
    Ok(Order {
        id: o.id,
        invoice_no: o.invoice_no,
        buyer_id: o.buyer_id,
        referrer_id: o.referrer_id,
        guest: o.guest,
        pickup_point_id: o.pickup_point_id,
        status: o.status,
        payment_method: o.payment_method,
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

/// An order's row, locked for the rest of the caller's transaction, with
/// its facts and reversals: everything a status change is decided from.
struct Locked {
    id: Uuid,
    method: PaymentMethod,
    facts: Facts,
    status: String,
    commissionable_at: Option<DateTime<Utc>>,
    invoice_no: String,
    buyer_id: Option<Uuid>,
    guest: Option<serde_json::Value>,
}

async fn lock(conn: &mut PgConnection, order_id: Uuid) -> DomainResult<Locked> {
    let o = sqlx::query!(
        "SELECT payment_method, status, paid_at, shipped_at, delivered_at, partially_delivered_at, cancelled_at,
                settled_at, commissionable_at, invoice_no, buyer_id, guest
           FROM orders WHERE id = $1 FOR UPDATE",
        order_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound("order"))?;
    Ok(Locked {
        id: order_id,
        method: PaymentMethod::parse(&o.payment_method).unwrap_or(PaymentMethod::Online),
        facts: Facts {
            paid: o.paid_at.is_some(),
            shipped: o.shipped_at.is_some(),
            delivered: o.delivered_at.is_some(),
            partially_delivered: o.partially_delivered_at.is_some(),
            cancelled: o.cancelled_at.is_some(),
            settled: o.settled_at.is_some(),
        },
        status: o.status,
        commissionable_at: o.commissionable_at,
        invoice_no: o.invoice_no,
        buyer_id: o.buyer_id,
        guest: o.guest,
    })
}

async fn reversed(conn: &mut PgConnection, order_id: Uuid) -> DomainResult<Reversed> {
    let r = sqlx::query!(
        r#"SELECT coalesce(sum(reversed_quantity), 0)::bigint AS "reversed!", coalesce(sum(quantity), 0)::bigint AS "total!",
                  NOT EXISTS (SELECT 1 FROM order_reversals WHERE order_id = $1 AND kind <> 'refund') AS "refund_only!"
             FROM order_lines WHERE order_id = $1"#,
        order_id
    )
    .fetch_one(conn)
    .await?;
    Ok(Reversed::of(r.reversed, r.total, r.refund_only))
}

async fn record_event(
    conn: &mut PgConnection,
    order_id: Uuid,
    fact: &str,
    outcome: &str,
    source: &str,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    sqlx::query!(
        "INSERT INTO order_events (order_id, fact, outcome, source, at) VALUES ($1, $2, $3, $4, $5)",
        order_id,
        fact,
        outcome,
        source,
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores the facts and the status derived from them, records a status
/// change in the history (with its email), and marks the order
/// commissionable once the plan's `credit_on` is met.
async fn save(conn: &mut PgConnection, o: &Locked, next: Facts, source: &str, now: DateTime<Utc>) -> DomainResult<()> {
    let status = order_state::status(o.method, next, reversed(conn, o.id).await?);
    sqlx::query!(
        "UPDATE orders SET paid_at = CASE WHEN $2 THEN coalesce(paid_at, $7) END,
                shipped_at = CASE WHEN $3 THEN coalesce(shipped_at, $7) END,
                delivered_at = CASE WHEN $4 THEN coalesce(delivered_at, $7) END,
                partially_delivered_at = CASE WHEN $5 THEN coalesce(partially_delivered_at, $7) END,
                cancelled_at = CASE WHEN $6 THEN coalesce(cancelled_at, $7) END,
                settled_at = CASE WHEN $9 THEN coalesce(settled_at, $7) END,
                status = $8, updated_at = $7
          WHERE id = $1",
        o.id,
        next.paid,
        next.shipped,
        next.delivered,
        next.partially_delivered,
        next.cancelled,
        now,
        status,
        next.settled
    )
    .execute(&mut *conn)
    .await?;
    if status != o.status {
        record_history(conn, o.id, status, source).await?;
        notify_status(conn, o, status).await?;
    }
    // Wholly refunded or returned: the store credit spent comes back too.
    if let ("refunded" | "returned", Some(buyer_id)) = (status, o.buyer_id) {
        return_store_credit(conn, o.id, buyer_id).await?;
    }
    if o.commissionable_at.is_none() {
        mark_commissionable(conn, o.id, next, now).await?;
    }
    Ok(())
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
    let o = lock(conn, order_id).await?;
    let (next, outcome) = order_state::apply(o.method, o.facts, fact);
    record_event(conn, order_id, fact.as_str(), outcome.as_str(), source, now).await?;
    if next != o.facts {
        save(conn, &o, next, source, now).await?;
    }
    Ok(outcome)
}

/// Records that the order's hold has ended (called by the release job once
/// nothing of the order is held any more): a delivered order becomes
/// `settled`, with its history. Recording it twice changes nothing.
pub async fn settle(conn: &mut PgConnection, order_id: Uuid, source: &str, now: DateTime<Utc>) -> DomainResult<()> {
    let o = lock(conn, order_id).await?;
    if o.facts.settled {
        return Ok(());
    }
    record_event(conn, order_id, "settled", "applied", source, now).await?;
    save(conn, &o, Facts { settled: true, ..o.facts }, source, now).await
}

/// What recording a return or refund did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReversalOutcome {
    /// Recorded; its effects follow in the `reverse_order` job.
    Recorded(Uuid),
    /// A whole-order reversal found nothing left to reverse.
    NothingLeft,
}

/// Records a return or refund of some (or all remaining) units of an order,
/// under the order lock: refuses it when the return window has closed or a
/// line has not that many units left (nothing written), updates the status
/// and enqueues the reversal of what the units earned.
pub async fn reverse(
    conn: &mut PgConnection,
    order_id: Uuid,
    req: &reversals::Request,
    now: DateTime<Utc>,
    return_window_days: u32,
) -> DomainResult<ReversalOutcome> {
    let o = lock(conn, order_id).await?;
    if o.facts.cancelled {
        return Err(DomainError::conflict("order", "the order is cancelled: nothing to return"));
    }
    let fact = req.kind.as_str();
    let Some(id) = reversals::record(conn, order_id, req, now, return_window_days).await? else {
        record_event(conn, order_id, fact, "duplicate", &req.source, now).await?;
        return Ok(ReversalOutcome::NothingLeft);
    };
    record_event(conn, order_id, fact, "applied", &req.source, now).await?;
    save(conn, &o, o.facts, &req.source, now).await?;
    Ok(ReversalOutcome::Recorded(id))
}

/// Cancels an order that has not shipped: every unit is reversed (whatever
/// it earned, under `credit_on: paid`, is cancelled), stock is put back and
/// spent store credit is returned. Cancelling twice changes nothing.
pub async fn cancel(conn: &mut PgConnection, order_id: Uuid, source: &str, now: DateTime<Utc>) -> DomainResult<Order> {
    let o = lock(conn, order_id).await?;
    if o.facts.cancelled {
        return get(conn, order_id).await;
    }
    if o.facts.shipped {
        return Err(DomainError::conflict("order", "the order has shipped: it can only be returned"));
    }
    cancel_locked(conn, &o, source, now).await?;
    get(conn, order_id).await
}

/// Expires an online order its buyer never paid, at the end of its payment
/// window: cancelled like an admin's cancel (stock and store credit back,
/// history source `expiry`), and its coupon use given back too — the buyer
/// never had the order. An order paid, shipped or cancelled meanwhile is
/// left alone. Returns whether it expired.
pub async fn expire(conn: &mut PgConnection, order_id: Uuid, now: DateTime<Utc>) -> DomainResult<bool> {
    let o = lock(conn, order_id).await?;
    if o.method != PaymentMethod::Online || o.facts.paid || o.facts.shipped || o.facts.cancelled {
        return Ok(false);
    }
    sqlx::query!(
        "UPDATE coupons c SET uses = c.uses - 1 FROM orders o WHERE o.id = $1 AND o.coupon_id = c.id AND c.uses > 0",
        order_id
    )
    .execute(&mut *conn)
    .await?;
    cancel_locked(conn, &o, "expiry", now).await?;
    Ok(true)
}

/// Cancels the locked order: every unit reversed, stock put back, store
/// credit returned, the fact recorded.
async fn cancel_locked(conn: &mut PgConnection, o: &Locked, source: &str, now: DateTime<Utc>) -> DomainResult<()> {
    let order_id = o.id;
    let req = reversals::Request {
        kind: reversals::Kind::Cancel,
        lines: None,
        reason: None,
        source: source.into(),
        external_ref: None,
    };
    reversals::record(conn, order_id, &req, now, 0).await?;
    sqlx::query!(
        "UPDATE products p SET stock = p.stock + l.quantity, updated_at = $2
           FROM order_lines l WHERE l.order_id = $1 AND l.product_id = p.id",
        order_id,
        now
    )
    .execute(&mut *conn)
    .await?;
    if let Some(buyer_id) = o.buyer_id {
        return_store_credit(conn, order_id, buyer_id).await?;
    }
    let (next, outcome) = order_state::apply(o.method, o.facts, OrderFact::Cancelled);
    record_event(conn, order_id, OrderFact::Cancelled.as_str(), outcome.as_str(), source, now).await?;
    save(conn, o, next, source, now).await
}

/// Gives the store credit spent on the order back to the buyer, once
/// (cancelled, or wholly refunded or returned).
async fn return_store_credit(conn: &mut PgConnection, order_id: Uuid, buyer_id: Uuid) -> DomainResult<()> {
    let o =
        sqlx::query!("SELECT store_credit, currency FROM orders WHERE id = $1", order_id).fetch_one(&mut *conn).await?;
    if o.store_credit.is_zero() {
        return Ok(());
    }
    let key = crate::ledger::keys::store_credit_returned(order_id);
    let reference = order_id.to_string();
    let postings = vec![
        Posting { account: Account::System(SystemAccount::StoreCreditRedeemed), amount: -o.store_credit },
        Posting { account: Account::Member(buyer_id, MemberAccount::Credit), amount: o.store_credit },
    ];
    let returned = ledger::post(
        conn,
        &o.currency,
        Entry { idempotency_key: &key, kind: "store_credit_returned", reference: &reference, postings },
    )
    .await?;
    if returned {
        crate::rewards::loyalty::restore_points(conn, order_id).await?;
    }
    Ok(())
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

/// Emails the buyer about the status changes they care about.
async fn notify_status(conn: &mut PgConnection, o: &Locked, status: &str) -> DomainResult<()> {
    let invoice_no = &o.invoice_no;
    let what = match status {
        "paid" => "is paid: thank you",
        "delivered" | "partially_delivered" => "has been delivered",
        "cancelled" => "has been cancelled",
        "returned" | "partially_returned" => "has been returned",
        "refunded" | "partially_refunded" => "has been refunded",
        _ => return Ok(()),
    };
    let what = if status.starts_with("partially_") { format!("{what} in part") } else { what.to_owned() };
    let subject = format!("Order {invoice_no} {what}");
    let dedupe_key = format!("order_{status}:{}", o.id);
    let body = |name: &str| format!("Dear {name},\n\nyour order {invoice_no} {what}.\n");
    match (o.buyer_id, &o.guest) {
        (Some(buyer_id), _) => notifications::to_member(conn, buyer_id, dedupe_key, subject, body).await,
        (None, Some(guest)) => {
            let text = |k: &str| guest.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            let email = Email { dedupe_key, member_id: None, to: text("email"), subject, body: body(&text("name")) };
            notifications::queue(conn, &email).await
        }
        (None, None) => Ok(()),
    }
}
