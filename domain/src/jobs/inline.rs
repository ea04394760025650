//! Follow-ups a worker's transaction does itself instead of queueing them.
//!
//! A delivered webhook makes its order commissionable; the volume and the
//! cascade used to follow in a job of their own, and the delivered email and
//! the upline's commission emails in two `notify` jobs. Each job costs the
//! queue a row, a fetch, an acknowledgement and a transaction of its own. A
//! worker's job already holds the order's row lock in a transaction, so it
//! may as well do the follow-ups there (the invariants ask for a write and
//! its effects in one transaction; this is the same transaction), and send
//! all the emails the transaction wrote in one `notify` job.
//!
//! The api's requests do not open this scope: they stay thin, and their
//! follow-ups are queued as before. Inside [`within`], the writers of those
//! follow-ups ([`defer_volume`], [`defer_emails`]) note them here instead of
//! queueing; the caller runs them before its commit
//! (`orders::follow_ups::run`). Work that ends with notes not taken is an
//! error, never a silent loss: nothing of it commits.
//!
//! Emails and events are noted as rows still to write, so work inside the
//! scope that rolls back a savepoint must not have noted any inside it
//! (the notes outlive the rollback). The one such savepoint on a webhook's
//! way (`webhooks::process`, a refused reversal) is refused before the
//! reversal writes or notes anything.

use std::cell::RefCell;

use uuid::Uuid;

use chrono::{DateTime, Utc};

use crate::error::{DomainError, DomainResult};
use crate::integrations::events::{Cause, EventType};
use crate::notifications::Email;

tokio::task_local! {
    static DEFERRED: RefCell<Deferred>;
}

/// What the work inside [`within`] left for its own transaction to do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Deferred {
    /// Orders made commissionable: their volume and cascade.
    pub volume: Vec<Uuid>,
    /// Emails to write, in one statement, with one `notify` job per batch
    /// of them.
    pub emails: Vec<Email>,
    /// Events emitted (each kind with its causes and time): one read of
    /// the subscribed endpoints for all of them.
    pub events: Vec<(EventType, Vec<Cause>, DateTime<Utc>)>,
}

impl Deferred {
    /// Nothing noted.
    pub fn is_empty(&self) -> bool {
        self.volume.is_empty() && self.emails.is_empty() && self.events.is_empty()
    }
}

/// Runs `work` in a scope where follow-ups are noted rather than queued.
/// `work` must take them all ([`take`]) before it ends; if it succeeds
/// leaving any, the result is an error (and the caller's transaction must
/// roll back), so a follow-up is never dropped.
pub async fn within<T, F: Future<Output = DomainResult<T>>>(work: F) -> DomainResult<T> {
    DEFERRED
        .scope(RefCell::new(Deferred::default()), async {
            let output = work.await?;
            let left = DEFERRED.with(|d| !d.borrow().is_empty());
            if left {
                return Err(DomainError::Internal(anyhow::anyhow!("follow-ups noted but not run")));
            }
            Ok(output)
        })
        .await
}

/// Notes the volume and cascade of `order_id` for the current scope; false
/// outside one (the caller queues the job).
pub(crate) fn defer_volume(order_id: Uuid) -> bool {
    DEFERRED.try_with(|d| d.borrow_mut().volume.push(order_id)).is_ok()
}

/// Notes emails for the current scope to write together and send in its
/// one `notify` job; false outside one (the caller writes them and queues
/// their job).
pub(crate) fn defer_emails(emails: &[Email]) -> bool {
    DEFERRED.try_with(|d| d.borrow_mut().emails.extend_from_slice(emails)).is_ok()
}

/// Notes events of `kind` for the current scope; outside one, gives the
/// causes back (the caller writes them).
pub(crate) fn defer_events(kind: EventType, causes: Vec<Cause>, now: DateTime<Utc>) -> Option<Vec<Cause>> {
    let mut causes = Some(causes);
    let noted = DEFERRED.try_with(|d| d.borrow_mut().events.extend(causes.take().map(|c| (kind, c, now)))).is_ok();
    if noted { None } else { causes }
}

/// Takes what has been noted so far (nothing outside a scope).
pub(crate) fn take() -> Deferred {
    DEFERRED.try_with(|d| d.take()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email {
            dedupe_key: "test:1".into(),
            member_id: None,
            to: "a@example.com".into(),
            subject: "s".into(),
            body: "b".into(),
        }
    }

    #[tokio::test]
    async fn outside_a_scope_nothing_is_deferred_so_the_caller_queues() {
        assert!(!defer_volume(Uuid::now_v7()));
        assert!(!defer_emails(&[email()]));
        let causes = vec![Cause::new("order.paid:1", serde_json::json!({}))];
        assert_eq!(defer_events(EventType::OrderPaid, causes.clone(), Utc::now()), Some(causes));
        assert_eq!(take(), Deferred::default());
    }

    #[tokio::test]
    async fn work_that_takes_its_follow_ups_succeeds_and_work_that_leaves_them_fails() {
        let (order, at) = (Uuid::now_v7(), Utc::now());
        let causes = vec![Cause::new("order.paid:1", serde_json::json!({}))];
        let taken = within(async {
            assert!(defer_volume(order) && defer_emails(&[email()]));
            assert_eq!(defer_events(EventType::OrderPaid, causes.clone(), at), None);
            Ok(take())
        })
        .await
        .expect("taken");
        let events = vec![(EventType::OrderPaid, causes, at)];
        assert_eq!(taken, Deferred { volume: vec![order], emails: vec![email()], events });
        let left = within(async {
            defer_emails(&[email()]);
            Ok(())
        })
        .await;
        assert!(left.is_err(), "an email noted and never queued must not commit");
    }
}
