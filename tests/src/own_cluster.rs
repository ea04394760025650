//! A Postgres cluster of a test's own, for the tests that stop or crash the
//! database (the shared cluster serves every other test at once). Unlike
//! the shared one it keeps the default durability, as a deployment does.

use anyhow::Result;
use haat_platform::embedded_pg::{self, ClusterSpec};

/// A throwaway cluster with one migrated database, stopped and removed
/// when dropped.
pub struct OwnCluster {
    /// Where it lives.
    pub spec: ClusterSpec,
    /// The database's URL.
    pub url: String,
}

impl OwnCluster {
    /// Starts a new cluster and creates and migrates the database `db`.
    pub async fn start(db: &str) -> Result<Self> {
        let root = std::env::temp_dir().join(format!("haat-own-pg-{}", uuid::Uuid::new_v4().simple()));
        // Durable like a deployment's (commits flushed before they are
        // acknowledged): a crash must not lose what a client was told is done.
        let spec = ClusterSpec { root, throwaway: false };
        let s = spec.clone();
        let cluster = tokio::task::spawn_blocking(move || embedded_pg::ensure_running(&s)).await??;
        haat_platform::db::create_database_if_missing(&cluster.url("postgres"), db).await?;
        let url = cluster.url(db);
        let pool = haat_platform::db::connect(&url, 1).await?;
        haat_platform::db::migrate(&pool).await?;
        Ok(Self { spec, url })
    }

    /// Crashes Postgres (`pg_ctl stop -m immediate`: no checkpoint, crash
    /// recovery at the next start) or, if `fast`, shuts it down cleanly.
    pub async fn stop(&self, fast: bool) -> Result<()> {
        let spec = self.spec.clone();
        tokio::task::spawn_blocking(move || embedded_pg::stop(&spec, fast)).await?
    }

    /// Starts it again on the same port.
    pub async fn start_again(&self) -> Result<()> {
        let spec = self.spec.clone();
        tokio::task::spawn_blocking(move || embedded_pg::ensure_running(&spec).map(|_| ())).await?
    }

    /// Stops and removes it.
    pub async fn remove(self) {
        let spec = self.spec.clone();
        tokio::task::spawn_blocking(move || embedded_pg::stop(&spec, false)).await.ok();
        std::fs::remove_dir_all(&self.spec.root).ok();
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        // Also on a panic: never leave a cluster running.
        if self.spec.root.exists() {
            embedded_pg::stop(&self.spec, false).ok();
            std::fs::remove_dir_all(&self.spec.root).ok();
        }
    }
}
