//! The end-to-end test harness: each test gets its own database in a
//! throwaway embedded Postgres cluster, its own real SMTP server, and real
//! `haat-api` and `haat-worker` processes talking to both. Tests talk HTTP
//! and signed webhooks to the api and await conditions (never fixed sleeps).

pub mod browser;
pub mod chaos;
pub mod own_cluster;
pub mod providers;
pub mod smtp;
pub mod standin;
pub mod web;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;
use haat_domain::integrations::webhooks::WebhookSecret;
use haat_platform::embedded_pg::{self, Cluster, ClusterSpec};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub use smtp::{Mail, SmtpSink};
pub use standin::Standin;

/// How long any awaited condition may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The workspace's root folder (where `docs/`, `scripts/` and `target/` are).
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The shared throwaway cluster for all tests (started once per machine).
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let spec = ClusterSpec { root: embedded_pg::default_root("test", &workspace_dir()), throwaway: true };
        embedded_pg::ensure_running(&spec).expect("the embedded test cluster starts")
    })
}

/// A fresh, migrated database of its own.
pub async fn fresh_database() -> (String, PgPool) {
    let cluster = cluster();
    let name = format!("haat_test_{}", uuid::Uuid::now_v7().simple());
    haat_platform::db::create_database_if_missing(&cluster.url("postgres"), &name).await.expect("create test database");
    let url = cluster.url(&name);
    let pool = haat_platform::db::connect(&url, 4).await.expect("connect to test database");
    haat_platform::db::migrate(&pool).await.expect("migrations apply");
    (url, pool)
}

fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // Test executables live in target/<profile>/deps, programs in target/<profile>.
    let dir = exe.parent().expect("executable folder");
    let dir = if dir.ends_with("deps") { dir.parent().expect("target/<profile> folder") } else { dir };
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first (`cargo build --bins`; scripts/test does)",
        path.display()
    );
    path
}

/// A running system: database, SMTP sink, api and worker processes.
pub struct TestApp {
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// The test's own database (for setup shortcuts and ledger assertions).
    pub pool: PgPool,
    /// Its URL.
    pub database_url: String,
    /// The configured admin token.
    pub admin_token: String,
    /// The generic provider's webhook secret.
    pub secret: WebhookSecret,
    /// Everything the worker sent by SMTP.
    pub smtp: SmtpSink,
    /// HTTP client.
    pub http: reqwest::Client,
    /// The payment gateways' stand-in server.
    pub standin: Standin,
    api: Option<ApiProcess>,
    workers: Vec<Child>,
    env: Vec<(String, String)>,
}

impl TestApp {
    /// Starts everything with one worker process.
    pub async fn spawn() -> Self {
        let (database_url, pool) = fresh_database().await;
        Self::spawn_on(database_url, pool, &[]).await
    }

    /// Starts the api and one worker on an existing database, with extra
    /// environment for both (e.g. a chaos run's own cluster and settings).
    pub async fn spawn_on(database_url: String, pool: PgPool, extra_env: &[(&str, &str)]) -> Self {
        let smtp = SmtpSink::start();
        let admin_token = format!("test-admin-{}", uuid::Uuid::new_v4().simple());
        let key: [u8; 24] = rand_bytes();
        let secret_text = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(key));
        let secret = WebhookSecret::parse(&secret_text).expect("valid test secret");
        let logs = workspace_dir().join("target").join("test-logs");
        std::fs::create_dir_all(&logs).ok();
        let mut env = vec![
            ("DATABASE_URL".to_owned(), database_url.clone()),
            ("HAAT_API_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
            ("HAAT_ADMIN_TOKEN".to_owned(), admin_token.clone()),
            ("HAAT_WEBHOOK_SECRET".to_owned(), secret_text),
            ("HAAT_SMTP_URL".to_owned(), format!("smtp://127.0.0.1:{}", smtp.port)),
            ("HAAT_DB_POOL".to_owned(), "6".to_owned()),
            ("RUST_LOG".to_owned(), "info,sqlx=warn".to_owned()),
        ];
        let standin = Standin::start().await;
        env.extend(providers::env(&standin.base));
        env.extend(extra_env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let db_name = database_url.rsplit('/').next().unwrap_or("db").to_owned();
        let api = ApiProcess::start(env.clone(), logs.join(format!("{db_name}.api.log"))).await;
        let base = api.base();
        let mut app = Self {
            base,
            pool,
            database_url,
            admin_token,
            secret,
            smtp,
            http: reqwest::Client::new(),
            standin,
            api: Some(api),
            workers: Vec::new(),
            env,
        };
        app.start_worker().await;
        app
    }

    /// Sets an environment variable for worker processes started from now on.
    pub fn set_worker_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    fn worker_log_path(&self, i: usize) -> PathBuf {
        let db_name = self.database_url.rsplit('/').next().unwrap_or("db").to_owned();
        workspace_dir().join("target").join("test-logs").join(format!("{db_name}.worker{i}.log"))
    }

    /// What worker `i` has logged so far.
    pub fn worker_log(&self, i: usize) -> String {
        std::fs::read_to_string(self.worker_log_path(i)).unwrap_or_default()
    }

    /// The lines worker `i` logged about the job with `key` (it must log
    /// JSON: `HAAT_LOG_FORMAT=json`), oldest first.
    pub fn job_log(&self, i: usize, key: &str) -> Vec<Value> {
        self.worker_log(i)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["span"]["job"] == key)
            .collect()
    }

    /// Starts one more worker process.
    pub async fn start_worker(&mut self) {
        let log = self.worker_log_path(self.workers.len());
        self.workers.push(spawn_worker(&self.env, &log));
    }

    /// The environment worker processes are started with.
    pub fn workers_env(&self) -> Vec<(String, String)> {
        self.env.clone()
    }

    /// Hands the running worker processes over to the caller.
    pub fn take_workers(&mut self) -> Vec<Child> {
        std::mem::take(&mut self.workers)
    }

    /// Sends SIGTERM to worker `i` once it runs, and waits for it to exit.
    pub async fn terminate_worker(&mut self, i: usize) -> std::process::ExitStatus {
        eventually("the worker runs", || async { self.worker_log(i).contains("running").then_some(()) }).await;
        let worker = &mut self.workers[i];
        let pid = worker.id().expect("the worker is running");
        let sent = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await.expect("kill runs");
        assert!(sent.success(), "SIGTERM sent");
        tokio::time::timeout(PATIENCE * 2, worker.wait()).await.expect("the worker exits in time").expect("exit status")
    }

    /// Kills worker `i` with SIGKILL (no chance to finish anything) once it
    /// runs, and waits until it is gone.
    pub async fn kill_worker(&mut self, i: usize) {
        eventually("the worker runs", || async { self.worker_log(i).contains("running").then_some(()) }).await;
        self.workers[i].kill().await.expect("SIGKILL");
    }

    /// Runs `haat-worker ARGS` to completion against the test's database.
    pub async fn worker_command(&self, args: &[&str]) -> std::process::Output {
        Command::new(binary("haat-worker"))
            .args(args)
            .envs(self.env.iter().cloned())
            .output()
            .await
            .expect("haat-worker runs")
    }

    /// `METHOD path` with a bearer token and optional JSON body.
    pub async fn call(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> (StatusCode, Value) {
        self.call_with(method, path, token, body.map(|b| b.to_string()), &[]).await
    }

    /// Like [`Self::call`] with a raw body and extra headers.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let reply = self.request(method, path, token, body, headers).await;
        (reply.status, reply.body)
    }

    /// Like [`Self::call_with`], answering the content type too.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.expect("request reaches the api");
        let status = res.status();
        let content_type =
            res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let text = res.text().await.unwrap_or_default();
        Reply { status, content_type, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
    }

    /// An admin call.
    pub async fn admin(&self, method: &str, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        self.call(method, path, &self.admin_token, body).await
    }

    /// Sends a signed generic webhook with the given id and timestamp.
    pub async fn webhook_signed(&self, channel: &str, id: &str, timestamp: i64, body: &str) -> StatusCode {
        let sig = self.secret.sign(id, timestamp, body.as_bytes());
        self.webhook_raw(channel, id, &timestamp.to_string(), &sig, body).await
    }

    /// Sends a webhook with whatever headers the test wants.
    pub async fn webhook_raw(
        &self,
        channel: &str,
        id: &str,
        timestamp: &str,
        signature: &str,
        body: &str,
    ) -> StatusCode {
        self.http
            .post(format!("{}/v1/webhooks/{channel}/generic", self.base))
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp)
            .header("webhook-signature", signature)
            .body(body.to_owned())
            .send()
            .await
            .expect("webhook reaches the api")
            .status()
    }

    /// Sends a signed generic event now, under a fresh webhook id; returns the id.
    pub async fn send_event(&self, channel: &str, event: &Value) -> (StatusCode, String) {
        let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let status = self.webhook_signed(channel, &id, chrono::Utc::now().timestamp(), &event.to_string()).await;
        (status, id)
    }

    /// Creates a plan from `body` (admin) and returns it.
    pub async fn create_plan(&self, body: Value) -> Value {
        let (status, plan) = self.admin("POST", "/v1/admin/plans", Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "plan created: {plan}");
        plan
    }

    /// Creates a product (admin) and returns it.
    pub async fn create_product(&self, sku: &str, price: &str, bv: &str, stock: i64) -> Value {
        let body = json!({"sku": sku, "name": sku, "category": "grocery", "price": price,
                          "pv": "20.00", "bv": bv, "stock": stock, "commissionable": true});
        let (status, p) = self.admin("POST", "/v1/admin/products", Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "product created: {p}");
        p
    }

    /// Creates `n` members, each sponsored by the previous one; root first.
    pub async fn create_chain(&self, n: usize) -> Vec<Value> {
        let mut chain: Vec<Value> = Vec::new();
        for i in 0..n {
            let sponsor = chain.last().map(|m| m["referral_code"].clone()).unwrap_or(Value::Null);
            let body = json!({"name": format!("Member {i}"), "email": format!("m{i}-{}@example.com", uuid::Uuid::new_v4().simple()),
                              "sponsor_code": sponsor});
            let (status, m) = self.admin("POST", "/v1/members", Some(&body)).await;
            assert_eq!(status, StatusCode::CREATED, "member created: {m}");
            chain.push(m);
        }
        chain
    }

    /// Places an order of `quantity` × `product` for `buyer` (admin key).
    pub async fn place_order(&self, buyer: &Value, product: &Value, quantity: i64, method: &str) -> Value {
        self.place_order_body(&order_body(buyer, product, quantity, method)).await
    }

    /// Places the order `body` (admin key, a fresh idempotency key) and
    /// returns it.
    pub async fn place_order_body(&self, body: &Value) -> Value {
        let key = uuid::Uuid::new_v4().to_string();
        let (status, order) = self
            .call_with("POST", "/v1/orders", &self.admin_token, Some(body.to_string()), &[("idempotency-key", &key)])
            .await;
        assert_eq!(status, StatusCode::CREATED, "order placed: {order}");
        order
    }

    /// A member's wallet.
    pub async fn wallet(&self, member: &Value) -> Value {
        let (status, w) =
            self.admin("GET", &format!("/v1/members/{}/wallet", member["id"].as_str().unwrap_or_default()), None).await;
        assert_eq!(status, StatusCode::OK, "wallet read: {w}");
        w
    }

    /// Kills the api (SIGKILL, mid-request if one is in flight) and starts
    /// it again on the same settings and address.
    pub async fn restart_api(&mut self) {
        if let Some(api) = &mut self.api {
            api.kill_and_restart().await;
        }
    }

    /// Hands the api process over to the caller (who may kill and restart
    /// it while requests are in flight).
    pub fn take_api(&mut self) -> Option<ApiProcess> {
        self.api.take()
    }

    /// Stops the api and workers (SIGKILL) — used by tests that restart them.
    pub async fn stop(&mut self) {
        if let Some(api) = &mut self.api {
            api.child.kill().await.ok();
        }
        for w in &mut self.workers {
            w.kill().await.ok();
        }
    }
}

/// What the api answered.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// `content-type`.
    pub content_type: String,
    /// The JSON body (a JSON string of the text when it is not JSON).
    pub body: Value,
}

impl Reply {
    /// The field of its first error (problem+json).
    pub fn field(&self) -> &str {
        self.body["errors"][0]["field"].as_str().unwrap_or_default()
    }
}

/// Lets `days` pass for held commissions and rewards: their hold ends and
/// the release jobs' start are both shifted into the past, exactly as if
/// that much time had gone by.
pub async fn let_days_pass(app: &TestApp, days: i32) {
    let shifts = [
        "UPDATE commissions SET release_at = release_at - make_interval(days => $1) WHERE status = 'pending'",
        "UPDATE order_rewards SET release_at = release_at - make_interval(days => $1) WHERE status = 'pending'",
        "UPDATE apalis.jobs SET run_at = run_at - make_interval(days => $1)
          WHERE job_type = 'haat.holds' AND status = 'Pending'",
    ];
    for shift in shifts {
        sqlx::query(shift).bind(days).execute(&app.pool).await.expect("shift holds");
    }
}

/// Moves the hold of `order_id` so that it ends at `at`: its held
/// commissions and rewards and its release job are all shifted by the same
/// span (down to the microsecond), so the job keeps exactly the start the
/// system gave it relative to the hold's end — as if time had passed.
pub async fn move_hold_to_end_at(app: &TestApp, order_id: uuid::Uuid, at: chrono::DateTime<chrono::Utc>) {
    let mut tx = app.pool.begin().await.expect("begin");
    let shift: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM min(release_at) - $2::timestamptz)::float8 FROM commissions
          WHERE order_id = $1 AND status = 'pending'",
    )
    .bind(order_id)
    .bind(at)
    .fetch_one(&mut *tx)
    .await
    .expect("the order has held commissions");
    let shifts = [
        "UPDATE commissions SET release_at = release_at - make_interval(secs => $2)
          WHERE order_id = $1 AND status = 'pending'",
        "UPDATE order_rewards SET release_at = release_at - make_interval(secs => $2)
          WHERE order_id = $1 AND status = 'pending'",
        "UPDATE apalis.jobs SET run_at = run_at - make_interval(secs => $2)
          WHERE job_type = 'haat.holds' AND status = 'Pending' AND starts_with(idempotency_key, 'release_hold:' || $1 || ':')",
    ];
    for statement in shifts {
        sqlx::query(statement).bind(order_id).bind(shift).execute(&mut *tx).await.expect("shift the hold");
    }
    tx.commit().await.expect("commit");
}

/// The audit's checks that failed, by name, with their violations.
pub async fn failed_audit_checks(app: &TestApp) -> Vec<(String, Vec<String>)> {
    let (status, audit) = app.admin("GET", "/v1/admin/audit", None).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    audit["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["ok"] != true)
        .map(|c| {
            let violations = c["violations"].as_array().into_iter().flatten();
            (c["name"].as_str().unwrap_or_default().to_owned(), violations.map(|v| v.to_string()).collect())
        })
        .collect()
}

/// How many journal entries of `kind` there are.
pub async fn entries_of(app: &TestApp, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM journal_entries WHERE kind = $1")
        .bind(kind)
        .fetch_one(&app.pool)
        .await
        .expect("count entries")
}

/// A marketplace seller, recorded and approved (admin): its id.
pub async fn approved_seller(app: &TestApp, name: &str) -> uuid::Uuid {
    let body = json!({"name": name, "email": format!("{}@sellers.example.com", uuid::Uuid::new_v4().simple()),
                      "payout_method": "bkash", "payout_account": "01711000001"});
    let (status, seller) = app.admin("POST", "/v1/admin/sellers", Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "seller recorded: {seller}");
    let id = seller["id"].as_str().unwrap_or_default().to_owned();
    let (status, approved) = app.admin("POST", &format!("/v1/admin/sellers/{id}/approve"), None).await;
    assert_eq!((status, approved["status"].as_str()), (StatusCode::OK, Some("approved")), "{approved}");
    id.parse().expect("a seller id")
}

/// A five-level plan, a network of two and one 450.00 order (BV 300.00)
/// by the second member: the shop the provider tests pay and deliver.
pub async fn two_members_and_an_order(app: &TestApp, method: &str) -> (Vec<Value>, Value) {
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(2).await;
    let order = app.place_order(&chain[1], &tea, 1, method).await;
    (chain, order)
}

/// The JSON body of an order.
pub fn order_body(buyer: &Value, product: &Value, quantity: i64, method: &str) -> Value {
    json!({
        "buyer_id": buyer["id"],
        "lines": [{"product_id": product["id"], "quantity": quantity}],
        "shipping_address": {"name": "Rahim", "phone": "+8801711000000", "line1": "House 1, Road 2",
                             "city": "Dhaka", "postcode": "1207"},
        "payment_method": method,
        "coupon_code": null, "store_credit": "0.00", "pickup_point_id": null
    })
}

/// The body of a generic payment.succeeded event for `order`.
pub fn paid_event(order: &Value) -> Value {
    json!({"type": "payment.succeeded", "data": {"invoice_no": order["invoice_no"], "amount": order["total"],
           "currency": "BDT", "transaction_id": format!("TX-{}", order["invoice_no"].as_str().unwrap_or_default())}})
}

/// The body of a generic delivery.delivered event for `order`.
pub fn delivered_event(order: &Value) -> Value {
    json!({"type": "delivery.delivered", "data": {"invoice_no": order["invoice_no"], "tracking_id": "SF-1",
           "collected_amount": order["total"]}})
}

fn rand_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    let seed = uuid::Uuid::new_v4();
    let a = seed.as_bytes();
    let b = uuid::Uuid::new_v4();
    let b = b.as_bytes();
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = if i < 16 { a[i] } else { b[i - 16] };
    }
    out
}

/// Starts a `haat-worker` process with `env`, logging to `log`; it is
/// killed when its handle is dropped.
fn spawn_worker(env: &[(String, String)], log: &Path) -> Child {
    let mut cmd = Command::new(binary("haat-worker"));
    cmd.envs(env.iter().cloned()).stdout(Stdio::null()).stderr(log_file(log)).kill_on_drop(true);
    cmd.spawn().expect("haat-worker starts")
}

fn log_file(path: &Path) -> Stdio {
    std::fs::File::create(path).map(Stdio::from).unwrap_or_else(|_| Stdio::null())
}

/// How long a supervisor waits before starting a process that exited again
/// (systemd's `RestartSec`).
const SUPERVISOR_RESTART_DELAY: Duration = Duration::from_millis(250);

/// A running `haat-api` process, restartable on the same address.
pub struct ApiProcess {
    child: Child,
    env: Vec<(String, String)>,
    log: PathBuf,
    /// `127.0.0.1:port`, once it listens.
    addr: String,
    /// Times it was killed and started again.
    pub restarts: usize,
}

impl ApiProcess {
    /// Starts the api with `env` (its `HAAT_API_ADDR` may ask for port 0).
    async fn start(env: Vec<(String, String)>, log: PathBuf) -> Self {
        let (child, base) = start_api(&env, &log).await;
        let addr = base.trim_start_matches("http://").to_owned();
        Self { child, env, log, addr, restarts: 0 }
    }

    /// `http://127.0.0.1:port`.
    #[must_use]
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// SIGKILLs it (whatever it is doing) and starts it again on the same
    /// address, logging to a file of its own per start.
    pub async fn kill_and_restart(&mut self) {
        self.child.kill().await.ok();
        self.restarts += 1;
        let mut env = self.env.clone();
        env.retain(|(k, _)| k != "HAAT_API_ADDR");
        env.push(("HAAT_API_ADDR".to_owned(), self.addr.clone()));
        // As a supervisor does: an api that cannot start (the database is
        // down and it migrates at start) is started again a moment later.
        let deadline = Instant::now() + PATIENCE * 2;
        for attempt in 1.. {
            let log = self.log.with_extension(format!("restart{}-{attempt}.log", self.restarts));
            if let Some((child, base)) = try_start_api(&env, &log).await {
                assert_eq!(base, self.base(), "the api listens where it did");
                self.child = child;
                return;
            }
            assert!(Instant::now() < deadline, "haat-api did not start again; see {}", log.display());
            tokio::time::sleep(SUPERVISOR_RESTART_DELAY).await;
        }
    }
}

async fn start_api(env: &[(String, String)], log: &Path) -> (Child, String) {
    try_start_api(env, log).await.unwrap_or_else(|| panic!("haat-api did not start; see {}", log.display()))
}

/// Starts the api; `None` if it exits (or stays silent) before it listens.
async fn try_start_api(env: &[(String, String)], log: &Path) -> Option<(Child, String)> {
    let mut cmd = Command::new(binary("haat-api"));
    cmd.envs(env.iter().cloned()).stdout(Stdio::piped()).stderr(log_file(log)).kill_on_drop(true);
    let mut child = cmd.spawn().expect("haat-api starts");
    let stdout = child.stdout.take().expect("api stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(PATIENCE, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.strip_prefix("haat-api listening on ") {
                return Some(url.trim().to_owned());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()?;
    // Keep draining stdout so the api never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Some((child, line))
}

/// Polls `check` until it returns `Some`, failing the test after [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < PATIENCE, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Sum of all postings (must be zero) and count of unbalanced entries.
pub async fn ledger_totals(pool: &PgPool) -> (rust_decimal::Decimal, i64) {
    let total: Option<rust_decimal::Decimal> =
        sqlx::query_scalar("SELECT sum(amount) FROM postings").fetch_one(pool).await.expect("sum postings");
    let unbalanced: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT entry_id FROM postings GROUP BY entry_id HAVING sum(amount) <> 0) u",
    )
    .fetch_one(pool)
    .await
    .expect("unbalanced entries");
    (total.unwrap_or_default(), unbalanced)
}

/// Waits until no job that is due is still waiting or running, so a test can
/// assert that nothing more is going to happen.
pub async fn quiescent(pool: &PgPool) {
    eventually("all due jobs finished", || async {
        let busy: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM apalis.jobs WHERE status NOT IN ('Done', 'Failed', 'Killed') AND run_at <= now()",
        )
        .fetch_one(pool)
        .await
        .ok()?;
        let unprocessed: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_events WHERE processed_at IS NULL")
            .fetch_one(pool)
            .await
            .ok()?;
        (busy == 0 && unprocessed == 0).then_some(())
    })
    .await;
}

/// The standard five-level plan of the tests, in effect since 2026-01-01.
pub fn five_level_plan(holding_days: i64) -> Value {
    json!({"name": "Standard", "effective_from": "2026-01-01T00:00:00Z", "credit_on": "delivered",
           "holding_days": holding_days, "levels": ["0.10", "0.05", "0.03", "0.02", "0.01"]})
}

/// Waits until `member`'s wallet has `field` equal to `amount`.
pub async fn wallet_reaches(app: &TestApp, member: &Value, field: &str, amount: &str) -> Value {
    eventually(&format!("{field} = {amount} for {}", member["name"]), || async {
        let w = app.wallet(member).await;
        (w[field] == amount).then_some(w)
    })
    .await
}

/// A one-level plan with two ranks and two team bonuses.
pub fn bonus_plan() -> Value {
    json!({"name": "Ranks", "effective_from": "2026-01-01T00:00:00Z", "credit_on": "delivered",
           "holding_days": 7, "levels": ["0.10"],
           "ranks": [{"name": "silver", "min_personal_pv": "20.00", "min_group_pv": "40.00"},
                     {"name": "gold", "min_personal_pv": "20.00", "min_group_pv": "100.00"}],
           "period_bonuses": [{"name": "team", "min_group_pv": "40.00", "amount": "100.00"},
                              {"name": "gold_share", "min_group_pv": "100.00", "min_rank": "gold", "rate": "0.01"}]})
}

/// A chain of four where everyone bought this month (the root two units),
/// then moved into last month, as if the month had passed. Returns the chain
/// and last month's period.
pub async fn last_months_team(app: &TestApp) -> (Vec<Value>, String) {
    app.create_plan(bonus_plan()).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(4).await;
    for (i, m) in chain.iter().enumerate() {
        let order = app.place_order(m, &tea, if i == 0 { 2 } else { 1 }, "cod").await;
        assert_eq!(app.send_event("couriers", &delivered_event(&order)).await.0, StatusCode::OK);
    }
    quiescent(&app.pool).await;
    let period = haat_domain::compensation::periods::previous_period(chrono::Utc::now(), chrono_tz::UTC);
    sqlx::query("UPDATE volume_entries SET period = $1, at = at - interval '31 days'")
        .bind(&period)
        .execute(&app.pool)
        .await
        .expect("move the volume into last month");
    sqlx::query("UPDATE orders SET commissionable_at = commissionable_at - interval '31 days'")
        .execute(&app.pool)
        .await
        .expect("move the orders into last month");
    (chain, period)
}

/// One member's cod order of one TEA-500 (450.00, BV 300.00) delivered
/// under the five-level plan, its commissions held (30.00 and 15.00 to the
/// two uplines of a chain of three) and everything due run.
pub async fn delivered_and_held() -> (TestApp, Vec<Value>, Value) {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let chain = app.create_chain(3).await;
    let order = app.place_order(&chain[2], &tea, 1, "cod").await;
    assert_eq!(app.send_event("couriers", &delivered_event(&order)).await.0, StatusCode::OK);
    wallet_reaches(&app, &chain[1], "pending", "30.00").await;
    quiescent(&app.pool).await;
    (app, chain, order)
}

/// One member's cod order of one KIT-1 (15,000.00, BV 12,000.00) delivered
/// under the five-level plan in a chain of two, and its commission
/// released: the sponsor has 1,200.00 available to withdraw.
pub async fn released_kit_commission() -> (TestApp, Vec<Value>, Value) {
    released_kit_commission_with(&[]).await
}

/// [`released_kit_commission`] with extra environment for the processes.
pub async fn released_kit_commission_with(env: &[(&str, &str)]) -> (TestApp, Vec<Value>, Value) {
    let (url, pool) = fresh_database().await;
    let app = TestApp::spawn_on(url, pool, env).await;
    app.create_plan(five_level_plan(7)).await;
    let kit = app.create_product("KIT-1", "15000.00", "12000.00", 10).await;
    let chain = app.create_chain(2).await;
    let order = app.place_order(&chain[1], &kit, 1, "cod").await;
    app.send_event("couriers", &delivered_event(&order)).await;
    wallet_reaches(&app, &chain[0], "pending", "1200.00").await;
    let_days_pass(&app, 8).await;
    wallet_reaches(&app, &chain[0], "available", "1200.00").await;
    (app, chain, order)
}

/// A member's cod order whose placed-order email's job is dead: the first
/// worker is replaced by one whose mail server refuses every connection
/// and that retries fast (20, 40 and 80 ms in process, then scheduled, at
/// most `longest_ms`), with its log in JSON. Returns the app (that worker
/// still running), the order and the dead job as listed, and the working
/// SMTP URL to put back.
pub async fn dead_placed_email(longest_ms: &str) -> (TestApp, Value, Value, String) {
    let mut app = TestApp::spawn().await;
    assert!(app.terminate_worker(0).await.success());
    let good_smtp = format!("smtp://127.0.0.1:{}", app.smtp.port);
    app.set_worker_env("HAAT_SMTP_URL", "smtp://127.0.0.1:9");
    app.set_worker_env("HAAT_RETRY_FIRST_MS", "20");
    app.set_worker_env("HAAT_RETRY_IN_PROCESS_MS", "100");
    app.set_worker_env("HAAT_RETRY_LONGEST_MS", longest_ms);
    app.set_worker_env("HAAT_LOG_FORMAT", "json");
    app.start_worker().await;
    let member = &app.create_chain(1).await[0];
    let tea = app.create_product("TEA-500", "450.00", "300.00", 100).await;
    let order = app.place_order(member, &tea, 1, "cod").await;
    let dead = eventually("the placed email's job is dead", || async {
        let (_, jobs) = app.admin("GET", "/v1/admin/jobs?status=dead&queue=notifications", None).await;
        jobs["items"].as_array().and_then(|items| items.first().cloned())
    })
    .await;
    (app, order, dead, good_smtp)
}

/// The standard plan plus 2% points, a silver tier at 1000.00 of spend
/// (3%) and a gold one at 100000.00 (5%).
pub fn loyalty_plan(reward: &str) -> Value {
    let mut plan = five_level_plan(7);
    plan["order_cashback_rate"] = json!("0.02");
    plan["order_cashback_reward"] = json!(reward);
    plan["tiers"] = json!([{"name": "silver", "min_spend": "1000.00", "rate": "0.03"},
                           {"name": "gold", "min_spend": "100000.00", "rate": "0.05"}]);
    plan["points_expiry_days"] = json!(30);
    plan
}

/// Seeded buyers (with their accounts) under one seeded root.
pub async fn seed_buyers(app: &TestApp, n: usize) -> Vec<uuid::Uuid> {
    let root = haat_domain::seed::SeedMember { id: uuid::Uuid::now_v7(), parent_id: None };
    let mut rows = vec![root.clone()];
    rows.extend((0..n).map(|_| haat_domain::seed::SeedMember { id: uuid::Uuid::now_v7(), parent_id: Some(root.id) }));
    let mut conn = app.pool.acquire().await.expect("connection");
    haat_domain::seed::members(&mut conn, &rows, "BDT").await.expect("members seeded");
    rows[1..].iter().map(|m| m.id).collect()
}

/// One purchase of one unit per buyer of `product`, paid at `at(i)`.
pub async fn seed_purchases(
    app: &TestApp,
    product: &Value,
    buyers: &[uuid::Uuid],
    at: impl Fn(usize) -> chrono::DateTime<chrono::Utc>,
) {
    let plan: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM plans LIMIT 1").fetch_one(&app.pool).await.expect("a plan");
    let product_id: uuid::Uuid = product["id"].as_str().and_then(|s| s.parse().ok()).expect("product id");
    let purchases: Vec<haat_domain::seed::SeedPurchase> = buyers
        .iter()
        .enumerate()
        .map(|(i, b)| haat_domain::seed::SeedPurchase { buyer_id: *b, quantity: 1, credited_at: at(i) })
        .collect();
    let mut conn = app.pool.acquire().await.expect("connection");
    haat_domain::seed::credited_orders(&mut conn, product_id, plan, &purchases, chrono_tz::UTC, "BDT", true)
        .await
        .expect("orders seeded");
}

/// A `reached` campaign on one product over [now − 3 days, now − 2 hours),
/// which the default grace has already passed: it settles at once.
pub fn course_campaign(product: &Value, min_units: i64, max_units: i64) -> Value {
    let now = chrono::Utc::now();
    json!({"name": "Course launch", "scope": {"kind": "product", "product_id": product["id"]},
           "starts_at": (now - chrono::Duration::days(3)).to_rfc3339(), "ends_at": (now - chrono::Duration::hours(2)).to_rfc3339(),
           "time_zone": "Asia/Dhaka", "settle_at": null, "rate": "0.10", "trigger": "reached",
           "min_units": min_units, "max_units": max_units, "min_value": null, "max_value": null,
           "per_buyer_limit": 1, "reward": "cash", "budget": null})
}

/// A time inside the campaigns' windows.
pub fn in_window(i: usize) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() - chrono::Duration::days(2) + chrono::Duration::seconds(i64::try_from(i).unwrap_or(0))
}

/// How many of `buyers` hold exactly `amount` in their `kind` account.
pub async fn buyers_holding(app: &TestApp, buyers: &[uuid::Uuid], kind: &str, amount: &str) -> i64 {
    let amount: rust_decimal::Decimal = amount.parse().expect("amount");
    sqlx::query_scalar("SELECT count(*) FROM accounts WHERE member_id = ANY($1) AND kind = $2 AND balance = $3")
        .bind(buyers)
        .bind(kind)
        .bind(amount)
        .fetch_one(&app.pool)
        .await
        .expect("count balances")
}
