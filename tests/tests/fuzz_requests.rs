//! Property test of the HTTP edge against the real api and worker: valid
//! requests with one field replaced by arbitrary values (strings of any
//! characters, NUL, huge and negative numbers, wrong types), arbitrary
//! query strings and arbitrary provider bodies. Never a 5xx, every error
//! problem+json, a refused request writes nothing, and no event the
//! worker takes in ends in a failed job. Bounded: a fixed number of cases.

use std::sync::Arc;

use haat_tests::providers::*;
use haat_tests::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

/// Cases per endpoint family.
const CASES: u32 = 96;

/// A replacement value: what a careless or hostile client might send.
fn wild() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<String>().prop_map(Value::String),
        "[\\PC\\x00-\\x1f]{0,40}".prop_map(Value::String),
        "[০-৯ক-হ]{150,260}".prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "-?[0-9]{1,32}(\\.[0-9]{0,8})?".prop_map(Value::String),
        Just(json!("1000000000000000000")),
        Just(Value::Null),
        Just(json!([])),
        Just(json!({"x": 1})),
        Just(json!(true)),
    ]
}

/// Every path to a leaf (or object member) of `v`.
fn paths(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                at.push(k.clone());
                out.push(at.clone());
                paths(item, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                at.push(i.to_string());
                paths(item, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

/// `v` with the member at `path` replaced (or, for `rename`, its key
/// misspelled).
fn mutate(mut v: Value, path: &[String], with: Value, rename: bool) -> Value {
    let Some((last, parents)) = path.split_last() else { return with };
    let mut cur = &mut v;
    for p in parents {
        cur = match cur {
            Value::Object(m) => m.get_mut(p).expect("path exists"),
            Value::Array(a) => &mut a[p.parse::<usize>().expect("index")],
            _ => return v,
        };
    }
    match cur {
        Value::Object(m) if rename => {
            let old = m.remove(last).unwrap_or(Value::Null);
            m.insert(format!("{last}x"), old);
        }
        Value::Object(m) => {
            m.insert(last.clone(), with);
        }
        Value::Array(a) => a[last.parse::<usize>().expect("index")] = with,
        _ => {}
    }
    v
}

/// Bodies that are `valid` with one member replaced or renamed.
fn near(valid: Value) -> impl Strategy<Value = Value> {
    let mut all = Vec::new();
    paths(&valid, &mut Vec::new(), &mut all);
    let n = all.len();
    (0..n, wild(), any::<bool>()).prop_map(move |(i, with, rename)| mutate(valid.clone(), &all[i], with, rename))
}

async fn counts(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for t in ["members", "products", "orders", "coupons", "campaigns", "plans", "pickup_points", "webhook_events"] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {t}")))
            .fetch_one(&app.pool)
            .await
            .expect("count");
        out.push(n);
    }
    out
}

/// Sends one request; asserts no 5xx, problem+json on every error, and no
/// row written when refused. Returns the status.
async fn probe(app: &TestApp, method: &str, path: &str, body: Option<String>, headers: &[(&str, &str)]) -> u16 {
    let before = counts(app).await;
    let reply = app.request(method, path, &app.admin_token, body.clone(), headers).await;
    let (status, text) = (reply.status, &reply.body);
    assert!(status.as_u16() < 500, "{method} {path} {body:?} answered {status}: {text}");
    if status.is_client_error() {
        assert_eq!(reply.content_type, "application/problem+json", "{method} {path} {body:?}: {text}");
        assert_eq!(counts(app).await, before, "{method} {path} {body:?} was refused ({text}) but wrote");
    }
    status.as_u16()
}

fn run<S: Strategy>(
    rt: &tokio::runtime::Handle,
    strategy: S,
    f: impl Fn(S::Value) -> futures::future::BoxFuture<'static, ()>,
) where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(Config { cases: CASES, failure_persistence: None, ..Config::default() });
    runner
        .run(&strategy, |v| {
            rt.block_on(f(v));
            Ok(())
        })
        .expect("every case holds");
}

#[test]
fn arbitrary_requests_never_answer_5xx_and_a_refused_one_writes_nothing() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let app = Arc::new(rt.block_on(TestApp::spawn()));
    let (tea, chain) = rt.block_on(async {
        app.create_plan(five_level_plan(7)).await;
        let tea = app.create_product("TEA-500", "450.00", "300.00", 1_000_000).await;
        (tea, app.create_chain(2).await)
    });
    let h = rt.handle().clone();

    let writes: Vec<(&str, Value)> = vec![
        (
            "/v1/members",
            json!({"name": "Rahim", "email": "rahim@example.com", "phone": "+8801711000000",
                                "sponsor_code": chain[0]["referral_code"]}),
        ),
        ("/v1/orders", {
            let mut o = order_body(&chain[1], &tea, 1, "cod");
            o["coupon_code"] = json!("EID10");
            o["shipping_address"]["line2"] = json!("Flat 3");
            o
        }),
        (
            "/v1/admin/products",
            json!({"sku": "X-1", "name": "Tea", "category": "grocery", "price": "10.00",
                                       "pv": "1.00", "bv": "1.00", "stock": 5, "commissionable": true}),
        ),
        (
            "/v1/admin/coupons",
            json!({"code": "EID10", "kind": "percent", "value": "0.10", "max_uses": 5,
                                      "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z"}),
        ),
        (
            "/v1/admin/campaigns",
            json!({"name": "Eid", "scope": {"kind": "all"}, "starts_at": "2026-12-01",
                                        "ends_at": "2026-12-31", "trigger": "reached", "min_units": 1,
                                        "rate": "0.10", "budget": "1000.00", "per_buyer_limit": 2}),
        ),
        (
            "/v1/admin/plans",
            json!({"name": "P", "effective_from": "2027-01-01T00:00:00Z", "credit_on": "delivered",
                                    "holding_days": 7, "levels": ["0.10", "0.05"], "draft": true}),
        ),
        ("/v1/admin/pickup-points", json!({"name": "Dhanmondi", "operator_id": chain[0]["id"]})),
    ];
    for (path, valid) in writes {
        let app = app.clone();
        run(&h, near(valid), move |body| {
            let app = app.clone();
            Box::pin(async move {
                let key = uuid::Uuid::new_v4().to_string();
                probe(&app, "POST", path, Some(body.to_string()), &[("idempotency-key", &key)]).await;
            })
        });
    }

    let member = chain[1]["id"].as_str().unwrap_or_default().to_owned();
    let queries = "(limit|cursor|depth|period|provider|outcome|status|queue|[a-z]{1,4})=([\\PC%&=]|%00|%ZZ){0,12}(&(limit|cursor|status|provider|[a-z]{1,4})=([\\PC%&=]|%00){0,12}){0,3}";
    {
        let app = app.clone();
        run(&h, queries, move |q| {
            let (app, member) = (app.clone(), member.clone());
            Box::pin(async move {
                let q: String = q.chars().filter(|c| !c.is_whitespace() && *c != '#').collect();
                for path in [
                    format!("/v1/members/{member}/commissions?{q}"),
                    format!("/v1/members/{member}/team?{q}"),
                    format!("/v1/admin/webhook-events?{q}"),
                    format!("/v1/admin/jobs?{q}"),
                    format!("/v1/products?{q}"),
                ] {
                    probe(&app, "GET", &path, None, &[]).await;
                }
            })
        });
    }

    // Path segments of any text (percent-encoded as a client would).
    {
        let app = app.clone();
        run(&h, "[\\PC\\x00-\\x1f]{1,16}", move |raw| {
            let app = app.clone();
            Box::pin(async move {
                let seg: String = serde_urlencoded::to_string([("s", raw.as_str())])
                    .unwrap_or_default()
                    .trim_start_matches("s=")
                    .replace('+', "%20");
                for (method, path) in [
                    ("GET", format!("/v1/admin/periods/{seg}")),
                    ("POST", format!("/v1/admin/periods/{seg}/close")),
                    ("POST", format!("/v1/admin/jobs/{seg}/retry")),
                    ("GET", format!("/v1/orders/{seg}")),
                    ("GET", format!("/v1/members/{seg}/team")),
                    ("POST", format!("/v1/admin/withdrawals/{seg}/{seg}")),
                    ("POST", format!("/v1/webhooks/{seg}/generic")),
                ] {
                    probe(&app, method, &path, None, &[]).await;
                }
            })
        });
    }

    // Providers: authenticated bodies of any shape, and unsigned hints.
    {
        let app = app.clone();
        let provider_body = prop_oneof![
            "[\\PC\\x00-\\x1f]{0,60}",
            near(json!({"type": "delivery.delivered", "data": {"invoice_no": "INV-000001", "tracking_id": "SF-1",
                                                               "collected_amount": "450.00"}}))
            .prop_map(|v| v.to_string()),
            near(json!({"notification_type": "delivery_status", "consignment_id": 1, "invoice": "INV-000001",
                        "status": "delivered", "updated_at": "2026-11-22 12:45:30"}))
            .prop_map(|v| v.to_string()),
        ];
        run(&h, (provider_body, "[\\PC\\x00]{0,24}"), move |(body, payment_id)| {
            let app = app.clone();
            Box::pin(async move {
                let before = app.events_of("generic").await + app.events_of("steadfast").await;
                let (generic, _) = app.send_event("couriers", &Value::String(body.clone())).await;
                let raw = app
                    .webhook_signed(
                        "couriers",
                        &format!("msg_{}", uuid::Uuid::new_v4()),
                        chrono::Utc::now().timestamp(),
                        &body,
                    )
                    .await;
                let (steadfast, _) = app.steadfast(body.clone(), STEADFAST_TOKEN).await;
                for s in [generic, raw, steadfast] {
                    assert!(s.as_u16() < 500, "{body:?} answered {s}");
                }
                let stored =
                    [raw, steadfast].iter().filter(|s| s.is_success()).count() as i64 + i64::from(generic.is_success());
                let after = app.events_of("generic").await + app.events_of("steadfast").await;
                assert!(after - before <= stored, "{body:?}: a refused event was stored");
                let hint = serde_urlencoded::to_string([("paymentID", payment_id.as_str()), ("status", "success")])
                    .unwrap_or_default();
                let url = format!("{}/v1/webhooks/payments/bkash?{hint}", app.base);
                let s = app.http.get(url).send().await.expect("callback").status();
                assert!(s.as_u16() < 500, "bKash hint {payment_id:?} answered {s}");
            })
        });
    }

    rt.block_on(async {
        quiescent(&app.pool).await;
        let failed: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT job_type, last_result::text FROM apalis.jobs WHERE status IN ('Failed', 'Killed') OR attempts > 1",
        )
        .fetch_all(&app.pool)
        .await
        .expect("jobs");
        assert_eq!(failed, Vec::<(String, Option<String>)>::new(), "no job failed on what was let in");
    });
}
