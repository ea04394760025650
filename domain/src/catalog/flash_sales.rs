//! Flash sales: a product price valid in a time window. Checkout takes the
//! lowest price of the sales running at that moment; volume (PV/BV) is not
//! discounted, since commissions are on BV.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult, Problems};
use crate::money::{MONEY_SCALE, parse_amount};

/// A flash sale as an admin sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFlashSale {
    /// The product.
    pub product_id: Uuid,
    /// Its price during the sale.
    #[schema(value_type = crate::money::DecimalText)]
    pub price: String,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End (exclusive).
    pub ends_at: DateTime<Utc>,
}

/// A stored flash sale.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FlashSale {
    /// Id.
    pub id: Uuid,
    /// The product.
    pub product_id: Uuid,
    /// The sale price.
    #[schema(value_type = crate::money::DecimalText)]
    pub price: Decimal,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End (exclusive).
    pub ends_at: DateTime<Utc>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// Creates a flash sale for an existing product.
pub async fn create(conn: &mut PgConnection, input: &NewFlashSale) -> DomainResult<FlashSale> {
    let mut p = Problems::default();
    let price = p.check("price", parse_amount(&input.price, MONEY_SCALE));
    if input.ends_at <= input.starts_at {
        p.add("ends_at", "must be after starts_at");
    }
    p.finish()?;
    let exists =
        sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM products WHERE id = $1) AS "e!""#, input.product_id)
            .fetch_one(&mut *conn)
            .await?;
    if !exists {
        return Err(DomainError::invalid("product_id", "no such product"));
    }
    Ok(sqlx::query_as!(
        FlashSale,
        "INSERT INTO flash_sales (id, product_id, price, starts_at, ends_at) VALUES ($1, $2, $3, $4, $5)
         RETURNING id, product_id, price, starts_at, ends_at, created_at",
        Uuid::now_v7(),
        input.product_id,
        price.unwrap_or_default(),
        input.starts_at,
        input.ends_at
    )
    .fetch_one(conn)
    .await?)
}

/// A page of flash sales, newest first, before cursor `before`.
pub async fn list(conn: &mut PgConnection, before: Option<Uuid>, limit: i64) -> DomainResult<Vec<FlashSale>> {
    Ok(sqlx::query_as!(
        FlashSale,
        "SELECT id, product_id, price, starts_at, ends_at, created_at FROM flash_sales
          WHERE ($1::uuid IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
        before,
        limit
    )
    .fetch_all(conn)
    .await?)
}

/// The lowest sale price running at `at` for each of `products` that has one.
pub async fn prices_at(
    conn: &mut PgConnection,
    products: &[Uuid],
    at: DateTime<Utc>,
) -> DomainResult<HashMap<Uuid, Decimal>> {
    let rows = sqlx::query!(
        r#"SELECT product_id, min(price) AS "price!" FROM flash_sales
            WHERE product_id = ANY($1) AND starts_at <= $2 AND ends_at > $2 GROUP BY product_id"#,
        products,
        at
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.product_id, r.price)).collect())
}
