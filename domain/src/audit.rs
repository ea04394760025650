//! The audit (DESIGN §10): checks over the whole database that must hold
//! whatever happened — retries, crashes, duplicated or reordered events.
//! Served by `GET /v1/admin/audit` and `haat-worker audit`; each check
//! lists every violation it finds.

use serde::Serialize;
use sqlx::PgConnection;

use crate::campaigns;
use crate::error::DomainResult;
use crate::ledger;

/// One check and what violates it.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What is checked.
    pub name: &'static str,
    /// Whether it holds.
    pub ok: bool,
    /// One line per violation.
    pub violations: Vec<String>,
}

fn check(name: &'static str, violations: Vec<String>) -> Check {
    Check { name, ok: violations.is_empty(), violations }
}

/// Runs every check.
pub async fn run(conn: &mut PgConnection) -> DomainResult<Vec<Check>> {
    let (unbalanced, drifted) = ledger::audit(&mut *conn).await?;
    Ok(vec![
        check("journal_entries_sum_to_zero", unbalanced),
        check("cached_balances_match_postings", drifted),
        check("commissions_have_their_entries", commissions_without_entries(conn).await?),
        check("wholly_reversed_orders_net_to_zero", reversed_orders_not_net_zero(conn).await?),
        check("negative_available_only_by_clawback", negative_without_clawback(conn).await?),
        check("campaign_payouts_within_terms", campaigns::audit(conn).await?),
    ])
}

/// Every commission line has the journal entry that paid it.
async fn commissions_without_entries(conn: &mut PgConnection) -> DomainResult<Vec<String>> {
    Ok(sqlx::query_scalar!(
        r#"SELECT 'commission ' || c.id || ' has no ledger entry' AS "v!"
             FROM commissions c
            WHERE NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.kind = 'commission' AND e.reference = c.id::text)
            ORDER BY c.id"#
    )
    .fetch_all(conn)
    .await?)
}

/// An order whose every unit came back (returned, refunded, cancelled) has
/// paid nothing that stayed paid: its commissions and the buyer's instant
/// rewards are wholly reversed, and its volume nets to zero.
async fn reversed_orders_not_net_zero(conn: &mut PgConnection) -> DomainResult<Vec<String>> {
    Ok(sqlx::query_scalar!(
        r#"WITH gone AS (
               SELECT o.id, o.invoice_no FROM orders o
                WHERE o.cascaded_at IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id AND l.reversed_quantity < l.quantity)
           )
           SELECT g.invoice_no || ': ' || v.what AS "v!"
             FROM gone g
            CROSS JOIN LATERAL (VALUES
                  ((SELECT 'commissions keep ' || sum(amount - reversed_amount) FROM commissions
                     WHERE order_id = g.id HAVING sum(amount - reversed_amount) <> 0)),
                  ((SELECT 'rewards keep ' || sum(amount - reversed_amount) FROM order_rewards
                     WHERE order_id = g.id HAVING sum(amount - reversed_amount) <> 0)),
                  ((SELECT 'volume keeps ' || sum(pv) || ' PV' FROM volume_entries
                     WHERE order_id = g.id HAVING sum(pv) <> 0 OR sum(bv) <> 0))
            ) AS v (what)
            WHERE v.what IS NOT NULL
            ORDER BY 1"#
    )
    .fetch_all(conn)
    .await?)
}

/// Available cash goes below zero only when something already released was
/// clawed back.
async fn negative_without_clawback(conn: &mut PgConnection) -> DomainResult<Vec<String>> {
    Ok(sqlx::query_scalar!(
        r#"SELECT 'member ' || a.member_id || ' has ' || a.balance || ' available and no clawback' AS "v!"
             FROM accounts a
            WHERE a.kind = 'available' AND a.balance < 0
              AND NOT EXISTS (SELECT 1 FROM postings p JOIN journal_entries e ON e.id = p.entry_id
                               WHERE p.account_id = a.id AND p.amount < 0
                                 AND e.kind IN ('clawback', 'cashback_clawback', 'order_cashback_clawback'))
            ORDER BY a.member_id"#
    )
    .fetch_all(conn)
    .await?)
}
