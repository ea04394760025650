//! A member's commission lines told in words, as the dashboard shows them:
//! "Level 3 of Karim's order INV-000123: 3% of BV 600.00 = ৳18.00, held
//! until 8 Dec 2026". The words are made here, from the stored line, so a
//! page never works out what a line means on its own.

use std::collections::HashMap;

use chrono_tz::Tz;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use super::commissions::{self, CommissionStatus, CommissionView};
use crate::error::DomainResult;
use crate::money::display::{Language, day, digits, taka_of};
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
    /// The line in one sentence in `language`, its dates in `zone`.
    pub fn sentence(&self, zone: Tz, language: Language) -> String {
        match language {
            Language::English => self.english(zone),
            Language::Bengali => self.bengali(zone),
        }
    }

    fn english(&self, zone: Tz) -> String {
        let l = &self.line;
        let money = |d| taka_of(d, Language::English);
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
        text.push_str(&format!(" = {}", money(l.amount)));
        let when = day(l.release_at.with_timezone(&zone).date_naive(), Language::English);
        let back = partly_back(l).map(|d| format!(" ({} of it taken back by a return)", money(d))).unwrap_or_default();
        text.push_str(&match l.status {
            CommissionStatus::Pending => format!(", held until {when}{back}"),
            CommissionStatus::Available => format!(", available since {when}{back}"),
            CommissionStatus::Reversed => format!(", reversed ({} taken back)", money(l.reversed_amount)),
        });
        text
    }

    fn bengali(&self, zone: Tz) -> String {
        let l = &self.line;
        let bn = Language::Bengali;
        let money = |d| taka_of(d, bn);
        let n = |i: i32| digits(&i.to_string(), bn);
        let whose = match l.kind {
            Kind::Level => format!("{}-এর অর্ডার {}-এ লেভেল {}", self.buyer, self.invoice_no, n(l.physical_level)),
            Kind::Retail => format!("{}-এর গেস্ট অর্ডার {}-এ রেফারেল", self.buyer, self.invoice_no),
            Kind::Pickup => format!("{}-এর অর্ডার {}-এ পিকআপ পয়েন্ট", self.buyer, self.invoice_no),
        };
        let basis = digits(&format(l.basis, VOLUME_SCALE), bn);
        let mut text = format!("{whose}: BV {basis}-এর {}", digits(&percent(l.rate), bn));
        if l.kind == Kind::Level && l.paid_level != l.physical_level {
            text.push_str(&format!(" (লেভেল {}-এর হার, মাঝের সদস্যরা যোগ্য নন)", n(l.paid_level)));
        }
        if let Some(factor) = l.cap_factor {
            text.push_str(&format!(", পেআউট সীমায় × {}", digits(&factor.normalize().to_string(), bn)));
        }
        text.push_str(&format!(" = {}", money(l.amount)));
        let when = day(l.release_at.with_timezone(&zone).date_naive(), bn);
        let back =
            partly_back(l).map(|d| format!(" (এর মধ্যে {} রিটার্নে ফেরত নেওয়া হয়েছে)", money(d))).unwrap_or_default();
        text.push_str(&match l.status {
            CommissionStatus::Pending => format!(", {when} পর্যন্ত আটকে আছে{back}"),
            CommissionStatus::Available => format!(", {when} থেকে তোলা যায়{back}"),
            CommissionStatus::Reversed => format!(", ফেরত নেওয়া হয়েছে ({})", money(l.reversed_amount)),
        });
        text
    }
}

/// What a return took back of a line that still stands, if anything.
fn partly_back(l: &CommissionView) -> Option<Decimal> {
    (!l.reversed_amount.is_zero() && l.status != CommissionStatus::Reversed).then_some(l.reversed_amount)
}

/// `0.03` → `3%`, `0.125` → `12.5%`.
fn percent(rate: Decimal) -> String {
    format!("{}%", (rate * Decimal::ONE_HUNDRED).normalize())
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

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
            l.sentence(chrono_tz::Asia::Dhaka, Language::English),
            "Level 3 of Karim's order INV-000123: 3% of BV 600.00 = ৳18.00, held until 8 Dec 2026"
        );
        assert_eq!(
            l.sentence(chrono_tz::UTC, Language::English),
            "Level 3 of Karim's order INV-000123: 3% of BV 600.00 = ৳18.00, held until 7 Dec 2026"
        );
    }

    #[test]
    fn a_compressed_capped_partly_returned_line_says_so() {
        let mut l = line(Kind::Level, 4, 2, CommissionStatus::Available);
        l.line.cap_factor = Some("0.800000".parse().expect("factor"));
        l.line.reversed_amount = "5.00".parse().expect("amount");
        assert_eq!(
            l.sentence(chrono_tz::Asia::Dhaka, Language::English),
            "Level 4 of Karim's order INV-000123: 3% of BV 600.00 (level 2's rate, members between not qualifying), \
             × 0.8 by the payout cap = ৳18.00, available since 8 Dec 2026 (৳5.00 of it taken back by a return)"
        );
    }

    #[test]
    fn a_bengali_reader_gets_the_sentence_in_bengali_with_bengali_digits() {
        let l = line(Kind::Level, 3, 3, CommissionStatus::Pending);
        assert_eq!(
            l.sentence(chrono_tz::Asia::Dhaka, Language::Bengali),
            "Karim-এর অর্ডার INV-000123-এ লেভেল ৩: BV ৬০০.০০-এর ৩% = ৳১৮.০০, ৮ ডিসেম্বর ২০২৬ পর্যন্ত আটকে আছে"
        );
    }

    #[test]
    fn a_reversed_line_and_other_kinds_read_as_what_they_are() {
        let mut l = line(Kind::Retail, 1, 1, CommissionStatus::Reversed);
        l.line.reversed_amount = "18.00".parse().expect("amount");
        assert_eq!(
            l.sentence(chrono_tz::Asia::Dhaka, Language::English),
            "Referral of Karim's guest order INV-000123: 3% of BV 600.00 = ৳18.00, reversed (৳18.00 taken back)"
        );
        let p = line(Kind::Pickup, 1, 1, CommissionStatus::Pending);
        assert!(
            p.sentence(chrono_tz::Asia::Dhaka, Language::English)
                .starts_with("Pickup point of Karim's order INV-000123: 3%")
        );
    }
}
