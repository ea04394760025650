//! The order state machine, built on facts rather than transitions: each
//! provider event establishes a fact (paid, shipped, delivered, cancelled)
//! once, and the status is derived from the facts present. Facts that arrive
//! twice or out of order therefore never move an order backwards, and a fact
//! that arrives early (delivered before paid) is kept and takes effect as
//! soon as the fact it waits for arrives.

use serde::{Deserialize, Serialize};

/// How the buyer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl OrderFact {
    /// The name recorded in the order's event log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::PaymentFailed => "payment_failed",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
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
    /// Cancelled before shipping.
    pub cancelled: bool,
}

/// What applying a fact did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

/// When the plan counts an order as commissionable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
        OrderFact::Delivered => {
            next.delivered = true;
            // Delivery implies it was shipped; for cod the collection is the payment.
            next.shipped = true;
            if method == PaymentMethod::Cod {
                next.paid = true;
            }
        }
    }
    if next == facts {
        return (facts, Outcome::Duplicate);
    }
    let outcome = if status(method, next) == status(method, facts) { Outcome::Held } else { Outcome::Applied };
    (next, outcome)
}

/// The status an order with these facts is in.
pub fn status(method: PaymentMethod, facts: Facts) -> &'static str {
    if facts.cancelled {
        return "cancelled";
    }
    if method == PaymentMethod::Online && !facts.paid {
        return "pending_payment";
    }
    if facts.delivered {
        "delivered"
    } else if facts.shipped {
        "shipped"
    } else if facts.paid {
        "paid"
    } else {
        "pending_payment"
    }
}

/// True once the facts satisfy the plan's `credit_on`.
pub fn is_commissionable(facts: Facts, credit_on: CreditOn) -> bool {
    if facts.cancelled || !facts.paid {
        return false;
    }
    match credit_on {
        CreditOn::Paid => true,
        CreditOn::Delivered => facts.delivered,
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(status(PaymentMethod::Online, facts), "delivered");
    }

    #[test]
    fn delivered_before_paid_is_held_until_payment_arrives() {
        let (facts, outcomes) = run(PaymentMethod::Online, &[OrderFact::Delivered, OrderFact::Paid]);
        assert_eq!(outcomes, vec![Outcome::Held, Outcome::Applied]);
        assert_eq!(status(PaymentMethod::Online, facts), "delivered");
        assert!(is_commissionable(facts, CreditOn::Delivered));
    }

    #[test]
    fn a_cod_delivery_is_also_its_payment() {
        let (facts, _) = run(PaymentMethod::Cod, &[OrderFact::Delivered]);
        assert!(facts.paid);
        assert!(is_commissionable(facts, CreditOn::Paid));
        assert_eq!(status(PaymentMethod::Cod, facts), "delivered");
    }

    #[test]
    fn duplicates_and_regressions_change_nothing() {
        let (facts, outcomes) =
            run(PaymentMethod::Online, &[OrderFact::Paid, OrderFact::Delivered, OrderFact::Paid, OrderFact::Shipped]);
        assert_eq!(outcomes[2], Outcome::Duplicate);
        assert_eq!(outcomes[3], Outcome::Duplicate);
        assert_eq!(status(PaymentMethod::Online, facts), "delivered");
    }

    #[test]
    fn a_failed_payment_leaves_the_order_unpaid() {
        let (facts, outcomes) = run(PaymentMethod::Online, &[OrderFact::PaymentFailed]);
        assert_eq!(outcomes, vec![Outcome::Ignored]);
        assert_eq!(status(PaymentMethod::Online, facts), "pending_payment");
    }

    fn any_fact() -> impl Strategy<Value = OrderFact> {
        prop_oneof![
            Just(OrderFact::Paid),
            Just(OrderFact::PaymentFailed),
            Just(OrderFact::Shipped),
            Just(OrderFact::Delivered)
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
