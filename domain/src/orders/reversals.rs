//! Returns, refunds and cancellations by line, and the reversal of what an
//! order earned: volume gets reversal entries, held commissions are
//! cancelled, released ones are clawed back — always at the stored amounts,
//! never recomputed with today's plan.
//!
//! A reversal is recorded at once (capped at what is left of each line) and
//! its effects are applied as soon as the effects it reverses exist: a
//! return that arrives before the order was credited waits, and crediting
//! the order applies it. So the final ledger does not depend on the order in
//! which the facts arrived.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult, Problems};
use crate::integrations::events::{self, Cause, EventType};
use crate::jobs::{self, ReverseOrder};
use crate::ledger::{self, Account, EntryKind, MemberAccount, SystemAccount, TakeBack};
use crate::money::display::{Language, taka_of};
use crate::notifications;
use crate::rules::order_state::return_window_open;

/// What kind of reversal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Goods came back (courier or storefront); limited by the return window.
    Return,
    /// The gateway refunded the payment: money already left, no window.
    Refund,
    /// Cancelled before shipping.
    Cancel,
}

impl Kind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Return => "return",
            Self::Refund => "refund",
            Self::Cancel => "cancel",
        }
    }

    /// The kind of a stored name, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Return, Self::Refund, Self::Cancel].into_iter().find(|k| k.as_str() == name)
    }
}

crate::words::sqlx_words!(Kind);

/// Some units of one order line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineUnits {
    /// The order line.
    pub order_line_id: Uuid,
    /// Units, at least 1.
    pub quantity: i32,
}

/// A reversal to record.
#[derive(Debug, Clone)]
pub struct Request {
    /// Return, refund or cancel.
    pub kind: Kind,
    /// The lines; `None` means everything not yet reversed.
    pub lines: Option<Vec<LineUnits>>,
    /// Free text from the reporter.
    pub reason: Option<String>,
    /// Who reported it.
    pub source: String,
    /// The provider's id of this refund, when it gives one: a second report
    /// of the same id is a duplicate, whatever its event id.
    pub external_ref: Option<String>,
}

/// A recorded reversal as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reversal {
    /// Id.
    pub id: Uuid,
    /// The order.
    pub order_id: Uuid,
    /// A return, a refund or a cancellation.
    pub kind: Kind,
    /// The units reversed.
    pub lines: Vec<LineUnits>,
    /// Free text.
    pub reason: Option<String>,
    /// Who reported it.
    pub source: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Records a reversal of the order, which the caller has locked
/// (`FOR UPDATE`), and enqueues the job that applies its effects. Returns
/// `None` when a whole-order reversal finds nothing left to reverse, or
/// the provider's refund id was seen before.
pub async fn record(
    conn: &mut PgConnection,
    order_id: Uuid,
    req: &Request,
    now: DateTime<Utc>,
    return_window_days: u32,
) -> DomainResult<Option<Uuid>> {
    let order = sqlx::query!("SELECT delivered_at, partially_delivered_at FROM orders WHERE id = $1", order_id)
        .fetch_one(&mut *conn)
        .await?;
    let delivered_at = order.delivered_at.or(order.partially_delivered_at);
    if req.kind == Kind::Return && !return_window_open(delivered_at, now, return_window_days) {
        return Err(DomainError::invalid(
            "lines",
            format!("the return window of {return_window_days} days after delivery has closed"),
        ));
    }
    let remaining: BTreeMap<Uuid, i32> = sqlx::query!(
        "SELECT id, quantity - reversed_quantity AS \"left!\" FROM order_lines WHERE order_id = $1",
        order_id
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|l| (l.id, l.left))
    .collect();
    if let Some(r) = &req.external_ref {
        let seen = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM order_reversals WHERE order_id = $1 AND external_ref = $2) AS "seen!""#,
            order_id,
            r
        )
        .fetch_one(&mut *conn)
        .await?;
        if seen {
            return Ok(None);
        }
    }
    let units = match &req.lines {
        None => remaining
            .iter()
            .filter(|(_, left)| **left > 0)
            .map(|(id, left)| LineUnits { order_line_id: *id, quantity: *left })
            .collect(),
        Some(lines) => check_lines(lines, &remaining)?,
    };
    if units.is_empty() {
        return Ok(None);
    }
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO order_reversals (id, order_id, kind, source, reason, external_ref, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        id,
        order_id,
        req.kind.as_str(),
        req.source,
        req.reason,
        req.external_ref,
        now
    )
    .execute(&mut *conn)
    .await?;
    for u in &units {
        sqlx::query!(
            "INSERT INTO order_reversal_lines (reversal_id, order_line_id, quantity) VALUES ($1, $2, $3)",
            id,
            u.order_line_id,
            u.quantity
        )
        .execute(&mut *conn)
        .await?;
        sqlx::query!(
            "UPDATE order_lines SET reversed_quantity = reversed_quantity + $2 WHERE id = $1",
            u.order_line_id,
            u.quantity
        )
        .execute(&mut *conn)
        .await?;
    }
    jobs::enqueue(conn, &ReverseOrder { order_id, reversal_id: id }, None).await?;
    Ok(Some(id))
}

fn check_lines(lines: &[LineUnits], remaining: &BTreeMap<Uuid, i32>) -> DomainResult<Vec<LineUnits>> {
    let mut p = Problems::default();
    if lines.is_empty() {
        p.add("lines", "must name at least one line");
    }
    let mut asked: BTreeMap<Uuid, i32> = BTreeMap::new();
    for (i, l) in lines.iter().enumerate() {
        let Some(left) = remaining.get(&l.order_line_id) else {
            p.add(format!("lines[{i}].order_line_id"), "is not a line of this order");
            continue;
        };
        let total = asked.entry(l.order_line_id).or_default();
        *total = total.saturating_add(l.quantity);
        if l.quantity < 1 || *total > *left {
            p.add(format!("lines[{i}].quantity"), format!("must be from 1 to the {left} units not yet returned"));
        }
    }
    p.finish()?;
    Ok(asked.into_iter().map(|(order_line_id, quantity)| LineUnits { order_line_id, quantity }).collect())
}

/// The order's reversals, oldest first.
pub async fn list(conn: &mut PgConnection, order_id: Uuid) -> DomainResult<Vec<Reversal>> {
    let rows = sqlx::query!(
        r#"SELECT id, kind AS "kind: Kind", reason, source, created_at FROM order_reversals
            WHERE order_id = $1 ORDER BY seq"#,
        order_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let lines = sqlx::query_as!(
            LineUnits,
            "SELECT order_line_id, quantity FROM order_reversal_lines WHERE reversal_id = $1 ORDER BY order_line_id",
            r.id
        )
        .fetch_all(&mut *conn)
        .await?;
        out.push(Reversal {
            id: r.id,
            order_id,
            kind: r.kind,
            lines,
            reason: r.reason,
            source: r.source,
            created_at: r.created_at,
        });
    }
    Ok(out)
}

/// Applies every recorded reversal of the order whose effects are not yet
/// reversed and whose targets exist: volume once the order's volume is
/// credited, commissions once they are cascaded. Runs under the order lock,
/// in reversal order; every posting has its idempotency key.
pub async fn apply_pending(conn: &mut PgConnection, order_id: Uuid, currency: &str) -> DomainResult<()> {
    let o = sqlx::query!(
        r#"SELECT volume_credited_at, cascaded_at, invoice_no,
                  EXISTS (SELECT 1 FROM order_reversals r WHERE r.order_id = o.id) AS "any_reversal!"
             FROM orders o WHERE id = $1 FOR UPDATE"#,
        order_id
    )
    .fetch_one(&mut *conn)
    .await?;
    // Nothing was ever returned or refunded (the common case, on every
    // order's way to its commissions): no line has reversed units, so
    // nothing below has anything to undo.
    if !o.any_reversal {
        return Ok(());
    }
    let pending = sqlx::query!(
        "SELECT id, seq, volume_reversed_at, commissions_reversed_at FROM order_reversals
          WHERE order_id = $1 AND (volume_reversed_at IS NULL OR commissions_reversed_at IS NULL) ORDER BY seq",
        order_id
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in pending {
        if r.volume_reversed_at.is_none() && o.volume_credited_at.is_some() {
            reverse_volume(conn, r.id).await?;
        }
        if r.commissions_reversed_at.is_none() && o.cascaded_at.is_some() {
            reverse_commissions(conn, order_id, r.id, r.seq, &o.invoice_no, currency).await?;
        }
    }
    // The buyer's instant reward, the sellers' shares and fees, and cashback
    // paid by a settled campaign on these units go back too.
    crate::rewards::loyalty::reverse(conn, order_id, currency).await?;
    crate::marketplace::escrow::reverse(conn, order_id, currency).await?;
    crate::rewards::campaigns::claw_back(conn, order_id, currency).await
}

/// What the `reverse_order` job runs: the order's pending reversals, then
/// the challenges its units counted for (a completion the return took back
/// is undone). The cascade reviews them itself, so this is the one other
/// place.
pub async fn apply_recorded(conn: &mut PgConnection, order_id: Uuid, currency: &str) -> DomainResult<()> {
    apply_pending(conn, order_id, currency).await?;
    crate::rewards::challenges::review_order(conn, order_id, currency).await
}

async fn reverse_volume(conn: &mut PgConnection, reversal_id: Uuid) -> DomainResult<()> {
    // Negative entries at the unit volume copied at order time, in the
    // period and at the time the volume was credited, so any window nets out.
    sqlx::query!(
        "INSERT INTO volume_entries (member_id, order_id, order_line_id, kind, pv, bv, period, reversal_id, at)
         SELECT v.member_id, v.order_id, l.id, 'reversal', -(l.pv * rl.quantity), -(l.bv * rl.quantity),
                v.period, rl.reversal_id, v.at
           FROM order_reversal_lines rl
           JOIN order_lines l ON l.id = rl.order_line_id
           JOIN volume_entries v ON v.order_line_id = l.id AND v.kind = 'order'
          WHERE rl.reversal_id = $1
         ON CONFLICT (order_line_id, reversal_id) WHERE kind = 'reversal' DO NOTHING",
        reversal_id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("UPDATE order_reversals SET volume_reversed_at = now() WHERE id = $1", reversal_id)
        .execute(conn)
        .await?;
    Ok(())
}

async fn reverse_commissions(
    conn: &mut PgConnection,
    order_id: Uuid,
    reversal_id: Uuid,
    seq: i64,
    invoice_no: &str,
    currency: &str,
) -> DomainResult<()> {
    // Each commission's reversed share after this reversal, from the line's
    // units reversed by this and every earlier reversal.
    let rows = sqlx::query!(
        r#"SELECT c.id, c.beneficiary_id, c.amount, c.reversed_amount, c.status, l.quantity,
                  (SELECT sum(rl.quantity) FROM order_reversal_lines rl JOIN order_reversals r ON r.id = rl.reversal_id
                    WHERE rl.order_line_id = l.id AND r.seq <= $2)::integer AS "reversed_units!"
             FROM commissions c
             JOIN order_lines l ON l.id = c.order_line_id
            WHERE c.order_id = $1
              AND c.order_line_id IN (SELECT order_line_id FROM order_reversal_lines WHERE reversal_id = $3)
            ORDER BY c.beneficiary_id, c.id"#,
        order_id,
        seq,
        reversal_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut per_member: BTreeMap<Uuid, Decimal> = BTreeMap::new();
    let mut reversed = Vec::new();
    for c in rows {
        let from = if c.status == "available" {
            (Account::Member(c.beneficiary_id, MemberAccount::Available), EntryKind::Clawback)
        } else {
            (Account::Member(c.beneficiary_id, MemberAccount::Pending), EntryKind::CommissionCancelled)
        };
        let (key, reference) = (ledger::keys::commission_reversal(c.id, reversal_id), c.id.to_string());
        let take = TakeBack {
            stored: c.amount,
            units: c.quantity,
            reversed_units: c.reversed_units,
            already: c.reversed_amount,
            from: Some(from),
            back_to: SystemAccount::CommissionExpense,
            key: &key,
            reference: &reference,
        };
        let delta = ledger::take_back(conn, currency, take).await?;
        if delta.is_zero() {
            continue;
        }
        sqlx::query!(
            "UPDATE commissions SET reversed_amount = reversed_amount + $2,
                    status = CASE WHEN reversed_amount + $2 = amount THEN 'reversed' ELSE status END
              WHERE id = $1",
            c.id,
            delta
        )
        .execute(&mut *conn)
        .await?;
        *per_member.entry(c.beneficiary_id).or_default() += delta;
        let data = serde_json::json!({
            "commission_id": c.id, "order_id": order_id, "reversal_id": reversal_id,
            "member_id": c.beneficiary_id, "amount": delta, "reversed_in_all": c.reversed_amount + delta,
        });
        reversed.push(Cause::new(format!("commission.reversed:{}:{reversal_id}", c.id), data));
    }
    events::emit_all(conn, EventType::CommissionReversed, reversed, Utc::now()).await?;
    sqlx::query!("UPDATE order_reversals SET commissions_reversed_at = now() WHERE id = $1", reversal_id)
        .execute(&mut *conn)
        .await?;
    for (member_id, total) in per_member {
        let key = format!("reversal:{reversal_id}:{member_id}");
        notifications::to_member(conn, member_id, key, |name, language| match language {
            Language::English => (
                format!("{total} {currency} of commission reversed"),
                format!(
                    "Dear {name},\n\ngoods of order {invoice_no} were returned or refunded, so {total} {currency} \
                     of the commission it earned you has been reversed.\n"
                ),
            ),
            Language::Bengali => {
                let amount = taka_of(total, language);
                (
                    format!("{amount} কমিশন ফেরত নেওয়া হয়েছে"),
                    format!(
                        "প্রিয় {name},\n\nঅর্ডার {invoice_no}-এর পণ্য ফেরত বা টাকা ফেরত হয়েছে, তাই এর থেকে পাওয়া \
                         কমিশনের {amount} ফেরত নেওয়া হয়েছে।\n"
                    ),
                )
            }
        })
        .await?;
    }
    Ok(())
}
