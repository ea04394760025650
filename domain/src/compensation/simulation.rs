//! Plan simulation: what a plan version (typically a draft) would have paid
//! on the orders credited in a time range, beside what was actually paid —
//! computed by the same cascade as real runs, in a read-only transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::compensation::cascade_inputs::{self, OrderHead};
use crate::compensation::plans;
use crate::error::{DomainError, DomainResult};
use crate::money::MONEY_SCALE;
use crate::rules::cascade;

/// The most orders one simulation may replay (it runs inside one request).
pub const MAX_ORDERS: i64 = 20_000;

/// The range to replay: orders that became commissionable in [from, to).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
}

/// Simulated and actual figures side by side.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    /// What the simulated plan would have paid.
    #[schema(value_type = crate::money::DecimalText)]
    pub simulated: Decimal,
    /// What was paid (as credited, before any later return).
    #[schema(value_type = crate::money::DecimalText)]
    pub actual: Decimal,
    /// simulated − actual.
    #[schema(value_type = crate::money::DecimalText)]
    pub difference: Decimal,
}

impl Default for Figures {
    fn default() -> Self {
        let zero = Decimal::new(0, MONEY_SCALE);
        Figures { simulated: zero, actual: zero, difference: zero }
    }
}

impl Figures {
    fn add(&mut self, simulated: Decimal, actual: Decimal) {
        self.simulated += simulated;
        self.actual += actual;
        self.difference = self.simulated - self.actual;
        // Decimal addition of a zero keeps the other operand's scale: show
        // every figure in the minor unit.
        for d in [&mut self.simulated, &mut self.actual, &mut self.difference] {
            d.rescale(MONEY_SCALE);
        }
    }
}

/// One member's figures.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MemberFigures {
    /// The member.
    pub member_id: Uuid,
    /// Their figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// The answer of a simulation.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Simulation {
    /// The simulated plan version.
    pub plan_id: Uuid,
    /// Its version number.
    pub plan_version: i32,
    /// The range.
    pub from: DateTime<Utc>,
    /// The range.
    pub to: DateTime<Utc>,
    /// Orders replayed.
    pub orders: usize,
    /// Commissions in total.
    pub total: Figures,
    /// Shares forfeited (breakage) in total.
    pub breakage: Figures,
    /// Per member who earned (or would have), by member id.
    pub members: Vec<MemberFigures>,
}

/// Replays the orders credited in `range` under plan `plan_id`. The caller
/// should pass a read-only transaction: nothing here writes.
pub async fn simulate(conn: &mut PgConnection, plan_id: Uuid, range: &Range) -> DomainResult<Simulation> {
    if range.from >= range.to {
        return Err(DomainError::invalid("to", "must be after from"));
    }
    let plan = plans::get(conn, plan_id).await?;
    let orders = sqlx::query!(
        "SELECT id, invoice_no, buyer_id, referrer_id, pickup_point_id, commissionable_at AS \"credited_at!\"
           FROM orders WHERE commissionable_at >= $1 AND commissionable_at < $2 AND plan_id IS NOT NULL
          ORDER BY commissionable_at, id LIMIT $3",
        range.from,
        range.to,
        MAX_ORDERS + 1
    )
    .fetch_all(&mut *conn)
    .await?;
    if orders.len() as i64 > MAX_ORDERS {
        return Err(DomainError::invalid("to", format!("the range holds more than {MAX_ORDERS} orders: narrow it")));
    }
    let rules = plan.rules();
    let mut members: BTreeMap<Uuid, Figures> = BTreeMap::new();
    let mut total = Figures::default();
    let mut breakage = Figures::default();
    for o in &orders {
        let head = OrderHead {
            order_id: o.id,
            invoice_no: o.invoice_no.clone(),
            buyer_id: o.buyer_id,
            referrer_id: o.referrer_id,
            pickup_point_id: o.pickup_point_id,
            credited_at: o.credited_at,
        };
        let inputs = cascade_inputs::load(conn, &head, &plan).await?;
        let result = cascade::cascade(&rules, &inputs);
        for c in &result.commissions {
            members.entry(c.beneficiary_id).or_default().add(c.amount.get(), Decimal::ZERO);
            total.add(c.amount.get(), Decimal::ZERO);
        }
        breakage.add(result.forfeits.iter().map(|f| f.amount.get()).sum(), Decimal::ZERO);
    }
    let ids: Vec<Uuid> = orders.iter().map(|o| o.id).collect();
    let actual = sqlx::query!(
        r#"SELECT beneficiary_id, sum(amount) AS "amount!" FROM commissions WHERE order_id = ANY($1)
            GROUP BY beneficiary_id"#,
        &ids
    )
    .fetch_all(&mut *conn)
    .await?;
    for a in actual {
        members.entry(a.beneficiary_id).or_default().add(Decimal::ZERO, a.amount);
        total.add(Decimal::ZERO, a.amount);
    }
    let actual_breakage = sqlx::query_scalar!(
        r#"SELECT coalesce(sum(b.amount), 0) AS "amount!" FROM commission_breakage b
             JOIN order_lines l ON l.id = b.order_line_id WHERE l.order_id = ANY($1)"#,
        &ids
    )
    .fetch_one(conn)
    .await?;
    breakage.add(Decimal::ZERO, actual_breakage);
    Ok(Simulation {
        plan_id: plan.id,
        plan_version: plan.version,
        from: range.from,
        to: range.to,
        orders: orders.len(),
        total,
        breakage,
        members: members.into_iter().map(|(member_id, figures)| MemberFigures { member_id, figures }).collect(),
    })
}
