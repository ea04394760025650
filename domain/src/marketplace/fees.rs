//! Fee schedules: versions of the marketplace's terms (a rate by category
//! with a default, per-seller overrides, a fixed fee per item, the business
//! days a seller's share is held after delivery). A version is never
//! changed once written: a new one is created, then activated, and the
//! last activated is in force. Each order line of a seller's product keeps
//! the version and the rate it was sold under, so a later schedule never
//! moves a line already sold.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult, Problems};
use crate::money::{Money, Rate};
use crate::rules::marketplace_fee::Rates;

/// A seller's own rate in a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SellerRate {
    /// The seller.
    pub seller_id: Uuid,
    /// One category, or every category of the seller when absent.
    #[serde(default)]
    pub category: Option<String>,
    /// The rate (a fraction: `"0.06"` is 6%).
    #[schema(value_type = crate::money::DecimalText)]
    pub rate: String,
}

/// `POST /v1/admin/fee-schedules`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFeeSchedule {
    /// Name (1 to 200 characters).
    pub name: String,
    /// The rate of a category not listed (a fraction: `"0.05"` is 5%).
    #[schema(value_type = crate::money::DecimalText)]
    pub default_rate: String,
    /// Rates by category.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, crate::money::DecimalText>)]
    pub categories: BTreeMap<String, String>,
    /// Sellers' own rates.
    #[serde(default)]
    pub sellers: Vec<SellerRate>,
    /// A fixed fee per unit sold (`"0.00"` allowed).
    #[schema(value_type = crate::money::DecimalText)]
    pub per_item_fee: String,
    /// Business days a seller's share is held after delivery (0 to 60).
    pub seller_hold_business_days: i32,
    /// Charged to a seller for each line not prepared in time (default
    /// `"0.00"`).
    #[serde(default)]
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub late_line_penalty: Option<String>,
}

/// A fee schedule version as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeeSchedule {
    /// Id.
    pub id: Uuid,
    /// Version number, in creation order.
    pub version: i32,
    /// Name.
    pub name: String,
    /// The rate of a category not listed.
    pub default_rate: Rate,
    /// Rates by category.
    #[schema(value_type = BTreeMap<String, crate::money::DecimalText>)]
    pub categories: BTreeMap<String, Rate>,
    /// Sellers' own rates.
    pub sellers: Vec<SellerRateView>,
    /// The fixed fee per unit.
    pub per_item_fee: Money,
    /// Business days a seller's share is held after delivery.
    pub seller_hold_business_days: i32,
    /// Charged for each line not prepared in time.
    pub late_line_penalty: Money,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// When it was activated (absent: never).
    pub activated_at: Option<DateTime<Utc>>,
    /// Whether it is the schedule lines are sold under now.
    pub in_force: bool,
}

/// A seller's own rate, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SellerRateView {
    /// The seller.
    pub seller_id: Uuid,
    /// One category, or every category of the seller when absent.
    pub category: Option<String>,
    /// The rate.
    pub rate: Rate,
}

struct Parsed {
    default_rate: Rate,
    categories: BTreeMap<String, Rate>,
    sellers: Vec<SellerRateView>,
    per_item_fee: Money,
    late_line_penalty: Money,
}

/// A stored rate as the API shows it: no trailing zeros beyond two places
/// (`0.04`, `0.055`).
pub(crate) fn shown(rate: rust_decimal::Decimal) -> Rate {
    let mut d = rate.normalize();
    if d.scale() < 2 {
        d.rescale(2);
    }
    Rate(d)
}

fn category_ok(category: &str) -> bool {
    !category.trim().is_empty() && crate::input::chars(category) <= 64
}

fn parse(input: &NewFeeSchedule) -> DomainResult<Parsed> {
    let mut p = Problems::default();
    if input.name.trim().is_empty() || crate::input::chars(&input.name) > 200 {
        p.add("name", "must be 1 to 200 characters");
    }
    let default_rate = p.check("default_rate", Rate::parse(&input.default_rate));
    let per_item_fee = p.check("per_item_fee", Money::parse(&input.per_item_fee));
    let penalty = input.late_line_penalty.as_deref().unwrap_or("0.00");
    let late_line_penalty = p.check("late_line_penalty", Money::parse(penalty));
    if !(0..=60).contains(&input.seller_hold_business_days) {
        p.add("seller_hold_business_days", "must be 0 to 60 business days");
    }
    let mut categories = BTreeMap::new();
    for (category, rate) in &input.categories {
        let field = format!("categories.{category}");
        if !category_ok(category) {
            p.add(field.clone(), "a category must be 1 to 64 characters");
        }
        if let Some(rate) = p.check(&field, Rate::parse(rate)) {
            categories.insert(category.trim().to_owned(), rate);
        }
    }
    let mut sellers = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, s) in input.sellers.iter().enumerate() {
        if s.category.as_deref().is_some_and(|c| !category_ok(c)) {
            p.add(format!("sellers[{i}].category"), "a category must be 1 to 64 characters");
        }
        let category = s.category.as_deref().map(|c| c.trim().to_owned());
        if !seen.insert((s.seller_id, category.clone())) {
            p.add(format!("sellers[{i}]"), "names a seller and category already given");
        }
        if let Some(rate) = p.check(&format!("sellers[{i}].rate"), Rate::parse(&s.rate)) {
            sellers.push(SellerRateView { seller_id: s.seller_id, category, rate });
        }
    }
    p.finish()?;
    Ok(Parsed {
        default_rate: default_rate.unwrap_or_default(),
        categories,
        sellers,
        per_item_fee: per_item_fee.unwrap_or_default(),
        late_line_penalty: late_line_penalty.unwrap_or_default(),
    })
}

/// Writes a new schedule version, not yet in force.
pub async fn create(conn: &mut PgConnection, input: &NewFeeSchedule) -> DomainResult<FeeSchedule> {
    let parsed = parse(input)?;
    let mut p = Problems::default();
    for (i, s) in parsed.sellers.iter().enumerate() {
        let known =
            sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM sellers WHERE id = $1) AS "known!""#, s.seller_id)
                .fetch_one(&mut *conn)
                .await?;
        if !known {
            p.add(format!("sellers[{i}].seller_id"), "no such seller");
        }
    }
    p.finish()?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO fee_schedules (id, name, default_rate, per_item_fee, seller_hold_business_days, late_line_penalty)
         VALUES ($1, $2, $3, $4, $5, $6)",
        id,
        input.name.trim(),
        parsed.default_rate.get(),
        parsed.per_item_fee.get(),
        input.seller_hold_business_days,
        parsed.late_line_penalty.get()
    )
    .execute(&mut *conn)
    .await?;
    let categories = parsed.categories.iter().map(|(c, r)| (Some(c.clone()), None, *r));
    let sellers = parsed.sellers.iter().map(|s| (s.category.clone(), Some(s.seller_id), s.rate));
    for (category, seller, rate) in categories.chain(sellers) {
        sqlx::query!(
            "INSERT INTO fee_schedule_rates (schedule_id, category, seller_id, rate) VALUES ($1, $2, $3, $4)",
            id,
            category,
            seller,
            rate.get()
        )
        .execute(&mut *conn)
        .await?;
    }
    get(conn, id).await
}

/// Puts a schedule in force from now: lines sold from now on are sold
/// under it. Activating the schedule already in force changes nothing; an
/// older one activated again comes back in force.
pub async fn activate(conn: &mut PgConnection, id: Uuid, now: DateTime<Utc>) -> DomainResult<FeeSchedule> {
    // One activation at a time, so "the last activated" is well defined.
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtext('fee_schedules'))").execute(&mut *conn).await?;
    let current = in_force_id(conn).await?;
    if current != Some(id) {
        let done = sqlx::query!("UPDATE fee_schedules SET activated_at = $2 WHERE id = $1", id, now)
            .execute(&mut *conn)
            .await?;
        if done.rows_affected() == 0 {
            return Err(DomainError::NotFound("fee schedule"));
        }
    }
    get(conn, id).await
}

async fn in_force_id(conn: &mut PgConnection) -> DomainResult<Option<Uuid>> {
    Ok(sqlx::query_scalar!(
        "SELECT id FROM fee_schedules WHERE activated_at IS NOT NULL ORDER BY activated_at DESC, version DESC LIMIT 1"
    )
    .fetch_optional(conn)
    .await?)
}

/// One schedule version.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> DomainResult<FeeSchedule> {
    let row = sqlx::query!(
        "SELECT id, version, name, default_rate, per_item_fee, seller_hold_business_days, late_line_penalty,
                created_at, activated_at
           FROM fee_schedules WHERE id = $1",
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound("fee schedule"))?;
    let rates = sqlx::query!(
        "SELECT category, seller_id, rate FROM fee_schedule_rates WHERE schedule_id = $1
          ORDER BY seller_id NULLS FIRST, category NULLS FIRST",
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut categories = BTreeMap::new();
    let mut sellers = Vec::new();
    for r in rates {
        match (r.seller_id, r.category) {
            (Some(seller_id), category) => sellers.push(SellerRateView { seller_id, category, rate: shown(r.rate) }),
            (None, Some(category)) => {
                categories.insert(category, shown(r.rate));
            }
            (None, None) => {}
        }
    }
    let in_force = in_force_id(conn).await? == Some(id);
    Ok(FeeSchedule {
        id: row.id,
        version: row.version,
        name: row.name,
        default_rate: shown(row.default_rate),
        categories,
        sellers,
        per_item_fee: Money(crate::money::in_minor_units(row.per_item_fee)),
        seller_hold_business_days: row.seller_hold_business_days,
        late_line_penalty: Money(crate::money::in_minor_units(row.late_line_penalty)),
        created_at: row.created_at,
        activated_at: row.activated_at,
        in_force,
    })
}

/// Every schedule version, newest first.
pub async fn list(conn: &mut PgConnection) -> DomainResult<Vec<FeeSchedule>> {
    let ids = sqlx::query_scalar!("SELECT id FROM fee_schedules ORDER BY version DESC").fetch_all(&mut *conn).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(get(conn, id).await?);
    }
    Ok(out)
}

/// The schedule in force now, as the rule reads it, for pricing an order's
/// seller lines. There always is one: the schema starts with "No fees".
pub async fn in_force(conn: &mut PgConnection) -> DomainResult<(Uuid, Rates, Money)> {
    let id =
        in_force_id(conn).await?.ok_or_else(|| DomainError::Internal(anyhow::anyhow!("no fee schedule in force")))?;
    let s = get(conn, id).await?;
    let rates = Rates {
        default: s.default_rate,
        categories: s.categories,
        sellers: s.sellers.into_iter().map(|r| ((r.seller_id, r.category), r.rate)).collect(),
    };
    Ok((id, rates, s.per_item_fee))
}
