//! Every journal entry's idempotency key, in one place. A key is derived
//! from the business event that moves the money, so running the same event
//! twice (a retried job, a duplicated webhook) finds its entry and posts
//! nothing: `ledger::post` and `ledger::bulk` refuse a second entry under
//! a key. The formats are stored in every journal entry ever written:
//! change one and old entries no longer protect against a re-run.

use std::fmt::Display;

/// A commission posted as pending: the order line, the beneficiary and the
/// level paid (a level commission) or the kind (`retail`, `pickup`).
pub fn commission(line: impl Display, beneficiary: impl Display, level_or_kind: impl Display) -> String {
    format!("commission:{line}:{beneficiary}:{level_or_kind}")
}

/// A held commission moved to available.
pub fn commission_release(commission: impl Display) -> String {
    format!("release:{commission}")
}

/// What one recorded reversal takes back of one commission.
pub fn commission_reversal(commission: impl Display, reversal: impl Display) -> String {
    format!("commission_reversal:{commission}:{reversal}")
}

/// A period's bonus to one member.
pub fn period_bonus(period: impl Display, member: impl Display, bonus: impl Display) -> String {
    format!("bonus:{period}:{member}:{bonus}")
}

/// Store credit spent on an order at checkout.
pub fn store_credit_spent(order: impl Display) -> String {
    format!("order_store_credit:{order}")
}

/// Store credit given back when the order is wholly refunded, returned or
/// cancelled.
pub fn store_credit_returned(order: impl Display) -> String {
    format!("order_store_credit_returned:{order}")
}

/// A withdrawal's step (`reserve`, `paid`, `release`).
pub fn withdrawal(step: impl Display, withdrawal: impl Display) -> String {
    format!("withdrawal_{step}:{withdrawal}")
}

/// A campaign's cashback on one purchase (order line).
pub fn cashback(campaign: impl Display, line: impl Display) -> String {
    format!("cashback:{campaign}:{line}")
}

/// A campaign's held cashback on one line moved to available.
pub fn cashback_release(campaign: impl Display, line: impl Display) -> String {
    format!("cashback_release:{campaign}:{line}")
}

/// What the units of a line reversed since its settlement take back of its
/// cashback (cumulative: each further reversal is a new key).
pub fn cashback_reversal(campaign: impl Display, line: impl Display, reversed_since: impl Display) -> String {
    format!("cashback_reversal:{campaign}:{line}:{reversed_since}")
}

/// The buyer's instant reward on one order line.
pub fn order_reward(line: impl Display) -> String {
    format!("order_reward:{line}")
}

/// A held instant reward released.
pub fn order_reward_release(line: impl Display) -> String {
    format!("order_reward_release:{line}")
}

/// What the units of a line reversed so far take back of its reward
/// (cumulative).
pub fn order_reward_reversal(line: impl Display, units_reversed: impl Display) -> String {
    format!("order_reward_reversal:{line}:{units_reversed}")
}

/// What expired of a points lot, cumulatively.
pub fn points_expiry(lot: impl Display, expired_in_all: impl Display) -> String {
    format!("points_expiry:{lot}:{expired_in_all}")
}

/// A seller's share of one line (and the fee beside it).
pub fn seller_credit(line: impl Display) -> String {
    format!("seller_credit:{line}")
}

/// A seller's held share of one line released.
pub fn seller_credit_release(line: impl Display) -> String {
    format!("seller_credit_release:{line}")
}

/// What the units of a line reversed so far take back of its seller's
/// share (cumulative).
pub fn seller_credit_reversal(line: impl Display, units_reversed: impl Display) -> String {
    format!("seller_credit_reversal:{line}:{units_reversed}")
}

/// What the units of a line reversed so far give back of its fee
/// (cumulative).
pub fn seller_fee_reversal(line: impl Display, units_reversed: impl Display) -> String {
    format!("seller_fee_reversal:{line}:{units_reversed}")
}

/// The penalty of one late seller line.
pub fn seller_penalty(line: impl Display) -> String {
    format!("seller_penalty:{line}")
}

/// A challenge's points for a member's `times`th completion of it.
pub fn challenge_reward(challenge: impl Display, member: impl Display, times: i32) -> String {
    format!("challenge_reward:{challenge}:{member}:{times}")
}

/// The undoing of that completion's points.
pub fn challenge_reward_undone(challenge: impl Display, member: impl Display, times: i32) -> String {
    format!("challenge_reward_undone:{challenge}:{member}:{times}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_formats_stay_what_earlier_entries_were_written_with() {
        assert_eq!(commission("L", "M", 2), "commission:L:M:2");
        assert_eq!(commission("L", "M", "retail"), "commission:L:M:retail");
        assert_eq!(commission_release("C"), "release:C");
        assert_eq!(commission_reversal("C", "R"), "commission_reversal:C:R");
        assert_eq!(period_bonus("2026-11", "M", "team"), "bonus:2026-11:M:team");
        assert_eq!(store_credit_spent("O"), "order_store_credit:O");
        assert_eq!(store_credit_returned("O"), "order_store_credit_returned:O");
        assert_eq!(withdrawal("reserve", "W"), "withdrawal_reserve:W");
        assert_eq!(cashback("K", "L"), "cashback:K:L");
        assert_eq!(cashback_release("K", "L"), "cashback_release:K:L");
        assert_eq!(cashback_reversal("K", "L", 1), "cashback_reversal:K:L:1");
        assert_eq!(order_reward("L"), "order_reward:L");
        assert_eq!(order_reward_release("L"), "order_reward_release:L");
        assert_eq!(order_reward_reversal("L", 2), "order_reward_reversal:L:2");
        assert_eq!(points_expiry("L", "5.00"), "points_expiry:L:5.00");
        assert_eq!(seller_credit("L"), "seller_credit:L");
        assert_eq!(seller_credit_release("L"), "seller_credit_release:L");
        assert_eq!(seller_credit_reversal("L", 1), "seller_credit_reversal:L:1");
        assert_eq!(seller_fee_reversal("L", 1), "seller_fee_reversal:L:1");
        assert_eq!(seller_penalty("L"), "seller_penalty:L");
        assert_eq!(challenge_reward("C", "M", 2), "challenge_reward:C:M:2");
        assert_eq!(challenge_reward_undone("C", "M", 2), "challenge_reward_undone:C:M:2");
    }
}
