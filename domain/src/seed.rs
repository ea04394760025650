//! Bulk seeding for benchmarks and large tests: many members, and orders
//! already credited in the past, in multi-row statements (one round trip per
//! chunk instead of one per row). Not an API path: nothing here checks
//! business rules, so only benchmarks and tests call it.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::compensation::periods::period_of;
use crate::error::DomainResult;
use crate::ledger::MemberAccount;

/// Rows per statement.
const CHUNK: usize = 20_000;

/// A member to insert; the first without a parent becomes the root.
#[derive(Debug, Clone)]
pub struct SeedMember {
    /// Id.
    pub id: Uuid,
    /// Placement parent (and sponsor).
    pub parent_id: Option<Uuid>,
}

/// Inserts members with their ledger accounts in chunks, parents before
/// children (the caller's order must respect that). Referral codes and
/// emails are derived from the ids.
pub async fn members(conn: &mut PgConnection, rows: &[SeedMember], currency: &str) -> DomainResult<()> {
    let kinds: Vec<String> = MemberAccount::ALL.iter().map(|k| k.as_str().to_owned()).collect();
    for chunk in rows.chunks(CHUNK) {
        let ids: Vec<Uuid> = chunk.iter().map(|m| m.id).collect();
        let parents: Vec<Option<Uuid>> = chunk.iter().map(|m| m.parent_id).collect();
        sqlx::query!(
            "INSERT INTO members (id, name, email, referral_code, sponsor_id, parent_id, is_root)
             SELECT id, 'Seeded ' || left(id::text, 8), id::text || '@seed.invalid', upper(replace(id::text, '-', '')),
                    parent, parent, parent IS NULL AND NOT EXISTS (SELECT 1 FROM members WHERE is_root)
               FROM unnest($1::uuid[], $2::uuid[]) AS t (id, parent)",
            &ids,
            &parents as &[Option<Uuid>]
        )
        .execute(&mut *conn)
        .await?;
        sqlx::query!(
            "INSERT INTO accounts (member_id, kind, currency)
             SELECT m, k, $3 FROM unnest($1::uuid[]) AS m CROSS JOIN unnest($2::text[]) AS k",
            &ids,
            &kinds,
            currency
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A past purchase to insert as already credited (volume written).
#[derive(Debug, Clone)]
pub struct SeedPurchase {
    /// The buyer.
    pub buyer_id: Uuid,
    /// Units of the product.
    pub quantity: i32,
    /// When it became commissionable.
    pub credited_at: DateTime<Utc>,
}

/// Inserts delivered orders of one product, each with its line and its
/// volume entry in the period of its credit time, under `plan_id`. With
/// `cascaded` their commissions count as done and are never computed (they
/// are history, not work to do); without, each awaits its cascade. Returns
/// the orders' ids.
pub async fn credited_orders(
    conn: &mut PgConnection,
    product_id: Uuid,
    plan_id: Uuid,
    purchases: &[SeedPurchase],
    tz: Tz,
    currency: &str,
    cascaded: bool,
) -> DomainResult<Vec<Uuid>> {
    let mut made = Vec::with_capacity(purchases.len());
    let p = sqlx::query!("SELECT price, pv, bv, category FROM products WHERE id = $1", product_id)
        .fetch_one(&mut *conn)
        .await?;
    for chunk in purchases.chunks(CHUNK) {
        let orders: Vec<Uuid> = chunk.iter().map(|_| Uuid::now_v7()).collect();
        let lines: Vec<Uuid> = chunk.iter().map(|_| Uuid::now_v7()).collect();
        let buyers: Vec<Uuid> = chunk.iter().map(|s| s.buyer_id).collect();
        let qty: Vec<i32> = chunk.iter().map(|s| s.quantity).collect();
        let at: Vec<DateTime<Utc>> = chunk.iter().map(|s| s.credited_at).collect();
        let periods: Vec<String> = chunk.iter().map(|s| period_of(s.credited_at, tz)).collect();
        let totals: Vec<Decimal> = chunk.iter().map(|s| p.price * Decimal::from(s.quantity)).collect();
        sqlx::query!(
            r#"INSERT INTO orders (id, invoice_no, buyer_id, status, payment_method, currency, subtotal, discount,
                                  store_credit, total, pv, bv, shipping_address, paid_at, delivered_at,
                                  commissionable_at, plan_id, volume_credited_at, cascaded_at, created_at)
               SELECT o, 'SEED-' || replace(o::text, '-', ''), b, 'delivered', 'cod', $4, t, 0, 0, t,
                      $5::numeric * q, $6::numeric * q, '{}'::jsonb, a, a, a, $7, a, CASE WHEN $10 THEN a END, a
                 FROM unnest($1::uuid[], $2::uuid[], $3::int[], $8::numeric[], $9::timestamptz[])
                      AS x (o, b, q, t, a)"#,
            &orders,
            &buyers,
            &qty,
            currency,
            p.pv,
            p.bv,
            plan_id,
            &totals,
            &at,
            cascaded
        )
        .execute(&mut *conn)
        .await?;
        sqlx::query!(
            "INSERT INTO order_lines (id, order_id, line_no, product_id, quantity, unit_price, pv, bv, line_total,
                                      category, commissionable)
             SELECT l, o, 1, $4, q, $5::numeric, $6::numeric, $7::numeric, $5::numeric * q, $8, true
               FROM unnest($1::uuid[], $2::uuid[], $3::int[]) AS x (l, o, q)",
            &lines,
            &orders,
            &qty,
            product_id,
            p.price,
            p.pv,
            p.bv,
            p.category
        )
        .execute(&mut *conn)
        .await?;
        sqlx::query!(
            "INSERT INTO volume_entries (member_id, order_id, order_line_id, kind, pv, bv, period, at)
             SELECT b, o, l, 'order', $5::numeric * q, $6::numeric * q, per, a
               FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int[], $7::text[], $8::timestamptz[])
                    AS x (b, o, l, q, per, a)",
            &buyers,
            &orders,
            &lines,
            &qty,
            p.pv,
            p.bv,
            &periods,
            &at
        )
        .execute(&mut *conn)
        .await?;
        made.extend(orders);
    }
    Ok(made)
}
