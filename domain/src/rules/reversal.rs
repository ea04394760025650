//! Reversals at stored amounts: how much of an already computed amount a
//! return of some units takes back. Never recomputed from a plan.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::money::MONEY_SCALE;

/// The part of `amount` (paid on a line of `quantity` units) that stands
/// reversed once `reversed_units` of them have come back, rounded toward
/// zero to the minor unit. It is cumulative: the reversal of one return is
/// `share(after) - share(before)`, so partial returns that add up to the
/// whole line reverse exactly `amount`, never a cent more or less.
pub fn reversed_share(amount: Decimal, quantity: i32, reversed_units: i32) -> Decimal {
    if quantity <= 0 || reversed_units <= 0 {
        return Decimal::new(0, MONEY_SCALE);
    }
    if reversed_units >= quantity {
        return amount;
    }
    let mut share = (amount * Decimal::from(reversed_units) / Decimal::from(quantity))
        .round_dp_with_strategy(MONEY_SCALE, RoundingStrategy::ToZero);
    share.rescale(MONEY_SCALE);
    share
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        s.parse().expect("decimal")
    }

    #[test]
    fn one_unit_of_three_reverses_a_third_rounded_toward_zero() {
        assert_eq!(reversed_share(d("10.00"), 3, 1), d("3.33"));
        assert_eq!(reversed_share(d("10.00"), 3, 2), d("6.66"));
        assert_eq!(reversed_share(d("10.00"), 3, 3), d("10.00"));
    }

    #[test]
    fn nothing_returned_reverses_nothing() {
        assert_eq!(reversed_share(d("10.00"), 3, 0), Decimal::ZERO);
    }

    proptest! {
        #[test]
        fn partial_returns_in_any_steps_add_up_to_exactly_the_amount(
            cents in 0i64..10_000_000,
            quantity in 1i32..50,
            cuts in proptest::collection::vec(1i32..50, 0..6),
        ) {
            let amount = Decimal::new(cents, 2);
            let mut points: Vec<i32> = cuts.into_iter().map(|c| c % quantity).collect();
            points.push(quantity);
            points.sort_unstable();
            let mut before = Decimal::ZERO;
            let mut total = Decimal::ZERO;
            for units in points {
                let after = reversed_share(amount, quantity, units);
                prop_assert!(after >= before, "the reversed share never shrinks");
                prop_assert!(after <= amount);
                total += after - before;
                before = after;
            }
            prop_assert_eq!(total, amount);
        }
    }
}
