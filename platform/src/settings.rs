//! Typed settings from the environment, each with a default that works
//! locally, validated at start-up. Secrets are never printed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rust_decimal::Decimal;

use haat_domain::jobs::retry::RetrySchedule;
use haat_domain::money::{MONEY_SCALE, parse_amount};

use haat_domain::integrations::webhooks::WebhookSecret;

/// The local default admin token (fine on a laptop; set your own anywhere else).
pub const DEFAULT_ADMIN_TOKEN: &str = "haat-dev-admin-token";
/// The local default webhook secret (`whsec_` + base64 of "haat-dev-webhook-secret").
pub const DEFAULT_WEBHOOK_SECRET: &str = "whsec_aGFhdC1kZXYtd2ViaG9vay1zZWNyZXQ=";

/// Everything the processes read from the environment.
#[derive(Clone)]
pub struct Settings {
    /// `DATABASE_URL`; unset means the embedded cluster.
    pub database_url: Option<String>,
    /// `HAAT_REPLICA_URL`: a streaming replica of that database. When set,
    /// the api serves reports, the team and tree, and the member and order
    /// lists from it; every write, and every read that must see its own
    /// write, stays on the primary. Unset: everything on the primary.
    pub replica_url: Option<String>,
    /// `HAAT_API_ADDR` (default 127.0.0.1:8080; port 0 picks a free one).
    pub api_addr: SocketAddr,
    /// `HAAT_WORKER_HTTP_ADDR` (default 127.0.0.1:0, a free port, logged):
    /// where a worker serves `/healthz`, `/readyz` and `/metrics`.
    pub worker_http_addr: SocketAddr,
    /// `HAAT_ADMIN_TOKEN`: the first admin key.
    pub admin_token: String,
    /// `HAAT_WEBHOOK_SECRET`: Standard Webhooks secret of the generic provider.
    pub webhook_secret: WebhookSecret,
    /// `HAAT_SMTP_URL` (e.g. `smtp://127.0.0.1:2525`); unset means the outbox folder.
    pub smtp_url: Option<String>,
    /// `HAAT_OUTBOX_DIR` (default `.haat/outbox`).
    pub outbox_dir: PathBuf,
    /// `HAAT_MAIL_FROM` (default `haat <no-reply@haat.local>`).
    pub mail_from: String,
    /// `HAAT_ADMIN_EMAIL` (default `admin@haat.local`): where haat writes to
    /// the shop's admins (an event endpoint it had to disable).
    pub admin_email: String,
    /// `HAAT_CURRENCY` (default BDT): the deployment's one currency.
    pub currency: String,
    /// `HAAT_DB_POOL` (default 10): connections per process.
    pub db_pool: u32,
    /// `HAAT_DEMO_SEED_FILE`: when set, the api seeds the demo into an empty
    /// database at start-up and writes what it made to this file.
    pub demo_seed_file: Option<PathBuf>,
    /// `HAAT_RETURN_WINDOW_DAYS` (default 15): returns are accepted this
    /// many days after delivery — longer than the default 7-day hold, so a
    /// return may cancel a held commission or claw back a released one.
    pub return_window_days: u32,
    /// `HAAT_MASK_DOWNLINE_NAMES` (`true` or `false`, default `false`): a
    /// member reading its team or tree sees the names of members beyond its
    /// first level masked (`K***m`), for privacy; admins see them whole.
    pub mask_downline_names: bool,
    /// `HAAT_EVENTS_ALLOW_LOOPBACK` (`true` or `false`, default `false`):
    /// event endpoints may be `http://` on the loopback (tests, local
    /// development); otherwise only `https` to public addresses.
    pub events_allow_loopback: bool,
    /// `HAAT_EVENTS_TIMEOUT_MS` (default 10000, 100 to 60000): how long an
    /// event endpoint has to answer one attempt.
    pub events_timeout: Duration,
    /// `HAAT_PAYMENT_WINDOW_SECONDS` (default 3600): how long an online
    /// order waits for its payment; then it expires (cancelled, its stock
    /// and coupon use given back).
    pub payment_window_seconds: u32,
    /// `HAAT_PAYMENT_SESSION_SECONDS` (default 1800, 1 to 86400): how long
    /// a payment session haat opens at a gateway is offered to the buyer
    /// (never past the order's payment window); then a new one may be opened.
    pub payment_session_seconds: u32,
    /// `HAAT_WITHDRAWAL_MIN` (default 500.00): the smallest withdrawal.
    pub withdrawal_min: Decimal,
    /// `HAAT_WITHDRAWAL_MULTIPLE` (default 100.00): withdrawals are whole
    /// multiples of this.
    pub withdrawal_multiple: Decimal,
    /// Payment gateways and couriers: secrets and base URLs.
    pub providers: ProviderSettings,
    /// `HAAT_TIME_ZONE` (default UTC; an IANA name such as Asia/Dhaka):
    /// the deployment's time zone, in which volume periods (months) begin
    /// and end.
    pub time_zone: chrono_tz::Tz,
    /// `HAAT_WEEKLY_HOLIDAYS` (default `fri`, weekday names comma-separated)
    /// and `HAAT_PUBLIC_HOLIDAYS` (dates `YYYY-MM-DD`, comma-separated,
    /// default none): the days a seller's hold does not count, in
    /// `HAAT_TIME_ZONE`'s dates.
    pub hold_calendar: haat_domain::marketplace::escrow::HoldCalendar,
    /// `HAAT_PERIOD_CLOSE_MODE` (`auto`, the default, or `review`): `review`
    /// keeps each close as a run an admin reads, then commits or discards,
    /// before any bonus is posted.
    pub period_close_mode: haat_domain::compensation::periods::CloseMode,
    /// `HAAT_PUBLIC_URL` (default `http://` and `HAAT_API_ADDR`): where
    /// people reach haat, for the links it emails (a member's sign-in link).
    pub public_url: String,
    /// `HAAT_SHOP_URL` (default `HAAT_PUBLIC_URL`): the storefront's
    /// address, the base of members' share links (`/join?ref=`,
    /// `/products/{sku}?ref=`).
    pub shop_url: String,
    /// `HAAT_SHOP_NAME` (default `haat shop`): the seller's name on invoices.
    pub shop_name: String,
    /// `HAAT_SHOP_ADDRESS` (default `Dhaka, Bangladesh`): the seller's
    /// address on invoices (`\n` for a new line).
    pub shop_address: String,
    /// `HAAT_CHROMIUM` (default: `chromium`, `chromium-browser` or
    /// `google-chrome`, the first on `PATH`): the headless browser that
    /// renders invoice PDFs from their HTML. None found: PDFs answer 503.
    pub chromium: Option<PathBuf>,
    /// `HAAT_REPORT_TIME_LIMIT_SECONDS` (default 120, 1 to 3600): the
    /// longest a statement of a report served to a request may run; past
    /// it the report is cancelled and answered 503.
    pub report_time_limit: std::time::Duration,
    /// `HAAT_SIMULATION_INLINE_ORDERS` (default 20,000, 0 to 1,000,000): a
    /// plan simulation over at most this many orders is answered by the
    /// request itself; a larger one runs as a job (202 with its id).
    pub simulation_inline_orders: i64,
    /// `HAAT_PERIOD_CLOSE_CRON` (default `0 5 * * * *`: hourly at :05, in
    /// UTC): when workers look for an ended period to close. Seconds first.
    pub period_close_cron: cron::Schedule,
    /// `HAAT_CAMPAIGN_GRACE_SECONDS` (default 3600): how long after a
    /// campaign's window ends its settlement waits for in-flight payments,
    /// unless the campaign names its own `settle_at` or `grace_seconds`.
    pub campaign_grace_seconds: i32,
    /// `HAAT_POINTS_EXPIRY_CRON` (default `0 30 0 * * *`: daily at 00:30
    /// UTC): when workers serving `loyalty` run the points expiry.
    pub points_expiry_cron: cron::Schedule,
    /// `HAAT_PREPARATION_CHECK_CRON` (default `0 */5 * * * *`: every five
    /// minutes): when workers serving `preparation` look for seller lines
    /// not prepared in time.
    pub preparation_check_cron: cron::Schedule,
    /// How failed jobs run again: `HAAT_RETRY_FIRST_MS` (default 200) the
    /// delay before the second attempt, doubling (with jitter) after each
    /// failure; delays up to `HAAT_RETRY_IN_PROCESS_MS` (default 30000) are
    /// waited in the worker, longer ones are scheduled in the job table; none
    /// is longer than `HAAT_RETRY_LONGEST_MS` (default 3600000, one hour).
    pub retry: RetrySchedule,
    /// `HAAT_WORKER_HEARTBEAT_MS` (default 5000): how often a worker says it
    /// is alive. One silent for `HAAT_WORKER_MISSED_HEARTBEATS` (default 6)
    /// of them is presumed dead, and its running jobs go to other workers;
    /// the two multiplied must come to at least two seconds.
    pub worker_heartbeat: Duration,
    /// See `worker_heartbeat`.
    pub worker_missed_heartbeats: u32,
    /// `HAAT_PRUNE_CRON` (default `0 15 * * * *`: hourly at :15, UTC): when
    /// workers serving `maintenance` delete old finished jobs.
    pub prune_cron: cron::Schedule,
    /// `HAAT_JOB_RETENTION_HOURS` (default 168): finished jobs are kept this
    /// long (dead ones until an operator deals with them).
    pub job_retention_hours: u32,
}

/// Each provider's secrets and server address. Defaults work locally (and
/// point the gateways at their sandboxes); set real ones in production.
#[derive(Clone)]
pub struct ProviderSettings {
    /// `HAAT_SSLCOMMERZ_STORE_ID`.
    pub sslcommerz_store_id: String,
    /// `HAAT_SSLCOMMERZ_STORE_PASSWORD` (secret): signs IPNs and
    /// authenticates validation API calls.
    pub sslcommerz_store_password: String,
    /// `HAAT_SSLCOMMERZ_BASE_URL` (default the sandbox).
    pub sslcommerz_base_url: String,
    /// `HAAT_BKASH_BASE_URL` (default the tokenized sandbox).
    pub bkash_base_url: String,
    /// `HAAT_BKASH_APP_KEY`.
    pub bkash_app_key: String,
    /// `HAAT_BKASH_APP_SECRET` (secret).
    pub bkash_app_secret: String,
    /// `HAAT_BKASH_USERNAME`.
    pub bkash_username: String,
    /// `HAAT_BKASH_PASSWORD` (secret).
    pub bkash_password: String,
    /// `HAAT_STEADFAST_TOKEN` (secret): the bearer token set in their panel.
    pub steadfast_token: String,
    /// `HAAT_PATHAO_WEBHOOK_SECRET` (secret): what `X-PATHAO-Signature` carries.
    pub pathao_webhook_secret: String,
    /// `HAAT_PATHAO_INTEGRATION_SECRET`: what the handshake answer carries.
    pub pathao_integration_secret: String,
    /// `HAAT_REDX_TOKEN` (secret): the `?token=` of our RedX callback URL.
    pub redx_token: String,
    /// `HAAT_STEADFAST_BASE_URL` (default `https://portal.packzy.com/api/v1`).
    pub steadfast_base_url: String,
    /// `HAAT_STEADFAST_API_KEY`: the `Api-Key` Steadfast issued.
    pub steadfast_api_key: String,
    /// `HAAT_STEADFAST_SECRET_KEY` (secret): the `Secret-Key` Steadfast issued.
    pub steadfast_secret_key: String,
    /// `HAAT_PATHAO_BASE_URL` (default the sandbox, `https://courier-api-sandbox.pathao.com`).
    pub pathao_base_url: String,
    /// `HAAT_PATHAO_CLIENT_ID`.
    pub pathao_client_id: String,
    /// `HAAT_PATHAO_CLIENT_SECRET` (secret).
    pub pathao_client_secret: String,
    /// `HAAT_PATHAO_USERNAME`: the merchant login.
    pub pathao_username: String,
    /// `HAAT_PATHAO_PASSWORD` (secret).
    pub pathao_password: String,
    /// `HAAT_PATHAO_STORE_ID`: the merchant's pickup store at Pathao.
    pub pathao_store_id: String,
    /// `HAAT_REDX_BASE_URL` (default the sandbox, `https://sandbox.redx.com.bd/v1.0.0-beta`).
    pub redx_base_url: String,
    /// `HAAT_REDX_API_TOKEN` (secret): the `API-ACCESS-TOKEN` RedX issued.
    pub redx_api_token: String,
    /// `HAAT_PROVIDER_TIMEOUT_MS` (default 15000, 100 to 120000): the
    /// longest one call to a provider's server API may take; a slower one
    /// counts as unreachable (and is asked again, or retried by its job).
    pub timeout: Duration,
}

impl ProviderSettings {
    fn from_env() -> Result<Self> {
        // Secrets we choose (what a courier sends back to us) must be hard
        // to guess; credentials a gateway issued are what it issued (the
        // SSLCommerz sandbox store's password is six letters).
        let secret = |name: &str, default: &str| -> Result<String> {
            let v = var(name).unwrap_or_else(|| default.to_owned());
            if v.len() < 8 {
                bail!("{name} must be at least 8 characters");
            }
            Ok(v)
        };
        let issued = |name: &str, default: &str| -> Result<String> {
            let v = var(name).unwrap_or_else(|| default.to_owned());
            if v.is_empty() {
                bail!("{name} must not be empty (it is what the gateway issued)");
            }
            Ok(v)
        };
        let url = |name: &str, default: &str| -> Result<String> {
            let v = var(name).unwrap_or_else(|| default.to_owned());
            if !(v.starts_with("https://") || v.starts_with("http://")) {
                bail!("{name} must be an http(s) URL");
            }
            Ok(v.trim_end_matches('/').to_owned())
        };
        Ok(Self {
            sslcommerz_store_id: var("HAAT_SSLCOMMERZ_STORE_ID").unwrap_or_else(|| "haatlocal".into()),
            sslcommerz_store_password: issued("HAAT_SSLCOMMERZ_STORE_PASSWORD", "haat-dev-sslcommerz")?,
            sslcommerz_base_url: url("HAAT_SSLCOMMERZ_BASE_URL", "https://sandbox.sslcommerz.com")?,
            bkash_base_url: url("HAAT_BKASH_BASE_URL", "https://tokenized.sandbox.bka.sh/v1.2.0-beta")?,
            bkash_app_key: var("HAAT_BKASH_APP_KEY").unwrap_or_else(|| "haat-dev-app-key".into()),
            bkash_app_secret: issued("HAAT_BKASH_APP_SECRET", "haat-dev-app-secret")?,
            bkash_username: var("HAAT_BKASH_USERNAME").unwrap_or_else(|| "haat-dev".into()),
            bkash_password: issued("HAAT_BKASH_PASSWORD", "haat-dev-bkash")?,
            steadfast_token: secret("HAAT_STEADFAST_TOKEN", "haat-dev-steadfast-token")?,
            pathao_webhook_secret: secret("HAAT_PATHAO_WEBHOOK_SECRET", "haat-dev-pathao-secret")?,
            pathao_integration_secret: var("HAAT_PATHAO_INTEGRATION_SECRET")
                .unwrap_or_else(|| "haat-dev-pathao-integration".into()),
            redx_token: secret("HAAT_REDX_TOKEN", "haat-dev-redx-token")?,
            steadfast_base_url: url("HAAT_STEADFAST_BASE_URL", "https://portal.packzy.com/api/v1")?,
            steadfast_api_key: issued("HAAT_STEADFAST_API_KEY", "haat-dev-steadfast-key")?,
            steadfast_secret_key: issued("HAAT_STEADFAST_SECRET_KEY", "haat-dev-steadfast-secret")?,
            pathao_base_url: url("HAAT_PATHAO_BASE_URL", "https://courier-api-sandbox.pathao.com")?,
            pathao_client_id: issued("HAAT_PATHAO_CLIENT_ID", "haat-dev-pathao-client")?,
            pathao_client_secret: issued("HAAT_PATHAO_CLIENT_SECRET", "haat-dev-pathao-client-secret")?,
            pathao_username: issued("HAAT_PATHAO_USERNAME", "dev@haat.local")?,
            pathao_password: issued("HAAT_PATHAO_PASSWORD", "haat-dev-pathao-password")?,
            pathao_store_id: issued("HAAT_PATHAO_STORE_ID", "1")?,
            redx_base_url: url("HAAT_REDX_BASE_URL", "https://sandbox.redx.com.bd/v1.0.0-beta")?,
            redx_api_token: issued("HAAT_REDX_API_TOKEN", "haat-dev-redx-api-token")?,
            timeout: Duration::from_millis(whole(
                "HAAT_PROVIDER_TIMEOUT_MS",
                15_000u64,
                100..=120_000,
                "milliseconds",
            )?),
        })
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &self.database_url.as_ref().map(|_| "<set>"))
            .field("replica_url", &self.replica_url.as_ref().map(|_| "<set>"))
            .field("api_addr", &self.api_addr)
            .field("worker_http_addr", &self.worker_http_addr)
            .field("admin_token", &"<secret>")
            .field("webhook_secret", &"<secret>")
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "<set>"))
            .field("outbox_dir", &self.outbox_dir)
            .field("currency", &self.currency)
            .field("db_pool", &self.db_pool)
            .field("demo_seed_file", &self.demo_seed_file)
            .field("return_window_days", &self.return_window_days)
            .field("mask_downline_names", &self.mask_downline_names)
            .field("events_allow_loopback", &self.events_allow_loopback)
            .field("events_timeout", &self.events_timeout)
            .field("admin_email", &self.admin_email)
            .field("payment_window_seconds", &self.payment_window_seconds)
            .field("payment_session_seconds", &self.payment_session_seconds)
            .field("withdrawal_min", &self.withdrawal_min)
            .field("withdrawal_multiple", &self.withdrawal_multiple)
            .field("providers", &"<secrets>")
            .field("time_zone", &self.time_zone)
            .field("hold_calendar", &self.hold_calendar)
            .field("period_close_mode", &self.period_close_mode)
            .field("simulation_inline_orders", &self.simulation_inline_orders)
            .field("report_time_limit", &self.report_time_limit)
            .field("public_url", &self.public_url)
            .field("shop_url", &self.shop_url)
            .field("shop_name", &self.shop_name)
            .field("chromium", &self.chromium)
            .field("period_close_cron", &self.period_close_cron.to_string())
            .field("campaign_grace_seconds", &self.campaign_grace_seconds)
            .field("points_expiry_cron", &self.points_expiry_cron.to_string())
            .field("preparation_check_cron", &self.preparation_check_cron.to_string())
            .field("retry", &self.retry)
            .field("worker_heartbeat", &self.worker_heartbeat)
            .field("worker_missed_heartbeats", &self.worker_missed_heartbeats)
            .field("prune_cron", &self.prune_cron.to_string())
            .field("job_retention_hours", &self.job_retention_hours)
            .finish()
    }
}

/// The business-day calendar of sellers' holds, from its two settings.
fn hold_calendar(zone: chrono_tz::Tz) -> Result<haat_domain::marketplace::escrow::HoldCalendar> {
    use haat_domain::rules::business_days::{Calendar, parse_dates, parse_weekdays};
    let weekly = parse_weekdays(&var("HAAT_WEEKLY_HOLIDAYS").unwrap_or_else(|| "fri".into()))
        .map_err(|e| anyhow::anyhow!("HAAT_WEEKLY_HOLIDAYS: {e}"))?;
    if weekly.len() >= 7 {
        bail!("HAAT_WEEKLY_HOLIDAYS must leave at least one business day in the week");
    }
    let holidays = parse_dates(&var("HAAT_PUBLIC_HOLIDAYS").unwrap_or_default())
        .map_err(|e| anyhow::anyhow!("HAAT_PUBLIC_HOLIDAYS: {e}"))?;
    Ok(haat_domain::marketplace::escrow::HoldCalendar { days: Calendar { weekly, holidays }, zone })
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A cron schedule (six fields, with seconds) from `name`, else `default`.
fn schedule(name: &str, default: &str) -> Result<cron::Schedule> {
    let spec = var(name).unwrap_or_else(|| default.into());
    spec.parse().map_err(|e| anyhow::anyhow!("{name} must be a cron expression with seconds: {e}"))
}

/// A whole number of `unit` from `name` (else `default`) within `range`.
fn whole<T>(name: &str, default: T, range: std::ops::RangeInclusive<T>, unit: &str) -> Result<T>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let bad = || anyhow::anyhow!("{name} must be a whole number of {unit} from {} to {}", range.start(), range.end());
    let v = match var(name) {
        None => default,
        Some(raw) => raw.trim().parse().map_err(|_| bad())?,
    };
    if !range.contains(&v) {
        return Err(bad());
    }
    Ok(v)
}

/// The job retry schedule (`HAAT_RETRY_*`).
fn retry_schedule() -> Result<RetrySchedule> {
    let ms = |name, default| whole(name, default, 1u64..=7 * 86_400_000, "milliseconds").map(Duration::from_millis);
    let retry = RetrySchedule {
        first: ms("HAAT_RETRY_FIRST_MS", 200)?,
        in_process: ms("HAAT_RETRY_IN_PROCESS_MS", 30_000)?,
        longest: ms("HAAT_RETRY_LONGEST_MS", 3_600_000)?,
    };
    if retry.longest < retry.first {
        bail!("HAAT_RETRY_LONGEST_MS must not be below HAAT_RETRY_FIRST_MS");
    }
    Ok(retry)
}

impl Settings {
    /// Reads and validates the environment.
    pub fn from_env() -> Result<Self> {
        let api_addr = var("HAAT_API_ADDR")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .parse()
            .context("HAAT_API_ADDR must be host:port, e.g. 127.0.0.1:8080")?;
        let worker_http_addr = var("HAAT_WORKER_HTTP_ADDR")
            .unwrap_or_else(|| "127.0.0.1:0".into())
            .parse()
            .context("HAAT_WORKER_HTTP_ADDR must be host:port, e.g. 127.0.0.1:9100")?;
        let admin_token = var("HAAT_ADMIN_TOKEN").unwrap_or_else(|| DEFAULT_ADMIN_TOKEN.into());
        if admin_token.len() < 16 {
            bail!("HAAT_ADMIN_TOKEN must be at least 16 characters");
        }
        let secret = var("HAAT_WEBHOOK_SECRET").unwrap_or_else(|| DEFAULT_WEBHOOK_SECRET.into());
        let webhook_secret = WebhookSecret::parse(&secret).map_err(|e| anyhow::anyhow!("HAAT_WEBHOOK_SECRET {e}"))?;
        let currency = var("HAAT_CURRENCY").unwrap_or_else(|| "BDT".into());
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            bail!("HAAT_CURRENCY must be a three-letter ISO 4217 code such as BDT");
        }
        let db_pool = whole("HAAT_DB_POOL", 10u32, 1..=200, "connections")?;
        let return_window_days = whole("HAAT_RETURN_WINDOW_DAYS", 15u32, 0..=365, "days")?;
        let simulation_inline_orders = whole("HAAT_SIMULATION_INLINE_ORDERS", 20_000i64, 0..=1_000_000, "orders")?;
        let public_url =
            web_address("HAAT_PUBLIC_URL", var("HAAT_PUBLIC_URL").unwrap_or_else(|| format!("http://{api_addr}")))?;
        let shop_url = web_address("HAAT_SHOP_URL", var("HAAT_SHOP_URL").unwrap_or_else(|| public_url.clone()))?;
        let report_time_limit =
            std::time::Duration::from_secs(whole("HAAT_REPORT_TIME_LIMIT_SECONDS", 120u64, 1..=3_600, "seconds")?);
        let events_allow_loopback = match var("HAAT_EVENTS_ALLOW_LOOPBACK").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => bail!("HAAT_EVENTS_ALLOW_LOOPBACK must be true or false"),
        };
        let events_timeout =
            Duration::from_millis(whole("HAAT_EVENTS_TIMEOUT_MS", 10_000u64, 100..=60_000, "milliseconds")?);
        let mask_downline_names = match var("HAAT_MASK_DOWNLINE_NAMES").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => bail!("HAAT_MASK_DOWNLINE_NAMES must be true or false"),
        };
        let payment_window_seconds = whole("HAAT_PAYMENT_WINDOW_SECONDS", 3600u32, 1..=30 * 86_400, "seconds")?;
        let amount = |name: &str, default: &str| -> Result<Decimal> {
            let v = var(name).unwrap_or_else(|| default.to_owned());
            let d = parse_amount(&v, MONEY_SCALE).map_err(|e| anyhow::anyhow!("{name} {e}"))?;
            if d.is_zero() {
                bail!("{name} must be more than zero");
            }
            Ok(d)
        };
        let withdrawal_min = amount("HAAT_WITHDRAWAL_MIN", "500.00")?;
        let withdrawal_multiple = amount("HAAT_WITHDRAWAL_MULTIPLE", "100.00")?;
        let tz = var("HAAT_TIME_ZONE").unwrap_or_else(|| "UTC".into());
        let time_zone: chrono_tz::Tz =
            tz.parse().map_err(|_| anyhow::anyhow!("HAAT_TIME_ZONE must be an IANA time zone such as Asia/Dhaka"))?;
        let hold_calendar = hold_calendar(time_zone)?;
        let period_close_mode = match var("HAAT_PERIOD_CLOSE_MODE") {
            None => haat_domain::compensation::periods::CloseMode::Auto,
            Some(word) => haat_domain::compensation::periods::CloseMode::parse(&word)
                .ok_or_else(|| anyhow::anyhow!("HAAT_PERIOD_CLOSE_MODE must be auto or review"))?,
        };
        let period_close_cron = schedule("HAAT_PERIOD_CLOSE_CRON", "0 5 * * * *")?;
        let campaign_grace_seconds = whole("HAAT_CAMPAIGN_GRACE_SECONDS", 3600i32, 0..=30 * 86_400, "seconds")?;
        let points_expiry_cron = schedule("HAAT_POINTS_EXPIRY_CRON", "0 30 0 * * *")?;
        let preparation_check_cron = schedule("HAAT_PREPARATION_CHECK_CRON", "0 */5 * * * *")?;
        let retry = retry_schedule()?;
        let worker_heartbeat =
            Duration::from_millis(whole("HAAT_WORKER_HEARTBEAT_MS", 5000u64, 100..=600_000, "milliseconds")?);
        let worker_missed_heartbeats = whole("HAAT_WORKER_MISSED_HEARTBEATS", 6u32, 2..=100, "heartbeats")?;
        // apalis truncates the silence to whole seconds: under one second it
        // takes every running job for orphaned, its own worker's included.
        if worker_heartbeat.saturating_mul(worker_missed_heartbeats) < Duration::from_secs(2) {
            bail!("HAAT_WORKER_HEARTBEAT_MS × HAAT_WORKER_MISSED_HEARTBEATS must be at least 2000 milliseconds");
        }
        let prune_cron = schedule("HAAT_PRUNE_CRON", "0 15 * * * *")?;
        let job_retention_hours = whole("HAAT_JOB_RETENTION_HOURS", 168u32, 0..=24 * 366, "hours")?;
        Ok(Self {
            time_zone,
            hold_calendar,
            period_close_cron,
            period_close_mode,
            simulation_inline_orders,
            report_time_limit,
            public_url,
            shop_url,
            shop_name: text_setting("HAAT_SHOP_NAME", "haat shop", 200)?,
            shop_address: text_setting("HAAT_SHOP_ADDRESS", "Dhaka, Bangladesh", 500)?.replace("\\n", "\n"),
            chromium: chromium()?,
            campaign_grace_seconds,
            points_expiry_cron,
            preparation_check_cron,
            prune_cron,
            job_retention_hours,
            retry,
            worker_heartbeat,
            worker_missed_heartbeats,
            return_window_days,
            mask_downline_names,
            events_allow_loopback,
            events_timeout,
            payment_window_seconds,
            payment_session_seconds: whole("HAAT_PAYMENT_SESSION_SECONDS", 1800u32, 1..=86_400, "seconds")?,
            withdrawal_min,
            withdrawal_multiple,
            providers: ProviderSettings::from_env()?,
            database_url: var("DATABASE_URL"),
            replica_url: var("HAAT_REPLICA_URL"),
            api_addr,
            worker_http_addr,
            admin_token,
            webhook_secret,
            smtp_url: var("HAAT_SMTP_URL"),
            outbox_dir: var("HAAT_OUTBOX_DIR").map(PathBuf::from).unwrap_or_else(|| ".haat/outbox".into()),
            mail_from: var("HAAT_MAIL_FROM").unwrap_or_else(|| "haat <no-reply@haat.local>".into()),
            admin_email: admin_email()?,
            currency,
            db_pool,
            demo_seed_file: var("HAAT_DEMO_SEED_FILE").map(PathBuf::from),
        })
    }
}

/// `HAAT_ADMIN_EMAIL`: one address, `name@host`.
fn admin_email() -> Result<String> {
    let v = var("HAAT_ADMIN_EMAIL").unwrap_or_else(|| "admin@haat.local".into());
    let v = v.trim();
    let ok = v.len() <= 254
        && v.split_once('@')
            .is_some_and(|(local, host)| !local.is_empty() && host.contains('.') && !host.contains('@'))
        && !v.chars().any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',');
    if !ok {
        bail!("HAAT_ADMIN_EMAIL must be one email address such as admin@example.com");
    }
    Ok(v.to_owned())
}

/// A printed text from setting `name` (else `default`): at most `max`
/// characters.
fn text_setting(name: &str, default: &str, max: usize) -> Result<String> {
    let v = var(name).unwrap_or_else(|| default.to_owned());
    if v.chars().count() > max || v.contains('\0') {
        bail!("{name} must be at most {max} characters");
    }
    Ok(v.trim().to_owned())
}

/// `HAAT_CHROMIUM`, which must exist when set; else the first Chromium on `PATH`.
fn chromium() -> Result<Option<PathBuf>> {
    if let Some(path) = var("HAAT_CHROMIUM") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("HAAT_CHROMIUM must be the path of a Chromium executable");
        }
        return Ok(Some(path));
    }
    let dirs = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default();
    Ok(["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| dirs.iter().map(move |d| d.join(name)))
        .find(|p| p.is_file()))
}

/// An http(s) address from setting `name`, without its trailing `/`.
fn web_address(name: &str, value: String) -> Result<String> {
    let address = value.trim_end_matches('/').to_owned();
    if !(address.starts_with("http://") || address.starts_with("https://")) || address.contains(char::is_whitespace) {
        bail!("{name} must be an http:// or https:// address, e.g. https://shop.example.com");
    }
    Ok(address)
}
