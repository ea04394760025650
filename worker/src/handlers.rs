//! One handler per job kind. Each opens a transaction, calls the domain,
//! commits. No business rule lives here; every effect is idempotent in the
//! domain, so a job that runs twice changes nothing twice.

use apalis::prelude::{BoxDynError, Data};
use chrono::Utc;
use std::sync::Arc;

use haat_connectors::CallError;
use haat_domain::checkout::shipments;
use haat_domain::jobs::inline;
use haat_domain::jobs::progress::Progress;
use haat_domain::jobs::{
    BookShipment, BookShipments, CampaignStep, CampaignTask, CascadeCommission, CheckPreparation, ClosePeriod,
    ConfirmPayment, CreditVolume, DeliverEvent, ExpireOrder, ExpirePoints, Job, Notify, ProcessWebhook, PruneJobs,
    ReleaseHold, ReverseOrder, SimulatePlan,
};
use haat_domain::{
    compensation::commissions, compensation::periods, compensation::simulation, integrations::webhooks, notifications,
    orders::follow_ups, orders::reversals, rewards::campaigns, rewards::loyalty,
};
use sqlx::PgPool;

use crate::mailer::Sender;

/// What every handler shares.
#[derive(Clone)]
pub struct WorkerState {
    /// The database.
    pub pool: PgPool,
    /// The deployment currency.
    pub currency: String,
    /// Email delivery.
    pub sender: Sender,
    /// Days after delivery within which a return is accepted.
    pub return_window_days: u32,
    /// Calls to providers' server APIs (with bKash's cached token).
    pub connectors: Arc<haat_connectors::Connectors>,
    /// The deployment's time zone (volume periods).
    pub time_zone: chrono_tz::Tz,
    /// Whether event endpoints may be on the loopback.
    pub events_allow_loopback: bool,
    /// How long an event endpoint has to answer.
    pub events_timeout: std::time::Duration,
    /// Where haat writes to the admins (`HAAT_ADMIN_EMAIL`).
    pub admin_email: String,
    /// The business days sellers' holds count.
    pub hold_calendar: haat_domain::marketplace::escrow::HoldCalendar,
    /// Whether a period close posts at once or waits for review.
    pub period_close_mode: periods::CloseMode,
    /// How long finished jobs are kept.
    pub job_retention: chrono::Duration,
    /// When failed jobs run again.
    pub retry: haat_domain::jobs::retry::RetrySchedule,
}

/// `process_webhook`: stored event → order fact, and in the same
/// transaction what the fact causes (`jobs::inline`): a delivered order's
/// volume and commissions, and one `notify` job for all the emails.
pub async fn process_webhook(job: ProcessWebhook, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let mut tx = state.pool.begin().await?;
    let (outcome, cascaded) = inline::within(async {
        let outcome = webhooks::process(&mut tx, job.event_id, Utc::now(), state.return_window_days).await?;
        Ok((outcome, follow_ups::run(&mut tx, &state.cascade_settings()).await?))
    })
    .await?;
    tx.commit().await?;
    tracing::info!(event_id = %job.event_id, outcome, "webhook processed");
    log_cascaded(&cascaded);
    Ok(())
}

fn log_cascaded(orders: &[uuid::Uuid]) {
    for order_id in orders {
        tracing::info!(%order_id, "volume credited and commissions posted");
    }
}

impl WorkerState {
    /// What a cascade needs of the settings.
    fn cascade_settings(&self) -> follow_ups::CascadeSettings<'_> {
        follow_ups::CascadeSettings {
            currency: &self.currency,
            time_zone: self.time_zone,
            calendar: &self.hold_calendar,
        }
    }
}

/// `credit_volume`: the buyer's volume entries, then the cascade, in one
/// transaction.
pub async fn credit_volume(job: CreditVolume, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let mut tx = state.pool.begin().await?;
    let (currency, zone, calendar) = (&state.currency, state.time_zone, &state.hold_calendar);
    commissions::credit_and_cascade(&mut tx, job.order_id, currency, zone, calendar).await?;
    tx.commit().await?;
    tracing::info!(order_id = %job.order_id, "volume credited and commissions posted");
    Ok(())
}

/// `cascade_commission`: pending commissions up the upline. No longer
/// enqueued (the volume job cascades); kept so that jobs queued before
/// still run.
pub async fn cascade_commission(job: CascadeCommission, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let mut tx = state.pool.begin().await?;
    commissions::cascade_commission(&mut tx, job.order_id, &state.currency, &state.hold_calendar).await?;
    tx.commit().await?;
    tracing::info!(order_id = %job.order_id, "commissions posted");
    Ok(())
}

/// `release_hold`: pending → available once the hold has ended.
pub async fn release_hold(job: ReleaseHold, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let mut tx = state.pool.begin().await?;
    commissions::release_holds(&mut tx, job, Utc::now(), &state.currency, &state.hold_calendar).await?;
    tx.commit().await?;
    Ok(())
}

/// `reverse_order`: a recorded return, refund or cancellation reverses
/// what the order earned (whatever of it exists yet).
pub async fn reverse_order(job: ReverseOrder, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let mut tx = state.pool.begin().await?;
    reversals::apply_recorded(&mut tx, job.order_id, &state.currency).await?;
    tx.commit().await?;
    tracing::info!(order_id = %job.order_id, reversal_id = %job.reversal_id, "reversal applied");
    Ok(())
}

/// `confirm_payment`: ask the provider (no transaction open meanwhile),
/// then apply its answer in one transaction.
pub async fn confirm_payment(job: ConfirmPayment, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let event = {
        let mut conn = state.pool.acquire().await?;
        webhooks::stored(&mut conn, job.event_id).await?
    };
    let (confirmation, answer) = state.connectors.confirm(&event.provider, &event.body).await?;
    let mut tx = state.pool.begin().await?;
    let (outcome, cascaded) = inline::within(async {
        let outcome = webhooks::confirm(&mut tx, job.event_id, &confirmation, &answer, Utc::now()).await?;
        Ok((outcome, follow_ups::run(&mut tx, &state.cascade_settings()).await?))
    })
    .await?;
    tx.commit().await?;
    tracing::info!(event_id = %job.event_id, outcome, "payment confirmed with the provider");
    log_cascaded(&cascaded);
    Ok(())
}

/// `notify`: send each email still pending (no transaction open
/// meanwhile), marking each sent as soon as it is. A crash between a send
/// and its mark resends that one: delivery is at-least-once. One email that
/// fails does not hold back the others; the job fails after trying them
/// all, and its retry sends only what is still pending.
pub async fn notify(job: Notify, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let pending = {
        let mut conn = state.pool.acquire().await?;
        notifications::pending(&mut conn, &job.notification_ids).await?
    };
    let mut failures = Vec::new();
    for email in &pending {
        if let Err(e) = send_one(&state, email).await {
            failures.push(format!("{}: {e}", email.id));
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    Err(anyhow::anyhow!("{} email(s) not sent: {}", failures.len(), failures.join("; ")).into())
}

async fn send_one(state: &WorkerState, email: &notifications::Pending) -> anyhow::Result<()> {
    state.sender.send(email).await?;
    mark_sent_patiently(state, email.id).await
}

/// How long a sent email's mark is retried before the job gives up (and
/// its retry sends the email again).
const MARK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// Marks a sent email, waiting out a short database outage: the send has
/// happened, and failing here would send it a second time.
async fn mark_sent_patiently(state: &WorkerState, id: uuid::Uuid) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + MARK_PATIENCE;
    let mut pause = std::time::Duration::from_millis(100);
    loop {
        let marked = async {
            let mut conn = state.pool.acquire().await?;
            notifications::mark_sent(&mut conn, id).await
        };
        match marked.await {
            Ok(()) => return Ok(()),
            Err(e) if std::time::Instant::now() + pause > deadline => return Err(e.into()),
            Err(e) => {
                tracing::warn!(error = %e, email_id = %id, "a sent email could not be marked yet; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(2));
            }
        }
    }
}

/// `close_period`: the month's ranks and bonuses, once per period.
pub async fn close_period(job: ClosePeriod, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let mut tx = state.pool.begin().await?;
    let mode = state.period_close_mode;
    let mut progress = Progress::of_job(&state.pool, job.key(), "steps");
    let (zone, currency) = (state.time_zone, &state.currency);
    let outcome = periods::close(&mut tx, &job.period, zone, Utc::now(), currency, mode, &mut progress).await?;
    let result = serde_json::json!({"period": job.period, "outcome": format!("{outcome:?}")});
    haat_domain::jobs::admin::record_result(&mut tx, &job.key(), &result).await?;
    tx.commit().await?;
    tracing::info!(period = job.period, ?outcome, "period close");
    Ok(())
}

/// `campaign`: settle a campaign at its deadline (once, whoever runs it),
/// or release the cash it paid once the hold ends.
pub async fn campaign(job: CampaignTask, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let mut tx = state.pool.begin().await?;
    match job.step {
        CampaignStep::Settle { version } => {
            let outcome = campaigns::settle(&mut tx, job.campaign_id, version, Utc::now(), &state.currency).await?;
            let result = match &outcome {
                campaigns::Outcome::Settled { paid, payouts } => {
                    serde_json::json!({"campaign_id": job.campaign_id, "outcome": "settled", "paid": paid,
                                       "payouts": payouts})
                }
                campaigns::Outcome::Nothing => {
                    serde_json::json!({"campaign_id": job.campaign_id, "outcome": "nothing"})
                }
            };
            haat_domain::jobs::admin::record_result(&mut tx, &job.key(), &result).await?;
            tx.commit().await?;
            tracing::info!(campaign_id = %job.campaign_id, ?outcome, "campaign settlement");
        }
        CampaignStep::Release => {
            let released = campaigns::release(&mut tx, job.campaign_id, &state.currency).await?;
            tx.commit().await?;
            tracing::info!(campaign_id = %job.campaign_id, released, "campaign cashback released");
        }
    }
    Ok(())
}

/// `expire_points`: the points lots past their age, once.
pub async fn expire_points(job: ExpirePoints, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let mut tx = state.pool.begin().await?;
    let expired = loyalty::expire_points(&mut tx, Utc::now(), &state.currency).await?;
    haat_domain::jobs::admin::record_result(&mut tx, &job.key(), &serde_json::json!({"lots_expired": expired})).await?;
    tx.commit().await?;
    tracing::info!(tick = job.tick, expired, "points expiry");
    Ok(())
}

/// `deliver_event`: one attempt of an event delivery — what to send read
/// in one transaction, the endpoint asked with none open, its answer and
/// what follows recorded in another.
pub async fn deliver_event(job: DeliverEvent, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    use haat_domain::integrations::events;
    use haat_domain::rules::delivery::Answer;
    let now = Utc::now();
    let mut conn = state.pool.acquire().await?;
    let Some(out) = events::outgoing(&mut conn, job.delivery_id, job.attempt, now).await? else {
        return Ok(());
    };
    drop(conn);
    let answered = haat_connectors::events::post(&out, state.events_timeout, state.events_allow_loopback).await;
    let (status, answer, error) = match &answered {
        Ok(a) => (Some(a.status), Answer::of_status(a.status, a.retry_after), None),
        Err(why) => (None, Answer::Failed { retry_after: None }, Some(why.as_str())),
    };
    let mut tx = state.pool.begin().await?;
    let jitter: f64 = rand::random();
    let answer = (status, answer, error);
    events::record(&mut tx, job.delivery_id, job.attempt, answer, Utc::now(), jitter, &state.admin_email).await?;
    tx.commit().await?;
    tracing::info!(delivery_id = %job.delivery_id, attempt = job.attempt, ?status, "event delivery attempt");
    Ok(())
}

/// `check_preparation`: seller lines not prepared in time, each recorded
/// and charged once.
pub async fn check_preparation(job: CheckPreparation, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let mut tx = state.pool.begin().await?;
    let late = haat_domain::marketplace::preparation::check(&mut tx, Utc::now(), &state.currency).await?;
    haat_domain::jobs::admin::record_result(&mut tx, &job.key(), &serde_json::json!({"late_lines": late})).await?;
    tx.commit().await?;
    tracing::info!(tick = job.tick, late, "preparation check");
    Ok(())
}

/// `simulate_plan`: a plan simulation over more orders than a request
/// replays, in a read-only snapshot that is rolled back, reporting orders
/// done as it goes; what it found is the job's result (the totals over
/// every member, the members whose pay would change most).
pub async fn simulate_plan(job: SimulatePlan, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let range = simulation::Range { from: job.from, to: job.to };
    let mut progress = Progress::of_job(&state.pool, job.key(), "orders");
    let mut tx = state.pool.begin().await?;
    haat_platform::db::snapshot(&mut tx).await?;
    let mut found = simulation::simulate(&mut tx, job.plan_id, &range, &mut progress).await?;
    tx.rollback().await?;
    let members = found.keep_members(simulation::KEPT_MEMBERS);
    let result = serde_json::json!({"simulation": found, "members_total": members});
    let mut conn = state.pool.acquire().await?;
    haat_domain::jobs::admin::record_result(&mut conn, &job.key(), &result).await?;
    tracing::info!(plan_id = %job.plan_id, orders = found.orders, members, "plan simulated");
    Ok(())
}

/// `prune_jobs`: finished jobs older than the retention are deleted.
pub async fn prune_jobs(job: PruneJobs, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let mut conn = state.pool.acquire().await?;
    let pruned = haat_domain::jobs::admin::prune(&mut conn, Utc::now() - state.job_retention).await?;
    tracing::info!(tick = job.tick, pruned, "finished jobs pruned");
    Ok(())
}

/// `book_shipment`: ask the courier to take the parcel (no transaction
/// open meanwhile), then record its answer: booked (the order shipped),
/// refused (the shipment failed, nothing retried), or a failed try (kept
/// for the admin; the job is retried with backoff).
pub async fn book_shipment(job: BookShipment, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let parcel = {
        let mut conn = state.pool.acquire().await?;
        shipments::parcel(&mut conn, job.shipment_id).await?
    };
    let Some(parcel) = parcel else {
        return Ok(());
    };
    let now = Utc::now();
    match state.connectors.book(&parcel).await {
        Ok(booking) => {
            let mut tx = state.pool.begin().await?;
            shipments::booked(&mut tx, job.shipment_id, &booking, now).await?;
            tx.commit().await?;
            tracing::info!(shipment_id = %job.shipment_id, tracking = booking.tracking_number, "parcel booked");
            Ok(())
        }
        Err(CallError::Refused(why)) => {
            let mut conn = state.pool.acquire().await?;
            shipments::refused(&mut conn, job.shipment_id, &why, now).await?;
            tracing::warn!(shipment_id = %job.shipment_id, why, "courier refused the parcel");
            Ok(())
        }
        Err(e) => {
            let mut conn = state.pool.acquire().await?;
            shipments::try_failed(&mut conn, job.shipment_id, &e.to_string(), now).await?;
            Err(e.into())
        }
    }
}

/// `book_shipments`: a batch's orders booked a hundred per transaction;
/// what it did (requested, already booked, refused with why) is the job's
/// result.
pub async fn book_shipments(job: BookShipments, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let mut progress = Progress::of_job(&state.pool, job.key(), "orders");
    let outcome = shipments::book_batch(&state.pool, job.batch_id, Utc::now(), &mut progress).await?;
    let mut conn = state.pool.acquire().await?;
    let result = serde_json::json!({"batch_id": job.batch_id, "outcome": outcome});
    haat_domain::jobs::admin::record_result(&mut conn, &job.key(), &result).await?;
    tracing::info!(batch_id = %job.batch_id, requested = outcome.requested, refused = outcome.refused.len(), "shipment batch booked");
    Ok(())
}

/// `expire_order`: an online order still unpaid at the end of its payment
/// window is cancelled (stock and coupon use given back).
pub async fn expire_order(job: ExpireOrder, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let mut tx = state.pool.begin().await?;
    let expired = haat_domain::orders::expire(&mut tx, job.order_id, Utc::now()).await?;
    tx.commit().await?;
    tracing::info!(order_id = %job.order_id, expired, "payment window ended");
    Ok(())
}
