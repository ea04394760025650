//! Loyalty (DESIGN §7): the buyer's instant reward per order line, at the
//! plan's rate or their tier's, tiers by trailing 12-month spend.

use serde::{Deserialize, Serialize};

use crate::money::{Money, Rate};

/// A tier: members whose trailing 12-month spend reaches `min_spend` earn
/// `rate` instead of the plan's `order_cashback_rate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tier {
    /// Name (e.g. silver, gold).
    pub name: String,
    /// Spend needed, inclusive.
    pub min_spend: Money,
    /// The earn rate at this tier.
    pub rate: Rate,
}

/// The member's tier: the one with the highest `min_spend` reached.
pub fn tier_for(spend: Money, tiers: &[Tier]) -> Option<&Tier> {
    tiers.iter().filter(|t| spend >= t.min_spend).max_by_key(|t| t.min_spend)
}

/// The next tier up, if any.
pub fn next_tier(spend: Money, tiers: &[Tier]) -> Option<&Tier> {
    tiers.iter().filter(|t| spend < t.min_spend).min_by_key(|t| t.min_spend)
}

/// The earn rate of a member with `spend` under a plan's `base` rate.
pub fn earn_rate(base: Rate, spend: Money, tiers: &[Tier]) -> Rate {
    tier_for(spend, tiers).map_or(base, |t| t.rate)
}

/// The reward on a line worth `value`, rounded toward zero.
pub fn reward(value: Money, rate: Rate) -> Money {
    Money::toward_zero(value * rate).0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;

    fn m(d: Decimal) -> Money {
        Money(d)
    }

    fn r(d: Decimal) -> Rate {
        Rate(d)
    }

    fn tiers() -> Vec<Tier> {
        vec![
            Tier { name: "gold".into(), min_spend: m(dec!(50000.00)), rate: r(dec!(0.05)) },
            Tier { name: "silver".into(), min_spend: m(dec!(10000.00)), rate: r(dec!(0.03)) },
        ]
    }

    #[test]
    fn the_highest_tier_reached_sets_the_rate_and_bounds_are_inclusive() {
        let t = tiers();
        assert_eq!(earn_rate(r(dec!(0.02)), m(dec!(9999.99)), &t), r(dec!(0.02)));
        assert_eq!(earn_rate(r(dec!(0.02)), m(dec!(10000.00)), &t), r(dec!(0.03)));
        assert_eq!(earn_rate(r(dec!(0.02)), m(dec!(50000.00)), &t), r(dec!(0.05)));
        assert_eq!(next_tier(m(dec!(10000.00)), &t).map(|t| t.name.as_str()), Some("gold"));
        assert_eq!(next_tier(m(dec!(60000.00)), &t), None);
    }

    #[test]
    fn a_reward_is_rounded_toward_zero() {
        assert_eq!(reward(m(dec!(333.33)), r(dec!(0.03))), m(dec!(9.99)));
        assert_eq!(reward(m(dec!(0.33)), r(dec!(0.02))), m(dec!(0.00)));
    }

    proptest! {
        #[test]
        fn more_spend_never_lowers_the_tier(a in 0u64..10_000_000, b in 0u64..10_000_000) {
            let t = tiers();
            let (lo, hi) = (m(Decimal::new(a.min(b) as i64, 2)), m(Decimal::new(a.max(b) as i64, 2)));
            let rank = |s| tier_for(s, &t).map_or(Money::ZERO, |t| t.min_spend);
            prop_assert!(rank(lo) <= rank(hi));
        }

        #[test]
        fn a_reward_never_exceeds_value_times_rate(cents in 0u64..10_000_000, bp in 0u32..10_000) {
            let value = m(Decimal::new(cents as i64, 2));
            let rate = r(Decimal::new(i64::from(bp), 4));
            let paid = reward(value, rate).get();
            prop_assert!(paid <= value * rate && value * rate - paid < dec!(0.01));
        }
    }
}
