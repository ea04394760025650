//! Withdrawals: a member (or a marketplace seller) asks for available cash; an admin approves (the
//! amount moves from available to reserved by a posting), then marks it
//! paid with the provider's reference (reserved → payouts) or rejects /
//! fails it (the reservation goes back to available). Every money step is a
//! ledger entry keyed by the withdrawal; the member (or the seller) is
//! emailed at each step.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult, Problems};
use crate::ledger::{self, Account, Entry, EntryKind, Holder, MemberAccount, Posting, SystemAccount};
use crate::money::display::{Language, taka_of};
use crate::money::{MONEY_SCALE, parse_amount};
use crate::notifications;

/// The deployment's withdrawal rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// The smallest amount.
    pub min: Decimal,
    /// Amounts are whole multiples of this.
    pub multiple: Decimal,
}

/// A withdrawal as a member asks for it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWithdrawal {
    /// A decimal string.
    #[schema(value_type = crate::money::DecimalText)]
    pub amount: String,
    /// How to pay (`bkash`, `nagad`, `bank`, …).
    pub method: String,
    /// Where (wallet number, account number).
    pub account: String,
}

crate::words::stored_words!(
    /// Where a withdrawal stands.
    WithdrawalStatus {
        /// Asked for; the money is still available.
        Requested = "requested",
        /// Approved: the money is reserved.
        Approved = "approved",
        /// Paid out.
        Paid = "paid",
        /// Refused; the money is available again.
        Rejected = "rejected",
        /// The payout failed; the money is available again.
        Failed = "failed",
    }
);

/// Every withdrawal status, for filters.
pub const STATUSES: [WithdrawalStatus; 5] = [
    WithdrawalStatus::Requested,
    WithdrawalStatus::Approved,
    WithdrawalStatus::Paid,
    WithdrawalStatus::Rejected,
    WithdrawalStatus::Failed,
];

/// One step of a withdrawal.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Step {
    /// The status it reached.
    pub status: WithdrawalStatus,
    /// When.
    pub at: DateTime<Utc>,
    /// Who took it.
    pub source: String,
}

/// A stored withdrawal.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Withdrawal {
    /// Id.
    pub id: Uuid,
    /// The member (absent on a seller's withdrawal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<Uuid>,
    /// The seller (only on a seller's withdrawal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seller_id: Option<Uuid>,
    /// Amount.
    #[schema(value_type = crate::money::DecimalText)]
    pub amount: Decimal,
    /// Currency.
    pub currency: String,
    /// How to pay.
    pub method: String,
    /// Where to pay.
    pub account: String,
    /// Where it stands.
    pub status: WithdrawalStatus,
    /// The payment provider's reference, once paid.
    pub reference: Option<String>,
    /// Why it was rejected or failed.
    pub note: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Every step, oldest first.
    pub history: Vec<Step>,
}

fn check(input: &NewWithdrawal, rules: Rules) -> DomainResult<Decimal> {
    let mut p = Problems::default();
    let amount = p.check("amount", parse_amount(&input.amount, MONEY_SCALE));
    if let Some(a) = amount {
        if a < rules.min {
            p.add("amount", format!("must be at least {}", rules.min));
        } else if !(a % rules.multiple).is_zero() {
            p.add("amount", format!("must be a multiple of {}", rules.multiple));
        }
    }
    let method_ok = (1..=32).contains(&input.method.len())
        && input.method.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !method_ok {
        p.add("method", "must be 1 to 32 lower-case letters, digits or _ (e.g. \"bkash\")");
    }
    if input.account.trim().is_empty() || crate::input::chars(&input.account) > 64 {
        p.add("account", "must be 1 to 64 characters");
    }
    p.finish()?;
    amount.ok_or_else(|| DomainError::invalid("amount", "is required"))
}

/// Records a request, refused (nothing written) when the amount breaks the
/// rules, the available balance is negative (after a clawback or a
/// penalty), or it is short of this and the holder's other open requests.
pub async fn request(
    conn: &mut PgConnection,
    holder: Holder,
    input: &NewWithdrawal,
    rules: Rules,
    currency: &str,
    source: &str,
) -> DomainResult<Withdrawal> {
    let amount = check(input, rules)?;
    let (member_id, seller_id) = holder.ids();
    // Serialises this holder's requests and approvals.
    let available = sqlx::query_scalar!(
        "SELECT balance FROM accounts WHERE (member_id = $1 OR seller_id = $2) AND kind = 'available' FOR UPDATE",
        member_id,
        seller_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound("account holder"))?;
    if available < Decimal::ZERO {
        return Err(DomainError::invalid(
            "amount",
            format!("withdrawals are blocked while the available balance is negative ({available})"),
        ));
    }
    let open = sqlx::query_scalar!(
        r#"SELECT coalesce(sum(amount), 0) AS "open!" FROM withdrawals
            WHERE (member_id = $1 OR seller_id = $2) AND status = 'requested'"#,
        member_id,
        seller_id
    )
    .fetch_one(&mut *conn)
    .await?;
    if amount + open > available {
        return Err(DomainError::invalid(
            "amount",
            format!("is more than the available {available} (less {open} already requested)"),
        ));
    }
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO withdrawals (id, member_id, seller_id, amount, currency, method, account, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'requested')",
        id,
        member_id,
        seller_id,
        amount,
        currency,
        input.method,
        input.account.trim()
    )
    .execute(&mut *conn)
    .await?;
    step(conn, id, holder, WithdrawalStatus::Requested, source, (amount, currency)).await?;
    get(conn, id).await
}

/// What an admin does to a withdrawal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Reserve the funds.
    Approve,
    /// Paid out (needs the provider reference).
    Paid,
    /// Refused (before or after approval).
    Reject,
    /// The payout failed (after approval).
    Fail,
}

impl Action {
    fn target(self) -> WithdrawalStatus {
        match self {
            Self::Approve => WithdrawalStatus::Approved,
            Self::Paid => WithdrawalStatus::Paid,
            Self::Reject => WithdrawalStatus::Rejected,
            Self::Fail => WithdrawalStatus::Failed,
        }
    }

    fn allowed_from(self) -> &'static [WithdrawalStatus] {
        match self {
            Self::Approve => &[WithdrawalStatus::Requested],
            Self::Paid | Self::Fail => &[WithdrawalStatus::Approved],
            Self::Reject => &[WithdrawalStatus::Requested, WithdrawalStatus::Approved],
        }
    }
}

/// Moves a withdrawal one step, with its posting. Repeating the step it is
/// already at changes nothing; any other move from a final or wrong state
/// is a conflict naming `status`.
pub async fn act(
    conn: &mut PgConnection,
    id: Uuid,
    action: Action,
    reference: Option<&str>,
    note: Option<&str>,
    currency: &str,
    source: &str,
) -> DomainResult<Withdrawal> {
    let w = sqlx::query!(
        r#"SELECT member_id, seller_id, amount, status AS "status: WithdrawalStatus" FROM withdrawals
            WHERE id = $1 FOR UPDATE"#,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound("withdrawal"))?;
    if w.status == action.target() {
        return get(conn, id).await;
    }
    if !action.allowed_from().contains(&w.status) {
        return Err(DomainError::conflict(
            "status",
            format!("a {} withdrawal cannot be {}", w.status, action.target()),
        ));
    }
    let reference = reference.map(str::trim).filter(|r| !r.is_empty());
    if action == Action::Paid && reference.is_none_or(|r| crate::input::chars(r) > 128) {
        return Err(DomainError::invalid("reference", "the provider's reference (1 to 128 characters) is required"));
    }
    let (holder, amount) = (Holder::of(w.member_id, w.seller_id)?, w.amount);
    let legs = match (action, w.status) {
        (Action::Approve, _) => Some((
            MemberAccount::Available,
            holder.account(MemberAccount::Reserved),
            ("reserve", EntryKind::WithdrawalReserve),
        )),
        (Action::Paid, _) => Some((
            MemberAccount::Reserved,
            Account::System(SystemAccount::Payouts),
            ("paid", EntryKind::WithdrawalPaid),
        )),
        (Action::Reject | Action::Fail, WithdrawalStatus::Approved) => Some((
            MemberAccount::Reserved,
            holder.account(MemberAccount::Available),
            ("release", EntryKind::WithdrawalRelease),
        )),
        _ => None,
    };
    if action == Action::Approve {
        let balances = ledger::balances(conn, holder).await?;
        let available = balances.iter().find(|(k, _)| *k == MemberAccount::Available).map_or(Decimal::ZERO, |b| b.1);
        if available < amount {
            return Err(DomainError::conflict("amount", format!("only {available} is available now")));
        }
    }
    if let Some((from, to, (what, kind))) = legs {
        let key = ledger::keys::withdrawal(what, id);
        let reference = id.to_string();
        let postings =
            vec![Posting { account: holder.account(from), amount: -amount }, Posting { account: to, amount }];
        ledger::post(conn, currency, Entry { idempotency_key: &key, kind, reference: &reference, postings }).await?;
    }
    sqlx::query!(
        "UPDATE withdrawals SET status = $2, reference = coalesce($3, reference), note = coalesce($4, note),
                updated_at = now() WHERE id = $1",
        id,
        action.target() as WithdrawalStatus,
        reference,
        note
    )
    .execute(&mut *conn)
    .await?;
    step(conn, id, holder, action.target(), source, (amount, currency)).await?;
    get(conn, id).await
}

async fn step(
    conn: &mut PgConnection,
    id: Uuid,
    holder: Holder,
    status: WithdrawalStatus,
    source: &str,
    (amount, currency): (Decimal, &str),
) -> DomainResult<()> {
    sqlx::query!(
        "INSERT INTO withdrawal_history (withdrawal_id, status, source) VALUES ($1, $2, $3)",
        id,
        status as WithdrawalStatus,
        source
    )
    .execute(&mut *conn)
    .await?;
    tell_endpoints(conn, id, holder, status, amount).await?;
    let dedupe_key = format!("withdrawal:{id}:{status}");
    let seller_id = match holder {
        Holder::Member(member_id) => return tell_member(conn, member_id, dedupe_key, status, (amount, currency)).await,
        Holder::Seller(seller_id) => seller_id,
    };
    // Sellers are written to in English, at their contact email.
    let seller = sqlx::query!("SELECT name, email FROM sellers WHERE id = $1", seller_id).fetch_one(&mut *conn).await?;
    let Some(to) = seller.email else { return Ok(()) };
    let email = notifications::Email {
        dedupe_key,
        member_id: None,
        to,
        subject: format!("Your withdrawal of {amount} {currency} is {status}"),
        body: format!("Dear {},\n\nyour withdrawal of {amount} {currency} is now {status}.\n", seller.name),
    };
    notifications::queue(conn, &email).await
}

/// The withdrawal's `withdrawal.{status}` event, once per status reached.
async fn tell_endpoints(
    conn: &mut PgConnection,
    id: Uuid,
    holder: Holder,
    status: WithdrawalStatus,
    amount: Decimal,
) -> DomainResult<()> {
    use crate::integrations::events::{self, EventType};
    let kind = match status {
        WithdrawalStatus::Requested => EventType::WithdrawalRequested,
        WithdrawalStatus::Approved => EventType::WithdrawalApproved,
        WithdrawalStatus::Paid => EventType::WithdrawalPaid,
        WithdrawalStatus::Rejected => EventType::WithdrawalRejected,
        WithdrawalStatus::Failed => EventType::WithdrawalFailed,
    };
    let (member_id, seller_id) = match holder {
        Holder::Member(m) => (Some(m), None),
        Holder::Seller(s) => (None, Some(s)),
    };
    let data = serde_json::json!({
        "withdrawal_id": id, "member_id": member_id, "seller_id": seller_id, "amount": amount, "status": status,
    });
    events::emit(conn, kind, &format!("{}:{id}", kind.as_str()), data, chrono::Utc::now()).await
}

async fn tell_member(
    conn: &mut PgConnection,
    member_id: Uuid,
    dedupe_key: String,
    status: WithdrawalStatus,
    (amount, currency): (Decimal, &str),
) -> DomainResult<()> {
    notifications::to_member(conn, member_id, dedupe_key, |name, language| match language {
        Language::English => (
            format!("Your withdrawal of {amount} {currency} is {status}"),
            format!("Dear {name},\n\nyour withdrawal of {amount} {currency} is now {status}.\n"),
        ),
        Language::Bengali => {
            let taka = taka_of(amount, language);
            let state = match status {
                WithdrawalStatus::Requested => "অনুরোধ করা হয়েছে",
                WithdrawalStatus::Approved => "অনুমোদিত",
                WithdrawalStatus::Paid => "পরিশোধিত",
                WithdrawalStatus::Rejected => "বাতিল",
                WithdrawalStatus::Failed => "ব্যর্থ",
            };
            (
                format!("আপনার {taka} উত্তোলন: {state}"),
                format!("প্রিয় {name},\n\nআপনার {taka} উত্তোলনের অবস্থা এখন: {state}।\n"),
            )
        }
    })
    .await
}

/// A withdrawal with its steps.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> DomainResult<Withdrawal> {
    let w = sqlx::query_as!(
        Row,
        r#"SELECT id, member_id, seller_id, amount, currency, method, account, status AS "status: WithdrawalStatus",
                reference, note, created_at
           FROM withdrawals WHERE id = $1"#,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound("withdrawal"))?;
    Ok(with_history(conn, vec![w]).await?.remove(0))
}

/// A withdrawal row before its steps are read.
struct Row {
    id: Uuid,
    member_id: Option<Uuid>,
    seller_id: Option<Uuid>,
    amount: Decimal,
    currency: String,
    method: String,
    account: String,
    status: WithdrawalStatus,
    reference: Option<String>,
    note: Option<String>,
    created_at: DateTime<Utc>,
}

/// Adds the steps of `rows` with one query, whatever their number.
async fn with_history(conn: &mut PgConnection, rows: Vec<Row>) -> DomainResult<Vec<Withdrawal>> {
    let ids: Vec<Uuid> = rows.iter().map(|w| w.id).collect();
    let steps = sqlx::query!(
        r#"SELECT withdrawal_id, status AS "status: WithdrawalStatus", at, source FROM withdrawal_history
            WHERE withdrawal_id = ANY($1) ORDER BY withdrawal_id, id"#,
        &ids
    )
    .fetch_all(conn)
    .await?;
    let mut by_id: std::collections::HashMap<Uuid, Vec<Step>> = std::collections::HashMap::new();
    for s in steps {
        by_id.entry(s.withdrawal_id).or_default().push(Step { status: s.status, at: s.at, source: s.source });
    }
    Ok(rows
        .into_iter()
        .map(|w| Withdrawal {
            history: by_id.remove(&w.id).unwrap_or_default(),
            id: w.id,
            member_id: w.member_id,
            seller_id: w.seller_id,
            amount: w.amount,
            currency: w.currency,
            method: w.method,
            account: w.account,
            status: w.status,
            reference: w.reference,
            note: w.note,
            created_at: w.created_at,
        })
        .collect())
}

/// A page of a member's or seller's withdrawals, newest first (two
/// queries per page).
pub async fn list_for(
    conn: &mut PgConnection,
    holder: Holder,
    before: Option<Uuid>,
    limit: i64,
) -> DomainResult<Vec<Withdrawal>> {
    let (member_id, seller_id) = holder.ids();
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT id, member_id, seller_id, amount, currency, method, account, status AS "status: WithdrawalStatus",
                reference, note, created_at
           FROM withdrawals WHERE (member_id = $1 OR seller_id = $4) AND ($2::uuid IS NULL OR id < $2)
          ORDER BY id DESC LIMIT $3"#,
        member_id,
        before,
        limit,
        seller_id
    )
    .fetch_all(&mut *conn)
    .await?;
    with_history(conn, rows).await
}

/// A page of every member's and seller's withdrawals (the payout queue), optionally of
/// one status, newest first. An unknown status is refused naming `status`.
pub async fn list(
    conn: &mut PgConnection,
    status: Option<&str>,
    before: Option<Uuid>,
    limit: i64,
) -> DomainResult<Vec<Withdrawal>> {
    let status = match status {
        None => None,
        Some(s) => Some(WithdrawalStatus::parse(s).ok_or_else(|| {
            let words: Vec<&str> = STATUSES.iter().map(|w| w.as_str()).collect();
            DomainError::invalid("status", format!("{s:?} is not one of {}", words.join(", ")))
        })?),
    };
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT id, member_id, seller_id, amount, currency, method, account, status AS "status: WithdrawalStatus",
                reference, note, created_at
           FROM withdrawals WHERE ($1::text IS NULL OR status = $1) AND ($2::uuid IS NULL OR id < $2)
          ORDER BY id DESC LIMIT $3"#,
        status.map(WithdrawalStatus::as_str),
        before,
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    with_history(conn, rows).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules { min: Decimal::new(50000, 2), multiple: Decimal::new(10000, 2) }
    }

    fn req(amount: &str) -> NewWithdrawal {
        NewWithdrawal { amount: amount.into(), method: "bkash".into(), account: "01711000000".into() }
    }

    #[test]
    fn amounts_must_reach_the_minimum_and_be_whole_multiples() {
        assert_eq!(check(&req("500"), rules()).ok(), Some(Decimal::new(50000, 2)));
        assert!(check(&req("1200.00"), rules()).is_ok());
        for bad in ["400.00", "550.00", "600.50", "-600", "abc"] {
            let Err(DomainError::Invalid(errors)) = check(&req(bad), rules()) else { panic!("{bad} accepted") };
            assert_eq!(errors[0].field, "amount", "{bad}");
        }
    }
}
