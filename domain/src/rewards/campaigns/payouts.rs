//! What happens to a campaign's payouts after settlement: held cash is
//! released to available when the hold ends (in bulk), and a refund or
//! return of a paid purchase claws back its share of the cashback — from
//! pending while held, from available or store credit after — at the
//! stored amount, cumulatively, so partial returns add up exactly.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::DomainResult;
use crate::ledger::bulk::{Transfer, post_transfers};
use crate::ledger::{self, Account, EntryKind, MemberAccount, SystemAccount, TakeBack};
use crate::money::display::{Language, taka_of};
use crate::notifications;

/// Moves a settled campaign's held cash (what no clawback took) from
/// pending to available. Safe to run twice: released rows are skipped and
/// every entry has its key.
pub async fn release(conn: &mut PgConnection, campaign_id: Uuid, currency: &str) -> DomainResult<usize> {
    let due = sqlx::query!(
        r#"UPDATE campaign_payouts SET status = 'available'
            WHERE campaign_id = $1 AND status = 'held'
        RETURNING order_line_id, buyer_id, amount - reversed_amount AS "left!""#,
        campaign_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let reference = campaign_id.to_string();
    let transfers: Vec<Transfer> = due
        .into_iter()
        .filter(|p| p.left > Decimal::ZERO)
        .map(|p| Transfer {
            idempotency_key: ledger::keys::cashback_release(campaign_id, p.order_line_id),
            reference: reference.clone(),
            from: Account::Member(p.buyer_id, MemberAccount::Pending),
            to: Account::Member(p.buyer_id, MemberAccount::Available),
            amount: p.left,
        })
        .collect();
    post_transfers(conn, currency, EntryKind::CashbackRelease, &transfers).await
}

/// Brings the clawback of the order's campaign payouts up to date with the
/// units of each line reversed since its settlement. Called under the
/// order's lock whenever a reversal of the order is applied.
pub async fn claw_back(conn: &mut PgConnection, order_id: Uuid, currency: &str) -> DomainResult<()> {
    let rows = sqlx::query!(
        r#"SELECT p.campaign_id, p.order_line_id, p.buyer_id, p.units, p.amount, p.reversed_amount, p.status,
                  l.reversed_quantity - p.reversed_before AS "reversed_since!", c.name, o.invoice_no
             FROM campaign_payouts p
             JOIN order_lines l ON l.id = p.order_line_id
             JOIN campaigns c ON c.id = p.campaign_id
             JOIN orders o ON o.id = p.order_id
            WHERE p.order_id = $1
            ORDER BY p.campaign_id, p.order_line_id
              FOR UPDATE OF p"#,
        order_id
    )
    .fetch_all(&mut *conn)
    .await?;
    // Per campaign and buyer: reversed now, reversed in all after, names.
    let mut per_buyer: BTreeMap<(Uuid, Uuid), (Decimal, Decimal, String, String)> = BTreeMap::new();
    for p in rows {
        let from = match p.status.as_str() {
            "held" => (MemberAccount::Pending, EntryKind::CashbackCancelled),
            "available" => (MemberAccount::Available, EntryKind::CashbackClawback),
            _ => (MemberAccount::Credit, EntryKind::CashbackClawback),
        };
        let key = ledger::keys::cashback_reversal(p.campaign_id, p.order_line_id, p.reversed_since);
        let reference = p.campaign_id.to_string();
        let take = TakeBack {
            stored: p.amount,
            units: p.units,
            reversed_units: p.reversed_since,
            already: p.reversed_amount,
            from: Some((Account::Member(p.buyer_id, from.0), from.1)),
            back_to: SystemAccount::CashbackExpense,
            key: &key,
            reference: &reference,
        };
        let delta = ledger::take_back(conn, currency, take).await?;
        let entry = per_buyer.entry((p.campaign_id, p.buyer_id)).or_insert((
            Decimal::ZERO,
            Decimal::ZERO,
            p.name.clone(),
            p.invoice_no.clone(),
        ));
        entry.1 += p.reversed_amount + delta;
        if delta.is_zero() {
            continue;
        }
        entry.0 += delta;
        sqlx::query!(
            "UPDATE campaign_payouts SET reversed_amount = reversed_amount + $3
              WHERE campaign_id = $1 AND order_line_id = $2",
            p.campaign_id,
            p.order_line_id,
            delta
        )
        .execute(&mut *conn)
        .await?;
    }
    for ((campaign_id, buyer_id), (total, after, name, invoice_no)) in per_buyer {
        if total.is_zero() {
            continue;
        }
        // The cumulative amount names the email: each further reversal is news.
        let key = format!("cashback_reversal:{campaign_id}:{buyer_id}:{order_id}:{after}");
        notifications::to_member(conn, buyer_id, key, |member, language| match language {
            Language::English => (
                format!("{total} {currency} of cashback reversed"),
                format!(
                    "Dear {member},\n\ngoods of order {invoice_no} were returned or refunded, so {total} {currency} \
                     of the cashback the campaign \"{name}\" paid you on them has been taken back.\n"
                ),
            ),
            Language::Bengali => {
                let amount = taka_of(total, language);
                (
                    format!("{amount} ক্যাশব্যাক ফেরত নেওয়া হয়েছে"),
                    format!(
                        "প্রিয় {member},\n\nঅর্ডার {invoice_no}-এর পণ্য ফেরত বা টাকা ফেরত হয়েছে, তাই \"{name}\" \
                         ক্যাম্পেইনের দেওয়া ক্যাশব্যাকের {amount} ফেরত নেওয়া হয়েছে।\n"
                    ),
                )
            }
        })
        .await?;
    }
    Ok(())
}
