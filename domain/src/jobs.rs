//! Job payloads (ids only: a job re-reads current state) and the one
//! function that writes job rows inside the caller's transaction, so a
//! business write and the jobs it causes commit or roll back together.

use apalis::prelude::TaskBuilder;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::error::{DomainResult, is_unique_violation};

pub mod admin;
pub mod inline;
pub mod progress;
pub mod resume;
pub mod retry;
pub mod wakes;

/// A kind of job: its queue, its retry budget and its idempotency key.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static {
    /// The queue it runs on. Explicit so that moving a type never strands jobs.
    const QUEUE: &'static str;
    /// Retries before the job is dead (it gets `RETRIES + 1` attempts). With
    /// the default schedule (`retry`) 14 retries span about an hour, so an
    /// order's jobs outlive an hour-long outage of Postgres or a provider.
    const RETRIES: usize;
    /// The business key: a second enqueue of the same key is a no-op.
    fn key(&self) -> String;
    /// The order the job is about, if it is about one: every line the job
    /// logs names it, so an order's story can be followed through the logs.
    fn order_id(&self) -> Option<Uuid> {
        None
    }
}

/// Turn a stored webhook event into an order fact.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProcessWebhook {
    /// The `webhook_events` row.
    pub event_id: Uuid,
}

/// Ask a payment provider's server API about a stored, unsigned payment
/// hint (SSLCommerz IPN, bKash callback), then apply its answer.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConfirmPayment {
    /// The `webhook_events` row.
    pub event_id: Uuid,
}

/// Write the volume entries of an order that became commissionable.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct CreditVolume {
    /// The order.
    pub order_id: Uuid,
}

/// Compute and post an order's commissions. The volume job now cascades in
/// its own transaction; this kind stays so that jobs queued before run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct CascadeCommission {
    /// The order.
    pub order_id: Uuid,
}

/// Move an order's held commissions to available once their hold ends.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReleaseHold {
    /// The order.
    pub order_id: Uuid,
    /// The second the job runs at (the hold's end rounded up, unix
    /// seconds): part of the key, so a later hold of the same order is a
    /// different job.
    pub release_at: i64,
    /// How many times a job for this same second found the hold not yet
    /// over (its worker's clock behind the database's) and scheduled
    /// itself again: part of the key, so the re-enqueue never collides
    /// with the job that made it. Absent in jobs written before it (0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rerun: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl ReleaseHold {
    /// The job that releases what is held until `at`: it runs at `at`
    /// rounded up to the queue's whole second, never before.
    pub fn at(order_id: Uuid, at: DateTime<Utc>) -> (Self, DateTime<Utc>) {
        let second = due_second(at);
        let run_at = DateTime::from_timestamp(second, 0).unwrap_or(at);
        (Self { order_id, release_at: second, rerun: 0 }, run_at)
    }
}

/// The whole second (unix) a job for the moment `at` runs at: `at` rounded
/// up, since the queue's `run_at` has whole-second resolution and a job
/// must never run before the moment it is for.
pub fn due_second(at: DateTime<Utc>) -> i64 {
    let floor = at.timestamp();
    if at.timestamp_subsec_nanos() == 0 { floor } else { floor.saturating_add(1) }
}

/// Expire an online order still unpaid at the end of its payment window.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExpireOrder {
    /// The order.
    pub order_id: Uuid,
}

impl Job for ExpireOrder {
    const QUEUE: &'static str = "haat.expiries";
    const RETRIES: usize = 14;
    fn key(&self) -> String {
        format!("expire_order:{}", self.order_id)
    }
    fn order_id(&self) -> Option<Uuid> {
        Some(self.order_id)
    }
}

/// Apply a recorded return, refund or cancellation to what the order earned.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReverseOrder {
    /// The order.
    pub order_id: Uuid,
    /// The `order_reversals` row that caused it (the job's key).
    pub reversal_id: Uuid,
}

/// Send the emails one event caused (an order's commission emails, a
/// chunk of a settlement's): one job per event instead of one per email
/// keeps the queue's per-job cost (fetch, transaction, acknowledgement)
/// off the order pipeline. Each email is marked sent on its own, so a
/// retry sends only what is still pending.
///
/// Jobs written before batching (`{"notification_id": …}`) still decode:
/// a job row outlives the release that wrote it, and a payload the worker
/// cannot decode fails its queue's every poll.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(from = "NotifyPayload")]
pub struct Notify {
    /// The `notifications` rows, at least one and at most [`NOTIFY_BATCH`].
    pub notification_ids: Vec<Uuid>,
}

/// Every shape a `notify` job's payload has had.
#[derive(Deserialize)]
struct NotifyPayload {
    #[serde(default)]
    notification_ids: Vec<Uuid>,
    /// The one email of a job written before batching.
    notification_id: Option<Uuid>,
}

impl From<NotifyPayload> for Notify {
    fn from(p: NotifyPayload) -> Self {
        let mut notification_ids = p.notification_ids;
        notification_ids.extend(p.notification_id);
        Notify { notification_ids }
    }
}

/// The most emails one `notify` job sends: enough to make a settlement's
/// thousands of emails a few hundred jobs, few enough that several workers
/// share them and a retry resends little.
pub const NOTIFY_BATCH: usize = 20;

/// Close a volume period (ranks, bonuses). Enqueued by every worker's
/// period-close schedule on each tick (one job per tick across processes)
/// and by admins; the close itself runs once per period.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClosePeriod {
    /// The period, `YYYY-MM` (its id).
    pub period: String,
    /// The tick or request time (unix milliseconds): part of the key.
    pub tick: i64,
}

/// What a campaign job does.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStep {
    /// Settle the campaign (a no-op unless `version` is its current schedule).
    Settle {
        /// The campaign's schedule version the job was enqueued for.
        version: i32,
    },
    /// Move its held cash payouts to available once their hold has ended.
    Release,
}

/// Work on one cashback campaign: its settlement at `settle_at`, and the
/// release of what it paid in cash once the hold ends.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct CampaignTask {
    /// The campaign.
    pub campaign_id: Uuid,
    /// Settle or release.
    pub step: CampaignStep,
}

impl Job for CampaignTask {
    const QUEUE: &'static str = "haat.campaigns";
    const RETRIES: usize = 12;
    fn key(&self) -> String {
        match self.step {
            CampaignStep::Settle { version } => format!("campaign_settle:{}:{version}", self.campaign_id),
            CampaignStep::Release => format!("campaign_release:{}", self.campaign_id),
        }
    }
}

/// Expire the points lots older than their plan allows. Enqueued by the
/// daily schedule of every worker serving `loyalty` (one job per tick) and
/// by admins; running it twice expires nothing twice.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExpirePoints {
    /// The tick or request time (unix milliseconds): the job's key.
    pub tick: i64,
}

impl Job for ExpirePoints {
    const QUEUE: &'static str = "haat.loyalty";
    const RETRIES: usize = 12;
    fn key(&self) -> String {
        format!("expire_points:{}", self.tick)
    }
}

/// Send one attempt of an event delivery to its endpoint. The attempt
/// number is in the key: each retry is a job of its own, enqueued at its
/// time by the attempt before.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeliverEvent {
    /// The delivery.
    pub delivery_id: Uuid,
    /// Which attempt (1 to 8).
    pub attempt: i32,
}

impl Job for DeliverEvent {
    const QUEUE: &'static str = "haat.events";
    // Its own schedule retries it (`rules::delivery`); a job retry covers a
    // crash between the answer and its record only.
    const RETRIES: usize = 12;
    fn key(&self) -> String {
        format!("deliver_event:{}:{}", self.delivery_id, self.attempt)
    }
}

/// Find the seller lines not prepared in time and charge their penalties.
/// Enqueued by the schedule of every worker serving `preparation` (one
/// job per tick); running it twice charges nothing twice.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct CheckPreparation {
    /// The tick time (unix milliseconds): the job's key.
    pub tick: i64,
}

impl Job for CheckPreparation {
    const QUEUE: &'static str = "haat.preparation";
    const RETRIES: usize = 12;
    fn key(&self) -> String {
        format!("check_preparation:{}", self.tick)
    }
}

/// Replay a range of past orders under a plan version, when the range
/// holds more orders than a request replays itself (the answer is the
/// job's result). The range is the request's: it names the work, like a
/// period names a close.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct SimulatePlan {
    /// The plan version simulated.
    pub plan_id: Uuid,
    /// Orders credited from (inclusive).
    pub from: chrono::DateTime<chrono::Utc>,
    /// Orders credited before (exclusive).
    pub to: chrono::DateTime<chrono::Utc>,
}

impl Job for SimulatePlan {
    const QUEUE: &'static str = "haat.simulations";
    const RETRIES: usize = 3;
    fn key(&self) -> String {
        format!("simulate_plan:{}:{}:{}", self.plan_id, self.from.timestamp_micros(), self.to.timestamp_micros())
    }
}

/// Book a parcel with its courier (the `shipments` row names the courier
/// and the order), then mark the order shipped with its tracking number.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct BookShipment {
    /// The `shipments` row.
    pub shipment_id: Uuid,
}

impl Job for BookShipment {
    const QUEUE: &'static str = "haat.shipments";
    // About an hour of backoff: a courier's outage outlasts a few retries.
    const RETRIES: usize = 14;
    fn key(&self) -> String {
        format!("book_shipment:{}", self.shipment_id)
    }
}

/// Book the orders of a shipment batch, a bounded number per transaction
/// (each order's parcel is then booked by its own `book_shipment`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct BookShipments {
    /// The `shipment_batches` row.
    pub batch_id: Uuid,
}

impl Job for BookShipments {
    const QUEUE: &'static str = "haat.shipment_batches";
    const RETRIES: usize = 14;
    fn key(&self) -> String {
        format!("book_shipments:{}", self.batch_id)
    }
}

/// Delete finished jobs older than the retention. Enqueued by the schedule
/// of every worker serving `maintenance` (one job per tick).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct PruneJobs {
    /// The tick (unix milliseconds): the job's key.
    pub tick: i64,
}

impl Job for PruneJobs {
    const QUEUE: &'static str = "haat.maintenance";
    const RETRIES: usize = 3;
    fn key(&self) -> String {
        format!("prune_jobs:{}", self.tick)
    }
}

impl Job for ClosePeriod {
    const QUEUE: &'static str = "haat.periods";
    const RETRIES: usize = 12;
    fn key(&self) -> String {
        format!("close_period:{}:{}", self.period, self.tick)
    }
}

impl Job for ProcessWebhook {
    const QUEUE: &'static str = "haat.webhooks";
    const RETRIES: usize = 14;
    fn key(&self) -> String {
        format!("webhook:{}", self.event_id)
    }
}

impl Job for ConfirmPayment {
    const QUEUE: &'static str = "haat.confirmations";
    const RETRIES: usize = 14;
    fn key(&self) -> String {
        format!("confirm_payment:{}", self.event_id)
    }
}

impl Job for CreditVolume {
    const QUEUE: &'static str = "haat.volume";
    const RETRIES: usize = 14;
    fn key(&self) -> String {
        format!("credit_volume:{}", self.order_id)
    }
    fn order_id(&self) -> Option<Uuid> {
        Some(self.order_id)
    }
}

impl Job for CascadeCommission {
    const QUEUE: &'static str = "haat.commission";
    const RETRIES: usize = 14;
    fn key(&self) -> String {
        format!("cascade_commission:{}", self.order_id)
    }
    fn order_id(&self) -> Option<Uuid> {
        Some(self.order_id)
    }
}

impl Job for ReleaseHold {
    const QUEUE: &'static str = "haat.holds";
    const RETRIES: usize = 14;
    fn key(&self) -> String {
        match self.rerun {
            0 => format!("release_hold:{}:{}", self.order_id, self.release_at),
            n => format!("release_hold:{}:{}:rerun{n}", self.order_id, self.release_at),
        }
    }
    fn order_id(&self) -> Option<Uuid> {
        Some(self.order_id)
    }
}

impl Job for ReverseOrder {
    const QUEUE: &'static str = "haat.reversals";
    const RETRIES: usize = 14;
    fn key(&self) -> String {
        format!("reverse_order:{}", self.reversal_id)
    }
    fn order_id(&self) -> Option<Uuid> {
        Some(self.order_id)
    }
}

impl Job for Notify {
    const QUEUE: &'static str = "haat.notifications";
    const RETRIES: usize = 20;
    fn key(&self) -> String {
        // A row is queued in exactly one job, so its first row names it.
        let first = self.notification_ids.first().map(Uuid::to_string).unwrap_or_default();
        format!("notify:{first}")
    }
}

/// A queue, by the public name operators and the API use (`--queues`,
/// `HAAT_WORKER_QUEUES`, `GET /v1/admin/jobs?queue=`); the job table names
/// it by its job kind's [`Job::QUEUE`]. [`QUEUES`] is the one list of both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// `process_webhook`.
    Webhooks,
    /// `confirm_payment` (calls payment providers' APIs).
    Confirmations,
    /// `credit_volume` (the volume, then the cascade).
    Volume,
    /// `cascade_commission` (only jobs queued before the volume job
    /// cascaded itself).
    Commission,
    /// `release_hold`.
    Holds,
    /// `reverse_order`.
    Reversals,
    /// `notify`.
    Notifications,
    /// `close_period` (and the schedule that enqueues it).
    Periods,
    /// `campaign`: settlements at their deadlines, cashback releases.
    Campaigns,
    /// `expire_points` (and the daily schedule that enqueues it).
    Loyalty,
    /// `prune_jobs` (and the schedule that enqueues it).
    Maintenance,
    /// `expire_order`: online orders unpaid at the end of their window.
    Expiries,
    /// `simulate_plan`: plan simulations over more orders than a request replays.
    Simulations,
    /// `book_shipment`: parcels booked with couriers.
    Shipments,
    /// `book_shipments`: many orders' bookings made in bounded batches.
    ShipmentBatches,
    /// `check_preparation` (and the schedule that enqueues it): seller
    /// lines not prepared in time.
    Preparation,
    /// `deliver_event`: events out to registered endpoints.
    Events,
}

/// Every queue with its public name and its name in the job table.
pub const QUEUES: [(Queue, &str, &str); 17] = [
    (Queue::Webhooks, "webhooks", ProcessWebhook::QUEUE),
    (Queue::Confirmations, "confirmations", ConfirmPayment::QUEUE),
    (Queue::Volume, "volume", CreditVolume::QUEUE),
    (Queue::Commission, "commission", CascadeCommission::QUEUE),
    (Queue::Holds, "holds", ReleaseHold::QUEUE),
    (Queue::Reversals, "reversals", ReverseOrder::QUEUE),
    (Queue::Notifications, "notifications", Notify::QUEUE),
    (Queue::Periods, "periods", ClosePeriod::QUEUE),
    (Queue::Campaigns, "campaigns", CampaignTask::QUEUE),
    (Queue::Loyalty, "loyalty", ExpirePoints::QUEUE),
    (Queue::Maintenance, "maintenance", PruneJobs::QUEUE),
    (Queue::Expiries, "expiries", ExpireOrder::QUEUE),
    (Queue::Simulations, "simulations", SimulatePlan::QUEUE),
    (Queue::Shipments, "shipments", BookShipment::QUEUE),
    (Queue::ShipmentBatches, "shipment_batches", BookShipments::QUEUE),
    (Queue::Preparation, "preparation", CheckPreparation::QUEUE),
    (Queue::Events, "events", DeliverEvent::QUEUE),
];

impl Queue {
    /// Every queue, in [`QUEUES`] order.
    pub const ALL: [Self; QUEUES.len()] = {
        let mut all = [Queue::Webhooks; QUEUES.len()];
        let mut i = 0;
        while i < QUEUES.len() {
            all[i] = QUEUES[i].0;
            i += 1;
        }
        all
    };

    fn row(self) -> (Queue, &'static str, &'static str) {
        QUEUES.into_iter().find(|(q, ..)| *q == self).unwrap_or(QUEUES[0])
    }

    /// The public name (`notifications`).
    pub fn name(self) -> &'static str {
        self.row().1
    }

    /// The job table's name (`haat.notifications`).
    pub fn table_name(self) -> &'static str {
        self.row().2
    }

    /// The queue of a public name.
    pub fn parse(name: &str) -> Option<Self> {
        QUEUES.into_iter().find(|(_, n, _)| *n == name).map(|(q, ..)| q)
    }

    /// The queue of a job table name.
    pub fn of_table(name: &str) -> Option<Self> {
        QUEUES.into_iter().find(|(.., t)| *t == name).map(|(q, ..)| q)
    }

    /// Every public name, for messages that list them.
    pub fn names() -> String {
        QUEUES.map(|(_, n, _)| n).join(", ")
    }
}

/// Total attempts the database allows a job (in-process retries + 1).
pub fn max_attempts<J: Job>() -> usize {
    J::RETRIES + 1
}

/// The job row of `job`: its payload, business key and attempt budget,
/// to run at `run_at` (now when `None`), rounded up to the queue's whole
/// second so that it never runs before the moment it is for.
fn task<J: Job>(job: &J, run_at: Option<DateTime<Utc>>) -> DomainResult<apalis_postgres::PgTask> {
    let args = serde_json::to_vec(job).map_err(anyhow::Error::from)?;
    let mut builder = TaskBuilder::new(args).idempotency_key(job.key()).max_attempts(max_attempts::<J>());
    if let Some(at) = run_at {
        builder = builder.run_at_timestamp(u64::try_from(due_second(at)).unwrap_or(0));
    }
    Ok(builder.build())
}

/// Writes `job` into the job table inside the caller's transaction, to run
/// at `run_at` (now when `None`). A job with the same key already enqueued
/// (now or ever, until pruned) is left as it is.
pub async fn enqueue<J: Job>(conn: &mut PgConnection, job: &J, run_at: Option<DateTime<Utc>>) -> DomainResult<()> {
    let task = task(job, run_at)?;
    // The job insert has no ON CONFLICT: a duplicate key would abort the
    // whole transaction, so it runs inside a savepoint.
    let mut sp = conn.begin().await?;
    match apalis_postgres::queries::push_tasks(&mut *sp, J::QUEUE, vec![task]).await {
        Ok(()) => {
            sp.commit().await?;
            wakes::note(J::QUEUE, run_at);
        }
        Err(apalis_postgres::Error::Database(e)) if is_unique_violation(&e) => {
            sp.rollback().await?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Writes the jobs of rows this transaction has just created (webhook
/// events, emails), whose keys are made of those rows' new ids and so
/// cannot be taken: one statement, no savepoint (one round trip instead of
/// three). Were a key taken after all, the insert fails and the whole
/// transaction with it — never a silent duplicate.
pub async fn enqueue_for_new_row<J: Job>(conn: &mut PgConnection, batch: &[J]) -> DomainResult<()> {
    enqueue_for_new_row_at(conn, batch, None).await
}

/// [`enqueue_for_new_row`], the jobs to run at `run_at` (rounded up to the
/// queue's second).
pub async fn enqueue_for_new_row_at<J: Job>(
    conn: &mut PgConnection,
    batch: &[J],
    run_at: Option<DateTime<Utc>>,
) -> DomainResult<()> {
    let tasks = batch.iter().map(|job| task(job, run_at)).collect::<DomainResult<Vec<_>>>()?;
    if tasks.is_empty() {
        return Ok(());
    }
    apalis_postgres::queries::push_tasks(&mut *conn, J::QUEUE, tasks).await?;
    wakes::note(J::QUEUE, run_at);
    Ok(())
}

#[cfg(test)]
mod payload_tests {
    use super::*;

    #[test]
    fn a_notify_job_written_before_batching_still_decodes_and_a_new_one_round_trips() {
        let id = Uuid::now_v7();
        let old: Notify = serde_json::from_str(&format!(r#"{{"notification_id":"{id}"}}"#)).expect("old shape");
        assert_eq!(old, Notify { notification_ids: vec![id] });
        let new = Notify { notification_ids: vec![id, Uuid::now_v7()] };
        let back: Notify = serde_json::from_str(&serde_json::to_string(&new).expect("encode")).expect("new shape");
        assert_eq!(back, new);
        assert!(serde_json::from_str::<Notify>("[]").is_err(), "not a payload at all is still refused");
    }

    #[test]
    fn every_queue_has_one_public_name_and_one_table_name() {
        for q in Queue::ALL {
            assert_eq!(Queue::parse(q.name()), Some(q));
            assert_eq!(Queue::of_table(q.table_name()), Some(q));
            assert_eq!(q.table_name(), format!("haat.{}", q.name()));
        }
        assert_eq!(Queue::parse("haat.notifications"), None);
    }

    #[test]
    fn a_job_for_a_moment_within_a_second_runs_at_the_next_whole_second_and_a_whole_second_stays() {
        let whole = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        assert_eq!(due_second(whole), 1_800_000_000);
        let later = DateTime::from_timestamp(1_800_000_000, 1).expect("time");
        assert_eq!(due_second(later), 1_800_000_001);
        let (job, run_at) =
            ReleaseHold::at(Uuid::nil(), DateTime::from_timestamp(1_800_000_000, 999_999_999).expect("t"));
        assert_eq!(
            (job.release_at, run_at.timestamp(), run_at.timestamp_subsec_nanos()),
            (1_800_000_001, 1_800_000_001, 0)
        );
    }

    #[test]
    fn a_release_job_that_schedules_itself_again_for_the_same_second_has_a_key_of_its_own() {
        let order_id = Uuid::now_v7();
        let first = ReleaseHold { order_id, release_at: 1_800_000_001, rerun: 0 };
        let again = ReleaseHold { rerun: 1, ..first };
        assert_ne!(first.key(), again.key());
        let old: ReleaseHold = serde_json::from_str(&format!(r#"{{"order_id":"{order_id}","release_at":1800000001}}"#))
            .expect("old shape");
        assert_eq!(old, first, "a job written before reruns decodes as the first run");
        assert_eq!(old.key(), format!("release_hold:{order_id}:1800000001"), "and keeps its key");
    }
}
