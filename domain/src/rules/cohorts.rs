//! Retention by cohort, the monthly churn rate and the loyalty program's
//! return, from which members ordered in which month. Pure; the methods
//! are stated here because admins read them in the answers.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use uuid::Uuid;

use crate::rules::retention::{cents, scaled};

/// The cohorts' method, as the answer states it.
pub const COHORTS: &str = "a member's cohort is the month of their first confirmed order with a unit kept \
    (ever); retention in month k of a cohort = its members with such an order in that month ÷ its members, \
    to four places";

/// The churn rate's method, as the answer states it.
pub const CHURN: &str = "churn rate of a month = members with a confirmed order (a unit kept) in the month \
    before and none in this month ÷ members with one in the month before, to four places";

/// The program return's method, as the answer states it.
pub const ROI: &str = "for each month, of the members with an order before it: the rewarded (a reward \
    released or a cashback paid to them before the month began) and the others; incremental spend = \
    (rewarded spend ÷ rewarded members − others' spend ÷ other members) × rewarded members, to the cent; \
    cost = points redeemed at checkout in orders placed in the month (not given back) + cash rewards on \
    orders confirmed in it + campaign cashback settled in it, net of what returns took back; \
    return = (incremental spend − cost) ÷ cost, to four places (none without cost or without both groups)";

/// One cohort's row of the retention table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CohortRow {
    /// The cohort's month (index into the table's months).
    pub month: usize,
    /// Its members.
    pub members: i64,
    /// Members active in each month from the cohort's own onward.
    pub active: Vec<i64>,
    /// `active` ÷ `members`, to four places.
    pub retention: Vec<Decimal>,
}

/// One month's churn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChurnMonth {
    /// The month (index; the first month has none: nothing before it).
    pub month: usize,
    /// Members active in the month before.
    pub active_before: i64,
    /// Of those, members not active in this month.
    pub churned: i64,
    /// `churned` ÷ `active_before`, four places (none when nobody was active).
    pub rate: Option<Decimal>,
}

/// Who was active when: each member's first month (an index that is
/// negative when it falls before the table) and the months of the table
/// they were active in.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    /// Months of the table.
    pub months: usize,
    /// Member → (first month, the table's months they were active in).
    pub members: BTreeMap<Uuid, (i64, BTreeSet<usize>)>,
}

impl Activity {
    /// Records that `member` (first active in `first`) was active in `month`.
    pub fn record(&mut self, member: Uuid, first: i64, month: usize) {
        self.members.entry(member).or_insert_with(|| (first, BTreeSet::new())).1.insert(month);
    }

    /// The retention table: one row per month of the table that is some
    /// member's first.
    pub fn cohorts(&self) -> Vec<CohortRow> {
        (0..self.months)
            .filter_map(|month| {
                let cohort: Vec<&BTreeSet<usize>> = self
                    .members
                    .values()
                    .filter(|(first, _)| usize::try_from(*first).ok() == Some(month))
                    .map(|(_, active)| active)
                    .collect();
                let members = i64::try_from(cohort.len()).ok().filter(|n| *n > 0)?;
                let active: Vec<i64> = (month..self.months)
                    .map(|m| i64::try_from(cohort.iter().filter(|a| a.contains(&m)).count()).unwrap_or(i64::MAX))
                    .collect();
                let retention = active.iter().map(|a| share(*a, members).unwrap_or_default()).collect();
                Some(CohortRow { month, members, active, retention })
            })
            .collect()
    }

    /// The churn of every month after the first.
    pub fn churn(&self) -> Vec<ChurnMonth> {
        (1..self.months)
            .map(|month| {
                let before = self.members.values().filter(|(_, a)| a.contains(&(month - 1)));
                let (mut active_before, mut churned) = (0, 0);
                for (_, active) in before {
                    active_before += 1;
                    churned += i64::from(!active.contains(&month));
                }
                ChurnMonth { month, active_before, churned, rate: share(churned, active_before) }
            })
            .collect()
    }
}

/// `part` ÷ `whole` to four places; none of nothing.
fn share(part: i64, whole: i64) -> Option<Decimal> {
    (whole > 0).then(|| scaled(Decimal::from(part) / Decimal::from(whole), 4))
}

/// The incremental spend of the rewarded members over the others (see
/// [`ROI`]); none unless both groups have members.
pub fn incremental_spend(rewarded: (Decimal, i64), others: (Decimal, i64)) -> Option<Decimal> {
    let ((spend, n), (other_spend, m)) = (rewarded, others);
    if n <= 0 || m <= 0 {
        return None;
    }
    let per = |s: Decimal, k: i64| s / Decimal::from(k);
    Some(cents((per(spend, n) - per(other_spend, m)) * Decimal::from(n)))
}

/// The program's return on its cost (see [`ROI`]).
pub fn program_return(incremental: Option<Decimal>, cost: Decimal) -> Option<Decimal> {
    let incremental = incremental?;
    (cost > Decimal::ZERO).then(|| scaled((incremental - cost) / cost, 4))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn activity() -> Activity {
        let m = |n: u128| Uuid::from_u128(n);
        let mut a = Activity { months: 3, ..Activity::default() };
        // Cohort 0: members 1, 2, 3; member 1 comes back in months 1 and 2, member 2 in month 2.
        for (member, month) in [(1, 0), (1, 1), (1, 2), (2, 0), (2, 2), (3, 0)] {
            a.record(m(member), 0, month);
        }
        // Cohort 1: member 4. Member 5 first bought before the table, and in month 1.
        a.record(m(4), 1, 1);
        a.record(m(5), -1, 1);
        a
    }

    #[test]
    fn a_cohort_is_the_members_whose_first_order_fell_in_its_month_and_its_row_counts_who_came_back() {
        let rows = activity().cohorts();
        assert_eq!(rows.len(), 2, "month 2 is nobody's first");
        assert_eq!((rows[0].members, rows[0].active.clone()), (3, vec![3, 1, 2]));
        assert_eq!(rows[0].retention, vec![dec!(1.0000), dec!(0.3333), dec!(0.6667)]);
        assert_eq!((rows[1].month, rows[1].members, rows[1].active.clone()), (1, 1, vec![1, 0]));
    }

    #[test]
    fn the_churn_of_a_month_is_the_share_of_last_months_buyers_who_did_not_buy_again() {
        let churn = activity().churn();
        // Month 1: of 1, 2, 3 only 1 bought again. Month 2: of 1, 4, 5 only 1 did.
        assert_eq!((churn[0].active_before, churn[0].churned, churn[0].rate), (3, 2, Some(dec!(0.6667))));
        assert_eq!((churn[1].active_before, churn[1].churned, churn[1].rate), (3, 2, Some(dec!(0.6667))));
    }

    #[test]
    fn the_return_is_incremental_spend_less_its_cost_over_the_cost() {
        let inc = incremental_spend((dec!(3000.00), 2), (dec!(1000.00), 4));
        assert_eq!(inc, Some(dec!(2500.00)), "(1500 − 250) × 2");
        assert_eq!(program_return(inc, dec!(500.00)), Some(dec!(4.0000)));
        assert_eq!(program_return(inc, dec!(0)), None);
        assert_eq!(incremental_spend((dec!(3000.00), 2), (dec!(0), 0)), None);
    }
}
