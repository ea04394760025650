//! Business accounts (B2B): several members who buy for one business,
//! under one account tier whose price list prices their orders. Each order
//! a member of an account places is the account's (`orders.business_account_id`),
//! so the account has its own order history and its own rewards: the points
//! its orders earned, whichever of its members bought.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult, Problems, is_unique_violation};
use crate::money::in_minor_units;

/// Most members one account is created with (more are added one by one).
pub const MAX_MEMBERS: usize = 1_000;

/// An account as an admin sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// The business's name (1 to 200 characters).
    pub name: String,
    /// Its tier: the price list of this tier prices its orders.
    pub tier: String,
    /// The members who buy for it (each in one account at most).
    #[serde(default)]
    pub member_ids: Vec<Uuid>,
}

/// A member to add to an account.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccountMember {
    /// The member.
    pub member_id: Uuid,
}

/// One of an account's members.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccountMember {
    /// The member.
    pub member_id: Uuid,
    /// Their name.
    pub name: String,
    /// Since when they buy for the account.
    pub added_at: DateTime<Utc>,
}

/// An account with its members and what its orders came to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Account {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Its tier.
    pub tier: String,
    /// Its members, by when they were added.
    pub members: Vec<AccountMember>,
    /// Orders placed for it.
    pub orders: i64,
    /// What its members paid for the units they kept, after discounts,
    /// over its credited orders.
    #[schema(value_type = crate::money::DecimalText)]
    pub spend: Decimal,
    /// Points its orders earned (what returns left of them).
    #[schema(value_type = crate::money::DecimalText)]
    pub points_earned: Decimal,
    /// Of those, still to spend.
    #[schema(value_type = crate::money::DecimalText)]
    pub points_left: Decimal,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// Creates an account with its members.
pub async fn create(conn: &mut PgConnection, input: &NewAccount) -> DomainResult<Account> {
    let mut p = Problems::default();
    crate::input::check_required(&mut p, "name", input.name.trim(), 200);
    crate::catalog::price_lists::check_tier(&mut p, "tier", &input.tier);
    if input.member_ids.len() > MAX_MEMBERS {
        p.add("member_ids", format!("at most {MAX_MEMBERS} members at creation"));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, m) in input.member_ids.iter().enumerate().take(MAX_MEMBERS) {
        if !seen.insert(m) {
            p.add(format!("member_ids[{i}]"), "is listed already");
        }
    }
    p.finish()?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO business_accounts (id, name, tier) VALUES ($1, $2, $3)",
        id,
        input.name.trim(),
        input.tier
    )
    .execute(&mut *conn)
    .await?;
    for (i, member_id) in input.member_ids.iter().enumerate() {
        add(conn, id, *member_id, &format!("member_ids[{i}]")).await?;
    }
    get(conn, id).await
}

/// Adds a member to an account (refused, naming `field`, if they are
/// unknown or buy for an account already).
pub async fn add(conn: &mut PgConnection, account_id: Uuid, member_id: Uuid, field: &str) -> DomainResult<()> {
    let known = sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM members WHERE id = $1) AS "known!""#, member_id)
        .fetch_one(&mut *conn)
        .await?;
    if !known {
        return Err(DomainError::invalid(field, "no such member"));
    }
    sqlx::query!("INSERT INTO business_account_members (member_id, account_id) VALUES ($1, $2)", member_id, account_id)
        .execute(&mut *conn)
        .await
        .map_err(|e| match is_unique_violation(&e) {
            true => DomainError::conflict(field, "the member buys for a business account already"),
            false => e.into(),
        })?;
    Ok(())
}

/// An account, its members and its figures.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> DomainResult<Account> {
    let head = sqlx::query!(
        r#"SELECT a.id, a.name, a.tier, a.created_at,
                  (SELECT count(*) FROM orders o WHERE o.business_account_id = a.id) AS "orders!",
                  (SELECT coalesce(sum(kept_order_value(o.id)), 0) FROM orders o
                    WHERE o.business_account_id = a.id AND o.commissionable_at IS NOT NULL) AS "spend!",
                  (SELECT coalesce(sum(r.amount - r.reversed_amount), 0) FROM order_rewards r
                     JOIN orders o ON o.id = r.order_id
                    WHERE o.business_account_id = a.id AND r.reward = 'credit') AS "earned!",
                  (SELECT coalesce(sum(r.remaining), 0) FROM order_rewards r JOIN orders o ON o.id = r.order_id
                    WHERE o.business_account_id = a.id AND r.reward = 'credit' AND r.expires_at > now()) AS "left!"
             FROM business_accounts a WHERE a.id = $1"#,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound("business account"))?;
    let members = sqlx::query_as!(
        AccountMember,
        "SELECT b.member_id, m.name, b.added_at FROM business_account_members b JOIN members m ON m.id = b.member_id
          WHERE b.account_id = $1 ORDER BY b.added_at, b.member_id",
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(Account {
        id: head.id,
        name: head.name,
        tier: head.tier,
        members,
        orders: head.orders,
        spend: in_minor_units(head.spend),
        points_earned: in_minor_units(head.earned),
        points_left: in_minor_units(head.left),
        created_at: head.created_at,
    })
}

/// The account's orders, newest first (ids; the caller reads each).
pub async fn order_ids(conn: &mut PgConnection, id: Uuid, before: Option<Uuid>, limit: i64) -> DomainResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar!(
        "SELECT id FROM orders WHERE business_account_id = $1 AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
        id,
        before,
        limit
    )
    .fetch_all(conn)
    .await?)
}
