//! The order state machine, built on facts rather than transitions: each
//! provider event establishes a fact (paid, shipped, delivered, cancelled)
//! once, and the status is derived from the facts present. Facts that arrive
//! twice or out of order therefore never move an order backwards, and a fact
//! that arrives early (delivered before paid) is kept and takes effect as
//! soon as the fact it waits for arrives.

use serde::{Deserialize, Serialize};

/// How the buyer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Paid through a gateway before shipping.
    Online,
    /// Cash on delivery: the courier's collection is the payment.
    Cod,
}

impl PaymentMethod {
    /// The stored/API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Cod => "cod",
        }
    }

    /// Parses the stored/API spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "online" => Some(Self::Online),
            "cod" => Some(Self::Cod),
            _ => None,
        }
    }
}

/// An event that may establish a fact about an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderFact {
    /// A confirmed payment.
    Paid,
    /// A failed payment attempt: recorded, the order stays unpaid.
    PaymentFailed,
    /// Handed to the courier.
    Shipped,
    /// Delivered to the buyer (for cod: cash collected).
    Delivered,
    /// Some lines delivered (for cod: what was collected is the payment); the
    /// rest comes back as a return naming its lines.
    PartiallyDelivered,
    /// Cancelled before shipping (an admin decision).
    Cancelled,
}

impl OrderFact {
    /// The name recorded in the order's event log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::PaymentFailed => "payment_failed",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::PartiallyDelivered => "partially_delivered",
            Self::Cancelled => "cancelled",
        }
    }
}

/// The facts known about an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Facts {
    /// Payment confirmed (for cod, set together with `delivered`).
    pub paid: bool,
    /// Shipped.
    pub shipped: bool,
    /// Delivered.
    pub delivered: bool,
    /// Partially delivered.
    pub partially_delivered: bool,
    /// Cancelled before shipping.
    pub cancelled: bool,
    /// The hold ended: what the order earned was released.
    pub settled: bool,
}

/// What applying a fact did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new fact that changed the order.
    Applied,
    /// A new fact kept for later: it takes effect when the fact it waits for
    /// arrives (delivered before paid on an online order).
    Held,
    /// The fact was already known: nothing changes.
    Duplicate,
    /// Recorded only (a failed payment, or anything after cancellation).
    Ignored,
}

impl Outcome {
    /// The name recorded in the order's event log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Held => "held",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
        }
    }

    /// The outcome of a recorded name, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Applied, Self::Held, Self::Duplicate, Self::Ignored].into_iter().find(|o| o.as_str() == name)
    }
}

/// When the plan counts an order as commissionable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CreditOn {
    /// As soon as payment is confirmed.
    Paid,
    /// Only when delivered (and paid): the default in a cash-on-delivery market.
    Delivered,
}

/// Applies `fact` to `facts`, returning the new facts and what happened.
pub fn apply(method: PaymentMethod, facts: Facts, fact: OrderFact) -> (Facts, Outcome) {
    if facts.cancelled {
        return (facts, Outcome::Ignored);
    }
    let mut next = facts;
    match fact {
        OrderFact::PaymentFailed => return (facts, Outcome::Ignored),
        OrderFact::Paid => next.paid = true,
        OrderFact::Shipped => next.shipped = true,
        OrderFact::Delivered | OrderFact::PartiallyDelivered => {
            if fact == OrderFact::Delivered {
                next.delivered = true;
            } else {
                next.partially_delivered = true;
            }
            // Delivery implies it was shipped; for cod the collection is the payment.
            next.shipped = true;
            if method == PaymentMethod::Cod {
                next.paid = true;
            }
        }
        OrderFact::Cancelled => next.cancelled = true,
    }
    if next == facts {
        return (facts, Outcome::Duplicate);
    }
    let unchanged = status(method, next, Reversed::None) == status(method, facts, Reversed::None);
    let outcome = if unchanged { Outcome::Held } else { Outcome::Applied };
    (next, outcome)
}

/// How much of an order has been returned, refunded or cancelled by line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reversed {
    /// Nothing.
    None,
    /// Some units; `refund_only` when every reversal was a refund.
    Partly {
        /// Every reversal was a refund (not a return).
        refund_only: bool,
    },
    /// Every unit.
    Wholly {
        /// Every reversal was a refund (not a return).
        refund_only: bool,
    },
}

impl Reversed {
    /// Summarises reversed units against ordered units.
    pub fn of(reversed_units: i64, total_units: i64, refund_only: bool) -> Self {
        if reversed_units <= 0 {
            Self::None
        } else if reversed_units >= total_units {
            Self::Wholly { refund_only }
        } else {
            Self::Partly { refund_only }
        }
    }
}

/// Where an order stands (DESIGN §4), derived from its facts and reversals
/// and never set directly. Stored and answered as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed; an online order waits for its payment.
    PendingPayment,
    /// Paid, not shipped yet.
    Paid,
    /// With the courier.
    Shipped,
    /// Delivered.
    Delivered,
    /// Some lines delivered.
    PartiallyDelivered,
    /// Delivered and its hold over.
    Settled,
    /// Cancelled (by an admin, or expired unpaid).
    Cancelled,
    /// Every unit returned.
    Returned,
    /// Some units returned.
    PartiallyReturned,
    /// Every unit refunded.
    Refunded,
    /// Some units refunded.
    PartiallyRefunded,
}

impl OrderStatus {
    /// Every status.
    pub const ALL: [Self; 11] = [
        Self::PendingPayment,
        Self::Paid,
        Self::Shipped,
        Self::Delivered,
        Self::PartiallyDelivered,
        Self::Settled,
        Self::Cancelled,
        Self::Returned,
        Self::PartiallyReturned,
        Self::Refunded,
        Self::PartiallyRefunded,
    ];

    /// The stored and answered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingPayment => "pending_payment",
            Self::Paid => "paid",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::PartiallyDelivered => "partially_delivered",
            Self::Settled => "settled",
            Self::Cancelled => "cancelled",
            Self::Returned => "returned",
            Self::PartiallyReturned => "partially_returned",
            Self::Refunded => "refunded",
            Self::PartiallyRefunded => "partially_refunded",
        }
    }

    /// The status of a stored name; `None` for a name we never write.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// A status equals its stored name.
impl PartialEq<&str> for OrderStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The status an order with these facts and reversals is in. A return or
/// refund outranks the delivery facts; cancellation outranks everything.
pub fn status(method: PaymentMethod, facts: Facts, reversed: Reversed) -> OrderStatus {
    use OrderStatus as S;
    if facts.cancelled {
        return S::Cancelled;
    }
    match reversed {
        Reversed::Wholly { refund_only: true } => return S::Refunded,
        Reversed::Wholly { refund_only: false } => return S::Returned,
        Reversed::Partly { refund_only: true } => return S::PartiallyRefunded,
        Reversed::Partly { refund_only: false } => return S::PartiallyReturned,
        Reversed::None => {}
    }
    if method == PaymentMethod::Online && !facts.paid {
        return S::PendingPayment;
    }
    // Delivered and its hold over: nothing about it is pending any more.
    if facts.settled && (facts.delivered || facts.partially_delivered) {
        return S::Settled;
    }
    // A partial delivery is the more specific report: it wins over `delivered`.
    if facts.partially_delivered {
        S::PartiallyDelivered
    } else if facts.delivered {
        S::Delivered
    } else if facts.shipped {
        S::Shipped
    } else if facts.paid {
        S::Paid
    } else {
        S::PendingPayment
    }
}

/// What a change of an order's facts causes, decided from its status
/// before and after: applied in one place, in this order, by the order's
/// persistence (`orders::facts`), which decides nothing itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effects {
    /// The new status, for the history (`None`: unchanged).
    pub history: Option<OrderStatus>,
    /// What the buyer's email says happened (`None`: no email).
    pub news: Option<&'static str>,
    /// Whether the store credit spent on the order comes back (the whole
    /// order refunded or returned).
    pub return_store_credit: bool,
    /// Whether to look whether the order became commissionable (it is
    /// not yet).
    pub check_commissionable: bool,
}

/// The effects of the order moving from status `before` to `after`;
/// `commissionable` is whether it already is.
pub fn effects(before: OrderStatus, after: OrderStatus, commissionable: bool) -> Effects {
    let changed = before != after;
    Effects {
        history: changed.then_some(after),
        news: if changed { news(after) } else { None },
        return_store_credit: matches!(after, OrderStatus::Refunded | OrderStatus::Returned),
        check_commissionable: !commissionable,
    }
}

/// What an order's email says when it reaches `status`, if anything.
fn news(status: OrderStatus) -> Option<&'static str> {
    use OrderStatus as S;
    Some(match status {
        S::Paid => "is paid: thank you",
        S::Shipped => "has been shipped",
        S::Delivered => "has been delivered",
        S::PartiallyDelivered => "has been delivered in part",
        S::Cancelled => "has been cancelled",
        S::Returned => "has been returned",
        S::PartiallyReturned => "has been returned in part",
        S::Refunded => "has been refunded",
        S::PartiallyRefunded => "has been refunded in part",
        S::PendingPayment | S::Settled => return None,
    })
}

/// True once the facts satisfy the plan's `credit_on`.
pub fn is_commissionable(facts: Facts, credit_on: CreditOn) -> bool {
    if facts.cancelled || !facts.paid {
        return false;
    }
    match credit_on {
        CreditOn::Paid => true,
        CreditOn::Delivered => facts.delivered || facts.partially_delivered,
    }
}

/// True when a return may still be accepted: within `window_days` of the
/// delivery (a return reported before any delivery is a failed delivery
/// coming back, always accepted).
pub fn return_window_open(
    delivered_at: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
    window_days: u32,
) -> bool {
    delivered_at.is_none_or(|d| now - d <= chrono::Duration::days(i64::from(window_days)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_status_change_is_recorded_and_told_once_and_a_whole_return_gives_the_store_credit_back() {
        use OrderStatus as S;
        let e = effects(S::PendingPayment, S::Paid, false);
        let told = Effects {
            history: Some(S::Paid),
            news: Some("is paid: thank you"),
            return_store_credit: false,
            check_commissionable: true,
        };
        assert_eq!(e, told);
        let quiet = Effects { history: None, news: None, return_store_credit: false, check_commissionable: false };
        assert_eq!(effects(S::Paid, S::Paid, true), quiet);
        assert_eq!(effects(S::Delivered, S::Settled, true).news, None, "settling sends no email");
        assert!(effects(S::Delivered, S::Returned, true).return_store_credit);
        assert!(!effects(S::Delivered, S::PartiallyReturned, true).return_store_credit);
        assert_eq!(effects(S::Delivered, S::PartiallyRefunded, true).news, Some("has been refunded in part"));
        for st in S::ALL {
            assert_eq!(S::parse(st.as_str()), Some(st));
            assert_eq!(serde_json::to_value(st).expect("json"), st.as_str());
        }
        assert_eq!(S::parse("lost"), None);
    }

    #[test]
    fn a_delivered_order_is_settled_once_its_hold_ends_and_a_later_return_still_shows() {
        let delivered = Facts { paid: true, delivered: true, ..Facts::default() };
        let settled = Facts { settled: true, ..delivered };
        assert_eq!(status(PaymentMethod::Cod, delivered, Reversed::None), "delivered");
        assert_eq!(status(PaymentMethod::Cod, settled, Reversed::None), "settled");
        assert_eq!(status(PaymentMethod::Cod, settled, Reversed::Wholly { refund_only: false }), "returned");
        // Credited on payment, held until before delivery: settled on delivery.
        let shipped = Facts { paid: true, shipped: true, settled: true, ..Facts::default() };
        assert_eq!(status(PaymentMethod::Online, shipped, Reversed::None), "shipped");
    }

    use super::*;
    use proptest::prelude::*;

    fn run(method: PaymentMethod, facts: &[OrderFact]) -> (Facts, Vec<Outcome>) {
        facts.iter().fold((Facts::default(), Vec::new()), |(f, mut out), fact| {
            let (next, o) = apply(method, f, *fact);
            out.push(o);
            (next, out)
        })
    }

    #[test]
    fn an_online_order_moves_forward_with_each_new_fact() {
        let (facts, outcomes) =
            run(PaymentMethod::Online, &[OrderFact::Paid, OrderFact::Shipped, OrderFact::Delivered]);
        assert_eq!(outcomes, vec![Outcome::Applied; 3]);
        assert_eq!(status(PaymentMethod::Online, facts, Reversed::None), "delivered");
    }

    #[test]
    fn delivered_before_paid_is_held_until_payment_arrives() {
        let (facts, outcomes) = run(PaymentMethod::Online, &[OrderFact::Delivered, OrderFact::Paid]);
        assert_eq!(outcomes, vec![Outcome::Held, Outcome::Applied]);
        assert_eq!(status(PaymentMethod::Online, facts, Reversed::None), "delivered");
        assert!(is_commissionable(facts, CreditOn::Delivered));
    }

    #[test]
    fn a_cod_delivery_is_also_its_payment() {
        let (facts, _) = run(PaymentMethod::Cod, &[OrderFact::Delivered]);
        assert!(facts.paid);
        assert!(is_commissionable(facts, CreditOn::Paid));
        assert_eq!(status(PaymentMethod::Cod, facts, Reversed::None), "delivered");
    }

    #[test]
    fn duplicates_and_regressions_change_nothing() {
        let (facts, outcomes) =
            run(PaymentMethod::Online, &[OrderFact::Paid, OrderFact::Delivered, OrderFact::Paid, OrderFact::Shipped]);
        assert_eq!(outcomes[2], Outcome::Duplicate);
        assert_eq!(outcomes[3], Outcome::Duplicate);
        assert_eq!(status(PaymentMethod::Online, facts, Reversed::None), "delivered");
    }

    #[test]
    fn a_failed_payment_leaves_the_order_unpaid() {
        let (facts, outcomes) = run(PaymentMethod::Online, &[OrderFact::PaymentFailed]);
        assert_eq!(outcomes, vec![Outcome::Ignored]);
        assert_eq!(status(PaymentMethod::Online, facts, Reversed::None), "pending_payment");
    }

    #[test]
    fn a_return_outranks_delivery_and_cancellation_outranks_everything() {
        let (facts, _) = run(PaymentMethod::Cod, &[OrderFact::Delivered]);
        assert_eq!(status(PaymentMethod::Cod, facts, Reversed::of(1, 3, false)), "partially_returned");
        assert_eq!(status(PaymentMethod::Cod, facts, Reversed::of(3, 3, false)), "returned");
        assert_eq!(status(PaymentMethod::Cod, facts, Reversed::of(3, 3, true)), "refunded");
        let (cancelled, _) = run(PaymentMethod::Online, &[OrderFact::Cancelled, OrderFact::Paid]);
        assert_eq!(status(PaymentMethod::Online, cancelled, Reversed::of(3, 3, false)), "cancelled");
        assert!(!is_commissionable(cancelled, CreditOn::Paid));
    }

    #[test]
    fn a_partial_delivery_makes_the_order_commissionable_and_a_cod_order_paid() {
        let (facts, _) = run(PaymentMethod::Cod, &[OrderFact::PartiallyDelivered]);
        assert!(facts.paid);
        assert!(is_commissionable(facts, CreditOn::Delivered));
        assert_eq!(status(PaymentMethod::Cod, facts, Reversed::None), "partially_delivered");
    }

    #[test]
    fn the_return_window_counts_from_delivery() {
        let delivered = chrono::DateTime::parse_from_rfc3339("2026-11-01T10:00:00Z").expect("time").to_utc();
        let day = chrono::Duration::days(1);
        assert!(return_window_open(Some(delivered), delivered + day * 15, 15));
        assert!(!return_window_open(Some(delivered), delivered + day * 15 + chrono::Duration::seconds(1), 15));
        assert!(return_window_open(None, delivered + day * 400, 15));
    }

    fn any_fact() -> impl Strategy<Value = OrderFact> {
        prop_oneof![
            Just(OrderFact::Paid),
            Just(OrderFact::PaymentFailed),
            Just(OrderFact::Shipped),
            Just(OrderFact::Delivered),
            Just(OrderFact::PartiallyDelivered)
        ]
    }

    proptest! {
        #[test]
        fn the_final_state_does_not_depend_on_arrival_order_or_repeats(
            facts in proptest::collection::vec(any_fact(), 0..12),
            cod in any::<bool>(),
        ) {
            let method = if cod { PaymentMethod::Cod } else { PaymentMethod::Online };
            let (a, _) = run(method, &facts);
            let mut reversed = facts.clone();
            reversed.reverse();
            let (b, _) = run(method, &reversed);
            let mut doubled = facts.clone();
            doubled.extend(facts.iter().copied());
            let (c, _) = run(method, &doubled);
            prop_assert_eq!(a, b);
            prop_assert_eq!(a, c);
        }
    }
}
