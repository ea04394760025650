//! Who advanced in rank in a closed period: members whose highest rank in
//! that period differs from the highest of their last period before it
//! (the highest rank never drops, so a difference is an advancement).

use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult};

/// One member's advancement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Advancement {
    /// The member.
    pub member_id: Uuid,
    /// Their name.
    pub name: String,
    /// Their highest rank before the period (null: none).
    pub from_rank: Option<String>,
    /// Their highest rank at its close.
    pub to_rank: String,
    /// The rank they were paid as in the period (null: none).
    pub paid_as_rank: Option<String>,
}

/// `GET /v1/admin/reports/rank-advancement`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RankAdvancement {
    /// The period (`2026-11`).
    pub period: String,
    /// When it was read.
    pub as_of: chrono::DateTime<chrono::Utc>,
    /// By name, then member id.
    pub rows: Vec<Advancement>,
}

/// The advancements of a closed `period` (`YYYY-MM`); 404 if it was never closed.
pub async fn advancement(conn: &mut PgConnection, period: &str) -> DomainResult<RankAdvancement> {
    crate::compensation::periods::bounds(period, chrono_tz::UTC)?;
    let closed = sqlx::query_scalar!("SELECT period FROM period_closes WHERE period = $1", period)
        .fetch_optional(&mut *conn)
        .await?;
    if closed.is_none() {
        return Err(DomainError::NotFound("period"));
    }
    let as_of = super::as_of(conn).await?;
    let rows = sqlx::query_as!(
        Advancement,
        r#"SELECT mp.member_id, m.name, prev.highest_rank AS "from_rank?", mp.highest_rank AS "to_rank!",
                  mp.paid_as_rank
             FROM member_periods mp
             JOIN members m ON m.id = mp.member_id
             LEFT JOIN LATERAL (
                 SELECT p.highest_rank FROM member_periods p
                  WHERE p.member_id = mp.member_id AND p.period < mp.period
                  ORDER BY p.period DESC LIMIT 1) prev ON true
            WHERE mp.period = $1 AND mp.highest_rank IS NOT NULL
              AND mp.highest_rank IS DISTINCT FROM prev.highest_rank
            ORDER BY m.name, mp.member_id"#,
        period
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(RankAdvancement { period: period.to_owned(), as_of, rows })
}
