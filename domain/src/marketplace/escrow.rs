//! A seller's share of its lines, held in escrow. When an order becomes
//! commissionable, each seller line's value after discounts is split by the
//! fee terms the line was sold under (`rules::marketplace_fee`): the share
//! goes to the seller's pending account and the fee to the marketplace's,
//! in the same transaction as the network's commissions. The share is
//! released a number of business days after the order's delivery (in the
//! deployment's calendar) by the order's release job, and a return takes
//! back the returned units' part of the share and of the fee at the stored
//! amounts, through `ledger::take_back` like every other reversal.

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::DomainResult;
use crate::jobs::{self, ReleaseHold};
use crate::ledger::{self, Account, Entry, EntryKind, MemberAccount, Posting, SystemAccount, TakeBack};
use crate::money::{Money, Rate, in_minor_units};
use crate::rules::business_days::Calendar;
use crate::rules::marketplace_fee::split;

/// The calendar a seller's hold counts business days in, and the zone
/// whose dates it counts.
#[derive(Debug, Clone)]
pub struct HoldCalendar {
    /// Weekly and public holidays.
    pub days: Calendar,
    /// The deployment's time zone.
    pub zone: chrono_tz::Tz,
}

impl Default for HoldCalendar {
    /// Bangladesh's weekly holiday, no public holiday, dates in UTC.
    fn default() -> Self {
        Self { days: Calendar::default(), zone: chrono_tz::UTC }
    }
}

impl HoldCalendar {
    /// When a hold of `n` business days after a delivery at `delivered`
    /// ends: at local midnight after the `n`-th business day; a hold of 0
    /// ends at delivery.
    pub fn release_at(&self, delivered: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        if n == 0 {
            return delivered;
        }
        let local = delivered.with_timezone(&self.zone).date_naive();
        self.days
            .hold_ends_on(local, n)
            .and_then(|day| self.zone.from_local_datetime(&day.and_time(NaiveTime::MIN)).earliest())
            .map_or(DateTime::<Utc>::MAX_UTC, |t| t.with_timezone(&Utc))
    }
}

/// Credits each seller line of the commissionable order (once per line):
/// the share to the seller's pending account, the fee to the marketplace,
/// both from the sellers' sales; dates the release if the order is
/// already delivered. Runs under the order's lock, in the cascade's
/// transaction.
pub async fn credit_order(
    conn: &mut PgConnection,
    order_id: Uuid,
    calendar: &HoldCalendar,
    currency: &str,
) -> DomainResult<()> {
    let lines = sqlx::query!(
        r#"SELECT l.id, l.seller_id AS "seller_id!", l.quantity, l.fee_rate AS "fee_rate!",
                  l.fee_per_item AS "fee_per_item!", s.seller_hold_business_days,
                  line_after_discount(l.line_total, o.subtotal, o.discount) AS "value!"
             FROM order_lines l
             JOIN orders o ON o.id = l.order_id
             JOIN fee_schedules s ON s.id = l.fee_schedule_id
            WHERE l.order_id = $1 AND l.seller_id IS NOT NULL ORDER BY l.line_no"#,
        order_id
    )
    .fetch_all(&mut *conn)
    .await?;
    for line in lines {
        let value = Money(in_minor_units(line.value));
        let s = split(value, line.quantity, Rate(line.fee_rate), Money(line.fee_per_item));
        let inserted = sqlx::query_scalar!(
            "INSERT INTO seller_credits (order_line_id, order_id, seller_id, basis, fee, amount, hold_business_days,
                                         status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')
             ON CONFLICT (order_line_id) DO NOTHING RETURNING order_line_id",
            line.id,
            order_id,
            line.seller_id,
            value.get(),
            s.fee.get(),
            s.share.get(),
            line.seller_hold_business_days
        )
        .fetch_optional(&mut *conn)
        .await?;
        if inserted.is_none() || value.is_zero() {
            continue;
        }
        let legs = [
            (Account::System(SystemAccount::SellerSales), -value.get()),
            (Account::Seller(line.seller_id, MemberAccount::Pending), s.share.get()),
            (Account::System(SystemAccount::MarketplaceFees), s.fee.get()),
        ];
        let postings =
            legs.into_iter().filter(|(_, a)| !a.is_zero()).map(|(account, amount)| Posting { account, amount });
        let (key, reference) = (ledger::keys::seller_credit(line.id), line.id.to_string());
        let entry = Entry {
            idempotency_key: &key,
            kind: EntryKind::SellerCredit,
            reference: &reference,
            postings: postings.collect(),
        };
        ledger::post(conn, currency, entry).await?;
    }
    date_releases(conn, order_id, calendar).await
}

/// Dates the release of the order's held seller shares once the order is
/// delivered (in whole or in part: the parcel reached the buyer), and
/// schedules the order's release job for the first of them.
pub async fn date_releases(conn: &mut PgConnection, order_id: Uuid, calendar: &HoldCalendar) -> DomainResult<()> {
    let waiting = sqlx::query!(
        r#"SELECT c.order_line_id, c.hold_business_days,
                  coalesce(o.delivered_at, o.partially_delivered_at) AS "delivered_at!"
             FROM seller_credits c JOIN orders o ON o.id = c.order_id
            WHERE c.order_id = $1 AND c.status = 'pending' AND c.release_at IS NULL
              AND coalesce(o.delivered_at, o.partially_delivered_at) IS NOT NULL"#,
        order_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut first: Option<DateTime<Utc>> = None;
    for w in waiting {
        let at = calendar.release_at(w.delivered_at, w.hold_business_days.max(0) as u32);
        sqlx::query!("UPDATE seller_credits SET release_at = $2 WHERE order_line_id = $1", w.order_line_id, at)
            .execute(&mut *conn)
            .await?;
        first = Some(first.map_or(at, |f| f.min(at)));
    }
    // The order's release job for the earliest of them (the network's
    // hold may end later); each run schedules the next.
    if let Some(at) = first {
        let (job, run_at) = ReleaseHold::at(order_id, at);
        jobs::enqueue(conn, &job, Some(run_at)).await?;
    }
    Ok(())
}

/// Called when the order is delivered: if it has seller shares waiting
/// for their delivery, its release job runs now, to date them and schedule
/// their release.
pub async fn on_delivery(conn: &mut PgConnection, order_id: Uuid, now: DateTime<Utc>) -> DomainResult<()> {
    let waiting = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM seller_credits WHERE order_id = $1 AND status = 'pending'
                           AND release_at IS NULL) AS "waiting!""#,
        order_id
    )
    .fetch_one(&mut *conn)
    .await?;
    if waiting {
        let (job, run_at) = ReleaseHold::at(order_id, now);
        jobs::enqueue(conn, &job, Some(run_at)).await?;
    }
    Ok(())
}

/// Whether some of the order's seller shares still wait for the delivery
/// to be dated (the order is not settled meanwhile).
pub async fn awaiting_delivery(conn: &mut PgConnection, order_id: Uuid) -> DomainResult<bool> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM seller_credits WHERE order_id = $1 AND status = 'pending'
                           AND release_at IS NULL AND amount > reversed_amount) AS "waiting!""#,
        order_id
    )
    .fetch_one(conn)
    .await?)
}

/// Releases the order's seller shares whose hold has ended: pending →
/// available, what returns left of each.
pub async fn release_due(
    conn: &mut PgConnection,
    order_id: Uuid,
    now: DateTime<Utc>,
    currency: &str,
) -> DomainResult<()> {
    let due = sqlx::query!(
        r#"UPDATE seller_credits SET status = 'available', released_at = $2
            WHERE order_id = $1 AND status = 'pending' AND release_at <= $2
        RETURNING order_line_id, seller_id, amount - reversed_amount AS "left!""#,
        order_id,
        now
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in due.into_iter().filter(|r| r.left > Decimal::ZERO) {
        let (key, reference) = (ledger::keys::seller_credit_release(r.order_line_id), r.order_line_id.to_string());
        let postings = vec![
            Posting { account: Account::Seller(r.seller_id, MemberAccount::Pending), amount: -r.left },
            Posting { account: Account::Seller(r.seller_id, MemberAccount::Available), amount: r.left },
        ];
        let entry =
            Entry { idempotency_key: &key, kind: EntryKind::SellerCreditRelease, reference: &reference, postings };
        ledger::post(conn, currency, entry).await?;
    }
    Ok(())
}

/// Brings the reversal of the order's seller shares up to date with its
/// lines' reversed units (cumulative, at the stored amounts): the share is
/// cancelled from pending while held or clawed back from available once
/// released, and the fee on those units is given back with it.
pub async fn reverse(conn: &mut PgConnection, order_id: Uuid, currency: &str) -> DomainResult<()> {
    let rows = sqlx::query!(
        "SELECT c.order_line_id, c.seller_id, c.status, c.amount, c.reversed_amount, c.fee, c.fee_reversed,
                l.quantity, l.reversed_quantity
           FROM seller_credits c JOIN order_lines l ON l.id = c.order_line_id
          WHERE c.order_id = $1 AND l.reversed_quantity > 0 ORDER BY c.order_line_id FOR UPDATE OF c",
        order_id
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let (account, kind) = match r.status.as_str() {
            "available" => (MemberAccount::Available, EntryKind::SellerCreditClawback),
            _ => (MemberAccount::Pending, EntryKind::SellerCreditCancelled),
        };
        let reference = r.order_line_id.to_string();
        let share_key = ledger::keys::seller_credit_reversal(r.order_line_id, r.reversed_quantity);
        let share = TakeBack {
            stored: r.amount,
            units: r.quantity,
            reversed_units: r.reversed_quantity,
            already: r.reversed_amount,
            from: Some((Account::Seller(r.seller_id, account), kind)),
            back_to: SystemAccount::SellerSales,
            key: &share_key,
            reference: &reference,
        };
        let share = ledger::take_back(conn, currency, share).await?;
        let fee_key = ledger::keys::seller_fee_reversal(r.order_line_id, r.reversed_quantity);
        let fee = TakeBack {
            stored: r.fee,
            units: r.quantity,
            reversed_units: r.reversed_quantity,
            already: r.fee_reversed,
            from: Some((Account::System(SystemAccount::MarketplaceFees), EntryKind::SellerFeeRefunded)),
            back_to: SystemAccount::SellerSales,
            key: &fee_key,
            reference: &reference,
        };
        let fee = ledger::take_back(conn, currency, fee).await?;
        if share.is_zero() && fee.is_zero() {
            continue;
        }
        sqlx::query!(
            "UPDATE seller_credits SET reversed_amount = reversed_amount + $2, fee_reversed = fee_reversed + $3
              WHERE order_line_id = $1",
            r.order_line_id,
            share,
            fee
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A seller's balances, from its accounts' cached balances.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SellerBalance {
    /// Shares held until their release.
    pub pending: Money,
    /// Released: to be paid out.
    pub available: Money,
    /// Set aside for approved payouts.
    pub reserved: Money,
}

/// A seller's balances.
pub async fn balance(conn: &mut PgConnection, seller_id: Uuid) -> DomainResult<SellerBalance> {
    let mut b = SellerBalance::default();
    for (kind, balance) in ledger::balances(conn, ledger::Holder::Seller(seller_id)).await? {
        let amount = Money(in_minor_units(balance));
        match kind {
            MemberAccount::Pending => b.pending = amount,
            MemberAccount::Available => b.available = amount,
            MemberAccount::Reserved => b.reserved = amount,
            MemberAccount::Credit => {}
        }
    }
    Ok(b)
}

/// The audit: every seller line of an order whose commissions were posted
/// has its seller credit.
pub async fn lines_without_credit(conn: &mut PgConnection) -> DomainResult<Vec<String>> {
    Ok(sqlx::query_scalar!(
        r#"SELECT 'order line ' || l.id || ' of seller ' || l.seller_id || ' has no seller credit' AS "v!"
             FROM order_lines l JOIN orders o ON o.id = l.order_id
            WHERE l.seller_id IS NOT NULL AND o.cascaded_at IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM seller_credits c WHERE c.order_line_id = l.id)
            ORDER BY l.id"#
    )
    .fetch_all(conn)
    .await?)
}

/// The audit: every seller credit of a line worth anything has the
/// journal entry that posted it, and that entry moved exactly the share to
/// the seller and the fee to the marketplace.
pub async fn credits_without_entries(conn: &mut PgConnection) -> DomainResult<Vec<String>> {
    Ok(sqlx::query_scalar!(
        r#"SELECT 'seller credit of order line ' || c.order_line_id || ' has no matching ledger entry' AS "v!"
             FROM seller_credits c
            WHERE c.basis > 0 AND NOT EXISTS (
                    SELECT 1 FROM journal_entries e
                     WHERE e.kind = 'seller_credit' AND e.reference = c.order_line_id::text
                       AND coalesce((SELECT sum(p.amount) FROM postings p JOIN accounts a ON a.id = p.account_id
                                      WHERE p.entry_id = e.id AND a.seller_id = c.seller_id), 0) = c.amount
                       AND coalesce((SELECT sum(p.amount) FROM postings p JOIN accounts a ON a.id = p.account_id
                                      WHERE p.entry_id = e.id AND a.kind = 'system:marketplace_fees'), 0) = c.fee)
            ORDER BY c.order_line_id"#
    )
    .fetch_all(conn)
    .await?)
}

/// The audit: a seller's pending balance is what its held shares have
/// left after returns, and its available balance what its released ones
/// have left less the penalties charged to it and the withdrawals approved
/// or paid out.
pub async fn balances_not_matching_shares(conn: &mut PgConnection) -> DomainResult<Vec<String>> {
    Ok(sqlx::query_scalar!(
        r#"SELECT 'seller ' || a.seller_id || ' has ' || a.balance || ' ' || a.kind || ' but its shares leave '
                  || w.expected AS "v!"
             FROM accounts a
             CROSS JOIN LATERAL (
                 SELECT coalesce((SELECT sum(amount - reversed_amount) FROM seller_credits c
                                   WHERE c.seller_id = a.seller_id AND c.status = a.kind), 0)
                        - CASE WHEN a.kind = 'available'
                               THEN coalesce((SELECT sum(penalty) FROM seller_late_lines x
                                               WHERE x.seller_id = a.seller_id), 0)
                                    + coalesce((SELECT sum(amount) FROM withdrawals d
                                                 WHERE d.seller_id = a.seller_id AND d.status IN ('approved', 'paid')), 0)
                               ELSE 0 END AS expected) w
            WHERE a.seller_id IS NOT NULL AND a.kind IN ('pending', 'available') AND a.balance <> w.expected
            ORDER BY a.seller_id, a.kind"#
    )
    .fetch_all(conn)
    .await?)
}
