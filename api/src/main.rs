//! `haat-api`: the HTTP front. Configuration comes from the environment
//! (see the README); with no `DATABASE_URL` it starts the embedded database.
//! `haat-api openapi` prints the OpenAPI document and exits.

use std::io::Write;

use haat_platform::runtime;
use haat_platform::settings::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("openapi") {
        println!("{}", haat_api::openapi_json());
        return Ok(());
    }
    runtime::init_tracing()?;
    let shutdown = runtime::shutdown_signal();
    let settings = Settings::from_env()?;
    tracing::info!(?settings, "starting haat-api");
    let result = haat_api::run(settings, shutdown).await;
    std::io::stdout().flush().ok();
    result
}
