//! Instant per-order rewards and points (DESIGN §7). When an order is
//! credited, its buyer earns the plan's `order_cashback_rate` (or their
//! tier's, by trailing 12-month spend) on each line: `cash` is posted to
//! pending like a commission; `credit` (points) is held without moving
//! money and posted to store credit when the hold ends. Either is reversed
//! like a commission. Released points are lots that checkout spends oldest
//! first and the daily expiry takes once they are older than the plan's
//! `points_expiry_days`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::compensation::cascade_inputs::OrderHead;
use crate::compensation::plans::{self, Plan, Tier};
use crate::error::DomainResult;
use crate::integrations::events::{self, Cause, EventType};
use crate::ledger::bulk::{Transfer, post_transfers};
use crate::ledger::{self, Account, Entry, EntryKind, MemberAccount, Posting, SystemAccount, TakeBack};
use crate::money::display::{Language, digits};
use crate::money::{Money, Rate, in_minor_units};
use crate::notifications::{self, ToMember};
use crate::rewards::campaigns::Reward;
use crate::rules::loyalty::{earn_rate, next_tier, reward, tier_for};

/// The buyer's spend in the 12 months before `at`: what they paid for the
/// units they kept (after coupon discounts), over orders credited then.
async fn spend_12m(conn: &mut PgConnection, member_id: Uuid, at: DateTime<Utc>, except: Uuid) -> DomainResult<Money> {
    let spend = sqlx::query_scalar!(
        r#"SELECT coalesce(sum(line_after_discount(l.unit_price * (l.quantity - l.reversed_quantity),
                                                   o.subtotal, o.discount)), 0) AS "spend!"
             FROM orders o JOIN order_lines l ON l.order_id = o.id
            WHERE o.buyer_id = $1 AND o.commissionable_at > $2::timestamptz - interval '12 months'
              AND o.commissionable_at <= $2 AND o.id <> $3"#,
        member_id,
        at,
        except
    )
    .fetch_one(conn)
    .await?;
    Ok(Money(in_minor_units(spend)))
}

/// Writes the buyer's reward on each line of the credited order (once per
/// line) and, for cash, its pending ledger entry; the order's release job
/// releases them with its commissions.
pub async fn reward_order(
    conn: &mut PgConnection,
    head: &OrderHead,
    plan: &Plan,
    release_at: DateTime<Utc>,
    currency: &str,
) -> DomainResult<()> {
    let Some(buyer) = head.buyer_id else { return Ok(()) };
    if plan.order_cashback_rate.is_zero() && plan.tiers.iter().all(|t| t.rate.is_zero()) {
        return Ok(());
    }
    let spend = spend_12m(conn, buyer, head.credited_at, head.order_id).await?;
    let rate = earn_rate(plan.order_cashback_rate, spend, &plan.tiers);
    let tier = tier_for(spend, &plan.tiers).map(|t| t.name.clone());
    let expires_at = head.credited_at + Duration::days(i64::from(plan.points_expiry_days));
    let lines = sqlx::query!(
        r#"SELECT l.id, line_after_discount(l.line_total, o.subtotal, o.discount) AS "value!"
             FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE l.order_id = $1 ORDER BY l.line_no"#,
        head.order_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let value: Decimal = lines.iter().map(|l| l.value).sum();
    let reached = tier_for(Money(in_minor_units(spend.get() + value)), &plan.tiers).map(|t| t.name.clone());
    tier_moved(conn, buyer, head.order_id, (tier.clone(), reached)).await?;
    let mut points = Decimal::ZERO;
    for line in lines {
        let amount = reward(Money(line.value), rate);
        if amount.is_zero() {
            continue;
        }
        let inserted = sqlx::query_scalar!(
            "INSERT INTO order_rewards (order_line_id, order_id, member_id, reward, basis, rate, tier, spend_12m,
                                        plan_id, amount, status, release_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $12)
             ON CONFLICT (order_line_id) DO NOTHING RETURNING order_line_id",
            line.id,
            head.order_id,
            buyer,
            plan.order_cashback_reward.as_str(),
            line.value,
            rate.get(),
            tier,
            spend.get(),
            plan.id,
            amount.get(),
            release_at,
            (plan.order_cashback_reward == Reward::Credit).then_some(expires_at)
        )
        .fetch_optional(&mut *conn)
        .await?;
        // Points move no money until their hold ends; cash is held in pending.
        if inserted.is_some() && plan.order_cashback_reward == Reward::Cash {
            let key = crate::ledger::keys::order_reward(line.id);
            let reference = head.order_id.to_string();
            let postings = vec![
                Posting { account: Account::System(SystemAccount::CashbackExpense), amount: -amount.get() },
                Posting { account: Account::Member(buyer, MemberAccount::Pending), amount: amount.get() },
            ];
            let entry =
                Entry { idempotency_key: &key, kind: EntryKind::OrderCashback, reference: &reference, postings };
            ledger::post(conn, currency, entry).await?;
        }
        if inserted.is_some() && plan.order_cashback_reward == Reward::Credit {
            points += amount.get();
        }
    }
    if points > Decimal::ZERO {
        let data = serde_json::json!({
            "member_id": buyer, "order_id": head.order_id, "points": points, "release_at": release_at,
            "expires_at": expires_at,
        });
        let key = format!("points.earned:{}", head.order_id);
        events::emit(conn, EventType::PointsEarned, &key, data, chrono::Utc::now()).await?;
    }
    Ok(())
}

/// When this order moves its buyer into another tier — `from` the tier of
/// their 12-month spend without it `to` the tier with it — the
/// `tier.changed` event and the new tier's milestone email.
async fn tier_moved(
    conn: &mut PgConnection,
    buyer: Uuid,
    order_id: Uuid,
    (from, to): (Option<String>, Option<String>),
) -> DomainResult<()> {
    if from == to {
        return Ok(());
    }
    let data = serde_json::json!({"member_id": buyer, "order_id": order_id, "from": from, "to": to});
    events::emit(conn, EventType::TierChanged, &format!("tier.changed:{order_id}"), data, chrono::Utc::now()).await?;
    match to {
        Some(tier) => crate::rewards::milestones::tier_reached(conn, buyer, &tier).await,
        None => Ok(()),
    }
}

/// Releases the order's rewards whose hold has ended (under the order
/// lock, with its commissions): cash pending → available, points posted to
/// store credit as a lot.
pub async fn release(conn: &mut PgConnection, order_id: Uuid, now: DateTime<Utc>, currency: &str) -> DomainResult<()> {
    let due = sqlx::query!(
        r#"UPDATE order_rewards SET status = 'released', released_at = $2,
                  remaining = CASE WHEN reward = 'credit' THEN amount - reversed_amount ELSE 0 END
            WHERE order_id = $1 AND status = 'pending' AND release_at <= $2
        RETURNING order_line_id, member_id, reward, amount - reversed_amount AS "left!""#,
        order_id,
        now
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in due.into_iter().filter(|r| r.left > Decimal::ZERO) {
        let (from, to, kind) = if r.reward == "cash" {
            (
                Account::Member(r.member_id, MemberAccount::Pending),
                MemberAccount::Available,
                EntryKind::OrderCashbackRelease,
            )
        } else {
            (Account::System(SystemAccount::CashbackExpense), MemberAccount::Credit, EntryKind::OrderPoints)
        };
        let key = crate::ledger::keys::order_reward_release(r.order_line_id);
        let reference = order_id.to_string();
        let postings = vec![
            Posting { account: from, amount: -r.left },
            Posting { account: Account::Member(r.member_id, to), amount: r.left },
        ];
        ledger::post(conn, currency, Entry { idempotency_key: &key, kind, reference: &reference, postings }).await?;
    }
    Ok(())
}

/// Brings the reversal of the order's rewards up to date with its lines'
/// reversed units (cumulative, at the stored amounts): held cash is
/// cancelled from pending, held points simply shrink, released cash or
/// points are clawed back (the points from their own lot first).
pub async fn reverse(conn: &mut PgConnection, order_id: Uuid, currency: &str) -> DomainResult<()> {
    let rows = sqlx::query!(
        r#"SELECT r.order_line_id, r.member_id, r.reward, r.status, r.amount, r.reversed_amount, r.remaining,
                  l.quantity, l.reversed_quantity
             FROM order_rewards r JOIN order_lines l ON l.id = r.order_line_id
            WHERE r.order_id = $1 ORDER BY r.order_line_id FOR UPDATE OF r"#,
        order_id
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        // Points still held never reached the ledger: only the row changes.
        let from = match (r.status.as_str(), r.reward.as_str()) {
            ("pending", "credit") => None,
            ("pending", _) => Some((MemberAccount::Pending, EntryKind::OrderCashbackCancelled)),
            (_, "cash") => Some((MemberAccount::Available, EntryKind::OrderCashbackClawback)),
            _ => Some((MemberAccount::Credit, EntryKind::OrderPointsClawback)),
        }
        .map(|(account, kind)| (Account::Member(r.member_id, account), kind));
        let key = crate::ledger::keys::order_reward_reversal(r.order_line_id, r.reversed_quantity);
        let reference = order_id.to_string();
        let take = TakeBack {
            stored: r.amount,
            units: r.quantity,
            reversed_units: r.reversed_quantity,
            already: r.reversed_amount,
            from,
            back_to: SystemAccount::CashbackExpense,
            key: &key,
            reference: &reference,
        };
        let delta = ledger::take_back(conn, currency, take).await?;
        if delta.is_zero() {
            continue;
        }
        sqlx::query!(
            "UPDATE order_rewards SET reversed_amount = reversed_amount + $2, remaining = greatest(remaining - $2, 0)
              WHERE order_line_id = $1",
            r.order_line_id,
            delta
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Takes `amount` of store credit spent on `order_id` from the buyer's
/// live points lots, oldest first (the rest is plain store credit).
pub async fn spend_points(
    conn: &mut PgConnection,
    member_id: Uuid,
    order_id: Uuid,
    amount: Decimal,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let lots = sqlx::query!(
        "SELECT order_line_id, remaining FROM order_rewards
          WHERE member_id = $1 AND remaining > 0 AND expires_at > $2
          ORDER BY expires_at, order_line_id FOR UPDATE",
        member_id,
        now
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut left = amount;
    for lot in lots {
        if left <= Decimal::ZERO {
            break;
        }
        let take = lot.remaining.min(left);
        left -= take;
        sqlx::query!(
            "UPDATE order_rewards SET remaining = remaining - $2 WHERE order_line_id = $1",
            lot.order_line_id,
            take
        )
        .execute(&mut *conn)
        .await?;
        sqlx::query!(
            "INSERT INTO points_spends (order_id, lot_line_id, amount) VALUES ($1, $2, $3)",
            order_id,
            lot.order_line_id,
            take
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Puts the points spent on `order_id` back into their lots (once), when
/// its store credit is given back. A lot that has expired meanwhile is
/// taken by the next expiry run.
pub async fn restore_points(conn: &mut PgConnection, order_id: Uuid) -> DomainResult<()> {
    sqlx::query!(
        "WITH back AS (
             UPDATE points_spends SET restored = true WHERE order_id = $1 AND NOT restored
             RETURNING lot_line_id, amount
         )
         UPDATE order_rewards r SET remaining = r.remaining + b.amount FROM back b WHERE r.order_line_id = b.lot_line_id",
        order_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Expires what is left of every lot older than its plan allows: store
/// credit → breakage, one entry per lot (keyed by the lot and how much of
/// it has expired in all), and one email per member. Safe to run twice:
/// an expired lot has nothing left.
pub async fn expire_points(conn: &mut PgConnection, now: DateTime<Utc>, currency: &str) -> DomainResult<usize> {
    let due = sqlx::query!(
        r#"WITH due AS (
               SELECT order_line_id, remaining FROM order_rewards
                WHERE remaining > 0 AND expires_at <= $1
                ORDER BY member_id, order_line_id FOR UPDATE
           )
           UPDATE order_rewards r SET remaining = 0, expired_amount = r.expired_amount + d.remaining
             FROM due d WHERE r.order_line_id = d.order_line_id
        RETURNING r.order_line_id, r.member_id, d.remaining AS expired, r.expired_amount"#,
        now
    )
    .fetch_all(&mut *conn)
    .await?;
    let transfers: Vec<Transfer> = due
        .iter()
        .map(|d| Transfer {
            idempotency_key: crate::ledger::keys::points_expiry(d.order_line_id, d.expired_amount),
            reference: d.order_line_id.to_string(),
            from: Account::Member(d.member_id, MemberAccount::Credit),
            to: Account::System(SystemAccount::Breakage),
            amount: d.expired,
        })
        .collect();
    let written = post_transfers(conn, currency, EntryKind::PointsExpired, &transfers).await?;
    let expired: Vec<Cause> = due
        .iter()
        .map(|d| {
            let data = serde_json::json!({
                "member_id": d.member_id, "order_line_id": d.order_line_id, "points": d.expired,
            });
            Cause::new(format!("points.expired:{}:{}", d.order_line_id, d.expired_amount), data)
        })
        .collect();
    events::emit_all(conn, EventType::PointsExpired, expired, now).await?;
    let mut per_member: BTreeMap<Uuid, Decimal> = BTreeMap::new();
    for d in &due {
        *per_member.entry(d.member_id).or_default() += d.expired;
    }
    let day = now.format("%Y-%m-%d").to_string();
    let emails: Vec<ToMember<_>> = per_member
        .into_iter()
        .map(|(member_id, total)| ToMember {
            member_id,
            dedupe_key: format!("points_expiry:{member_id}:{day}:{total}"),
            write: move |name: &str, language: Language| match language {
                Language::English => (
                    format!("{total} points expired"),
                    format!("Dear {name},\n\n{total} of your points reached their age limit and have expired.\n"),
                ),
                Language::Bengali => {
                    let points = digits(&total.to_string(), language);
                    (
                        format!("{points} পয়েন্টের মেয়াদ শেষ"),
                        format!("প্রিয় {name},\n\nআপনার {points} পয়েন্টের মেয়াদ শেষ হয়ে গেছে।\n"),
                    )
                }
            },
        })
        .collect();
    notifications::queue_to_members(conn, &emails).await?;
    Ok(written)
}

/// A member's live lot of points.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Lot {
    /// The order that earned it.
    pub order_id: Uuid,
    /// When it became spendable.
    pub released_at: Option<DateTime<Utc>>,
    /// When what is left of it expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// Points left.
    #[schema(value_type = crate::money::DecimalText)]
    pub points: Decimal,
}

/// What a member sees of their loyalty standing.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Standing {
    /// The member.
    pub member_id: Uuid,
    /// Spend over the last 12 months.
    pub spend_12m: Money,
    /// Their tier under the plan in effect (null: none reached).
    pub tier: Option<Tier>,
    /// The rate their next order earns.
    pub earn_rate: Rate,
    /// The next tier up.
    pub next_tier: Option<Tier>,
    /// Spendable points (Σ of live lots).
    #[schema(value_type = crate::money::DecimalText)]
    pub points: Decimal,
    /// Points earned but still held.
    #[schema(value_type = crate::money::DecimalText)]
    pub pending_points: Decimal,
    /// Live lots, soonest to expire first.
    pub lots: Vec<Lot>,
}

impl Standing {
    /// What is still to spend to reach the next tier (none at the top).
    pub fn spend_to_next_tier(&self) -> Option<Money> {
        self.next_tier
            .as_ref()
            .map(|next| Money((next.min_spend.0 - self.spend_12m.0).max(rust_decimal::Decimal::ZERO)))
    }
}

/// A member's tier, points and their expiry dates, as of `now`.
pub async fn standing(conn: &mut PgConnection, member_id: Uuid, now: DateTime<Utc>) -> DomainResult<Standing> {
    let plan = plans::in_effect(conn, now).await?;
    let spend = spend_12m(conn, member_id, now, Uuid::nil()).await?;
    let tiers: &[Tier] = plan.as_ref().map_or(&[], |p| &p.tiers);
    let base = plan.as_ref().map_or(Rate::ZERO, |p| p.order_cashback_rate);
    let lots = sqlx::query_as!(
        Lot,
        r#"SELECT order_id, released_at, expires_at, remaining AS points FROM order_rewards
            WHERE member_id = $1 AND remaining > 0 AND expires_at > $2 ORDER BY expires_at, order_line_id"#,
        member_id,
        now
    )
    .fetch_all(&mut *conn)
    .await?;
    let pending = sqlx::query_scalar!(
        r#"SELECT coalesce(sum(amount - reversed_amount), 0) AS "p!" FROM order_rewards
            WHERE member_id = $1 AND reward = 'credit' AND status = 'pending'"#,
        member_id
    )
    .fetch_one(conn)
    .await?;
    Ok(Standing {
        member_id,
        spend_12m: spend,
        tier: tier_for(spend, tiers).cloned(),
        earn_rate: Rate(earn_rate(base, spend, tiers).get().normalize()),
        next_tier: next_tier(spend, tiers).cloned(),
        points: in_minor_units(lots.iter().map(|l| l.points).sum()),
        pending_points: in_minor_units(pending),
        lots,
    })
}
