//! When a member's held money is released: what is still held, summed per
//! local day its hold ends and per source (commission lines, the buyer's
//! own order rewards, campaign cashback), and where it goes then
//! (available, or store credit for points). The same three holds the
//! release jobs work through and the audit watches.

use chrono::NaiveDate;
use chrono_tz::Tz;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::DomainResult;

crate::words::stored_words!(
    /// What held money came from.
    HeldSource {
        /// Commission lines (held until the plan's holding days have passed).
        Commission = "commission",
        /// The buyer's own cashback on an order.
        OrderCashback = "order_cashback",
        /// The buyer's own points on an order (released as store credit).
        OrderPoints = "order_points",
        /// A campaign's cashback, held after its settlement.
        CampaignCashback = "campaign_cashback",
    }
);

impl HeldSource {
    /// Whether it becomes withdrawable (else store credit).
    pub fn becomes_available(self) -> bool {
        self != Self::OrderPoints
    }
}

/// Held money of one source ending its hold on one local day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The local day (in the zone asked) the hold ends.
    pub day: NaiveDate,
    /// Where it came from.
    pub source: HeldSource,
    /// How much (what is left of it after reversals).
    pub amount: Decimal,
}

/// What `member_id` has held, by the local day in `zone` its hold ends
/// and source, earliest first.
pub async fn releases(conn: &mut PgConnection, member_id: Uuid, zone: Tz) -> DomainResult<Vec<Release>> {
    let rows = sqlx::query!(
        r#"WITH held AS (
               SELECT 'commission' AS source, release_at, amount - reversed_amount AS amount
                 FROM commissions WHERE beneficiary_id = $1 AND status = 'pending' AND amount > reversed_amount
               UNION ALL
               SELECT CASE reward WHEN 'cash' THEN 'order_cashback' ELSE 'order_points' END, release_at,
                      amount - reversed_amount
                 FROM order_rewards WHERE member_id = $1 AND status = 'pending' AND amount > reversed_amount
               UNION ALL
               SELECT 'campaign_cashback', s.release_at, p.amount - p.reversed_amount
                 FROM campaign_payouts p JOIN campaign_settlements s ON s.campaign_id = p.campaign_id
                WHERE p.buyer_id = $1 AND p.status = 'held' AND p.amount > p.reversed_amount
                  AND s.release_at IS NOT NULL
           )
           SELECT (release_at AT TIME ZONE $2)::date AS "day!", source AS "source!: HeldSource",
                  sum(amount) AS "amount!"
             FROM held GROUP BY 1, 2 ORDER BY 1, 2"#,
        member_id,
        zone.name()
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| Release { day: r.day, source: r.source, amount: r.amount }).collect())
}
