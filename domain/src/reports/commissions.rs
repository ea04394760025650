//! What the network earned over an interval: every money column is summed
//! from the members' postings of the interval (by the day they were
//! posted; whole hours from their hourly summary, see [`super::Split`]),
//! the rounding from each commission line's entry, the breakage from the
//! forfeits recorded in it. Kinds: `level`, `retail`, `pickup` (commission lines),
//! `bonus` (period bonuses), `cashback` (campaigns) and `order_reward`
//! (buyers' instant cash or points).

use futures::StreamExt;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Grouped, Heading, Interval, RowStream};
use crate::error::DomainResult;
use crate::ledger::EntryKind;
use crate::money::{Money, in_minor_units};

/// The entries this report reads: commissions, bonuses, campaign cashback
/// and buyers' rewards, with their releases and reversals.
const EARNINGS: [EntryKind; 15] = [
    EntryKind::Commission,
    EntryKind::Release,
    EntryKind::CommissionCancelled,
    EntryKind::Clawback,
    EntryKind::Bonus,
    EntryKind::Cashback,
    EntryKind::CashbackRelease,
    EntryKind::CashbackCancelled,
    EntryKind::CashbackClawback,
    EntryKind::OrderCashback,
    EntryKind::OrderPoints,
    EntryKind::OrderCashbackRelease,
    EntryKind::OrderCashbackCancelled,
    EntryKind::OrderCashbackClawback,
    EntryKind::OrderPointsClawback,
];

/// Decimal places of the rounding residue (what rounding toward zero kept
/// back of each line is far below a paisa).
pub const RESIDUE_SCALE: u32 = 6;

crate::words::stored_words!(
    /// How the commissions report groups its rows.
    CommissionGroup {
        /// The local day (in the report's zone) it was posted or recorded.
        Day = "day",
        /// The local month (`2026-11`).
        Month = "month",
        /// Level, retail, pickup, bonus, cashback or order_reward.
        Kind = "kind",
        /// The level paid (0 for everything that is not a level commission).
        Level = "level",
        /// The member paid (or who forfeited).
        Member = "member",
    }
);

impl CommissionGroup {
    /// Parses `group_by` (default `day`).
    pub fn parse_param(raw: Option<&str>) -> DomainResult<Self> {
        super::group_by(raw, Self::Day, Self::parse, "day, month, kind, level or member")
    }
}

/// One group's figures (or, as `totals`, every group's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CommissionRow {
    /// The group (`2026-11-03`, a kind, a level, a member id); absent on the totals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Earned: posted to members (held, or straight to available or credit).
    pub accrued: Money,
    /// Held money whose hold ended (pending → available).
    pub released: Money,
    /// Taken back while still held (a return before the hold ended).
    pub cancelled_while_held: Money,
    /// Taken back after release (the balance may go negative).
    pub clawed_back: Money,
    /// Shares not paid because their member did not qualify.
    pub breakage: Money,
    /// What rounding each line toward zero kept back, at six places.
    #[schema(value_type = crate::money::DecimalText)]
    pub rounding: Decimal,
    /// accrued − cancelled while held − clawed back.
    pub net: Money,
}

/// `GET /v1/admin/reports/commissions`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Commissions {
    /// Interval, zone, currency and freshness.
    #[serde(flatten)]
    pub heading: Heading,
    /// How the rows are grouped.
    pub group_by: CommissionGroup,
    /// One per group, in key order.
    pub rows: Vec<CommissionRow>,
    /// Over every group.
    pub totals: CommissionRow,
}

/// The commissions report read whole, of every member or of `member` only
/// (a member's own earnings). Run it in a snapshot (`platform::db::snapshot`).
pub async fn commissions(
    conn: &mut PgConnection,
    interval: &Interval,
    group_by: CommissionGroup,
    member: Option<Uuid>,
    currency: &str,
) -> DomainResult<Commissions> {
    let (heading, rows) = commission_rows(conn, interval, group_by, member, currency).await?;
    let (rows, totals) = super::collect(rows).await?;
    Ok(Commissions { heading, group_by, rows, totals })
}

/// One member's earnings in each of `periods` (months, in `zone`), by
/// kind: the member's commissions report of each month, for the chart of
/// a member's last twelve months.
pub async fn monthly_by_kind(
    conn: &mut PgConnection,
    member: Uuid,
    periods: &[String],
    zone: chrono_tz::Tz,
    currency: &str,
) -> DomainResult<Vec<(String, Commissions)>> {
    let mut months = Vec::with_capacity(periods.len());
    for period in periods {
        let (from, to) = crate::compensation::periods::bounds(period, zone)?;
        let month = Interval { from, to, time_zone: zone };
        months.push((period.clone(), commissions(conn, &month, CommissionGroup::Kind, Some(member), currency).await?));
    }
    Ok(months)
}

/// The commissions report's heading, then its rows as they are read (the
/// groups in key order, the totals last). Run it in a snapshot.
pub async fn commission_rows<'c>(
    conn: &'c mut PgConnection,
    interval: &Interval,
    group_by: CommissionGroup,
    member: Option<Uuid>,
    currency: &str,
) -> DomainResult<(Heading, RowStream<'c, CommissionRow>)> {
    let heading = interval.heading(currency, super::as_of(conn).await?);
    let split = interval.split(matches!(group_by, CommissionGroup::Day | CommissionGroup::Month));
    let earned: Vec<String> = EARNINGS.iter().map(|k| k.as_str().to_owned()).collect();
    let rows = sqlx::query!(
        r#"WITH moved AS (
             SELECT hour AS at, member_id, account, entry_kind AS entry, commission_kind, level, amount, rounding
               FROM ledger_hours
              WHERE currency = $5 AND hour >= $7 AND hour < $8 AND ($6::uuid IS NULL OR member_id = $6)
                AND entry_kind = ANY($9)
             UNION ALL
             SELECT created_at, member_id, account, entry_kind, commission_kind, level, amount, rounding
               FROM member_postings
              WHERE currency = $5 AND ($6::uuid IS NULL OR member_id = $6) AND entry_kind = ANY($9)
                AND ((created_at >= $1 AND created_at < least($7, $2)) OR (created_at >= greatest($7, $8) AND created_at < $2))
           ), ledger AS (
             SELECT m.at, m.member_id,
                    CASE WHEN m.entry IN ('commission', 'release', 'commission_cancelled', 'clawback')
                              THEN m.commission_kind
                         WHEN m.entry = 'bonus' THEN 'bonus'
                         WHEN m.entry LIKE 'cashback%' THEN 'cashback'
                         ELSE 'order_reward' END AS kind,
                    m.level,
                    CASE WHEN m.entry IN ('commission', 'bonus', 'cashback', 'order_cashback', 'order_points')
                         THEN m.amount ELSE 0 END AS accrued,
                    CASE WHEN m.entry IN ('release', 'cashback_release', 'order_cashback_release')
                              AND m.account = 'available' THEN m.amount ELSE 0 END AS released,
                    CASE WHEN m.entry IN ('commission_cancelled', 'cashback_cancelled', 'order_cashback_cancelled')
                         THEN -m.amount ELSE 0 END AS cancelled,
                    CASE WHEN m.entry IN ('clawback', 'cashback_clawback', 'order_cashback_clawback',
                                          'order_points_clawback')
                         THEN -m.amount ELSE 0 END AS clawed,
                    0::numeric AS breakage, m.rounding
               FROM moved m
           ), facts AS (
             SELECT * FROM ledger
             UNION ALL
             SELECT b.created_at, b.member_id, b.kind, b.physical_level, 0, 0, 0, 0, b.amount, 0
               FROM commission_breakage b
               JOIN order_lines l ON l.id = b.order_line_id
               JOIN orders o ON o.id = l.order_id
              WHERE b.created_at >= $1 AND b.created_at < $2 AND o.currency = $5
                AND ($6::uuid IS NULL OR b.member_id = $6)
           ), keyed AS (
             SELECT CASE $3::text
                      WHEN 'day' THEN to_char(at AT TIME ZONE $4::text, 'YYYY-MM-DD')
                      WHEN 'month' THEN to_char(at AT TIME ZONE $4::text, 'YYYY-MM')
                      WHEN 'kind' THEN kind
                      WHEN 'level' THEN level::text
                      ELSE member_id::text
                    END AS key, *
               FROM facts
           )
           SELECT key, GROUPING(key) = 1 AS "total!",
                  coalesce(sum(accrued), 0) AS "accrued!", coalesce(sum(released), 0) AS "released!",
                  coalesce(sum(cancelled), 0) AS "cancelled!", coalesce(sum(clawed), 0) AS "clawed!",
                  coalesce(sum(breakage), 0) AS "breakage!", coalesce(sum(rounding), 0) AS "rounding!"
             FROM keyed
            GROUP BY GROUPING SETS ((key), ())
            ORDER BY GROUPING(key), CASE WHEN $3::text = 'level' THEN lpad(key, 10, '0') ELSE key END"#,
        interval.from,
        interval.to,
        group_by.as_str(),
        interval.time_zone.name(),
        currency,
        member,
        split.summary_from,
        split.summary_to,
        &earned
    )
    .fetch(conn)
    .map(|found| {
        let r = found?;
        let money = |d: Decimal| Money(in_minor_units(d));
        let (accrued, cancelled, clawed) = (money(r.accrued), money(r.cancelled), money(r.clawed));
        let mut rounding = r.rounding;
        rounding.rescale(RESIDUE_SCALE);
        let row = CommissionRow {
            key: if r.total { None } else { r.key },
            accrued,
            released: money(r.released),
            cancelled_while_held: cancelled,
            clawed_back: clawed,
            breakage: money(r.breakage),
            rounding,
            net: accrued - cancelled - clawed,
        };
        Ok(Grouped::of(r.total, row))
    })
    .boxed();
    Ok((heading, rows))
}

/// One of the members who earned most.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Earner {
    /// The member.
    pub member_id: Uuid,
    /// Their name.
    pub name: String,
    /// Their net earnings in the interval (the commissions report's `net`).
    pub earned: Money,
}

/// `GET /v1/admin/reports/top-earners`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TopEarners {
    /// Interval, zone, currency and freshness.
    #[serde(flatten)]
    pub heading: Heading,
    /// Most earned first; ties by member id.
    pub rows: Vec<Earner>,
}

/// The `limit` members who earned most in the interval, by the commissions
/// report's `net` per member (so both lists always agree).
pub async fn top_earners(
    conn: &mut PgConnection,
    interval: &Interval,
    limit: usize,
    currency: &str,
) -> DomainResult<TopEarners> {
    let (heading, mut rows) = commission_rows(conn, interval, CommissionGroup::Member, None, currency).await?;
    let mut ranked: Vec<(Money, Uuid)> = Vec::new();
    while let Some(row) = rows.next().await {
        if let Grouped::Group(r) = row?
            && r.net > Money::ZERO
            && let Some(member) = r.key.as_deref().and_then(|k| k.parse::<Uuid>().ok())
        {
            ranked.push((r.net, member));
            // Keep at most twice the limit, so the list stays small
            // however many members earned.
            if ranked.len() >= 2 * limit.max(1) {
                most_first(&mut ranked, limit);
            }
        }
    }
    drop(rows);
    most_first(&mut ranked, limit);
    let ids: Vec<Uuid> = ranked.iter().map(|(_, id)| *id).collect();
    let names: std::collections::HashMap<Uuid, String> =
        sqlx::query!("SELECT id, name FROM members WHERE id = ANY($1)", &ids)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|m| (m.id, m.name))
            .collect();
    let rows = ranked
        .into_iter()
        .map(|(earned, member_id)| Earner {
            member_id,
            name: names.get(&member_id).cloned().unwrap_or_default(),
            earned,
        })
        .collect();
    Ok(TopEarners { heading, rows })
}

/// Sorts earners most earned first (ties by member id) and keeps `limit`.
fn most_first(ranked: &mut Vec<(Money, Uuid)>, limit: usize) {
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked.truncate(limit);
}
