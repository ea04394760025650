//! The plan simulation phase, on a database of its own: a 20,000-member
//! network ten levels deep (every member but the last level's has three
//! under it), one credited order per member last month, replayed under a
//! draft plan that pays ten levels. The figure is the replay itself (the
//! `simulate` the simulation job runs), in a read-only transaction.

use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{Datelike, Duration as Days, TimeZone, Utc};
use haat_domain::compensation::plans::{self, PlanInput};
use haat_domain::compensation::simulation::{self, Range};
use haat_domain::jobs::progress::Progress;
use haat_domain::seed::{self, SeedMember, SeedPurchase};
use haat_platform::db;
use uuid::Uuid;

use crate::CURRENCY;

/// Members of the network (one order each).
pub const MEMBERS: usize = 20_000;
/// Members under each member.
const BRANCHING: usize = 3;
/// Replays timed (the figure is their median).
const RUNS: usize = 3;

/// What the phase measured.
pub struct Figures {
    /// Orders replayed.
    pub orders: usize,
    /// Levels of the network (the root's is the first).
    pub levels: usize,
    /// Median time of one replay.
    pub took: Duration,
}

/// Seeds the network on a fresh database of `server`, times the replay,
/// drops the database.
pub async fn run(server: &str) -> Result<Figures> {
    let name = format!("haat_bench_sim_{}", Uuid::now_v7().simple());
    db::create_database_if_missing(server, &name).await?;
    let result = measure(&crate::with_database(server, &name)).await;
    crate::drop_database(server, &name).await?;
    result
}

async fn measure(url: &str) -> Result<Figures> {
    let pool = db::connect(url, 2).await?;
    db::migrate(&pool).await?;
    // Member i sits under member (i - 1) / BRANCHING: a complete tree, filled
    // level by level, parents before children.
    let ids: Vec<Uuid> = (0..MEMBERS).map(|_| Uuid::now_v7()).collect();
    let members: Vec<SeedMember> =
        (0..MEMBERS).map(|i| SeedMember { id: ids[i], parent_id: (i > 0).then(|| ids[(i - 1) / BRANCHING]) }).collect();
    let levels = levels_of(MEMBERS);
    let (product, plan) = crate::seed_catalog_and_plan(&pool).await?;
    let month_start = Utc::now() - Days::days(i64::from(Utc::now().date_naive().day0()));
    let credited_at = month_start - Days::days(2);
    let purchases: Vec<SeedPurchase> =
        ids.iter().map(|&buyer_id| SeedPurchase { buyer_id, quantity: 1, credited_at }).collect();
    let mut tx = pool.begin().await?;
    seed::members(&mut tx, &members, CURRENCY).await?;
    seed::credited_orders(&mut tx, product, plan, &purchases, chrono_tz::UTC, CURRENCY, true).await?;
    let draft = plans::create(
        &mut tx,
        &PlanInput {
            name: "Ten levels".into(),
            effective_from: Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).single().unwrap_or_else(Utc::now),
            levels: ["0.10", "0.05", "0.04", "0.03", "0.03", "0.02", "0.02", "0.01", "0.01", "0.01"]
                .map(String::from)
                .to_vec(),
            draft: true,
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    sqlx::query("ANALYZE").execute(&pool).await?;
    let range = Range { from: credited_at - Days::days(1), to: credited_at + Days::days(1) };
    let mut times = Vec::with_capacity(RUNS);
    let mut orders = 0;
    for _ in 0..RUNS {
        let mut tx = pool.begin().await?;
        sqlx::query("SET TRANSACTION READ ONLY").execute(&mut *tx).await?;
        let started = Instant::now();
        let replay = simulation::simulate(&mut tx, draft.id, &range, &mut Progress::unwatched()).await?;
        times.push(started.elapsed());
        tx.rollback().await?;
        orders = replay.orders;
        anyhow::ensure!(orders == MEMBERS, "the replay saw {orders} orders, not {MEMBERS}");
    }
    pool.close().await;
    times.sort();
    Ok(Figures { orders, levels, took: times[RUNS / 2] })
}

/// Levels of a complete tree of `n` members with [`BRANCHING`] under each.
fn levels_of(n: usize) -> usize {
    let (mut levels, mut filled, mut width) = (0, 0, 1);
    while filled < n {
        filled += width;
        width *= BRANCHING;
        levels += 1;
    }
    levels
}

#[cfg(test)]
mod tests {
    #[test]
    fn twenty_thousand_members_three_under_each_make_ten_levels() {
        assert_eq!(super::levels_of(super::MEMBERS), 10);
        assert_eq!(super::levels_of(1), 1);
        assert_eq!(super::levels_of(4), 2);
        assert_eq!(super::levels_of(5), 3);
    }
}
