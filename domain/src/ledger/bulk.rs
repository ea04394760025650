//! Many two-leg journal entries in a handful of statements, for jobs that
//! move money for thousands of members at once (campaign settlement, its
//! release). The same guarantees as [`super::post`]: one entry per
//! idempotency key, postings that sum to zero, cached balances and
//! `balance_after` updated in the same transaction.

use std::collections::HashMap;

use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Account, EntryKind, MemberAccount, SystemAccount, system_account_id};
use crate::error::{DomainError, DomainResult};

/// Entries written per round of statements (each round sends its rows as
/// arrays, so the statement count does not grow with the rows).
const CHUNK: usize = 20_000;

/// One movement: `amount` (positive) leaves `from` and enters `to`.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// Derived from the business event; unique forever.
    pub idempotency_key: String,
    /// What it refers to, for statements.
    pub reference: String,
    /// The account that gives.
    pub from: Account,
    /// The account that receives.
    pub to: Account,
    /// How much, more than zero.
    pub amount: Decimal,
}

/// Posts each transfer whose key is new as one journal entry of `kind`.
/// Returns how many were written (a retried job writes none).
pub async fn post_transfers(
    conn: &mut PgConnection,
    currency: &str,
    kind: EntryKind,
    transfers: &[Transfer],
) -> DomainResult<usize> {
    if let Some(bad) = transfers.iter().find(|t| t.amount <= Decimal::ZERO || t.from == t.to) {
        return Err(DomainError::Internal(anyhow::anyhow!("bad transfer {}", bad.idempotency_key)));
    }
    let mut written = 0;
    for chunk in transfers.chunks(CHUNK) {
        let ids = AccountIds::lock(conn, currency, chunk).await?;
        let entries = insert_entries(conn, kind.as_str(), chunk).await?;
        let mut legs = Legs::default();
        let commission = |t: &Transfer| kind.commission_of(&t.reference);
        for t in chunk {
            if let Some(entry_id) = entries.get(&t.idempotency_key) {
                legs.push(*entry_id, ids.of(t.from)?, -t.amount, t.from, commission(t));
                legs.push(*entry_id, ids.of(t.to)?, t.amount, t.to, commission(t));
            }
        }
        legs.write(conn, kind).await?;
        written += entries.len();
    }
    Ok(written)
}

/// The ids of every account a chunk moves; member accounts are locked in
/// the order single postings lock them (member, then kind), so bulk and
/// single postings never deadlock on each other.
struct AccountIds(HashMap<Account, i64>);

impl AccountIds {
    async fn lock(conn: &mut PgConnection, currency: &str, chunk: &[Transfer]) -> DomainResult<Self> {
        let mut members: Vec<(Uuid, MemberAccount)> = Vec::new();
        let mut systems: Vec<SystemAccount> = Vec::new();
        for account in chunk.iter().flat_map(|t| [t.from, t.to]) {
            match account {
                Account::Member(id, kind) => members.push((id, kind)),
                // Sellers are paid per line, never in bulk.
                Account::Seller(..) => {
                    return Err(DomainError::Internal(anyhow::anyhow!("bulk transfers move no seller account")));
                }
                Account::System(kind) => systems.push(kind),
            }
        }
        members.sort();
        members.dedup();
        systems.sort();
        systems.dedup();
        let member_ids: Vec<Uuid> = members.iter().map(|m| m.0).collect();
        let kinds: Vec<String> = members.iter().map(|m| m.1.as_str().to_owned()).collect();
        let rank: Vec<String> = MemberAccount::ALL.iter().map(|k| k.as_str().to_owned()).collect();
        let system_kinds: Vec<String> = systems.iter().map(|k| k.as_str().to_owned()).collect();
        // The system accounts' ids come with the members' locks: they are
        // not locked (a system leg updates no cached balance).
        let rows = sqlx::query!(
            r#"WITH locked AS (
                 SELECT a.id, a.member_id, a.kind FROM accounts a
                   JOIN unnest($1::uuid[], $2::text[]) AS w (member_id, kind)
                     ON a.member_id = w.member_id AND a.kind = w.kind
                  ORDER BY a.member_id, array_position($3::text[], a.kind)
                  FOR UPDATE OF a)
               SELECT id AS "id!", member_id, kind AS "kind!" FROM locked
               UNION ALL
               SELECT id, NULL, kind FROM accounts
                WHERE member_id IS NULL AND seller_id IS NULL AND kind = ANY($4::text[])"#,
            &member_ids,
            &kinds,
            &rank,
            &system_kinds
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut map = HashMap::new();
        for r in rows {
            let account = match r.member_id {
                Some(member_id) => MemberAccount::ALL
                    .into_iter()
                    .find(|k| k.as_str() == r.kind)
                    .map(|kind| Account::Member(member_id, kind)),
                None => systems.iter().find(|k| k.as_str() == r.kind).map(|kind| Account::System(*kind)),
            };
            if let Some(account) = account {
                map.insert(account, r.id);
            }
        }
        // A system account not opened yet is opened now.
        for kind in systems {
            if let std::collections::hash_map::Entry::Vacant(slot) = map.entry(Account::System(kind)) {
                slot.insert(system_account_id(conn, kind, currency).await?);
            }
        }
        Ok(Self(map))
    }

    fn of(&self, account: Account) -> DomainResult<i64> {
        self.0.get(&account).copied().ok_or(DomainError::NotFound("member account"))
    }
}

/// Inserts the chunk's journal entries; returns the id of each one written
/// (an existing key is skipped).
async fn insert_entries(conn: &mut PgConnection, kind: &str, chunk: &[Transfer]) -> DomainResult<HashMap<String, i64>> {
    let keys: Vec<String> = chunk.iter().map(|t| t.idempotency_key.clone()).collect();
    let references: Vec<String> = chunk.iter().map(|t| t.reference.clone()).collect();
    let rows = sqlx::query!(
        "INSERT INTO journal_entries (idempotency_key, kind, reference)
         SELECT k, $3, r FROM unnest($1::text[], $2::text[]) AS x (k, r)
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING id, idempotency_key",
        &keys,
        &references,
        kind
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.idempotency_key, r.id)).collect())
}

/// The postings of a chunk, member legs (cached balance, hourly summary)
/// apart from system legs (neither).
#[derive(Default)]
struct Legs {
    member: (Vec<i64>, Vec<i64>, Vec<Decimal>, Vec<Option<Uuid>>),
    system: (Vec<i64>, Vec<i64>, Vec<Decimal>),
}

impl Legs {
    fn push(&mut self, entry_id: i64, account_id: i64, amount: Decimal, account: Account, commission: Option<Uuid>) {
        if matches!(account, Account::Member(..)) {
            let side = &mut self.member;
            side.0.push(entry_id);
            side.1.push(account_id);
            side.2.push(amount);
            side.3.push(commission);
        } else {
            let side = &mut self.system;
            side.0.push(entry_id);
            side.1.push(account_id);
            side.2.push(amount);
        }
    }

    async fn write(self, conn: &mut PgConnection, kind: EntryKind) -> DomainResult<()> {
        let (entries, accounts, amounts, commissions) = self.member;
        // Each account moves once by its total; every posting's
        // balance_after is the opening balance plus the running sum, in
        // the order the postings get their ids. The hourly summary is
        // added to in the same statement (as `ledger::post` does, under
        // the accounts' locks; see `ledger_hours`).
        sqlx::query!(
            "WITH legs AS (
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::numeric[], $4::uuid[]) WITH ORDINALITY
                        AS l (entry_id, account_id, amount, commission_id, n)
             ), totals AS (
                 SELECT account_id, sum(amount) AS total FROM legs GROUP BY account_id
             ), moved AS (
                 UPDATE accounts a SET balance = a.balance + t.total FROM totals t WHERE a.id = t.account_id
                 RETURNING a.id, a.balance - t.total AS opening, a.member_id, a.kind, a.currency
             ), summed AS (
                 INSERT INTO ledger_hours (member_id, account, hour, entry_kind, commission_kind, level, currency,
                                           amount, rounding, postings)
                 SELECT m.member_id, m.kind, date_trunc('hour', now(), 'UTC'), $5::text, coalesce(c.kind, ''),
                        coalesce(c.paid_level, 0), m.currency, sum(l.amount),
                        sum(CASE WHEN $5::text = 'commission' THEN coalesce(c.rounding_residue, 0) ELSE 0 END), count(*)
                   FROM legs l JOIN moved m ON m.id = l.account_id LEFT JOIN commissions c ON c.id = l.commission_id
                  GROUP BY m.member_id, m.kind, coalesce(c.kind, ''), coalesce(c.paid_level, 0), m.currency
                 ON CONFLICT (member_id, account, hour, entry_kind, commission_kind, level) DO UPDATE
                    SET amount = ledger_hours.amount + excluded.amount,
                        rounding = ledger_hours.rounding + excluded.rounding,
                        postings = ledger_hours.postings + excluded.postings
             )
             INSERT INTO postings (entry_id, account_id, amount, balance_after)
             SELECT l.entry_id, l.account_id, l.amount,
                    m.opening + sum(l.amount) OVER (PARTITION BY l.account_id ORDER BY l.n)
               FROM legs l JOIN moved m ON m.id = l.account_id
              ORDER BY l.account_id, l.n",
            &entries,
            &accounts,
            &amounts,
            &commissions as &[Option<Uuid>],
            kind.as_str()
        )
        .execute(&mut *conn)
        .await?;
        let (entries, accounts, amounts) = self.system;
        sqlx::query!(
            "INSERT INTO postings (entry_id, account_id, amount)
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::numeric[])",
            &entries,
            &accounts,
            &amounts
        )
        .execute(conn)
        .await?;
        Ok(())
    }
}
