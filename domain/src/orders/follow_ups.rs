//! The follow-ups a worker's job runs in its own transaction instead of
//! queueing them (`jobs::inline`): the volume and cascade of each order it
//! made commissionable, then every email it noted (the buyer's and the
//! upline's alike) written in one statement, with one `notify` job, and
//! every event it emitted with one read of the subscribed endpoints.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::compensation::commissions;
use crate::error::DomainResult;
use crate::jobs::inline;
use crate::marketplace::escrow::HoldCalendar;

/// What the cascade needs from the deployment's settings.
pub struct CascadeSettings<'a> {
    /// The deployment currency.
    pub currency: &'a str,
    /// The time zone of volume periods.
    pub time_zone: chrono_tz::Tz,
    /// The business days sellers' holds count.
    pub calendar: &'a HoldCalendar,
}

/// Runs what the work so far noted, before the caller commits; returns the
/// orders whose volume was credited and commissions posted. A cascade
/// writes emails of its own: they join the same job.
pub async fn run(conn: &mut PgConnection, s: &CascadeSettings<'_>) -> DomainResult<Vec<Uuid>> {
    let (mut cascaded, mut emails, mut events) = (Vec::new(), Vec::new(), Vec::new());
    loop {
        let noted = inline::take();
        if noted.is_empty() {
            break;
        }
        for order_id in noted.volume {
            commissions::credit_and_cascade(conn, order_id, s.currency, s.time_zone, s.calendar).await?;
            cascaded.push(order_id);
        }
        emails.extend(noted.emails);
        events.extend(noted.events);
    }
    crate::integrations::events::emit_noted(conn, events).await?;
    let queued = crate::notifications::write(conn, &emails).await?;
    crate::notifications::queue_jobs(conn, &queued).await?;
    Ok(cascaded)
}
