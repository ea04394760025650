//! Withdrawals: the rules a request must meet, each admin step with its
//! posting, and the block while a clawback leaves the balance negative.

use haat_tests::*;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};

async fn request(app: &TestApp, member: &Value, amount: &str, key: &str) -> (StatusCode, Value) {
    let path = format!("/v1/members/{}/withdrawals", member["id"].as_str().unwrap_or_default());
    let body = json!({"amount": amount, "method": "bkash", "account": "01711000000"}).to_string();
    app.call_with("POST", &path, &app.admin_token, Some(body), &[("idempotency-key", key)]).await
}

async fn step(app: &TestApp, w: &Value, action: &str, body: Option<Value>) -> (StatusCode, Value) {
    let path = format!("/v1/admin/withdrawals/{}/{action}", w["id"].as_str().unwrap_or_default());
    app.admin("POST", &path, body.as_ref()).await
}

fn refused_on(problem: &Value, field: &str, says: &str) -> bool {
    problem["errors"][0]["field"] == field && problem["errors"][0]["message"].as_str().is_some_and(|m| m.contains(says))
}

#[tokio::test]
async fn a_withdrawal_is_requested_approved_and_paid_and_every_refusal_names_its_field() {
    let (app, chain, order) = released_kit_commission().await;
    let sponsor = &chain[0];

    let (s, p) = request(&app, sponsor, "400.00", "k-small").await;
    assert_eq!((s, refused_on(&p, "amount", "at least 500.00")), (StatusCode::UNPROCESSABLE_ENTITY, true), "{p}");
    let (s, p) = request(&app, sponsor, "550.00", "k-odd").await;
    assert_eq!((s, refused_on(&p, "amount", "multiple of 100.00")), (StatusCode::UNPROCESSABLE_ENTITY, true), "{p}");
    let (s, p) = request(&app, sponsor, "1300.00", "k-short").await;
    assert_eq!(
        (s, refused_on(&p, "amount", "more than the available 1200.00")),
        (StatusCode::UNPROCESSABLE_ENTITY, true)
    );
    let path = format!("/v1/members/{}/withdrawals", sponsor["id"].as_str().unwrap_or_default());
    let no_key =
        app.admin("POST", &path, Some(&json!({"amount": "500.00", "method": "bkash", "account": "0171"}))).await;
    assert_eq!(no_key.0, StatusCode::BAD_REQUEST);

    let (s, w) = request(&app, sponsor, "500.00", "k-1").await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    assert_eq!(w["status"], "requested");
    assert_eq!(request(&app, sponsor, "500.00", "k-1").await, (StatusCode::CREATED, w.clone()));
    assert_eq!(request(&app, sponsor, "600.00", "k-1").await.0, StatusCode::UNPROCESSABLE_ENTITY);
    // 500 requested of 1200: another 800 would be more than is left.
    assert_eq!(request(&app, sponsor, "800.00", "k-2").await.0, StatusCode::UNPROCESSABLE_ENTITY);

    let (s, approved) = step(&app, &w, "approve", None).await;
    assert_eq!((s, approved["status"].as_str()), (StatusCode::OK, Some("approved")), "{approved}");
    let wallet = app.wallet(sponsor).await;
    assert_eq!((wallet["available"].as_str(), wallet["reserved"].as_str()), (Some("700.00"), Some("500.00")));
    let (s, p) = step(&app, &w, "paid", None).await;
    assert_eq!((s, refused_on(&p, "reference", "reference")), (StatusCode::UNPROCESSABLE_ENTITY, true), "{p}");
    let (s, paid) = step(&app, &w, "paid", Some(json!({"reference": "BKASH-TRX-9X1"}))).await;
    assert_eq!(
        (s, paid["status"].as_str(), paid["reference"].as_str()),
        (StatusCode::OK, Some("paid"), Some("BKASH-TRX-9X1"))
    );
    assert_eq!(step(&app, &w, "reject", None).await.0, StatusCode::CONFLICT);
    let wallet = app.wallet(sponsor).await;
    assert_eq!((wallet["available"].as_str(), wallet["reserved"].as_str()), (Some("700.00"), Some("0.00")));
    let steps: Vec<&str> =
        paid["history"].as_array().expect("history").iter().filter_map(|h| h["status"].as_str()).collect();
    assert_eq!(steps, ["requested", "approved", "paid"]);

    // A payout that fails gives the reservation back.
    let (_, second) = request(&app, sponsor, "500.00", "k-3").await;
    let second = if second["status"] == "requested" { second } else { panic!("{second}") };
    step(&app, &second, "approve", None).await;
    assert_eq!(app.wallet(sponsor).await["available"], "200.00");
    let (s, failed) = step(&app, &second, "failed", Some(json!({"note": "wallet closed"}))).await;
    assert_eq!((s, failed["status"].as_str()), (StatusCode::OK, Some("failed")));
    assert_eq!(app.wallet(sponsor).await["available"], "700.00");
    let (_, listed) = app.admin("GET", &path, None).await;
    let steps_of = |i: usize| listed["items"][i]["history"].as_array().map(Vec::len);
    assert_eq!((listed["items"][0]["status"].as_str(), steps_of(0)), (Some("failed"), Some(3)), "{listed}");
    assert_eq!((listed["items"][1]["status"].as_str(), steps_of(1)), (Some("paid"), Some(3)), "{listed}");
    let to = sponsor["email"].as_str().unwrap_or_default().to_owned();
    eventually("an email for each of the six steps", || async {
        let mails = app.smtp.messages();
        let n = mails.iter().filter(|m| m.to.contains(&to) && m.data.contains("Subject: Your withdrawal")).count();
        (n == 6).then_some(())
    })
    .await;

    // A clawback of the released 1200.00 leaves -500.00: withdrawals wait.
    let id = order["id"].as_str().unwrap_or_default();
    let ret = json!({"lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 1}]});
    assert_eq!(app.admin("POST", &format!("/v1/orders/{id}/returns"), Some(&ret)).await.0, StatusCode::CREATED);
    wallet_reaches(&app, sponsor, "available", "-500.00").await;
    let (s, p) = request(&app, sponsor, "500.00", "k-4").await;
    assert_eq!((s, refused_on(&p, "amount", "negative")), (StatusCode::UNPROCESSABLE_ENTITY, true), "{p}");
    assert_eq!(ledger_totals(&app.pool).await, (Decimal::ZERO, 0));
}
