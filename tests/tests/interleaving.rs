//! Out-of-order and duplicated provider events: for many orders, a random
//! interleaving of each order's events with duplicates (resent under the
//! same webhook id and under new ones) ends in exactly the ledger the same
//! events produce in their natural order, and the ledger invariants hold.

use haat_tests::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// The kinds of order life the test draws from, each as its natural
/// sequence of provider events.
const SCENARIOS: [&str; 8] = [
    "online_delivered",
    "online_returned",
    "online_partly_refunded",
    "cod_delivered",
    "cod_returned",
    "online_failed_then_refunded",
    "cod_partially_delivered_then_returned",
    "online_refunded_before_shipping",
];

fn event(kind: &str, order: &Value, extra: Value) -> Value {
    let mut data = json!({"invoice_no": order["invoice_no"]});
    if let (Some(d), Some(e)) = (data.as_object_mut(), extra.as_object()) {
        d.extend(e.clone());
    }
    json!({"type": kind, "data": data})
}

fn natural_events(scenario: &str, order: &Value) -> Vec<(&'static str, Value)> {
    let paid = ("payments", paid_event(order));
    let shipped = ("couriers", event("delivery.shipped", order, json!({})));
    let delivered = ("couriers", delivered_event(order));
    let returned = ("couriers", event("delivery.returned", order, json!({})));
    let refunded = ("payments", event("payment.refunded", order, json!({})));
    match scenario {
        "online_delivered" | "cod_delivered" if scenario.starts_with("cod") => vec![shipped, delivered],
        "online_delivered" => vec![paid, shipped, delivered],
        "online_returned" => vec![paid, shipped, delivered, returned],
        "online_partly_refunded" => {
            let lines =
                json!({"refund_id": "RF-1", "lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 1}]});
            vec![paid, delivered, ("payments", event("payment.refunded", order, lines))]
        }
        "cod_returned" => vec![shipped, delivered, returned],
        "online_failed_then_refunded" => {
            let failed = ("payments", event("payment.failed", order, json!({})));
            vec![failed, paid, shipped, delivered, refunded]
        }
        "cod_partially_delivered_then_returned" => {
            vec![shipped, ("couriers", event("delivery.partially_delivered", order, json!({}))), returned]
        }
        _ => vec![paid, refunded],
    }
}

struct Copy {
    chain: Vec<Value>,
    order: Value,
}

async fn setup(app: &TestApp, scenario: &str, products: &[Value]) -> Copy {
    let chain = app.create_chain(3).await;
    let method = if scenario.starts_with("cod") { "cod" } else { "online" };
    let mut body = order_body(&chain[2], &products[0], 2, method);
    body["lines"] =
        json!([{"product_id": products[0]["id"], "quantity": 2}, {"product_id": products[1]["id"], "quantity": 1}]);
    let key = uuid::Uuid::new_v4().to_string();
    let (status, order) = app
        .call_with("POST", "/v1/orders", &app.admin_token, Some(body.to_string()), &[("idempotency-key", &key)])
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    Copy { chain, order }
}

/// Sends each event and lets it take full effect before the next.
async fn apply_in_natural_order(app: &TestApp, events: &[(&str, Value)]) {
    for (channel, body) in events {
        assert_eq!(app.send_event(channel, body).await.0, StatusCode::OK);
        quiescent(&app.pool).await;
    }
}

/// Sends the events shuffled, with duplicates under the same and new ids,
/// one right after another (the worker processes them concurrently).
async fn apply_shuffled(app: &TestApp, events: &[(&str, Value)], rng: &mut StdRng) {
    let mut sends: Vec<(&str, String, String)> = Vec::new();
    for (channel, body) in events {
        let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        sends.push((channel, id.clone(), body.to_string()));
        for _ in 0..rng.random_range(0..3) {
            let dup_id =
                if rng.random_bool(0.5) { id.clone() } else { format!("msg_{}", uuid::Uuid::new_v4().simple()) };
            sends.push((channel, dup_id, body.to_string()));
        }
    }
    sends.shuffle(rng);
    for (channel, id, body) in sends {
        let status = app.webhook_signed(channel, &id, chrono::Utc::now().timestamp(), &body).await;
        assert_eq!(status, StatusCode::OK);
    }
    quiescent(&app.pool).await;
}

/// Everything the order's events did, with members named by their place
/// in the chain (or `root` above it).
async fn effects(app: &TestApp, copy: &Copy) -> Value {
    let order_id: uuid::Uuid = copy.order["id"].as_str().and_then(|s| s.parse().ok()).expect("order id");
    let place = |id: uuid::Uuid| {
        copy.chain
            .iter()
            .position(|m| m["id"].as_str() == Some(&id.to_string()))
            .map_or("root".to_owned(), |p| p.to_string())
    };
    let postings: Vec<(uuid::Uuid, String, String, Decimal)> = sqlx::query_as(
        "SELECT c.beneficiary_id, a.kind, e.kind, sum(p.amount)
           FROM commissions c
           JOIN journal_entries e ON e.reference = c.id::text
           JOIN postings p ON p.entry_id = e.id
           JOIN accounts a ON a.id = p.account_id AND a.member_id IS NOT NULL
          WHERE c.order_id = $1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    )
    .bind(order_id)
    .fetch_all(&app.pool)
    .await
    .expect("postings");
    let commissions: Vec<(uuid::Uuid, i32, Decimal, Decimal, String)> = sqlx::query_as(
        "SELECT beneficiary_id, physical_level, amount, reversed_amount, status FROM commissions
          WHERE order_id = $1 ORDER BY physical_level, amount",
    )
    .bind(order_id)
    .fetch_all(&app.pool)
    .await
    .expect("commissions");
    let volume: Vec<(String, Decimal, Decimal)> = sqlx::query_as(
        "SELECT kind, sum(pv), sum(bv) FROM volume_entries WHERE order_id = $1 GROUP BY kind ORDER BY kind",
    )
    .bind(order_id)
    .fetch_all(&app.pool)
    .await
    .expect("volume");
    let id = copy.order["id"].as_str().unwrap_or_default();
    let status = app.admin("GET", &format!("/v1/orders/{id}"), None).await.1["status"].clone();
    let mut wallets = Vec::new();
    for member in &copy.chain {
        wallets.push(app.wallet(member).await);
    }
    json!({
        "status": status,
        "postings": postings.iter().map(|(m, a, k, s)| json!([place(*m), a, k, s.to_string()])).collect::<Vec<_>>(),
        "commissions": commissions.iter().map(|(m, l, a, r, s)| json!([place(*m), l, a.to_string(), r.to_string(), s])).collect::<Vec<_>>(),
        "volume": volume.iter().map(|(k, p, b)| json!([k, p.to_string(), b.to_string()])).collect::<Vec<_>>(),
        "wallets": wallets,
    })
}

#[tokio::test]
async fn shuffled_and_duplicated_events_end_in_the_same_ledger_as_their_natural_order() {
    let seed: u64 = std::env::var("HAAT_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    println!("HAAT_TEST_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    // The company root: every chain hangs under it, so both copies of a
    // scenario sit at the same depth.
    app.create_chain(1).await;
    let products = [
        app.create_product("TEA-500", "450.00", "300.00", 1000).await,
        app.create_product("HONEY-1", "800.00", "200.00", 1000).await,
    ];
    for round in 0..2 {
        for scenario in SCENARIOS {
            let natural = setup(&app, scenario, &products).await;
            let shuffled = setup(&app, scenario, &products).await;
            apply_in_natural_order(&app, &natural_events(scenario, &natural.order)).await;
            apply_shuffled(&app, &natural_events(scenario, &shuffled.order), &mut rng).await;
            let (expected, got) = (effects(&app, &natural).await, effects(&app, &shuffled).await);
            assert_eq!(got, expected, "{scenario} (round {round}, seed {seed})");
        }
    }
    assert_eq!(ledger_totals(&app.pool).await, (Decimal::ZERO, 0), "seed {seed}");
    let (status, audit) = app.admin("GET", "/v1/admin/audit", None).await;
    assert_eq!((status, audit["ok"].as_bool()), (StatusCode::OK, Some(true)), "{audit}");
}
