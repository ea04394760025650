//! The monthly period close: every member's personal and group volume,
//! ranks and team-target bonuses, posted once per period however many
//! times (or by however many workers at once) the close runs.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::compensation::plans::{self, Plan};
use crate::error::{DomainError, DomainResult};
use crate::jobs::progress::Progress;
use crate::ledger::bulk::{Transfer, post_transfers};
use crate::ledger::{Account, EntryKind, MemberAccount, SystemAccount};
use crate::rules::period::{self, Node};

pub mod review;

/// Rows per bulk insert of member figures.
const CHUNK: usize = 20_000;

/// The period (`YYYY-MM`) a moment belongs to in the deployment's time zone.
pub fn period_of(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%Y-%m").to_string()
}

/// The period before the one `at` falls in: what a tick at `at` closes.
pub fn previous_period(at: DateTime<Utc>, tz: Tz) -> String {
    let local = at.with_timezone(&tz);
    let (y, m) = if local.month() == 1 { (local.year() - 1, 12) } else { (local.year(), local.month() - 1) };
    format!("{y:04}-{m:02}")
}

/// The `n` periods ending with the one `at` falls in, oldest first
/// (`n` = 12: the last twelve months, this one included).
pub fn last_periods(at: DateTime<Utc>, tz: Tz, n: u32) -> Vec<String> {
    let local = at.with_timezone(&tz).date_naive();
    let first = NaiveDate::from_ymd_opt(local.year(), local.month(), 1).unwrap_or(local);
    (0..n)
        .rev()
        .filter_map(|back| first.checked_sub_months(chrono::Months::new(back)))
        .map(|d| d.format("%Y-%m").to_string())
        .collect()
}

/// The instants a period starts and ends (exclusive) in `tz`.
pub fn bounds(period: &str, tz: Tz) -> DomainResult<(DateTime<Utc>, DateTime<Utc>)> {
    let bad = || DomainError::invalid("period", "must be a month, YYYY-MM");
    let first = NaiveDate::parse_from_str(&format!("{period}-01"), "%Y-%m-%d").map_err(|_| bad())?;
    let next = first.checked_add_months(chrono::Months::new(1)).ok_or_else(bad)?;
    let at = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(bad)
    };
    Ok((at(first)?, at(next)?))
}

crate::words::stored_words!(
    /// How a period is closed (`HAAT_PERIOD_CLOSE_MODE`).
    CloseMode {
        /// Computed and posted in one go (the default).
        Auto = "auto",
        /// Computed and kept as a run for an admin to read, then commit
        /// (post exactly what was shown) or discard.
        Review = "review",
    }
);

/// What running the close did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// Closed now.
    Now,
    /// Closed before (by this or another worker): nothing done.
    Already,
    /// The period has not ended yet.
    NotEnded,
    /// Some order credited in the period has not had its volume written
    /// yet: nothing written, the next tick tries again.
    Postponed,
    /// Review mode: the run is computed and waits for an admin.
    Computed,
    /// Review mode: a computed run already waits; nothing done.
    AwaitingReview,
}

/// Closes `period` unless it is closed already. One transaction (the
/// caller's). In `Auto` mode the `period_closes` row is claimed before
/// anything else is written, so a concurrent close blocks on it and then
/// finds it; in `Review` mode the figures are stored as a run instead
/// (`review`), and nothing is posted until an admin commits it.
pub async fn close(
    conn: &mut PgConnection,
    period: &str,
    tz: Tz,
    now: DateTime<Utc>,
    currency: &str,
    mode: CloseMode,
    progress: &mut Progress,
) -> DomainResult<Closed> {
    let (start, end) = bounds(period, tz)?;
    if now < end {
        return Ok(Closed::NotEnded);
    }
    let waiting = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM orders WHERE commissionable_at >= $1 AND commissionable_at < $2
                                 AND volume_credited_at IS NULL) AS "waiting!""#,
        start,
        end
    )
    .fetch_one(&mut *conn)
    .await?;
    if waiting {
        return Ok(Closed::Postponed);
    }
    if mode == CloseMode::Review {
        return review::compute(conn, period, tz, end, now).await;
    }
    if !claim(conn, period, tz).await? {
        return Ok(Closed::Already);
    }
    // Two steps: deciding every member's rank and bonus, then posting.
    progress.step(0, Some(2)).await?;
    let decided = decide(conn, period, end).await?;
    progress.step(1, Some(2)).await?;
    apply(conn, period, &decided, currency, now).await?;
    progress.step(2, Some(2)).await?;
    Ok(Closed::Now)
}

/// Claims the period's `period_closes` row; false when it was closed before.
async fn claim(conn: &mut PgConnection, period: &str, tz: Tz) -> DomainResult<bool> {
    let claimed = sqlx::query_scalar!(
        "INSERT INTO period_closes (period, time_zone, members, bonuses, bonus_total) VALUES ($1, $2, 0, 0, 0)
         ON CONFLICT (period) DO NOTHING RETURNING period",
        period,
        tz.name()
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(claimed.is_some())
}

/// One member's figures as a close decides them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Figure {
    /// The member.
    pub member_id: Uuid,
    /// PV credited in the period.
    #[schema(value_type = crate::money::DecimalText)]
    pub personal_pv: Decimal,
    /// BV credited in the period.
    #[schema(value_type = crate::money::DecimalText)]
    pub personal_bv: Decimal,
    /// Own + the whole downline's PV.
    #[schema(value_type = crate::money::DecimalText)]
    pub group_pv: Decimal,
    /// Own + the whole downline's BV.
    #[schema(value_type = crate::money::DecimalText)]
    pub group_bv: Decimal,
    /// The rank this period's figures meet.
    pub paid_as_rank: Option<String>,
    /// The highest rank ever reached, this period included.
    pub highest_rank: Option<String>,
    /// Whether the highest rank rose in this period.
    pub advanced: bool,
}

/// One bonus earned, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BonusLine {
    /// Who earns it.
    pub member_id: Uuid,
    /// The plan's bonus name.
    pub bonus: String,
    /// The group BV it was computed on.
    #[schema(value_type = crate::money::DecimalText)]
    pub basis: Decimal,
    /// What is paid.
    #[schema(value_type = crate::money::DecimalText)]
    pub amount: Decimal,
    /// The targets met and how the amount follows (`group PV 100.00 ≥ 40.00; fixed 100.00`).
    pub reason: String,
}

/// What one close decides before anything is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    /// The plan version whose ranks and bonuses applied.
    pub plan_id: Option<Uuid>,
    /// Members evaluated (the whole tree).
    pub members: i32,
    /// Every member with volume or a rank.
    pub figures: Vec<Figure>,
    /// Every bonus earned by a member who is not suspended.
    pub bonuses: Vec<BonusLine>,
}

/// Reads the tree and volume of `period` and decides its figures, ranks
/// and bonuses under the plan in effect at its end (`rules::period`).
pub(crate) async fn decide(conn: &mut PgConnection, period: &str, end: DateTime<Utc>) -> DomainResult<Decided> {
    let plan = plans::in_effect(conn, end - chrono::Duration::microseconds(1)).await?;
    let tree = load_tree(conn, period).await?;
    let outcome = evaluate(&tree, plan.as_ref());
    let plan = plan.as_ref();
    let mut figures = Vec::new();
    let mut bonuses = Vec::new();
    for (i, o) in outcome.iter().enumerate() {
        let highest = rank_name(plan, o.result.highest);
        if !o.group.0.is_zero() || !o.group.1.is_zero() || highest.is_some() {
            figures.push(Figure {
                member_id: tree.ids[i],
                personal_pv: tree.nodes[i].personal_pv,
                personal_bv: tree.nodes[i].personal_bv,
                group_pv: o.group.0,
                group_bv: o.group.1,
                paid_as_rank: rank_name(plan, o.result.paid_as),
                advanced: highest.is_some() && highest != tree.previous_rank[i],
                highest_rank: highest,
            });
        }
        let Some(plan) = plan else { continue };
        if tree.suspended[i] {
            continue;
        }
        // A bonus that computes to nothing is not paid (a posting is never zero).
        for &(b, basis, amount) in o.result.bonuses.iter().filter(|(_, _, amount)| *amount > Decimal::ZERO) {
            let def = &plan.period_bonuses[b];
            let how = match def.amount {
                Some(fixed) => format!("fixed {fixed}"),
                None => format!("{} × group BV {basis}", def.rate.unwrap_or_default()),
            };
            let rank = def.min_rank.as_ref().map(|r| format!("; rank {r} or above")).unwrap_or_default();
            bonuses.push(BonusLine {
                member_id: tree.ids[i],
                bonus: def.name.clone(),
                basis,
                amount,
                reason: format!("group PV {} ≥ {}{rank}; {how}", o.group.0, def.min_group_pv),
            });
        }
    }
    Ok(Decided {
        plan_id: plan.map(|p| p.id),
        members: i32::try_from(outcome.len()).unwrap_or(i32::MAX),
        figures,
        bonuses,
    })
}

/// Writes what a close decided — figures, raised ranks, bonus rows and
/// their ledger entries — and completes the period's `period_closes` row,
/// which the caller has claimed.
pub(crate) async fn apply(
    conn: &mut PgConnection,
    period: &str,
    decided: &Decided,
    currency: &str,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    write_figures(conn, period, &decided.figures).await?;
    announce_ranks(conn, period, &decided.figures, now).await?;
    let (count, total) = post_bonuses(conn, period, decided, currency).await?;
    sqlx::query!(
        "UPDATE period_closes SET plan_id = $2, members = $3, bonuses = $4, bonus_total = $5, closed_at = $6
          WHERE period = $1",
        period,
        decided.plan_id,
        decided.members,
        count,
        total,
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// For each member whose highest rank the close raised: the
/// `member.rank_changed` event and the rank's milestone email.
async fn announce_ranks(
    conn: &mut PgConnection,
    period: &str,
    figures: &[Figure],
    now: DateTime<Utc>,
) -> DomainResult<()> {
    use crate::integrations::events::{self, Cause, EventType};
    let raised: Vec<(Uuid, String)> = figures
        .iter()
        .filter(|f| f.advanced)
        .filter_map(|f| f.highest_rank.clone().map(|rank| (f.member_id, rank)))
        .collect();
    let causes = figures
        .iter()
        .filter(|f| f.advanced)
        .map(|f| {
            let data = serde_json::json!({
                "member_id": f.member_id, "period": period, "highest_rank": f.highest_rank,
                "paid_as_rank": f.paid_as_rank,
            });
            Cause::new(format!("member.rank_changed:{}:{period}", f.member_id), data)
        })
        .collect();
    events::emit_all(conn, EventType::MemberRankChanged, causes, now).await?;
    crate::rewards::milestones::ranks_reached(conn, &raised).await
}

/// The whole tree with each member's personal volume in the period.
struct Tree {
    ids: Vec<Uuid>,
    suspended: Vec<bool>,
    nodes: Vec<Node>,
    previous_rank: Vec<Option<String>>,
}
async fn load_tree(conn: &mut PgConnection, period: &str) -> DomainResult<Tree> {
    let rows = sqlx::query!("SELECT id, parent_id, status FROM members").fetch_all(&mut *conn).await?;
    let index: HashMap<Uuid, usize> = rows.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let mut nodes: Vec<Node> = rows
        .iter()
        .map(|r| Node { parent: r.parent_id.and_then(|p| index.get(&p).copied()), ..Node::default() })
        .collect();
    let volume = sqlx::query!(
        r#"SELECT member_id, sum(pv) AS "pv!", sum(bv) AS "bv!" FROM volume_entries WHERE period = $1
            GROUP BY member_id"#,
        period
    )
    .fetch_all(&mut *conn)
    .await?;
    for v in volume {
        if let Some(&i) = index.get(&v.member_id) {
            nodes[i].personal_pv = v.pv;
            nodes[i].personal_bv = v.bv;
        }
    }
    let mut previous_rank = vec![None; rows.len()];
    for r in sqlx::query!("SELECT member_id, highest_rank FROM member_ranks").fetch_all(&mut *conn).await? {
        if let Some(&i) = index.get(&r.member_id) {
            previous_rank[i] = Some(r.highest_rank);
        }
    }
    Ok(Tree {
        ids: rows.iter().map(|r| r.id).collect(),
        suspended: rows.iter().map(|r| r.status == "suspended").collect(),
        nodes,
        previous_rank,
    })
}

struct Outcome {
    group: (Decimal, Decimal),
    result: period::MemberOutcome,
}

fn evaluate(tree: &Tree, plan: Option<&Plan>) -> Vec<Outcome> {
    let groups = period::group_volumes(&tree.nodes);
    let (ranks, bonuses) = plan.map(|p| (&p.ranks[..], &p.period_bonuses[..])).unwrap_or_default();
    groups
        .into_iter()
        .enumerate()
        .map(|(i, group)| {
            let previous = tree.previous_rank[i].as_ref().and_then(|name| ranks.iter().position(|r| &r.name == name));
            let result = period::evaluate(ranks, bonuses, tree.nodes[i].personal_pv, group, previous);
            Outcome { group, result }
        })
        .collect()
}

fn rank_name(plan: Option<&Plan>, index: Option<usize>) -> Option<String> {
    Some(plan?.ranks.get(index?)?.name.clone())
}

/// Writes the figures and raises stored highest ranks, in bulk statements
/// of `CHUNK` rows.
async fn write_figures(conn: &mut PgConnection, period: &str, figures: &[Figure]) -> DomainResult<()> {
    for chunk in figures.chunks(CHUNK) {
        let col = |f: &dyn Fn(&Figure) -> Decimal| chunk.iter().map(f).collect::<Vec<_>>();
        let ids: Vec<Uuid> = chunk.iter().map(|f| f.member_id).collect();
        let paid_as: Vec<Option<String>> = chunk.iter().map(|f| f.paid_as_rank.clone()).collect();
        let highest: Vec<Option<String>> = chunk.iter().map(|f| f.highest_rank.clone()).collect();
        sqlx::query!(
            "INSERT INTO member_periods (period, member_id, personal_pv, personal_bv, group_pv, group_bv,
                                         paid_as_rank, highest_rank)
             SELECT $1, * FROM unnest($2::uuid[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[],
                                      $7::text[], $8::text[])",
            period,
            &ids,
            &col(&|f| f.personal_pv),
            &col(&|f| f.personal_bv),
            &col(&|f| f.group_pv),
            &col(&|f| f.group_bv),
            &paid_as as &[Option<String>],
            &highest as &[Option<String>]
        )
        .execute(&mut *conn)
        .await?;
    }
    let raised: Vec<&Figure> = figures.iter().filter(|f| f.advanced).collect();
    for chunk in raised.chunks(CHUNK) {
        let ids: Vec<Uuid> = chunk.iter().map(|f| f.member_id).collect();
        let names: Vec<String> = chunk.iter().map(|f| f.highest_rank.clone().unwrap_or_default()).collect();
        sqlx::query!(
            "INSERT INTO member_ranks (member_id, highest_rank, achieved_period)
             SELECT id, name, $3 FROM unnest($1::uuid[], $2::text[]) AS t (id, name)
             ON CONFLICT (member_id) DO UPDATE SET highest_rank = excluded.highest_rank,
                                                   achieved_period = excluded.achieved_period",
            &ids,
            &names,
            period
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Pays every bonus decided, each with its row and its ledger entry
/// `bonus:{period}:{member}:{bonus}`, into available — all in a few set
/// statements (`ledger::bulk`).
async fn post_bonuses(
    conn: &mut PgConnection,
    period: &str,
    decided: &Decided,
    currency: &str,
) -> DomainResult<(i32, Decimal)> {
    let Some(plan_id) = decided.plan_id else { return Ok((0, Decimal::new(0, 2))) };
    let lines = &decided.bonuses;
    let ids: Vec<Uuid> = lines.iter().map(|_| Uuid::now_v7()).collect();
    let transfers: Vec<Transfer> = lines
        .iter()
        .zip(&ids)
        .map(|(b, id)| Transfer {
            idempotency_key: crate::ledger::keys::period_bonus(period, b.member_id, &b.bonus),
            reference: id.to_string(),
            from: Account::System(SystemAccount::BonusExpense),
            to: Account::Member(b.member_id, MemberAccount::Available),
            amount: b.amount,
        })
        .collect();
    let members: Vec<Uuid> = lines.iter().map(|b| b.member_id).collect();
    let names: Vec<String> = lines.iter().map(|b| b.bonus.clone()).collect();
    let bases: Vec<Decimal> = lines.iter().map(|b| b.basis).collect();
    let amounts: Vec<Decimal> = lines.iter().map(|b| b.amount).collect();
    sqlx::query!(
        "INSERT INTO period_bonuses (id, period, member_id, bonus, basis, amount, plan_id)
         SELECT i, $2, m, n, b, a, $7 FROM unnest($1::uuid[], $3::uuid[], $4::text[], $5::numeric[], $6::numeric[])
                AS x (i, m, n, b, a)",
        &ids,
        period,
        &members,
        &names,
        &bases,
        &amounts,
        plan_id
    )
    .execute(&mut *conn)
    .await?;
    post_transfers(conn, currency, EntryKind::Bonus, &transfers).await?;
    let count = i32::try_from(amounts.len()).unwrap_or(i32::MAX);
    let total = amounts.iter().copied().sum::<Decimal>() + Decimal::new(0, 2);
    Ok((count, total))
}

/// A closed period as admins read it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PeriodView {
    /// The period.
    pub period: String,
    /// The plan version whose ranks and bonuses applied.
    pub plan_id: Option<Uuid>,
    /// The time zone its bounds were taken in.
    pub time_zone: String,
    /// Members evaluated.
    pub members: i32,
    /// Bonuses paid.
    pub bonuses: i32,
    /// Their total.
    #[schema(value_type = crate::money::DecimalText)]
    pub bonus_total: Decimal,
    /// When it closed.
    pub closed_at: DateTime<Utc>,
}

/// A closed period, or 404.
pub async fn get(conn: &mut PgConnection, period: &str) -> DomainResult<PeriodView> {
    sqlx::query_as!(
        PeriodView,
        "SELECT period, plan_id, time_zone, members, bonuses, bonus_total, closed_at FROM period_closes
          WHERE period = $1",
        period
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound("period"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("an RFC 3339 time")
    }

    #[test]
    fn the_last_twelve_periods_end_with_the_local_month_and_cross_the_year() {
        let months = last_periods(utc("2026-02-28T19:00:00Z"), chrono_tz::Asia::Dhaka, 12);
        // 01:00 on 1 March in Dhaka.
        assert_eq!(months.first().map(String::as_str), Some("2025-04"));
        assert_eq!(months.last().map(String::as_str), Some("2026-03"));
        assert_eq!(months.len(), 12);
        assert_eq!(last_periods(utc("2026-01-15T00:00:00Z"), chrono_tz::UTC, 2), ["2025-12", "2026-01"]);
    }

    #[test]
    fn a_period_is_the_calendar_month_in_the_deployments_time_zone() {
        let dhaka = chrono_tz::Asia::Dhaka;
        // 18:30 UTC on 31 October is 00:30 on 1 November in Dhaka (UTC+6).
        let at = utc("2026-10-31T18:30:00Z");
        assert_eq!(period_of(at, chrono_tz::UTC), "2026-10");
        assert_eq!(period_of(at, dhaka), "2026-11");
        assert_eq!(previous_period(at, dhaka), "2026-10");
        assert_eq!(previous_period(utc("2026-01-15T00:00:00Z"), chrono_tz::UTC), "2025-12");
        let (start, end) = bounds("2026-11", dhaka).expect("a valid period");
        assert_eq!((start, end), (utc("2026-10-31T18:00:00Z"), utc("2026-11-30T18:00:00Z")));
        assert!(bounds("2026-13", dhaka).is_err());
        assert!(bounds("November", dhaka).is_err());
    }
}
