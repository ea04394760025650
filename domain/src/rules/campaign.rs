//! Deadline cashback campaigns (DESIGN §7): whether a campaign pays at
//! settlement, and what each eligible purchase gets — per-buyer limits and
//! the budget included. Pure: the settlement job freezes the purchases and
//! calls this once.

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::payout;

/// Decimal places of the budget's scale factor (rounded toward zero, so
/// the scaled payouts never sum past the budget).
pub const SCALE_DIGITS: u32 = 10;

/// When a campaign pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// The target was reached: min ≤ sold ≤ max (bounds inclusive).
    Reached,
    /// The target was missed: sold < min (an all-or-nothing guarantee).
    Missed,
}

impl Trigger {
    /// The stored and API word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reached => "reached",
            Self::Missed => "missed",
        }
    }

    /// The trigger of a word, if it is one.
    pub fn parse(word: &str) -> Option<Self> {
        [Self::Reached, Self::Missed].into_iter().find(|t| t.as_str() == word)
    }
}

/// The campaign's terms, as settlement reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct Terms {
    /// Reached or missed.
    pub trigger: Trigger,
    /// Units sold needed (reached: at least; missed: pays below it).
    pub min_units: i64,
    /// Most units sold for a `reached` campaign to pay.
    pub max_units: Option<i64>,
    /// Value sold needed (reached: at least; missed: pays below it).
    pub min_value: Option<Decimal>,
    /// Most value sold for a `reached` campaign to pay.
    pub max_value: Option<Decimal>,
    /// The cashback rate on each purchase's value, (0, 1].
    pub rate: Decimal,
    /// How many of one buyer's purchases are rewarded (earliest first).
    pub per_buyer_limit: Option<u32>,
    /// The most the campaign pays in total.
    pub budget: Option<Decimal>,
}

/// One purchase that counts: an order line of an in-scope product, paid in
/// the window and not cancelled or refunded at settlement.
#[derive(Debug, Clone, PartialEq)]
pub struct Purchase {
    /// The order line.
    pub line_id: Uuid,
    /// The buying member (none for a guest: counted, not paid).
    pub buyer_id: Option<Uuid>,
    /// Units still bought (ordered minus returned or refunded).
    pub units: i64,
    /// Their value (unit price × units).
    pub value: Decimal,
    /// When the order was paid.
    pub paid_at: DateTime<Utc>,
}

/// What a campaign pays one purchase.
#[derive(Debug, Clone, PartialEq)]
pub struct Payout {
    /// The order line.
    pub line_id: Uuid,
    /// Who is paid.
    pub buyer_id: Uuid,
    /// The value the rate applied to.
    pub basis: Decimal,
    /// The amount, after any budget scaling.
    pub amount: Decimal,
}

/// The decision and its figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Settlement {
    /// Whether the campaign pays.
    pub paid: bool,
    /// Units that counted.
    pub units: i64,
    /// Value that counted.
    pub value: Decimal,
    /// Purchases that counted.
    pub eligible_purchases: usize,
    /// What each rewarded purchase gets (empty when not paid).
    pub payouts: Vec<Payout>,
    /// Σ payouts.
    pub paid_total: Decimal,
    /// The budget's scale factor, when the budget cut the payouts.
    pub scale: Option<Decimal>,
}

impl Terms {
    /// Whether sales of `units` and `value` make the campaign pay.
    pub fn pays(&self, units: i64, value: Decimal) -> bool {
        match self.trigger {
            Trigger::Reached => {
                units >= self.min_units
                    && self.max_units.is_none_or(|max| units <= max)
                    && self.min_value.is_none_or(|min| value >= min)
                    && self.max_value.is_none_or(|max| value <= max)
            }
            Trigger::Missed => units < self.min_units || self.min_value.is_some_and(|min| value < min),
        }
    }
}

/// Settles a campaign over the purchases that count. The same purchases in
/// any order give the same settlement.
pub fn settle(terms: &Terms, purchases: &[Purchase]) -> Settlement {
    let units = purchases.iter().map(|p| p.units).sum();
    let value: Decimal = purchases.iter().map(|p| p.value).sum();
    let paid = terms.pays(units, value);
    let mut payouts = if paid { rewarded(terms, purchases) } else { Vec::new() };
    let scale = terms.budget.and_then(|budget| scale_to_budget(budget, &mut payouts));
    Settlement {
        paid,
        units,
        value,
        eligible_purchases: purchases.len(),
        paid_total: payouts.iter().map(|p| p.amount).sum(),
        payouts,
        scale,
    }
}

/// Each member purchase's cashback, earliest first, at most
/// `per_buyer_limit` per buyer.
fn rewarded(terms: &Terms, purchases: &[Purchase]) -> Vec<Payout> {
    let mut ordered: Vec<&Purchase> = purchases.iter().collect();
    ordered.sort_by_key(|p| (p.paid_at, p.line_id));
    let mut per_buyer: std::collections::HashMap<Uuid, u32> = Default::default();
    let mut out = Vec::new();
    for p in ordered {
        let Some(buyer_id) = p.buyer_id else { continue };
        let count = per_buyer.entry(buyer_id).or_default();
        if terms.per_buyer_limit.is_some_and(|limit| *count >= limit) {
            continue;
        }
        *count += 1;
        let (amount, _) = payout(p.value * terms.rate);
        if amount > Decimal::ZERO {
            out.push(Payout { line_id: p.line_id, buyer_id, basis: p.value, amount });
        }
    }
    out
}

/// Scales every payout by one factor when their sum is over `budget`, each
/// rounded toward zero; payouts scaled to nothing are dropped.
fn scale_to_budget(budget: Decimal, payouts: &mut Vec<Payout>) -> Option<Decimal> {
    let total: Decimal = payouts.iter().map(|p| p.amount).sum();
    if total <= budget {
        return None;
    }
    let factor = (budget / total).round_dp_with_strategy(SCALE_DIGITS, RoundingStrategy::ToZero);
    for p in payouts.iter_mut() {
        p.amount = payout(p.amount * factor).0;
    }
    payouts.retain(|p| !p.amount.is_zero());
    Some(factor)
}

#[cfg(test)]
mod tests;
