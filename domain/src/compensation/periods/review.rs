//! Commission runs reviewed before money moves (`HAAT_PERIOD_CLOSE_MODE=review`):
//! closing a period computes its figures, ranks and bonus lines with the
//! same rules as an automatic close and keeps them as a run; an admin reads
//! the run, then commits it (exactly the stored lines are posted, once) or
//! discards it and closes again to recompute. A run whose period's volume
//! changed after it was computed (an order credited late, a return) is
//! stale: committing it is refused with the reason.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{BonusLine, Closed, Decided, Figure, apply, claim, decide};
use crate::error::{DomainError, DomainResult};

crate::words::stored_words!(
    /// Where a run stands.
    RunStatus {
        /// Computed; waits for an admin.
        Computed = "computed",
        /// Posted.
        Committed = "committed",
        /// Thrown away; a new close recomputes.
        Discarded = "discarded",
    }
);

/// What a run read of its period's volume: entries and their sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    entries: i64,
    pv: Decimal,
    bv: Decimal,
}

async fn fingerprint(conn: &mut PgConnection, period: &str) -> DomainResult<Fingerprint> {
    let r = sqlx::query!(
        r#"SELECT count(*) AS "entries!", coalesce(sum(pv), 0) AS "pv!", coalesce(sum(bv), 0) AS "bv!"
             FROM volume_entries WHERE period = $1"#,
        period
    )
    .fetch_one(conn)
    .await?;
    Ok(Fingerprint { entries: r.entries, pv: r.pv, bv: r.bv })
}

/// Computes the run of `period` unless one waits already or the period is
/// closed. The run's row is written first, so a concurrent close blocks on
/// it and then finds it.
pub(super) async fn compute(
    conn: &mut PgConnection,
    period: &str,
    tz: Tz,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DomainResult<Closed> {
    let closed = sqlx::query_scalar!("SELECT period FROM period_closes WHERE period = $1", period)
        .fetch_optional(&mut *conn)
        .await?;
    if closed.is_some() {
        return Ok(Closed::Already);
    }
    let seen = fingerprint(conn, period).await?;
    let id = Uuid::now_v7();
    let claimed = sqlx::query_scalar!(
        "INSERT INTO period_runs (id, period, status, time_zone, members, bonuses, bonus_total, volume_entries,
                                  volume_pv, volume_bv, computed_at)
         VALUES ($1, $2, 'computed', $3, 0, 0, 0, $4, $5, $6, $7)
         ON CONFLICT (period) WHERE status = 'computed' DO NOTHING RETURNING id",
        id,
        period,
        tz.name(),
        seen.entries,
        seen.pv,
        seen.bv,
        now
    )
    .fetch_optional(&mut *conn)
    .await?;
    if claimed.is_none() {
        return Ok(Closed::AwaitingReview);
    }
    let decided = decide(conn, period, end).await?;
    store(conn, id, &decided).await?;
    Ok(Closed::Computed)
}

/// Writes the run's lines and totals.
async fn store(conn: &mut PgConnection, id: Uuid, d: &Decided) -> DomainResult<()> {
    for chunk in d.figures.chunks(super::CHUNK) {
        let col = |f: &dyn Fn(&Figure) -> Decimal| chunk.iter().map(f).collect::<Vec<_>>();
        let members: Vec<Uuid> = chunk.iter().map(|f| f.member_id).collect();
        let paid_as: Vec<Option<String>> = chunk.iter().map(|f| f.paid_as_rank.clone()).collect();
        let highest: Vec<Option<String>> = chunk.iter().map(|f| f.highest_rank.clone()).collect();
        let advanced: Vec<bool> = chunk.iter().map(|f| f.advanced).collect();
        sqlx::query!(
            "INSERT INTO period_run_figures (run_id, member_id, personal_pv, personal_bv, group_pv, group_bv,
                                             paid_as_rank, highest_rank, advanced)
             SELECT $1, * FROM unnest($2::uuid[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[],
                                      $7::text[], $8::text[], $9::bool[])",
            id,
            &members,
            &col(&|f| f.personal_pv),
            &col(&|f| f.personal_bv),
            &col(&|f| f.group_pv),
            &col(&|f| f.group_bv),
            &paid_as as &[Option<String>],
            &highest as &[Option<String>],
            &advanced
        )
        .execute(&mut *conn)
        .await?;
    }
    let members: Vec<Uuid> = d.bonuses.iter().map(|b| b.member_id).collect();
    let names: Vec<String> = d.bonuses.iter().map(|b| b.bonus.clone()).collect();
    let bases: Vec<Decimal> = d.bonuses.iter().map(|b| b.basis).collect();
    let amounts: Vec<Decimal> = d.bonuses.iter().map(|b| b.amount).collect();
    let reasons: Vec<String> = d.bonuses.iter().map(|b| b.reason.clone()).collect();
    sqlx::query!(
        "INSERT INTO period_run_bonuses (run_id, member_id, bonus, basis, amount, reason)
         SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::numeric[], $5::numeric[], $6::text[])",
        id,
        &members,
        &names,
        &bases,
        &amounts,
        &reasons
    )
    .execute(&mut *conn)
    .await?;
    let total = amounts.iter().copied().sum::<Decimal>() + Decimal::new(0, 2);
    sqlx::query!(
        "UPDATE period_runs SET plan_id = $2, members = $3, bonuses = $4, bonus_total = $5 WHERE id = $1",
        id,
        d.plan_id,
        d.members,
        i32::try_from(amounts.len()).unwrap_or(i32::MAX),
        total
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A run as an admin reads it: its totals, the members who hold a rank,
/// and every bonus line with its reason.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunView {
    /// The run.
    pub id: Uuid,
    /// Its period.
    pub period: String,
    /// Computed, committed or discarded.
    pub status: RunStatus,
    /// The plan version applied.
    pub plan_id: Option<Uuid>,
    /// Members evaluated.
    pub members: i32,
    /// Bonus lines.
    pub bonuses: i32,
    /// Their total.
    #[schema(value_type = crate::money::DecimalText)]
    pub bonus_total: Decimal,
    /// When it was computed.
    pub computed_at: DateTime<Utc>,
    /// When it was committed or discarded.
    pub decided_at: Option<DateTime<Utc>>,
    /// Why committing it would be refused now (null: it would not be).
    pub stale: Option<String>,
    /// Members with a paid-as or highest rank.
    pub ranks: Vec<Figure>,
    /// Every bonus the run would pay.
    pub bonus_lines: Vec<BonusLine>,
}

/// The latest run of `period`, or 404.
pub async fn get(conn: &mut PgConnection, period: &str) -> DomainResult<RunView> {
    let run = sqlx::query!(
        r#"SELECT id, period, status AS "status: RunStatus", plan_id, members, bonuses, bonus_total, volume_entries,
                  volume_pv, volume_bv, computed_at, decided_at
             FROM period_runs WHERE period = $1 ORDER BY computed_at DESC, id DESC LIMIT 1"#,
        period
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound("run"))?;
    let seen = Fingerprint { entries: run.volume_entries, pv: run.volume_pv, bv: run.volume_bv };
    let stale = match run.status {
        RunStatus::Computed => staleness(seen, fingerprint(conn, period).await?),
        _ => None,
    };
    let (figures, bonus_lines) = lines(conn, run.id).await?;
    Ok(RunView {
        id: run.id,
        period: run.period,
        status: run.status,
        plan_id: run.plan_id,
        members: run.members,
        bonuses: run.bonuses,
        bonus_total: run.bonus_total,
        computed_at: run.computed_at,
        decided_at: run.decided_at,
        stale,
        ranks: figures.into_iter().filter(|f| f.paid_as_rank.is_some() || f.highest_rank.is_some()).collect(),
        bonus_lines,
    })
}

/// Why a run computed on `seen` may not be committed on `now`.
fn staleness(seen: Fingerprint, now: Fingerprint) -> Option<String> {
    (seen != now).then(|| {
        format!(
            "the period's volume changed after the run was computed ({} entries of PV {} then, {} of PV {} now): \
             discard it and close again",
            seen.entries, seen.pv, now.entries, now.pv
        )
    })
}

/// A run's stored figures and bonus lines, by member.
async fn lines(conn: &mut PgConnection, run: Uuid) -> DomainResult<(Vec<Figure>, Vec<BonusLine>)> {
    let figures = sqlx::query_as!(
        Figure,
        "SELECT member_id, personal_pv, personal_bv, group_pv, group_bv, paid_as_rank, highest_rank, advanced
           FROM period_run_figures WHERE run_id = $1 ORDER BY member_id",
        run
    )
    .fetch_all(&mut *conn)
    .await?;
    let bonuses = sqlx::query_as!(
        BonusLine,
        "SELECT member_id, bonus, basis, amount, reason FROM period_run_bonuses WHERE run_id = $1
          ORDER BY member_id, bonus",
        run
    )
    .fetch_all(conn)
    .await?;
    Ok((figures, bonuses))
}

/// Commits the computed run of `period`: posts exactly its stored lines
/// (figures, ranks, bonuses and their ledger entries, as an automatic
/// close would) and closes the period. Refused when the run is stale;
/// 404 when no run waits.
pub async fn commit(
    conn: &mut PgConnection,
    period: &str,
    tz: Tz,
    now: DateTime<Utc>,
    currency: &str,
) -> DomainResult<RunView> {
    let run = sqlx::query!(
        "SELECT id, plan_id, members, volume_entries, volume_pv, volume_bv FROM period_runs
          WHERE period = $1 AND status = 'computed' FOR UPDATE",
        period
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound("run"))?;
    let seen = Fingerprint { entries: run.volume_entries, pv: run.volume_pv, bv: run.volume_bv };
    if let Some(reason) = staleness(seen, fingerprint(conn, period).await?) {
        return Err(DomainError::conflict("run", reason));
    }
    if !claim(conn, period, tz).await? {
        return Err(DomainError::conflict("period", "the period is closed already"));
    }
    let (figures, bonuses) = lines(conn, run.id).await?;
    let decided = Decided { plan_id: run.plan_id, members: run.members, figures, bonuses };
    apply(conn, period, &decided, currency, now).await?;
    decide_run(conn, run.id, RunStatus::Committed, now).await?;
    get(conn, period).await
}

/// Discards the computed run of `period` (a close computes a new one); 404
/// when no run waits.
pub async fn discard(conn: &mut PgConnection, period: &str, now: DateTime<Utc>) -> DomainResult<RunView> {
    let id =
        sqlx::query_scalar!("SELECT id FROM period_runs WHERE period = $1 AND status = 'computed' FOR UPDATE", period)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(DomainError::NotFound("run"))?;
    decide_run(conn, id, RunStatus::Discarded, now).await?;
    get(conn, period).await
}

async fn decide_run(conn: &mut PgConnection, id: Uuid, status: RunStatus, now: DateTime<Utc>) -> DomainResult<()> {
    sqlx::query!("UPDATE period_runs SET status = $2, decided_at = $3 WHERE id = $1", id, status.as_str(), now)
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn a_run_is_stale_when_the_periods_volume_moved_and_the_reason_says_how() {
        let seen = Fingerprint { entries: 4, pv: dec!(100.00), bv: dec!(1500.00) };
        assert_eq!(staleness(seen, seen), None);
        let after_a_return = Fingerprint { entries: 5, pv: dec!(80.00), bv: dec!(1200.00) };
        let reason = staleness(seen, after_a_return).expect("stale");
        assert!(reason.contains("4 entries of PV 100.00 then, 5 of PV 80.00 now"), "{reason}");
    }
}
