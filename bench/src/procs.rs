//! The real `haat-api` and `haat-worker` processes the load phase drives,
//! started from the same build folder as the benchmark, and their memory.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A program of the workspace beside this one (`cargo build --release --bins`).
fn binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe.parent().context("the benchmark's folder")?.join(name);
    if !path.is_file() {
        bail!("{} is missing: build every program first (`cargo build --release --bins`)", path.display());
    }
    Ok(path)
}

fn log_to(path: &Path) -> Result<Stdio> {
    Ok(Stdio::from(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?))
}

/// A started process and the most memory it has held so far.
pub struct Proc {
    /// The process (killed when dropped).
    pub child: Child,
    /// Its peak resident set (KiB) when last read.
    pub peak_kib: u64,
}

impl Proc {
    /// Reads the kernel's high-water mark of its resident set (`VmHWM`).
    pub fn sample(&mut self) {
        let Some(pid) = self.child.id() else { return };
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let hwm = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
        if let Some(kib) = hwm {
            self.peak_kib = self.peak_kib.max(kib);
        }
    }
}

/// Starts the api; returns it and its base URL.
pub async fn start_api(env: &[(String, String)], logs: &Path) -> Result<(Proc, String)> {
    let mut cmd = Command::new(binary("haat-api")?);
    cmd.envs(env.iter().cloned()).stdout(Stdio::piped()).stderr(log_to(&logs.join("api.log"))?).kill_on_drop(true);
    let mut child = cmd.spawn().context("starting haat-api")?;
    let mut lines = BufReader::new(child.stdout.take().context("api stdout")?).lines();
    let base = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.strip_prefix("haat-api listening on ") {
                return Some(url.trim().to_owned());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .with_context(|| format!("haat-api did not start; see {}", logs.join("api.log").display()))?;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((Proc { child, peak_kib: 0 }, base))
}

/// Starts worker number `n` (its log is `worker-n.log`).
pub fn start_worker(env: &[(String, String)], logs: &Path, n: usize) -> Result<Proc> {
    let mut cmd = Command::new(binary("haat-worker")?);
    cmd.envs(env.iter().cloned())
        .stdout(Stdio::null())
        .stderr(log_to(&logs.join(format!("worker-{n}.log")))?)
        .kill_on_drop(true);
    Ok(Proc { child: cmd.spawn().context("starting haat-worker")?, peak_kib: 0 })
}
