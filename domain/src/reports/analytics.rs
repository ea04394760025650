//! Loyalty analytics for a retention team: per member and in aggregate,
//! orders, spend, average order value, first and last order, historical
//! and predicted lifetime value, points earned / redeemed / expired with
//! the redemption rate, days since the last order, the churn rule's
//! verdict and a segment by recency, frequency and monetary score. Read in
//! one statement; the rules are `rules::retention`.
//!
//! An order counts when it was confirmed (became commissionable) in the
//! interval and while any of its units is kept; its value is what the
//! buyer paid for the kept units after the order's coupon discount. Points
//! are those of the lots those orders earned. The figures are taken as of
//! the interval's end (days since the last order, the churn verdict).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::DomainResult;
use crate::reports::Interval;
use crate::rules::retention::{self, Segment};

/// One member's figures.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberAnalytics {
    /// The member.
    pub member_id: Uuid,
    /// Their name.
    pub name: String,
    /// Confirmed orders with a unit kept.
    pub orders: i64,
    /// What they paid for the kept units (= historical lifetime value).
    #[schema(value_type = crate::money::DecimalText)]
    pub spend: Decimal,
    /// Spend ÷ orders.
    #[schema(value_type = crate::money::DecimalText)]
    pub average_order_value: Decimal,
    /// Their first order's confirmation.
    pub first_order_at: DateTime<Utc>,
    /// Their last order's confirmation.
    pub last_order_at: DateTime<Utc>,
    /// Days from the last order to `as_of`.
    #[schema(value_type = crate::money::DecimalText)]
    pub days_since_last_order: Decimal,
    /// Mean days between their orders (none below two orders).
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub usual_interval_days: Option<Decimal>,
    /// Predicted value over the horizon (`method.prediction`).
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub predicted_value: Option<Decimal>,
    /// Points earned and kept (after returns).
    #[schema(value_type = crate::money::DecimalText)]
    pub points_earned: Decimal,
    /// Points spent at checkout (not given back).
    #[schema(value_type = crate::money::DecimalText)]
    pub points_redeemed: Decimal,
    /// Points that reached their age.
    #[schema(value_type = crate::money::DecimalText)]
    pub points_expired: Decimal,
    /// Redeemed ÷ earned.
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub redemption_rate: Option<Decimal>,
    /// Recency, frequency and monetary scores, 1 (lowest fifth) to 5.
    pub rfm: [i32; 3],
    /// Where they stand (`method.churn`).
    pub segment: Segment,
}

/// The totals over every member with an order.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Totals {
    /// Members with an order.
    pub members: i64,
    /// Their orders.
    pub orders: i64,
    /// Their spend.
    #[schema(value_type = crate::money::DecimalText)]
    pub spend: Decimal,
    /// Spend ÷ orders.
    #[schema(value_type = crate::money::DecimalText)]
    pub average_order_value: Decimal,
    /// Orders ÷ members.
    #[schema(value_type = crate::money::DecimalText)]
    pub orders_per_member: Decimal,
    /// The mean of the usual intervals of members with two or more orders
    /// (a one-order member's prediction uses it).
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub mean_interval_days: Option<Decimal>,
    /// Σ predicted values.
    #[schema(value_type = crate::money::DecimalText)]
    pub predicted_value: Decimal,
    /// Σ points earned.
    #[schema(value_type = crate::money::DecimalText)]
    pub points_earned: Decimal,
    /// Σ points redeemed.
    #[schema(value_type = crate::money::DecimalText)]
    pub points_redeemed: Decimal,
    /// Σ points expired.
    #[schema(value_type = crate::money::DecimalText)]
    pub points_expired: Decimal,
    /// Redeemed ÷ earned over everyone.
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub redemption_rate: Option<Decimal>,
    /// Members per segment: new, active, at_risk, lapsed, champion.
    pub segments: std::collections::BTreeMap<String, i64>,
}

/// How the figures are made, stated in the answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Method {
    /// The predicted value.
    pub prediction: &'static str,
    /// The churn rule.
    pub churn: &'static str,
    /// The segments.
    pub segments: &'static str,
}

/// The analytics of an interval.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Analytics {
    /// Orders confirmed from (inclusive).
    pub from: DateTime<Utc>,
    /// Orders confirmed before; the moment the figures are taken at.
    pub to: DateTime<Utc>,
    /// The prediction's horizon.
    pub horizon_days: u32,
    /// How the figures are made.
    pub method: Method,
    /// Over everyone.
    pub totals: Totals,
    /// Per member, by id.
    pub members: Vec<MemberAnalytics>,
}

/// The segments' method, as the answer states it.
pub const SEGMENTS: &str = "new: one order, not yet at risk; lapsed and at risk by the churn rule; champion: \
    otherwise, with recency, frequency and monetary scores (fifths of the members with an order, 5 the best) \
    all 4 or 5; active: everyone else";

/// The figures of `interval`, predictions over `horizon_days`.
pub async fn compute(conn: &mut PgConnection, interval: &Interval, horizon_days: u32) -> DomainResult<Analytics> {
    let rows = sqlx::query!(
        r#"WITH kept AS (
               SELECT o.buyer_id AS member_id, o.commissionable_at AS at,
                      sum(line_after_discount(l.unit_price * (l.quantity - l.reversed_quantity),
                                              o.subtotal, o.discount)) AS value
                 FROM orders o JOIN order_lines l ON l.order_id = o.id
                WHERE o.buyer_id IS NOT NULL AND o.commissionable_at >= $1 AND o.commissionable_at < $2
                GROUP BY o.id
           ), per AS (
               SELECT member_id, count(*) AS orders, sum(value) AS spend, min(at) AS first_at, max(at) AS last_at
                 FROM kept WHERE value > 0 GROUP BY member_id
           ), points AS (
               SELECT r.member_id, sum(r.amount - r.reversed_amount) AS earned, sum(r.expired_amount) AS expired
                 FROM order_rewards r JOIN orders o ON o.id = r.order_id
                WHERE r.reward = 'credit' AND o.commissionable_at >= $1 AND o.commissionable_at < $2
                GROUP BY r.member_id
           ), redeemed AS (
               SELECT r.member_id, sum(s.amount) AS redeemed
                 FROM points_spends s JOIN order_rewards r ON r.order_line_id = s.lot_line_id
                 JOIN orders o ON o.id = r.order_id
                WHERE NOT s.restored AND o.commissionable_at >= $1 AND o.commissionable_at < $2
                GROUP BY r.member_id
           )
           SELECT p.member_id AS "member_id!", m.name, p.orders AS "orders!", p.spend AS "spend!",
                  p.first_at AS "first_at!", p.last_at AS "last_at!",
                  extract(epoch FROM p.last_at - p.first_at)::int8 AS "span!",
                  extract(epoch FROM $2 - p.last_at)::int8 AS "since!",
                  coalesce(pt.earned, 0) AS "earned!", coalesce(rd.redeemed, 0) AS "redeemed!",
                  coalesce(pt.expired, 0) AS "expired!",
                  ntile(5) OVER (ORDER BY p.last_at, p.member_id) AS "r!",
                  ntile(5) OVER (ORDER BY p.orders, p.member_id) AS "f!",
                  ntile(5) OVER (ORDER BY p.spend, p.member_id) AS "m!"
             FROM per p JOIN members m ON m.id = p.member_id
             LEFT JOIN points pt ON pt.member_id = p.member_id
             LEFT JOIN redeemed rd ON rd.member_id = p.member_id
            ORDER BY p.member_id"#,
        interval.from,
        interval.to
    )
    .fetch_all(conn)
    .await?;
    let intervals: Vec<Decimal> =
        rows.iter().filter_map(|r| retention::usual_interval_days(r.span, r.orders)).collect();
    let mean_interval = (!intervals.is_empty())
        .then(|| retention::cents(intervals.iter().sum::<Decimal>() / Decimal::from(intervals.len())));
    let members: Vec<MemberAnalytics> = rows
        .into_iter()
        .map(|r| {
            let aov = retention::mean(r.spend, r.orders);
            let own = retention::usual_interval_days(r.span, r.orders);
            let since = retention::cents(Decimal::from(r.since) / Decimal::from(86_400));
            let rfm = [r.r, r.f, r.m];
            let top = rfm.iter().all(|s| *s >= 4);
            let judged_by = own.or(mean_interval);
            MemberAnalytics {
                member_id: r.member_id,
                name: r.name,
                orders: r.orders,
                spend: r.spend,
                average_order_value: aov,
                first_order_at: r.first_at,
                last_order_at: r.last_at,
                days_since_last_order: since,
                usual_interval_days: own,
                predicted_value: retention::predicted_value(aov, judged_by, horizon_days),
                // Written to the cent: a zero read back from Postgres has no places.
                points_earned: retention::cents(r.earned),
                points_redeemed: retention::cents(r.redeemed),
                points_expired: retention::cents(r.expired),
                redemption_rate: retention::redemption_rate(r.redeemed, r.earned),
                rfm,
                segment: retention::segment(r.orders, since, judged_by, top),
            }
        })
        .collect();
    let totals = totals_of(&members, mean_interval);
    let method = Method { prediction: retention::PREDICTION, churn: retention::CHURN_RULE, segments: SEGMENTS };
    Ok(Analytics { from: interval.from, to: interval.to, horizon_days, method, totals, members })
}

fn totals_of(members: &[MemberAnalytics], mean_interval_days: Option<Decimal>) -> Totals {
    let sum = |f: fn(&MemberAnalytics) -> Decimal| members.iter().map(f).sum::<Decimal>();
    let orders: i64 = members.iter().map(|m| m.orders).sum();
    let count = i64::try_from(members.len()).unwrap_or(i64::MAX);
    let (earned, redeemed) = (sum(|m| m.points_earned), sum(|m| m.points_redeemed));
    let mut segments: std::collections::BTreeMap<String, i64> =
        Segment::ALL.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
    for m in members {
        *segments.entry(m.segment.as_str().to_owned()).or_default() += 1;
    }
    Totals {
        members: count,
        orders,
        spend: sum(|m| m.spend),
        average_order_value: retention::mean(sum(|m| m.spend), orders),
        orders_per_member: retention::mean(Decimal::from(orders), count),
        mean_interval_days,
        predicted_value: sum(|m| m.predicted_value.unwrap_or_default()),
        points_earned: earned,
        points_redeemed: redeemed,
        points_expired: sum(|m| m.points_expired),
        redemption_rate: retention::redemption_rate(redeemed, earned),
        segments,
    }
}
