//! Price lists for business accounts: a list belongs to an account tier
//! (e.g. `wholesale`) and the newest list of a tier is the one in force.
//! Each list prices some products (optionally with its own PV and BV) and
//! holds quantity breaks on a product or a category. A list is written
//! once: a change is a new list of the tier, so every order keeps naming
//! the list that priced it. How a line is priced is `rules::pricing`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult, Problems};
use crate::money::{MONEY_SCALE, parse_amount, parse_rate};
use crate::rules::pricing::{ListEntry, QuantityBreak};

/// Most products one list prices.
pub const MAX_ENTRIES: usize = 10_000;

/// Most quantity breaks one list holds.
pub const MAX_BREAKS: usize = 1_000;

/// An account tier's name as admins write it: 1 to 50 lower-case letters,
/// digits, `-` or `_`.
pub fn check_tier(p: &mut Problems, field: &str, tier: &str) {
    let ok = (1..=50).contains(&tier.len())
        && tier.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        p.add(field, "must be 1 to 50 lower-case letters, digits, - or _");
    }
}

/// A product's price on a new list.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    /// The product.
    pub product_id: Uuid,
    /// Its unit price on the list.
    #[schema(value_type = crate::money::DecimalText)]
    pub price: String,
    /// PV per unit (default: the product's).
    #[serde(default)]
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub pv: Option<String>,
    /// BV per unit (default: the product's, scaled by the list price ÷ the catalog price).
    #[serde(default)]
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub bv: Option<String>,
}

/// A quantity break on a new list: on a product or on a category.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBreak {
    /// The product (or give `category`).
    #[serde(default)]
    pub product_id: Option<Uuid>,
    /// The category (or give `product_id`).
    #[serde(default)]
    pub category: Option<String>,
    /// Units of the order from which it applies (at least 2).
    pub min_quantity: i64,
    /// Fraction off the unit price, e.g. "0.05".
    #[schema(value_type = crate::money::DecimalText)]
    pub rate: String,
}

/// A price list as an admin sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPriceList {
    /// Name (1 to 200 characters).
    pub name: String,
    /// The account tier it prices (it is in force for it from now).
    pub tier: String,
    /// Products and their list prices.
    #[serde(default)]
    pub entries: Vec<NewEntry>,
    /// Quantity breaks.
    #[serde(default)]
    pub breaks: Vec<NewBreak>,
}

/// A stored entry.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Entry {
    /// The product.
    pub product_id: Uuid,
    /// List price.
    #[schema(value_type = crate::money::DecimalText)]
    pub price: Decimal,
    /// List PV (null: the product's).
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub pv: Option<Decimal>,
    /// List BV (null: follows the price paid).
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub bv: Option<Decimal>,
}

/// A stored break.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Break {
    /// Id (order lines name it).
    pub id: Uuid,
    /// The product, or null.
    pub product_id: Option<Uuid>,
    /// The category, or null.
    pub category: Option<String>,
    /// From how many units.
    pub min_quantity: i32,
    /// Fraction off.
    #[schema(value_type = crate::money::DecimalText)]
    pub rate: Decimal,
}

/// A stored price list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PriceList {
    /// Id (order lines name it).
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// The tier it prices.
    pub tier: String,
    /// Entries by product.
    pub entries: Vec<Entry>,
    /// Breaks.
    pub breaks: Vec<Break>,
    /// Written (the newest of a tier is in force).
    pub created_at: DateTime<Utc>,
}

/// Entries and breaks, read.
type Parsed =
    (Vec<(Uuid, Decimal, Option<Decimal>, Option<Decimal>)>, Vec<(Option<Uuid>, Option<String>, i32, Decimal)>);

fn parse(input: &NewPriceList) -> DomainResult<Parsed> {
    let mut p = Problems::default();
    crate::input::check_required(&mut p, "name", input.name.trim(), 200);
    check_tier(&mut p, "tier", &input.tier);
    if input.entries.len() > MAX_ENTRIES {
        p.add("entries", format!("at most {MAX_ENTRIES} products per list"));
    }
    if input.breaks.len() > MAX_BREAKS {
        p.add("breaks", format!("at most {MAX_BREAKS} breaks per list"));
    }
    // Past the bounds nothing more is read: the checks below are per item.
    p.finish()?;
    let mut p = Problems::default();
    let mut listed = std::collections::HashSet::new();
    let amount = |p: &mut Problems, field: String, raw: &str| p.check(&field, parse_amount(raw, MONEY_SCALE));
    let mut entries = Vec::new();
    for (i, e) in input.entries.iter().enumerate() {
        if !listed.insert(e.product_id) {
            p.add(format!("entries[{i}].product_id"), "is on the list already");
        }
        let price = amount(&mut p, format!("entries[{i}].price"), &e.price);
        if price.is_some_and(|v| v <= Decimal::ZERO) {
            p.add(format!("entries[{i}].price"), "must be more than zero");
        }
        let pv = e.pv.as_deref().and_then(|raw| amount(&mut p, format!("entries[{i}].pv"), raw));
        let bv = e.bv.as_deref().and_then(|raw| amount(&mut p, format!("entries[{i}].bv"), raw));
        for (name, v) in [("pv", pv), ("bv", bv)] {
            if v.is_some_and(|v| v < Decimal::ZERO) {
                p.add(format!("entries[{i}].{name}"), "must not be negative");
            }
        }
        entries.push((e.product_id, price.unwrap_or_default(), pv, bv));
    }
    let mut breaks = Vec::new();
    for (i, b) in input.breaks.iter().enumerate() {
        if b.product_id.is_some() == b.category.is_some() {
            p.add(format!("breaks[{i}].product_id"), "give a product_id or a category, not both");
        }
        if let Some(c) = &b.category {
            crate::input::check_required(&mut p, &format!("breaks[{i}].category"), c, 100);
        }
        let min = i32::try_from(b.min_quantity).ok().filter(|m| *m >= 2);
        if min.is_none() {
            p.add(format!("breaks[{i}].min_quantity"), "must be a whole number of units from 2");
        }
        let rate = p.check(&format!("breaks[{i}].rate"), parse_rate(&b.rate));
        if rate.is_some_and(|r| r.is_zero() || r >= Decimal::ONE) {
            p.add(format!("breaks[{i}].rate"), "must be more than 0 and less than 1");
        }
        let same =
            |o: &NewBreak| o.product_id == b.product_id && o.category == b.category && o.min_quantity == b.min_quantity;
        if input.breaks[..i].iter().any(same) {
            p.add(format!("breaks[{i}].min_quantity"), "the list has this break already");
        }
        breaks.push((b.product_id, b.category.clone(), min.unwrap_or_default(), rate.unwrap_or_default()));
    }
    p.finish()?;
    Ok((entries, breaks))
}

/// Writes a price list; from now it is the one in force for its tier.
/// A product that does not exist is refused naming its entry or break.
pub async fn create(conn: &mut PgConnection, input: &NewPriceList) -> DomainResult<PriceList> {
    let (entries, breaks) = parse(input)?;
    let named: Vec<(String, Uuid)> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (format!("entries[{i}].product_id"), e.0))
        .chain(breaks.iter().enumerate().filter_map(|(i, b)| b.0.map(|id| (format!("breaks[{i}].product_id"), id))))
        .collect();
    let ids: Vec<Uuid> = named.iter().map(|n| n.1).collect();
    let known = sqlx::query_scalar!("SELECT id FROM products WHERE id = ANY($1)", &ids).fetch_all(&mut *conn).await?;
    let mut p = Problems::default();
    for (field, id) in &named {
        if !known.contains(id) {
            p.add(field.clone(), "no such product");
        }
    }
    p.finish()?;
    let id = Uuid::now_v7();
    sqlx::query!("INSERT INTO price_lists (id, name, tier) VALUES ($1, $2, $3)", id, input.name.trim(), input.tier)
        .execute(&mut *conn)
        .await?;
    for (product_id, price, pv, bv) in entries {
        sqlx::query!(
            "INSERT INTO price_list_entries (price_list_id, product_id, price, pv, bv) VALUES ($1, $2, $3, $4, $5)",
            id,
            product_id,
            price,
            pv,
            bv
        )
        .execute(&mut *conn)
        .await?;
    }
    for (product_id, category, min_quantity, rate) in breaks {
        sqlx::query!(
            "INSERT INTO quantity_breaks (id, price_list_id, product_id, category, min_quantity, rate)
             VALUES ($1, $2, $3, $4, $5, $6)",
            Uuid::now_v7(),
            id,
            product_id,
            category,
            min_quantity,
            rate
        )
        .execute(&mut *conn)
        .await?;
    }
    get(conn, id).await
}

/// A price list with its entries and breaks.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> DomainResult<PriceList> {
    let head = sqlx::query!("SELECT id, name, tier, created_at FROM price_lists WHERE id = $1", id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(DomainError::NotFound("price list"))?;
    let entries = sqlx::query_as!(
        Entry,
        "SELECT product_id, price, pv, bv FROM price_list_entries WHERE price_list_id = $1 ORDER BY product_id",
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    let breaks = sqlx::query_as!(
        Break,
        "SELECT id, product_id, category, min_quantity, rate FROM quantity_breaks WHERE price_list_id = $1
          ORDER BY product_id NULLS LAST, category, min_quantity",
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(PriceList { id: head.id, name: head.name, tier: head.tier, entries, breaks, created_at: head.created_at })
}

/// Every price list, newest first.
pub async fn list(conn: &mut PgConnection) -> DomainResult<Vec<PriceList>> {
    let ids = sqlx::query_scalar!("SELECT id FROM price_lists ORDER BY created_at DESC, id DESC")
        .fetch_all(&mut *conn)
        .await?;
    let mut lists = Vec::with_capacity(ids.len());
    for id in ids {
        lists.push(get(conn, id).await?);
    }
    Ok(lists)
}

/// The list in force for `tier` as checkout reads it: its id, its entries
/// for `products`, and its breaks.
pub struct InForce {
    /// The list.
    pub id: Uuid,
    /// Entries by product.
    pub entries: HashMap<Uuid, ListEntry>,
    /// Every break of the list.
    pub breaks: Vec<QuantityBreak>,
}

/// The newest list of `tier`, if it has one.
pub async fn in_force(conn: &mut PgConnection, tier: &str, products: &[Uuid]) -> DomainResult<Option<InForce>> {
    let Some(id) = sqlx::query_scalar!(
        "SELECT id FROM price_lists WHERE tier = $1 ORDER BY created_at DESC, id DESC LIMIT 1",
        tier
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let entries = sqlx::query!(
        "SELECT product_id, price, pv, bv FROM price_list_entries WHERE price_list_id = $1 AND product_id = ANY($2)",
        id,
        products
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|e| (e.product_id, ListEntry { price: e.price, pv: e.pv, bv: e.bv }))
    .collect();
    let breaks = sqlx::query!(
        "SELECT id, product_id, category, min_quantity, rate FROM quantity_breaks WHERE price_list_id = $1",
        id
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|b| QuantityBreak {
        id: b.id,
        product_id: b.product_id,
        category: b.category,
        min_quantity: i64::from(b.min_quantity),
        rate: b.rate,
    })
    .collect();
    Ok(Some(InForce { id, entries, breaks }))
}
