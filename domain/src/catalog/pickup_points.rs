//! Pickup points (outlets) where buyers collect their orders. The member who
//! operates one earns the plan's `pickup_rate` on orders collected there.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult, Problems};

/// A pickup point as an admin sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPickupPoint {
    /// Name shown to buyers.
    pub name: String,
    /// The member who runs it.
    pub operator_id: Uuid,
}

/// A stored pickup point.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PickupPoint {
    /// Id (what orders name in `pickup_point_id`).
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Its operator.
    pub operator_id: Uuid,
    /// Whether orders may choose it.
    pub active: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// Creates a pickup point run by an existing member.
pub async fn create(conn: &mut PgConnection, input: &NewPickupPoint) -> DomainResult<PickupPoint> {
    let mut p = Problems::default();
    if input.name.trim().is_empty() || crate::input::chars(&input.name) > 200 {
        p.add("name", "must be 1 to 200 characters");
    }
    p.finish()?;
    let exists =
        sqlx::query_scalar!("SELECT EXISTS (SELECT 1 FROM members WHERE id = $1) AS \"e!\"", input.operator_id)
            .fetch_one(&mut *conn)
            .await?;
    if !exists {
        return Err(DomainError::invalid("operator_id", "no such member"));
    }
    Ok(sqlx::query_as!(
        PickupPoint,
        "INSERT INTO pickup_points (id, name, operator_id) VALUES ($1, $2, $3)
         RETURNING id, name, operator_id, active, created_at",
        Uuid::now_v7(),
        input.name.trim(),
        input.operator_id
    )
    .fetch_one(conn)
    .await?)
}

/// A page of pickup points, newest first, before cursor `before`.
pub async fn list(conn: &mut PgConnection, before: Option<Uuid>, limit: i64) -> DomainResult<Vec<PickupPoint>> {
    Ok(sqlx::query_as!(
        PickupPoint,
        "SELECT id, name, operator_id, active, created_at FROM pickup_points
          WHERE ($1::uuid IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
        before,
        limit
    )
    .fetch_all(conn)
    .await?)
}
