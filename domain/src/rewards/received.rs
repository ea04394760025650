//! The cashback a member has received as a buyer, newest first: a
//! campaign's cashback on its purchases (once the campaign paid) and the
//! cash the plan gives back on its own orders — each with the order it
//! came on, what is left of it after returns, and where it stands.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::DomainResult;

/// One cashback a member received.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// The campaign's name, or none for the plan's cashback on an order.
    pub campaign: Option<String>,
    /// The order it came on.
    pub invoice_no: String,
    /// How much it was.
    pub amount: Decimal,
    /// How much of it returns took back.
    pub reversed: Decimal,
    /// Whether it is still held (else released: available, or store credit).
    pub held: bool,
    /// When its hold ends or ended (none: paid straight out).
    pub release_at: Option<DateTime<Utc>>,
}

/// The newest `limit` cashbacks `member_id` received as a buyer.
pub async fn for_member(conn: &mut PgConnection, member_id: Uuid, limit: i64) -> DomainResult<Vec<Received>> {
    let rows = sqlx::query!(
        r#"SELECT campaign, invoice_no AS "invoice_no!", amount AS "amount!", reversed AS "reversed!",
                  held AS "held!", release_at, at AS "at!"
             FROM (
               SELECT c.name AS campaign, o.invoice_no, p.amount, p.reversed_amount AS reversed,
                      p.status = 'held' AS held, s.release_at, s.settled_at AS at
                 FROM campaign_payouts p
                 JOIN campaigns c ON c.id = p.campaign_id
                 JOIN campaign_settlements s ON s.campaign_id = p.campaign_id
                 JOIN orders o ON o.id = p.order_id
                WHERE p.buyer_id = $1
               UNION ALL
               SELECT NULL, o.invoice_no, r.amount, r.reversed_amount, r.status = 'pending', r.release_at, r.created_at
                 FROM order_rewards r JOIN orders o ON o.id = r.order_id
                WHERE r.member_id = $1 AND r.reward = 'cash'
             ) received
            ORDER BY at DESC, invoice_no LIMIT $2"#,
        member_id,
        limit
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Received {
            campaign: r.campaign,
            invoice_no: r.invoice_no,
            amount: r.amount,
            reversed: r.reversed,
            held: r.held,
            release_at: r.release_at,
        })
        .collect())
}
