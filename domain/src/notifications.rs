//! Outgoing email rows: written in the transaction of their cause, sent by
//! the `notify` job, marked sent once; a sent row is never sent again. In a
//! worker's transaction that runs its follow-ups itself (`jobs::inline`),
//! all the emails it writes share one `notify` job.

use sqlx::PgConnection;

use crate::money::display::Language;
use uuid::Uuid;

use crate::error::DomainResult;
use crate::jobs::{self, NOTIFY_BATCH, Notify};

/// An email to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    if jobs::inline::defer_emails(std::slice::from_ref(email)) {
        return Ok(());
    }
    let queued = write(conn, std::slice::from_ref(email)).await?;
    queue_jobs(conn, &queued).await
}

/// Writes the rows of `emails` in one statement, each once per dedupe
/// key; returns the ids of those that were new (in `emails`' order).
pub(crate) async fn write(conn: &mut PgConnection, emails: &[Email]) -> DomainResult<Vec<Uuid>> {
    if emails.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = emails.iter().map(|_| Uuid::now_v7()).collect();
    let keys: Vec<String> = emails.iter().map(|e| e.dedupe_key.clone()).collect();
    let members: Vec<Option<Uuid>> = emails.iter().map(|e| e.member_id).collect();
    let to: Vec<String> = emails.iter().map(|e| e.to.clone()).collect();
    let subjects: Vec<String> = emails.iter().map(|e| e.subject.clone()).collect();
    let bodies: Vec<String> = emails.iter().map(|e| e.body.clone()).collect();
    let mut queued = sqlx::query_scalar!(
        "INSERT INTO notifications (id, dedupe_key, member_id, to_email, subject, body)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[])
         ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        &ids,
        &keys,
        &members as &[Option<Uuid>],
        &to,
        &subjects,
        &bodies
    )
    .fetch_all(&mut *conn)
    .await?;
    // Ids are time-ordered as they were made, in `emails`' order.
    queued.sort();
    Ok(queued)
}

/// Those of `ids` not sent yet, oldest first: what a `notify` job sends.
pub async fn pending(conn: &mut PgConnection, ids: &[Uuid]) -> DomainResult<Vec<Pending>> {
    Ok(sqlx::query_as!(
        Pending,
        "SELECT id, to_email, subject, body FROM notifications WHERE id = ANY($1) AND status = 'pending' ORDER BY id",
        ids
    )
    .fetch_all(conn)
    .await?)
}

/// Marks an email sent.
pub async fn mark_sent(conn: &mut PgConnection, id: Uuid) -> DomainResult<()> {
    sqlx::query!("UPDATE notifications SET status = 'sent', sent_at = now() WHERE id = $1", id).execute(conn).await?;
    Ok(())
}

/// Queues an email to a member (looked up by id), once per `dedupe_key`:
/// `write` gives the subject and body from the member's name, in the
/// language the member reads.
pub async fn to_member(
    conn: &mut PgConnection,
    member_id: Uuid,
    dedupe_key: String,
    write: impl FnOnce(&str, Language) -> (String, String),
) -> DomainResult<()> {
    let m = sqlx::query!("SELECT email, name, language FROM members WHERE id = $1", member_id)
        .fetch_one(&mut *conn)
        .await?;
    let recipient = Recipient { member_id, email: m.email, name: m.name, language: Language::of_tag(&m.language) };
    to_recipient(conn, &recipient, dedupe_key, write).await
}

/// What an email to a member needs of the member: read by the caller
/// with what it reads anyway (an order's buyer, under the order's lock),
/// it saves the lookup [`to_member`] makes.
#[derive(Debug, Clone)]
pub struct Recipient {
    /// The member.
    pub member_id: Uuid,
    /// Their address.
    pub email: String,
    /// Their name, as emails greet them.
    pub name: String,
    /// The language they read.
    pub language: Language,
}

/// [`to_member`] for a member already read.
pub async fn to_recipient(
    conn: &mut PgConnection,
    r: &Recipient,
    dedupe_key: String,
    write: impl FnOnce(&str, Language) -> (String, String),
) -> DomainResult<()> {
    let (subject, body) = write(&r.name, r.language);
    let email = Email { dedupe_key, member_id: Some(r.member_id), to: r.email.clone(), subject, body };
    queue(conn, &email).await
}

/// One email of a batch to members: subject and body are written from the
/// member's name and language, which the batch looks up in one query.
pub struct ToMember<F: Fn(&str, Language) -> (String, String)> {
    /// The member.
    pub member_id: Uuid,
    /// Queued once per key.
    pub dedupe_key: String,
    /// Subject and body, given the member's name and language.
    pub write: F,
}

/// Queues emails to many members (once per dedupe key each) and their
/// `notify` jobs (one per [`NOTIFY_BATCH`] emails) in a few statements:
/// what a cascade paying a whole upline, or a settlement paying thousands
/// of buyers, needs.
pub async fn queue_to_members<F: Fn(&str, Language) -> (String, String)>(
    conn: &mut PgConnection,
    emails: &[ToMember<F>],
) -> DomainResult<()> {
    let ids: Vec<Uuid> = emails.iter().map(|e| e.member_id).collect();
    let members: std::collections::HashMap<Uuid, (String, String, Language)> =
        sqlx::query!("SELECT id, email, name, language FROM members WHERE id = ANY($1)", &ids)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|m| (m.id, (m.email, m.name, Language::of_tag(&m.language))))
            .collect();
    let rows: Vec<Email> = emails
        .iter()
        .filter_map(|e| {
            let (email, name, language) = members.get(&e.member_id)?;
            let (subject, body) = (e.write)(name, *language);
            Some(Email {
                dedupe_key: e.dedupe_key.clone(),
                member_id: Some(e.member_id),
                to: email.clone(),
                subject,
                body,
            })
        })
        .collect();
    if jobs::inline::defer_emails(&rows) {
        return Ok(());
    }
    let queued = write(conn, &rows).await?;
    queue_jobs(conn, &queued).await
}

/// Writes the `notify` jobs of emails this transaction has just queued,
/// one per [`NOTIFY_BATCH`] of them.
pub(crate) async fn queue_jobs(conn: &mut PgConnection, ids: &[Uuid]) -> DomainResult<()> {
    let jobs: Vec<Notify> = ids.chunks(NOTIFY_BATCH).map(|ids| Notify { notification_ids: ids.to_vec() }).collect();
    for chunk in jobs.chunks(20_000) {
        jobs::enqueue_for_new_row(conn, chunk).await?;
    }
    Ok(())
}
