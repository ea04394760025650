//! What an order costs the machine, measured by the benchmark itself over
//! one phase and divided by the phase's orders: the statements Postgres ran
//! for the database under test (`pg_stat_statements`, top-level statements
//! including BEGIN/COMMIT, the benchmark's own probes left out), and the
//! CPU time of every process on the machine (`/proc/stat`, the load
//! generator included: on one machine it is part of the bill).
//!
//! Every statement the benchmark itself sends while a meter runs carries
//! the marker comment `/* haat-bench */`, so it can be told from the
//! system's.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sqlx::PgPool;

/// Clock ticks per second of `/proc/stat` and `/proc/<pid>/stat` (USER_HZ,
/// fixed at 100 in the kernel's user interface).
const TICKS_PER_SECOND: f64 = 100.0;

/// Busy ticks of the whole machine so far (every state but idle and iowait).
pub fn machine_busy_ticks() -> Result<u64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let cpu = stat.lines().next().context("/proc/stat is empty")?;
    let fields: Vec<u64> = cpu.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest is in user).
    let busy = fields.iter().take(8).enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, v)| v).sum();
    Ok(busy)
}

/// CPU ticks (user + system) one process has used so far.
pub fn process_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces: count from after it.
    let rest = stat.rsplit_once(')').context("/proc/<pid>/stat without a command name")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).context("utime")?.parse()?;
    let stime: u64 = fields.get(12).context("stime")?.parse()?;
    Ok(utime + stime)
}

/// Ticks to seconds of CPU.
pub fn ticks_to_seconds(ticks: u64) -> f64 {
    ticks as f64 / TICKS_PER_SECOND
}

/// Whether `pg_stat_statements` is loaded in the server (the embedded
/// cluster of the benchmark loads it; another server may not).
pub async fn statements_available(pool: &PgPool) -> Result<bool> {
    let loaded: String = sqlx::query_scalar("SHOW shared_preload_libraries /* haat-bench */").fetch_one(pool).await?;
    if !loaded.split(',').any(|l| l.trim() == "pg_stat_statements") {
        return Ok(false);
    }
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements /* haat-bench */").execute(pool).await?;
    Ok(true)
}

/// A phase being measured.
pub struct Meter {
    busy: u64,
    started: Instant,
    statements: bool,
    /// Where the cluster's WAL stood at the start.
    wal_start: String,
}

/// What one phase cost per order.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cost {
    /// Machine CPU per order.
    pub cpu: Duration,
    /// Top-level statements per order (None where the server does not count them).
    pub statements: Option<f64>,
    /// Transactions per order (COMMITs), with the same proviso.
    pub commits: Option<f64>,
    /// How busy the machine was over the phase (cores).
    pub cores: f64,
    /// Bytes of WAL the cluster wrote per order (every database on it; the
    /// benchmark's own reads write none).
    pub wal_bytes: f64,
}

impl Meter {
    /// Starts counting (the server's statement counts are reset).
    pub async fn start(pool: &PgPool, statements: bool) -> Result<Self> {
        if statements {
            sqlx::query("SELECT pg_stat_statements_reset() /* haat-bench */").execute(pool).await?;
        }
        let wal_start: String =
            sqlx::query_scalar("SELECT pg_current_wal_lsn()::text /* haat-bench */").fetch_one(pool).await?;
        Ok(Self { busy: machine_busy_ticks()?, started: Instant::now(), statements, wal_start })
    }

    /// Stops counting and divides by `orders`.
    pub async fn per_order(self, pool: &PgPool, orders: usize) -> Result<Cost> {
        let busy = machine_busy_ticks()? - self.busy;
        let elapsed = self.started.elapsed().as_secs_f64();
        let wal: f64 =
            sqlx::query_scalar("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8 /* haat-bench */")
                .bind(&self.wal_start)
                .fetch_one(pool)
                .await?;
        let n = orders.max(1) as f64;
        let (statements, commits) = if self.statements {
            let (all, commits) = counted(pool).await?;
            (Some(all / n), Some(commits / n))
        } else {
            (None, None)
        };
        Ok(Cost {
            cpu: Duration::from_secs_f64(ticks_to_seconds(busy) / n),
            statements,
            commits,
            cores: ticks_to_seconds(busy) / elapsed.max(f64::EPSILON),
            wal_bytes: wal / n,
        })
    }
}

/// Statements and COMMITs the database under test ran since the reset,
/// the benchmark's own left out.
async fn counted(pool: &PgPool) -> Result<(f64, f64)> {
    let row: (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT sum(calls)::int8, sum(calls) FILTER (WHERE upper(query) LIKE 'COMMIT%')::int8
           FROM pg_stat_statements
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND query NOT LIKE '%haat-bench%' /* haat-bench */",
    )
    .fetch_one(pool)
    .await?;
    Ok((row.0.unwrap_or(0) as f64, row.1.unwrap_or(0) as f64))
}

/// The statements the database under test ran most often since the reset
/// (calls and text), for the phase's log: where an order's statements go.
pub async fn most_run(pool: &PgPool, n: i64) -> Result<String> {
    let rows: Vec<(i64, f64, String)> = sqlx::query_as(
        "SELECT calls, total_exec_time, left(regexp_replace(query, '\\s+', ' ', 'g'), 160)
           FROM pg_stat_statements
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND query NOT LIKE '%haat-bench%'
          ORDER BY calls DESC LIMIT $1 /* haat-bench */",
    )
    .bind(n)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(|(calls, ms, q)| format!("{calls:>8} {ms:>10.1} ms  {q}\n")).collect())
}
