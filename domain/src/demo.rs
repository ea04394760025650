//! The demo seed the run command loads into an empty database: a plan, a
//! small catalog and a small network, all created through the ordinary
//! domain functions.

use chrono::{TimeZone, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::catalog::products::{self, ProductInput};
use crate::compensation::plans::{self, PlanInput};
use crate::error::DomainResult;
use crate::network::members::{self, NewMember};

/// What was seeded, for the demo script.
#[derive(Debug, Clone, Serialize)]
pub struct DemoSeed {
    /// The sponsor chain, root first, the buyer last.
    pub chain: Vec<DemoMember>,
    /// The product the demo order buys (BV 300.00 a unit).
    pub product_id: Uuid,
}

/// A seeded member.
#[derive(Debug, Clone, Serialize)]
pub struct DemoMember {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Referral code.
    pub referral_code: String,
}

/// Seeds the demo unless the database already has members. Returns `None`
/// when it did nothing.
pub async fn seed_if_empty(conn: &mut PgConnection, currency: &str) -> DomainResult<Option<DemoSeed>> {
    let has_members =
        sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM members) AS "e!""#).fetch_one(&mut *conn).await?;
    if has_members {
        return Ok(None);
    }
    let plan = PlanInput {
        name: "Standard".into(),
        effective_from: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or_else(Utc::now),
        credit_on: None,
        holding_days: Some(7),
        levels: ["0.10", "0.05", "0.03", "0.02", "0.01"].map(String::from).to_vec(),
        ..Default::default()
    };
    plans::create(conn, &plan).await?;
    let mut product_id = Uuid::nil();
    for figures in [
        ("TEA-500", "Tea 500g", "grocery", "450.00", "20.00", "300.00"),
        ("HONEY-1K", "Honey 1kg", "grocery", "900.00", "40.00", "500.00"),
        ("SOAP-3", "Herbal soap, 3 bars", "care", "240.00", "10.00", "120.00"),
    ] {
        let p = products::create(conn, &ProductInput::for_sale(figures, 1000)).await?;
        if product_id.is_nil() {
            product_id = p.id;
        }
    }
    let names = ["Company", "Rahim", "Karim", "Fatema", "Nasrin", "Tanvir", "Ayesha"];
    let mut chain: Vec<DemoMember> = Vec::new();
    for name in names {
        let input = NewMember {
            name: name.into(),
            email: format!("{}@example.com", name.to_lowercase()),
            phone: None,
            sponsor_code: chain.last().map(|m| m.referral_code.clone()),
        };
        let m = members::create(conn, &input, currency).await?;
        chain.push(DemoMember { id: m.id, name: m.name, referral_code: m.referral_code });
    }
    Ok(Some(DemoSeed { chain, product_id }))
}
