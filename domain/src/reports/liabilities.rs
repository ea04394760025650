//! What the shop owes its members, as a roll-forward per account bucket:
//! the balance at `from`, every movement in the interval by entry kind,
//! and the balance at `to`. Opening and closing are each summed from the
//! postings themselves (not from the cached balances), and the report
//! refuses to answer if opening + movements ≠ closing: the books must
//! balance to the paisa or nothing is shown as if they did.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::PgConnection;

use super::{Heading, Interval};
use crate::error::{DomainError, DomainResult};
use crate::ledger::{EntryKind, MemberAccount};
use crate::money::{Money, in_minor_units};

/// The buckets in the order the report lists them.
pub const BUCKETS: [MemberAccount; 4] =
    [MemberAccount::Pending, MemberAccount::Available, MemberAccount::Reserved, MemberAccount::Credit];

/// Money into (positive) or out of (negative) a bucket by one kind of entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Movement {
    /// The ledger entry kind.
    pub kind: EntryKind,
    /// The net of its postings to the bucket in the interval.
    pub amount: Money,
}

/// One bucket's roll-forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Bucket {
    /// Which of the members' accounts.
    pub account: MemberAccount,
    /// Σ of every member's balance in it at `from`.
    pub opening: Money,
    /// Nets by entry kind, in the order of the kinds' names.
    pub movements: Vec<Movement>,
    /// Σ of every member's balance in it at `to`.
    pub closing: Money,
}

/// Opening and closing over every bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Total {
    /// Σ openings.
    pub opening: Money,
    /// Σ closings.
    pub closing: Money,
}

/// `GET /v1/admin/reports/liabilities`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Liabilities {
    /// Interval, zone, currency and freshness.
    #[serde(flatten)]
    pub heading: Heading,
    /// Pending, available, reserved, credit.
    pub accounts: Vec<Bucket>,
    /// Over all buckets.
    pub total: Total,
}

/// The roll-forward over `interval` in `currency`. Run it in one
/// repeatable-read transaction so its three sums see one snapshot.
pub async fn roll_forward(conn: &mut PgConnection, interval: &Interval, currency: &str) -> DomainResult<Liabilities> {
    let as_of = super::as_of(conn).await?;
    let (opening, closing) = balances_at_both_ends(conn, interval, currency).await?;
    let mut movements = movements(conn, interval, currency).await?;
    let mut accounts = Vec::with_capacity(BUCKETS.len());
    for account in BUCKETS {
        let bucket = Bucket {
            account,
            opening: opening.get(&account).copied().unwrap_or(Money::ZERO),
            movements: movements.remove(&account).unwrap_or_default(),
            closing: closing.get(&account).copied().unwrap_or(Money::ZERO),
        };
        let moved: Money = bucket.movements.iter().map(|m| m.amount).sum();
        if bucket.opening + moved != bucket.closing {
            return Err(DomainError::Internal(anyhow::anyhow!(
                "{} does not roll forward: {} + {moved} ≠ {}",
                account.as_str(),
                bucket.opening,
                bucket.closing
            )));
        }
        accounts.push(bucket);
    }
    let total =
        Total { opening: accounts.iter().map(|b| b.opening).sum(), closing: accounts.iter().map(|b| b.closing).sum() };
    Ok(Liabilities { heading: interval.heading(currency, as_of), accounts, total })
}

/// Σ of the members' postings before `from` and before `to`, by bucket:
/// two sums over one read of the postings.
async fn balances_at_both_ends(
    conn: &mut PgConnection,
    interval: &Interval,
    currency: &str,
) -> DomainResult<(BTreeMap<MemberAccount, Money>, BTreeMap<MemberAccount, Money>)> {
    let rows = sqlx::query!(
        r#"SELECT a.kind AS "account: MemberAccount",
                  coalesce(sum(p.amount) FILTER (WHERE p.created_at < $1), 0) AS "opening!",
                  coalesce(sum(p.amount), 0) AS "closing!"
             FROM postings p JOIN accounts a ON a.id = p.account_id
            WHERE a.member_id IS NOT NULL AND a.currency = $3 AND p.created_at < $2
            GROUP BY a.kind"#,
        interval.from,
        interval.to,
        currency
    )
    .fetch_all(conn)
    .await?;
    let at = |d| Money(in_minor_units(d));
    let opening = rows.iter().map(|r| (r.account, at(r.opening))).collect();
    let closing = rows.iter().map(|r| (r.account, at(r.closing))).collect();
    Ok((opening, closing))
}

/// The net of the members' postings in the interval by bucket and entry kind.
async fn movements(
    conn: &mut PgConnection,
    interval: &Interval,
    currency: &str,
) -> DomainResult<BTreeMap<MemberAccount, Vec<Movement>>> {
    let rows = sqlx::query!(
        r#"SELECT a.kind AS "account: MemberAccount", e.kind AS "kind: EntryKind", sum(p.amount) AS "amount!"
             FROM postings p
             JOIN accounts a ON a.id = p.account_id
             JOIN journal_entries e ON e.id = p.entry_id
            WHERE a.member_id IS NOT NULL AND a.currency = $3 AND p.created_at >= $1 AND p.created_at < $2
            GROUP BY a.kind, e.kind
            ORDER BY a.kind, e.kind"#,
        interval.from,
        interval.to,
        currency
    )
    .fetch_all(conn)
    .await?;
    let mut out: BTreeMap<MemberAccount, Vec<Movement>> = BTreeMap::new();
    for r in rows {
        out.entry(r.account).or_default().push(Movement { kind: r.kind, amount: Money(in_minor_units(r.amount)) });
    }
    Ok(out)
}
