//! Challenges and badges, a retention tool: an admin sets members a goal
//! over a window ("3 orders in November", "spend ৳5,000 this month",
//! "recruit 2 active members"), measured from facts haat already keeps, and
//! a reward of points (store credit), a badge, or both. Progress is the SQL
//! function `challenge_progress`, the one definition the award and the
//! member's view read. An order's cascade and its returns review the
//! challenges its confirmation falls in, for its buyer and the buyer's
//! sponsor: a member who reached the goal is awarded (once per completion,
//! under the challenge's row for them), and one whose returns took them
//! back below it loses the award, points and badge, until they reach it
//! again inside the window.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainResult, Problems};
use crate::ledger::{self, Account, Entry, EntryKind, MemberAccount, Posting, SystemAccount};
use crate::money::display::{Language, digits};
use crate::money::{MONEY_SCALE, in_minor_units, parse_amount};

crate::words::stored_words!(
    /// What a challenge measures, over its window.
    Goal {
        /// Credited orders the member bought (an order returned in full
        /// no longer counts).
        Orders = "orders",
        /// What the member paid for the units they kept, after discounts.
        Spend = "spend",
        /// Members they sponsored who joined in the window and have a
        /// credited order in it that they kept.
        Recruits = "recruits",
    }
);

crate::words::stored_words!(
    /// Where a member stands with a challenge's reward.
    AwardStatus {
        /// Counted, not (yet) completed.
        Open = "open",
        /// Completed: the reward is theirs.
        Awarded = "awarded",
        /// Completed, then returns took them below the goal.
        Undone = "undone",
    }
);

/// A challenge as an admin sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChallenge {
    /// What members read (1 to 200 characters).
    pub name: String,
    /// `orders`, `spend` or `recruits`.
    #[schema(value_type = Goal)]
    pub goal: String,
    /// How many orders or recruits (a whole number), or how much spend.
    #[schema(value_type = crate::money::DecimalText)]
    pub target: String,
    /// Window start: an RFC 3339 time, or a date (local midnight).
    pub starts_at: String,
    /// Window end: a time (exclusive), or a date (to the end of that local day).
    pub ends_at: String,
    /// IANA time zone of the dates (default: the deployment's).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Points (store credit) a completion earns.
    #[serde(default)]
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub points: Option<String>,
    /// The badge a completion earns (1 to 100 characters).
    #[serde(default)]
    pub badge: Option<String>,
}

/// A stored challenge.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Challenge {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// What it measures.
    pub goal: Goal,
    /// The goal's figure.
    #[schema(value_type = crate::money::DecimalText)]
    pub target: Decimal,
    /// Window start.
    pub starts_at: DateTime<Utc>,
    /// Window end (exclusive).
    pub ends_at: DateTime<Utc>,
    /// The zone its dates were given in.
    pub time_zone: String,
    /// Points a completion earns.
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub points: Option<Decimal>,
    /// Badge a completion earns.
    pub badge: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A new challenge's input, read.
struct Checked {
    goal: Goal,
    target: Decimal,
    zone: Tz,
    window: (DateTime<Utc>, DateTime<Utc>),
    points: Option<Decimal>,
}

fn check(input: &NewChallenge, default_zone: Tz) -> DomainResult<Checked> {
    let mut p = Problems::default();
    crate::input::check_required(&mut p, "name", input.name.trim(), 200);
    let goal = Goal::parse(&input.goal);
    if goal.is_none() {
        p.add("goal", "must be \"orders\", \"spend\" or \"recruits\"");
    }
    let target = match goal {
        Some(Goal::Spend) => p.check("target", parse_amount(&input.target, MONEY_SCALE)),
        _ => p.check(
            "target",
            input.target.trim().parse::<u32>().map(Decimal::from).map_err(|_| "must be a whole number"),
        ),
    };
    if target.is_some_and(|t| t <= Decimal::ZERO) {
        p.add("target", "must be more than zero");
    }
    let (zone, starts, ends) =
        crate::input::window(&mut p, (&input.starts_at, &input.ends_at), input.time_zone.as_deref(), default_zone);
    let points = input.points.as_deref().and_then(|raw| p.check("points", parse_amount(raw, MONEY_SCALE)));
    if points.is_some_and(|v| v <= Decimal::ZERO) {
        p.add("points", "must be more than zero");
    }
    if let Some(badge) = &input.badge {
        crate::input::check_required(&mut p, "badge", badge.trim(), 100);
    }
    if input.points.is_none() && input.badge.is_none() {
        p.add("points", "a challenge rewards points, a badge or both: give at least one");
    }
    p.finish()?;
    // `finish` refused any input that left one of these unread.
    match (goal, target, starts, ends) {
        (Some(goal), Some(target), Some(starts), Some(ends)) => {
            Ok(Checked { goal, target, zone, window: (starts, ends), points })
        }
        _ => Err(crate::error::DomainError::Internal(anyhow::anyhow!("a checked challenge lacks a field"))),
    }
}

/// Creates a challenge; it counts facts from its window's start.
pub async fn create(conn: &mut PgConnection, input: &NewChallenge, default_zone: Tz) -> DomainResult<Challenge> {
    let Checked { goal, target, zone, window: (starts_at, ends_at), points } = check(input, default_zone)?;
    Ok(sqlx::query_as!(
        Challenge,
        r#"INSERT INTO challenges (id, name, goal, target, starts_at, ends_at, time_zone, points, badge)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           RETURNING id, name, goal AS "goal: Goal", target, starts_at, ends_at, time_zone, points, badge, created_at"#,
        Uuid::now_v7(),
        input.name.trim(),
        goal as Goal,
        target,
        starts_at,
        ends_at,
        zone.name(),
        points,
        input.badge.as_deref().map(str::trim)
    )
    .fetch_one(conn)
    .await?)
}

/// Every challenge, the latest window first.
pub async fn list(conn: &mut PgConnection) -> DomainResult<Vec<Challenge>> {
    Ok(sqlx::query_as!(
        Challenge,
        r#"SELECT id, name, goal AS "goal: Goal", target, starts_at, ends_at, time_zone, points, badge, created_at
             FROM challenges ORDER BY starts_at DESC, id DESC"#
    )
    .fetch_all(conn)
    .await?)
}

/// A member's progress toward one challenge.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Progress {
    /// The challenge.
    pub challenge: Challenge,
    /// How far they are (orders, recruits, or spend).
    #[schema(value_type = crate::money::DecimalText)]
    pub progress: Decimal,
    /// Where its reward stands for them (`open` until completed).
    pub status: AwardStatus,
    /// When they last completed it.
    pub awarded_at: Option<DateTime<Utc>>,
}

/// A badge a member holds.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Badge {
    /// The badge.
    pub badge: String,
    /// The challenge that awarded it.
    pub challenge_id: Uuid,
    /// When.
    pub awarded_at: Option<DateTime<Utc>>,
}

/// What a member sees of challenges.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberChallenges {
    /// Challenges open now, and ended ones they had progress in, the latest first.
    pub challenges: Vec<Progress>,
    /// Badges they hold.
    pub badges: Vec<Badge>,
}

/// A member's challenges as of `now`: the live ones and the ones they have
/// a standing in, each with its progress, and their badges.
pub async fn of_member(conn: &mut PgConnection, member_id: Uuid, now: DateTime<Utc>) -> DomainResult<MemberChallenges> {
    let rows = sqlx::query!(
        r#"SELECT c.id, c.name, c.goal AS "goal: Goal", c.target, c.starts_at, c.ends_at, c.time_zone, c.points,
                  c.badge, c.created_at, challenge_progress(c.id, $1) AS "progress!",
                  coalesce(a.status, 'open') AS "status!: AwardStatus", a.awarded_at
             FROM challenges c LEFT JOIN challenge_awards a ON a.challenge_id = c.id AND a.member_id = $1
            WHERE (c.starts_at <= $2 AND c.ends_at > $2) OR a.member_id IS NOT NULL
            ORDER BY c.starts_at DESC, c.id DESC"#,
        member_id,
        now
    )
    .fetch_all(conn)
    .await?;
    let mut badges = Vec::new();
    let challenges = rows
        .into_iter()
        .map(|r| {
            if let (Some(badge), AwardStatus::Awarded) = (&r.badge, r.status) {
                badges.push(Badge { badge: badge.clone(), challenge_id: r.id, awarded_at: r.awarded_at });
            }
            let progress = if r.goal == Goal::Spend { in_minor_units(r.progress) } else { r.progress.normalize() };
            let challenge = Challenge {
                id: r.id,
                name: r.name,
                goal: r.goal,
                target: r.target,
                starts_at: r.starts_at,
                ends_at: r.ends_at,
                time_zone: r.time_zone,
                points: r.points,
                badge: r.badge,
                created_at: r.created_at,
            };
            Progress { challenge, progress, status: r.status, awarded_at: r.awarded_at }
        })
        .collect();
    Ok(MemberChallenges { challenges, badges })
}

/// Brings the awards of every challenge this order's confirmation falls in
/// up to date with the facts, for its buyer (orders, spend) and the buyer's
/// sponsor (recruits). Called by the cascade and by the application of its
/// returns, under the order's lock; safe to run again.
pub async fn review_order(conn: &mut PgConnection, order_id: Uuid, currency: &str) -> DomainResult<()> {
    let due = sqlx::query!(
        r#"SELECT c.id AS challenge_id, c.name, c.target, c.points, c.badge,
                  CASE WHEN c.goal = 'recruits' THEN m.sponsor_id ELSE o.buyer_id END AS "member_id!"
             FROM orders o JOIN members m ON m.id = o.buyer_id
             JOIN challenges c ON c.starts_at <= o.commissionable_at AND c.ends_at > o.commissionable_at
            WHERE o.id = $1 AND o.cascaded_at IS NOT NULL AND (c.goal <> 'recruits' OR m.sponsor_id IS NOT NULL)
            ORDER BY c.id"#,
        order_id
    )
    .fetch_all(&mut *conn)
    .await?;
    for d in due {
        let reward = Reward { name: &d.name, points: d.points, badge: d.badge.as_deref() };
        review(conn, d.challenge_id, d.member_id, d.target, &reward, currency).await?;
    }
    Ok(())
}

/// What a completion earns.
struct Reward<'a> {
    name: &'a str,
    points: Option<Decimal>,
    badge: Option<&'a str>,
}

/// Awards or undoes one member's challenge by their progress now, under
/// their row's lock (two orders reviewed at once award once).
async fn review(
    conn: &mut PgConnection,
    challenge_id: Uuid,
    member_id: Uuid,
    target: Decimal,
    reward: &Reward<'_>,
    currency: &str,
) -> DomainResult<()> {
    sqlx::query!(
        "INSERT INTO challenge_awards (challenge_id, member_id, status) VALUES ($1, $2, 'open') ON CONFLICT DO NOTHING",
        challenge_id,
        member_id
    )
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query!(
        r#"SELECT status AS "status: AwardStatus", times FROM challenge_awards
            WHERE challenge_id = $1 AND member_id = $2 FOR UPDATE"#,
        challenge_id,
        member_id
    )
    .fetch_one(&mut *conn)
    .await?;
    // Read after the lock: a review that waited sees what the other committed.
    let progress = sqlx::query_scalar!(r#"SELECT challenge_progress($1, $2) AS "p!""#, challenge_id, member_id)
        .fetch_one(&mut *conn)
        .await?;
    let reached = progress >= target;
    match (row.status, reached) {
        (AwardStatus::Open | AwardStatus::Undone, true) => {
            let times = row.times + 1;
            sqlx::query!(
                "UPDATE challenge_awards SET status = 'awarded', times = $3, awarded_at = now(), undone_at = NULL
                  WHERE challenge_id = $1 AND member_id = $2",
                challenge_id,
                member_id,
                times
            )
            .execute(&mut *conn)
            .await?;
            move_points(conn, (challenge_id, member_id, times), reward.points, true, currency).await?;
            completed_email(conn, challenge_id, member_id, reward).await
        }
        (AwardStatus::Awarded, false) => {
            sqlx::query!(
                "UPDATE challenge_awards SET status = 'undone', undone_at = now() WHERE challenge_id = $1 AND member_id = $2",
                challenge_id,
                member_id
            )
            .execute(&mut *conn)
            .await?;
            move_points(conn, (challenge_id, member_id, row.times), reward.points, false, currency).await
        }
        _ => Ok(()),
    }
}

/// The points of completion `times`: given (cashback expense → store
/// credit) or taken back, each under its own key.
async fn move_points(
    conn: &mut PgConnection,
    (challenge_id, member_id, times): (Uuid, Uuid, i32),
    points: Option<Decimal>,
    give: bool,
    currency: &str,
) -> DomainResult<()> {
    let Some(points) = points else { return Ok(()) };
    let (key, kind, amount) = if give {
        (ledger::keys::challenge_reward(challenge_id, member_id, times), EntryKind::ChallengeReward, points)
    } else {
        (
            ledger::keys::challenge_reward_undone(challenge_id, member_id, times),
            EntryKind::ChallengeRewardUndone,
            -points,
        )
    };
    let reference = challenge_id.to_string();
    let postings = vec![
        Posting { account: Account::System(SystemAccount::CashbackExpense), amount: -amount },
        Posting { account: Account::Member(member_id, MemberAccount::Credit), amount },
    ];
    ledger::post(conn, currency, Entry { idempotency_key: &key, kind, reference: &reference, postings }).await?;
    Ok(())
}

/// Tells the member they completed the challenge (once per challenge: a
/// completion regained after a return is not announced again).
async fn completed_email(
    conn: &mut PgConnection,
    challenge_id: Uuid,
    member_id: Uuid,
    reward: &Reward<'_>,
) -> DomainResult<()> {
    let key = format!("challenge:{challenge_id}:{member_id}");
    let (name, points, badge) = (reward.name, reward.points, reward.badge);
    crate::notifications::to_member(conn, member_id, key, move |member, language| match language {
        Language::English => {
            let mut earned = Vec::new();
            if let Some(p) = points {
                earned.push(format!("{p} points"));
            }
            if let Some(b) = badge {
                earned.push(format!("the {b} badge"));
            }
            (
                format!("Challenge completed: {name}"),
                format!(
                    "Dear {member},\n\nyou completed the challenge \"{name}\" and earned {}.\n",
                    earned.join(" and ")
                ),
            )
        }
        Language::Bengali => {
            let mut earned = Vec::new();
            if let Some(p) = points {
                earned.push(format!("{} পয়েন্ট", digits(&p.to_string(), language)));
            }
            if let Some(b) = badge {
                earned.push(format!("{b} ব্যাজ"));
            }
            (
                format!("চ্যালেঞ্জ সম্পন্ন: {name}"),
                format!(
                    "প্রিয় {member},\n\nআপনি \"{name}\" চ্যালেঞ্জটি সম্পন্ন করেছেন এবং পেয়েছেন {}।\n",
                    earned.join(" ও ")
                ),
            )
        }
    })
    .await
}
