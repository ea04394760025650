//! A member's commission lines told in words, as the dashboard shows them:
//! "Level 3 of Karim's order INV-000123: 3% of BV 600.00 = ৳18.00, held
//! until 8 Dec 2026". The words are made here, from the stored line, so a
//! page never works out what a line means on its own.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use super::commissions::{self, CommissionStatus, CommissionView};
use crate::error::DomainResult;
use crate::money::display::{Language, taka_of};
use crate::money::{VOLUME_SCALE, format};
use crate::network::genealogy::shown_name;
use crate::rules::cascade::Kind;

/// A commission line with what its sentence needs of its order.
#[derive(Debug, Clone)]
pub struct ExplainedLine {
    /// The line as stored.
    pub line: CommissionView,
    /// The buyer's name as the member may see it (masked beyond level 1
    /// when the deployment masks downline names).
    pub buyer: String,
    /// The order's invoice number.
    pub invoice_no: String,
}

/// A page of `member_id`'s lines, newest first, before `before`, each with
/// its order's buyer and invoice number (two queries a page).
pub async fn for_member(
    conn: &mut PgConnection,
    member_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
    mask: bool,
) -> DomainResult<Vec<ExplainedLine>> {
    let lines = commissions::list_for_member(conn, member_id, before, limit).await?;
    let orders: Vec<Uuid> = lines.iter().map(|l| l.order_id).collect();
    let rows = sqlx::query!(
        "SELECT o.id, o.invoice_no, b.name FROM orders o JOIN members b ON b.id = o.buyer_id WHERE o.id = ANY($1)",
        &orders
    )
    .fetch_all(conn)
    .await?;
    let of_order: HashMap<Uuid, (String, String)> = rows.into_iter().map(|r| (r.id, (r.invoice_no, r.name))).collect();
    Ok(lines
        .into_iter()
        .map(|line| {
            let (invoice_no, name) = of_order.get(&line.order_id).cloned().unwrap_or_default();
            let buyer = shown_name(&name, line.physical_level, mask);
            ExplainedLine { line, buyer, invoice_no }
        })
        .collect())
}

impl ExplainedLine {
    /// The line in one English sentence, its dates in `zone`.
    pub fn sentence(&self, zone: Tz) -> String {
        let l = &self.line;
        let whose = match l.kind {
            Kind::Level => format!("Level {} of {}'s order {}", l.physical_level, self.buyer, self.invoice_no),
            Kind::Retail => format!("Referral of {}'s guest order {}", self.buyer, self.invoice_no),
            Kind::Pickup => format!("Pickup point of {}'s order {}", self.buyer, self.invoice_no),
        };
        let mut text = format!("{whose}: {} of BV {}", percent(l.rate), format(l.basis, VOLUME_SCALE));
        if l.kind == Kind::Level && l.paid_level != l.physical_level {
            text.push_str(&format!(" (level {}'s rate, members between not qualifying)", l.paid_level));
        }
        if let Some(factor) = l.cap_factor {
            text.push_str(&format!(", × {} by the payout cap", factor.normalize()));
        }
        text.push_str(&format!(" = {}", taka_of(l.amount, Language::English)));
        text.push_str(&standing(l, zone));
        text
    }
}

/// `0.03` → `3%`, `0.125` → `12.5%`.
fn percent(rate: Decimal) -> String {
    format!("{}%", (rate * Decimal::ONE_HUNDRED).normalize())
}

/// Where the line stands, after its amount.
fn standing(l: &CommissionView, zone: Tz) -> String {
    let back = if l.reversed_amount.is_zero() || l.status == CommissionStatus::Reversed {
        String::new()
    } else {
        format!(" ({} of it taken back by a return)", taka_of(l.reversed_amount, Language::English))
    };
    let when = day(l.release_at, zone);
    match l.status {
        CommissionStatus::Pending => format!(", held until {when}{back}"),
        CommissionStatus::Available => format!(", available since {when}{back}"),
        CommissionStatus::Reversed => {
            format!(", reversed ({} taken back)", taka_of(l.reversed_amount, Language::English))
        }
    }
}

/// A date as a reader writes it: `8 Dec 2026`.
fn day(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone).format("%-d %b %Y").to_string()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn line(kind: Kind, physical: i32, paid: i32, status: CommissionStatus) -> ExplainedLine {
        let dec = |s: &str| s.parse::<Decimal>().expect("decimal");
        ExplainedLine {
            line: CommissionView {
                id: Uuid::nil(),
                order_id: Uuid::nil(),
                order_line_id: Uuid::nil(),
                kind,
                physical_level: physical,
                paid_level: paid,
                basis: dec("600.00"),
                rate: dec("0.0300"),
                rule: "levels".into(),
                plan_version: 1,
                qualification: serde_json::Value::Null,
                cap_factor: None,
                rounding_residue: Decimal::ZERO,
                amount: dec("18.00"),
                reversed_amount: Decimal::ZERO,
                status,
                // 7 Dec 2026 20:00 UTC is 8 Dec 02:00 in Dhaka.
                release_at: Utc.with_ymd_and_hms(2026, 12, 7, 20, 0, 0).single().expect("time"),
                created_at: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).single().expect("time"),
            },
            buyer: "Karim".into(),
            invoice_no: "INV-000123".into(),
        }
    }

    #[test]
    fn a_held_level_line_says_whose_order_the_rate_the_basis_and_the_day_it_is_released() {
        let l = line(Kind::Level, 3, 3, CommissionStatus::Pending);
        assert_eq!(
            l.sentence(chrono_tz::Asia::Dhaka),
            "Level 3 of Karim's order INV-000123: 3% of BV 600.00 = ৳18.00, held until 8 Dec 2026"
        );
        assert_eq!(
            l.sentence(chrono_tz::UTC),
            "Level 3 of Karim's order INV-000123: 3% of BV 600.00 = ৳18.00, held until 7 Dec 2026"
        );
    }

    #[test]
    fn a_compressed_capped_partly_returned_line_says_so() {
        let mut l = line(Kind::Level, 4, 2, CommissionStatus::Available);
        l.line.cap_factor = Some("0.800000".parse().expect("factor"));
        l.line.reversed_amount = "5.00".parse().expect("amount");
        assert_eq!(
            l.sentence(chrono_tz::Asia::Dhaka),
            "Level 4 of Karim's order INV-000123: 3% of BV 600.00 (level 2's rate, members between not qualifying), \
             × 0.8 by the payout cap = ৳18.00, available since 8 Dec 2026 (৳5.00 of it taken back by a return)"
        );
    }

    #[test]
    fn a_reversed_line_and_other_kinds_read_as_what_they_are() {
        let mut l = line(Kind::Retail, 1, 1, CommissionStatus::Reversed);
        l.line.reversed_amount = "18.00".parse().expect("amount");
        assert_eq!(
            l.sentence(chrono_tz::Asia::Dhaka),
            "Referral of Karim's guest order INV-000123: 3% of BV 600.00 = ৳18.00, reversed (৳18.00 taken back)"
        );
        let p = line(Kind::Pickup, 1, 1, CommissionStatus::Pending);
        assert!(p.sentence(chrono_tz::Asia::Dhaka).starts_with("Pickup point of Karim's order INV-000123: 3%"));
    }
}
