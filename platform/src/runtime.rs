//! Process plumbing shared by both binaries: logging and the shutdown signal.

use tracing_subscriber::EnvFilter;

/// Logs to stderr (stdout carries only the one-line "listening"/"running"
/// message), filtered by `RUST_LOG` (default `info`); one JSON object per
/// line when `HAAT_LOG_FORMAT=json` (default `text`), with the fields of
/// the span it was logged in under `span`.
pub fn init_tracing() -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match std::env::var("HAAT_LOG_FORMAT").unwrap_or_default().as_str() {
        "" | "text" => builder.init(),
        // A job's lines carry its span (queue, key, row id, attempt, order).
        "json" => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).init(),
        _ => anyhow::bail!("HAAT_LOG_FORMAT must be text or json"),
    }
    Ok(())
}

/// Listens for SIGTERM and Ctrl-C from the moment it is called (so a
/// signal during start-up is not lost) and resolves on the first, so the
/// process can drain and exit 0.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
                }
                _ => std::future::pending::<()>().await,
            }
        }
    }
    #[cfg(not(unix))]
    async {
        tokio::signal::ctrl_c().await.ok();
    }
}
