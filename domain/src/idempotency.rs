//! HTTP `Idempotency-Key` records: the same key and body get the first
//! response again; another body is refused; a key still in flight is a
//! conflict. Keys are scoped to the API key that used them.

use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use crate::error::DomainResult;

/// How long an in-flight claim blocks a retry; after that a crashed
/// request's claim is taken over.
const STALE_CLAIM_SECS: f64 = 60.0;

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
/// duplicate sees it at once).
pub async fn claim(conn: &mut PgConnection, scope: &str, key: &str, hash: &str) -> DomainResult<Claim> {
    let inserted = sqlx::query!(
        "INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ($1, $2, $3)
         ON CONFLICT (scope, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, created_at = now()
           WHERE idempotency_keys.response_status IS NULL
             AND idempotency_keys.created_at < now() - make_interval(secs => $4)
         RETURNING scope",
        scope,
        key,
        hash,
        STALE_CLAIM_SECS
    )
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_some() {
        return Ok(Claim::Fresh);
    }
    let row = sqlx::query!(
        "SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE scope = $1 AND key = $2",
        scope,
        key
    )
    .fetch_one(conn)
    .await?;
    Ok(match (row.request_hash == hash, row.response_status, row.response_body) {
        (false, _, _) => Claim::Mismatch,
        (true, Some(status), Some(body)) => Claim::Replay(u16::try_from(status).unwrap_or(500), body),
        _ => Claim::InFlight,
    })
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
    sqlx::query!(
        "UPDATE idempotency_keys SET response_status = $3, response_body = $4 WHERE scope = $1 AND key = $2",
        scope,
        key,
        i32::from(status),
        body
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Frees a claim whose request failed unexpectedly, so it can be retried.
pub async fn release(conn: &mut PgConnection, scope: &str, key: &str) -> DomainResult<()> {
    sqlx::query!("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND response_status IS NULL", scope, key)
        .execute(conn)
        .await?;
    Ok(())
}
