//! Every kind of journal entry, in one list: what statements, reports and
//! the audit group money movements by. A stored kind the code does not know
//! is a decode error.

crate::words::stored_words!(
    /// What a journal entry records.
    EntryKind {
        /// A commission posted to pending.
        Commission = "commission",
        /// A commission's hold ended: pending → available.
        Release = "release",
        /// A held commission cancelled by a return (pending → expense).
        CommissionCancelled = "commission_cancelled",
        /// A released commission taken back (available → expense).
        Clawback = "clawback",
        /// A buyer's instant cash reward posted to pending.
        OrderCashback = "order_cashback",
        /// A buyer's cash reward released: pending → available.
        OrderCashbackRelease = "order_cashback_release",
        /// A buyer's points released into store credit.
        OrderPoints = "order_points",
        /// A held cash reward cancelled by a return.
        OrderCashbackCancelled = "order_cashback_cancelled",
        /// A released cash reward taken back.
        OrderCashbackClawback = "order_cashback_clawback",
        /// Released points taken back from store credit.
        OrderPointsClawback = "order_points_clawback",
        /// A campaign's cashback paid (to pending, or to store credit).
        Cashback = "cashback",
        /// Campaign cashback released: pending → available.
        CashbackRelease = "cashback_release",
        /// Held campaign cashback cancelled by a return.
        CashbackCancelled = "cashback_cancelled",
        /// Released campaign cashback taken back.
        CashbackClawback = "cashback_clawback",
        /// A period's team bonus.
        Bonus = "bonus",
        /// Store credit of points lots past their expiry (→ breakage).
        PointsExpired = "points_expired",
        /// Store credit spent at checkout.
        StoreCreditSpent = "store_credit_spent",
        /// Store credit given back (cancelled or wholly reversed order).
        StoreCreditReturned = "store_credit_returned",
        /// A withdrawal approved: available → reserved.
        WithdrawalReserve = "withdrawal_reserve",
        /// A withdrawal paid: reserved → payouts.
        WithdrawalPaid = "withdrawal_paid",
        /// A withdrawal rejected or failed after approval: reserved → available.
        WithdrawalRelease = "withdrawal_release",
        /// A seller's share of a line posted to its pending account, the
        /// marketplace's fee beside it (from the sellers' sales).
        SellerCredit = "seller_credit",
        /// A seller's share released after its hold: pending → available.
        SellerCreditRelease = "seller_credit_release",
        /// A held seller share cancelled by a return (pending → sales).
        SellerCreditCancelled = "seller_credit_cancelled",
        /// A released seller share taken back (available → sales).
        SellerCreditClawback = "seller_credit_clawback",
        /// The fee on returned units given back (fees → sales).
        SellerFeeRefunded = "seller_fee_refunded",
        /// A late line's penalty (seller available → penalties).
        SellerPenalty = "seller_penalty",
        /// A completed challenge's points (cashback expense → store credit).
        ChallengeReward = "challenge_reward",
        /// A challenge's points taken back when a return undid its
        /// completion (store credit → cashback expense).
        ChallengeRewardUndone = "challenge_reward_undone",
    }
);

impl EntryKind {
    /// The commission line an entry of the commission family (a
    /// commission, its release, its cancel or clawback) moves money for:
    /// the entry's reference. The `member_postings` view applies the same
    /// rule, and the audit holds the two together.
    pub fn commission_of(self, reference: &str) -> Option<uuid::Uuid> {
        match self {
            Self::Commission | Self::Release | Self::CommissionCancelled | Self::Clawback => reference.parse().ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EntryKind;

    #[test]
    fn the_words_of_entries_written_before_the_list_still_read() {
        let earlier = [
            ("withdrawal_reserve", EntryKind::WithdrawalReserve),
            ("withdrawal_paid", EntryKind::WithdrawalPaid),
            ("withdrawal_release", EntryKind::WithdrawalRelease),
            ("clawback", EntryKind::Clawback),
            ("order_points", EntryKind::OrderPoints),
        ];
        for (word, kind) in earlier {
            assert_eq!(EntryKind::parse(word), Some(kind), "{word}");
            assert_eq!(kind.as_str(), word);
        }
        assert_eq!(EntryKind::parse("refund"), None);
    }
}
