//! HTTP `Idempotency-Key` records: the same key and body get the first
//! response again; another body is refused; a key still in flight is a
//! conflict. Keys are scoped to the API key that used them.
//!
//! A request in flight holds its claim as a session advisory lock of the
//! connection that runs it: when the request's process or the database
//! dies, the session ends and the lock with it, so a retry takes the claim
//! over at once. An unanswered record whose lock is free is a dead claim.
//! A request that goes on outside its connection ([`detach`]) cannot hold
//! the lock; its claim is taken over only after [`STALE_CLAIM_SECS`].

use sha2::{Digest, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres};

use crate::error::DomainResult;

/// How long a detached claim blocks a retry; after that a crashed
/// request's claim is taken over.
pub const STALE_CLAIM_SECS: f64 = 60.0;

/// What a request's key says to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// First use: go ahead, then [`complete`] (or [`release`]).
    Fresh,
    /// Seen with the same body: answer this again.
    Replay(u16, serde_json::Value),
    /// Seen with a different body.
    Mismatch,
    /// The first request with this key has not finished.
    InFlight,
}

/// Fingerprint of a request: method, path and body.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b" ");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(body);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Claims `key` for this request (committed on its own, so a concurrent
/// duplicate sees it at once). A `Fresh` claim leaves the claim's lock held
/// by `conn`'s session until [`let_go`] (or the session's end); any other
/// answer leaves nothing held.
pub async fn claim(conn: &mut PgConnection, scope: &str, key: &str, hash: &str) -> DomainResult<Claim> {
    // One statement: the lock is tried first (a volatile CTE runs once,
    // before the insert that reads it) and, held, an unanswered record is
    // a dead request's (unless it was detached, and is young).
    let tried = sqlx::query!(
        r#"WITH l AS (SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS locked),
         ins AS (
             INSERT INTO idempotency_keys (scope, key, request_hash)
             SELECT $1, $2, $3 FROM l WHERE l.locked
             ON CONFLICT (scope, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, created_at = now(), detached = false
               WHERE idempotency_keys.response_status IS NULL
                 AND (NOT idempotency_keys.detached OR idempotency_keys.created_at < now() - make_interval(secs => $4))
             RETURNING scope)
         SELECT l.locked AS "locked!", EXISTS (SELECT 1 FROM ins) AS "inserted!" FROM l"#,
        scope,
        key,
        hash,
        STALE_CLAIM_SECS
    )
    .fetch_one(&mut *conn)
    .await?;
    if !tried.locked {
        return Ok(Claim::InFlight);
    }
    if tried.inserted {
        return Ok(Claim::Fresh);
    }
    let row = sqlx::query!(
        "SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE scope = $1 AND key = $2",
        scope,
        key
    )
    .fetch_one(&mut *conn)
    .await?;
    let_go(conn, scope, key).await?;
    Ok(match (row.request_hash == hash, row.response_status, row.response_body) {
        (false, _, _) => Claim::Mismatch,
        (true, Some(status), Some(body)) => Claim::Replay(u16::try_from(status).unwrap_or(500), body),
        _ => Claim::InFlight,
    })
}

/// A fresh claim and the pooled connection whose session holds its lock:
/// the request runs on it, then [`Held::let_go`] (or [`Held::detach`]).
/// Dropped without either (an error on the way), the connection is closed
/// rather than put back in the pool with the lock, so the claim dies with it.
pub struct Held {
    conn: Option<PoolConnection<Postgres>>,
    scope: String,
    key: String,
}

/// Claims `key` on `conn` ([`claim`]): `Ok(held)` for a fresh claim, with
/// the connection that holds it; `Err(claim)` for what was found instead
/// (a replay, a mismatch, a claim in flight). On an error the connection
/// is closed, since it may hold the lock.
pub async fn claim_on(
    mut conn: PoolConnection<Postgres>,
    scope: &str,
    key: &str,
    hash: &str,
) -> DomainResult<Result<Held, Claim>> {
    match claim(&mut conn, scope, key, hash).await {
        Ok(Claim::Fresh) => Ok(Ok(Held { conn: Some(conn), scope: scope.to_owned(), key: key.to_owned() })),
        Ok(other) => Ok(Err(other)),
        Err(e) => {
            drop(conn.detach());
            Err(e)
        }
    }
}

impl Held {
    /// The connection the request runs on.
    pub fn conn(&mut self) -> &mut PgConnection {
        self.conn.as_deref_mut().expect("a held claim keeps its connection until it is let go")
    }

    /// The claim's scope.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The claim's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Lets go of the lock (the answer is stored) and puts the connection
    /// back in the pool, or closes it if the database cannot be told.
    pub async fn let_go(mut self) {
        if let Some(mut conn) = self.conn.take()
            && let_go(&mut conn, &self.scope, &self.key).await.is_err()
        {
            drop(conn.detach());
        }
    }

    /// Puts the connection back in the pool once its lock was let go of
    /// with the answer ([`complete_and_let_go`]).
    pub fn put_back(mut self) {
        // Dropping the pooled connection returns it; `Drop` must not close it.
        drop(self.conn.take());
    }

    /// Marks the claim detached (its request goes on outside this
    /// connection) and lets go of the lock.
    pub async fn detach(mut self) -> DomainResult<()> {
        if let Some(mut conn) = self.conn.take()
            && let Err(e) = detach(&mut conn, &self.scope, &self.key).await
        {
            drop(conn.detach());
            return Err(e);
        }
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Closing the session ends the claim's lock with it.
            drop(conn.detach());
        }
    }
}

/// Lets go of the claim's lock held by `conn`'s session (the request is
/// answered, or goes on without this connection).
pub async fn let_go(conn: &mut PgConnection, scope: &str, key: &str) -> DomainResult<()> {
    // False when the session did not hold it: nothing to let go of.
    sqlx::query_scalar!(r#"SELECT pg_advisory_unlock(hashtext($1), hashtext($2)) AS "unlocked!""#, scope, key)
        .fetch_one(conn)
        .await?;
    Ok(())
}

/// Marks a fresh claim as going on outside its connection and lets go of
/// its lock: from now a retry waits for the answer or [`STALE_CLAIM_SECS`].
pub async fn detach(conn: &mut PgConnection, scope: &str, key: &str) -> DomainResult<()> {
    sqlx::query!(
        "UPDATE idempotency_keys SET detached = true, created_at = now() WHERE scope = $1 AND key = $2",
        scope,
        key
    )
    .execute(&mut *conn)
    .await?;
    let_go(conn, scope, key).await
}

/// Stores the response of a claimed key (in the business transaction on
/// success, so the two commit together).
pub async fn complete(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    status: u16,
    body: &serde_json::Value,
) -> DomainResult<()> {
    store_answer(conn, scope, key, status, body, false).await.map(|_| ())
}

/// [`complete`] for the claim `conn`'s session holds, letting go of its
/// lock in the same statement; true when it did (the record was there).
/// Run in the request's transaction: a retry that takes the lock before
/// the commit waits on the record's row and then finds the answer, and
/// after a rollback finds the claim dead and takes it over.
pub async fn complete_and_let_go(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    status: u16,
    body: &serde_json::Value,
) -> DomainResult<bool> {
    store_answer(conn, scope, key, status, body, true).await
}

/// The one statement that stores an answer, letting go of the claim's
/// lock when `let_go` (the unlock runs only then).
async fn store_answer(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    status: u16,
    body: &serde_json::Value,
    let_go: bool,
) -> DomainResult<bool> {
    let unlocked = sqlx::query_scalar!(
        r#"UPDATE idempotency_keys SET response_status = $3, response_body = $4 WHERE scope = $1 AND key = $2
           RETURNING CASE WHEN $5 THEN pg_advisory_unlock(hashtext($1), hashtext($2)) ELSE false END AS "unlocked!""#,
        scope,
        key,
        i32::from(status),
        body,
        let_go
    )
    .fetch_optional(conn)
    .await?;
    Ok(unlocked == Some(true))
}

/// Frees a claim whose request failed unexpectedly, so it can be retried.
pub async fn release(conn: &mut PgConnection, scope: &str, key: &str) -> DomainResult<()> {
    sqlx::query!("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND response_status IS NULL", scope, key)
        .execute(conn)
        .await?;
    Ok(())
}
