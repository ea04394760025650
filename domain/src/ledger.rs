//! The double-entry ledger: every money movement is one journal entry whose
//! postings sum to zero, keyed by the business event that caused it so that
//! a retried job finds the key and does nothing.

use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult};

pub mod bulk;
pub mod held;
pub mod keys;
mod kinds;
pub mod withdrawals;

pub use kinds::EntryKind;

/// A member's account kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MemberAccount {
    /// Earned but held (escrow) until `release_at`.
    Pending,
    /// Withdrawable cash.
    Available,
    /// Store credit / points: spendable at checkout, never withdrawable.
    Credit,
    /// Funds set aside for an approved withdrawal.
    Reserved,
}

impl MemberAccount {
    /// Every member account kind, created with the member.
    pub const ALL: [Self; 4] = [Self::Pending, Self::Available, Self::Credit, Self::Reserved];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Available => "available",
            Self::Credit => "credit",
            Self::Reserved => "reserved",
        }
    }

    /// The account kind of a stored name, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

crate::words::sqlx_words!(MemberAccount);

/// The company's own accounts. They keep no cached balance (see the schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SystemAccount {
    /// Where commissions are paid from.
    CommissionExpense,
    /// Where store credit spent at checkout goes.
    StoreCreditRedeemed,
    /// Money paid out to members (withdrawals).
    Payouts,
    /// Where period bonuses are paid from.
    BonusExpense,
    /// Where campaign cashback is paid from.
    CashbackExpense,
    /// Where expired points go.
    Breakage,
    /// What buyers paid for marketplace sellers' goods, passed on to the
    /// sellers' accounts (their share) and to the fees.
    SellerSales,
    /// The marketplace's fees on sellers' lines: the platform's revenue.
    MarketplaceFees,
    /// Penalties charged to sellers for lines prepared late.
    SellerPenalties,
}

impl SystemAccount {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CommissionExpense => "system:commission_expense",
            Self::StoreCreditRedeemed => "system:store_credit_redeemed",
            Self::Payouts => "system:payouts",
            Self::BonusExpense => "system:bonus_expense",
            Self::CashbackExpense => "system:cashback_expense",
            Self::Breakage => "system:breakage",
            Self::SellerSales => "system:seller_sales",
            Self::MarketplaceFees => "system:marketplace_fees",
            Self::SellerPenalties => "system:seller_penalties",
        }
    }
}

/// Which account a posting moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Account {
    /// One of a member's accounts.
    Member(Uuid, MemberAccount),
    /// One of a marketplace seller's accounts (pending, available or
    /// reserved: a seller has no store credit).
    Seller(Uuid, MemberAccount),
    /// A system account.
    System(SystemAccount),
}

/// One leg of a journal entry. Positive amounts raise the account.
#[derive(Debug, Clone, PartialEq)]
pub struct Posting {
    /// The account.
    pub account: Account,
    /// The signed amount.
    pub amount: Decimal,
}

/// A journal entry to write.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// Derived from the business event; unique forever.
    pub idempotency_key: &'a str,
    /// What kind of movement.
    pub kind: EntryKind,
    /// What it refers to (a commission or order id), for statements.
    pub reference: &'a str,
    /// The legs; they must sum to zero.
    pub postings: Vec<Posting>,
}

/// Creates a member's accounts (with the member, in its transaction).
pub async fn open_member_accounts(conn: &mut PgConnection, member_id: Uuid, currency: &str) -> DomainResult<()> {
    let kinds: Vec<String> = MemberAccount::ALL.iter().map(|k| k.as_str().to_owned()).collect();
    sqlx::query!(
        "INSERT INTO accounts (member_id, kind, currency) SELECT $1, k, $3 FROM unnest($2::text[]) AS k",
        member_id,
        &kinds,
        currency
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Creates a seller's accounts (pending, available, reserved), with the
/// seller, in its transaction.
pub async fn open_seller_accounts(conn: &mut PgConnection, seller_id: Uuid, currency: &str) -> DomainResult<()> {
    let kinds: Vec<String> = [MemberAccount::Pending, MemberAccount::Available, MemberAccount::Reserved]
        .iter()
        .map(|k| k.as_str().to_owned())
        .collect();
    sqlx::query!(
        "INSERT INTO accounts (seller_id, kind, currency) SELECT $1, k, $3 FROM unnest($2::text[]) AS k",
        seller_id,
        &kinds,
        currency
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes `entry` unless an entry with its key exists. Returns whether it
/// was written. Member balances are updated in the same transaction.
pub async fn post(conn: &mut PgConnection, currency: &str, entry: Entry<'_>) -> DomainResult<bool> {
    let sum: Decimal = entry.postings.iter().map(|p| p.amount).sum();
    if !sum.is_zero() || entry.postings.len() < 2 {
        return Err(DomainError::Internal(anyhow::anyhow!(
            "unbalanced journal entry {}: sums to {sum}",
            entry.idempotency_key
        )));
    }
    let Some(entry_id) = sqlx::query_scalar!(
        "INSERT INTO journal_entries (idempotency_key, kind, reference) VALUES ($1, $2, $3)
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        entry.idempotency_key,
        entry.kind.as_str(),
        entry.reference
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(false);
    };
    let mut postings = entry.postings;
    // A fixed lock order across transactions avoids deadlocks.
    postings.sort_by_key(|p| p.account);
    let commission = entry.kind.commission_of(entry.reference);
    for posting in postings {
        write_posting(conn, currency, entry_id, (entry.kind, commission), &posting).await?;
    }
    Ok(true)
}

/// Writes one posting. A member's also moves its cached balance and is
/// added to `ledger_hours`, the hourly summary the finance reports read, in
/// the same statement: the account's row is locked by then, and only a
/// transaction holding an account's lock writes that account's summary
/// rows, so the summary adds no waiting (the audit recomputes it from the
/// postings through the `member_postings` view).
async fn write_posting(
    conn: &mut PgConnection,
    currency: &str,
    entry_id: i64,
    (kind, commission): (EntryKind, Option<Uuid>),
    p: &Posting,
) -> DomainResult<()> {
    match p.account {
        Account::Member(member_id, account) => {
            let row = sqlx::query!(
                "UPDATE accounts SET balance = balance + $3 WHERE member_id = $1 AND kind = $2
                 RETURNING id, balance, currency",
                member_id,
                account.as_str(),
                p.amount
            )
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(DomainError::NotFound("member account"))?;
            sqlx::query!(
                "WITH posted AS (
                     INSERT INTO postings (entry_id, account_id, amount, balance_after) VALUES ($1, $2, $3, $4)
                 )
                 INSERT INTO ledger_hours (member_id, account, hour, entry_kind, commission_kind, level, currency,
                                           amount, rounding, postings)
                 SELECT $5::uuid, $6::text, date_trunc('hour', now(), 'UTC'), $7::text, coalesce(c.kind, ''),
                        coalesce(c.paid_level, 0), $8::text, $3::numeric,
                        CASE WHEN $7::text = 'commission' THEN coalesce(c.rounding_residue, 0) ELSE 0 END, 1
                   FROM (SELECT $9::uuid AS id) w LEFT JOIN commissions c ON c.id = w.id
                 ON CONFLICT (member_id, account, hour, entry_kind, commission_kind, level) DO UPDATE
                    SET amount = ledger_hours.amount + excluded.amount,
                        rounding = ledger_hours.rounding + excluded.rounding,
                        postings = ledger_hours.postings + 1",
                entry_id,
                row.id,
                p.amount,
                row.balance,
                member_id,
                account.as_str(),
                kind.as_str(),
                row.currency,
                commission
            )
            .execute(conn)
            .await?;
        }
        Account::Seller(seller_id, account) => {
            let row = sqlx::query!(
                "UPDATE accounts SET balance = balance + $3 WHERE seller_id = $1 AND kind = $2 RETURNING id, balance",
                seller_id,
                account.as_str(),
                p.amount
            )
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(DomainError::NotFound("seller account"))?;
            sqlx::query!(
                "INSERT INTO postings (entry_id, account_id, amount, balance_after) VALUES ($1, $2, $3, $4)",
                entry_id,
                row.id,
                p.amount,
                row.balance
            )
            .execute(conn)
            .await?;
        }
        Account::System(system) => {
            let account_id = system_account_id(conn, system, currency).await?;
            sqlx::query!(
                "INSERT INTO postings (entry_id, account_id, amount) VALUES ($1, $2, $3)",
                entry_id,
                account_id,
                p.amount
            )
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

async fn system_account_id(conn: &mut PgConnection, kind: SystemAccount, currency: &str) -> DomainResult<i64> {
    if let Some(id) = sqlx::query_scalar!(
        "SELECT id FROM accounts WHERE member_id IS NULL AND seller_id IS NULL AND kind = $1",
        kind.as_str()
    )
    .fetch_optional(&mut *conn)
    .await?
    {
        return Ok(id);
    }
    sqlx::query!(
        "INSERT INTO accounts (kind, currency) VALUES ($1, $2)
         ON CONFLICT (kind) WHERE member_id IS NULL AND seller_id IS NULL DO NOTHING",
        kind.as_str(),
        currency
    )
    .execute(&mut *conn)
    .await?;
    Ok(sqlx::query_scalar!(
        "SELECT id FROM accounts WHERE member_id IS NULL AND seller_id IS NULL AND kind = $1",
        kind.as_str()
    )
    .fetch_one(conn)
    .await?)
}

/// A member's cached balances.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Wallet {
    /// Held earnings.
    #[schema(value_type = crate::money::DecimalText)]
    pub pending: Decimal,
    /// Withdrawable cash.
    #[schema(value_type = crate::money::DecimalText)]
    pub available: Decimal,
    /// Store credit.
    #[schema(value_type = crate::money::DecimalText)]
    pub credit: Decimal,
    /// Set aside for withdrawals.
    #[schema(value_type = crate::money::DecimalText)]
    pub reserved: Decimal,
}

/// Who holds accounts: a member or a marketplace seller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// A member.
    Member(Uuid),
    /// A seller.
    Seller(Uuid),
}

impl Holder {
    /// The holder's account of `kind`.
    pub fn account(self, kind: MemberAccount) -> Account {
        match self {
            Self::Member(id) => Account::Member(id, kind),
            Self::Seller(id) => Account::Seller(id, kind),
        }
    }

    /// The holder of a row naming a member or a seller.
    pub fn of(member_id: Option<Uuid>, seller_id: Option<Uuid>) -> DomainResult<Self> {
        match (member_id, seller_id) {
            (Some(m), None) => Ok(Self::Member(m)),
            (None, Some(s)) => Ok(Self::Seller(s)),
            _ => Err(DomainError::Internal(anyhow::anyhow!("a row must name one member or one seller"))),
        }
    }

    /// (member id, seller id): one of them, for SQL.
    pub fn ids(self) -> (Option<Uuid>, Option<Uuid>) {
        match self {
            Self::Member(id) => (Some(id), None),
            Self::Seller(id) => (None, Some(id)),
        }
    }
}

/// A holder's cached balance of each of its accounts, in O(1).
pub async fn balances(conn: &mut PgConnection, holder: Holder) -> DomainResult<Vec<(MemberAccount, Decimal)>> {
    let (member, seller) = holder.ids();
    let rows = sqlx::query!(
        r#"SELECT kind AS "kind: MemberAccount", balance FROM accounts WHERE member_id = $1 OR seller_id = $2"#,
        member,
        seller
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.kind, r.balance)).collect())
}

/// Reads a member's balances in O(1) from the cached balances.
pub async fn wallet(conn: &mut PgConnection, member_id: Uuid) -> DomainResult<Wallet> {
    let mut w = Wallet::default();
    for (kind, balance) in balances(conn, Holder::Member(member_id)).await? {
        match kind {
            MemberAccount::Pending => w.pending = balance,
            MemberAccount::Available => w.available = balance,
            MemberAccount::Credit => w.credit = balance,
            MemberAccount::Reserved => w.reserved = balance,
        }
    }
    Ok(w)
}

/// One line of a member's or seller's statement.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementLine {
    /// The posting id (also the cursor).
    pub id: i64,
    /// When it was posted.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Which of the holder's accounts.
    pub account: MemberAccount,
    /// Signed amount.
    pub amount: Decimal,
    /// The account's balance right after.
    pub balance_after: Decimal,
    /// The entry's kind.
    pub kind: EntryKind,
    /// The entry's reference.
    pub reference: String,
}

/// A page of a member's or seller's postings, newest first, before
/// cursor `before`.
pub async fn statement(
    conn: &mut PgConnection,
    holder: Holder,
    before: Option<i64>,
    limit: i64,
) -> DomainResult<Vec<StatementLine>> {
    let (member, seller) = holder.ids();
    let rows = sqlx::query!(
        r#"SELECT p.id, p.created_at, a.kind AS "account: MemberAccount", p.amount,
                  p.balance_after AS "balance_after!", e.kind AS "kind: EntryKind", e.reference
             FROM postings p
             JOIN accounts a ON a.id = p.account_id
             JOIN journal_entries e ON e.id = p.entry_id
            WHERE (a.member_id = $1 OR a.seller_id = $4) AND ($2::bigint IS NULL OR p.id < $2)
            ORDER BY p.id DESC
            LIMIT $3"#,
        member,
        before,
        limit,
        seller
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| StatementLine {
            id: r.id,
            at: r.created_at,
            account: r.account,
            amount: r.amount,
            balance_after: r.balance_after,
            kind: r.kind,
            reference: r.reference,
        })
        .collect())
}

/// The audit's ledger checks: (entries that do not sum to zero, member and
/// seller accounts whose cached balance differs from the sum of their
/// postings).
pub async fn audit(conn: &mut PgConnection) -> DomainResult<(Vec<String>, Vec<String>)> {
    let unbalanced = sqlx::query_scalar!(
        r#"SELECT e.idempotency_key AS "key!" FROM journal_entries e JOIN postings p ON p.entry_id = e.id
            GROUP BY e.id HAVING sum(p.amount) <> 0"#
    )
    .fetch_all(&mut *conn)
    .await?;
    let drifted = sqlx::query_scalar!(
        r#"SELECT a.id::text AS "id!" FROM accounts a LEFT JOIN postings p ON p.account_id = a.id
            WHERE a.member_id IS NOT NULL OR a.seller_id IS NOT NULL
            GROUP BY a.id HAVING a.balance <> coalesce(sum(p.amount), 0)"#
    )
    .fetch_all(conn)
    .await?;
    Ok((unbalanced, drifted))
}
/// What a reversal takes back of one stored amount (a commission, a
/// buyer's reward, a campaign's cashback): the share of the stored amount
/// that the units reversed so far stand for, less what earlier reversals
/// took — cumulative and rounded toward zero (`rules::reversal`), so
/// partial returns add up to exactly the whole and nothing is recomputed.
#[derive(Debug, Clone)]
pub struct TakeBack<'a> {
    /// The amount as stored when it was paid.
    pub stored: Decimal,
    /// The line's units.
    pub units: i32,
    /// Its units reversed so far (this reversal included).
    pub reversed_units: i32,
    /// What earlier reversals already took.
    pub already: Decimal,
    /// The account it comes out of — a member's or seller's pending while
    /// held (a cancel), available or credit once released (a clawback), or
    /// the fees account for a fee refunded — with the entry's kind; `None`
    /// when it never reached the ledger (points still held).
    pub from: Option<(Account, EntryKind)>,
    /// The account it goes back to (an expense, or the sellers' sales).
    pub back_to: SystemAccount,
    /// The entry's idempotency key (`ledger::keys`).
    pub key: &'a str,
    /// The entry's reference.
    pub reference: &'a str,
}

/// Takes back what `t` says is due now, with its journal entry; returns
/// the amount (zero when nothing more is due, and then nothing is posted).
pub async fn take_back(conn: &mut PgConnection, currency: &str, t: TakeBack<'_>) -> DomainResult<Decimal> {
    let delta = crate::rules::reversal::reversed_share(t.stored, t.units, t.reversed_units) - t.already;
    if delta <= Decimal::ZERO {
        return Ok(Decimal::ZERO);
    }
    if let Some((account, kind)) = t.from {
        let postings =
            vec![Posting { account, amount: -delta }, Posting { account: Account::System(t.back_to), amount: delta }];
        post(conn, currency, Entry { idempotency_key: t.key, kind, reference: t.reference, postings }).await?;
    }
    Ok(delta)
}
