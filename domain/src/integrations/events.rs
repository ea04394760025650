//! Events out, for a shop's CRM, ERP or marketing tools: admins register
//! endpoints with the event types they want; each event is written in the
//! transaction of its cause, with one delivery per subscribed endpoint and
//! the job that sends it (the job table is the outbox, so an event whose
//! cause committed is sent even if the worker dies before sending). A
//! delivery is signed per Standard Webhooks (`webhook-id` = the event's
//! id, `webhook-timestamp`, `webhook-signature` `v1,` HMAC-SHA256) and
//! tried on the spec's schedule (`rules::delivery`): a 2xx delivers it, a
//! 410 disables the endpoint, anything else is tried again, and an endpoint
//! failing for five days is disabled.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult, Problems};
use crate::integrations::webhooks::WebhookSecret;
use crate::jobs::{self, DeliverEvent};
use crate::rules::delivery::{Answer, next_wait};

crate::words::stored_words!(
    /// What happened.
    EventType {
        /// An order was paid.
        OrderPaid = "order.paid",
        /// An order was delivered.
        OrderDelivered = "order.delivered",
        /// Units of an order were returned or refunded.
        OrderReturned = "order.returned",
        /// A commission was earned (held until its release).
        CommissionEarned = "commission.earned",
        /// A held commission was released: withdrawable.
        CommissionReleased = "commission.released",
        /// Part or all of a commission was taken back by a return or refund.
        CommissionReversed = "commission.reversed",
        /// A withdrawal was requested.
        WithdrawalRequested = "withdrawal.requested",
        /// A withdrawal was approved (its amount reserved).
        WithdrawalApproved = "withdrawal.approved",
        /// A withdrawal was paid out.
        WithdrawalPaid = "withdrawal.paid",
        /// A withdrawal was rejected.
        WithdrawalRejected = "withdrawal.rejected",
        /// A withdrawal's payout failed.
        WithdrawalFailed = "withdrawal.failed",
        /// A member joined.
        MemberJoined = "member.joined",
        /// A period close raised a member's highest rank.
        MemberRankChanged = "member.rank_changed",
        /// A credited order earned its buyer points (held until the release).
        PointsEarned = "points.earned",
        /// Points reached their age limit.
        PointsExpired = "points.expired",
        /// A settled campaign paid a buyer cashback.
        CashbackPaid = "cashback.paid",
        /// A credited order moved its buyer into another loyalty tier.
        TierChanged = "tier.changed",
    }
);

/// Every event type an endpoint may ask for.
pub const EVENT_TYPES: [EventType; 17] = [
    EventType::OrderPaid,
    EventType::OrderDelivered,
    EventType::OrderReturned,
    EventType::CommissionEarned,
    EventType::CommissionReleased,
    EventType::CommissionReversed,
    EventType::WithdrawalRequested,
    EventType::WithdrawalApproved,
    EventType::WithdrawalPaid,
    EventType::WithdrawalRejected,
    EventType::WithdrawalFailed,
    EventType::MemberJoined,
    EventType::MemberRankChanged,
    EventType::PointsEarned,
    EventType::PointsExpired,
    EventType::CashbackPaid,
    EventType::TierChanged,
];

/// One event to write: the key of its cause (one cause, one event, however
/// often the cause's code runs) and its `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `order.paid:{order}`, `commission.earned:{commission}`…
    pub key: String,
    /// The payload's `data`.
    pub data: serde_json::Value,
}

impl Cause {
    /// The cause `key` with `data`.
    pub fn new(key: impl Into<String>, data: serde_json::Value) -> Self {
        Self { key: key.into(), data }
    }
}

/// How long an endpoint may fail every delivery before it is disabled.
pub const FAILING_LIMIT: Duration = Duration::days(5);

/// `POST /v1/admin/event-endpoints`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// Where events are posted: `https://…` on a public address.
    pub url: String,
    /// The event types it receives (at least one).
    pub event_types: Vec<String>,
}

/// An endpoint as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Endpoint {
    /// Id.
    pub id: Uuid,
    /// Where events are posted.
    pub url: String,
    /// The event types it receives.
    pub event_types: Vec<String>,
    /// `active` or `disabled`.
    pub status: String,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// Since when every delivery has failed.
    pub failing_since: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// The signing secret: shown when the endpoint is created or its secret
    /// rotated, never listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// Whether an endpoint's address is one haat may post to: `https` to a
/// host that is not a private, loopback or link-local address literal (the
/// name is checked again against what it resolves to when sending), or —
/// only when `allow_loopback` (tests, local development) — `http` to the
/// loopback.
pub fn check_url(url: &str, allow_loopback: bool) -> Result<url::Url, String> {
    let parsed = url::Url::parse(url).map_err(|_| "must be an absolute URL".to_owned())?;
    let host = parsed.host().ok_or("must name a host")?;
    let loopback = match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    if loopback {
        return if allow_loopback { Ok(parsed) } else { Err("must not be a loopback address".into()) };
    }
    if parsed.scheme() != "https" {
        return Err("must be https".into());
    }
    let private = match host {
        url::Host::Ipv4(ip) => !is_public_v4(ip),
        url::Host::Ipv6(ip) => !is_public_v6(ip),
        url::Host::Domain(_) => false,
    };
    if private { Err("must not be a private address".into()) } else { Ok(parsed) }
}

/// Whether an IPv4 address is on the public internet.
pub fn is_public_v4(ip: std::net::Ipv4Addr) -> bool {
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.octets()[0] == 100 && (64..128).contains(&ip.octets()[1]))
}

/// Whether an IPv6 address is on the public internet.
pub fn is_public_v6(ip: std::net::Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback() || ip.is_unspecified() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80)
        && ip.to_ipv4_mapped().is_none_or(is_public_v4)
}

fn new_secret() -> String {
    use base64::Engine;
    let key: [u8; 24] = rand::random();
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(key))
}

/// Registers an endpoint (active); its secret is in the answer.
pub async fn create(conn: &mut PgConnection, input: &NewEndpoint, allow_loopback: bool) -> DomainResult<Endpoint> {
    let mut p = Problems::default();
    if crate::input::chars(&input.url) > 2000 {
        p.add("url", "must be at most 2000 characters");
    } else if let Err(problem) = check_url(input.url.trim(), allow_loopback) {
        p.add("url", problem);
    }
    if input.event_types.is_empty() {
        p.add("event_types", "must name at least one event type");
    }
    for (i, t) in input.event_types.iter().enumerate() {
        if EventType::parse(t).is_none() {
            let known: Vec<&str> = EVENT_TYPES.iter().map(|t| t.as_str()).collect();
            p.add(format!("event_types[{i}]"), format!("must be one of {}", known.join(", ")));
        }
    }
    p.finish()?;
    let (id, secret) = (Uuid::now_v7(), new_secret());
    sqlx::query!(
        "INSERT INTO event_endpoints (id, url, event_types, secret, status) VALUES ($1, $2, $3, $4, 'active')",
        id,
        input.url.trim(),
        &input.event_types,
        secret
    )
    .execute(&mut *conn)
    .await?;
    Ok(Endpoint { secret: Some(secret), ..get(conn, id).await? })
}

/// One endpoint (not deleted), without its secret.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> DomainResult<Endpoint> {
    sqlx::query_as!(
        Endpoint,
        r#"SELECT id, url, event_types, status, disabled_reason, failing_since, created_at, NULL::text AS secret
             FROM event_endpoints WHERE id = $1 AND deleted_at IS NULL"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound("event endpoint"))
}

/// Every endpoint not deleted, oldest first.
pub async fn list(conn: &mut PgConnection) -> DomainResult<Vec<Endpoint>> {
    Ok(sqlx::query_as!(
        Endpoint,
        r#"SELECT id, url, event_types, status, disabled_reason, failing_since, created_at, NULL::text AS secret
             FROM event_endpoints WHERE deleted_at IS NULL ORDER BY id"#
    )
    .fetch_all(conn)
    .await?)
}

/// Disables an endpoint (an admin's, or its own 410, or five days of
/// failures): no new delivery is made to it. Disabling it twice changes
/// nothing.
pub async fn disable(conn: &mut PgConnection, id: Uuid, reason: &str) -> DomainResult<Endpoint> {
    let done = sqlx::query!(
        "UPDATE event_endpoints SET status = 'disabled', disabled_reason = coalesce(disabled_reason, $2)
          WHERE id = $1 AND deleted_at IS NULL",
        id,
        reason
    )
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(DomainError::NotFound("event endpoint"));
    }
    get(conn, id).await
}

/// Deletes an endpoint: it is no longer listed or sent to; its deliveries
/// stay for the record.
pub async fn delete(conn: &mut PgConnection, id: Uuid) -> DomainResult<()> {
    let done = sqlx::query!(
        "UPDATE event_endpoints SET deleted_at = now(), status = 'disabled' WHERE id = $1 AND deleted_at IS NULL",
        id
    )
    .execute(conn)
    .await?;
    if done.rows_affected() == 0 { Err(DomainError::NotFound("event endpoint")) } else { Ok(()) }
}

/// Gives an endpoint a new secret (in the answer); deliveries from now on
/// are signed with it.
pub async fn rotate_secret(conn: &mut PgConnection, id: Uuid) -> DomainResult<Endpoint> {
    let secret = new_secret();
    let done = sqlx::query!("UPDATE event_endpoints SET secret = $2 WHERE id = $1 AND deleted_at IS NULL", id, secret)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(DomainError::NotFound("event endpoint"));
    }
    Ok(Endpoint { secret: Some(secret), ..get(conn, id).await? })
}

/// Writes the event `cause_key` causes (once: a second call finds it) and a
/// delivery with its job for every active endpoint that asked for `kind`,
/// in the caller's transaction.
pub async fn emit(
    conn: &mut PgConnection,
    kind: EventType,
    cause_key: &str,
    data: serde_json::Value,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    emit_all(conn, kind, vec![Cause::new(cause_key, data)], now).await
}

/// [`emit`] for many causes of one kind in a few set statements: one
/// read of the subscribed endpoints (all there is to it when none asked
/// for `kind`), one insert of the events, one of their deliveries, one of
/// the deliveries' jobs.
pub async fn emit_all(
    conn: &mut PgConnection,
    kind: EventType,
    causes: Vec<Cause>,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    if causes.is_empty() {
        return Ok(());
    }
    // In a worker's transaction that runs its follow-ups itself, every
    // kind it emits shares one read of the endpoints ([`emit_noted`]).
    let Some(causes) = crate::jobs::inline::defer_events(kind, causes, now) else {
        return Ok(());
    };
    emit_noted(conn, vec![(kind, causes, now)]).await
}

/// Events of several kinds (each with its causes and time), as [`emit_all`]
/// writes them, with one read of the subscribed endpoints for all kinds.
pub(crate) async fn emit_noted(
    conn: &mut PgConnection,
    noted: Vec<(EventType, Vec<Cause>, DateTime<Utc>)>,
) -> DomainResult<()> {
    if noted.is_empty() {
        return Ok(());
    }
    let kinds: Vec<String> = noted.iter().map(|(kind, ..)| kind.as_str().to_owned()).collect();
    let endpoints = sqlx::query!(
        "SELECT id, event_types FROM event_endpoints WHERE status = 'active' AND event_types && $1::text[] ORDER BY id",
        &kinds
    )
    .fetch_all(&mut *conn)
    .await?;
    // Nobody subscribed to any of them (the common case): nothing to write.
    if endpoints.is_empty() {
        return Ok(());
    }
    for (kind, causes, now) in noted {
        let subscribed: Vec<Uuid> =
            endpoints.iter().filter(|e| e.event_types.iter().any(|t| t == kind.as_str())).map(|e| e.id).collect();
        write_events(conn, kind, causes, now, &subscribed).await?;
    }
    Ok(())
}

/// Writes the events of `causes` (once per cause) with a delivery to each
/// of `subscribed`.
async fn write_events(
    conn: &mut PgConnection,
    kind: EventType,
    causes: Vec<Cause>,
    now: DateTime<Utc>,
    subscribed: &[Uuid],
) -> DomainResult<()> {
    if subscribed.is_empty() || causes.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = causes.iter().map(|_| Uuid::now_v7()).collect();
    let payloads: Vec<serde_json::Value> =
        causes.iter().map(|c| serde_json::json!({"type": kind.as_str(), "timestamp": now, "data": c.data})).collect();
    let keys: Vec<String> = causes.into_iter().map(|c| c.key).collect();
    let written = sqlx::query_scalar!(
        "INSERT INTO events (id, type, payload, created_at, cause_key)
         SELECT e.id, $2, e.payload, $3, e.key FROM unnest($1::uuid[], $4::jsonb[], $5::text[]) AS e (id, payload, key)
         ON CONFLICT (cause_key) DO NOTHING RETURNING id",
        &ids,
        kind.as_str(),
        now,
        &payloads,
        &keys
    )
    .fetch_all(&mut *conn)
    .await?;
    let pairs: Vec<(Uuid, Uuid)> =
        written.iter().flat_map(|event| subscribed.iter().map(move |endpoint| (*event, *endpoint))).collect();
    write_deliveries(conn, &pairs, None, now).await?;
    Ok(())
}

/// Writes a delivery of each (event, endpoint) pair with the job of its
/// first attempt; returns the deliveries' ids.
async fn write_deliveries(
    conn: &mut PgConnection,
    pairs: &[(Uuid, Uuid)],
    replay_of: Option<Uuid>,
    now: DateTime<Utc>,
) -> DomainResult<Vec<Uuid>> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = pairs.iter().map(|_| Uuid::now_v7()).collect();
    let events: Vec<Uuid> = pairs.iter().map(|p| p.0).collect();
    let endpoints: Vec<Uuid> = pairs.iter().map(|p| p.1).collect();
    sqlx::query!(
        "INSERT INTO event_deliveries (id, event_id, endpoint_id, status, next_at, replay_of)
         SELECT d.id, d.event_id, d.endpoint_id, 'pending', $4, $5
           FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS d (id, event_id, endpoint_id)",
        &ids,
        &events,
        &endpoints,
        now,
        replay_of
    )
    .execute(&mut *conn)
    .await?;
    let jobs: Vec<DeliverEvent> = ids.iter().map(|&delivery_id| DeliverEvent { delivery_id, attempt: 1 }).collect();
    // The keys are made of the new deliveries' ids: none can be taken.
    jobs::enqueue_for_new_row(conn, &jobs).await?;
    Ok(ids)
}

/// Sends a delivery's event again, to the same endpoint, under the same
/// `webhook-id` (a receiver that saw it already can tell).
pub async fn replay(conn: &mut PgConnection, delivery_id: Uuid, now: DateTime<Utc>) -> DomainResult<Delivery> {
    let d = sqlx::query!("SELECT event_id, endpoint_id FROM event_deliveries WHERE id = $1", delivery_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(DomainError::NotFound("event delivery"))?;
    let again = write_deliveries(conn, &[(d.event_id, d.endpoint_id)], Some(delivery_id), now).await?;
    delivery(conn, again.first().copied().ok_or(DomainError::NotFound("event delivery"))?).await
}

/// What one attempt sends.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Where.
    pub url: String,
    /// `webhook-id`.
    pub webhook_id: String,
    /// `webhook-timestamp` (unix seconds).
    pub timestamp: i64,
    /// `webhook-signature`.
    pub signature: String,
    /// The JSON body.
    pub body: String,
}

/// What attempt `attempt` of a delivery sends, or `None` when there is
/// nothing to send (delivered, failed, a later attempt already made, or
/// its endpoint disabled or deleted: then the delivery is failed).
pub async fn outgoing(
    conn: &mut PgConnection,
    delivery_id: Uuid,
    attempt: i32,
    now: DateTime<Utc>,
) -> DomainResult<Option<Outgoing>> {
    let Some(d) = sqlx::query!(
        "SELECT d.status, d.attempts, d.event_id, e.payload, p.url, p.secret, p.status AS endpoint_status
           FROM event_deliveries d JOIN events e ON e.id = d.event_id JOIN event_endpoints p ON p.id = d.endpoint_id
          WHERE d.id = $1",
        delivery_id
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    if d.status != "pending" || d.attempts >= attempt {
        return Ok(None);
    }
    if d.endpoint_status != "active" {
        sqlx::query!(
            "UPDATE event_deliveries SET status = 'failed', last_error = 'the endpoint is disabled', next_at = NULL
              WHERE id = $1",
            delivery_id
        )
        .execute(conn)
        .await?;
        return Ok(None);
    }
    let secret = WebhookSecret::parse(&d.secret)
        .map_err(|e| DomainError::Internal(anyhow::anyhow!("endpoint secret unreadable: {e}")))?;
    let webhook_id = format!("msg_{}", d.event_id.simple());
    let body = d.payload.to_string();
    let timestamp = now.timestamp();
    let signature = secret.sign(&webhook_id, timestamp, body.as_bytes());
    Ok(Some(Outgoing { url: d.url, webhook_id, timestamp, signature, body }))
}

/// Records attempt `attempt`'s answer (`None`: no answer — a timeout or no
/// connection, with `error`) and what follows: delivered; the endpoint
/// disabled (410, or failing for five days) and `admin_email` told; or the
/// next attempt's job at its time, `jitter` stretching the wait. Recording
/// an attempt twice changes nothing.
pub async fn record(
    conn: &mut PgConnection,
    delivery_id: Uuid,
    attempt: i32,
    answer: (Option<u16>, Answer, Option<&str>),
    now: DateTime<Utc>,
    jitter: f64,
    admin_email: &str,
) -> DomainResult<()> {
    let (status, outcome, error) = answer;
    let fresh = sqlx::query!(
        "INSERT INTO event_attempts (delivery_id, attempt, at, status, error) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING",
        delivery_id,
        attempt,
        now,
        status.map(i32::from),
        error
    )
    .execute(&mut *conn)
    .await?;
    if fresh.rows_affected() == 0 {
        return Ok(());
    }
    let endpoint = sqlx::query_scalar!(
        "UPDATE event_deliveries SET attempts = $2, last_status = $3, last_error = $4 WHERE id = $1 RETURNING endpoint_id",
        delivery_id,
        attempt,
        status.map(i32::from),
        error
    )
    .fetch_one(&mut *conn)
    .await?;
    match outcome {
        Answer::Accepted => {
            sqlx::query!(
                "UPDATE event_deliveries SET status = 'delivered', delivered_at = $2, next_at = NULL WHERE id = $1",
                delivery_id,
                now
            )
            .execute(&mut *conn)
            .await?;
            sqlx::query!("UPDATE event_endpoints SET failing_since = NULL WHERE id = $1", endpoint)
                .execute(&mut *conn)
                .await?;
        }
        Answer::Gone => {
            fail(conn, delivery_id).await?;
            give_up_on(conn, endpoint, "the endpoint answered 410 Gone", admin_email).await?;
        }
        Answer::Failed { retry_after } => {
            let since = sqlx::query_scalar!(
                r#"UPDATE event_endpoints SET failing_since = coalesce(failing_since, $2) WHERE id = $1
                RETURNING failing_since AS "since!""#,
                endpoint,
                now
            )
            .fetch_one(&mut *conn)
            .await?;
            if now - since >= FAILING_LIMIT {
                fail(conn, delivery_id).await?;
                give_up_on(conn, endpoint, "every delivery failed for five days", admin_email).await?;
                return Ok(());
            }
            match next_wait(attempt.max(0) as u32, retry_after, jitter) {
                Some(wait) => {
                    let at = now + wait;
                    sqlx::query!("UPDATE event_deliveries SET next_at = $2 WHERE id = $1", delivery_id, at)
                        .execute(&mut *conn)
                        .await?;
                    let next = DeliverEvent { delivery_id, attempt: attempt + 1 };
                    jobs::enqueue(conn, &next, Some(at)).await?;
                }
                None => fail(conn, delivery_id).await?,
            }
        }
    }
    Ok(())
}

/// Disables an endpoint that asked for it or kept failing, and emails the
/// admin once (an endpoint already disabled is left as it is, untold).
async fn give_up_on(conn: &mut PgConnection, endpoint: Uuid, reason: &str, admin_email: &str) -> DomainResult<()> {
    let url = sqlx::query_scalar!(
        "UPDATE event_endpoints SET status = 'disabled', disabled_reason = $2
          WHERE id = $1 AND status = 'active' RETURNING url",
        endpoint,
        reason
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(url) = url else { return Ok(()) };
    let email = crate::notifications::Email {
        dedupe_key: format!("event_endpoint_disabled:{endpoint}"),
        member_id: None,
        to: admin_email.to_owned(),
        subject: format!("Event endpoint disabled: {url}"),
        body: format!(
            "The event endpoint {url} (id {endpoint}) has been disabled: {reason}.\n\
             Nothing more is sent to it. Its deliveries are listed at /v1/admin/event-endpoints/{endpoint}/deliveries; \
             once it answers again, register it anew and replay what it missed.\n"
        ),
    };
    crate::notifications::queue(conn, &email).await
}

async fn fail(conn: &mut PgConnection, delivery_id: Uuid) -> DomainResult<()> {
    sqlx::query!("UPDATE event_deliveries SET status = 'failed', next_at = NULL WHERE id = $1", delivery_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A delivery as the API lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Id (also the cursor).
    pub id: Uuid,
    /// The event's `webhook-id`.
    pub webhook_id: String,
    /// The event's type.
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: i32,
    /// The last attempt's HTTP status.
    pub last_status: Option<i32>,
    /// The last attempt's error (no answer).
    pub last_error: Option<String>,
    /// When the next attempt is due.
    pub next_at: Option<DateTime<Utc>>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
    /// The delivery this one replays.
    pub replay_of: Option<Uuid>,
}

async fn delivery(conn: &mut PgConnection, id: Uuid) -> DomainResult<Delivery> {
    let mut found = deliveries_where(conn, None, Some(id), None, 1).await?;
    found.pop().ok_or(DomainError::NotFound("event delivery"))
}

/// A page of an endpoint's deliveries, newest first, before `before`.
pub async fn deliveries(
    conn: &mut PgConnection,
    endpoint_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> DomainResult<Vec<Delivery>> {
    get(conn, endpoint_id).await?;
    deliveries_where(conn, Some(endpoint_id), None, before, limit).await
}

async fn deliveries_where(
    conn: &mut PgConnection,
    endpoint_id: Option<Uuid>,
    id: Option<Uuid>,
    before: Option<Uuid>,
    limit: i64,
) -> DomainResult<Vec<Delivery>> {
    Ok(sqlx::query_as!(
        Delivery,
        r#"SELECT d.id, 'msg_' || replace(d.event_id::text, '-', '') AS "webhook_id!", e.type AS event_type,
                  d.status, d.attempts, d.last_status, d.last_error, d.next_at, d.delivered_at, d.replay_of
             FROM event_deliveries d JOIN events e ON e.id = d.event_id
            WHERE ($1::uuid IS NULL OR d.endpoint_id = $1) AND ($2::uuid IS NULL OR d.id = $2)
              AND ($3::uuid IS NULL OR d.id < $3)
            ORDER BY d.id DESC LIMIT $4"#,
        endpoint_id,
        id,
        before,
        limit
    )
    .fetch_all(conn)
    .await?)
}
