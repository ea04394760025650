//! What the shop owes its members, as a roll-forward per account bucket:
//! the balance at `from`, every movement in the interval by entry kind,
//! and the balance at `to`. Opening and closing are each summed from the
//! members' postings (not from the cached balances; whole hours through
//! their audited hourly summary), and the report refuses to answer if
//! opening + movements ≠ closing: the books must balance to the paisa or
//! nothing is shown as if they did.

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
    let (opening, mut movements, closing) = sums(conn, interval, currency).await?;
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

/// Opening (Σ before `from`), movements (net in the interval by entry
/// kind) and closing (Σ before `to`) of each bucket, summed over one read
/// of the members' postings before `to` (whole hours from their hourly
/// summary, part hours from the postings: [`super::Split`]).
async fn sums(conn: &mut PgConnection, interval: &Interval, currency: &str) -> DomainResult<Sums> {
    let split = interval.split(false);
    let rows = sqlx::query!(
        r#"WITH facts AS (
             SELECT hour AS at, account, entry_kind, amount FROM ledger_hours
              WHERE currency = $3 AND (hour < $4 OR (hour >= $5 AND hour < $6))
             UNION ALL
             SELECT created_at, account, entry_kind, amount FROM member_postings
              WHERE currency = $3
                AND ((created_at >= $4 AND created_at < least($5, $2)) OR (created_at >= greatest($5, $6) AND created_at < $2))
           )
           SELECT account AS "account!: MemberAccount", entry_kind AS "kind!: EntryKind",
                  coalesce(sum(amount) FILTER (WHERE at < $1), 0) AS "before!",
                  sum(amount) FILTER (WHERE at >= $1) AS during,
                  coalesce(sum(amount), 0) AS "all!"
             FROM facts
            GROUP BY account, entry_kind
            ORDER BY account, entry_kind"#,
        interval.from,
        interval.to,
        currency,
        split.floor_from,
        split.summary_from,
        split.summary_to
    )
    .fetch_all(conn)
    .await?;
    let at = |d| Money(in_minor_units(d));
    let (mut opening, mut movements, mut closing) = Sums::default();
    for r in rows {
        *opening.entry(r.account).or_default() += at(r.before);
        *closing.entry(r.account).or_default() += at(r.all);
        if let Some(during) = r.during {
            movements.entry(r.account).or_default().push(Movement { kind: r.kind, amount: at(during) });
        }
    }
    Ok((opening, movements, closing))
}

/// Opening, movements and closing by bucket.
type Sums = (BTreeMap<MemberAccount, Money>, BTreeMap<MemberAccount, Vec<Movement>>, BTreeMap<MemberAccount, Money>);
