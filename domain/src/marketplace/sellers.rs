//! Sellers: created `pending`, then `approved` (their products may be
//! listed and ordered) or `suspended` (their products cannot be ordered;
//! a suspended seller may be approved again). Each step is kept with its
//! time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult, Problems};

crate::words::stored_words!(
    /// Where a seller stands.
    SellerStatus {
        /// Applied; not selling yet.
        Pending = "pending",
        /// Selling.
        Approved = "approved",
        /// Not selling: its products cannot be ordered.
        Suspended = "suspended",
    }
);

crate::words::stored_words!(
    /// How a seller is paid out.
    PayoutMethod {
        /// bKash wallet.
        Bkash = "bkash",
        /// Nagad wallet.
        Nagad = "nagad",
        /// Bank transfer.
        Bank = "bank",
    }
);

/// A seller as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Seller {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Contact email.
    pub email: Option<String>,
    /// Contact phone.
    pub phone: Option<String>,
    /// How it is paid out.
    pub payout_method: Option<PayoutMethod>,
    /// The wallet number or bank account paid to.
    pub payout_account: Option<String>,
    /// `pending`, `approved` or `suspended`.
    pub status: SellerStatus,
    /// Days it has to prepare an order line (1 to 5).
    pub preparation_days: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last approved.
    pub approved_at: Option<DateTime<Utc>>,
    /// Last suspended.
    pub suspended_at: Option<DateTime<Utc>>,
}

/// `POST /v1/admin/sellers`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSeller {
    /// Name (1 to 200 characters).
    pub name: String,
    /// Contact email.
    pub email: String,
    /// Contact phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// `bkash`, `nagad` or `bank`.
    pub payout_method: PayoutMethod,
    /// The wallet number or bank account (1 to 100 characters).
    pub payout_account: String,
    /// Days to prepare an order line, 1 to 5 (default 3).
    #[serde(default)]
    pub preparation_days: Option<i32>,
}

fn validate(input: &NewSeller) -> DomainResult<i32> {
    let mut p = Problems::default();
    if input.name.trim().is_empty() || crate::input::chars(&input.name) > 200 {
        p.add("name", "must be 1 to 200 characters");
    }
    if !crate::input::looks_like_email(input.email.trim()) {
        p.add("email", "must be an email address");
    }
    if input.phone.as_deref().is_some_and(|phone| !crate::input::looks_like_phone(phone)) {
        p.add("phone", "must be a phone number of digits, '+', '-' or spaces");
    }
    if input.payout_account.trim().is_empty() || crate::input::chars(&input.payout_account) > 100 {
        p.add("payout_account", "must be 1 to 100 characters");
    }
    let days = input.preparation_days.unwrap_or(3);
    if !(1..=5).contains(&days) {
        p.add("preparation_days", "must be 1 to 5 days");
    }
    p.finish()?;
    Ok(days)
}

/// Records a seller, `pending` until an admin approves it, with its
/// accounts in the ledger.
pub async fn create(conn: &mut PgConnection, input: &NewSeller, currency: &str) -> DomainResult<Seller> {
    let days = validate(input)?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO sellers (id, name, email, phone, payout_method, payout_account, status, preparation_days)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)",
        id,
        input.name.trim(),
        input.email.trim(),
        input.phone.as_deref().map(str::trim),
        input.payout_method.as_str(),
        input.payout_account.trim(),
        days
    )
    .execute(&mut *conn)
    .await?;
    crate::ledger::open_seller_accounts(conn, id, currency).await?;
    get(conn, id).await
}

/// One seller.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> DomainResult<Seller> {
    sqlx::query_as!(
        Seller,
        r#"SELECT id, name, email, phone, payout_method AS "payout_method: PayoutMethod", payout_account,
                  status AS "status: SellerStatus", preparation_days, created_at, approved_at, suspended_at
             FROM sellers WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound("seller"))
}

/// Sellers (of one status, or all), oldest first, a page after `after`.
pub async fn list(
    conn: &mut PgConnection,
    status: Option<SellerStatus>,
    after: Option<Uuid>,
    limit: i64,
) -> DomainResult<Vec<Seller>> {
    Ok(sqlx::query_as!(
        Seller,
        r#"SELECT id, name, email, phone, payout_method AS "payout_method: PayoutMethod", payout_account,
                  status AS "status: SellerStatus", preparation_days, created_at, approved_at, suspended_at
             FROM sellers WHERE ($1::text IS NULL OR status = $1) AND ($2::uuid IS NULL OR id > $2)
            ORDER BY id LIMIT $3"#,
        status.map(SellerStatus::as_str),
        after,
        limit
    )
    .fetch_all(conn)
    .await?)
}

/// Moves a seller to `to` (approve, suspend): doing it twice changes nothing.
pub async fn set_status(
    conn: &mut PgConnection,
    id: Uuid,
    to: SellerStatus,
    now: DateTime<Utc>,
) -> DomainResult<Seller> {
    let done = sqlx::query!(
        "UPDATE sellers SET status = $2, updated_at = $3,
                approved_at = CASE WHEN $2 = 'approved' AND status <> 'approved' THEN $3 ELSE approved_at END,
                suspended_at = CASE WHEN $2 = 'suspended' AND status <> 'suspended' THEN $3 ELSE suspended_at END
          WHERE id = $1",
        id,
        to.as_str(),
        now
    )
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(DomainError::NotFound("seller"));
    }
    get(conn, id).await
}

/// Refuses, naming `seller_id`, a product naming a seller that is not approved.
pub async fn check_selling(conn: &mut PgConnection, seller_id: Uuid) -> DomainResult<()> {
    let status =
        sqlx::query_scalar!("SELECT status FROM sellers WHERE id = $1", seller_id).fetch_optional(conn).await?;
    match status.as_deref() {
        Some("approved") => Ok(()),
        Some(other) => {
            Err(DomainError::invalid("seller_id", format!("the seller is {other}: it cannot list products")))
        }
        None => Err(DomainError::invalid("seller_id", "no such seller")),
    }
}
