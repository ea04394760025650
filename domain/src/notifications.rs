//! Outgoing email rows: written in the transaction of their cause, sent by
//! the `notify` job, marked sent once; a sent row is never sent again.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::DomainResult;
use crate::jobs::{self, Notify};

/// An email to queue.
#[derive(Debug, Clone)]
pub struct Email {
    /// Derived from the cause (`commission:{order}:{member}`): queued once.
    pub dedupe_key: String,
    /// The member it concerns.
    pub member_id: Option<Uuid>,
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// A queued email, as the sender reads it.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Id.
    pub id: Uuid,
    /// Recipient.
    pub to_email: String,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
}

/// Queues `email` (once per dedupe key) and its `notify` job.
pub async fn queue(conn: &mut PgConnection, email: &Email) -> DomainResult<()> {
    let id = sqlx::query_scalar!(
        "INSERT INTO notifications (id, dedupe_key, member_id, to_email, subject, body)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        Uuid::now_v7(),
        email.dedupe_key,
        email.member_id,
        email.to,
        email.subject,
        email.body
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(notification_id) = id {
        jobs::enqueue(conn, &Notify { notification_id }, None).await?;
    }
    Ok(())
}

/// The email to send, unless it was sent already.
pub async fn pending(conn: &mut PgConnection, id: Uuid) -> DomainResult<Option<Pending>> {
    Ok(sqlx::query_as!(
        Pending,
        "SELECT id, to_email, subject, body FROM notifications WHERE id = $1 AND status = 'pending'",
        id
    )
    .fetch_optional(conn)
    .await?)
}

/// Marks an email sent.
pub async fn mark_sent(conn: &mut PgConnection, id: Uuid) -> DomainResult<()> {
    sqlx::query!("UPDATE notifications SET status = 'sent', sent_at = now() WHERE id = $1", id).execute(conn).await?;
    Ok(())
}

/// Queues an email to a member (looked up by id), once per `dedupe_key`.
pub async fn to_member(
    conn: &mut PgConnection,
    member_id: Uuid,
    dedupe_key: String,
    subject: String,
    body: impl FnOnce(&str) -> String,
) -> DomainResult<()> {
    let m = sqlx::query!("SELECT email, name FROM members WHERE id = $1", member_id).fetch_one(&mut *conn).await?;
    let email = Email { dedupe_key, member_id: Some(member_id), to: m.email, subject, body: body(&m.name) };
    queue(conn, &email).await
}
