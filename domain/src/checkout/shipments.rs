//! Parcels booked with a courier for an order ready to ship (paid, or cash
//! on delivery). Asking for one writes the shipment `booking` and its
//! `book_shipment` job in one transaction; the job reads the [`Parcel`],
//! calls the courier with no transaction open, and records the answer:
//! [`booked`] (the order becomes `shipped`, the tracking number in its
//! history and the buyer's email), a try that failed ([`try_failed`], the
//! job retried with backoff), or the courier's refusal ([`refused`]). At
//! most one shipment per order is live (booking or booked) — a unique index
//! says so — so an order is never booked twice.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult};
use crate::jobs::progress::Progress;
use crate::jobs::{self, BookShipment, BookShipments};
use crate::rules::order_state::{OrderFact, OrderStatus, PaymentMethod};

crate::words::stored_words!(
    /// The couriers haat books parcels with.
    Courier {
        /// Steadfast (`create_order`).
        Steadfast = "steadfast",
        /// Pathao (OAuth token, then `orders`).
        Pathao = "pathao",
        /// RedX (`parcel`).
        Redx = "redx",
    }
);

impl Courier {
    /// The courier's name as people write it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Steadfast => "Steadfast",
            Self::Pathao => "Pathao",
            Self::Redx => "RedX",
        }
    }
}

crate::words::stored_words!(
    /// Where a booking is.
    ShipmentStatus {
        /// The courier is being asked (retried with backoff while it fails).
        Booking = "booking",
        /// The courier took the parcel: it has a consignment and tracking number.
        Booked = "booked",
        /// The courier refused it (the reason is `last_error`).
        Failed = "failed",
    }
);

/// A shipment as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Shipment {
    /// Id.
    pub id: Uuid,
    /// The order.
    pub order_id: Uuid,
    /// `steadfast`, `pathao` or `redx`.
    pub courier: Courier,
    /// `booking`, `booked` or `failed`.
    pub status: ShipmentStatus,
    /// The courier's id of the parcel.
    pub consignment_id: Option<String>,
    /// What the buyer tracks the parcel by.
    pub tracking_number: Option<String>,
    /// What the courier collects from the buyer (the total of a cod order).
    #[schema(value_type = crate::money::DecimalText)]
    pub cod_amount: Decimal,
    /// Tries that failed so far.
    pub attempts: i32,
    /// The last failure, for the admin.
    pub last_error: Option<String>,
    /// Asked for.
    pub created_at: DateTime<Utc>,
    /// When the courier took it.
    pub booked_at: Option<DateTime<Utc>>,
}

/// What a courier is sent to book a parcel: all of it from OUR order.
#[derive(Debug, Clone)]
pub struct Parcel {
    /// The shipment.
    pub shipment_id: Uuid,
    /// The courier.
    pub courier: Courier,
    /// Our invoice number: the parcel's merchant reference at the courier.
    pub invoice_no: String,
    /// Who receives it.
    pub recipient_name: String,
    /// Their phone, as the 11 digits couriers take (`01711000000`).
    pub recipient_phone: String,
    /// Street, city and postcode on one line.
    pub recipient_address: String,
    /// City.
    pub city: String,
    /// Postcode (may be empty).
    pub postcode: String,
    /// What the courier collects (0 for a paid order).
    pub cod_amount: Decimal,
    /// The order's total (the declared value).
    pub value: Decimal,
    /// Units in the parcel.
    pub items: i64,
    /// The products, comma-separated.
    pub item_description: String,
    /// Instructions for the courier.
    pub note: Option<String>,
}

/// What a courier answered for a booked parcel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    /// The courier's id of the parcel.
    pub consignment_id: String,
    /// What the buyer tracks it by.
    pub tracking_number: String,
}

/// What asking for a booking did.
#[derive(Debug, Clone)]
pub enum Requested {
    /// A booking was written, its job queued.
    New(Shipment),
    /// The order already has this live booking.
    Live(Shipment),
}

impl Requested {
    /// The booking either way.
    pub fn into_shipment(self) -> Shipment {
        match self {
            Self::New(s) | Self::Live(s) => s,
        }
    }
}

/// Asks for `order_id` to be booked with `courier` (the job does it), or
/// answers the live booking. The order must be ready to ship: paid, or a
/// cash-on-delivery order not yet shipped or cancelled.
pub async fn request(
    conn: &mut PgConnection,
    order_id: Uuid,
    courier: Courier,
    note: Option<&str>,
    requested_by: &str,
    now: DateTime<Utc>,
) -> DomainResult<Requested> {
    let o = sqlx::query!("SELECT status, payment_method, total FROM orders WHERE id = $1 FOR UPDATE", order_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(DomainError::NotFound("order"))?;
    let cod = PaymentMethod::parse(&o.payment_method) == Some(PaymentMethod::Cod);
    let ready = match OrderStatus::parse(&o.status) {
        Some(OrderStatus::Paid) => true,
        Some(OrderStatus::PendingPayment) => cod,
        _ => false,
    };
    if let Some(live) = live(conn, order_id).await? {
        if live.courier != courier {
            return Err(DomainError::conflict(
                "courier",
                format!("the order is already booked with {}", live.courier.label()),
            ));
        }
        return Ok(Requested::Live(live));
    }
    if !ready {
        return Err(DomainError::conflict("order", format!("the order is {}: it is not ready to ship", o.status)));
    }
    let id = Uuid::now_v7();
    let cod_amount = if cod { o.total } else { Decimal::ZERO };
    sqlx::query!(
        "INSERT INTO shipments (id, order_id, courier, status, cod_amount, note, requested_by, created_at, updated_at)
         VALUES ($1, $2, $3, 'booking', $4, $5, $6, $7, $7)",
        id,
        order_id,
        courier.as_str(),
        cod_amount,
        note,
        requested_by,
        now
    )
    .execute(&mut *conn)
    .await?;
    jobs::enqueue_for_new_row(conn, &[BookShipment { shipment_id: id }]).await?;
    Ok(Requested::New(get(conn, id).await?))
}

async fn live(conn: &mut PgConnection, order_id: Uuid) -> DomainResult<Option<Shipment>> {
    let id = sqlx::query_scalar!(
        "SELECT id FROM shipments WHERE order_id = $1 AND status IN ('booking', 'booked')",
        order_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    match id {
        Some(id) => Ok(Some(get(conn, id).await?)),
        None => Ok(None),
    }
}

/// The parcel a `book_shipment` job sends, or `None` when the shipment is
/// no longer being booked (booked or refused before: nothing to do).
pub async fn parcel(conn: &mut PgConnection, shipment_id: Uuid) -> DomainResult<Option<Parcel>> {
    let Some(s) = sqlx::query!(
        r#"SELECT s.courier AS "courier: Courier", s.cod_amount, s.note, o.invoice_no, o.total, o.shipping_address,
                  (SELECT sum(quantity)::bigint FROM order_lines WHERE order_id = o.id) AS "items!",
                  (SELECT string_agg(p.name, ', ' ORDER BY l.line_no) FROM order_lines l JOIN products p ON p.id = l.product_id
                    WHERE l.order_id = o.id) AS "description!"
             FROM shipments s JOIN orders o ON o.id = s.order_id
            WHERE s.id = $1 AND s.status = 'booking'"#,
        shipment_id
    )
    .fetch_optional(conn)
    .await?
    else {
        return Ok(None);
    };
    let address = |k: &str| s.shipping_address.get(k).and_then(|v| v.as_str()).unwrap_or_default().trim().to_owned();
    let (city, postcode) = (address("city"), address("postcode"));
    let street = [address("line1"), address("line2")].into_iter().filter(|l| !l.is_empty()).collect::<Vec<_>>();
    let place = if postcode.is_empty() { city.clone() } else { format!("{city}-{postcode}") };
    Ok(Some(Parcel {
        shipment_id,
        courier: s.courier,
        invoice_no: s.invoice_no,
        recipient_name: crate::input::truncate_chars(&address("name"), 100),
        recipient_phone: local_phone(&address("phone")),
        recipient_address: crate::input::truncate_chars(&format!("{}, {place}", street.join(", ")), 250),
        city,
        postcode,
        cod_amount: crate::money::in_minor_units(s.cod_amount),
        value: crate::money::in_minor_units(s.total),
        items: s.items,
        item_description: crate::input::truncate_chars(&s.description, 250),
        note: s.note,
    }))
}

/// A Bangladeshi mobile number as the 11 digits couriers take: `+880 1711-000000`
/// and `8801711000000` become `01711000000`; anything else is sent as its digits.
pub fn local_phone(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    match digits.strip_prefix("88") {
        Some(rest) if rest.len() == 11 && rest.starts_with("01") => rest.to_owned(),
        _ => digits,
    }
}

/// The courier took the parcel: the shipment is booked and the order
/// `shipped` (history source `courier:{courier}:{tracking number}`, the
/// buyer's email naming the tracking number). Recording it twice changes
/// nothing.
pub async fn booked(
    conn: &mut PgConnection,
    shipment_id: Uuid,
    booking: &Booking,
    now: DateTime<Utc>,
) -> DomainResult<Shipment> {
    let done = sqlx::query!(
        r#"UPDATE shipments SET status = 'booked', consignment_id = $2, tracking_number = $3, booked_at = $4, updated_at = $4
            WHERE id = $1 AND status = 'booking' RETURNING order_id, courier AS "courier: Courier""#,
        shipment_id,
        booking.consignment_id,
        booking.tracking_number,
        now
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(s) = done {
        let source = format!("courier:{}:{}", s.courier, booking.tracking_number);
        crate::orders::apply_fact(conn, s.order_id, OrderFact::Shipped, &source, now).await?;
    }
    get(conn, shipment_id).await
}

/// A try that failed (the courier unreachable or garbled): counted and
/// kept for the admin; the job tries again.
pub async fn try_failed(
    conn: &mut PgConnection,
    shipment_id: Uuid,
    error: &str,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    sqlx::query!(
        "UPDATE shipments SET attempts = attempts + 1, last_error = $2, updated_at = $3 WHERE id = $1 AND status = 'booking'",
        shipment_id,
        crate::input::truncate_chars(error, 500),
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The courier refused the parcel: the shipment failed, and the order may
/// be booked again.
pub async fn refused(conn: &mut PgConnection, shipment_id: Uuid, why: &str, now: DateTime<Utc>) -> DomainResult<()> {
    sqlx::query!(
        "UPDATE shipments SET status = 'failed', attempts = attempts + 1, last_error = $2, updated_at = $3
          WHERE id = $1 AND status = 'booking'",
        shipment_id,
        crate::input::truncate_chars(why, 500),
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// One shipment.
pub async fn get(conn: &mut PgConnection, shipment_id: Uuid) -> DomainResult<Shipment> {
    let s = sqlx::query_as!(
        Shipment,
        r#"SELECT id, order_id, courier AS "courier: Courier", status AS "status: ShipmentStatus", consignment_id,
                  tracking_number, cod_amount, attempts, last_error, created_at, booked_at
             FROM shipments WHERE id = $1"#,
        shipment_id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound("shipment"))?;
    Ok(Shipment { cod_amount: crate::money::in_minor_units(s.cod_amount), ..s })
}

/// An order's shipments, oldest first.
pub async fn of_order(conn: &mut PgConnection, order_id: Uuid) -> DomainResult<Vec<Shipment>> {
    let ids = sqlx::query_scalar!("SELECT id FROM shipments WHERE order_id = $1 ORDER BY created_at, id", order_id)
        .fetch_all(&mut *conn)
        .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(get(conn, id).await?);
    }
    Ok(out)
}

/// The most orders one batch books.
pub const MOST_IN_BATCH: usize = 5000;
/// Orders booked per transaction by a batch's job: a few row locks held
/// briefly rather than thousands held for the whole batch.
pub const PER_TRANSACTION: usize = 100;

/// Asks for many orders to be booked with `courier` at once: the batch
/// and its `book_shipments` job, written in the caller's transaction.
/// Repeated ids count once. Returns the batch's id.
pub async fn request_many(
    conn: &mut PgConnection,
    courier: Courier,
    order_ids: &[Uuid],
    requested_by: &str,
) -> DomainResult<Uuid> {
    let mut ids: Vec<Uuid> = Vec::with_capacity(order_ids.len());
    for id in order_ids {
        if !ids.contains(id) {
            ids.push(*id);
        }
    }
    if ids.is_empty() || ids.len() > MOST_IN_BATCH {
        return Err(DomainError::invalid("order_ids", format!("must name 1 to {MOST_IN_BATCH} orders")));
    }
    let batch_id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO shipment_batches (id, courier, order_ids, requested_by) VALUES ($1, $2, $3, $4)",
        batch_id,
        courier.as_str(),
        &ids,
        requested_by
    )
    .execute(&mut *conn)
    .await?;
    jobs::enqueue_for_new_row(conn, &[BookShipments { batch_id }]).await?;
    Ok(batch_id)
}

/// What a batch's job did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BatchOutcome {
    /// Orders named.
    pub orders: usize,
    /// Bookings made by this batch (each now booked by its own job).
    pub requested: usize,
    /// Orders already booked (or being booked) with this courier.
    pub already: usize,
    /// Orders not booked, each with why (not ready, another courier, unknown).
    pub refused: Vec<Refused>,
}

/// An order a batch did not book.
#[derive(Debug, Clone, Serialize)]
pub struct Refused {
    /// The order.
    pub order_id: Uuid,
    /// Why.
    pub why: String,
}

/// Books the orders of batch `batch_id`, [`PER_TRANSACTION`] per
/// transaction on `pool`, reporting orders done to `progress`. Safe to run
/// again: an order booked by an earlier run is `already`.
pub async fn book_batch(
    pool: &sqlx::PgPool,
    batch_id: Uuid,
    now: DateTime<Utc>,
    progress: &mut Progress,
) -> DomainResult<BatchOutcome> {
    let batch = sqlx::query!(
        r#"SELECT courier AS "courier: Courier", order_ids, requested_by FROM shipment_batches WHERE id = $1"#,
        batch_id
    )
    .fetch_optional(pool)
    .await?
    .ok_or(DomainError::NotFound("shipment batch"))?;
    let mut outcome = BatchOutcome { orders: batch.order_ids.len(), ..BatchOutcome::default() };
    let source = format!("{}:batch:{batch_id}", batch.requested_by);
    for (n, chunk) in batch.order_ids.chunks(PER_TRANSACTION).enumerate() {
        let mut tx = pool.begin().await?;
        for &order_id in chunk {
            match request(&mut tx, order_id, batch.courier, None, &source, now).await {
                Ok(Requested::New(_)) => outcome.requested += 1,
                Ok(Requested::Live(_)) => outcome.already += 1,
                Err(DomainError::NotFound(_)) => {
                    outcome.refused.push(Refused { order_id, why: "no such order".into() })
                }
                Err(DomainError::Conflict { message, .. }) => outcome.refused.push(Refused { order_id, why: message }),
                Err(e) => return Err(e),
            }
        }
        tx.commit().await?;
        let done = (n * PER_TRANSACTION + chunk.len()) as i64;
        progress.report(done, Some(batch.order_ids.len() as i64)).await?;
    }
    Ok(outcome)
}

/// The courier and tracking number of an order's booked parcel (for the
/// buyer's "shipped" email).
pub(crate) async fn tracking_of(conn: &mut PgConnection, order_id: Uuid) -> DomainResult<Option<(Courier, String)>> {
    let row = sqlx::query!(
        r#"SELECT courier AS "courier: Courier", tracking_number AS "tracking_number!" FROM shipments
            WHERE order_id = $1 AND status = 'booked'"#,
        order_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.courier, r.tracking_number)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bangladeshi_number_becomes_the_eleven_digits_couriers_take() {
        assert_eq!(local_phone("+8801711000000"), "01711000000");
        assert_eq!(local_phone("+880 1711-000000"), "01711000000");
        assert_eq!(local_phone("01711000000"), "01711000000");
        assert_eq!(local_phone("+44 20 7946 0958"), "442079460958");
    }
}
