//! An order's invoice and packing slip: print-ready HTML with the exact
//! figures in Taka as Bangladesh writes them, in English or Bengali, and
//! the invoice PDF printed by Chromium whose text (pdftotext) holds them.

use haat_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A buyer, and a cod order of 2 × 62,500.00 with a 500.00 coupon: a
/// total past a lakh, so the grouping shows.
async fn big_order(app: &TestApp) -> (Vec<Value>, Value) {
    app.create_plan(five_level_plan(7)).await;
    let hive = app.create_product("HIVE-1", "62500.00", "1000.00", 10).await;
    let chain = app.create_chain(2).await;
    let coupon = json!({"code": "BIG500", "kind": "fixed", "value": "500.00", "starts_at": "2026-01-01T00:00:00Z",
                        "ends_at": "2030-01-01T00:00:00Z", "max_uses": null, "min_subtotal": "1000.00"});
    assert_eq!(app.admin("POST", "/v1/admin/coupons", Some(&coupon)).await.0, StatusCode::CREATED);
    let mut body = order_body(&chain[1], &hive, 2, "cod");
    body["coupon_code"] = json!("BIG500");
    let (status, order) = app
        .call_with("POST", "/v1/orders", &app.admin_token, Some(body.to_string()), &[("idempotency-key", "big-1")])
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!(order["total"], "124500.00");
    (chain, order)
}

async fn get_text(app: &TestApp, path: &str) -> (StatusCode, String, String) {
    let res = app.http.get(format!("{}{path}", app.base)).bearer_auth(&app.admin_token).send().await.expect("answers");
    let status = res.status();
    let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (status, ct, res.text().await.unwrap_or_default())
}

/// The text of a PDF, as poppler's pdftotext reads it.
fn pdf_text(bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("haat-invoice-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("folder");
    let file = dir.join("invoice.pdf");
    std::fs::write(&file, bytes).expect("pdf written");
    let out =
        std::process::Command::new("pdftotext").arg("-layout").arg(&file).arg("-").output().expect("pdftotext runs");
    std::fs::remove_dir_all(&dir).ok();
    assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 text")
}

#[tokio::test]
async fn the_invoice_shows_the_orders_exact_figures_in_taka_in_english_and_bengali() {
    let app = TestApp::spawn().await;
    let (_, order) = big_order(&app).await;
    let id = order["id"].as_str().unwrap_or_default();
    let (status, ct, html) = get_text(&app, &format!("/v1/orders/{id}/invoice?lang=en")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(ct, "text/html; charset=utf-8");
    for shown in [
        "haat shop",
        "Dhaka, Bangladesh",
        order["invoice_no"].as_str().unwrap_or_default(),
        "HIVE-1 (HIVE-1)",
        "৳62,500.00",
        "৳1,25,000.00",
        "-৳500.00",
        "৳1,24,500.00",
        "Cash on delivery: collect ৳1,24,500.00",
        "House 1, Road 2",
        "+8801711000000",
    ] {
        assert!(html.contains(shown), "the invoice shows {shown:?}");
    }
    assert!(!html.contains("http://") && !html.contains("https://"), "the document loads nothing from anywhere");

    let (_, _, bengali) = get_text(&app, &format!("/v1/orders/{id}/invoice?lang=bn&size=a5")).await;
    for shown in ["ইনভয়েস", "৳১,২৪,৫০০.০০", "-৳৫০০.০০", "size: A5"] {
        assert!(bengali.contains(shown), "the Bengali invoice shows {shown:?}");
    }
    let (status, problem) = app.admin("GET", &format!("/v1/orders/{id}/invoice?size=letter"), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "size");
}

#[tokio::test]
async fn the_packing_slip_lists_what_is_in_the_parcel_without_a_price() {
    let app = TestApp::spawn().await;
    let (_, order) = big_order(&app).await;
    let id = order["id"].as_str().unwrap_or_default();
    let (status, _, slip) = get_text(&app, &format!("/v1/orders/{id}/packing-slip?lang=en")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(slip.contains("Packing slip") && slip.contains("HIVE-1 (HIVE-1)"), "{slip}");
    assert!(!slip.contains('৳'), "no price on a packing slip");
}

#[tokio::test]
async fn the_invoice_pdf_printed_by_chromium_holds_the_exact_totals() {
    let app = TestApp::spawn().await;
    let (_, order) = big_order(&app).await;
    let id = order["id"].as_str().unwrap_or_default();
    let res = app
        .http
        .get(format!("{}/v1/orders/{id}/invoice.pdf?lang=en", app.base))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let bytes = res.bytes().await.expect("pdf");
    assert!(bytes.starts_with(b"%PDF"));
    // Kept for a person to look at, beside the dashboard's screenshots.
    let kept = workspace_dir().join("target").join("screenshots");
    std::fs::create_dir_all(&kept).ok();
    std::fs::write(kept.join("invoice-en.pdf"), &bytes).ok();
    let text = pdf_text(&bytes);
    for shown in [order["invoice_no"].as_str().unwrap_or_default(), "Total", "1,24,500.00", "1,25,000.00", "-৳500.00"]
    {
        assert!(text.contains(shown), "the PDF's text holds {shown:?}:\n{text}");
    }
    let bengali = app
        .http
        .get(format!("{}/v1/orders/{id}/invoice.pdf?lang=bn", app.base))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("answers")
        .bytes()
        .await
        .expect("pdf");
    assert!(pdf_text(&bengali).contains("১,২৪,৫০০.০০"), "the Bengali PDF holds the total in Bengali digits");
}

#[tokio::test]
async fn a_member_reads_only_its_own_orders_invoice() {
    let app = TestApp::spawn().await;
    let (chain, order) = big_order(&app).await;
    let id = order["id"].as_str().unwrap_or_default();
    let key_of = |member: &Value| {
        let member = member.clone();
        let app = &app;
        async move {
            let body = json!({"role": "member", "member_id": member["id"]});
            let (status, key) = app.admin("POST", "/v1/admin/api-keys", Some(&body)).await;
            assert_eq!(status, StatusCode::CREATED, "{key}");
            key["token"].as_str().unwrap_or_default().to_owned()
        }
    };
    let (buyer, sponsor) = (key_of(&chain[1]).await, key_of(&chain[0]).await);
    let path = format!("/v1/orders/{id}/invoice");
    assert_eq!(app.call("GET", &path, &buyer, None).await.0, StatusCode::OK);
    assert_eq!(app.call("GET", &path, &sponsor, None).await.0, StatusCode::NOT_FOUND);
}
