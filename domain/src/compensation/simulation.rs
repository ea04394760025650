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
use crate::jobs::progress::Progress;
use crate::money::MONEY_SCALE;
use crate::rules::cascade::{self, PlanRules};

/// Orders replayed per page: a long simulation's progress moves a page at
/// a time, and no more than a page of orders is held at once.
const PAGE: i64 = 1_000;

/// The most members a simulation run as a job keeps in its stored result:
/// those whose figures changed most (the totals cover everyone).
pub const KEPT_MEMBERS: usize = 10_000;

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

/// How many orders a simulation of `range` replays (those credited in it
/// under a plan), so a caller can choose to replay them now or in a job.
pub async fn orders_in(conn: &mut PgConnection, range: &Range) -> DomainResult<i64> {
    range.check()?;
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM orders
            WHERE commissionable_at >= $1 AND commissionable_at < $2 AND plan_id IS NOT NULL"#,
        range.from,
        range.to
    )
    .fetch_one(conn)
    .await?)
}

impl Range {
    fn check(&self) -> DomainResult<()> {
        if self.from >= self.to {
            return Err(DomainError::invalid("to", "must be after from"));
        }
        Ok(())
    }
}

/// Replays the orders credited in `range` under plan `plan_id`, a page at
/// a time, reporting orders done to `progress`. The caller should pass a
/// read-only transaction: nothing here writes.
pub async fn simulate(
    conn: &mut PgConnection,
    plan_id: Uuid,
    range: &Range,
    progress: &mut Progress,
) -> DomainResult<Simulation> {
    let total = orders_in(conn, range).await?;
    let plan = plans::get(conn, plan_id).await?;
    let rules = plan.rules();
    let mut replay = Replay::default();
    let mut after: Option<(DateTime<Utc>, Uuid)> = None;
    progress.report(0, Some(total)).await?;
    loop {
        let page = page_after(conn, range, after).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.credited_at, last.order_id));
        replay.orders(conn, &plan, &rules, &page).await?;
        progress.report(replay.orders, Some(total.max(replay.orders))).await?;
    }
    Ok(Simulation {
        plan_id: plan.id,
        plan_version: plan.version,
        from: range.from,
        to: range.to,
        orders: replay.orders as usize,
        total: replay.total,
        breakage: replay.breakage,
        members: replay.members.into_iter().map(|(member_id, figures)| MemberFigures { member_id, figures }).collect(),
    })
}

impl Simulation {
    /// Keeps the `n` members whose simulated pay differs most from what was
    /// paid (by member id again); the totals still cover every member.
    /// Returns how many members there were.
    pub fn keep_members(&mut self, n: usize) -> usize {
        let all = self.members.len();
        if all > n {
            self.members.sort_by_key(|m| std::cmp::Reverse(m.figures.difference.abs()));
            self.members.truncate(n);
            self.members.sort_by_key(|m| m.member_id);
        }
        all
    }
}

/// The next page of orders credited in `range`, after `after` in the order
/// (credited at, id).
async fn page_after(
    conn: &mut PgConnection,
    range: &Range,
    after: Option<(DateTime<Utc>, Uuid)>,
) -> DomainResult<Vec<OrderHead>> {
    let (at, id) = after.map_or((None, None), |(at, id)| (Some(at), Some(id)));
    let rows = sqlx::query!(
        r#"SELECT id, invoice_no, buyer_id, referrer_id, pickup_point_id, commissionable_at AS "credited_at!"
             FROM orders
            WHERE commissionable_at >= $1 AND commissionable_at < $2 AND plan_id IS NOT NULL
              AND ($3::timestamptz IS NULL OR (commissionable_at, id) > ($3, $4::uuid))
            ORDER BY commissionable_at, id LIMIT $5"#,
        range.from,
        range.to,
        at,
        id,
        PAGE
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|o| OrderHead {
            order_id: o.id,
            invoice_no: o.invoice_no,
            buyer_id: o.buyer_id,
            referrer_id: o.referrer_id,
            pickup_point_id: o.pickup_point_id,
            credited_at: o.credited_at,
        })
        .collect())
}

/// The figures gathered so far.
#[derive(Default)]
struct Replay {
    orders: i64,
    /// The members' places read so far (each member once per replay).
    tree: crate::network::members::Placements,
    members: BTreeMap<Uuid, Figures>,
    total: Figures,
    breakage: Figures,
}

impl Replay {
    /// Replays a page of orders by the same cascade as real runs, and adds
    /// what was actually paid on them.
    async fn orders(
        &mut self,
        conn: &mut PgConnection,
        plan: &plans::Plan,
        rules: &PlanRules,
        page: &[OrderHead],
    ) -> DomainResult<()> {
        for inputs in cascade_inputs::load_page(conn, page, plan, &mut self.tree).await? {
            let result = cascade::cascade(rules, &inputs);
            for c in &result.commissions {
                self.members.entry(c.beneficiary_id).or_default().add(c.amount.get(), Decimal::ZERO);
                self.total.add(c.amount.get(), Decimal::ZERO);
            }
            self.breakage.add(result.forfeits.iter().map(|f| f.amount.get()).sum(), Decimal::ZERO);
        }
        let ids: Vec<Uuid> = page.iter().map(|o| o.order_id).collect();
        let actual = sqlx::query!(
            r#"SELECT beneficiary_id, sum(amount) AS "amount!" FROM commissions WHERE order_id = ANY($1)
                GROUP BY beneficiary_id"#,
            &ids
        )
        .fetch_all(&mut *conn)
        .await?;
        for a in actual {
            self.members.entry(a.beneficiary_id).or_default().add(Decimal::ZERO, a.amount);
            self.total.add(Decimal::ZERO, a.amount);
        }
        let actual_breakage = sqlx::query_scalar!(
            r#"SELECT coalesce(sum(b.amount), 0) AS "amount!" FROM commission_breakage b
                 JOIN order_lines l ON l.id = b.order_line_id WHERE l.order_id = ANY($1)"#,
            &ids
        )
        .fetch_one(conn)
        .await?;
        self.breakage.add(Decimal::ZERO, actual_breakage);
        self.orders += page.len() as i64;
        Ok(())
    }
}
