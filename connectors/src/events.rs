//! Posting one attempt of an event delivery to its endpoint. The host is
//! resolved here and every address it resolves to must be public (unless
//! the deployment allows the loopback, for tests); the connection is then
//! pinned to that checked address, so a name that resolves elsewhere a
//! moment later (DNS rebinding) cannot turn the post inward. Redirects are
//! not followed.

use std::time::Duration;

use haat_domain::integrations::events::{Outgoing, check_url, is_public_v4, is_public_v6};

/// What an endpoint answered: its status and `Retry-After` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointAnswer {
    /// The HTTP status.
    pub status: u16,
    /// `Retry-After`, when it gave one in seconds.
    pub retry_after: Option<i64>,
}

/// Posts `out`, within `timeout`; `Err` is why there was no answer.
pub async fn post(out: &Outgoing, timeout: Duration, allow_loopback: bool) -> Result<EndpointAnswer, String> {
    let url = check_url(&out.url, allow_loopback)?;
    let host = url.host_str().ok_or("no host")?.trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = url.port_or_known_default().ok_or("no port")?;
    let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| format!("could not resolve {host}: {e}"))?
        .collect();
    let allowed = |a: &std::net::SocketAddr| match a.ip() {
        std::net::IpAddr::V4(ip) => is_public_v4(ip) || (allow_loopback && ip.is_loopback()),
        std::net::IpAddr::V6(ip) => is_public_v6(ip) || (allow_loopback && ip.is_loopback()),
    };
    let Some(addr) = addrs.iter().copied().find(allowed) else {
        return Err(format!("{host} resolves to no public address"));
    };
    if addrs.iter().any(|a| !allowed(a)) {
        return Err(format!("{host} resolves to a private address"));
    }
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .resolve(&host, addr)
        .build()
        .map_err(|e| format!("client: {e}"))?;
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &out.webhook_id)
        .header("webhook-timestamp", out.timestamp.to_string())
        .header("webhook-signature", &out.signature)
        .body(out.body.clone())
        .send()
        .await
        .map_err(|e| format!("no answer: {}", e.without_url()))?;
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    Ok(EndpointAnswer { status: response.status().as_u16(), retry_after })
}
