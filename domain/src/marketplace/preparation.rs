//! Preparation time: a seller has its `preparation_days` from the moment
//! an order is ready to prepare (placed, for cash on delivery; paid,
//! online) to mark each of its lines prepared, or to have the order
//! shipped. A line that is neither by then is late: the check records it
//! once and charges the seller the late-line penalty of the fee schedule
//! the line was sold under, from its available balance (which may go
//! below zero, as a clawback may).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult};
use crate::ledger::{self, Account, Entry, EntryKind, MemberAccount, Posting, SystemAccount};
use crate::money::{Money, in_minor_units};

/// Starts the preparation clock of the order's seller lines (once): the
/// order became ready to prepare at `now`.
pub async fn start(conn: &mut PgConnection, order_id: Uuid, now: DateTime<Utc>) -> DomainResult<()> {
    sqlx::query!(
        "UPDATE order_lines l SET prepare_by = $2::timestamptz + make_interval(days => s.preparation_days)
           FROM sellers s
          WHERE l.order_id = $1 AND l.seller_id = s.id AND l.prepare_by IS NULL",
        order_id,
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A line marked prepared.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Prepared {
    /// The order line.
    pub order_line_id: Uuid,
    /// Its deadline (absent if the order is not ready yet).
    pub prepare_by: Option<DateTime<Utc>>,
    /// When it was first marked prepared.
    pub prepared_at: DateTime<Utc>,
    /// Whether that was after its deadline.
    pub late: bool,
}

/// Marks the seller's line prepared (the first time counts; again changes
/// nothing). Another seller's line, or no line, is not found; a line of a
/// cancelled order cannot be prepared.
pub async fn mark_prepared(
    conn: &mut PgConnection,
    seller_id: Uuid,
    line_id: Uuid,
    now: DateTime<Utc>,
) -> DomainResult<Prepared> {
    let line = sqlx::query!(
        "SELECT o.cancelled_at FROM order_lines l JOIN orders o ON o.id = l.order_id
          WHERE l.id = $1 AND l.seller_id = $2 FOR UPDATE OF l",
        line_id,
        seller_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound("order line"))?;
    if line.cancelled_at.is_some() {
        return Err(DomainError::conflict("order_line_id", "the order is cancelled: nothing to prepare"));
    }
    let row = sqlx::query!(
        r#"UPDATE order_lines SET prepared_at = coalesce(prepared_at, $2) WHERE id = $1
        RETURNING prepare_by, prepared_at AS "prepared_at!""#,
        line_id,
        now
    )
    .fetch_one(conn)
    .await?;
    Ok(Prepared {
        order_line_id: line_id,
        prepare_by: row.prepare_by,
        prepared_at: row.prepared_at,
        late: row.prepare_by.is_some_and(|by| row.prepared_at > by),
    })
}

/// Records every seller line late at `now` and not yet recorded — its
/// deadline passed, neither prepared nor shipped by it, its order not
/// cancelled before it — and charges each its penalty. A line is recorded
/// once (its row is the key), so running the check again charges nothing
/// again. Returns how many lines it found late.
pub async fn check(conn: &mut PgConnection, now: DateTime<Utc>, currency: &str) -> DomainResult<usize> {
    let late = sqlx::query!(
        r#"INSERT INTO seller_late_lines (order_line_id, order_id, seller_id, prepare_by, penalty, found_at)
           SELECT l.id, l.order_id, l.seller_id, l.prepare_by, f.late_line_penalty, $1
             FROM order_lines l
             JOIN orders o ON o.id = l.order_id
             JOIN fee_schedules f ON f.id = l.fee_schedule_id
            WHERE l.prepare_by < $1
              AND coalesce(l.prepared_at, 'infinity') > l.prepare_by
              AND coalesce(o.shipped_at, 'infinity') > l.prepare_by
              AND coalesce(o.cancelled_at, 'infinity') > l.prepare_by
              AND NOT EXISTS (SELECT 1 FROM seller_late_lines x WHERE x.order_line_id = l.id)
           ORDER BY l.prepare_by
           ON CONFLICT (order_line_id) DO NOTHING
           RETURNING order_line_id, seller_id AS "seller_id!", penalty"#,
        now
    )
    .fetch_all(&mut *conn)
    .await?;
    for line in late.iter().filter(|l| l.penalty > rust_decimal::Decimal::ZERO) {
        let (key, reference) = (ledger::keys::seller_penalty(line.order_line_id), line.order_line_id.to_string());
        let postings = vec![
            Posting { account: Account::Seller(line.seller_id, MemberAccount::Available), amount: -line.penalty },
            Posting { account: Account::System(SystemAccount::SellerPenalties), amount: line.penalty },
        ];
        let entry = Entry { idempotency_key: &key, kind: EntryKind::SellerPenalty, reference: &reference, postings };
        ledger::post(conn, currency, entry).await?;
    }
    Ok(late.len())
}

/// One late line, as the admin's report lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LateLine {
    /// The seller.
    pub seller_id: Uuid,
    /// Its name.
    pub seller_name: String,
    /// The order line.
    pub order_line_id: Uuid,
    /// Its order's invoice number.
    pub invoice_no: String,
    /// The product's SKU.
    pub sku: String,
    /// When it had to be prepared by.
    pub prepare_by: DateTime<Utc>,
    /// When it was prepared, if it was (late).
    pub prepared_at: Option<DateTime<Utc>>,
    /// What the seller was charged.
    pub penalty: Money,
    /// When the check found it late.
    pub found_at: DateTime<Utc>,
}

/// One seller's late lines in the interval.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SellerLateTotal {
    /// The seller.
    pub seller_id: Uuid,
    /// Its name.
    pub seller_name: String,
    /// Lines found late.
    pub late_lines: i64,
    /// Penalties charged for them.
    pub penalties: Money,
}

/// `GET /v1/admin/reports/late-lines`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LateLines {
    /// Per seller, by name.
    pub sellers: Vec<SellerLateTotal>,
    /// Every late line, by seller, then deadline.
    pub rows: Vec<LateLine>,
}

/// The lines found late in `[from, to)`, by seller (name), then deadline,
/// with each seller's count and penalties.
pub async fn late_lines(conn: &mut PgConnection, from: DateTime<Utc>, to: DateTime<Utc>) -> DomainResult<LateLines> {
    let rows = sqlx::query!(
        "SELECT x.seller_id, s.name, x.order_line_id, o.invoice_no, p.sku, x.prepare_by, l.prepared_at, x.penalty,
                x.found_at
           FROM seller_late_lines x
           JOIN sellers s ON s.id = x.seller_id
           JOIN order_lines l ON l.id = x.order_line_id
           JOIN orders o ON o.id = x.order_id
           JOIN products p ON p.id = l.product_id
          WHERE x.found_at >= $1 AND x.found_at < $2
          ORDER BY s.name, x.seller_id, x.prepare_by, x.order_line_id",
        from,
        to
    )
    .fetch_all(conn)
    .await?;
    let rows: Vec<LateLine> = rows
        .into_iter()
        .map(|r| LateLine {
            seller_id: r.seller_id,
            seller_name: r.name,
            order_line_id: r.order_line_id,
            invoice_no: r.invoice_no,
            sku: r.sku,
            prepare_by: r.prepare_by,
            prepared_at: r.prepared_at,
            penalty: Money(in_minor_units(r.penalty)),
            found_at: r.found_at,
        })
        .collect();
    let mut sellers: Vec<SellerLateTotal> = Vec::new();
    for r in &rows {
        match sellers.last_mut().filter(|t| t.seller_id == r.seller_id) {
            Some(total) => {
                total.late_lines += 1;
                total.penalties += r.penalty;
            }
            None => sellers.push(SellerLateTotal {
                seller_id: r.seller_id,
                seller_name: r.seller_name.clone(),
                late_lines: 1,
                penalties: r.penalty,
            }),
        }
    }
    Ok(LateLines { sellers, rows })
}
