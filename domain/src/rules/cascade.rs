//! The commission cascade: who is paid what for each order line — level
//! commissions up the buyer's upline (with qualification and compression),
//! the referrer's retail margin on a guest order, the pickup point's share —
//! and the payout cap over all of them. Computed from stored inputs only, so
//! the same inputs always give the same lines.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::{Money, Rate, Volume};

/// Decimal places of the payout cap's scale factor. It is rounded toward
/// zero, so scaled lines can only sum to less than the cap, never more.
pub const CAP_FACTOR_SCALE: u32 = 10;

/// The parts of a plan version that decide level rates.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelRates {
    /// Rates on BV by level, nearest upline first (index 0 = level 1).
    pub levels: Vec<Rate>,
    /// Per-category rate tables that replace `levels` for that category.
    pub category_levels: BTreeMap<String, Vec<Rate>>,
    /// Per-product rate tables that replace both of the above.
    pub product_levels: BTreeMap<Uuid, Vec<Rate>>,
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

    /// The rate table for a line and the name of the rule that chose it:
    /// the most specific wins (product, then category, then the plan's levels).
    pub fn table_for(&self, product_id: Uuid, category: &str) -> (&[Rate], String) {
        if let Some(t) = self.product_levels.get(&product_id) {
            return (t, format!("product:{product_id}"));
        }
        if let Some(t) = self.category_levels.get(category) {
            return (t, format!("category:{category}"));
        }
        (&self.levels, "levels".to_owned())
    }
}

/// What happens to the share of an upline member who does not qualify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// The share is forfeited (recorded as breakage).
    None,
    /// The next qualified upline member takes the level.
    Dynamic,
}

/// Everything of a plan version the cascade reads.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRules {
    /// Level rate tables.
    pub rates: LevelRates,
    /// The referrer's rate on a guest order's BV.
    pub retail_rate: Rate,
    /// The pickup point operator's rate on the order's BV.
    pub pickup_rate: Rate,
    /// Personal PV an upline member needs within the activity window to
    /// earn level commissions (zero: only suspension disqualifies).
    pub min_personal_pv: Volume,
    /// `none` or `dynamic`.
    pub compression: Compression,
    /// The order's commissions never exceed this share of its BV.
    pub payout_cap_rate: Option<Rate>,
}

/// One order line as the cascade sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CascadeLine {
    /// The order line.
    pub line_id: Uuid,
    /// Its product (for product-level rates).
    pub product_id: Uuid,
    /// Its category (for category-level rates).
    pub category: String,
    /// The line's total BV (unit BV × quantity): the commission basis.
    pub bv: Volume,
    /// Lines of non-commissionable products pay nothing.
    pub commissionable: bool,
}

/// A member who may earn on the order, with the inputs of their qualification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Earner {
    /// The member.
    pub member_id: Uuid,
    /// Suspended members earn nothing.
    pub suspended: bool,
    /// Personal PV within the activity window before the credit time.
    pub personal_pv: Volume,
}

/// One member of the upline, nearest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UplineMember {
    /// Physical level: 1 = the placement parent of whoever the cascade starts at.
    pub level: u32,
    /// The member and their qualification inputs.
    pub earner: Earner,
}

/// Everything of one order the cascade reads.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OrderInputs {
    /// The lines.
    pub lines: Vec<CascadeLine>,
    /// The buyer's upline (a guest order: the referrer's upline), nearest
    /// first; under dynamic compression long enough to fill every level
    /// with qualified members where the tree allows.
    pub upline: Vec<UplineMember>,
    /// A guest order's referrer (earns the retail margin).
    pub referrer: Option<Earner>,
    /// The operator of the order's pickup point.
    pub pickup_operator: Option<Earner>,
}

/// What kind of commission a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A level of the upline.
    Level,
    /// A guest order's referrer.
    Retail,
    /// A pickup point operator.
    Pickup,
}

impl Kind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Level => "level",
            Kind::Retail => "retail",
            Kind::Pickup => "pickup",
        }
    }

    /// The kind of a stored name, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        [Kind::Level, Kind::Retail, Kind::Pickup].into_iter().find(|k| k.as_str() == name)
    }
}

/// The qualification of a beneficiary as it stood at the credit time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Qualification {
    /// Whether they were suspended.
    pub suspended: bool,
    /// Their personal PV within the activity window.
    pub personal_pv: Volume,
    /// What the plan asked for.
    pub min_personal_pv: Volume,
    /// Whether they qualified.
    pub qualified: bool,
    /// The plan's compression.
    pub compression: Compression,
}

/// A commission to pay, with everything that explains it.
#[derive(Debug, Clone, PartialEq)]
pub struct Commission {
    /// Level, retail or pickup.
    pub kind: Kind,
    /// The order line it is paid on.
    pub line_id: Uuid,
    /// Who is paid.
    pub beneficiary_id: Uuid,
    /// Where the beneficiary sits above the buyer (0 for retail and pickup).
    pub physical_level: u32,
    /// Which level's rate was paid (0 for retail and pickup).
    pub paid_level: u32,
    /// The BV the rate applies to.
    pub basis: Volume,
    /// The rate paid.
    pub rate: Rate,
    /// Which rule set the rate (`levels`, `category:x`, `product:id`,
    /// `retail_rate`, `pickup_rate`).
    pub rule: String,
    /// The beneficiary's qualification.
    pub qualification: Qualification,
    /// The payout cap's scale factor, when the cap cut this order.
    pub cap_factor: Option<Decimal>,
    /// basis × rate (× cap_factor) rounded toward zero to the minor unit.
    pub amount: Money,
    /// basis × rate × (cap_factor or 1) − amount: what rounding kept back.
    pub rounding_residue: Decimal,
}

/// A share not paid because its member was not qualified.
#[derive(Debug, Clone, PartialEq)]
pub struct Forfeit {
    /// Which kind of share.
    pub kind: Kind,
    /// The order line.
    pub line_id: Uuid,
    /// The unqualified member.
    pub member_id: Uuid,
    /// Their physical level (0 for retail and pickup).
    pub physical_level: u32,
    /// The amount they would have been paid (before any cap).
    pub amount: Money,
    /// `suspended` or `inactive`.
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

impl Earner {
    /// Whether this member may earn level commissions: not suspended, and
    /// with the personal volume the plan asks for (none asked: any).
    pub fn qualifies_for_levels(&self, min_personal_pv: Volume) -> bool {
        !self.suspended && (min_personal_pv.is_zero() || self.personal_pv >= min_personal_pv)
    }
}

impl PlanRules {
    fn qualification(&self, e: &Earner, needs_volume: bool) -> Qualification {
        let qualified = if needs_volume { e.qualifies_for_levels(self.min_personal_pv) } else { !e.suspended };
        Qualification {
            suspended: e.suspended,
            personal_pv: e.personal_pv,
            min_personal_pv: self.min_personal_pv,
            qualified,
            compression: self.compression,
        }
    }
}

/// Computes every commission of an order. Pure: the same inputs always give
/// the same lines, in the same order.
pub fn cascade(rules: &PlanRules, order: &OrderInputs) -> CascadeResult {
    let mut result = CascadeResult::default();
    for line in order.lines.iter().filter(|l| l.commissionable && l.bv > Volume::ZERO) {
        level_shares(rules, line, &order.upline, &mut result);
        let flat = [
            (Kind::Retail, &order.referrer, rules.retail_rate),
            (Kind::Pickup, &order.pickup_operator, rules.pickup_rate),
        ];
        for (kind, earner, rate) in flat {
            if let Some(earner) = earner {
                flat_share(rules, line, kind, earner, rate, &mut result);
            }
        }
    }
    let order_bv = order.lines.iter().map(|l| l.bv).sum();
    apply_cap(rules.payout_cap_rate, order_bv, &mut result.commissions);
    result
}

fn level_shares(rules: &PlanRules, line: &CascadeLine, upline: &[UplineMember], result: &mut CascadeResult) {
    let (table, rule) = rules.rates.table_for(line.product_id, &line.category);
    let mut paid_level = 0u32;
    for member in upline {
        let q = rules.qualification(&member.earner, true);
        let level = match rules.compression {
            Compression::None => member.level,
            Compression::Dynamic if q.qualified => paid_level + 1,
            // Compressed past: the level goes to the next qualified member.
            Compression::Dynamic => continue,
        };
        let Some(rate) = table.get(level as usize - 1).copied() else {
            break;
        };
        paid_level = level;
        let (amount, residue) = Money::toward_zero(line.bv * rate);
        if amount.is_zero() {
            continue;
        }
        if !q.qualified {
            let reason = if q.suspended { "suspended" } else { "inactive" };
            result.forfeits.push(Forfeit {
                kind: Kind::Level,
                line_id: line.line_id,
                member_id: member.earner.member_id,
                physical_level: member.level,
                amount,
                reason,
            });
            continue;
        }
        result.commissions.push(Commission {
            kind: Kind::Level,
            line_id: line.line_id,
            beneficiary_id: member.earner.member_id,
            physical_level: member.level,
            paid_level: level,
            basis: line.bv,
            rate,
            rule: rule.clone(),
            qualification: q,
            cap_factor: None,
            amount,
            rounding_residue: residue,
        });
    }
}

/// A retail or pickup share: earned by selling or serving the order, so only
/// suspension (not personal volume) disqualifies.
fn flat_share(
    rules: &PlanRules,
    line: &CascadeLine,
    kind: Kind,
    earner: &Earner,
    rate: Rate,
    result: &mut CascadeResult,
) {
    let (amount, residue) = Money::toward_zero(line.bv * rate);
    if amount.is_zero() {
        return;
    }
    let q = rules.qualification(earner, false);
    if !q.qualified {
        result.forfeits.push(Forfeit {
            kind,
            line_id: line.line_id,
            member_id: earner.member_id,
            physical_level: 0,
            amount,
            reason: "suspended",
        });
        return;
    }
    let rule = match kind {
        Kind::Retail => "retail_rate",
        _ => "pickup_rate",
    };
    result.commissions.push(Commission {
        kind,
        line_id: line.line_id,
        beneficiary_id: earner.member_id,
        physical_level: 0,
        paid_level: 0,
        basis: line.bv,
        rate,
        rule: rule.to_owned(),
        qualification: q,
        cap_factor: None,
        amount,
        rounding_residue: residue,
    });
}

/// Scales every line down by one factor when the order's commissions would
/// exceed `cap_rate` × its BV. Each line is its rounded amount × the factor,
/// rounded toward zero, so the sum stays within the cap.
fn apply_cap(cap_rate: Option<Rate>, order_bv: Volume, commissions: &mut Vec<Commission>) {
    let Some(cap_rate) = cap_rate else { return };
    let (cap, _) = Money::toward_zero(order_bv * cap_rate);
    let total: Money = commissions.iter().map(|c| c.amount).sum();
    if total <= cap {
        return;
    }
    let factor = (cap.get() / total.get()).round_dp_with_strategy(CAP_FACTOR_SCALE, RoundingStrategy::ToZero);
    for c in commissions.iter_mut() {
        let (amount, _) = Money::toward_zero(c.amount.get() * factor);
        c.cap_factor = Some(factor);
        c.rounding_residue = c.basis * c.rate * factor - amount.get();
        c.amount = amount;
    }
    // A line scaled down to nothing pays nothing and has no ledger entry.
    commissions.retain(|c| !c.amount.is_zero());
}

#[cfg(test)]
mod tests;
