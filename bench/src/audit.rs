//! The audit over many cascaded orders: seeds commissionable orders, runs
//! the real cascade on each (four connections at a time), then times the
//! whole audit and its cascade re-run alone (DESIGN §10.3).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::Utc;
use haat_domain::audit;
use haat_domain::compensation::commissions;
use haat_domain::seed;
use sqlx::PgPool;
use uuid::Uuid;

use crate::CURRENCY;

/// Connections cascading the seeded orders at once.
const CASCADERS: usize = 4;

/// What the audit phase measured.
pub struct AuditFigures {
    /// Orders cascaded and audited.
    pub orders: usize,
    /// Commission lines they made.
    pub lines: i64,
    /// Cascading them all.
    pub cascade: Duration,
    /// The whole audit (every check) over the database.
    pub audit: Duration,
    /// The re-run of the cascade alone.
    pub rerun: Duration,
    /// Checks that failed (0 on a sound database).
    pub failed: usize,
}

/// Seeds `n` commissionable orders of `product` by random members, cascades
/// them, and times the audit.
pub async fn run(pool: &PgPool, everyone: &[Uuid], n: usize, product: Uuid, plan: Uuid) -> Result<AuditFigures> {
    let purchases = crate::random_purchases(everyone, n, 13, Utc::now() - chrono::Duration::hours(1));
    let mut tx = pool.begin().await?;
    let orders =
        Arc::new(seed::credited_orders(&mut tx, product, plan, &purchases, chrono_tz::UTC, CURRENCY, false).await?);
    tx.commit().await?;
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..CASCADERS)
        .map(|_| {
            let (pool, orders, next) = (pool.clone(), orders.clone(), next.clone());
            tokio::spawn(async move {
                while let Some(order) = orders.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let mut tx = pool.begin().await?;
                    commissions::cascade_commission(&mut tx, *order, CURRENCY, &Default::default()).await?;
                    tx.commit().await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let cascade = started.elapsed();
    sqlx::query("ANALYZE").execute(pool).await?;
    let lines: i64 = sqlx::query_scalar("SELECT count(*) FROM commissions").fetch_one(pool).await?;
    let mut conn = pool.acquire().await?;
    let started = Instant::now();
    let checks = audit::run(&mut conn).await?;
    let audit = started.elapsed();
    let started = Instant::now();
    audit::rerun::differences(&mut conn).await?;
    let rerun = started.elapsed();
    let failed = checks.iter().filter(|c| !c.ok).count();
    Ok(AuditFigures { orders: n, lines, cascade, audit, rerun, failed })
}

/// Prints the phase's rows of the figures table.
pub fn print(f: &AuditFigures) {
    println!(
        "| cascade of {} seeded orders, {CASCADERS} connections ({} lines) | {:.1} s |",
        f.orders,
        f.lines,
        f.cascade.as_secs_f64()
    );
    println!("| audit, every check, over those orders ({} checks failed) | {:.1} s |", f.failed, f.audit.as_secs_f64());
    println!("| audit's cascade re-run alone, batches of {} | {:.1} s |", audit::rerun::BATCH, f.rerun.as_secs_f64());
}
