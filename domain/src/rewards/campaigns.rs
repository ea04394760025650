//! Deadline cashback campaigns (DESIGN §7): admins create them with their
//! terms and schedule; the settlement job decides once, at `settle_at`,
//! and pays each rewarded purchase once ([`settlement`]); cash is held and
//! released later, and a refund or return after settlement claws the
//! purchase's cashback back ([`payouts`]). A recurring campaign is a
//! template whose window is cut into occurrences by a cron expression;
//! each occurrence is a campaign of its own with its own settlement.

mod payouts;
mod settlement;

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult, Problems};
use crate::jobs::{self, CampaignStep, CampaignTask};
use crate::money::{MONEY_SCALE, in_minor_units, parse_amount, parse_rate};
use crate::rules::campaign::{Terms, Trigger};
use crate::rules::campaign_window::occurrence_end;

pub use payouts::{claw_back, release};
pub use settlement::{Outcome, settle};

/// A campaign as an admin sends it (API.md → Cashback campaigns).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCampaign {
    /// Shown to buyers in their email.
    pub name: String,
    /// Which products count.
    pub scope: ScopeInput,
    /// Window start: an RFC 3339 time, or a date (local midnight).
    pub starts_at: String,
    /// Window end, exclusive: a time, or a date (the end of that local day).
    pub ends_at: String,
    /// IANA time zone of dates and cron ticks (default: the deployment's).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// When to settle (default: `ends_at` + the grace).
    #[serde(default)]
    pub settle_at: Option<DateTime<Utc>>,
    /// Seconds after `ends_at` that settlement waits for in-flight
    /// payments (an extension; default `HAAT_CAMPAIGN_GRACE_SECONDS`).
    #[serde(default)]
    pub grace_seconds: Option<i32>,
    /// Recurring from the start (the same as scheduling `{"cron"}` later).
    #[serde(default)]
    pub cron: Option<String>,
    /// Cashback rate on each purchase's value, (0, 1].
    #[schema(value_type = crate::money::DecimalText)]
    pub rate: String,
    /// `reached` or `missed`.
    #[schema(value_type = crate::rules::campaign::Trigger)]
    pub trigger: String,
    /// Units threshold (inclusive).
    pub min_units: i64,
    /// Upper units bound of a `reached` campaign.
    #[serde(default)]
    pub max_units: Option<i64>,
    /// Value threshold (inclusive).
    #[serde(default)]
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub min_value: Option<String>,
    /// Upper value bound of a `reached` campaign.
    #[serde(default)]
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub max_value: Option<String>,
    /// How many of a buyer's purchases are rewarded (null: all).
    #[serde(default)]
    pub per_buyer_limit: Option<i32>,
    /// `cash` (held, then withdrawable) or `credit` (store credit).
    #[serde(default)]
    pub reward: Option<String>,
    /// Most the campaign pays in total (null: no budget).
    #[serde(default)]
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub budget: Option<String>,
}

/// `scope` of a new campaign.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeInput {
    /// `product`, `seller` or `all`.
    pub kind: String,
    /// The product of a `product` scope.
    #[serde(default)]
    pub product_id: Option<Uuid>,
    /// The seller of a `seller` scope.
    #[serde(default)]
    pub seller_id: Option<Uuid>,
}

/// A new schedule: a settlement time or a cron expression, not both.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    /// Settle once, at this time.
    #[serde(default)]
    pub settle_at: Option<DateTime<Utc>>,
    /// Recur: each tick ends an occurrence's window.
    #[serde(default)]
    pub cron: Option<String>,
}

crate::words::stored_words!(
    /// Where a campaign stands.
    CampaignStatus {
        /// Waiting for its settlement.
        Scheduled = "scheduled",
        /// A template whose occurrences are scheduled one after another.
        Recurring = "recurring",
        /// Decided (and paid, if it pays).
        Settled = "settled",
        /// Cancelled before it settled: nothing was paid.
        Cancelled = "cancelled",
    }
);

crate::words::stored_words!(
    /// How a campaign pays.
    Reward {
        /// Cash, held like commissions, then withdrawable.
        Cash = "cash",
        /// Store credit, spendable at once.
        Credit = "credit",
    }
);

crate::words::stored_words!(
    /// Which products a campaign counts.
    ScopeKind {
        /// One product.
        Product = "product",
        /// Every product of one seller.
        Seller = "seller",
        /// Every product.
        All = "all",
    }
);

crate::words::stored_words!(
    /// What a settlement decided.
    Decision {
        /// It pays.
        Paid = "paid",
        /// It does not pay.
        NotPaid = "not_paid",
    }
);

/// A stored word read back: one the code does not know is an error.
fn stored<T>(word: &str, parse: fn(&str) -> Option<T>, what: &str, id: Uuid) -> DomainResult<T> {
    parse(word).ok_or_else(|| DomainError::Internal(anyhow::anyhow!("campaign {id} has the unknown {what} {word:?}")))
}

/// Which products a campaign counts.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Scope {
    /// `product`, `seller` or `all`.
    pub kind: ScopeKind,
    /// The product.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<Uuid>,
    /// The seller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seller_id: Option<Uuid>,
}

/// The stored decision, with the figures it was made on.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SettlementView {
    /// Whether it pays.
    pub decision: Decision,
    /// Units that counted.
    pub units: i64,
    /// Value that counted.
    #[schema(value_type = crate::money::DecimalText)]
    pub value: Decimal,
    /// Purchases that counted.
    pub eligible_purchases: i32,
    /// Purchases rewarded.
    pub paid_purchases: i32,
    /// Σ payouts.
    #[schema(value_type = crate::money::DecimalText)]
    pub paid_total: Decimal,
    /// The budget's scale factor, when it cut the payouts.
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub scale: Option<Decimal>,
    /// When held cash becomes withdrawable.
    pub release_at: Option<DateTime<Utc>>,
    /// When it was decided.
    pub settled_at: DateTime<Utc>,
}

/// A campaign as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Campaign {
    /// Id.
    pub id: Uuid,
    /// The recurring campaign this is an occurrence of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<Uuid>,
    /// Name.
    pub name: String,
    /// Which products count.
    pub scope: Scope,
    /// Window start.
    pub starts_at: DateTime<Utc>,
    /// Window end (exclusive).
    pub ends_at: DateTime<Utc>,
    /// Time zone of dates and cron ticks.
    pub time_zone: String,
    /// When it settles.
    pub settle_at: DateTime<Utc>,
    /// Grace after the window.
    pub grace_seconds: i32,
    /// Recurrence.
    pub cron: Option<String>,
    /// Cashback rate.
    #[schema(value_type = crate::money::DecimalText)]
    pub rate: Decimal,
    /// `reached` or `missed`.
    #[schema(value_type = crate::rules::campaign::Trigger)]
    pub trigger: String,
    /// Units threshold.
    pub min_units: i64,
    /// Units bound.
    pub max_units: Option<i64>,
    /// Value threshold.
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub min_value: Option<Decimal>,
    /// Value bound.
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub max_value: Option<Decimal>,
    /// Rewarded purchases per buyer.
    pub per_buyer_limit: Option<i32>,
    /// How it pays.
    pub reward: Reward,
    /// Budget.
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub budget: Option<Decimal>,
    /// Where it stands.
    pub status: CampaignStatus,
    /// The decision, once settled.
    pub settlement: Option<SettlementView>,
    /// A recurring campaign's occurrences so far, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub occurrences: Vec<Campaign>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A stored campaign row.
#[derive(Debug, Clone)]
struct Row {
    id: Uuid,
    parent_id: Option<Uuid>,
    name: String,
    scope_kind: String,
    product_id: Option<Uuid>,
    seller_id: Option<Uuid>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    time_zone: String,
    settle_at: DateTime<Utc>,
    grace_seconds: i32,
    cron: Option<String>,
    rate: Decimal,
    trigger: String,
    min_units: i64,
    max_units: Option<i64>,
    min_value: Option<Decimal>,
    max_value: Option<Decimal>,
    per_buyer_limit: Option<i32>,
    reward: String,
    budget: Option<Decimal>,
    status: String,
    schedule_version: i32,
    created_at: DateTime<Utc>,
}

impl Row {
    /// Where it stands.
    fn status(&self) -> DomainResult<CampaignStatus> {
        stored(&self.status, CampaignStatus::parse, "status", self.id)
    }

    /// How it pays.
    fn reward(&self) -> DomainResult<Reward> {
        stored(&self.reward, Reward::parse, "reward", self.id)
    }

    /// The terms settlement reads; a trigger the code does not know is an
    /// error, never a default.
    fn terms(&self) -> DomainResult<Terms> {
        let trigger = Trigger::parse(&self.trigger)
            .ok_or_else(|| anyhow::anyhow!("campaign {} has the unknown trigger {:?}", self.id, self.trigger))?;
        Ok(Terms {
            trigger,
            min_units: self.min_units,
            max_units: self.max_units,
            min_value: self.min_value,
            max_value: self.max_value,
            rate: self.rate,
            per_buyer_limit: self.per_buyer_limit.and_then(|l| u32::try_from(l).ok()),
            budget: self.budget,
        })
    }

    fn tz(&self) -> DomainResult<Tz> {
        self.time_zone.parse().map_err(|_| DomainError::Internal(anyhow::anyhow!("stored time zone")))
    }
}

/// What creation falls back to.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    /// The deployment's time zone.
    pub time_zone: Tz,
    /// `HAAT_CAMPAIGN_GRACE_SECONDS`.
    pub grace_seconds: i32,
}

/// Checks `input` (every problem named by its field), stores the campaign
/// and enqueues its settlement at `settle_at` (or, with `cron`, its first
/// occurrence's). Answers the campaign with `"status": "scheduled"`.
pub async fn create(
    conn: &mut PgConnection,
    input: &NewCampaign,
    defaults: Defaults,
    now: DateTime<Utc>,
) -> DomainResult<Campaign> {
    let row = check(conn, input, defaults, now).await?;
    insert(conn, &row).await?;
    enqueue_settlement(conn, &row).await?;
    if let Some(cron) = &input.cron {
        recur(conn, row.id, cron).await?;
    }
    get(conn, row.id).await
}

async fn check(
    conn: &mut PgConnection,
    input: &NewCampaign,
    defaults: Defaults,
    now: DateTime<Utc>,
) -> DomainResult<Row> {
    let mut p = Problems::default();
    let name = input.name.trim().to_owned();
    if name.is_empty() || crate::input::chars(&name) > 200 {
        p.add("name", "must be 1 to 200 characters");
    }
    let (zone, starts_at, ends_at) = crate::input::window(
        &mut p,
        (&input.starts_at, &input.ends_at),
        input.time_zone.as_deref(),
        defaults.time_zone,
    );
    if let Some(at) = input.settle_at {
        p.check("settle_at", crate::input::plausible(at));
    }
    let grace_seconds = input.grace_seconds.unwrap_or(defaults.grace_seconds);
    if !(0..=30 * 86_400).contains(&grace_seconds) {
        p.add("grace_seconds", "must be from 0 to 2592000 (30 days)");
    }
    if let (Some(at), Some(e)) = (input.settle_at, ends_at)
        && at < e
    {
        p.add("settle_at", "must not be before ends_at (settle early with POST …/settle)");
    }
    if let Some(cron) = &input.cron {
        p.check("cron", parse_cron(cron));
        if input.settle_at.is_some() {
            p.add("settle_at", "a recurring campaign settles each occurrence at its end plus the grace");
        }
    }
    let (scope_kind, product_id, seller_id) = check_scope(conn, &input.scope, &mut p).await?;
    let rate = p.check("rate", parse_rate(&input.rate));
    if rate.is_some_and(|r| r.is_zero()) {
        p.add("rate", "must be more than zero");
    }
    let trigger = match Trigger::parse(&input.trigger) {
        Some(t) => t.as_str().to_owned(),
        _ => {
            p.add("trigger", "must be \"reached\" or \"missed\"");
            String::new()
        }
    };
    let amount = |p: &mut Problems, field: &str, raw: &Option<String>| {
        raw.as_ref().and_then(|r| p.check(field, parse_amount(r, MONEY_SCALE)))
    };
    let min_value = amount(&mut p, "min_value", &input.min_value);
    let max_value = amount(&mut p, "max_value", &input.max_value);
    let budget = amount(&mut p, "budget", &input.budget);
    if budget.is_some_and(|b| b.is_zero()) {
        p.add("budget", "must be more than zero (or null for no budget)");
    }
    check_bounds(input, &trigger, min_value, max_value, &mut p);
    if input.per_buyer_limit.is_some_and(|l| l < 1) {
        p.add("per_buyer_limit", "must be at least 1 (or null for no limit)");
    }
    let reward = input.reward.clone().unwrap_or_else(|| Reward::Cash.as_str().into());
    if Reward::parse(&reward).is_none() {
        p.add("reward", "must be \"cash\" or \"credit\"");
    }
    p.finish()?;
    let (starts_at, ends_at) = (starts_at.unwrap_or_default(), ends_at.unwrap_or_default());
    Ok(Row {
        id: Uuid::now_v7(),
        parent_id: None,
        name,
        scope_kind,
        product_id,
        seller_id,
        starts_at,
        ends_at,
        time_zone: zone.name().to_owned(),
        settle_at: input.settle_at.unwrap_or(ends_at + Duration::seconds(i64::from(grace_seconds))),
        grace_seconds,
        cron: None,
        rate: rate.unwrap_or_default(),
        trigger,
        min_units: input.min_units,
        max_units: input.max_units,
        min_value,
        max_value,
        per_buyer_limit: input.per_buyer_limit,
        reward,
        budget,
        status: CampaignStatus::Scheduled.as_str().into(),
        schedule_version: 1,
        created_at: now,
    })
}

fn check_bounds(
    input: &NewCampaign,
    trigger: &str,
    min_value: Option<Decimal>,
    max_value: Option<Decimal>,
    p: &mut Problems,
) {
    if input.min_units < 0 {
        p.add("min_units", "must not be negative");
    }
    if input.max_units.is_some_and(|max| max < input.min_units) {
        p.add("max_units", "must not be below min_units");
    }
    if let (Some(min), Some(max)) = (min_value, max_value)
        && max < min
    {
        p.add("max_value", "must not be below min_value");
    }
    if trigger == "missed" {
        if input.max_units.is_some() {
            p.add("max_units", "a missed campaign has no upper bound");
        }
        if input.max_value.is_some() {
            p.add("max_value", "a missed campaign has no upper bound");
        }
        if input.min_units == 0 && min_value.is_none() {
            p.add("min_units", "a missed campaign needs a target: min_units above zero or min_value");
        }
    }
}

async fn check_scope(
    conn: &mut PgConnection,
    scope: &ScopeInput,
    p: &mut Problems,
) -> DomainResult<(String, Option<Uuid>, Option<Uuid>)> {
    match (scope.kind.as_str(), scope.product_id, scope.seller_id) {
        ("product", Some(product), None) => {
            let exists =
                sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM products WHERE id = $1) AS "e!""#, product)
                    .fetch_one(conn)
                    .await?;
            if !exists {
                p.add("scope.product_id", "is not a product");
            }
            Ok(("product".into(), Some(product), None))
        }
        ("product", _, _) => {
            p.add("scope.product_id", "a product scope names product_id (and no seller_id)");
            Ok(Default::default())
        }
        ("seller", None, Some(seller)) => Ok(("seller".into(), None, Some(seller))),
        ("seller", _, _) => {
            p.add("scope.seller_id", "a seller scope names seller_id (and no product_id)");
            Ok(Default::default())
        }
        ("all", None, None) => Ok(("all".into(), None, None)),
        ("all", _, _) => {
            p.add("scope", "an all scope names no product or seller");
            Ok(Default::default())
        }
        _ => {
            p.add("scope.kind", "must be \"product\", \"seller\" or \"all\"");
            Ok(Default::default())
        }
    }
}

fn parse_cron(raw: &str) -> Result<cron::Schedule, String> {
    cron::Schedule::from_str(raw).map_err(|e| format!("must be a cron expression with seconds: {e}"))
}

async fn insert(conn: &mut PgConnection, r: &Row) -> DomainResult<()> {
    sqlx::query!(
        "INSERT INTO campaigns (id, parent_id, name, scope_kind, product_id, seller_id, starts_at, ends_at, time_zone,
                                settle_at, grace_seconds, cron, rate, trigger, min_units, max_units, min_value,
                                max_value, per_buyer_limit, reward, budget, status, schedule_version, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
                 $23, $24)",
        r.id,
        r.parent_id,
        r.name,
        r.scope_kind,
        r.product_id,
        r.seller_id,
        r.starts_at,
        r.ends_at,
        r.time_zone,
        r.settle_at,
        r.grace_seconds,
        r.cron,
        r.rate,
        r.trigger,
        r.min_units,
        r.max_units,
        r.min_value,
        r.max_value,
        r.per_buyer_limit,
        r.reward,
        r.budget,
        r.status,
        r.schedule_version,
        r.created_at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The settle job of the row's current schedule, at `settle_at` (which
/// `jobs::enqueue` rounds up to the queue's second, so it never runs early).
async fn enqueue_settlement(conn: &mut PgConnection, r: &Row) -> DomainResult<CampaignTask> {
    let job = CampaignTask { campaign_id: r.id, step: CampaignStep::Settle { version: r.schedule_version } };
    jobs::enqueue(conn, &job, Some(r.settle_at)).await?;
    Ok(job)
}

/// Reads and locks a campaign row.
async fn lock(conn: &mut PgConnection, id: Uuid) -> DomainResult<Row> {
    sqlx::query_as!(Row, "SELECT * FROM campaigns WHERE id = $1 FOR UPDATE", id)
        .fetch_optional(conn)
        .await?
        .ok_or(DomainError::NotFound("campaign"))
}

fn still_scheduled(r: &Row) -> DomainResult<()> {
    match r.status()? {
        CampaignStatus::Scheduled => Ok(()),
        CampaignStatus::Recurring => Err(DomainError::conflict(
            "status",
            "the campaign is recurring: schedule, settle or cancel its occurrences, or cancel it",
        )),
        other => Err(DomainError::conflict("status", format!("the campaign is {other}"))),
    }
}

/// Moves a scheduled campaign's settlement to `input.settle_at`, or makes
/// it recurring on `input.cron`. An older schedule's job then does nothing.
pub async fn schedule(conn: &mut PgConnection, id: Uuid, input: &ScheduleInput) -> DomainResult<Campaign> {
    let row = lock(conn, id).await?;
    match (input.settle_at, &input.cron) {
        (Some(at), None) => {
            still_scheduled(&row)?;
            crate::input::plausible(at).map_err(|e| DomainError::invalid("settle_at", e.to_string()))?;
            if at < row.ends_at {
                return Err(DomainError::invalid(
                    "settle_at",
                    "must not be before ends_at (settle early with POST …/settle)",
                ));
            }
            reschedule(conn, row, at).await?;
        }
        (None, Some(cron)) => {
            still_scheduled(&row)?;
            if row.parent_id.is_some() {
                return Err(DomainError::invalid("cron", "an occurrence of a recurring campaign cannot recur"));
            }
            parse_cron(cron).map_err(|m| DomainError::invalid("cron", m))?;
            recur(conn, id, cron).await?;
        }
        _ => return Err(DomainError::invalid("settle_at", "give either settle_at or cron")),
    }
    get(conn, id).await
}

/// Settles now: the same job, enqueued for now under a new schedule.
/// Returns the campaign and the job that settles it.
pub async fn settle_now(
    conn: &mut PgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> DomainResult<(Campaign, CampaignTask)> {
    let row = lock(conn, id).await?;
    still_scheduled(&row)?;
    let job = reschedule(conn, row, now).await?;
    Ok((get(conn, id).await?, job))
}

async fn reschedule(conn: &mut PgConnection, mut row: Row, at: DateTime<Utc>) -> DomainResult<CampaignTask> {
    row.settle_at = at;
    row.schedule_version += 1;
    sqlx::query!(
        "UPDATE campaigns SET settle_at = $2, schedule_version = $3 WHERE id = $1",
        row.id,
        row.settle_at,
        row.schedule_version
    )
    .execute(&mut *conn)
    .await?;
    enqueue_settlement(conn, &row).await
}

/// Cancels a campaign before settlement (a recurring one with its
/// occurrences not yet settled; a single occurrence, and the next one is
/// scheduled). Nothing was paid, so nothing moves.
pub async fn cancel(conn: &mut PgConnection, id: Uuid) -> DomainResult<Campaign> {
    let row = lock(conn, id).await?;
    let status = row.status()?;
    if !matches!(status, CampaignStatus::Scheduled | CampaignStatus::Recurring) {
        return Err(DomainError::conflict("status", format!("the campaign is {status}")));
    }
    sqlx::query!(
        "UPDATE campaigns SET status = 'cancelled'
          WHERE (id = $1 OR parent_id = $1) AND status IN ('scheduled', 'recurring')",
        id
    )
    .execute(&mut *conn)
    .await?;
    // One occurrence cancelled: the recurring campaign goes on with the next.
    next_occurrence(conn, &row).await?;
    get(conn, id).await
}

/// Makes a scheduled campaign recurring on `cron` (already checked): its
/// own schedule lapses and its first occurrence is scheduled.
async fn recur(conn: &mut PgConnection, id: Uuid, cron: &str) -> DomainResult<()> {
    let template = sqlx::query_as!(
        Row,
        "UPDATE campaigns SET status = 'recurring', cron = $2, schedule_version = schedule_version + 1
          WHERE id = $1 RETURNING *",
        id,
        cron
    )
    .fetch_one(&mut *conn)
    .await?;
    schedule_occurrence(conn, &template, template.starts_at).await
}

/// Stores and schedules the occurrence of `template` that starts at
/// `start` (once: a second call finds it).
async fn schedule_occurrence(conn: &mut PgConnection, template: &Row, start: DateTime<Utc>) -> DomainResult<()> {
    let schedule = parse_cron(template.cron.as_deref().unwrap_or_default())
        .map_err(|m| DomainError::Internal(anyhow::anyhow!("stored cron: {m}")))?;
    let end = occurrence_end(&schedule, template.tz()?, start, template.ends_at);
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM campaigns WHERE parent_id = $1 AND starts_at = $2) AS "e!""#,
        template.id,
        start
    )
    .fetch_one(&mut *conn)
    .await?;
    if exists {
        return Ok(());
    }
    let occurrence = Row {
        id: Uuid::now_v7(),
        parent_id: Some(template.id),
        starts_at: start,
        ends_at: end,
        settle_at: end + Duration::seconds(i64::from(template.grace_seconds)),
        cron: None,
        status: CampaignStatus::Scheduled.as_str().into(),
        schedule_version: 1,
        created_at: Utc::now(),
        ..template.clone()
    };
    insert(conn, &occurrence).await?;
    enqueue_settlement(conn, &occurrence).await?;
    Ok(())
}

/// After an occurrence settled or was cancelled: the next one, or, when it
/// was the last, the template is settled too.
async fn next_occurrence(conn: &mut PgConnection, occurrence: &Row) -> DomainResult<()> {
    let Some(parent) = occurrence.parent_id else { return Ok(()) };
    let template = lock(conn, parent).await?;
    if template.status()? != CampaignStatus::Recurring {
        return Ok(());
    }
    if occurrence.ends_at < template.ends_at {
        schedule_occurrence(conn, &template, occurrence.ends_at).await
    } else {
        sqlx::query!("UPDATE campaigns SET status = 'settled' WHERE id = $1", parent).execute(conn).await?;
        Ok(())
    }
}

/// A campaign with its settlement (and a recurring one's occurrences).
pub async fn get(conn: &mut PgConnection, id: Uuid) -> DomainResult<Campaign> {
    let row = sqlx::query_as!(Row, "SELECT * FROM campaigns WHERE id = $1", id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(DomainError::NotFound("campaign"))?;
    let children = sqlx::query_as!(Row, "SELECT * FROM campaigns WHERE parent_id = $1 ORDER BY starts_at", id)
        .fetch_all(&mut *conn)
        .await?;
    let mut campaign = view(conn, row).await?;
    for child in children {
        campaign.occurrences.push(view(conn, child).await?);
    }
    Ok(campaign)
}

/// A page of the campaigns that are not occurrences, newest first,
/// before cursor `before`.
pub async fn list(conn: &mut PgConnection, before: Option<Uuid>, limit: i64) -> DomainResult<Vec<Campaign>> {
    let rows = sqlx::query_as!(
        Row,
        "SELECT * FROM campaigns WHERE parent_id IS NULL AND ($1::uuid IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
        before,
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(view(conn, r).await?);
    }
    Ok(out)
}

async fn view(conn: &mut PgConnection, r: Row) -> DomainResult<Campaign> {
    let settlement = sqlx::query!("SELECT * FROM campaign_settlements WHERE campaign_id = $1", r.id)
        .fetch_optional(conn)
        .await?
        .map(|s| {
            Ok::<_, DomainError>(SettlementView {
                decision: stored(&s.decision, Decision::parse, "decision", r.id)?,
                units: s.units,
                value: in_minor_units(s.value),
                eligible_purchases: s.eligible_purchases,
                paid_purchases: s.paid_purchases,
                paid_total: in_minor_units(s.paid_total),
                scale: s.scale,
                release_at: s.release_at,
                settled_at: s.settled_at,
            })
        })
        .transpose()?;
    let (status, reward) = (r.status()?, r.reward()?);
    Ok(Campaign {
        id: r.id,
        parent_id: r.parent_id,
        name: r.name,
        scope: Scope {
            kind: stored(&r.scope_kind, ScopeKind::parse, "scope", r.id)?,
            product_id: r.product_id,
            seller_id: r.seller_id,
        },
        starts_at: r.starts_at,
        ends_at: r.ends_at,
        time_zone: r.time_zone,
        settle_at: r.settle_at,
        grace_seconds: r.grace_seconds,
        cron: r.cron,
        rate: r.rate.normalize(),
        trigger: r.trigger,
        min_units: r.min_units,
        max_units: r.max_units,
        min_value: r.min_value.map(in_minor_units),
        max_value: r.max_value.map(in_minor_units),
        per_buyer_limit: r.per_buyer_limit,
        reward,
        budget: r.budget.map(in_minor_units),
        status,
        settlement,
        occurrences: Vec::new(),
        created_at: r.created_at,
    })
}

/// The audit's campaign check (DESIGN §10.4): every settled campaign's
/// payouts stay within its budget and per-buyer limit, sum to the stored
/// `paid_total`, and exist only when the decision was `paid`. Returns one
/// line per violation.
pub async fn audit(conn: &mut PgConnection) -> DomainResult<Vec<String>> {
    Ok(sqlx::query_scalar!(
        r#"WITH paid AS (
               SELECT campaign_id, buyer_id, count(*) AS n, sum(amount) AS total
                 FROM campaign_payouts GROUP BY campaign_id, buyer_id
           ), per_campaign AS (
               SELECT campaign_id, sum(total) AS total, max(n) AS most FROM paid GROUP BY campaign_id
           )
           SELECT c.id::text || ': ' || v.what AS "violation!"
             FROM campaigns c
             JOIN campaign_settlements s ON s.campaign_id = c.id
             LEFT JOIN per_campaign p ON p.campaign_id = c.id
            CROSS JOIN LATERAL (VALUES
                  (CASE WHEN c.budget IS NOT NULL AND coalesce(p.total, 0) > c.budget
                        THEN 'paid ' || p.total || ' over the budget of ' || c.budget END),
                  (CASE WHEN c.per_buyer_limit IS NOT NULL AND coalesce(p.most, 0) > c.per_buyer_limit
                        THEN 'a buyer was paid ' || p.most || ' purchases over the limit of ' || c.per_buyer_limit END),
                  (CASE WHEN coalesce(p.total, 0) <> s.paid_total
                        THEN 'payouts sum to ' || coalesce(p.total, 0) || ', the settlement says ' || s.paid_total END),
                  (CASE WHEN s.decision = 'not_paid' AND p.total IS NOT NULL THEN 'not_paid but has payouts' END)
            ) AS v (what)
            WHERE v.what IS NOT NULL
            ORDER BY 1"#
    )
    .fetch_all(conn)
    .await?)
}
