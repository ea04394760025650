//! The cascade re-run (DESIGN §10.3): every commissionable order's lines
//! are what the pure cascade makes of the inputs stored when it ran. The
//! arithmetic check beside it catches an amount that does not follow from
//! its own row; this one catches a row whose basis, rate, beneficiary,
//! level, rule or qualification was changed consistently, a row added or
//! removed, and a plan version edited after it paid.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::compensation::plans;
use crate::error::DomainResult;
use crate::rules::cascade::{self, Commission, OrderInputs, PlanRules};

/// Orders re-run per batch: bounded memory whatever the database holds.
pub const BATCH: i64 = 500;

/// Decimal places the columns keep of the residue and the cap factor
/// (`numeric(24, 6)`, `numeric(12, 10)`): a re-run is compared as stored.
const RESIDUE_SCALE: u32 = 6;
const CAP_SCALE: u32 = 10;

/// A computed value as its column keeps it (Postgres rounds half away from zero).
fn as_stored(d: Decimal, scale: u32) -> Decimal {
    d.round_dp_with_strategy(scale, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

/// One commission line as compared: what identifies it, then what it is.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    key: (Uuid, Uuid, String, i32),
    physical_level: i32,
    basis: Decimal,
    rate: Decimal,
    rule: String,
    amount: Decimal,
    rounding_residue: Decimal,
    cap_factor: Option<Decimal>,
    qualification: Value,
}

impl Line {
    fn made(c: &Commission) -> DomainResult<Self> {
        Ok(Self {
            key: (c.line_id, c.beneficiary_id, c.kind.as_str().to_owned(), c.paid_level as i32),
            physical_level: c.physical_level as i32,
            basis: c.basis.get(),
            rate: c.rate.get(),
            rule: c.rule.clone(),
            amount: c.amount.get(),
            rounding_residue: as_stored(c.rounding_residue, RESIDUE_SCALE),
            cap_factor: c.cap_factor.map(|f| as_stored(f, CAP_SCALE)),
            qualification: serde_json::to_value(&c.qualification).map_err(anyhow::Error::from)?,
        })
    }

    fn describe(&self) -> String {
        let (line, beneficiary, kind, paid_level) = &self.key;
        let (basis, amount) = (self.basis, self.amount);
        let rate = crate::money::format(self.rate, crate::money::RATE_SCALE);
        format!("{kind} commission (level {paid_level}) on line {line} to {beneficiary}: {basis} × {rate} = {amount}")
    }
}

/// Every difference between the stored commission lines and a re-run of
/// the cascade on the stored inputs, over the whole database in batches.
pub async fn differences(conn: &mut PgConnection) -> DomainResult<Vec<String>> {
    let mut rules: HashMap<Uuid, PlanRules> = HashMap::new();
    let mut violations = Vec::new();
    let mut after = Uuid::nil();
    loop {
        let batch = sqlx::query!(
            "SELECT order_id, plan_id, inputs FROM cascade_inputs WHERE order_id > $1 ORDER BY order_id LIMIT $2",
            after,
            BATCH
        )
        .fetch_all(&mut *conn)
        .await?;
        let Some(last) = batch.last() else { break };
        after = last.order_id;
        let ids: Vec<Uuid> = batch.iter().map(|r| r.order_id).collect();
        let mut stored = stored_lines(conn, &ids).await?;
        for row in &batch {
            if let std::collections::hash_map::Entry::Vacant(slot) = rules.entry(row.plan_id) {
                slot.insert(plans::get(conn, row.plan_id).await?.rules());
            }
            let actual = stored.remove(&row.order_id).unwrap_or_default();
            let order = row.order_id;
            match serde_json::from_value::<OrderInputs>(row.inputs.clone()) {
                Ok(inputs) => {
                    compare(order, &cascade::cascade(&rules[&row.plan_id], &inputs), actual, &mut violations)?
                }
                Err(e) => violations.push(format!("order {order}: its stored cascade inputs do not read: {e}")),
            }
        }
        if (batch.len() as i64) < BATCH {
            break;
        }
    }
    Ok(violations)
}

/// Adds a line per difference of one order.
fn compare(
    order: Uuid,
    rerun: &cascade::CascadeResult,
    mut actual: Vec<Line>,
    violations: &mut Vec<String>,
) -> DomainResult<()> {
    let mut expected = rerun.commissions.iter().map(Line::made).collect::<DomainResult<Vec<_>>>()?;
    expected.sort_by(|a, b| a.key.cmp(&b.key));
    actual.sort_by(|a, b| a.key.cmp(&b.key));
    for e in &expected {
        match actual.iter().find(|a| a.key == e.key) {
            None => violations.push(format!("order {order}: the cascade makes {} but it is not stored", e.describe())),
            Some(a) if a != e => violations.push(format!(
                "order {order}: stored {} but the cascade makes {}",
                a.describe(),
                e.describe()
            )),
            Some(_) => {}
        }
    }
    for a in actual.iter().filter(|a| expected.iter().all(|e| e.key != a.key)) {
        violations.push(format!("order {order}: stored {} is not what the cascade makes", a.describe()));
    }
    Ok(())
}

/// The stored commission lines of the orders, by order.
async fn stored_lines(conn: &mut PgConnection, orders: &[Uuid]) -> DomainResult<HashMap<Uuid, Vec<Line>>> {
    let rows = sqlx::query!(
        "SELECT order_id, order_line_id, beneficiary_id, kind, physical_level, paid_level, basis, rate, rule,
                amount, rounding_residue, cap_factor, qualification
           FROM commissions WHERE order_id = ANY($1)",
        orders
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut by_order: HashMap<Uuid, Vec<Line>> = HashMap::new();
    for r in rows {
        by_order.entry(r.order_id).or_default().push(Line {
            key: (r.order_line_id, r.beneficiary_id, r.kind, r.paid_level),
            physical_level: r.physical_level,
            basis: r.basis,
            rate: r.rate,
            rule: r.rule,
            amount: r.amount,
            rounding_residue: r.rounding_residue,
            cap_factor: r.cap_factor,
            qualification: r.qualification,
        });
    }
    Ok(by_order)
}
