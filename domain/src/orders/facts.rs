//! What happens to a placed order: provider facts applied under the
//! order's row lock, returns and refunds recorded, cancellation and expiry,
//! settlement at the hold's end — each status change with its history row
//! and email, and the moment it becomes commissionable.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::checkout::payments::{self, AttemptStatus};
use crate::compensation::plans;
use crate::error::{DomainError, DomainResult};
use crate::jobs::{self, CreditVolume};
use crate::ledger::{self, Account, Entry, EntryKind, MemberAccount, Posting, SystemAccount};
use crate::money::display::Language;
use crate::notifications::{self, Email};
use crate::rules::order_state::{self, Facts, OrderFact, OrderStatus, Outcome, PaymentMethod, Reversed};

use super::reversals;
use super::view::{Order, get};

/// Records a status change in the order's history.
pub(super) async fn record_history(
    conn: &mut PgConnection,
    order_id: Uuid,
    status: OrderStatus,
    source: &str,
) -> DomainResult<()> {
    sqlx::query!(
        "INSERT INTO order_history (order_id, status, source) VALUES ($1, $2, $3)",
        order_id,
        status.as_str(),
        source
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An order's row, locked for the rest of the caller's transaction, with
/// its facts and reversals: everything a status change is decided from.
struct Locked {
    id: Uuid,
    method: PaymentMethod,
    facts: Facts,
    status: OrderStatus,
    commissionable_at: Option<DateTime<Utc>>,
    invoice_no: String,
    buyer_id: Option<Uuid>,
    /// The buyer as an email to them needs (read with the lock: a fact
    /// that tells the buyer costs no lookup of its own).
    buyer: Option<notifications::Recipient>,
    guest: Option<serde_json::Value>,
    /// Whether some line is a seller's (only then has the marketplace's
    /// preparation clock or escrow anything to do). Lines never change
    /// sellers, so this reads true with the lock; what a transaction we
    /// waited for wrote to other tables (a return) would not, as the lock's
    /// statement reads them as of its start: those are read after it.
    sold_by_sellers: bool,
}

async fn lock(conn: &mut PgConnection, order_id: Uuid) -> DomainResult<Locked> {
    // `FOR UPDATE OF o`: the order's row is locked, not the buyer's.
    let o = sqlx::query!(
        r#"SELECT o.payment_method, o.status, o.paid_at, o.shipped_at, o.delivered_at, o.partially_delivered_at,
                  o.cancelled_at, o.settled_at, o.commissionable_at, o.invoice_no, o.buyer_id, o.guest,
                  m.email AS "buyer_email?", m.name AS "buyer_name?", m.language AS "buyer_language?",
                  EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id AND l.seller_id IS NOT NULL)
                    AS "sold_by_sellers!"
             FROM orders o LEFT JOIN members m ON m.id = o.buyer_id
            WHERE o.id = $1 FOR UPDATE OF o"#,
        order_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound("order"))?;
    let buyer = match (o.buyer_id, o.buyer_email, o.buyer_name, o.buyer_language) {
        (Some(member_id), Some(email), Some(name), Some(language)) => {
            Some(notifications::Recipient { member_id, email, name, language: Language::of_tag(&language) })
        }
        _ => None,
    };
    Ok(Locked {
        buyer,
        id: order_id,
        method: stored_method(order_id, &o.payment_method)?,
        facts: Facts {
            paid: o.paid_at.is_some(),
            shipped: o.shipped_at.is_some(),
            delivered: o.delivered_at.is_some(),
            partially_delivered: o.partially_delivered_at.is_some(),
            cancelled: o.cancelled_at.is_some(),
            settled: o.settled_at.is_some(),
        },
        status: stored_status(order_id, &o.status)?,
        commissionable_at: o.commissionable_at,
        invoice_no: o.invoice_no,
        buyer_id: o.buyer_id,
        guest: o.guest,
        sold_by_sellers: o.sold_by_sellers,
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

crate::words::stored_words!(
    /// What an order's event log records: a provider's fact, a return,
    /// refund or cancellation recorded, or the end of the order's hold.
    LoggedFact {
        /// A confirmed payment.
        Paid = "paid",
        /// A failed payment attempt.
        PaymentFailed = "payment_failed",
        /// Handed to the courier.
        Shipped = "shipped",
        /// Delivered.
        Delivered = "delivered",
        /// Some lines delivered.
        PartiallyDelivered = "partially_delivered",
        /// Cancelled before shipping.
        Cancelled = "cancelled",
        /// The hold ended.
        Settled = "settled",
        /// Units returned.
        Return = "return",
        /// Units refunded.
        Refund = "refund",
        /// The whole order reversed by its cancellation.
        Cancel = "cancel",
    }
);

impl From<OrderFact> for LoggedFact {
    fn from(fact: OrderFact) -> Self {
        match fact {
            OrderFact::Paid => Self::Paid,
            OrderFact::PaymentFailed => Self::PaymentFailed,
            OrderFact::Shipped => Self::Shipped,
            OrderFact::Delivered => Self::Delivered,
            OrderFact::PartiallyDelivered => Self::PartiallyDelivered,
            OrderFact::Cancelled => Self::Cancelled,
        }
    }
}

impl From<reversals::Kind> for LoggedFact {
    fn from(kind: reversals::Kind) -> Self {
        match kind {
            reversals::Kind::Return => Self::Return,
            reversals::Kind::Refund => Self::Refund,
            reversals::Kind::Cancel => Self::Cancel,
        }
    }
}

crate::words::sqlx_words!(Outcome);

async fn record_event(
    conn: &mut PgConnection,
    order_id: Uuid,
    fact: LoggedFact,
    outcome: Outcome,
    source: &str,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    sqlx::query!(
        "INSERT INTO order_events (order_id, fact, outcome, source, at) VALUES ($1, $2, $3, $4, $5)",
        order_id,
        fact.as_str(),
        outcome.as_str(),
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
        status.as_str(),
        next.settled
    )
    .execute(&mut *conn)
    .await?;
    follow_payment_attempts(conn, o, next, now).await?;
    let effects = order_state::effects(o.status, status, o.commissionable_at.is_some());
    if let Some(status) = effects.history {
        record_history(conn, o.id, status, source).await?;
    }
    if let Some(news) = effects.news {
        tell_buyer(conn, o, status.as_str(), news).await?;
    }
    if let (true, Some(buyer_id)) = (effects.return_store_credit, o.buyer_id) {
        return_store_credit(conn, o.id, buyer_id).await?;
    }
    if effects.check_commissionable {
        mark_commissionable(conn, o.id, next, now).await?;
    }
    let delivered = |f: Facts| f.delivered || f.partially_delivered;
    if o.sold_by_sellers && delivered(next) && !delivered(o.facts) {
        crate::marketplace::escrow::on_delivery(conn, o.id, now).await?;
    }
    tell_endpoints(conn, o, next, now).await
}

/// The order's events out (`integrations::events`): paid and delivered,
/// once each.
async fn tell_endpoints(conn: &mut PgConnection, o: &Locked, next: Facts, now: DateTime<Utc>) -> DomainResult<()> {
    use crate::integrations::events::{self, EventType};
    let data = || serde_json::json!({"order_id": o.id, "buyer_id": o.buyer_id});
    if next.paid && !o.facts.paid {
        events::emit(conn, EventType::OrderPaid, &format!("order.paid:{}", o.id), data(), now).await?;
    }
    if next.delivered && !o.facts.delivered {
        events::emit(conn, EventType::OrderDelivered, &format!("order.delivered:{}", o.id), data(), now).await?;
    }
    Ok(())
}

/// A live payment attempt ends when the order is paid (through it or
/// otherwise) or cancelled; paying also starts the sellers' preparation
/// clock.
async fn follow_payment_attempts(
    conn: &mut PgConnection,
    o: &Locked,
    next: Facts,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    if next.paid && !o.facts.paid {
        payments::follow_order(conn, o.id, AttemptStatus::Paid, now).await?;
        // A paid order is ready for its sellers to prepare.
        if o.sold_by_sellers {
            crate::marketplace::preparation::start(conn, o.id, now).await?;
        }
    } else if next.cancelled && !o.facts.cancelled {
        payments::follow_order(conn, o.id, AttemptStatus::Expired, now).await?;
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
    record_event(conn, order_id, fact.into(), outcome, source, now).await?;
    if fact == OrderFact::PaymentFailed {
        // The buyer may try again: the live payment page is no longer it.
        payments::follow_order(conn, order_id, AttemptStatus::Failed, now).await?;
    }
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
    record_event(conn, order_id, LoggedFact::Settled, Outcome::Applied, source, now).await?;
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
    let fact = LoggedFact::from(req.kind);
    let Some(id) = reversals::record(conn, order_id, req, now, return_window_days).await? else {
        record_event(conn, order_id, fact, Outcome::Duplicate, &req.source, now).await?;
        return Ok(ReversalOutcome::NothingLeft);
    };
    record_event(conn, order_id, fact, Outcome::Applied, &req.source, now).await?;
    save(conn, &o, o.facts, &req.source, now).await?;
    if req.kind != reversals::Kind::Cancel {
        let data = serde_json::json!({"order_id": order_id, "reversal_id": id, "kind": req.kind.as_str()});
        let cause = format!("order.returned:{id}");
        crate::integrations::events::emit(
            conn,
            crate::integrations::events::EventType::OrderReturned,
            &cause,
            data,
            now,
        )
        .await?;
    }
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
    record_event(conn, order_id, LoggedFact::Cancelled, outcome, source, now).await?;
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
        Entry { idempotency_key: &key, kind: EntryKind::StoreCreditReturned, reference: &reference, postings },
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
    let marked = sqlx::query!(
        "UPDATE orders SET commissionable_at = $2, plan_id = $3 WHERE id = $1 AND commissionable_at IS NULL",
        order_id,
        now,
        plan.id
    )
    .execute(&mut *conn)
    .await?;
    // The volume job is queued by the one transaction that makes the order
    // commissionable (under the order's row lock), so its key is new: one
    // insert, no savepoint. An order already commissionable has its job.
    // In a worker's job that runs its follow-ups itself, they run in this
    // transaction before its commit (`jobs::inline`).
    if marked.rows_affected() == 0 || jobs::inline::defer_volume(order_id) {
        return Ok(());
    }
    jobs::enqueue_for_new_row(conn, &[CreditVolume { order_id }]).await
}

/// What happened to an order (`what` of `rules::order_state::effects`), in
/// Bengali; English where no wording is known.
fn order_news_in_bengali(what: &str) -> String {
    match what {
        "is paid: thank you" => "পরিশোধ হয়েছে, ধন্যবাদ",
        "has been shipped" => "পাঠানো হয়েছে",
        "has been delivered" => "ডেলিভারি হয়েছে",
        "has been delivered in part" => "আংশিক ডেলিভারি হয়েছে",
        "has been cancelled" => "বাতিল হয়েছে",
        "has been returned" => "ফেরত এসেছে",
        "has been returned in part" => "আংশিক ফেরত এসেছে",
        "has been refunded" => "টাকা ফেরত দেওয়া হয়েছে",
        "has been refunded in part" => "আংশিক টাকা ফেরত দেওয়া হয়েছে",
        other => other,
    }
    .to_owned()
}

/// Emails the buyer (a member or a guest) what happened to the order
/// (`what`, decided by `rules::order_state::effects`).
async fn tell_buyer(conn: &mut PgConnection, o: &Locked, status: &str, what: &str) -> DomainResult<()> {
    let invoice_no = &o.invoice_no;
    let dedupe_key = format!("order_{status}:{}", o.id);
    // A parcel haat booked: the buyer is told how to track it.
    let tracking = match status {
        "shipped" => crate::checkout::shipments::tracking_of(conn, o.id).await?,
        _ => None,
    };
    let write = |name: &str, language: Language| {
        let (subject, mut body) = match language {
            Language::English => {
                (format!("Order {invoice_no} {what}"), format!("Dear {name},\n\nyour order {invoice_no} {what}.\n"))
            }
            Language::Bengali => (
                format!("অর্ডার {invoice_no}: {}", order_news_in_bengali(what)),
                format!("প্রিয় {name},\n\nআপনার অর্ডার {invoice_no}: {}।\n", order_news_in_bengali(what)),
            ),
        };
        if let Some((courier, number)) = &tracking {
            body.push_str(&match language {
                Language::English => format!("{} tracking number: {number}\n", courier.label()),
                Language::Bengali => format!("{} ট্র্যাকিং নম্বর: {number}\n", courier.label()),
            });
        }
        (subject, body)
    };
    match (o.buyer_id, &o.guest) {
        (Some(buyer_id), _) => match &o.buyer {
            Some(buyer) => notifications::to_recipient(conn, buyer, dedupe_key, write).await,
            None => notifications::to_member(conn, buyer_id, dedupe_key, write).await,
        },
        (None, Some(guest)) => {
            let text = |k: &str| guest.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            let (subject, body) = write(&text("name"), Language::English);
            let email = Email { dedupe_key, member_id: None, to: text("email"), subject, body };
            notifications::queue(conn, &email).await
        }
        (None, None) => Ok(()),
    }
}

/// The status stored on order `id`: a name we never write is corruption,
/// an error rather than a default.
/// A stored payment method: a value we never write is corruption, not a default.
pub(super) fn stored_method(id: Uuid, method: &str) -> DomainResult<PaymentMethod> {
    PaymentMethod::parse(method)
        .ok_or_else(|| DomainError::Internal(anyhow::anyhow!("order {id} has unknown payment method {method:?}")))
}

pub(super) fn stored_status(id: Uuid, status: &str) -> DomainResult<OrderStatus> {
    OrderStatus::parse(status)
        .ok_or_else(|| DomainError::Internal(anyhow::anyhow!("order {id} has unknown status {status:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_order_news_has_its_bengali_wording() {
        for status in OrderStatus::ALL {
            if let Some(news) = order_state::effects(OrderStatus::PendingPayment, status, false).news {
                assert_ne!(order_news_in_bengali(news), news, "{status:?} has no Bengali wording");
            }
        }
    }
}
