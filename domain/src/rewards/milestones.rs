//! Milestone emails, a retention tool: a buyer's first and tenth credited
//! order, a loyalty tier reached, a rank reached. Each is written in the
//! transaction of what reached it and sent once (its dedupe key names the
//! member and the milestone), however often that code runs.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::DomainResult;
use crate::money::display::{Language, digits};
use crate::notifications::{self, ToMember};

/// The order counts that earn an email.
pub const ORDER_MILESTONES: [i64; 2] = [1, 10];

/// Emails the buyer when this credited order is their first or tenth
/// (counting their orders that reached the commission cascade).
pub async fn order_credited(conn: &mut PgConnection, buyer_id: Uuid) -> DomainResult<()> {
    let count = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM orders WHERE buyer_id = $1 AND cascaded_at IS NOT NULL"#,
        buyer_id
    )
    .fetch_one(&mut *conn)
    .await?;
    if !ORDER_MILESTONES.contains(&count) {
        return Ok(());
    }
    notifications::to_member(conn, buyer_id, format!("milestone:orders:{buyer_id}:{count}"), |name, language| {
        match (language, count) {
            (Language::English, 1) => (
                "Thank you for your first order".to_owned(),
                format!("Dear {name},\n\nyour first order is confirmed. Welcome to the shop!\n"),
            ),
            (Language::English, n) => (
                format!("Your {n}th order: thank you"),
                format!("Dear {name},\n\nthis is your {n}th confirmed order. Thank you for shopping with us.\n"),
            ),
            (Language::Bengali, 1) => (
                "আপনার প্রথম অর্ডারের জন্য ধন্যবাদ".to_owned(),
                format!("প্রিয় {name},\n\nআপনার প্রথম অর্ডার নিশ্চিত হয়েছে। স্বাগতম!\n"),
            ),
            (Language::Bengali, n) => {
                let n = digits(&n.to_string(), language);
                (
                    format!("আপনার {n}তম অর্ডার: ধন্যবাদ"),
                    format!("প্রিয় {name},\n\nএটি আপনার {n}তম নিশ্চিত অর্ডার। আমাদের সাথে কেনাকাটার জন্য ধন্যবাদ।\n"),
                )
            }
        }
    })
    .await
}

/// Emails a member who reached loyalty tier `tier` (once per tier).
pub async fn tier_reached(conn: &mut PgConnection, member_id: Uuid, tier: &str) -> DomainResult<()> {
    notifications::to_member(conn, member_id, format!("milestone:tier:{member_id}:{tier}"), |name, language| {
        match language {
            Language::English => (
                format!("You reached the {tier} tier"),
                format!("Dear {name},\n\nyour purchases over the last 12 months have taken you to the {tier} tier.\n"),
            ),
            Language::Bengali => (
                format!("আপনি {tier} স্তরে পৌঁছেছেন"),
                format!("প্রিয় {name},\n\nগত ১২ মাসের কেনাকাটায় আপনি {tier} স্তরে পৌঁছেছেন।\n"),
            ),
        }
    })
    .await
}

/// Emails each member whose highest rank a period close raised (once per
/// member and rank).
pub async fn ranks_reached(conn: &mut PgConnection, reached: &[(Uuid, String)]) -> DomainResult<()> {
    let emails: Vec<ToMember<_>> = reached
        .iter()
        .map(|(member_id, rank)| {
            let rank = rank.clone();
            ToMember {
                member_id: *member_id,
                dedupe_key: format!("milestone:rank:{member_id}:{rank}"),
                write: move |name: &str, language: Language| match language {
                    Language::English => (
                        format!("You reached the rank of {rank}"),
                        format!("Dear {name},\n\nyour team's volume has taken you to the rank of {rank}.\n"),
                    ),
                    Language::Bengali => (
                        format!("আপনি {rank} পদে পৌঁছেছেন"),
                        format!("প্রিয় {name},\n\nআপনার দলের ভলিউমে আপনি {rank} পদে পৌঁছেছেন।\n"),
                    ),
                },
            }
        })
        .collect();
    notifications::queue_to_members(conn, &emails).await
}
