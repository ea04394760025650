//! The embedded default database: a Postgres cluster the project starts
//! itself from the system's Postgres binaries, so that nothing has to be set
//! up by hand. Used whenever `DATABASE_URL` is not set, by the run command,
//! the tests and CI alike.
//!
//! The cluster lives in a folder the project owns, listens on 127.0.0.1 on a
//! port chosen once at `initdb` time (kept in the cluster's own
//! `postgresql.conf`), trusts local connections and is shared by every
//! process that asks for it. Several processes may call [`ensure_running`]
//! at once: a file lock beside the data folder serialises init and start.

use std::fs::{self, File, OpenOptions};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Where a cluster lives and how it is tuned.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// The folder that holds the data directory, its lock and its log.
    pub root: PathBuf,
    /// Trade durability for speed (`fsync=off`): for throwaway test clusters only.
    pub throwaway: bool,
}

/// A running embedded cluster.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The TCP port it listens on (127.0.0.1).
    pub port: u16,
    /// The superuser role to connect as.
    pub user: String,
}

impl Cluster {
    /// A connection URL for database `db` in this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{}@127.0.0.1:{}/{}", self.user, self.port, db)
    }
}

/// Starts the cluster at `spec.root` (creating it first if needed) unless it
/// is already running, and returns how to reach it.
pub fn ensure_running(spec: &ClusterSpec) -> Result<Cluster> {
    let bins = PgBinaries::find()?;
    let as_root = running_as_root();
    fs::create_dir_all(&spec.root).with_context(|| format!("creating the database folder {}", spec.root.display()))?;
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(spec.root.join("cluster.lock"))
        .context("opening the cluster lock file")?;
    lock.lock().context("locking the cluster folder")?;
    let result = ensure_locked(spec, &bins, as_root);
    File::unlock(&lock).ok();
    result
}

/// Stops the cluster at `spec.root` if it runs: `fast` disconnects clients
/// and shuts down cleanly; otherwise `immediate` (a crash, recovered from at
/// the next start). Used to prove that processes outlive a database restart.
pub fn stop(spec: &ClusterSpec, fast: bool) -> Result<()> {
    let bins = PgBinaries::find()?;
    let as_root = running_as_root();
    let data = spec.root.join("data");
    if !is_running(&bins, as_root, &data)? {
        return Ok(());
    }
    let mode = if fast { "fast" } else { "immediate" };
    run(bins.command("pg_ctl", as_root).args(["-D", &data.to_string_lossy(), "-m", mode, "-w", "stop"]), "pg_ctl stop")
}

/// Starts a hot standby of `primary` at `spec.root`: a base backup taken
/// with `pg_basebackup -R` (so it streams from the primary and replays as it
/// goes), listening on a port of its own. Reads only: what a deployment's
/// streaming replica is, on this machine (the replica tests use it).
pub fn start_standby(primary: &Cluster, spec: &ClusterSpec) -> Result<Cluster> {
    let bins = PgBinaries::find()?;
    let as_root = running_as_root();
    let data = spec.root.join("data");
    fs::create_dir_all(&spec.root).with_context(|| format!("creating {}", spec.root.display()))?;
    if as_root {
        chown_to_postgres(&spec.root)?;
    }
    let data_str = data.to_string_lossy().into_owned();
    let port = primary.port.to_string();
    run(
        // Beside the server programs, or in a version's folder when those
        // are wrappers on PATH.
        as_cluster_owner(server_program("pg_basebackup")?, as_root).args([
            "-D",
            &data_str,
            "-R",
            "-X",
            "stream",
            "--checkpoint=fast",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            &primary.user,
        ]),
        "pg_basebackup",
    )?;
    let standby_port = free_port()?;
    // The copied configuration names the primary's port and socket folder;
    // the last setting of a name wins.
    let conf =
        format!("\n# haat standby\nport = {standby_port}\nunix_socket_directories = '{data_str}'\nhot_standby = on\n");
    let conf_path = data.join("postgresql.conf");
    let mut existing = fs::read_to_string(&conf_path)?;
    existing.push_str(&conf);
    fs::write(&conf_path, existing)?;
    if as_root {
        chown_to_postgres(&spec.root)?;
    }
    start_cluster(spec, &bins, as_root, &data)?;
    Ok(Cluster { port: standby_port, user: primary.user.clone() })
}

/// The path of one of the Postgres programs beside `initdb` (e.g.
/// `pgbench`, for the benchmark's baseline).
pub fn server_program(name: &str) -> Result<PathBuf> {
    PgBinaries::candidates()
        .into_iter()
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .with_context(|| format!("{name} was not found on PATH or in /usr/lib/postgresql/*/bin"))
}

fn ensure_locked(spec: &ClusterSpec, bins: &PgBinaries, as_root: bool) -> Result<Cluster> {
    let data = spec.root.join("data");
    // Postgres refuses to run as root, so as root the cluster belongs to the
    // `postgres` system user; a person on a laptop owns their own cluster.
    let user = if as_root { "postgres".to_owned() } else { current_user() };
    if !data.join("PG_VERSION").exists() {
        init_cluster(spec, bins, as_root, &data, &user)?;
    }
    let port = read_port(&data)?;
    if !is_running(bins, as_root, &data)? {
        start_cluster(spec, bins, as_root, &data)?;
    }
    Ok(Cluster { port, user })
}

fn init_cluster(spec: &ClusterSpec, bins: &PgBinaries, as_root: bool, data: &Path, user: &str) -> Result<()> {
    if data.exists() {
        fs::remove_dir_all(data).context("removing a half-created data folder")?;
    }
    fs::create_dir_all(data)?;
    if as_root {
        chown_to_postgres(&spec.root)?;
    }
    let data_str = data.to_string_lossy().into_owned();
    run(
        bins.command("initdb", as_root).args([
            "-D",
            &data_str,
            "-U",
            user,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ]),
        "initdb",
    )?;
    let port = free_port()?;
    let mut conf = format!(
        "\n# haat embedded cluster\nport = {port}\nlisten_addresses = '127.0.0.1'\n\
         unix_socket_directories = '{data_str}'\nmax_connections = 300\n\
         shared_buffers = 128MB\n"
    );
    if spec.throwaway {
        conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
    }
    let conf_path = data.join("postgresql.conf");
    let mut existing = fs::read_to_string(&conf_path)?;
    existing.push_str(&conf);
    fs::write(&conf_path, existing)?;
    if as_root {
        chown_to_postgres(data)?;
    }
    Ok(())
}

fn start_cluster(spec: &ClusterSpec, bins: &PgBinaries, as_root: bool, data: &Path) -> Result<()> {
    let log = spec.root.join("postgres.log");
    if as_root && !log.exists() {
        File::create(&log)?;
        chown_to_postgres(&log)?;
    }
    run(
        bins.command("pg_ctl", as_root).args([
            "-D",
            &data.to_string_lossy(),
            "-l",
            &log.to_string_lossy(),
            "-w",
            "-t",
            "60",
            "start",
        ]),
        "pg_ctl start",
    )
    .with_context(|| format!("see the server log at {}", log.display()))
}

fn is_running(bins: &PgBinaries, as_root: bool, data: &Path) -> Result<bool> {
    let status = bins
        .command("pg_ctl", as_root)
        .args(["-D", &data.to_string_lossy(), "status"])
        .output()
        .context("running pg_ctl status")?;
    Ok(status.status.success())
}

fn read_port(data: &Path) -> Result<u16> {
    let conf = fs::read_to_string(data.join("postgresql.conf"))?;
    conf.lines()
        .rev()
        .filter_map(|l| l.trim().strip_prefix("port = "))
        .find_map(|p| p.trim().parse().ok())
        .context("the embedded cluster's postgresql.conf names no port")
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free local port")?;
    Ok(listener.local_addr()?.port())
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn current_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            Command::new("id").arg("-un").output().ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        })
        .unwrap_or_else(|| "postgres".to_owned())
}

fn chown_to_postgres(path: &Path) -> Result<()> {
    run(Command::new("chown").args(["-R", "postgres:", &path.to_string_lossy()]), "chown to the postgres user")
}

/// Where the Postgres server programs are.
struct PgBinaries {
    dir: PathBuf,
}

impl PgBinaries {
    /// PATH, then each installed version's folder, newest first.
    fn candidates() -> Vec<PathBuf> {
        let mut candidates: Vec<PathBuf> =
            std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
        if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
            let mut versions: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("bin")).collect();
            versions.sort();
            candidates.extend(versions.into_iter().rev());
        }
        candidates
    }

    fn find() -> Result<Self> {
        Self::candidates()
            .into_iter()
            .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
            .map(|dir| Self { dir })
            .context(
                "Postgres server programs (initdb, pg_ctl) were not found on PATH or in \
                 /usr/lib/postgresql/*/bin. Install them (Debian/Ubuntu: \
                 `apt-get install postgresql postgresql-contrib`; macOS: `brew install postgresql@15`) \
                 or set DATABASE_URL to an existing database.",
            )
    }

    fn command(&self, program: &str, as_root: bool) -> Command {
        as_cluster_owner(self.dir.join(program), as_root)
    }
}

/// Runs `path` as the cluster's owner: the `postgres` user when we are root.
fn as_cluster_owner(path: PathBuf, as_root: bool) -> Command {
    if as_root {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(path);
        cmd
    } else {
        Command::new(path)
    }
}

/// The default folder for a cluster named `name` (e.g. "dev" or "test").
///
/// `HAAT_PG_DIR` overrides it. Otherwise it is `.haat/<name>` in the current
/// folder; as root it is under the system temp folder instead, keyed by the
/// project folder, because the `postgres` user may not be able to enter a
/// root-owned checkout (a `mktemp -d` clone is mode 700).
pub fn default_root(name: &str, project_dir: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("HAAT_PG_DIR") {
        return PathBuf::from(dir).join(name);
    }
    if running_as_root() {
        let key = fnv1a(project_dir.to_string_lossy().as_bytes());
        return std::env::temp_dir().join(format!("haat-pg-{key:016x}")).join(name);
    }
    project_dir.join(".haat").join(name)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}
