//! Parcels booked by haat with the couriers (their stand-in): once under
//! duplicate requests, the tracking number on the order, in its history
//! and in the buyer's email; a courier that is down retried with backoff
//! and its error shown; a refused parcel failed and bookable again.

use haat_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

/// `POST /v1/orders/{id}/shipments` with the storefront's (admin) key.
async fn book(app: &TestApp, order: &Value, body: &Value, key: &str) -> (StatusCode, Value) {
    let path = format!("/v1/orders/{}/shipments", id(order));
    app.call_with("POST", &path, &app.admin_token, Some(body.to_string()), &[("idempotency-key", key)]).await
}

async fn shipments_of(app: &TestApp, order: &Value) -> Vec<Value> {
    let (status, list) = app.admin("GET", &format!("/v1/orders/{}/shipments", id(order)), None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["items"].as_array().cloned().unwrap_or_default()
}

/// Waits for the order's latest shipment to leave `booking`.
async fn settled_shipment(app: &TestApp, order: &Value) -> Value {
    eventually("the courier answered", || async {
        shipments_of(app, order).await.pop().filter(|s| s["status"] != "booking")
    })
    .await
}

#[tokio::test]
async fn a_cod_order_is_booked_once_under_duplicate_requests_and_the_buyer_gets_its_tracking_number() {
    let app = TestApp::spawn().await;
    let (chain, order) = two_members_and_an_order(&app, "cod").await;
    let steadfast = json!({"courier": "steadfast", "note": "Call before delivery"});
    let answers = futures::future::join_all((0..5).map(|i| {
        let (app, order, body) = (&app, &order, &steadfast);
        async move { book(app, order, body, &format!("ship-{i}")).await }
    }))
    .await;
    for (status, shipment) in &answers {
        assert_eq!(*status, StatusCode::ACCEPTED, "{shipment}");
        assert_eq!(shipment["id"], answers[0].1["id"]);
    }
    let shipment = settled_shipment(&app, &order).await;
    assert_eq!(shipment["status"], "booked", "{shipment}");
    assert_eq!(shipment["tracking_number"], "SFT00001");
    assert_eq!(shipment["consignment_id"], "1424101");
    assert_eq!(shipment["cod_amount"], "450.00");
    let sent = app.standin.parcels("steadfast");
    assert_eq!(sent.len(), 1, "one parcel asked of the courier: {sent:?}");
    assert_eq!(sent[0]["invoice"], order["invoice_no"]);
    assert_eq!(sent[0]["cod_amount"], 450);
    assert_eq!(sent[0]["recipient_phone"], "01711000000");
    assert_eq!(sent[0]["recipient_address"], "House 1, Road 2, Dhaka-1207");
    assert_eq!(sent[0]["note"], "Call before delivery");

    let (_, read) = app.admin("GET", &format!("/v1/orders/{}", id(&order)), None).await;
    assert_eq!(read["status"], "shipped");
    let shipped = read["history"].as_array().and_then(|h| h.iter().find(|h| h["status"] == "shipped")).cloned();
    assert_eq!(shipped.map(|h| h["source"].clone()), Some(json!("courier:steadfast:SFT00001")));
    let email = chain[1]["email"].as_str().unwrap_or_default().to_owned();
    let mail = eventually("the buyer is told the tracking number", || async {
        app.smtp.messages().into_iter().find(|m| m.to.iter().any(|t| t.contains(&email)) && m.data.contains("shipped"))
    })
    .await;
    assert!(mail.read().1.contains("Steadfast tracking number: SFT00001"), "{}", mail.read().1);

    // Asking again (another key) answers the booked parcel; nothing is sent.
    let (status, again) = book(&app, &order, &steadfast, "ship-later").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(again["id"], shipment["id"]);
    let (status, problem) = book(&app, &order, &json!({"courier": "redx"}), "ship-redx").await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "courier");
    quiescent(&app.pool).await;
    assert_eq!(app.standin.parcels("steadfast").len(), 1);
    assert_eq!(shipments_of(&app, &order).await.len(), 1);

    // The buyer reads the tracking number on its order's page, and prints the invoice.
    let session = haat_tests::web::member_session(&app, &email).await;
    let buyer = chain[1]["id"].as_str().unwrap_or_default();
    let path = format!("/app/members/{buyer}/orders/{}", id(&order));
    let (status, page) = haat_tests::web::page(&app, &session, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Steadfast · Tracking number: <strong class=\"tracking\">SFT00001</strong>"), "{page}");
    let (status, invoice) = haat_tests::web::page(&app, &session, &format!("{path}/invoice")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(invoice.contains("Cash on delivery: collect ৳450.00"), "{invoice}");
    let sponsor = chain[0]["id"].as_str().unwrap_or_default();
    let (status, _) =
        haat_tests::web::page(&app, &session, &format!("/app/members/{sponsor}/orders/{}/invoice", id(&order))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_courier_that_is_down_is_retried_with_backoff_and_the_admin_sees_the_last_error() {
    let app = TestApp::spawn().await;
    let (_, order) = two_members_and_an_order(&app, "online").await;
    let (status, _) = app.send_event("payments", &paid_event(&order)).await;
    assert_eq!(status, StatusCode::OK);
    eventually("the order is paid", || async {
        (app.admin("GET", &format!("/v1/orders/{}", id(&order)), None).await.1["status"] == "paid").then_some(())
    })
    .await;
    app.standin.fail_next("pathao", 2);
    let (status, shipment) = book(&app, &order, &json!({"courier": "pathao"}), "p1").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{shipment}");
    let shipment = settled_shipment(&app, &order).await;
    assert_eq!(shipment["status"], "booked", "{shipment}");
    assert_eq!(shipment["attempts"], 2, "two tries failed before the third booked it");
    assert_eq!(shipment["last_error"], "could not be reached: Pathao orders: HTTP 503 Service Unavailable");
    assert_eq!(shipment["tracking_number"], "DL12120003PTH");
    let sent = app.standin.parcels("pathao");
    assert_eq!(sent.len(), 3);
    // A paid order has nothing to collect.
    assert_eq!(sent[2]["amount_to_collect"], 0);
    assert_eq!(sent[2]["merchant_order_id"], order["invoice_no"]);
    assert_eq!(app.standin.calls("pathao_token"), 1, "one OAuth token served every try");
}

#[tokio::test]
async fn a_refused_parcel_fails_and_the_order_can_be_booked_again_and_redx_finds_its_area() {
    let app = TestApp::spawn().await;
    let (_, order) = two_members_and_an_order(&app, "cod").await;
    app.standin.answer_next("redx", json!({"message": "Customer phone is not valid"}));
    book(&app, &order, &json!({"courier": "redx"}), "r1").await;
    let refused = settled_shipment(&app, &order).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    assert_eq!(refused["last_error"], "Customer phone is not valid");
    let (_, read) = app.admin("GET", &format!("/v1/orders/{}", id(&order)), None).await;
    assert_eq!(read["status"], "pending_payment", "a refused parcel ships nothing");

    let (status, again) = book(&app, &order, &json!({"courier": "redx"}), "r2").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_ne!(again["id"], refused["id"]);
    let booked = settled_shipment(&app, &order).await;
    assert_eq!(booked["status"], "booked", "{booked}");
    assert_eq!(booked["tracking_number"], "21A420002RDX");
    let sent = app.standin.parcels("redx");
    assert_eq!(sent[1]["delivery_area_id"], 3);
    assert_eq!(sent[1]["delivery_area"], "Mohammadpur(Dhaka)");
    assert_eq!(sent[1]["cash_collection_amount"], "450.00");
    assert_eq!(shipments_of(&app, &order).await.len(), 2);
}

#[tokio::test]
async fn an_unpaid_online_order_is_not_ready_to_ship_and_an_unknown_courier_is_named() {
    let app = TestApp::spawn().await;
    let (_, order) = two_members_and_an_order(&app, "online").await;
    let (status, problem) = book(&app, &order, &json!({"courier": "steadfast"}), "u1").await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "order");
    let (status, problem) = book(&app, &order, &json!({"courier": "dhl"}), "u2").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "courier");
    // The note's bound counts characters: 250 Bengali letters pass it (and
    // meet the unready order), 251 are refused naming the note.
    let note = |n: usize| json!({"courier": "steadfast", "note": "ক".repeat(n)});
    assert_eq!(book(&app, &order, &note(250), "u3").await.0, StatusCode::CONFLICT);
    let (status, problem) = book(&app, &order, &note(251), "u4").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "note");
    assert!(shipments_of(&app, &order).await.is_empty());
    assert!(app.standin.parcels("steadfast").is_empty());
}

#[tokio::test]
async fn a_morning_batch_books_every_ready_order_once_and_says_why_it_left_the_others() {
    let app = TestApp::spawn().await;
    let (chain, first) = two_members_and_an_order(&app, "cod").await;
    let soap = app.create_product("SOAP-1", "120.00", "60.00", 500).await;
    let mut ready = vec![first];
    for _ in 0..24 {
        ready.push(app.place_order(&chain[1], &soap, 1, "cod").await);
    }
    let unpaid = app.place_order(&chain[1], &soap, 1, "online").await;
    // One of them was booked by hand before the batch.
    book(&app, &ready[3], &json!({"courier": "steadfast"}), "by-hand").await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let mut ids: Vec<String> = ready.iter().map(id).collect();
    ids.extend([id(&unpaid), unknown.clone(), id(&ready[0])]);
    let path = "/v1/shipments/batches";
    let body = json!({"courier": "steadfast", "order_ids": ids});
    let (status, queued) = app.admin("POST", path, Some(&body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let job = format!("/v1/admin/jobs/{}", queued["job_id"].as_str().unwrap_or_default());
    let result = eventually("the batch job is done", || async {
        let (_, j) = app.admin("GET", &job, None).await;
        (j["status"] == "Done").then(|| j["result"].clone())
    })
    .await;
    let outcome = &result["outcome"];
    assert_eq!(outcome["orders"], 27, "the repeated id counts once: {result}");
    assert_eq!(outcome["requested"], 24);
    assert_eq!(outcome["already"], 1);
    let refused: Vec<(Value, Value)> = outcome["refused"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| (r["order_id"].clone(), r["why"].clone()))
        .collect();
    assert_eq!(
        refused,
        [
            (json!(id(&unpaid)), json!("the order is pending_payment: it is not ready to ship")),
            (json!(unknown), json!("no such order")),
        ]
    );
    for order in &ready {
        assert_eq!(settled_shipment(&app, order).await["status"], "booked");
    }
    let sent = app.standin.parcels("steadfast");
    let mut invoices: Vec<String> = sent.iter().map(|p| p["invoice"].as_str().unwrap_or_default().to_owned()).collect();
    invoices.sort();
    invoices.dedup();
    assert_eq!((sent.len(), invoices.len()), (25, 25), "each ready order's parcel sent once");
    assert_eq!(sent.iter().filter(|p| p["cod_amount"] == 120).count(), 24);
    let (status, problem) = app.admin("POST", path, Some(&json!({"courier": "steadfast", "order_ids": []}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "order_ids");
}
