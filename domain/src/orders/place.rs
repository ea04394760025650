//! Placing an order: the request checked (every problem named by its
//! field), lines priced at order time (flash sales applied), the coupon
//! redeemed, store credit spent, the order and its "placed" email written,
//! the payment window's expiry job queued, and stock taken last — all in
//! the caller's transaction, all or nothing.

use std::collections::BTreeMap;

use chrono::Utc;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::catalog::coupons;
use crate::catalog::{flash_sales, price_lists};
use crate::error::{DomainError, DomainResult, Problems};
use crate::ledger::{self, Account, Entry, EntryKind, MemberAccount, Posting, SystemAccount};
use crate::money::{MAX_ORDER_TOTAL, MONEY_SCALE, parse_amount};
use crate::notifications::{self, Email};
use crate::rules::order_state::{OrderStatus, PaymentMethod};
use crate::rules::pricing::{Shelf, best_break, unit_price};

use super::facts::record_history;
use super::view::{Order, just_placed};

/// Most lines one order may have.
pub const MAX_LINES: usize = 100;
/// Most units of one line.
pub const MAX_QUANTITY: i64 = 10_000;

/// One requested line.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLine {
    /// The product.
    pub product_id: Uuid,
    /// Units, at least 1.
    pub quantity: i64,
}

/// Where to ship.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
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
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub store_credit: Option<String>,
    /// Where the buyer collects the order (its operator earns `pickup_rate`).
    #[serde(default)]
    pub pickup_point_id: Option<Uuid>,
}

/// A buyer who is not a member, ordering through a member's share link.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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

struct Priced {
    product_id: Uuid,
    quantity: i32,
    unit_price: Decimal,
    /// The catalog price a business account's list or break replaced.
    catalog_price: Option<Decimal>,
    price_list_id: Option<Uuid>,
    quantity_break_id: Option<Uuid>,
    pv: Decimal,
    bv: Decimal,
    category: String,
    commissionable: bool,
    seller_id: Option<Uuid>,
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
    /// The business account a member buys for, and its tier.
    account: Option<(Uuid, String)>,
}

async fn parties(conn: &mut PgConnection, buyer: &Buyer) -> DomainResult<Parties> {
    match buyer {
        Buyer::Member(id) => {
            let m = sqlx::query!(
                r#"SELECT m.status, m.email, m.name, a.id AS "account_id?", a.tier AS "tier?"
                     FROM members m LEFT JOIN business_account_members b ON b.member_id = m.id
                     LEFT JOIN business_accounts a ON a.id = b.account_id
                    WHERE m.id = $1 FOR SHARE OF m"#,
                id
            )
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| DomainError::invalid("buyer_id", "no such member"))?;
            if m.status != "active" {
                return Err(DomainError::invalid("buyer_id", "a suspended member cannot order"));
            }
            Ok(Parties {
                buyer_id: Some(*id),
                referrer_id: None,
                guest: None,
                email: m.email,
                name: m.name,
                account: m.account_id.zip(m.tier),
            })
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
                account: None,
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
    let priced = price_lines(conn, &input.lines, buyer.account.as_ref().map(|a| a.1.as_str())).await?;
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
                             coupon_id, business_account_id)
         VALUES ($1, $2, $3, 'pending_payment', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
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
        coupon_id,
        buyer.account.as_ref().map(|a| a.0)
    )
    .execute(&mut *conn)
    .await?;
    // A seller's line keeps the fee schedule in force and its rate.
    let fees = match priced.iter().any(|l| l.seller_id.is_some()) {
        true => Some(crate::marketplace::fees::in_force(conn).await?),
        false => None,
    };
    for (i, l) in priced.iter().enumerate() {
        let terms = l.seller_id.zip(fees.as_ref()).map(|(seller, (schedule, rates, per_item))| {
            (*schedule, rates.rate_for(seller, &l.category).get(), per_item.get())
        });
        sqlx::query!(
            "INSERT INTO order_lines (id, order_id, line_no, product_id, quantity, unit_price, pv, bv, line_total,
                                      category, commissionable, seller_id, fee_schedule_id, fee_rate, fee_per_item,
                                      catalog_price, price_list_id, quantity_break_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
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
            l.commissionable,
            l.seller_id,
            terms.map(|t| t.0),
            terms.map(|t| t.1),
            terms.map(|t| t.2),
            l.catalog_price,
            l.price_list_id,
            l.quantity_break_id
        )
        .execute(&mut *conn)
        .await?;
    }
    record_history(conn, id, OrderStatus::PendingPayment, "api").await?;
    // Cash on delivery is ready to prepare at once; online, once paid.
    if method == PaymentMethod::Cod && fees.is_some() {
        crate::marketplace::preparation::start(conn, id, Utc::now()).await?;
    }
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
        // The order is new, so its expiry key is: one statement, no savepoint.
        crate::jobs::enqueue_for_new_row_at(conn, &[crate::jobs::ExpireOrder { order_id: id }], Some(at)).await?;
    }
    let order = just_placed(conn, id).await?;
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
/// flash sale's price replaces the catalog price; a business account's
/// tier list and its quantity breaks, `rules::pricing`, replace both for
/// what they price); refuses an unknown
/// product or one not for sale, naming its line. Stock is taken at the end
/// of the order's transaction (`take_stock`).
async fn price_lines(conn: &mut PgConnection, lines: &[NewLine], tier: Option<&str>) -> DomainResult<Vec<Priced>> {
    let mut found = BTreeMap::new();
    for (product_id, (_, first_line)) in wanted(lines) {
        let row = sqlx::query!(
            r#"SELECT p.price, p.pv, p.bv, p.category, p.commissionable, p.seller_id, s.status AS "seller_status?"
                 FROM products p LEFT JOIN sellers s ON s.id = p.seller_id WHERE p.id = $1 AND p.active"#,
            product_id
        )
        .fetch_optional(&mut *conn)
        .await?;
        let field = || format!("lines[{first_line}].product_id");
        let Some(row) = row else {
            return Err(DomainError::invalid(field(), "no such product, or not for sale"));
        };
        // A marketplace product is for sale only while its seller is approved.
        if let Some(status) = row.seller_status.as_deref().filter(|s| *s != "approved") {
            return Err(DomainError::invalid(field(), format!("its seller is {status}: not for sale")));
        }
        found.insert(product_id, row);
    }
    let ids: Vec<Uuid> = found.keys().copied().collect();
    let sale_prices = flash_sales::prices_at(conn, &ids, Utc::now()).await?;
    let list = match tier {
        Some(tier) => price_lists::in_force(conn, tier, &ids).await?,
        None => None,
    };
    let units = Units::count(lines, |id| found[&id].category.as_str());
    Ok(lines
        .iter()
        .map(|l| {
            let p = &found[&l.product_id];
            let shelf = Shelf {
                price: sale_prices.get(&l.product_id).copied().unwrap_or(p.price),
                catalog_price: p.price,
                pv: p.pv,
                bv: p.bv,
            };
            let entry = list.as_ref().and_then(|list| list.entries.get(&l.product_id).copied());
            let chosen = list.as_ref().and_then(|list| {
                best_break(&list.breaks, (l.product_id, &p.category), units.of(l.product_id, &p.category))
            });
            let unit = unit_price(shelf, entry, chosen.map(|b| b.rate));
            let priced_by_list = entry.is_some() || chosen.is_some();
            Priced {
                product_id: l.product_id,
                quantity: l.quantity as i32,
                unit_price: unit.price,
                catalog_price: priced_by_list.then_some(p.price),
                price_list_id: list.as_ref().filter(|_| priced_by_list).map(|list| list.id),
                quantity_break_id: chosen.map(|b| b.id),
                pv: unit.pv,
                bv: unit.bv,
                category: p.category.clone(),
                commissionable: p.commissionable,
                seller_id: p.seller_id,
            }
        })
        .collect())
}

/// The order's units per product and per category: what a quantity
/// break counts.
struct Units {
    products: BTreeMap<Uuid, i64>,
    categories: BTreeMap<String, i64>,
}

impl Units {
    fn count<'a>(lines: &[NewLine], category: impl Fn(Uuid) -> &'a str) -> Self {
        let (mut products, mut categories) = (BTreeMap::new(), BTreeMap::new());
        for l in lines {
            *products.entry(l.product_id).or_default() += l.quantity;
            *categories.entry(category(l.product_id).to_owned()).or_default() += l.quantity;
        }
        Units { products, categories }
    }

    fn of(&self, product_id: Uuid, category: &str) -> (i64, i64) {
        (self.products.get(&product_id).copied().unwrap_or(0), self.categories.get(category).copied().unwrap_or(0))
    }
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
            kind: EntryKind::StoreCreditSpent,
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
