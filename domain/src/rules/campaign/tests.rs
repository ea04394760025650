//! The seed's three cases with exact payouts, per-buyer limits, budgets, and
//! properties over random purchases.

use super::*;
use chrono::TimeZone;
use proptest::prelude::*;
use rust_decimal_macros::dec;

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 10, 1, 0, 0, 0).single().expect("a time") + chrono::Duration::minutes(minute)
}

/// `n` purchases of one unit at `price`, each by its own buyer.
fn purchases(n: usize, price: Decimal) -> Vec<Purchase> {
    (0..n)
        .map(|i| Purchase {
            line_id: Uuid::from_u128(i as u128 + 1),
            buyer_id: Some(Uuid::from_u128(1_000_000 + i as u128)),
            units: 1,
            value: price,
            paid_at: at(i as i64),
        })
        .collect()
}

fn course(min_units: i64, max_units: i64) -> Terms {
    Terms {
        trigger: Trigger::Reached,
        min_units,
        max_units: Some(max_units),
        min_value: None,
        max_value: None,
        rate: dec!(0.10),
        per_buyer_limit: None,
        budget: None,
    }
}

#[test]
fn case_1_a_thousand_courses_sold_pays_every_buyer_ten_percent() {
    let s = settle(&course(1000, 10_000), &purchases(1000, dec!(1500.00)));
    assert!(s.paid);
    assert_eq!((s.units, s.value, s.eligible_purchases), (1000, dec!(1500000.00), 1000));
    assert_eq!(s.payouts.len(), 1000);
    assert!(s.payouts.iter().all(|p| p.amount == dec!(150.00)));
    assert_eq!(s.paid_total, dec!(150000.00));
}

#[test]
fn case_1_nine_hundred_ninety_nine_sold_pays_nothing_and_keeps_the_figures() {
    let s = settle(&course(1000, 10_000), &purchases(999, dec!(1500.00)));
    assert!(!s.paid);
    assert_eq!((s.units, s.value, s.eligible_purchases), (999, dec!(1498500.00), 999));
    assert!(s.payouts.is_empty());
    assert_eq!(s.paid_total, Decimal::ZERO);
}

#[test]
fn case_2_enough_units_but_a_cent_short_of_the_value_pays_nothing() {
    let mut terms = course(1000, 10_000);
    terms.min_value = Some(dec!(10000.00));
    let mut sold = purchases(1000, dec!(10.00));
    sold[0].value = dec!(9.99);
    let s = settle(&terms, &sold);
    assert_eq!((s.paid, s.units, s.value), (false, 1000, dec!(9999.99)));
    sold[0].value = dec!(10.00);
    assert!(settle(&terms, &sold).paid, "10000.00 exactly is enough: bounds are inclusive");
}

fn tickets() -> Terms {
    Terms {
        trigger: Trigger::Missed,
        min_units: 100,
        max_units: None,
        min_value: None,
        max_value: None,
        rate: dec!(1),
        per_buyer_limit: None,
        budget: None,
    }
}

#[test]
fn case_3_ninety_nine_tickets_refunds_every_buyer_in_full_and_a_hundred_pays_nothing() {
    let missed = settle(&tickets(), &purchases(99, dec!(850.00)));
    assert!(missed.paid);
    assert_eq!(missed.payouts.len(), 99);
    assert!(missed.payouts.iter().all(|p| p.amount == dec!(850.00) && p.basis == dec!(850.00)));
    let reached = settle(&tickets(), &purchases(100, dec!(850.00)));
    assert!(!reached.paid);
    assert!(reached.payouts.is_empty());
}

#[test]
fn a_buyer_with_three_purchases_and_a_limit_of_one_gets_the_earliest_only() {
    let mut sold = purchases(3, dec!(100.00));
    let buyer = Uuid::from_u128(42);
    for p in &mut sold {
        p.buyer_id = Some(buyer);
    }
    sold.reverse();
    let mut terms = course(1, 10);
    terms.per_buyer_limit = Some(1);
    let s = settle(&terms, &sold);
    assert_eq!(s.payouts.len(), 1);
    assert_eq!((s.payouts[0].line_id, s.payouts[0].amount), (Uuid::from_u128(1), dec!(10.00)));
}

#[test]
fn a_budget_scales_every_payout_by_one_factor() {
    let mut terms = course(1, 10);
    terms.budget = Some(dec!(20.00));
    // Three payouts of 10.00 against a budget of 20.00: × 0.6666666666.
    let s = settle(&terms, &purchases(3, dec!(100.00)));
    assert_eq!(s.scale, Some(dec!(0.6666666666)));
    assert!(s.payouts.iter().all(|p| p.amount == dec!(6.66)));
    assert_eq!(s.paid_total, dec!(19.98));
}

#[test]
fn guests_count_toward_the_target_but_are_not_paid() {
    let mut sold = purchases(2, dec!(100.00));
    sold[1].buyer_id = None;
    let s = settle(&course(2, 10), &sold);
    assert!(s.paid);
    assert_eq!((s.units, s.payouts.len()), (2, 1));
}

prop_compose! {
    fn random_purchases()(specs in proptest::collection::vec((0u128..8, 1i64..5, 1i64..100_000, 0i64..1000, any::<bool>()), 0..60))
        -> Vec<Purchase> {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (buyer, units, cents, minute, guest))| Purchase {
                line_id: Uuid::from_u128(i as u128 + 1),
                buyer_id: (!guest).then(|| Uuid::from_u128(buyer)),
                units,
                value: Decimal::new(cents * units, 2),
                paid_at: at(minute),
            })
            .collect()
    }
}

proptest! {
    #[test]
    fn payouts_respect_the_budget_and_the_per_buyer_limit_and_do_not_depend_on_order(
        sold in random_purchases(),
        limit in proptest::option::of(1u32..4),
        budget in proptest::option::of(1i64..1_000_000),
        rate in 1i64..=10_000,
    ) {
        let terms = Terms {
            trigger: Trigger::Reached,
            min_units: 0,
            max_units: None,
            min_value: None,
            max_value: None,
            rate: Decimal::new(rate, 4),
            per_buyer_limit: limit,
            budget: budget.map(|b| Decimal::new(b, 2)),
        };
        let s = settle(&terms, &sold);
        if let Some(b) = terms.budget {
            prop_assert!(s.paid_total <= b);
        }
        if let Some(limit) = limit {
            let mut counts: std::collections::HashMap<Uuid, u32> = Default::default();
            for p in &s.payouts {
                *counts.entry(p.buyer_id).or_default() += 1;
            }
            prop_assert!(counts.values().all(|c| *c <= limit));
        }
        for p in &s.payouts {
            let full = payout(p.basis * terms.rate).0;
            prop_assert!(p.amount <= full && p.amount > Decimal::ZERO);
            if let Some(f) = s.scale {
                prop_assert_eq!(p.amount, payout(full * f).0);
            }
        }
        let mut reversed = sold.clone();
        reversed.reverse();
        prop_assert_eq!(settle(&terms, &reversed), s);
    }
}
