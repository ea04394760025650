//! Loyalty (DESIGN §7): the buyer's instant reward per order line, at the
//! plan's rate or their tier's, tiers by trailing 12-month spend.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::payout;

/// A tier: members whose trailing 12-month spend reaches `min_spend` earn
/// `rate` instead of the plan's `order_cashback_rate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tier {
    /// Name (e.g. silver, gold).
    pub name: String,
    /// Spend needed, inclusive.
    #[schema(value_type = crate::money::DecimalText)]
    pub min_spend: Decimal,
    /// The earn rate at this tier.
    #[schema(value_type = crate::money::DecimalText)]
    pub rate: Decimal,
}

/// The member's tier: the one with the highest `min_spend` reached.
pub fn tier_for(spend: Decimal, tiers: &[Tier]) -> Option<&Tier> {
    tiers.iter().filter(|t| spend >= t.min_spend).max_by_key(|t| t.min_spend)
}

/// The next tier up, if any.
pub fn next_tier(spend: Decimal, tiers: &[Tier]) -> Option<&Tier> {
    tiers.iter().filter(|t| spend < t.min_spend).min_by_key(|t| t.min_spend)
}

/// The earn rate of a member with `spend` under a plan's `base` rate.
pub fn earn_rate(base: Decimal, spend: Decimal, tiers: &[Tier]) -> Decimal {
    tier_for(spend, tiers).map_or(base, |t| t.rate)
}

/// The reward on a line worth `value`, rounded toward zero.
pub fn reward(value: Decimal, rate: Decimal) -> Decimal {
    payout(value * rate).0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn tiers() -> Vec<Tier> {
        vec![
            Tier { name: "gold".into(), min_spend: dec!(50000.00), rate: dec!(0.05) },
            Tier { name: "silver".into(), min_spend: dec!(10000.00), rate: dec!(0.03) },
        ]
    }

    #[test]
    fn the_highest_tier_reached_sets_the_rate_and_bounds_are_inclusive() {
        let t = tiers();
        assert_eq!(earn_rate(dec!(0.02), dec!(9999.99), &t), dec!(0.02));
        assert_eq!(earn_rate(dec!(0.02), dec!(10000.00), &t), dec!(0.03));
        assert_eq!(earn_rate(dec!(0.02), dec!(50000.00), &t), dec!(0.05));
        assert_eq!(next_tier(dec!(10000.00), &t).map(|t| t.name.as_str()), Some("gold"));
        assert_eq!(next_tier(dec!(60000.00), &t), None);
    }

    #[test]
    fn a_reward_is_rounded_toward_zero() {
        assert_eq!(reward(dec!(333.33), dec!(0.03)), dec!(9.99));
        assert_eq!(reward(dec!(0.33), dec!(0.02)), dec!(0.00));
    }

    proptest! {
        #[test]
        fn more_spend_never_lowers_the_tier(a in 0u64..10_000_000, b in 0u64..10_000_000) {
            let t = tiers();
            let (lo, hi) = (Decimal::new(a.min(b) as i64, 2), Decimal::new(a.max(b) as i64, 2));
            let rank = |s| tier_for(s, &t).map_or(Decimal::ZERO, |t| t.min_spend);
            prop_assert!(rank(lo) <= rank(hi));
        }

        #[test]
        fn a_reward_never_exceeds_value_times_rate(cents in 0u64..10_000_000, bp in 0u32..10_000) {
            let value = Decimal::new(cents as i64, 2);
            let rate = Decimal::new(i64::from(bp), 4);
            let r = reward(value, rate);
            prop_assert!(r <= value * rate && value * rate - r < dec!(0.01));
        }
    }
}
