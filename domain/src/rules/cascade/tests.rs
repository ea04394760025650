//! Worked examples with exact amounts, and properties over random trees,
//! plans and orders.

use super::*;
use proptest::prelude::*;
use rust_decimal_macros::dec;

fn r(d: Decimal) -> Rate {
    Rate(d)
}

fn m(d: Decimal) -> Money {
    Money(d)
}

const PRODUCT: Uuid = Uuid::from_u128(2000);

fn standard() -> PlanRules {
    PlanRules {
        rates: LevelRates {
            levels: [dec!(0.10), dec!(0.05), dec!(0.03), dec!(0.02), dec!(0.01)].map(Rate).to_vec(),
            category_levels: BTreeMap::new(),
            product_levels: BTreeMap::new(),
        },
        retail_rate: r(dec!(0.05)),
        pickup_rate: r(dec!(0.02)),
        min_personal_pv: Volume::ZERO,
        compression: Compression::None,
        payout_cap_rate: None,
    }
}

fn member(n: u128, pv: Decimal) -> Earner {
    Earner { member_id: Uuid::from_u128(n), suspended: false, personal_pv: Volume(pv) }
}

fn chain(n: u32) -> Vec<UplineMember> {
    (1..=n).map(|level| UplineMember { level, earner: member(level.into(), dec!(100)) }).collect()
}

fn line(bv: Decimal) -> CascadeLine {
    CascadeLine {
        line_id: Uuid::from_u128(1000),
        product_id: PRODUCT,
        category: "grocery".into(),
        bv: Volume(bv),
        commissionable: true,
    }
}

fn order(bv: Decimal, upline: Vec<UplineMember>) -> OrderInputs {
    OrderInputs { lines: vec![line(bv)], upline, referrer: None, pickup_operator: None }
}

/// (beneficiary, physical level, paid level, amount) of every line, as text.
fn paid(result: &CascadeResult) -> Vec<(u128, u32, u32, String)> {
    result
        .commissions
        .iter()
        .map(|c| (c.beneficiary_id.as_u128(), c.physical_level, c.paid_level, c.amount.to_string()))
        .collect()
}

#[test]
fn five_levels_are_paid_on_bv_and_the_sixth_gets_nothing() {
    let result = cascade(&standard(), &order(dec!(600.00), chain(6)));
    assert_eq!(
        paid(&result),
        [
            (1, 1, 1, "60.00".into()),
            (2, 2, 2, "30.00".into()),
            (3, 3, 3, "18.00".into()),
            (4, 4, 4, "12.00".into()),
            (5, 5, 5, "6.00".into())
        ]
    );
    assert!(result.commissions.iter().all(|c| c.rule == "levels" && c.kind == Kind::Level));
}

#[test]
fn a_short_upline_pays_only_the_levels_that_exist() {
    let result = cascade(&standard(), &order(dec!(100.00), chain(2)));
    assert_eq!(paid(&result), [(1, 1, 1, "10.00".into()), (2, 2, 2, "5.00".into())]);
}

#[test]
fn a_category_override_replaces_the_level_rates_for_that_category() {
    let mut plan = standard();
    plan.rates.category_levels.insert("grocery".into(), [dec!(0.04), dec!(0.02), dec!(0.01)].map(Rate).to_vec());
    let result = cascade(&plan, &order(dec!(300.00), chain(5)));
    assert_eq!(paid(&result), [(1, 1, 1, "12.00".into()), (2, 2, 2, "6.00".into()), (3, 3, 3, "3.00".into())]);
    assert!(result.commissions.iter().all(|c| c.rule == "category:grocery"));
}

#[test]
fn a_product_override_beats_the_category_override() {
    let mut plan = standard();
    plan.rates.category_levels.insert("grocery".into(), vec![r(dec!(0.04))]);
    plan.rates.product_levels.insert(PRODUCT, vec![r(dec!(0.20)), r(dec!(0.10))]);
    let result = cascade(&plan, &order(dec!(300.00), chain(5)));
    assert_eq!(paid(&result), [(1, 1, 1, "60.00".into()), (2, 2, 2, "30.00".into())]);
    assert!(result.commissions.iter().all(|c| c.rule == format!("product:{PRODUCT}")));
}

#[test]
fn a_guest_order_pays_the_referrer_the_retail_rate_and_its_upline_the_levels() {
    // The upline given is the referrer's: level 1 is the referrer's parent.
    let mut o = order(dec!(300.00), chain(5));
    o.referrer = Some(member(99, Decimal::ZERO));
    let result = cascade(&standard(), &o);
    let retail: Vec<_> = result.commissions.iter().filter(|c| c.kind == Kind::Retail).collect();
    assert_eq!(retail.len(), 1);
    assert_eq!((retail[0].beneficiary_id.as_u128(), retail[0].amount), (99, m(dec!(15.00))));
    assert_eq!((retail[0].physical_level, retail[0].paid_level, retail[0].rule.as_str()), (0, 0, "retail_rate"));
    let levels: Vec<_> = result.commissions.iter().filter(|c| c.kind == Kind::Level).map(|c| c.amount).collect();
    assert_eq!(levels, [dec!(30.00), dec!(15.00), dec!(9.00), dec!(6.00), dec!(3.00)].map(Money));
}

#[test]
fn a_pickup_point_operator_gets_the_pickup_rate() {
    let mut o = order(dec!(300.00), chain(1));
    o.pickup_operator = Some(member(77, Decimal::ZERO));
    let result = cascade(&standard(), &o);
    let pickup: Vec<_> = result.commissions.iter().filter(|c| c.kind == Kind::Pickup).collect();
    assert_eq!(pickup.len(), 1);
    assert_eq!((pickup[0].beneficiary_id.as_u128(), pickup[0].amount), (77, m(dec!(6.00))));
    assert_eq!(pickup[0].rule, "pickup_rate");
}

fn with_inactive_second_level() -> (PlanRules, OrderInputs) {
    let mut plan = standard();
    plan.min_personal_pv = Volume(dec!(50.00));
    let mut up = chain(6);
    up[1].earner.personal_pv = Volume(dec!(49.99));
    (plan, order(dec!(300.00), up))
}

#[test]
fn an_inactive_upline_forfeits_its_share_without_compression() {
    let (plan, o) = with_inactive_second_level();
    let result = cascade(&plan, &o);
    assert_eq!(
        paid(&result),
        [(1, 1, 1, "30.00".into()), (3, 3, 3, "9.00".into()), (4, 4, 4, "6.00".into()), (5, 5, 5, "3.00".into())]
    );
    assert_eq!(result.forfeits.len(), 1);
    let f = &result.forfeits[0];
    assert_eq!((f.member_id.as_u128(), f.physical_level, f.amount, f.reason), (2, 2, m(dec!(15.00)), "inactive"));
}

#[test]
fn an_inactive_upline_is_compressed_past_under_dynamic_compression() {
    let (mut plan, o) = with_inactive_second_level();
    plan.compression = Compression::Dynamic;
    let result = cascade(&plan, &o);
    assert_eq!(
        paid(&result),
        [
            (1, 1, 1, "30.00".into()),
            (3, 3, 2, "15.00".into()),
            (4, 4, 3, "9.00".into()),
            (5, 5, 4, "6.00".into()),
            (6, 6, 5, "3.00".into())
        ]
    );
    assert!(result.forfeits.is_empty());
    assert!(!result.commissions.iter().any(|c| c.beneficiary_id.as_u128() == 2));
}

#[test]
fn a_suspended_upline_forfeits_without_compression_and_is_skipped_with_it() {
    let mut up = chain(6);
    up[0].earner.suspended = true;
    let o = order(dec!(300.00), up);
    let none = cascade(&standard(), &o);
    assert_eq!(none.forfeits.iter().map(|f| (f.amount, f.reason)).collect::<Vec<_>>(), [(m(dec!(30.00)), "suspended")]);
    assert_eq!(none.commissions.len(), 4);
    let mut plan = standard();
    plan.compression = Compression::Dynamic;
    let dynamic = cascade(&plan, &o);
    assert_eq!(dynamic.commissions.first().map(|c| (c.beneficiary_id.as_u128(), c.amount)), Some((2, m(dec!(30.00)))));
    assert_eq!(dynamic.commissions.len(), 5);
}

#[test]
fn a_suspended_referrer_forfeits_the_retail_margin() {
    let mut o = order(dec!(300.00), chain(0));
    o.referrer = Some(Earner { suspended: true, ..member(99, Decimal::ZERO) });
    let result = cascade(&standard(), &o);
    assert!(result.commissions.is_empty());
    assert_eq!(result.forfeits[0].kind, Kind::Retail);
    assert_eq!(result.forfeits[0].amount, m(dec!(15.00)));
}

#[test]
fn the_payout_cap_scales_every_line_down_by_one_factor() {
    let mut plan = standard();
    plan.payout_cap_rate = Some(r(dec!(0.15)));
    // Uncapped: 30 + 15 + 9 + 6 + 3 = 63.00 on 300.00 BV; the cap is 45.00.
    let result = cascade(&plan, &order(dec!(300.00), chain(5)));
    let amounts: Vec<_> = result.commissions.iter().map(|c| c.amount).collect();
    assert_eq!(amounts, [dec!(21.42), dec!(10.71), dec!(6.42), dec!(4.28), dec!(2.14)].map(Money));
    assert!(result.commissions.iter().all(|c| c.cap_factor == Some(dec!(0.7142857142))));
    assert_eq!(amounts.iter().sum::<Money>(), m(dec!(44.97)));
}

#[test]
fn a_cap_the_order_stays_under_changes_nothing() {
    let mut plan = standard();
    plan.payout_cap_rate = Some(r(dec!(0.21)));
    let result = cascade(&plan, &order(dec!(300.00), chain(5)));
    assert_eq!(result, cascade(&standard(), &order(dec!(300.00), chain(5))));
}

#[test]
fn non_commissionable_lines_pay_nothing() {
    let mut o = order(dec!(600.00), chain(5));
    o.lines[0].commissionable = false;
    o.referrer = Some(member(99, Decimal::ZERO));
    assert_eq!(cascade(&standard(), &o), CascadeResult::default());
}

// ---- properties over random trees, plans and orders ----

fn rate() -> impl Strategy<Value = Rate> {
    (0i64..=2_000).prop_map(|r| Rate(Decimal::new(r, 4)))
}

fn table() -> impl Strategy<Value = Vec<Rate>> {
    proptest::collection::vec(rate(), 0..8)
}

prop_compose! {
    fn plan()(
        levels in table(),
        grocery in proptest::option::of(table()),
        product in proptest::option::of(table()),
        retail_rate in rate(),
        pickup_rate in rate(),
        min_pv in 0i64..200,
        dynamic in any::<bool>(),
        cap in proptest::option::of(0i64..=10_000),
    ) -> PlanRules {
        PlanRules {
            rates: LevelRates {
                levels,
                category_levels: grocery.into_iter().map(|t| ("grocery".to_owned(), t)).collect(),
                product_levels: product.into_iter().map(|t| (PRODUCT, t)).collect(),
            },
            retail_rate,
            pickup_rate,
            min_personal_pv: Volume(Decimal::from(min_pv)),
            compression: if dynamic { Compression::Dynamic } else { Compression::None },
            payout_cap_rate: cap.map(|c| Rate(Decimal::new(c, 4))),
        }
    }
}

/// A random tree (each member's parent is an earlier member), a random buyer
/// in it and the buyer's upline walked up the parent pointers.
fn upline_in_random_tree() -> impl Strategy<Value = Vec<UplineMember>> {
    (2usize..60).prop_flat_map(|n| {
        let parents = (1..n).map(|i| 0..i).collect::<Vec<_>>();
        let earners = proptest::collection::vec((any::<bool>(), 0i64..200, 0u8..10), n);
        (parents, earners, 0..n).prop_map(|(parents, earners, buyer)| {
            let mut up = Vec::new();
            let mut at = buyer;
            while at > 0 {
                at = parents[at - 1];
                let (_, pv, suspend_dice) = earners[at];
                up.push(UplineMember {
                    level: up.len() as u32 + 1,
                    earner: Earner {
                        member_id: Uuid::from_u128(at as u128 + 1),
                        suspended: suspend_dice == 0,
                        personal_pv: Volume(Decimal::from(pv)),
                    },
                });
            }
            up
        })
    })
}

prop_compose! {
    fn lines()(specs in proptest::collection::vec((0i64..10_000_000, any::<bool>(), any::<bool>(), 0u8..3), 1..5)) -> Vec<CascadeLine> {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (cents, commissionable, ours, category))| CascadeLine {
                line_id: Uuid::from_u128(5000 + i as u128),
                product_id: if ours { PRODUCT } else { Uuid::from_u128(3000 + i as u128) },
                category: ["grocery", "beauty", "books"][category as usize].to_owned(),
                bv: Volume(Decimal::new(cents, 2)),
                commissionable,
            })
            .collect()
    }
}

prop_compose! {
    fn order_inputs()(
        lines in lines(),
        upline in upline_in_random_tree(),
        referrer in proptest::option::of((any::<bool>(), 0i64..100)),
        pickup in proptest::option::of(any::<bool>()),
    ) -> OrderInputs {
        OrderInputs {
            lines,
            upline,
            referrer: referrer.map(|(s, pv)| Earner { member_id: Uuid::from_u128(900), suspended: s, personal_pv: Volume(Decimal::from(pv)) }),
            pickup_operator: pickup.map(|s| Earner { member_id: Uuid::from_u128(901), suspended: s, personal_pv: Volume::ZERO }),
        }
    }
}

proptest! {
    #[test]
    fn total_paid_never_exceeds_bv_times_the_rates_nor_the_cap(plan in plan(), o in order_inputs()) {
        let result = cascade(&plan, &o);
        let mut most = Decimal::ZERO;
        for l in o.lines.iter().filter(|l| l.commissionable) {
            let (table, _) = plan.rates.table_for(l.product_id, &l.category);
            let flat = [(o.referrer.is_some(), plan.retail_rate), (o.pickup_operator.is_some(), plan.pickup_rate)];
            let rates: Decimal = table.iter().map(|r| r.get()).sum::<Decimal>()
                + flat.iter().filter(|(on, _)| *on).map(|(_, r)| r.get()).sum::<Decimal>();
            most += l.bv.get() * rates;
        }
        let total: Decimal = result.commissions.iter().map(|c| c.amount.get()).sum();
        prop_assert!(total <= most, "{total} > {most}");
        if let Some(cap) = plan.payout_cap_rate {
            let bv: Volume = o.lines.iter().map(|l| l.bv).sum();
            prop_assert!(total <= bv * cap, "{total} over the cap of {}", bv * cap);
        }
        for c in &result.commissions {
            prop_assert!(c.amount > Money::ZERO && c.amount.get().scale() == 2);
            prop_assert!(c.rounding_residue >= Decimal::ZERO);
            prop_assert_eq!(c.amount.get() + c.rounding_residue, c.basis * c.rate * c.cap_factor.unwrap_or(Decimal::ONE));
        }
    }

    #[test]
    fn without_qualification_or_compression_each_line_and_level_gets_bv_times_rate_rounded_toward_zero(
        mut plan in plan(),
        mut o in order_inputs(),
    ) {
        plan.min_personal_pv = Volume::ZERO;
        plan.compression = Compression::None;
        plan.payout_cap_rate = None;
        o.upline.iter_mut().for_each(|m| m.earner.suspended = false);
        let result = cascade(&plan, &o);
        let mut expected = Vec::new();
        for l in o.lines.iter().filter(|l| l.commissionable) {
            let (table, _) = plan.rates.table_for(l.product_id, &l.category);
            for m in o.upline.iter().take(table.len()) {
                let exact = l.bv * table[m.level as usize - 1];
                let amount = Money(exact.round_dp_with_strategy(2, RoundingStrategy::ToZero));
                if !amount.is_zero() {
                    expected.push((l.line_id, m.earner.member_id, m.level, amount));
                }
            }
        }
        let got: Vec<_> = result
            .commissions
            .iter()
            .filter(|c| c.kind == Kind::Level)
            .map(|c| (c.line_id, c.beneficiary_id, c.paid_level, c.amount))
            .collect();
        prop_assert_eq!(got, expected);
        prop_assert!(result.forfeits.iter().all(|f| f.kind != Kind::Level));
    }

    #[test]
    fn dynamic_compression_pays_only_qualified_members_and_never_more_levels_than_the_plan_has(
        mut plan in plan(),
        o in order_inputs(),
    ) {
        plan.compression = Compression::Dynamic;
        let result = cascade(&plan, &o);
        prop_assert!(result.forfeits.iter().all(|f| f.kind != Kind::Level));
        for l in &o.lines {
            let (table, _) = plan.rates.table_for(l.product_id, &l.category);
            let levels: Vec<_> = result
                .commissions
                .iter()
                .filter(|c| c.kind == Kind::Level && c.line_id == l.line_id)
                .collect();
            prop_assert!(levels.len() <= table.len());
            let mut last = 0;
            for c in levels {
                let m = o.upline.iter().find(|m| m.earner.member_id == c.beneficiary_id).expect("paid an upline member");
                prop_assert!(!m.earner.suspended);
                prop_assert!(plan.min_personal_pv.is_zero() || m.earner.personal_pv >= plan.min_personal_pv);
                prop_assert!(c.paid_level > last && c.paid_level as usize <= table.len());
                prop_assert!(c.physical_level >= c.paid_level);
                last = c.paid_level;
            }
        }
    }

    #[test]
    fn the_same_inputs_always_give_the_same_lines(plan in plan(), o in order_inputs()) {
        prop_assert_eq!(cascade(&plan, &o), cascade(&plan.clone(), &o.clone()));
    }
}
