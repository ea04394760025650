//! The retention figures of one member's purchase history, for the loyalty
//! analytics: average order value, their usual interval between orders, a
//! predicted lifetime value and the churn rule. Pure; the methods are
//! stated here because admins read them in the answer.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::money::MONEY_SCALE;

/// A member is at risk when the days since their last order exceed this
/// many times their own usual interval.
pub const AT_RISK_MULTIPLE: i64 = 2;

/// A member is lapsed when the days since their last order exceed this
/// many times their usual interval.
pub const LAPSED_MULTIPLE: i64 = 4;

/// The method of the churn rule, as the answer states it.
pub const CHURN_RULE: &str = "at risk: days since the last order > 2 × the member's usual interval \
    (mean days between their orders; a one-order member's is the mean of all members with two or more); \
    lapsed: > 4 × it";

/// The method of the predicted value, as the answer states it.
pub const PREDICTION: &str = "average order value × expected purchases over the horizon, \
    where expected purchases = horizon days ÷ the member's usual interval (the mean interval of all \
    members with two or more orders for a one-order member), rounded to 0.01";

crate::words::stored_words!(
    /// Where a member stands.
    Segment {
        /// One order, within the at-risk bound of it.
        New = "new",
        /// Buying on their rhythm.
        Active = "active",
        /// Late by more than twice their usual interval.
        AtRisk = "at_risk",
        /// Late by more than four times it.
        Lapsed = "lapsed",
        /// Active and in the top two fifths for recency, frequency and spend.
        Champion = "champion",
    }
);

impl Segment {
    /// Every segment, in the order the totals list them.
    pub const ALL: [Segment; 5] = [Segment::New, Segment::Active, Segment::AtRisk, Segment::Lapsed, Segment::Champion];
}

/// `amount` to the cent, half away from zero.
pub fn cents(amount: Decimal) -> Decimal {
    scaled(amount, MONEY_SCALE)
}

/// `value` to `places`, half away from zero, written with all its places.
pub fn scaled(value: Decimal, places: u32) -> Decimal {
    let mut v = value.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    v.rescale(places);
    v
}

/// `total` ÷ `orders` to the cent (zero without orders): an average order value, orders per member.
pub fn mean(total: Decimal, orders: i64) -> Decimal {
    if orders <= 0 { cents(Decimal::ZERO) } else { cents(total / Decimal::from(orders)) }
}

/// The mean days between a member's orders: (last − first) ÷ (orders − 1),
/// in days to 0.01; none for fewer than two orders.
pub fn usual_interval_days(span_seconds: i64, orders: i64) -> Option<Decimal> {
    (orders >= 2).then(|| cents(Decimal::from(span_seconds) / Decimal::from(86_400) / Decimal::from(orders - 1)))
}

/// The predicted value over `horizon_days` (see [`PREDICTION`]); none
/// without an interval to go by (or a zero one).
pub fn predicted_value(aov: Decimal, interval_days: Option<Decimal>, horizon_days: u32) -> Option<Decimal> {
    let interval = interval_days.filter(|d| *d > Decimal::ZERO)?;
    Some(cents(aov * Decimal::from(horizon_days) / interval))
}

/// The member's segment (see [`CHURN_RULE`]); `top_rfm`: in the top two
/// fifths (score 4 or 5 of 5) for recency, frequency and monetary value.
pub fn segment(orders: i64, days_since_last: Decimal, interval_days: Option<Decimal>, top_rfm: bool) -> Segment {
    let Some(interval) = interval_days else { return Segment::New };
    if days_since_last > interval * Decimal::from(LAPSED_MULTIPLE) {
        Segment::Lapsed
    } else if days_since_last > interval * Decimal::from(AT_RISK_MULTIPLE) {
        Segment::AtRisk
    } else if orders == 1 {
        Segment::New
    } else if top_rfm {
        Segment::Champion
    } else {
        Segment::Active
    }
}

/// Points redeemed ÷ points earned, to four places (none when nothing was
/// earned).
pub fn redemption_rate(redeemed: Decimal, earned: Decimal) -> Option<Decimal> {
    (earned > Decimal::ZERO).then(|| scaled(redeemed / earned, 4))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn the_usual_interval_is_the_mean_gap_and_one_order_has_none() {
        assert_eq!(usual_interval_days(60 * 86_400, 3), Some(dec!(30.00)));
        assert_eq!(usual_interval_days(0, 1), None);
        assert_eq!(mean(dec!(1000.00), 3), dec!(333.33));
        assert_eq!(mean(dec!(0), 0), dec!(0.00));
    }

    #[test]
    fn the_prediction_is_the_average_order_times_the_purchases_the_horizon_holds() {
        assert_eq!(predicted_value(dec!(500.00), Some(dec!(30.00)), 365), Some(dec!(6083.33)));
        assert_eq!(predicted_value(dec!(500.00), None, 365), None);
        assert_eq!(predicted_value(dec!(500.00), Some(dec!(0)), 365), None);
    }

    #[test]
    fn a_member_late_by_twice_their_interval_is_at_risk_and_by_four_times_lapsed() {
        let thirty = Some(dec!(30.00));
        assert_eq!(segment(3, dec!(60.00), thirty, false), Segment::Active, "exactly twice is not late");
        assert_eq!(segment(3, dec!(60.01), thirty, false), Segment::AtRisk);
        assert_eq!(segment(3, dec!(120.01), thirty, true), Segment::Lapsed);
        assert_eq!(segment(3, dec!(10), thirty, true), Segment::Champion);
        assert_eq!(segment(1, dec!(10), thirty, true), Segment::New);
        assert_eq!(segment(1, dec!(10), None, false), Segment::New);
        assert_eq!(redemption_rate(dec!(5.00), dec!(27.00)), Some(dec!(0.1852)));
        assert_eq!(redemption_rate(dec!(0), dec!(0)), None);
        assert_eq!(redemption_rate(dec!(0), dec!(20.00)).map(|r| r.to_string()), Some("0.0000".to_owned()));
        assert_eq!(mean(dec!(1350.00), 2).to_string(), "675.00");
    }
}
