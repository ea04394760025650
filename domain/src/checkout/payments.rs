//! Payment attempts: a session opened at SSLCommerz or bKash for an order,
//! whose page the buyer is sent to. Opening one is three steps so that no
//! transaction is open while the gateway is asked: [`begin`] (the attempt
//! row, `creating`, committed), the gateway call, then [`opened`] or
//! [`failed`]. At most one attempt per order is live (creating or open) at
//! a time — a unique index says so — so a second call while one is open
//! gets that one, and no buyer holds two payment pages for one order.
//! The amount is always OUR order's total.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult};
use crate::rules::order_state::{OrderStatus, PaymentMethod};

crate::words::stored_words!(
    /// The gateways haat opens payment sessions at.
    Gateway {
        /// SSLCommerz's hosted payment page.
        Sslcommerz = "sslcommerz",
        /// bKash tokenized checkout.
        Bkash = "bkash",
    }
);

crate::words::stored_words!(
    /// Where a payment attempt is.
    AttemptStatus {
        /// The gateway is being asked for a session.
        Creating = "creating",
        /// The buyer can pay at `redirect_url` until `expires_at`.
        Open = "open",
        /// The order was paid while the attempt was live.
        Paid = "paid",
        /// The gateway refused the session, or reported the payment failed.
        Failed = "failed",
        /// Its time ran out, or the order was cancelled, before payment.
        Expired = "expired",
    }
);

/// An attempt as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    /// Id.
    pub id: Uuid,
    /// The order.
    pub order_id: Uuid,
    /// `sslcommerz` or `bkash`.
    pub provider: Gateway,
    /// `creating`, `open`, `paid`, `failed` or `expired`.
    pub status: AttemptStatus,
    /// Where to send the buyer (while open).
    pub redirect_url: Option<String>,
    /// What is charged: the order's total when the attempt was made.
    #[schema(value_type = crate::money::DecimalText)]
    pub amount: Decimal,
    /// Currency of `amount`.
    pub currency: String,
    /// Where the buyer comes back to on the storefront.
    pub return_url: String,
    /// Why it failed, when it did.
    pub failure: Option<String>,
    /// Until when the buyer can pay through it.
    pub expires_at: DateTime<Utc>,
    /// Made.
    pub created_at: DateTime<Utc>,
}

/// What a gateway needs to open a session for an order: all of it OURS.
#[derive(Debug, Clone)]
pub struct SessionOrder {
    /// The attempt being opened.
    pub attempt_id: Uuid,
    /// Our invoice number (SSLCommerz `tran_id`, bKash `merchantInvoiceNumber`).
    pub invoice_no: String,
    /// The order's total.
    pub amount: Decimal,
    /// The order's currency.
    pub currency: String,
    /// The buyer's name.
    pub customer_name: String,
    /// The buyer's email.
    pub customer_email: String,
    /// The buyer's phone (the shipping address's).
    pub customer_phone: String,
    /// Street address.
    pub address_line1: String,
    /// City.
    pub city: String,
    /// Postcode (`0000` when the address has none: SSLCommerz requires one).
    pub postcode: String,
    /// The products' names, comma-separated.
    pub product_names: String,
    /// The products' categories, comma-separated.
    pub product_categories: String,
    /// Units ordered.
    pub items: i64,
    /// Where the buyer returns to on the storefront.
    pub return_url: String,
}

/// A session the gateway opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The gateway page the buyer is sent to.
    pub redirect_url: String,
    /// The gateway's name for it (SSLCommerz sessionkey, bKash paymentID).
    pub gateway_ref: String,
}

/// What [`begin`] found.
#[derive(Debug, Clone)]
pub enum Begun {
    /// An attempt is already open through this gateway: answer it.
    Open(Attempt),
    /// Another request is asking the gateway for this order right now:
    /// wait for its answer ([`get`]) rather than ask a second time.
    BeingCreated(Uuid),
    /// A new attempt was written (`creating`): ask the gateway for it.
    Create(Box<SessionOrder>),
}

/// Checks a storefront's `return_url`: an absolute http(s) address of at
/// most 2,000 characters, with a host and no spaces.
pub fn check_return_url(url: &str) -> DomainResult<()> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    let fine = host.is_some_and(|h| !h.is_empty())
        && crate::input::chars(url) <= 2000
        && !url.contains(|c: char| c.is_whitespace() || c.is_control());
    if fine {
        Ok(())
    } else {
        Err(DomainError::invalid("return_url", "must be an http:// or https:// address of at most 2000 characters"))
    }
}

/// How long a buyer may pay: through one session, and for the order.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// A session's life (`HAAT_PAYMENT_SESSION_SECONDS`): past it, a new
    /// one may be opened.
    pub session: chrono::Duration,
    /// The order's payment window (`HAAT_PAYMENT_WINDOW_SECONDS`): no
    /// session outlives it.
    pub payment_window: chrono::Duration,
}

/// An attempt still `creating` this long after it was made was abandoned
/// (its process died while asking the gateway) and no longer blocks a new one.
pub const ABANDONED_AFTER: chrono::Duration = chrono::Duration::minutes(2);

/// Starts a payment attempt for `order_id` through `gateway`, or finds the
/// live one. Refuses an order that is not an online order waiting for its
/// payment. Runs under the order's row lock, so two callers never both
/// write an attempt; the caller commits before it asks the gateway.
pub async fn begin(
    conn: &mut PgConnection,
    order_id: Uuid,
    gateway: Gateway,
    return_url: &str,
    lifetimes: Lifetimes,
    now: DateTime<Utc>,
) -> DomainResult<Begun> {
    let o = sqlx::query!(
        "SELECT invoice_no, status, payment_method, total, currency, created_at, shipping_address, guest, buyer_id
           FROM orders WHERE id = $1 FOR UPDATE",
        order_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound("order"))?;
    if PaymentMethod::parse(&o.payment_method) != Some(PaymentMethod::Online) {
        return Err(DomainError::conflict("order", "the order is paid cash on delivery: it has no online payment"));
    }
    if OrderStatus::parse(&o.status) != Some(OrderStatus::PendingPayment) {
        return Err(DomainError::conflict(
            "order",
            format!("the order is {}: it is not waiting for a payment", o.status),
        ));
    }
    let order_deadline = o.created_at + lifetimes.payment_window;
    if order_deadline <= now {
        return Err(DomainError::conflict("order", "the order's payment window has ended"));
    }
    let expires_at = order_deadline.min(now + lifetimes.session);
    close_stale(conn, order_id, now).await?;
    if let Some(live) = live(conn, order_id).await? {
        return match (live.status, live.provider == gateway) {
            (AttemptStatus::Creating, true) => Ok(Begun::BeingCreated(live.id)),
            (_, true) => Ok(Begun::Open(live)),
            (_, false) => Err(DomainError::conflict(
                "provider",
                format!("a {} payment is open for this order until {}", live.provider, live.expires_at.to_rfc3339()),
            )),
        };
    }
    let attempt_id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO payment_attempts (id, order_id, provider, status, return_url, amount, currency, expires_at, created_at, updated_at)
         VALUES ($1, $2, $3, 'creating', $4, $5, $6, $7, $8, $8)",
        attempt_id,
        order_id,
        gateway.as_str(),
        return_url,
        o.total,
        o.currency,
        expires_at,
        now
    )
    .execute(&mut *conn)
    .await?;
    let buyer = buyer_contact(conn, o.buyer_id, o.guest.as_ref()).await?;
    let address = |k: &str| o.shipping_address.get(k).and_then(|v| v.as_str()).unwrap_or_default().trim().to_owned();
    let products = sqlx::query!(
        r#"SELECT string_agg(p.name, ', ' ORDER BY l.line_no) AS "names!", string_agg(DISTINCT l.category, ', ') AS "categories!",
                  sum(l.quantity)::bigint AS "items!"
             FROM order_lines l JOIN products p ON p.id = l.product_id WHERE l.order_id = $1"#,
        order_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let postcode = address("postcode");
    Ok(Begun::Create(Box::new(SessionOrder {
        attempt_id,
        invoice_no: o.invoice_no,
        amount: crate::money::in_minor_units(o.total),
        currency: o.currency,
        customer_name: if buyer.0.is_empty() { address("name") } else { buyer.0 },
        customer_email: buyer.1,
        customer_phone: address("phone"),
        address_line1: address("line1"),
        city: address("city"),
        postcode: if postcode.is_empty() { "0000".into() } else { postcode },
        product_names: crate::input::truncate_chars(&products.names, 255),
        product_categories: crate::input::truncate_chars(&products.categories, 100),
        items: products.items,
        return_url: return_url.to_owned(),
    })))
}

/// The buyer's name and email: the member's, or the guest's.
async fn buyer_contact(
    conn: &mut PgConnection,
    buyer_id: Option<Uuid>,
    guest: Option<&serde_json::Value>,
) -> DomainResult<(String, String)> {
    if let Some(id) = buyer_id {
        let m = sqlx::query!("SELECT name, email FROM members WHERE id = $1", id).fetch_one(conn).await?;
        return Ok((m.name, m.email));
    }
    let text = |k: &str| guest.and_then(|g| g.get(k)).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    Ok((text("name"), text("email")))
}

/// Open attempts past their time become `expired`; attempts `creating`
/// for longer than [`ABANDONED_AFTER`] become `failed`.
async fn close_stale(conn: &mut PgConnection, order_id: Uuid, now: DateTime<Utc>) -> DomainResult<()> {
    sqlx::query!(
        "UPDATE payment_attempts
            SET status = CASE WHEN status = 'open' THEN 'expired' ELSE 'failed' END,
                failure = CASE WHEN status = 'open' THEN failure ELSE 'abandoned while the gateway was being asked' END,
                updated_at = $2
          WHERE order_id = $1
            AND ((status = 'open' AND expires_at <= $2) OR (status = 'creating' AND created_at <= $2 - $3::interval))",
        order_id,
        now,
        pg_interval(ABANDONED_AFTER)
    )
    .execute(conn)
    .await?;
    Ok(())
}

fn pg_interval(d: chrono::Duration) -> sqlx::postgres::types::PgInterval {
    sqlx::postgres::types::PgInterval { months: 0, days: 0, microseconds: d.num_microseconds().unwrap_or(i64::MAX) }
}

async fn live(conn: &mut PgConnection, order_id: Uuid) -> DomainResult<Option<Attempt>> {
    let id = sqlx::query_scalar!(
        "SELECT id FROM payment_attempts WHERE order_id = $1 AND status IN ('creating', 'open')",
        order_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    match id {
        Some(id) => Ok(Some(get(conn, id).await?)),
        None => Ok(None),
    }
}

/// The gateway opened the session: the attempt is open.
pub async fn opened(
    conn: &mut PgConnection,
    attempt_id: Uuid,
    session: &Session,
    now: DateTime<Utc>,
) -> DomainResult<Attempt> {
    sqlx::query!(
        "UPDATE payment_attempts SET status = 'open', redirect_url = $2, gateway_ref = $3, updated_at = $4
          WHERE id = $1 AND status = 'creating'",
        attempt_id,
        session.redirect_url,
        session.gateway_ref,
        now
    )
    .execute(&mut *conn)
    .await?;
    get(conn, attempt_id).await
}

/// The gateway refused the session, or could not be reached: the attempt
/// failed, and a new one may be made.
pub async fn failed(conn: &mut PgConnection, attempt_id: Uuid, why: &str, now: DateTime<Utc>) -> DomainResult<Attempt> {
    sqlx::query!(
        "UPDATE payment_attempts SET status = 'failed', failure = $2, updated_at = $3
          WHERE id = $1 AND status IN ('creating', 'open')",
        attempt_id,
        crate::input::truncate_chars(why, 500),
        now
    )
    .execute(&mut *conn)
    .await?;
    get(conn, attempt_id).await
}

/// What became of an order's live attempt when a fact about its payment
/// was recorded: paid, the payment failed, or the order was cancelled.
pub(crate) async fn follow_order(
    conn: &mut PgConnection,
    order_id: Uuid,
    to: AttemptStatus,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    sqlx::query!(
        "UPDATE payment_attempts SET status = $2, updated_at = $3,
                failure = CASE WHEN $2 = 'failed' THEN 'the gateway reported the payment failed' ELSE failure END
          WHERE order_id = $1 AND status IN ('creating', 'open')",
        order_id,
        to.as_str(),
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Where the buyer of the session `gateway_ref` at `gateway` returns to
/// on the storefront, if haat opened that session.
pub async fn return_url_of(
    conn: &mut PgConnection,
    gateway: Gateway,
    gateway_ref: &str,
) -> DomainResult<Option<String>> {
    Ok(sqlx::query_scalar!(
        "SELECT return_url FROM payment_attempts WHERE provider = $1 AND gateway_ref = $2",
        gateway.as_str(),
        gateway_ref
    )
    .fetch_optional(conn)
    .await?)
}

/// One attempt. An open attempt whose time has passed reads as `expired`.
pub async fn get(conn: &mut PgConnection, attempt_id: Uuid) -> DomainResult<Attempt> {
    let a = sqlx::query_as!(
        Attempt,
        r#"SELECT id, order_id, provider AS "provider: Gateway",
                  CASE WHEN status = 'open' AND expires_at <= now() THEN 'expired' ELSE status END AS "status!: AttemptStatus",
                  redirect_url, amount, currency, return_url, failure, expires_at, created_at
             FROM payment_attempts WHERE id = $1"#,
        attempt_id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound("payment attempt"))?;
    Ok(Attempt { amount: crate::money::in_minor_units(a.amount), ..a })
}

/// An order's attempts, oldest first.
pub async fn of_order(conn: &mut PgConnection, order_id: Uuid) -> DomainResult<Vec<Attempt>> {
    let ids =
        sqlx::query_scalar!("SELECT id FROM payment_attempts WHERE order_id = $1 ORDER BY created_at, id", order_id)
            .fetch_all(&mut *conn)
            .await?;
    let mut attempts = Vec::with_capacity(ids.len());
    for id in ids {
        attempts.push(get(conn, id).await?);
    }
    Ok(attempts)
}
