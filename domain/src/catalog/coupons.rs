//! Coupons: a percent or fixed discount at checkout, valid in a window, up
//! to a number of uses that is never exceeded however many orders race for
//! the last one (the use is taken by one conditional UPDATE of the coupon
//! row, in the order's transaction).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult, Problems, is_unique_violation};
use crate::money::{MONEY_SCALE, parse_amount, parse_rate, payout};

crate::words::stored_words!(
    /// How a coupon's value discounts.
    CouponKind {
        /// A fraction of the subtotal ("0.10" = 10%), rounded toward zero.
        Percent = "percent",
        /// An amount off, at most the subtotal.
        Fixed = "fixed",
    }
);

/// A coupon as an admin sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCoupon {
    /// What buyers type (compared case-insensitively).
    pub code: String,
    /// `percent` (value is a fraction: "0.10" = 10%) or `fixed` (an amount).
    #[schema(value_type = CouponKind)]
    pub kind: String,
    /// The rate or amount.
    #[schema(value_type = crate::money::DecimalText)]
    pub value: String,
    /// From when it applies.
    pub starts_at: DateTime<Utc>,
    /// Until when (exclusive).
    pub ends_at: DateTime<Utc>,
    /// Most orders that may use it (null: unlimited).
    #[serde(default)]
    pub max_uses: Option<i32>,
    /// Smallest order subtotal it applies to (default "0").
    #[serde(default)]
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub min_subtotal: Option<String>,
}

/// A stored coupon.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Coupon {
    /// Id.
    pub id: Uuid,
    /// Code, upper case.
    pub code: String,
    /// How its value discounts.
    pub kind: CouponKind,
    /// Rate or amount.
    #[schema(value_type = crate::money::DecimalText)]
    pub value: Decimal,
    /// Window start.
    pub starts_at: DateTime<Utc>,
    /// Window end (exclusive).
    pub ends_at: DateTime<Utc>,
    /// Most uses.
    pub max_uses: Option<i32>,
    /// Uses so far.
    pub uses: i32,
    /// Smallest subtotal.
    #[schema(value_type = crate::money::DecimalText)]
    pub min_subtotal: Decimal,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// What a coupon's kind may be.
const KIND_WORDS: &str = "must be \"percent\" or \"fixed\"";

fn check(input: &NewCoupon) -> DomainResult<(String, CouponKind, Decimal, Decimal)> {
    let mut p = Problems::default();
    let code = input.code.trim().to_uppercase();
    if code.is_empty() || code.len() > 40 || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        p.add("code", "must be 1 to 40 letters, digits, - or _");
    }
    let kind = CouponKind::parse(&input.kind);
    let value = match kind {
        Some(CouponKind::Percent) => p.check("value", parse_rate(&input.value)),
        Some(CouponKind::Fixed) => p.check("value", parse_amount(&input.value, MONEY_SCALE)),
        None => {
            p.add("kind", KIND_WORDS);
            None
        }
    };
    if value.is_some_and(|v| v.is_zero()) {
        p.add("value", "must be more than zero");
    }
    if input.ends_at <= input.starts_at {
        p.add("ends_at", "must be after starts_at");
    }
    if input.max_uses.is_some_and(|m| m < 1) {
        p.add("max_uses", "must be at least 1 (or null for no limit)");
    }
    let min = match &input.min_subtotal {
        None => Some(Decimal::new(0, MONEY_SCALE)),
        Some(raw) => p.check("min_subtotal", parse_amount(raw, MONEY_SCALE)),
    };
    p.finish()?;
    let kind = kind.ok_or_else(|| DomainError::invalid("kind", KIND_WORDS))?;
    Ok((code, kind, value.unwrap_or_default(), min.unwrap_or_default()))
}

/// Creates a coupon; a code already taken is 409.
pub async fn create(conn: &mut PgConnection, input: &NewCoupon) -> DomainResult<Coupon> {
    let (code, kind, value, min_subtotal) = check(input)?;
    sqlx::query_as!(
        Coupon,
        r#"INSERT INTO coupons (id, code, kind, value, starts_at, ends_at, max_uses, min_subtotal)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING id, code, kind AS "kind: CouponKind", value, starts_at, ends_at, max_uses, uses, min_subtotal,
                   created_at"#,
        Uuid::now_v7(),
        code,
        kind as CouponKind,
        value,
        input.starts_at,
        input.ends_at,
        input.max_uses,
        min_subtotal
    )
    .fetch_one(conn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) { DomainError::conflict("code", "a coupon with this code exists") } else { e.into() }
    })
}

/// A page of coupons, newest first, before cursor `before`.
pub async fn list(conn: &mut PgConnection, before: Option<Uuid>, limit: i64) -> DomainResult<Vec<Coupon>> {
    Ok(sqlx::query_as!(
        Coupon,
        r#"SELECT id, code, kind AS "kind: CouponKind", value, starts_at, ends_at, max_uses, uses, min_subtotal, created_at
             FROM coupons WHERE ($1::uuid IS NULL OR id < $1) ORDER BY id DESC LIMIT $2"#,
        before,
        limit
    )
    .fetch_all(conn)
    .await?)
}

/// Takes one use of the coupon `code` for an order of `subtotal` at `now`
/// and returns the coupon's id and the discount (a percent is rounded toward
/// zero; a fixed amount is at most the subtotal). The conditional UPDATE
/// locks the coupon row, so concurrent orders take uses one at a time and
/// the last use goes to exactly one of them. Refusals name `coupon_code`.
pub async fn redeem(
    conn: &mut PgConnection,
    code: &str,
    subtotal: Decimal,
    now: DateTime<Utc>,
) -> DomainResult<(Uuid, Decimal)> {
    let code = code.trim().to_uppercase();
    let taken = sqlx::query!(
        r#"UPDATE coupons SET uses = uses + 1
            WHERE code = $1 AND starts_at <= $2 AND ends_at > $2 AND min_subtotal <= $3
              AND (max_uses IS NULL OR uses < max_uses)
            RETURNING id, kind AS "kind: CouponKind", value"#,
        code,
        now,
        subtotal
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(c) = taken else {
        return Err(refusal(conn, &code, subtotal, now).await);
    };
    let discount = match c.kind {
        CouponKind::Percent => payout(subtotal * c.value).0,
        CouponKind::Fixed => c.value.min(subtotal),
    };
    Ok((c.id, discount))
}

async fn refusal(conn: &mut PgConnection, code: &str, subtotal: Decimal, now: DateTime<Utc>) -> DomainError {
    let row =
        sqlx::query!("SELECT starts_at, ends_at, max_uses, uses, min_subtotal FROM coupons WHERE code = $1", code)
            .fetch_optional(conn)
            .await;
    let why = match row {
        Err(e) => return e.into(),
        Ok(None) => "no such coupon".to_owned(),
        Ok(Some(c)) if now < c.starts_at || now >= c.ends_at => "the coupon is not valid now".to_owned(),
        Ok(Some(c)) if subtotal < c.min_subtotal => {
            format!("the coupon needs a subtotal of at least {}", c.min_subtotal)
        }
        Ok(Some(c)) if c.max_uses.is_some_and(|m| c.uses >= m) => "the coupon has been used up".to_owned(),
        Ok(Some(_)) => "the coupon cannot be used".to_owned(),
    };
    DomainError::invalid("coupon_code", why)
}
