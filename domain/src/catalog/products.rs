//! Products: price, volume (PV/BV, separate from price), stock.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult, Problems, is_unique_violation};
use crate::money::{MONEY_SCALE, VOLUME_SCALE, parse_amount};

/// A product as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Product {
    /// Id.
    pub id: Uuid,
    /// Stock-keeping unit, unique.
    pub sku: String,
    /// Name.
    pub name: String,
    /// Category (for category-level commission rates).
    pub category: String,
    /// Unit price.
    #[schema(value_type = crate::money::DecimalText)]
    pub price: Decimal,
    /// Personal volume per unit.
    #[schema(value_type = crate::money::DecimalText)]
    pub pv: Decimal,
    /// Business volume per unit: the commission basis.
    #[schema(value_type = crate::money::DecimalText)]
    pub bv: Decimal,
    /// Units in stock.
    pub stock: i32,
    /// Whether it can be ordered.
    pub active: bool,
    /// Whether its BV pays commissions.
    pub commissionable: bool,
    /// Optional seller.
    pub seller_id: Option<Uuid>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A product write as the admin sends it; every field optional so the same
/// shape serves create (where most are required) and patch.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// SKU.
    pub sku: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// Price, a decimal string.
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub price: Option<String>,
    /// PV, a decimal string.
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub pv: Option<String>,
    /// BV, a decimal string.
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub bv: Option<String>,
    /// Units in stock.
    pub stock: Option<i64>,
    /// Orderable.
    pub active: Option<bool>,
    /// Pays commissions.
    pub commissionable: Option<bool>,
    /// Seller.
    pub seller_id: Option<Uuid>,
}

/// A product's figures as seeds write them: (SKU, name, category, price,
/// PV, BV), decimal strings as an admin would send them.
pub type ProductFigures<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, &'a str);

impl ProductInput {
    /// A new product for sale with `stock` units: what the demo seed and the
    /// benchmark create (admins send the JSON shape instead).
    pub fn for_sale((sku, name, category, price, pv, bv): ProductFigures<'_>, stock: i64) -> Self {
        Self {
            sku: Some(sku.into()),
            name: Some(name.into()),
            category: Some(category.into()),
            price: Some(price.into()),
            pv: Some(pv.into()),
            bv: Some(bv.into()),
            stock: Some(stock),
            ..Default::default()
        }
    }
}

struct Checked {
    sku: Option<String>,
    name: Option<String>,
    category: Option<String>,
    price: Option<Decimal>,
    pv: Option<Decimal>,
    bv: Option<Decimal>,
    stock: Option<i32>,
}

fn check(input: &ProductInput, creating: bool) -> DomainResult<Checked> {
    let mut p = Problems::default();
    let mut text = |field: &str, v: &Option<String>, max: usize| -> Option<String> {
        match v.as_deref().map(str::trim) {
            None if creating => {
                p.add(field, "is required");
                None
            }
            None => None,
            Some(s) if s.is_empty() || crate::input::chars(s) > max => {
                p.add(field, format!("must be 1 to {max} characters"));
                None
            }
            Some(s) => Some(s.to_owned()),
        }
    };
    let sku = text("sku", &input.sku, 64);
    let name = text("name", &input.name, 200);
    let category = text("category", &input.category, 64);
    let mut amount = |field: &str, v: &Option<String>, scale: u32| match v {
        None if creating => {
            p.add(field, "is required");
            None
        }
        None => None,
        Some(s) => p.check(field, parse_amount(s, scale)),
    };
    let price = amount("price", &input.price, MONEY_SCALE);
    let pv = amount("pv", &input.pv, VOLUME_SCALE);
    let bv = amount("bv", &input.bv, VOLUME_SCALE);
    let stock = match input.stock {
        None if creating => {
            p.add("stock", "is required");
            None
        }
        None => None,
        Some(s) => match i32::try_from(s) {
            Ok(s) if s >= 0 => Some(s),
            _ => {
                p.add("stock", "must be a whole number from 0 to 2147483647");
                None
            }
        },
    };
    p.finish()?;
    Ok(Checked { sku, name, category, price, pv, bv, stock })
}

fn on_unique(e: sqlx::Error) -> DomainError {
    if is_unique_violation(&e) { DomainError::conflict("sku", "a product with this sku exists") } else { e.into() }
}

/// Creates a product.
pub async fn create(conn: &mut PgConnection, input: &ProductInput) -> DomainResult<Product> {
    let c = check(input, true)?;
    if let Some(seller_id) = input.seller_id {
        crate::marketplace::sellers::check_selling(conn, seller_id).await?;
    }
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO products (id, sku, name, category, price, pv, bv, stock, active, commissionable, seller_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        id,
        c.sku,
        c.name,
        c.category,
        c.price,
        c.pv,
        c.bv,
        c.stock,
        input.active.unwrap_or(true),
        input.commissionable.unwrap_or(true),
        input.seller_id
    )
    .execute(&mut *conn)
    .await
    .map_err(on_unique)?;
    get(conn, id).await
}

/// Changes the given fields of a product. Past orders keep the price and
/// volume they copied when they were placed.
pub async fn patch(conn: &mut PgConnection, id: Uuid, input: &ProductInput) -> DomainResult<Product> {
    let c = check(input, false)?;
    if let Some(seller_id) = input.seller_id {
        crate::marketplace::sellers::check_selling(conn, seller_id).await?;
    }
    let done = sqlx::query!(
        "UPDATE products SET sku = coalesce($2, sku), name = coalesce($3, name),
                category = coalesce($4, category), price = coalesce($5, price), pv = coalesce($6, pv),
                bv = coalesce($7, bv), stock = coalesce($8, stock), active = coalesce($9, active),
                commissionable = coalesce($10, commissionable), seller_id = coalesce($11, seller_id),
                updated_at = now()
          WHERE id = $1",
        id,
        c.sku,
        c.name,
        c.category,
        c.price,
        c.pv,
        c.bv,
        c.stock,
        input.active,
        input.commissionable,
        input.seller_id
    )
    .execute(&mut *conn)
    .await
    .map_err(on_unique)?;
    if done.rows_affected() == 0 {
        return Err(DomainError::NotFound("product"));
    }
    get(conn, id).await
}

/// Reads a product.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> DomainResult<Product> {
    sqlx::query_as!(Product, "SELECT * FROM products WHERE id = $1", id)
        .fetch_optional(conn)
        .await?
        .ok_or(DomainError::NotFound("product"))
}

/// The SKU and name of each of `ids` that exists, for pages that show
/// order lines: one query for a whole order.
pub async fn labels(conn: &mut PgConnection, ids: &[Uuid]) -> DomainResult<std::collections::HashMap<Uuid, String>> {
    let rows = sqlx::query!("SELECT id, sku, name FROM products WHERE id = ANY($1)", ids).fetch_all(conn).await?;
    Ok(rows.into_iter().map(|r| (r.id, format!("{} ({})", r.name, r.sku))).collect())
}

/// A page of products ordered by id, after cursor `after`.
pub async fn list(conn: &mut PgConnection, after: Option<Uuid>, limit: i64) -> DomainResult<Vec<Product>> {
    list_of(conn, None, after, limit).await
}

/// A page of products, of one seller or all, in id order after `after`.
pub async fn list_of(
    conn: &mut PgConnection,
    seller_id: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> DomainResult<Vec<Product>> {
    Ok(sqlx::query_as!(
        Product,
        "SELECT * FROM products WHERE ($1::uuid IS NULL OR id > $1) AND ($3::uuid IS NULL OR seller_id = $3)
          ORDER BY id LIMIT $2",
        after,
        limit,
        seller_id
    )
    .fetch_all(conn)
    .await?)
}
