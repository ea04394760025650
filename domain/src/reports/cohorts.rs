//! Retention a retention team tracks month by month: the cohort table
//! (members by the month of their first order, and how many of each
//! cohort ordered again in each later month), the monthly churn rate, and
//! the loyalty program's return (the incremental spend of rewarded members
//! against what the rewards cost). What counts is what the loyalty
//! analytics count: confirmed orders with a unit kept (`kept_order_value`).
//! The rules and their stated methods are `rules::cohorts`.

use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;

use crate::error::DomainResult;
use crate::money::in_minor_units;
use crate::reports::{Interval, Month};
use crate::rules::cohorts::{self, Activity};

/// One cohort's row.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Cohort {
    /// The month of its members' first order (`YYYY-MM`).
    pub month: String,
    /// Its members.
    pub members: i64,
    /// Members with an order in each month from the cohort's own onward.
    pub active: Vec<i64>,
    /// `active` ÷ `members` per month.
    #[schema(value_type = Vec<crate::money::DecimalText>)]
    pub retention: Vec<Decimal>,
}

/// One month's churn.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Churn {
    /// The month (`YYYY-MM`).
    pub month: String,
    /// Members with an order in the month before.
    pub active_before: i64,
    /// Of those, members without one in this month.
    pub churned: i64,
    /// `churned` ÷ `active_before` (null: nobody was active before).
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub rate: Option<Decimal>,
}

/// The methods, stated.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RetentionMethod {
    /// How cohorts and retention are counted.
    pub cohorts: &'static str,
    /// How the churn rate is counted.
    pub churn: &'static str,
}

/// The retention table and the churn per month of an interval.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Retention {
    /// The months of the interval, in its time zone.
    pub months: Vec<String>,
    /// A row per month that is some member's first.
    pub cohorts: Vec<Cohort>,
    /// Each month after the first.
    pub churn: Vec<Churn>,
    /// The methods.
    pub method: RetentionMethod,
}

/// The index of the month holding `at`, or -1 before the first.
fn month_of(months: &[Month], at: chrono::DateTime<chrono::Utc>) -> i64 {
    months.iter().rposition(|m| m.starts <= at).map_or(-1, |i| i64::try_from(i).unwrap_or(i64::MAX))
}

/// The cohort table and churn of `interval`.
pub async fn retention(conn: &mut PgConnection, interval: &Interval) -> DomainResult<Retention> {
    let months = interval.months();
    let rows = sqlx::query!(
        r#"WITH kept AS (
               SELECT buyer_id AS member_id, commissionable_at AS at FROM orders
                WHERE buyer_id IS NOT NULL AND commissionable_at < $2 AND kept_order_value(id) > 0
           )
           SELECT k.member_id AS "member_id!", k.at AS "at!", f.first_at AS "first_at!"
             FROM kept k JOIN (SELECT member_id, min(at) AS first_at FROM kept GROUP BY member_id) f USING (member_id)
            WHERE k.at >= $1"#,
        interval.from,
        interval.to
    )
    .fetch_all(conn)
    .await?;
    let mut activity = Activity { months: months.len(), ..Activity::default() };
    for r in rows {
        let month = usize::try_from(month_of(&months, r.at)).unwrap_or(0);
        activity.record(r.member_id, month_of(&months, r.first_at), month);
    }
    let label = |i: usize| months.get(i).map(|m| m.label.clone()).unwrap_or_default();
    let table = activity
        .cohorts()
        .into_iter()
        .map(|c| Cohort { month: label(c.month), members: c.members, active: c.active, retention: c.retention })
        .collect();
    let churn = activity
        .churn()
        .into_iter()
        .map(|c| Churn { month: label(c.month), active_before: c.active_before, churned: c.churned, rate: c.rate })
        .collect();
    Ok(Retention {
        months: months.iter().map(|m| m.label.clone()).collect(),
        cohorts: table,
        churn,
        method: RetentionMethod { cohorts: cohorts::COHORTS, churn: cohorts::CHURN },
    })
}

/// One month of the program's return.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoiMonth {
    /// The month (`YYYY-MM`).
    pub month: String,
    /// Members with an order before the month who had been rewarded.
    pub rewarded_members: i64,
    /// Members with an order before the month who had not.
    pub other_members: i64,
    /// What the rewarded spent in the month.
    #[schema(value_type = crate::money::DecimalText)]
    pub rewarded_spend: Decimal,
    /// What the others spent in it.
    #[schema(value_type = crate::money::DecimalText)]
    pub other_spend: Decimal,
    /// The rewarded members' spend beyond the others' rate (null: a group is empty).
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub incremental_spend: Option<Decimal>,
    /// Points spent at checkout in the month.
    #[schema(value_type = crate::money::DecimalText)]
    pub points_redeemed: Decimal,
    /// Cash rewards and campaign cashback of the month.
    #[schema(value_type = crate::money::DecimalText)]
    pub cashback: Decimal,
    /// `points_redeemed` + `cashback`.
    #[schema(value_type = crate::money::DecimalText)]
    pub cost: Decimal,
    /// (incremental − cost) ÷ cost (null: no cost, or no comparison).
    #[schema(value_type = Option<crate::money::DecimalText>, rename = "return")]
    #[serde(rename = "return")]
    pub program_return: Option<Decimal>,
}

/// The program's return per month of an interval, with its method.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Roi {
    /// Each month.
    pub months: Vec<RoiMonth>,
    /// The method, stated.
    pub method: &'static str,
}

/// The program's return per month of `interval`.
pub async fn roi(conn: &mut PgConnection, interval: &Interval) -> DomainResult<Roi> {
    let mut out = Vec::new();
    for month in interval.months() {
        let r = sqlx::query!(
            r#"WITH kept AS (
                   SELECT buyer_id AS member_id, commissionable_at AS at, kept_order_value(id) AS value FROM orders
                    WHERE buyer_id IS NOT NULL AND commissionable_at < $2
               ), base AS (
                   SELECT DISTINCT member_id FROM kept WHERE at < $1 AND value > 0
               ), rewarded AS (
                   SELECT member_id FROM order_rewards WHERE released_at < $1 AND amount > reversed_amount
                   UNION
                   SELECT p.buyer_id FROM campaign_payouts p JOIN campaign_settlements s USING (campaign_id)
                    WHERE s.settled_at < $1 AND p.amount > p.reversed_amount
               ), spend AS (
                   SELECT member_id, sum(value) AS value FROM kept WHERE at >= $1 GROUP BY member_id
               )
               SELECT count(r.member_id) AS "rewarded!", count(*) - count(r.member_id) AS "others!",
                      coalesce(sum(s.value) FILTER (WHERE r.member_id IS NOT NULL), 0) AS "rewarded_spend!",
                      coalesce(sum(s.value) FILTER (WHERE r.member_id IS NULL), 0) AS "other_spend!",
                      (SELECT coalesce(sum(ps.amount), 0) FROM points_spends ps JOIN orders o ON o.id = ps.order_id
                        WHERE NOT ps.restored AND o.created_at >= $1 AND o.created_at < $2) AS "points!",
                      (SELECT coalesce(sum(w.amount - w.reversed_amount), 0) FROM order_rewards w
                         JOIN orders o ON o.id = w.order_id
                        WHERE w.reward = 'cash' AND o.commissionable_at >= $1 AND o.commissionable_at < $2)
                      + (SELECT coalesce(sum(p.amount - p.reversed_amount), 0)
                           FROM campaign_payouts p JOIN campaign_settlements s USING (campaign_id)
                          WHERE s.settled_at >= $1 AND s.settled_at < $2) AS "cashback!"
                 FROM base b LEFT JOIN rewarded r ON r.member_id = b.member_id
                 LEFT JOIN spend s ON s.member_id = b.member_id"#,
            month.starts,
            month.ends
        )
        .fetch_one(&mut *conn)
        .await?;
        let (rewarded_spend, other_spend) = (in_minor_units(r.rewarded_spend), in_minor_units(r.other_spend));
        let incremental = cohorts::incremental_spend((rewarded_spend, r.rewarded), (other_spend, r.others));
        let cost = in_minor_units(r.points + r.cashback);
        out.push(RoiMonth {
            month: month.label,
            rewarded_members: r.rewarded,
            other_members: r.others,
            rewarded_spend,
            other_spend,
            incremental_spend: incremental,
            points_redeemed: in_minor_units(r.points),
            cashback: in_minor_units(r.cashback),
            cost,
            program_return: cohorts::program_return(incremental, cost),
        });
    }
    Ok(Roi { months: out, method: cohorts::ROI })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_a_second_before_local_midnight_falls_in_the_month_before() {
        let interval =
            Interval::parse(Some("2026-09-15"), Some("2026-11-01"), None, chrono_tz::Asia::Dhaka).expect("interval");
        let months = interval.months();
        let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().expect("time");
        assert_eq!(month_of(&months, at("2026-09-14T17:59:59Z")), -1, "before the interval");
        assert_eq!(month_of(&months, at("2026-09-14T18:00:00Z")), 0);
        assert_eq!(month_of(&months, at("2026-09-30T17:59:59Z")), 0, "a second before Dhaka's October");
        assert_eq!(month_of(&months, at("2026-09-30T18:00:00Z")), 1);
    }
}
