//! Reads what the cascade needs for one order from the database: its lines,
//! the upline it pays (with each member's qualification inputs as of the
//! credit time), the guest order's referrer and the pickup point's operator.
//! Used by the real cascade and by plan simulation alike.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::compensation::plans::Plan;
use crate::error::DomainResult;
use crate::money::Volume;
use crate::network::members;
use crate::rules::cascade::{CascadeLine, Compression, Earner, OrderInputs, UplineMember};

/// Levels read per query after the first when dynamic compression has to
/// walk past unqualified members.
const COMPRESSION_BATCH: i32 = 64;

/// One commissionable order's facts, as the cascade starts from them.
#[derive(Debug, Clone)]
pub struct OrderHead {
    /// The order.
    pub order_id: Uuid,
    /// Its invoice number (for emails).
    pub invoice_no: String,
    /// The buying member (none for a guest order).
    pub buyer_id: Option<Uuid>,
    /// A guest order's referrer.
    pub referrer_id: Option<Uuid>,
    /// Where it is collected.
    pub pickup_point_id: Option<Uuid>,
    /// When it became commissionable: the qualification time.
    pub credited_at: DateTime<Utc>,
}

impl OrderHead {
    /// Whose upline is paid: the buyer's, or a guest order's referrer's.
    pub fn starts_at(&self) -> Option<Uuid> {
        self.buyer_id.or(self.referrer_id)
    }
}

/// Reads the order's lines and everyone who may earn on it under `plan`.
/// The upline is read in one query (a few more only when dynamic
/// compression must walk past unqualified members) with its members'
/// personal volume in one more; the referrer and pickup operator in two.
pub async fn load(conn: &mut PgConnection, head: &OrderHead, plan: &Plan) -> DomainResult<OrderInputs> {
    let lines = page_lines(conn, &[head]).await?.remove(&head.order_id).unwrap_or_default();
    let since = head.credited_at - Duration::days(i64::from(plan.active_window_days));
    let window = (since, head.credited_at);
    let upline = match head.starts_at() {
        Some(start) => upline(conn, start, plan, window).await?,
        None => Vec::new(),
    };
    let (referrer, pickup_operator) = flat_earners(conn, head, window).await?;
    Ok(OrderInputs { lines, upline, referrer, pickup_operator })
}

/// The inputs of a page of orders, in the page's order, the same as
/// [`load`] reads them one by one, in a few queries for the whole page
/// (plan simulation replays thousands of orders; `tree` keeps the members
/// read for earlier pages). The set reading covers
/// a member's order under a plan without dynamic compression; an order
/// with a referrer or a pickup point, and every order under dynamic
/// compression (which walks as far as qualification takes it), is read by
/// [`load`].
pub async fn load_page(
    conn: &mut PgConnection,
    heads: &[OrderHead],
    plan: &Plan,
    tree: &mut members::Placements,
) -> DomainResult<Vec<OrderInputs>> {
    let in_sets = |h: &OrderHead| {
        plan.compression == Compression::None
            && h.buyer_id.is_some()
            && h.referrer_id.is_none()
            && h.pickup_point_id.is_none()
    };
    let set: Vec<&OrderHead> = heads.iter().filter(|h| in_sets(h)).collect();
    let mut lines = page_lines(conn, &set).await?;
    let mut uplines = page_uplines(conn, &set, plan, tree).await?;
    let mut out = Vec::with_capacity(heads.len());
    for head in heads {
        if !in_sets(head) {
            out.push(load(conn, head, plan).await?);
            continue;
        }
        out.push(OrderInputs {
            lines: lines.remove(&head.order_id).unwrap_or_default(),
            upline: uplines.remove(&head.order_id).unwrap_or_default(),
            referrer: None,
            pickup_operator: None,
        });
    }
    Ok(out)
}

/// The lines of each of `heads`, in line order (one query however many).
async fn page_lines(conn: &mut PgConnection, heads: &[&OrderHead]) -> DomainResult<HashMap<Uuid, Vec<CascadeLine>>> {
    let ids: Vec<Uuid> = heads.iter().map(|h| h.order_id).collect();
    let rows = sqlx::query!(
        "SELECT order_id, id, product_id, category, bv * quantity AS \"bv!\", commissionable FROM order_lines
          WHERE order_id = ANY($1) ORDER BY order_id, line_no",
        &ids
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out: HashMap<Uuid, Vec<CascadeLine>> = HashMap::new();
    for l in rows {
        out.entry(l.order_id).or_default().push(CascadeLine {
            line_id: l.id,
            product_id: l.product_id,
            category: l.category,
            bv: Volume(l.bv),
            commissionable: l.commissionable,
        });
    }
    Ok(out)
}

/// The paid upline of each of `heads` (a buyer's, the plan's depth), each
/// member with the personal volume of the order's own window: the tree
/// from `tree` (read where not known yet), the volume entries of every
/// member involved over the page's windows in one query, summed per order
/// window here.
async fn page_uplines(
    conn: &mut PgConnection,
    heads: &[&OrderHead],
    plan: &Plan,
    tree: &mut members::Placements,
) -> DomainResult<HashMap<Uuid, Vec<UplineMember>>> {
    let depth = u32::try_from(plan.level_rates().depth()).unwrap_or(u32::MAX);
    let starts: Vec<Uuid> = heads.iter().filter_map(|h| h.buyer_id).collect();
    tree.read(conn, &starts, depth).await?;
    let window = |h: &OrderHead| (h.credited_at - Duration::days(i64::from(plan.active_window_days)), h.credited_at);
    let uplines: Vec<(&OrderHead, Vec<members::Ancestor>)> =
        heads.iter().map(|h| (*h, h.buyer_id.map(|b| tree.upline(b, depth)).unwrap_or_default())).collect();
    let mut ids: Vec<Uuid> = uplines.iter().flat_map(|(_, up)| up.iter().map(|a| a.member_id)).collect();
    ids.sort();
    ids.dedup();
    let (Some(since), Some(until)) = (heads.iter().map(|h| window(h).0).min(), heads.iter().map(|h| window(h).1).max())
    else {
        return Ok(HashMap::new());
    };
    let mut entries: HashMap<Uuid, Vec<(DateTime<Utc>, rust_decimal::Decimal)>> = HashMap::new();
    for r in sqlx::query!(
        "SELECT member_id, at, pv FROM volume_entries WHERE member_id = ANY($1) AND at > $2 AND at <= $3",
        &ids,
        since,
        until
    )
    .fetch_all(&mut *conn)
    .await?
    {
        entries.entry(r.member_id).or_default().push((r.at, r.pv));
    }
    // As `personal_pv`: the sum over (since, until]; no entry, no volume.
    let pv_in = |member: Uuid, (since, until): Window| {
        let mut in_window = entries.get(&member)?.iter().filter(|(at, _)| *at > since && *at <= until).peekable();
        in_window.peek()?;
        Some(Volume(in_window.map(|(_, pv)| *pv).sum()))
    };
    Ok(uplines
        .into_iter()
        .map(|(h, up)| {
            let members = up
                .into_iter()
                .map(|a| UplineMember {
                    level: a.level,
                    earner: Earner {
                        member_id: a.member_id,
                        suspended: a.suspended,
                        personal_pv: pv_in(a.member_id, window(h)).unwrap_or_default(),
                    },
                })
                .collect();
            (h.order_id, members)
        })
        .collect())
}

type Window = (DateTime<Utc>, DateTime<Utc>);

/// A guest order's referrer and the pickup point's operator, with their
/// status and personal volume, in two queries whatever the order has.
async fn flat_earners(
    conn: &mut PgConnection,
    head: &OrderHead,
    window: Window,
) -> DomainResult<(Option<Earner>, Option<Earner>)> {
    if head.referrer_id.is_none() && head.pickup_point_id.is_none() {
        return Ok((None, None));
    }
    let rows = sqlx::query!(
        r#"SELECT r.role AS "role!", m.id AS "id!", m.status AS "status!"
             FROM (VALUES ('referrer', $1::uuid),
                          ('operator', (SELECT operator_id FROM pickup_points WHERE id = $2))) AS r (role, id)
             JOIN members m ON m.id = r.id"#,
        head.referrer_id,
        head.pickup_point_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let pv = personal_pv(conn, &ids, window).await?;
    let earner = |role: &str| {
        rows.iter().find(|r| r.role == role).map(|r| Earner {
            member_id: r.id,
            suspended: r.status == "suspended",
            personal_pv: pv.get(&r.id).copied().unwrap_or_default(),
        })
    };
    Ok((earner("referrer"), earner("operator")))
}

/// The upline the plan can pay: its depth in levels, or under dynamic
/// compression as far as it takes to find that many qualified members (or
/// the top of the tree).
async fn upline(conn: &mut PgConnection, start: Uuid, plan: &Plan, window: Window) -> DomainResult<Vec<UplineMember>> {
    let depth = i32::try_from(plan.level_rates().depth()).unwrap_or(i32::MAX);
    let mut out: Vec<UplineMember> = Vec::new();
    let mut from = start;
    let mut ask = match plan.compression {
        Compression::None => depth,
        Compression::Dynamic => depth.saturating_mul(2).saturating_add(8),
    };
    loop {
        let batch = members::upline(conn, from, ask).await?;
        let ids: Vec<Uuid> = batch.iter().map(|a| a.member_id).collect();
        let pv = personal_pv(conn, &ids, window).await?;
        let offset = out.len() as u32;
        for a in &batch {
            let earner = Earner {
                member_id: a.member_id,
                suspended: a.suspended,
                personal_pv: pv.get(&a.member_id).copied().unwrap_or_default(),
            };
            out.push(UplineMember { level: offset + a.level, earner });
        }
        let at_the_top = (batch.len() as i32) < ask;
        if plan.compression == Compression::None || at_the_top {
            return Ok(out);
        }
        let qualified = out.iter().filter(|m| m.earner.qualifies_for_levels(plan.min_personal_pv)).count();
        if qualified >= depth as usize {
            return Ok(out);
        }
        from = batch.last().map(|a| a.member_id).unwrap_or(start);
        ask = COMPRESSION_BATCH;
    }
}

/// Each member's PV credited in (since, until]: own purchases and guest
/// orders referred, net of what was returned.
async fn personal_pv(
    conn: &mut PgConnection,
    ids: &[Uuid],
    (since, until): Window,
) -> DomainResult<HashMap<Uuid, Volume>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query!(
        r#"SELECT member_id, sum(pv) AS "pv!" FROM volume_entries
            WHERE member_id = ANY($1) AND at > $2 AND at <= $3 GROUP BY member_id"#,
        ids,
        since,
        until
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.member_id, Volume(r.pv))).collect())
}

/// Keeps what the cascade read for the order, in the cascade's transaction,
/// so the audit can re-run the pure cascade on exactly these inputs and
/// compare its lines with the stored ones (DESIGN §10.3).
pub async fn store(conn: &mut PgConnection, order_id: Uuid, plan_id: Uuid, inputs: &OrderInputs) -> DomainResult<()> {
    let doc = serde_json::to_value(inputs).map_err(anyhow::Error::from)?;
    sqlx::query!(
        "INSERT INTO cascade_inputs (order_id, plan_id, inputs) VALUES ($1, $2, $3) ON CONFLICT (order_id) DO NOTHING",
        order_id,
        plan_id,
        doc
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
