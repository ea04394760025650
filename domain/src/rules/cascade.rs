//! The unilevel commission cascade: who in the buyer's upline is paid what
//! for each order line, computed from stored inputs only.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use uuid::Uuid;

use crate::money::payout;

/// The parts of a plan version that decide level commissions.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelRates {
    /// Rates on BV by level, nearest upline first (index 0 = level 1).
    pub levels: Vec<Decimal>,
    /// Per-category rate tables that replace `levels` for that category.
    pub category_levels: BTreeMap<String, Vec<Decimal>>,
    /// Per-product rate tables that replace both of the above.
    pub product_levels: BTreeMap<Uuid, Vec<Decimal>>,
}

impl LevelRates {
    /// How many levels any line of this plan can reach.
    pub fn depth(&self) -> usize {
        self.category_levels
            .values()
            .chain(self.product_levels.values())
            .map(Vec::len)
            .chain([self.levels.len()])
            .max()
            .unwrap_or(0)
    }

    /// The rate table for a line and the name of the rule that chose it.
    pub fn table_for(&self, product_id: Uuid, category: &str) -> (&[Decimal], String) {
        if let Some(t) = self.product_levels.get(&product_id) {
            return (t, format!("product:{product_id}"));
        }
        if let Some(t) = self.category_levels.get(category) {
            return (t, format!("category:{category}"));
        }
        (&self.levels, "levels".to_owned())
    }
}

/// One order line as the cascade sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct CascadeLine {
    /// The order line.
    pub line_id: Uuid,
    /// Its product (for product-level rates).
    pub product_id: Uuid,
    /// Its category (for category-level rates).
    pub category: String,
    /// The line's total BV (unit BV × quantity): the commission basis.
    pub bv: Decimal,
    /// Lines of non-commissionable products pay nothing.
    pub commissionable: bool,
}

/// One member of the buyer's upline, nearest first.
#[derive(Debug, Clone, PartialEq)]
pub struct UplineMember {
    /// The member.
    pub member_id: Uuid,
    /// Physical level: 1 = the buyer's placement parent.
    pub level: u32,
    /// Suspended members earn nothing.
    pub suspended: bool,
}

/// A commission to pay.
#[derive(Debug, Clone, PartialEq)]
pub struct Commission {
    /// The order line it is paid on.
    pub line_id: Uuid,
    /// Who is paid.
    pub beneficiary_id: Uuid,
    /// Where the beneficiary sits above the buyer.
    pub physical_level: u32,
    /// Which level's rate was paid (equal to physical without compression).
    pub paid_level: u32,
    /// The BV the rate applies to.
    pub basis: Decimal,
    /// The rate paid.
    pub rate: Decimal,
    /// Which table the rate came from (`levels`, `category:x`, `product:id`).
    pub rule: String,
    /// basis × rate rounded toward zero to the minor unit.
    pub amount: Decimal,
    /// What rounding kept back.
    pub rounding_residue: Decimal,
}

/// A share not paid because its upline member was not qualified.
#[derive(Debug, Clone, PartialEq)]
pub struct Forfeit {
    /// The order line.
    pub line_id: Uuid,
    /// The unqualified upline member.
    pub member_id: Uuid,
    /// Their physical level.
    pub physical_level: u32,
    /// The amount they would have been paid.
    pub amount: Decimal,
    /// Why it was forfeited.
    pub reason: &'static str,
}

/// What the cascade decided for an order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CascadeResult {
    /// Commissions to post.
    pub commissions: Vec<Commission>,
    /// Shares forfeited (breakage).
    pub forfeits: Vec<Forfeit>,
}

/// Computes level commissions for `lines` given the buyer's `upline`
/// (nearest first, at least `rates.depth()` long where the tree allows).
/// Compression is `none`: an unqualified member's share is forfeited.
pub fn cascade(rates: &LevelRates, lines: &[CascadeLine], upline: &[UplineMember]) -> CascadeResult {
    let mut result = CascadeResult::default();
    for line in lines.iter().filter(|l| l.commissionable && l.bv > Decimal::ZERO) {
        let (table, rule) = rates.table_for(line.product_id, &line.category);
        for member in upline {
            let Some(rate) = table.get(member.level as usize - 1).copied() else {
                break;
            };
            let (amount, residue) = payout(line.bv * rate);
            if amount.is_zero() {
                continue;
            }
            if member.suspended {
                result.forfeits.push(Forfeit {
                    line_id: line.line_id,
                    member_id: member.member_id,
                    physical_level: member.level,
                    amount,
                    reason: "suspended",
                });
                continue;
            }
            result.commissions.push(Commission {
                line_id: line.line_id,
                beneficiary_id: member.member_id,
                physical_level: member.level,
                paid_level: member.level,
                basis: line.bv,
                rate,
                rule: rule.clone(),
                amount,
                rounding_residue: residue,
            });
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn standard() -> LevelRates {
        LevelRates {
            levels: vec![dec!(0.10), dec!(0.05), dec!(0.03), dec!(0.02), dec!(0.01)],
            category_levels: BTreeMap::new(),
            product_levels: BTreeMap::new(),
        }
    }

    fn chain(n: u32) -> Vec<UplineMember> {
        (1..=n)
            .map(|level| UplineMember { member_id: Uuid::from_u128(level.into()), level, suspended: false })
            .collect()
    }

    fn line(bv: Decimal) -> CascadeLine {
        CascadeLine {
            line_id: Uuid::from_u128(1000),
            product_id: Uuid::from_u128(2000),
            category: "grocery".into(),
            bv,
            commissionable: true,
        }
    }

    #[test]
    fn five_levels_are_paid_on_bv_and_the_sixth_gets_nothing() {
        let result = cascade(&standard(), &[line(dec!(600.00))], &chain(6));
        let amounts: Vec<_> = result.commissions.iter().map(|c| c.amount.to_string()).collect();
        assert_eq!(amounts, ["60.00", "30.00", "18.00", "12.00", "6.00"]);
        assert!(result.commissions.iter().all(|c| c.beneficiary_id != Uuid::from_u128(6)));
    }

    #[test]
    fn a_short_upline_pays_only_the_levels_that_exist() {
        let result = cascade(&standard(), &[line(dec!(100.00))], &chain(2));
        assert_eq!(result.commissions.len(), 2);
    }

    #[test]
    fn a_suspended_upline_forfeits_its_share_without_compression() {
        let mut up = chain(5);
        up[1].suspended = true;
        let result = cascade(&standard(), &[line(dec!(600.00))], &up);
        assert_eq!(result.commissions.len(), 4);
        assert_eq!(result.forfeits.len(), 1);
        assert_eq!(result.forfeits[0].amount, dec!(30.00));
        assert_eq!(result.commissions[1].paid_level, 3);
    }

    #[test]
    fn product_rates_beat_category_rates_which_beat_the_default() {
        let mut rates = standard();
        rates.category_levels.insert("grocery".into(), vec![dec!(0.04)]);
        let result = cascade(&rates, &[line(dec!(100.00))], &chain(5));
        assert_eq!(result.commissions.len(), 1);
        assert_eq!(result.commissions[0].rule, "category:grocery");
        rates.product_levels.insert(Uuid::from_u128(2000), vec![dec!(0.2), dec!(0.1)]);
        let result = cascade(&rates, &[line(dec!(100.00))], &chain(5));
        assert_eq!(result.commissions.len(), 2);
        assert_eq!(result.commissions[0].amount, dec!(20.00));
    }

    #[test]
    fn non_commissionable_lines_pay_nothing() {
        let mut l = line(dec!(600.00));
        l.commissionable = false;
        assert!(cascade(&standard(), &[l], &chain(5)).commissions.is_empty());
    }

    proptest! {
        #[test]
        fn payouts_never_exceed_the_plan_and_rounding_is_accounted(
            cents in 0i64..100_000_000,
            rates in proptest::collection::vec(0i64..=2_000, 1..8),
            depth in 0u32..10,
        ) {
            let plan = LevelRates {
                levels: rates.iter().map(|r| Decimal::new(*r, 4)).collect(),
                category_levels: BTreeMap::new(),
                product_levels: BTreeMap::new(),
            };
            let bv = Decimal::new(cents, 2);
            let result = cascade(&plan, &[line(bv)], &chain(depth));
            let max_paid: Decimal = plan.levels.iter().take(depth as usize).map(|r| bv * r).sum();
            let paid: Decimal = result.commissions.iter().map(|c| c.amount).sum();
            let residue: Decimal = result.commissions.iter().map(|c| c.rounding_residue).sum();
            prop_assert!(paid <= max_paid);
            prop_assert!(result.commissions.len() <= depth as usize);
            for c in &result.commissions {
                prop_assert_eq!(c.amount + c.rounding_residue, c.basis * c.rate);
                prop_assert_eq!(c.amount.scale(), 2);
            }
            prop_assert!(paid + residue <= max_paid);
        }
    }
}
