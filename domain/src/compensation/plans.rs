//! Compensation plan versions: immutable once written; the version in
//! effect when an order becomes commissionable is the one it uses forever.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult, Problems};
use crate::money::{MONEY_SCALE, Money, Rate, VOLUME_SCALE, Volume, parse_amount, parse_rate};
use crate::rewards::campaigns::Reward;
use crate::rules::cascade::{Compression, LevelRates, PlanRules};
pub use crate::rules::loyalty::Tier;
use crate::rules::order_state::CreditOn;
use crate::rules::period::{PeriodBonus, Rank};

/// The most levels a plan may pay (a bound on the cascade's upline walk).
pub const MAX_LEVELS: usize = 50;

/// A plan version as the admin sends it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    /// Name.
    pub name: String,
    /// A draft is never in effect until activated: it can be simulated on
    /// past orders first.
    #[serde(default)]
    pub draft: bool,
    /// From when it applies.
    pub effective_from: DateTime<Utc>,
    /// `paid` or `delivered` (default).
    #[serde(default)]
    pub credit_on: Option<CreditOn>,
    /// Days credits stay pending (default 7).
    #[serde(default)]
    pub holding_days: Option<i64>,
    /// Level rates on BV, nearest first.
    #[schema(value_type = Vec<crate::money::DecimalText>)]
    pub levels: Vec<String>,
    /// Category rate tables.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, Vec<crate::money::DecimalText>>)]
    pub category_levels: BTreeMap<String, Vec<String>>,
    /// Product rate tables, by product id.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, Vec<crate::money::DecimalText>>)]
    pub product_levels: BTreeMap<String, Vec<String>>,
    /// The referrer's rate on a guest order's BV (default "0").
    #[serde(default)]
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub retail_rate: Option<String>,
    /// The pickup point operator's rate on the order's BV (default "0").
    #[serde(default)]
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub pickup_rate: Option<String>,
    /// Personal PV an upline needs to earn level commissions (default "0").
    #[serde(default)]
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub min_personal_pv: Option<String>,
    /// The window, in days before the credit time, that personal PV is
    /// counted over (1..=366, default 30).
    #[serde(default)]
    pub active_window_days: Option<i64>,
    /// `none` (default) or `dynamic`.
    #[serde(default)]
    pub compression: Option<String>,
    /// The buyer's instant reward per order, a share of what they paid
    /// for each line (default "0").
    #[serde(default)]
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub order_cashback_rate: Option<String>,
    /// `credit` (default: points, i.e. store credit that expires) or `cash`.
    #[serde(default)]
    pub order_cashback_reward: Option<String>,
    /// Tiers by trailing 12-month spend that raise the earn rate (an extension).
    #[serde(default)]
    pub tiers: Vec<TierInput>,
    /// Days after an order's credit time that its points expire (default 365).
    #[serde(default)]
    pub points_expiry_days: Option<i64>,
    /// The most an order's commissions may total, as a share of its BV
    /// (default null: no cap).
    #[serde(default)]
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub payout_cap_rate: Option<String>,
    /// Ranks, lowest first, evaluated at period close.
    #[serde(default)]
    pub ranks: Vec<RankInput>,
    /// Team-target bonuses paid at period close.
    #[serde(default)]
    pub period_bonuses: Vec<BonusInput>,
}

/// A tier as the admin sends it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierInput {
    /// Name, unique in the plan.
    pub name: String,
    /// Trailing 12-month spend needed (inclusive).
    #[schema(value_type = crate::money::DecimalText)]
    pub min_spend: String,
    /// The earn rate at this tier.
    #[schema(value_type = crate::money::DecimalText)]
    pub rate: String,
}

/// A rank as the admin sends it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RankInput {
    /// Name, unique in the plan.
    pub name: String,
    /// Personal PV needed in the period (default "0").
    #[serde(default)]
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub min_personal_pv: Option<String>,
    /// Group PV needed in the period (default "0").
    #[serde(default)]
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub min_group_pv: Option<String>,
}

/// A team-target bonus as the admin sends it: `amount` or `rate`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BonusInput {
    /// Name, unique in the plan (part of the ledger key).
    pub name: String,
    /// Group PV needed in the period.
    #[schema(value_type = crate::money::DecimalText)]
    pub min_group_pv: String,
    /// The paid-as rank needed, by name.
    #[serde(default)]
    pub min_rank: Option<String>,
    /// A fixed amount.
    #[serde(default)]
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub amount: Option<String>,
    /// Or a rate of group BV.
    #[serde(default)]
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub rate: Option<String>,
}

/// A validated plan version, as stored (in `plans.document`) and answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Plan {
    /// Id.
    pub id: Uuid,
    /// Version number, increasing.
    pub version: i32,
    /// Not in effect until activated.
    #[serde(default)]
    pub draft: bool,
    /// Name.
    pub name: String,
    /// From when it applies.
    pub effective_from: DateTime<Utc>,
    /// When orders become commissionable.
    pub credit_on: CreditOn,
    /// Escrow days.
    pub holding_days: i32,
    /// Level rates.
    pub levels: Vec<Rate>,
    /// Category rate tables.
    pub category_levels: BTreeMap<String, Vec<Rate>>,
    /// Product rate tables.
    pub product_levels: BTreeMap<Uuid, Vec<Rate>>,
    /// Retail margin rate for guest orders' referrers.
    pub retail_rate: Rate,
    /// Pickup point operator rate.
    pub pickup_rate: Rate,
    /// Personal PV needed to qualify.
    pub min_personal_pv: Volume,
    /// The qualification window.
    pub active_window_days: i32,
    /// `none` or `dynamic`.
    pub compression: Compression,
    /// Instant cashback rate per order.
    pub order_cashback_rate: Rate,
    /// Store credit (points) or cash.
    pub order_cashback_reward: Reward,
    /// Tiers that raise the earn rate.
    #[serde(default)]
    pub tiers: Vec<Tier>,
    /// Days until points expire.
    #[serde(default = "default_points_expiry_days")]
    pub points_expiry_days: i32,
    /// Optional cap on payouts as a share of BV.
    pub payout_cap_rate: Option<Rate>,
    /// Ranks, lowest first.
    #[serde(default)]
    pub ranks: Vec<Rank>,
    /// Team-target bonuses.
    #[serde(default)]
    pub period_bonuses: Vec<PeriodBonus>,
    /// When this version was written.
    pub created_at: DateTime<Utc>,
}

impl Plan {
    /// The rate tables the cascade uses.
    pub fn level_rates(&self) -> LevelRates {
        LevelRates {
            levels: self.levels.clone(),
            category_levels: self.category_levels.clone(),
            product_levels: self.product_levels.clone(),
        }
    }

    /// Everything the cascade reads from this version.
    pub fn rules(&self) -> PlanRules {
        PlanRules {
            rates: self.level_rates(),
            retail_rate: self.retail_rate,
            pickup_rate: self.pickup_rate,
            min_personal_pv: self.min_personal_pv,
            compression: self.compression,
            payout_cap_rate: self.payout_cap_rate,
        }
    }
}

fn rates(p: &mut Problems, field: &str, raw: &[String]) -> Vec<Rate> {
    if raw.len() > MAX_LEVELS {
        p.add(field, format!("at most {MAX_LEVELS} levels"));
    }
    raw.iter().enumerate().filter_map(|(i, r)| p.check(&format!("{field}[{i}]"), Rate::parse(r))).collect()
}

fn volume(p: &mut Problems, field: &str, raw: &Option<String>) -> Decimal {
    raw.as_ref().and_then(|r| p.check(field, parse_amount(r, VOLUME_SCALE))).unwrap_or(Decimal::new(0, VOLUME_SCALE))
}

fn ranks_of(p: &mut Problems, input: &[RankInput]) -> Vec<Rank> {
    let mut out: Vec<Rank> = Vec::new();
    for (i, r) in input.iter().enumerate() {
        let name = r.name.trim();
        if name.is_empty() || crate::input::chars(name) > 50 || out.iter().any(|o| o.name == name) {
            p.add(format!("ranks[{i}].name"), "must be 1 to 50 characters and unique");
        }
        out.push(Rank {
            name: name.to_owned(),
            min_personal_pv: volume(p, &format!("ranks[{i}].min_personal_pv"), &r.min_personal_pv),
            min_group_pv: volume(p, &format!("ranks[{i}].min_group_pv"), &r.min_group_pv),
        });
    }
    out
}

fn bonuses_of(p: &mut Problems, input: &[BonusInput], ranks: &[Rank]) -> Vec<PeriodBonus> {
    let mut out: Vec<PeriodBonus> = Vec::new();
    for (i, b) in input.iter().enumerate() {
        let field = |f: &str| format!("period_bonuses[{i}].{f}");
        let name = b.name.trim();
        let name_ok =
            !name.is_empty() && name.len() <= 50 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok || out.iter().any(|o| o.name == name) {
            p.add(field("name"), "must be 1 to 50 letters, digits or _, and unique");
        }
        if b.min_rank.as_ref().is_some_and(|m| !ranks.iter().any(|r| &r.name == m)) {
            p.add(field("min_rank"), "must name one of the plan's ranks");
        }
        let amount = b.amount.as_ref().and_then(|a| p.check(&field("amount"), parse_amount(a, MONEY_SCALE)));
        let rate = b.rate.as_ref().and_then(|r| p.check(&field("rate"), parse_rate(r)));
        if b.amount.is_some() == b.rate.is_some() {
            p.add(field("amount"), "give exactly one of amount or rate");
        }
        out.push(PeriodBonus {
            name: name.to_owned(),
            min_group_pv: volume(p, &field("min_group_pv"), &Some(b.min_group_pv.clone())),
            min_rank: b.min_rank.clone(),
            amount,
            rate,
        });
    }
    out
}

/// A rate that defaults to zero.
fn optional_rate(p: &mut Problems, field: &str, raw: &Option<String>) -> Rate {
    raw.as_ref().and_then(|r| p.check(field, Rate::parse(r))).unwrap_or_default()
}

fn default_points_expiry_days() -> i32 {
    365
}

fn tiers_of(p: &mut Problems, input: &[TierInput]) -> Vec<Tier> {
    let mut out: Vec<Tier> = Vec::new();
    for (i, t) in input.iter().enumerate() {
        let field = |f: &str| format!("tiers[{i}].{f}");
        let name = t.name.trim();
        if name.is_empty() || crate::input::chars(name) > 50 || out.iter().any(|o| o.name == name) {
            p.add(field("name"), "must be 1 to 50 characters and unique");
        }
        let min_spend = p.check(&field("min_spend"), Money::parse(&t.min_spend));
        if min_spend.is_some_and(|m| out.iter().any(|o| o.min_spend == m)) {
            p.add(field("min_spend"), "another tier has the same min_spend");
        }
        let rate = p.check(&field("rate"), Rate::parse(&t.rate));
        out.push(Tier {
            name: name.to_owned(),
            min_spend: min_spend.unwrap_or_default(),
            rate: rate.unwrap_or_default(),
        });
    }
    out
}

fn validate(input: &PlanInput) -> DomainResult<Plan> {
    let mut p = Problems::default();
    if input.name.trim().is_empty() || crate::input::chars(&input.name) > 200 {
        p.add("name", "must be 1 to 200 characters");
    }
    let holding_days = input.holding_days.unwrap_or(7);
    if !(0..=3650).contains(&holding_days) {
        p.add("holding_days", "must be a whole number of days from 0 to 3650");
    }
    if input.levels.is_empty() {
        p.add("levels", "must list at least one rate");
    }
    let levels = rates(&mut p, "levels", &input.levels);
    let category_levels = input
        .category_levels
        .iter()
        .map(|(k, v)| (k.clone(), rates(&mut p, &format!("category_levels.{k}"), v)))
        .collect();
    let mut product_levels = BTreeMap::new();
    for (k, v) in &input.product_levels {
        let field = format!("product_levels.{k}");
        match Uuid::parse_str(k) {
            Ok(id) => {
                product_levels.insert(id, rates(&mut p, &field, v));
            }
            Err(_) => p.add(field, "keys must be product ids"),
        }
    }
    let retail_rate = optional_rate(&mut p, "retail_rate", &input.retail_rate);
    let pickup_rate = optional_rate(&mut p, "pickup_rate", &input.pickup_rate);
    let min_personal_pv = Volume(volume(&mut p, "min_personal_pv", &input.min_personal_pv));
    let order_cashback_rate = optional_rate(&mut p, "order_cashback_rate", &input.order_cashback_rate);
    let tiers = tiers_of(&mut p, &input.tiers);
    let points_expiry_days = input.points_expiry_days.unwrap_or(365);
    if !(1..=3650).contains(&points_expiry_days) {
        p.add("points_expiry_days", "must be a whole number of days from 1 to 3650");
    }
    let payout_cap_rate = input.payout_cap_rate.as_ref().and_then(|raw| p.check("payout_cap_rate", Rate::parse(raw)));
    let active_window_days = input.active_window_days.unwrap_or(30);
    if !(1..=366).contains(&active_window_days) {
        p.add("active_window_days", "must be a whole number of days from 1 to 366");
    }
    let compression = match input.compression.as_deref().unwrap_or("none") {
        "none" => Compression::None,
        "dynamic" => Compression::Dynamic,
        _ => {
            p.add("compression", "must be \"none\" or \"dynamic\"");
            Compression::None
        }
    };
    let reward = match input.order_cashback_reward.as_deref() {
        None => Reward::Credit,
        Some(word) => Reward::parse(word).unwrap_or_else(|| {
            p.add("order_cashback_reward", "must be \"credit\" or \"cash\"");
            Reward::Credit
        }),
    };
    let ranks = ranks_of(&mut p, &input.ranks);
    let period_bonuses = bonuses_of(&mut p, &input.period_bonuses, &ranks);
    p.finish()?;
    Ok(Plan {
        id: Uuid::now_v7(),
        version: 0,
        draft: input.draft,
        name: input.name.trim().to_owned(),
        effective_from: input.effective_from,
        credit_on: input.credit_on.unwrap_or(CreditOn::Delivered),
        holding_days: holding_days as i32,
        levels,
        category_levels,
        product_levels,
        retail_rate,
        pickup_rate,
        min_personal_pv,
        active_window_days: active_window_days as i32,
        compression,
        order_cashback_rate,
        order_cashback_reward: reward,
        tiers,
        points_expiry_days: points_expiry_days as i32,
        payout_cap_rate,
        ranks,
        period_bonuses,
        created_at: Utc::now(),
    })
}

/// Writes a new plan version.
pub async fn create(conn: &mut PgConnection, input: &PlanInput) -> DomainResult<Plan> {
    let mut plan = validate(input)?;
    let credit_on = match plan.credit_on {
        CreditOn::Paid => "paid",
        CreditOn::Delivered => "delivered",
    };
    let row = sqlx::query!(
        "INSERT INTO plans (id, name, effective_from, credit_on, holding_days, document, draft)
         VALUES ($1, $2, $3, $4, $5, '{}', $6) RETURNING version, created_at",
        plan.id,
        plan.name,
        plan.effective_from,
        credit_on,
        plan.holding_days,
        plan.draft
    )
    .fetch_one(&mut *conn)
    .await?;
    plan.version = row.version;
    plan.created_at = row.created_at;
    let document = serde_json::to_value(&plan).map_err(anyhow::Error::from)?;
    sqlx::query!("UPDATE plans SET document = $2 WHERE id = $1", plan.id, document).execute(conn).await?;
    Ok(plan)
}

fn from_document(doc: serde_json::Value) -> DomainResult<Plan> {
    serde_json::from_value(doc).map_err(|e| DomainError::Internal(anyhow::anyhow!("stored plan: {e}")))
}

/// A page of plan versions, newest first, before cursor `before`.
pub async fn list(conn: &mut PgConnection, before: Option<Uuid>, limit: i64) -> DomainResult<Vec<Plan>> {
    sqlx::query_scalar!(
        "SELECT document FROM plans WHERE ($1::uuid IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
        before,
        limit
    )
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(from_document)
    .collect()
}

/// A plan version by id.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> DomainResult<Plan> {
    if let Some(plan) = in_force_cache().get(&id) {
        return Ok(plan.clone());
    }
    let doc = sqlx::query_scalar!("SELECT document FROM plans WHERE id = $1", id)
        .fetch_optional(conn)
        .await?
        .ok_or(DomainError::NotFound("plan"))?;
    let plan = from_document(doc)?;
    if !plan.draft {
        in_force_cache().insert(id, plan.clone());
    }
    Ok(plan)
}

/// Plan versions put into effect, by id, as this process has read them:
/// such a version is never changed again (only a draft is, and activation
/// is its last change), and its id is never reused, so a copy read once
/// stays true — every cascade of it saves a read. Versions are few.
fn in_force_cache() -> std::sync::MutexGuard<'static, std::collections::HashMap<Uuid, Plan>> {
    static PLANS: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<Uuid, Plan>>> =
        std::sync::LazyLock::new(Default::default);
    PLANS.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The version in effect at `at`: the newest one effective by then.
pub async fn in_effect(conn: &mut PgConnection, at: DateTime<Utc>) -> DomainResult<Option<Plan>> {
    sqlx::query_scalar!(
        "SELECT document FROM plans WHERE effective_from <= $1 AND NOT draft
          ORDER BY effective_from DESC, version DESC LIMIT 1",
        at
    )
    .fetch_optional(conn)
    .await?
    .map(from_document)
    .transpose()
}

/// Puts a draft version into effect (from its `effective_from`, for orders
/// that become commissionable from now on). From then on it is immutable.
/// Activating an active version changes nothing.
pub async fn activate(conn: &mut PgConnection, id: Uuid) -> DomainResult<Plan> {
    sqlx::query!(
        "UPDATE plans SET draft = false, document = jsonb_set(document, '{draft}', 'false') WHERE id = $1 AND draft",
        id
    )
    .execute(&mut *conn)
    .await?;
    get(conn, id).await
}
