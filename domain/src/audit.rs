//! The audit (DESIGN §10): checks over the whole database that must hold
//! whatever happened — retries, crashes, duplicated or reordered events.
//! Served by `GET /v1/admin/audit` and `haat-worker audit`; each check
//! lists every violation it finds.

pub mod rerun;

use serde::Serialize;
use sqlx::PgConnection;

use crate::error::DomainResult;
use crate::ledger;
use crate::marketplace::escrow;
use crate::rewards::campaigns;

/// One check and what violates it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
        check("ledger_summary_matches_postings", summary_differences(conn).await?),
        check("commissions_have_their_entries", commissions_without_entries(conn).await?),
        check("wholly_reversed_orders_net_to_zero", reversed_orders_not_net_zero(conn).await?),
        check("negative_available_only_by_clawback", negative_without_clawback(conn).await?),
        check("campaign_payouts_within_terms", campaigns::audit(conn).await?),
        check("held_money_has_a_due_release", stranded_holds(conn).await?),
        check("no_idempotency_key_used_twice", keys_used_twice(conn).await?),
        check("no_fact_applied_twice", facts_applied_twice(conn).await?),
        check("commissions_reproducible_from_their_inputs", commissions_not_reproducible(conn).await?),
        check("commissions_match_a_rerun_of_the_cascade", rerun::differences(conn).await?),
        check("seller_lines_have_their_credit", escrow::lines_without_credit(conn).await?),
        check("seller_credits_have_their_entries", escrow::credits_without_entries(conn).await?),
        check("seller_balances_match_their_shares", escrow::balances_not_matching_shares(conn).await?),
    ])
}

/// The hourly summary the finance reports read (`ledger_hours`) sums
/// exactly the members' postings: each row against a recomputation, and no
/// posting left out (at most 100 differences are listed).
async fn summary_differences(conn: &mut PgConnection) -> DomainResult<Vec<String>> {
    Ok(sqlx::query_scalar!(
        r#"SELECT concat_ws(' ', member_id, account, to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24"Z"'),
                            entry_kind, nullif(commission_kind, ''), 'level ' || level, ':',
                            'summary', coalesce(s.amount::text, 'none'), coalesce(s.rounding::text, ''),
                            'postings', coalesce(p.amount::text, 'none'), coalesce(p.rounding::text, '')) AS "v!"
             FROM ledger_hours s
             FULL JOIN (SELECT member_id, account, hour, entry_kind, commission_kind, level,
                               sum(amount) AS amount, sum(rounding) AS rounding, count(*) AS postings
                          FROM member_postings
                         GROUP BY member_id, account, hour, entry_kind, commission_kind, level) p
            USING (member_id, account, hour, entry_kind, commission_kind, level)
            WHERE s.amount IS DISTINCT FROM p.amount OR s.rounding IS DISTINCT FROM p.rounding
               OR s.postings IS DISTINCT FROM p.postings
            ORDER BY 1 LIMIT 100"#
    )
    .fetch_all(conn)
    .await?)
}

/// No business idempotency key carries two journal entries and no provider
/// event identity two stored events (DESIGN §10.2). Unique indexes prevent
/// both; the audit reports it should one ever be dropped or bypassed.
async fn keys_used_twice(conn: &mut PgConnection) -> DomainResult<Vec<String>> {
    Ok(sqlx::query_scalar!(
        r#"SELECT v AS "v!" FROM (
               SELECT 'journal key ' || idempotency_key || ' used by ' || count(*) || ' entries' AS v
                 FROM journal_entries GROUP BY idempotency_key HAVING count(*) > 1
               UNION ALL
               SELECT 'webhook ' || provider || ' ' || dedupe_key || ' stored ' || count(*) || ' times'
                 FROM webhook_events GROUP BY provider, dedupe_key HAVING count(*) > 1
           ) t ORDER BY 1"#
    )
    .fetch_all(conn)
    .await?)
}

/// A fact changes an order once: no order has the same fact applied twice
/// (a partial return or refund is applied once per reversal recorded), and
/// no webhook event applied more than one fact (DESIGN §10.2).
async fn facts_applied_twice(conn: &mut PgConnection) -> DomainResult<Vec<String>> {
    Ok(sqlx::query_scalar!(
        r#"SELECT v AS "v!" FROM (
               SELECT o.invoice_no || ': ' || e.fact || ' applied ' || count(*) || ' times' AS v
                 FROM order_events e JOIN orders o ON o.id = e.order_id
                WHERE e.outcome = 'applied' AND e.fact NOT IN ('return', 'refund')
                GROUP BY o.invoice_no, e.fact HAVING count(*) > 1
               UNION ALL
               -- Partial returns and refunds are applied once each: as many
               -- applied as recorded.
               SELECT o.invoice_no || ': ' || f.fact || ' applied ' || f.applied || ' times for '
                      || (SELECT count(*) FROM order_reversals r WHERE r.order_id = o.id AND r.kind = f.fact)
                      || ' recorded'
                 FROM (SELECT order_id, fact, count(*) AS applied FROM order_events
                        WHERE outcome = 'applied' AND fact IN ('return', 'refund') GROUP BY order_id, fact) f
                 JOIN orders o ON o.id = f.order_id
                WHERE f.applied <> (SELECT count(*) FROM order_reversals r WHERE r.order_id = o.id AND r.kind = f.fact)
               UNION ALL
               SELECT e.source || ' applied ' || count(*) || ' facts'
                 FROM order_events e
                WHERE e.outcome = 'applied' AND starts_with(e.source, 'webhook:') GROUP BY e.source HAVING count(*) > 1
           ) t ORDER BY 1"#
    )
    .fetch_all(conn)
    .await?)
}

/// Every commission line is what its stored inputs make it (DESIGN §10.3):
/// the basis × the rate rounded toward zero to the minor unit (a capped
/// order's lines: that amount × the stored cap factor, rounded again), and
/// for an uncapped line what rounding kept back is exactly the rest.
async fn commissions_not_reproducible(conn: &mut PgConnection) -> DomainResult<Vec<String>> {
    Ok(sqlx::query_scalar!(
        r#"SELECT 'commission ' || id || ' is ' || amount || ' but its inputs make ' || expected AS "v!"
             FROM (SELECT id, amount, rounding_residue, basis, rate, cap_factor,
                          CASE WHEN cap_factor IS NULL THEN trunc(basis * rate, 2)
                               ELSE trunc(trunc(basis * rate, 2) * cap_factor, 2) END AS expected
                     FROM commissions) c
            WHERE amount <> expected
               OR (cap_factor IS NULL AND amount + rounding_residue <> basis * rate)
            ORDER BY id"#
    )
    .fetch_all(conn)
    .await?)
}

/// How long past its release time held money may wait for its job (a busy
/// queue, a worker restarting) before it counts as stranded.
pub const STRANDED_GRACE_SECS: i64 = 300;

/// Held money (a commission, a buyer's reward, a campaign's cash) whose
/// release time is more than [`STRANDED_GRACE_SECS`] past has a job that
/// will release it and is due now: waiting, running, or failed with
/// attempts left. Otherwise nothing will ever release it — stranded
/// money, as wrong as an unbalanced entry. The job table is the queue
/// library's, so this statement is checked at run time.
async fn stranded_holds(conn: &mut PgConnection) -> DomainResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        r#"WITH held AS (
               SELECT 'commission ' || id AS what, release_at, 'haat.holds' AS queue,
                      'release_hold:' || order_id || ':' AS key_prefix
                 FROM commissions WHERE status = 'pending' AND amount > reversed_amount
               UNION ALL
               SELECT 'reward of order line ' || order_line_id, release_at, 'haat.holds',
                      'release_hold:' || order_id || ':'
                 FROM order_rewards WHERE status = 'pending' AND amount > reversed_amount
               UNION ALL
               SELECT 'seller share of order line ' || order_line_id, release_at, 'haat.holds',
                      'release_hold:' || order_id || ':'
                 FROM seller_credits WHERE status = 'pending' AND amount > reversed_amount AND release_at IS NOT NULL
               UNION ALL
               SELECT 'cashback of campaign ' || p.campaign_id || ' on order line ' || p.order_line_id,
                      s.release_at, 'haat.campaigns', 'campaign_release:' || p.campaign_id
                 FROM campaign_payouts p JOIN campaign_settlements s ON s.campaign_id = p.campaign_id
                WHERE p.status = 'held' AND p.amount > p.reversed_amount AND s.release_at IS NOT NULL
           )
           SELECT h.what || ' was due ' || h.release_at || ' and no job will release it'
             FROM held h
            WHERE h.release_at < now() - make_interval(secs => $1)
              AND NOT EXISTS (
                    SELECT 1 FROM apalis.jobs j
                     WHERE j.job_type = h.queue AND starts_with(j.idempotency_key, h.key_prefix)
                       AND j.run_at <= now()
                       AND (j.status IN ('Pending', 'Queued', 'Running')
                            OR (j.status = 'Failed' AND j.attempts < j.max_attempts)))
            ORDER BY 1"#,
    )
    .bind(STRANDED_GRACE_SECS as f64)
    .fetch_all(conn)
    .await?)
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
/// clawed back (or a seller was charged a late line's penalty).
async fn negative_without_clawback(conn: &mut PgConnection) -> DomainResult<Vec<String>> {
    Ok(sqlx::query_scalar!(
        r#"SELECT coalesce('member ' || a.member_id, 'seller ' || a.seller_id) || ' has ' || a.balance
                  || ' available and no clawback' AS "v!"
             FROM accounts a
            WHERE a.kind = 'available' AND a.balance < 0 AND (a.member_id IS NOT NULL OR a.seller_id IS NOT NULL)
              AND NOT EXISTS (SELECT 1 FROM postings p JOIN journal_entries e ON e.id = p.entry_id
                               WHERE p.account_id = a.id AND p.amount < 0
                                 AND e.kind IN ('clawback', 'cashback_clawback', 'order_cashback_clawback',
                                                'seller_credit_clawback', 'seller_penalty'))
            ORDER BY 1"#
    )
    .fetch_all(conn)
    .await?)
}
