//! Connecting to Postgres and bringing its schema up to date.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use crate::embedded_pg::{self, ClusterSpec};

/// The database name used in the embedded development cluster.
pub const DEV_DATABASE: &str = "haat";

/// Arbitrary constant identifying haat's migration advisory lock.
const MIGRATION_LOCK_KEY: i64 = 0x6861_6174_6d69_6772; // "haatmigr"

/// The URL to use: `DATABASE_URL` when set, else the embedded dev cluster
/// (started if needed) and its `haat` database (created if needed).
pub async fn resolve_database_url(database_url: Option<&str>) -> Result<String> {
    if let Some(url) = database_url {
        return Ok(url.to_owned());
    }
    let project_dir = std::env::current_dir()?;
    let spec = ClusterSpec { root: embedded_pg::default_root("dev", &project_dir), throwaway: false };
    let cluster = tokio::task::spawn_blocking(move || embedded_pg::ensure_running(&spec))
        .await
        .context("starting the embedded database")??;
    create_database_if_missing(&cluster.url("postgres"), DEV_DATABASE).await?;
    Ok(cluster.url(DEV_DATABASE))
}

/// Creates database `name` through the maintenance URL unless it exists.
pub async fn create_database_if_missing(maintenance_url: &str, name: &str) -> Result<()> {
    let mut conn = PgConnection::connect(maintenance_url).await.context("connecting to the maintenance database")?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&mut conn)
        .await?;
    if !exists {
        let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', ""));
        // The name is ours (a constant or a generated test name) with quotes removed.
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await {
            // Another process created it between our check and our CREATE.
            let raced = e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "42P04" || c == "23505");
            if !raced {
                return Err(e).context("creating the database");
            }
        }
    }
    Ok(())
}

/// A pool of `max` connections to `url`.
pub async fn connect(url: &str, max: u32) -> Result<PgPool> {
    let options: PgConnectOptions = url.parse().context("DATABASE_URL is not a valid Postgres URL")?;
    pool(options, max).await
}

/// A pool of `max` connections to `url` whose job rows notify nobody as they
/// are written: the process wakes the queues itself once its work has
/// committed (`haat_domain::jobs::wakes`), so that its commits never queue
/// for Postgres's notification lock. The api and the workers use it.
pub async fn connect_waking_after_commit(url: &str, max: u32) -> Result<PgPool> {
    let options: PgConnectOptions = url.parse().context("DATABASE_URL is not a valid Postgres URL")?;
    pool(options.options([("haat.job_wakeups", "after_commit")]), max).await
}

async fn pool(options: PgConnectOptions, max: u32) -> Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .context("connecting to the database")
}

/// Applies the job queue's migrations and ours. Safe when several processes
/// start at once: one advisory lock serialises the whole upgrade.
pub async fn migrate(pool: &PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK_KEY).execute(&mut *conn).await?;
    let result = run_migrations(&mut conn).await;
    sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK_KEY).execute(&mut *conn).await?;
    result
}

async fn run_migrations(conn: &mut PgConnection) -> Result<()> {
    apalis_postgres::PostgresStorage::<()>::migrations()
        .run(&mut *conn)
        .await
        .context("applying the job queue's migrations")?;
    sqlx::migrate!("../migrations").run(&mut *conn).await.context("applying haat's migrations")?;
    Ok(())
}

/// True when every migration this build knows has been applied (readiness).
pub async fn migrations_applied(pool: &PgPool) -> Result<bool> {
    let expected = sqlx::migrate!("../migrations").iter().count() as i64;
    let applied: i64 =
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success").fetch_one(pool).await?;
    Ok(applied >= expected)
}

/// The project folder's path, for callers that want the default cluster root.
pub fn project_dir() -> Result<std::path::PathBuf> {
    Ok(std::env::current_dir()?)
}

/// Exposed for tests: the cluster spec of a throwaway cluster under `root`.
pub fn throwaway_cluster(root: &Path) -> ClusterSpec {
    ClusterSpec { root: root.to_path_buf(), throwaway: true }
}

/// Makes the caller's transaction read-only, so Postgres itself refuses
/// any write (used for simulations, which must write nothing).
pub async fn read_only(conn: &mut PgConnection) -> haat_domain::error::DomainResult<()> {
    sqlx::query!("SET TRANSACTION READ ONLY").execute(conn).await?;
    Ok(())
}

/// Makes the caller's transaction one read-only snapshot (repeatable read),
/// so every query of a report sees the same committed state, and plans each
/// of its queries for the parameters it is given: a report's statement is
/// prepared once per connection, and the generic plan Postgres moves to
/// after a few runs cannot use an index behind `($n IS NULL OR col = $n)`
/// (a member's earnings went from 0.00 s to 2.92 s on its sixth run).
/// A report sorts and groups a few hundred thousand rows: it gets the
/// memory to do so without spilling to disk, and no JIT compilation, which
/// cost a report more than it saved (measured in `docs/benchmarks.md`).
pub async fn snapshot(conn: &mut PgConnection) -> haat_domain::error::DomainResult<()> {
    sqlx::query!("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *conn).await?;
    sqlx::query!("SET LOCAL plan_cache_mode = force_custom_plan").execute(&mut *conn).await?;
    sqlx::query!("SET LOCAL work_mem = '64MB'").execute(&mut *conn).await?;
    sqlx::query!("SET LOCAL jit = off").execute(conn).await?;
    Ok(())
}

/// Bounds every statement of the caller's transaction to `limit` (a
/// report served to a request: a statement past it is cancelled, and the
/// request answered 503 rather than held open).
pub async fn time_limit(conn: &mut PgConnection, limit: std::time::Duration) -> haat_domain::error::DomainResult<()> {
    let millis = limit.as_millis().to_string();
    sqlx::query_scalar!("SELECT set_config('statement_timeout', $1, true)", millis).fetch_one(conn).await?;
    Ok(())
}

/// A report served to a request: one snapshot ([`snapshot`]) whose every
/// statement is bounded by `limit` ([`time_limit`]).
pub async fn report_snapshot(
    conn: &mut PgConnection,
    limit: std::time::Duration,
) -> haat_domain::error::DomainResult<()> {
    snapshot(conn).await?;
    time_limit(conn, limit).await
}
