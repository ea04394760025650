//! The marketplace's fee on a seller's line, and the seller's share: which
//! rate of a fee schedule applies to a line, and how the line's value after
//! discounts splits between the fee and the seller.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use uuid::Uuid;

use crate::money::{Money, Rate};

/// The rates of one fee schedule version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rates {
    /// For a category the schedule does not name.
    pub default: Rate,
    /// By category.
    pub categories: BTreeMap<String, Rate>,
    /// A seller's own rate: for one category (`Some`) or all of its
    /// categories (`None`).
    pub sellers: BTreeMap<(Uuid, Option<String>), Rate>,
}

impl Rates {
    /// The rate of a line of `seller` in `category`: the seller's rate for
    /// that category, else the seller's rate for all categories, else the
    /// category's, else the default — the most specific wins.
    pub fn rate_for(&self, seller: Uuid, category: &str) -> Rate {
        self.sellers
            .get(&(seller, Some(category.to_owned())))
            .or_else(|| self.sellers.get(&(seller, None)))
            .or_else(|| self.categories.get(category))
            .copied()
            .unwrap_or(self.default)
    }
}

/// How one line's value splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// The marketplace's fee.
    pub fee: Money,
    /// The seller's share: the value less the fee.
    pub share: Money,
}

/// Splits `value` (the line's total after its share of the order's
/// discounts) of `units` units: the fee is value × rate, rounded toward
/// zero to the paisa (the marketplace never takes more than its schedule
/// says), plus the fixed fee per unit; it never exceeds the value, so a
/// seller's share is never negative.
pub fn split(value: Money, units: i32, rate: Rate, per_item: Money) -> Split {
    let (by_rate, _) = Money::toward_zero(value * rate);
    let fixed = Money(per_item.get() * Decimal::from(units.max(0)));
    let fee = (by_rate + fixed).min(value);
    Split { fee, share: value - fee }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn rates() -> (Rates, Uuid, Uuid) {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let rates = Rates {
            default: Rate(dec!(0.07)),
            categories: BTreeMap::from([
                ("furniture".to_owned(), Rate(dec!(0.05))),
                ("fashion".to_owned(), Rate(dec!(0.08))),
            ]),
            sellers: BTreeMap::from([
                ((a, None), Rate(dec!(0.04))),
                ((a, Some("fashion".to_owned())), Rate(dec!(0.06))),
            ]),
        };
        (rates, a, b)
    }

    #[test]
    fn the_most_specific_rate_applies() {
        let (rates, a, b) = rates();
        assert_eq!(rates.rate_for(a, "fashion"), Rate(dec!(0.06)), "the seller's own rate for the category");
        assert_eq!(rates.rate_for(a, "furniture"), Rate(dec!(0.04)), "the seller's rate for all categories");
        assert_eq!(rates.rate_for(b, "furniture"), Rate(dec!(0.05)), "the category's rate");
        assert_eq!(rates.rate_for(b, "baby"), Rate(dec!(0.07)), "the default");
    }

    #[test]
    fn the_fee_is_rounded_toward_zero_and_the_fixed_fee_is_per_unit() {
        let s = split(Money(dec!(1234.56)), 3, Rate(dec!(0.055)), Money(dec!(2.50)));
        // 1234.56 × 0.055 = 67.9008 → 67.90, plus 3 × 2.50.
        assert_eq!(s, Split { fee: Money(dec!(75.40)), share: Money(dec!(1159.16)) });
    }

    #[test]
    fn the_fee_never_exceeds_the_value() {
        let s = split(Money(dec!(10.00)), 4, Rate(dec!(0.10)), Money(dec!(5.00)));
        assert_eq!(s, Split { fee: Money(dec!(10.00)), share: Money(dec!(0.00)) });
    }

    proptest! {
        #[test]
        fn fee_and_share_always_add_up_to_the_value(
            paisa in 0i64..10_000_000_000, units in 1i32..1000, bp in 0u32..=10_000, fixed in 0i64..100_000,
        ) {
            let value = Money(Decimal::new(paisa, 2));
            let s = split(value, units, Rate(Decimal::new(i64::from(bp), 4)), Money(Decimal::new(fixed, 2)));
            prop_assert_eq!(s.fee + s.share, value);
            prop_assert!(s.fee.get() >= Decimal::ZERO && s.share.get() >= Decimal::ZERO);
            prop_assert_eq!(s.fee.get().scale(), 2);
        }
    }
}
