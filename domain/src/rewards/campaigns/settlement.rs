//! Settlement: one job per campaign schedule. Under the campaign's row
//! lock it freezes what counts, decides with the pure rule, stores the
//! decision and its figures, and pays every rewarded purchase — all in set
//! statements (one transaction, a handful of statements per 20,000
//! payouts), never one transaction per purchase. A second run, or a
//! concurrent one, finds the campaign settled and does nothing.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{CampaignStatus, Decision, Reward, Row, lock, next_occurrence};
use crate::compensation::plans;
use crate::error::DomainResult;
use crate::jobs::{self, CampaignStep, CampaignTask};
use crate::ledger::bulk::{Transfer, post_transfers};
use crate::ledger::{Account, EntryKind, MemberAccount, SystemAccount};
use crate::money::display::{Language, day_time, taka_of};
use crate::notifications::{self, ToMember};
use crate::rules::campaign::{self, Payout, Purchase, Settlement};

/// What a settle job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Decided now: whether it pays, and how many purchases were paid.
    Settled {
        /// The decision.
        paid: bool,
        /// Purchases rewarded.
        payouts: usize,
    },
    /// Already settled or cancelled, or rescheduled since the job was queued.
    Nothing,
}

/// A purchase as frozen, with what a later clawback needs.
struct Frozen {
    purchase: Purchase,
    order_id: Uuid,
    reversed_before: i32,
}

/// Settles the campaign if `version` is still its schedule and it is
/// still scheduled.
pub async fn settle(
    conn: &mut PgConnection,
    campaign_id: Uuid,
    version: i32,
    now: DateTime<Utc>,
    currency: &str,
) -> DomainResult<Outcome> {
    let row = lock(conn, campaign_id).await?;
    if row.status()? != CampaignStatus::Scheduled || row.schedule_version != version {
        return Ok(Outcome::Nothing);
    }
    let frozen = freeze(conn, &row).await?;
    let purchases: Vec<Purchase> = frozen.iter().map(|f| f.purchase.clone()).collect();
    let decided = campaign::settle(&row.terms()?, &purchases);
    let release_at = release_time(conn, &row, now).await?;
    store_decision(conn, &row, &decided, release_at, now).await?;
    if !decided.payouts.is_empty() {
        let by_line: BTreeMap<Uuid, &Frozen> = frozen.iter().map(|f| (f.purchase.line_id, f)).collect();
        store_payouts(conn, &row, &decided.payouts, &by_line).await?;
        pay(conn, &row, &decided.payouts, currency).await?;
        tell_endpoints(conn, &row, &decided.payouts, now).await?;
        notify(conn, &row, &decided.payouts, release_at, currency).await?;
        if let Some(at) = release_at {
            let job = CampaignTask { campaign_id, step: CampaignStep::Release };
            jobs::enqueue(conn, &job, Some(at)).await?;
        }
    }
    sqlx::query!("UPDATE campaigns SET status = 'settled' WHERE id = $1", campaign_id).execute(&mut *conn).await?;
    next_occurrence(conn, &row).await?;
    Ok(Outcome::Settled { paid: decided.paid, payouts: decided.payouts.len() })
}

/// The purchases that count: lines of in-scope products whose order was
/// paid in the window (a cash-on-delivery order pays on delivery), with
/// what is not returned, refunded or cancelled at settlement. Each line's
/// value is its share of the order after the order's coupon discount. The
/// lines are share-locked, so a reversal recorded meanwhile waits for the
/// settlement and then finds its payout to claw back.
async fn freeze(conn: &mut PgConnection, row: &Row) -> DomainResult<Vec<Frozen>> {
    let rows = sqlx::query!(
        r#"SELECT l.id AS line_id, o.id AS order_id, o.buyer_id,
                  l.quantity - l.reversed_quantity AS "units!", l.reversed_quantity,
                  coalesce(trunc(l.unit_price * (l.quantity - l.reversed_quantity)
                                 * (o.subtotal - o.discount) / nullif(o.subtotal, 0), 2), 0) AS "value!",
                  coalesce(o.paid_at, o.delivered_at) AS "paid_at!"
             FROM orders o
             JOIN order_lines l ON l.order_id = o.id
             JOIN products p ON p.id = l.product_id
            WHERE ((o.paid_at >= $1 AND o.paid_at < $2)
                   OR (o.paid_at IS NULL AND o.payment_method = 'cod' AND o.delivered_at >= $1 AND o.delivered_at < $2))
              AND l.quantity > l.reversed_quantity
              AND ($3 = 'all' OR ($3 = 'product' AND l.product_id = $4) OR ($3 = 'seller' AND p.seller_id = $5))
              FOR SHARE OF l"#,
        row.starts_at,
        row.ends_at,
        row.scope_kind,
        row.product_id,
        row.seller_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Frozen {
            purchase: Purchase {
                line_id: r.line_id,
                buyer_id: r.buyer_id,
                units: i64::from(r.units),
                value: r.value,
                paid_at: r.paid_at,
            },
            order_id: r.order_id,
            reversed_before: r.reversed_quantity,
        })
        .collect())
}

/// Cash is held like commissions: for the holding days of the plan in
/// effect at settlement (none without a plan). Store credit is not held.
async fn release_time(conn: &mut PgConnection, row: &Row, now: DateTime<Utc>) -> DomainResult<Option<DateTime<Utc>>> {
    if row.reward()? != Reward::Cash {
        return Ok(None);
    }
    let days = plans::in_effect(conn, now).await?.map_or(0, |p| p.holding_days);
    Ok(Some(now + Duration::days(i64::from(days))))
}

async fn store_decision(
    conn: &mut PgConnection,
    row: &Row,
    s: &Settlement,
    release_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let eligible = i32::try_from(s.eligible_purchases).unwrap_or(i32::MAX);
    let paid = i32::try_from(s.payouts.len()).unwrap_or(i32::MAX);
    let decision = if s.paid { Decision::Paid } else { Decision::NotPaid };
    sqlx::query!(
        "INSERT INTO campaign_settlements (campaign_id, decision, units, value, eligible_purchases, paid_purchases,
                                           paid_total, scale, release_at, settled_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        row.id,
        decision as Decision,
        s.units,
        s.value,
        eligible,
        paid,
        s.paid_total,
        s.scale,
        release_at.filter(|_| !s.payouts.is_empty()),
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

async fn store_payouts(
    conn: &mut PgConnection,
    row: &Row,
    payouts: &[Payout],
    frozen: &BTreeMap<Uuid, &Frozen>,
) -> DomainResult<()> {
    let status = if row.reward()? == Reward::Cash { "held" } else { "credit" };
    let mut cols = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for p in payouts {
        let Some(f) = frozen.get(&p.line_id) else { continue };
        cols.0.push(p.line_id);
        cols.1.push(f.order_id);
        cols.2.push(p.buyer_id);
        cols.3.push(i32::try_from(f.purchase.units).unwrap_or(i32::MAX));
        cols.4.push(f.reversed_before);
        cols.5.push(p.basis);
        cols.6.push(p.amount);
    }
    sqlx::query!(
        "INSERT INTO campaign_payouts (campaign_id, order_line_id, order_id, buyer_id, units, reversed_before, basis,
                                       amount, status)
         SELECT $1, * , $9 FROM unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::int[], $6::int[], $7::numeric[],
                                       $8::numeric[])",
        row.id,
        &cols.0,
        &cols.1,
        &cols.2,
        &cols.3,
        &cols.4,
        &cols.5,
        &cols.6,
        status
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// One journal entry per rewarded purchase, keyed by campaign and line.
async fn pay(conn: &mut PgConnection, row: &Row, payouts: &[Payout], currency: &str) -> DomainResult<()> {
    let into = if row.reward()? == Reward::Cash { MemberAccount::Pending } else { MemberAccount::Credit };
    let reference = row.id.to_string();
    let transfers: Vec<Transfer> = payouts
        .iter()
        .map(|p| Transfer {
            idempotency_key: crate::ledger::keys::cashback(row.id, p.line_id),
            reference: reference.clone(),
            from: Account::System(SystemAccount::CashbackExpense),
            to: Account::Member(p.buyer_id, into),
            amount: p.amount,
        })
        .collect();
    post_transfers(conn, currency, EntryKind::Cashback, &transfers).await?;
    Ok(())
}

/// A `cashback.paid` event per rewarded purchase.
async fn tell_endpoints(
    conn: &mut PgConnection,
    row: &Row,
    payouts: &[Payout],
    now: DateTime<Utc>,
) -> DomainResult<()> {
    use crate::integrations::events::{self, Cause, EventType};
    let reward = row.reward()?;
    let causes = payouts
        .iter()
        .map(|p| {
            let data = serde_json::json!({
                "campaign_id": row.id, "member_id": p.buyer_id, "order_line_id": p.line_id,
                "amount": p.amount, "reward": reward.as_str(),
            });
            Cause::new(format!("cashback.paid:{}:{}", row.id, p.line_id), data)
        })
        .collect();
    events::emit_all(conn, EventType::CashbackPaid, causes, now).await
}

/// One email per paid buyer with their total.
async fn notify(
    conn: &mut PgConnection,
    row: &Row,
    payouts: &[Payout],
    release_at: Option<DateTime<Utc>>,
    currency: &str,
) -> DomainResult<()> {
    let mut per_buyer: BTreeMap<Uuid, Decimal> = BTreeMap::new();
    for p in payouts {
        *per_buyer.entry(p.buyer_id).or_default() += p.amount;
    }
    let how = |language: Language| match (release_at, language) {
        (Some(at), Language::English) => {
            format!("It is held until {} and then yours to withdraw.", at.format("%Y-%m-%d %H:%M UTC"))
        }
        (Some(at), Language::Bengali) => {
            format!("এটি {} পর্যন্ত আটকে থাকবে, তারপর আপনি তুলতে পারবেন।", day_time(at, chrono_tz::UTC, language))
        }
        (None, Language::English) => "It is in your store credit, ready to spend.".to_owned(),
        (None, Language::Bengali) => "এটি আপনার স্টোর ক্রেডিটে আছে, খরচ করতে পারবেন।".to_owned(),
    };
    let emails: Vec<ToMember<_>> = per_buyer
        .into_iter()
        .map(|(member_id, total)| {
            let (name, how) = (row.name.clone(), how);
            ToMember {
                member_id,
                dedupe_key: format!("cashback:{}:{member_id}", row.id),
                write: move |member: &str, language: Language| match language {
                    Language::English => (
                        format!("{total} {currency} cashback from {name}"),
                        format!(
                            "Dear {member},\n\nthe campaign \"{name}\" pays you {total} {currency} cashback. {}\n",
                            how(language)
                        ),
                    ),
                    Language::Bengali => {
                        let amount = taka_of(total, language);
                        (
                            format!("{name} থেকে {amount} ক্যাশব্যাক"),
                            format!(
                                "প্রিয় {member},\n\n\"{name}\" ক্যাম্পেইন আপনাকে {amount} ক্যাশব্যাক দিচ্ছে। {}\n",
                                how(language)
                            ),
                        )
                    }
                },
            }
        })
        .collect();
    notifications::queue_to_members(conn, &emails).await
}
