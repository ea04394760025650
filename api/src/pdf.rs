//! An HTML document printed to PDF by headless Chromium (`HAAT_CHROMIUM`):
//! the same HTML the invoice route serves, so the PDF and the page never
//! differ. The document is self-contained (its font inlined) and Chromium
//! runs with networking off, so nothing is fetched. At most
//! [`AT_ONCE`] renders run at a time; each has [`LONGEST`] to finish.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::sync::Semaphore;

/// Renders running at once (each is a browser process).
pub const AT_ONCE: usize = 2;
/// The longest one render may take.
pub const LONGEST: Duration = Duration::from_secs(60);

static RENDERS: Semaphore = Semaphore::const_new(AT_ONCE);

/// `html` as a PDF.
pub async fn render(chromium: &Path, html: &str) -> Result<Vec<u8>> {
    let _turn = RENDERS.acquire().await.context("the PDF renderer is closed")?;
    let dir = std::env::temp_dir().join(format!("haat-pdf-{}", uuid::Uuid::now_v7()));
    tokio::fs::create_dir_all(&dir).await.context("making the PDF's folder")?;
    let rendered = print(chromium, &dir, html).await;
    tokio::fs::remove_dir_all(&dir).await.ok();
    rendered
}

async fn print(chromium: &Path, dir: &Path, html: &str) -> Result<Vec<u8>> {
    let page = dir.join("document.html");
    let pdf = dir.join("document.pdf");
    tokio::fs::write(&page, html).await.context("writing the document")?;
    let mut command = tokio::process::Command::new(chromium);
    command
        .arg("--headless")
        .arg("--no-sandbox")
        .arg("--disable-gpu")
        .arg("--disable-dev-shm-usage")
        .arg("--no-first-run")
        .arg("--no-pdf-header-footer")
        // No network: the document needs nothing from anywhere.
        .arg("--proxy-server=127.0.0.1:9")
        .arg("--proxy-bypass-list=<-loopback>")
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().with_context(|| format!("starting {}", chromium.display()))?;
    let out = tokio::time::timeout(LONGEST, child.wait_with_output())
        .await
        .context("Chromium took too long to print")?
        .context("waiting for Chromium")?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        bail!("Chromium failed ({}): {}", out.status, why.lines().last().unwrap_or_default());
    }
    let bytes = tokio::fs::read(&pdf).await.context("reading the printed PDF")?;
    if !bytes.starts_with(b"%PDF") {
        bail!("Chromium printed something that is not a PDF");
    }
    Ok(bytes)
}
