//! Marketplace sellers: recorded pending, approved, suspended; a product
//! names only an approved seller, and a suspended seller's products cannot
//! be ordered until it is approved again.

use haat_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn seller_body(name: &str) -> Value {
    json!({"name": name, "email": "sales@rangpur-crafts.example.com", "phone": "+8801711000009",
           "payout_method": "bank", "payout_account": "0123456789012", "preparation_days": 2})
}

fn product_body(sku: &str, seller: &Value) -> Value {
    json!({"sku": sku, "name": "Nakshi kantha", "category": "fashion", "price": "2400.00", "pv": "10.00",
           "bv": "1200.00", "stock": 20, "commissionable": true, "seller_id": seller})
}

#[tokio::test]
async fn a_seller_is_pending_until_approved_and_only_then_lists_products() {
    let app = TestApp::spawn().await;
    let (status, seller) = app.admin("POST", "/v1/admin/sellers", Some(&seller_body("Rangpur Crafts"))).await;
    assert_eq!(status, StatusCode::CREATED, "{seller}");
    assert_eq!((seller["status"].as_str(), seller["preparation_days"].as_i64()), (Some("pending"), Some(2)));
    let (status, problem) =
        app.admin("POST", "/v1/admin/products", Some(&product_body("KANTHA-1", &seller["id"]))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "seller_id");
    assert_eq!(problem["errors"][0]["message"], "the seller is pending: it cannot list products");
    let (status, problem) =
        app.admin("POST", "/v1/admin/products", Some(&product_body("KANTHA-1", &json!(uuid::Uuid::new_v4())))).await;
    assert_eq!(
        (status, &problem["errors"][0]["message"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("no such seller"))
    );

    let id = seller["id"].as_str().unwrap_or_default();
    let (status, approved) = app.admin("POST", &format!("/v1/admin/sellers/{id}/approve"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(approved["status"], "approved");
    assert!(approved["approved_at"].is_string());
    let (status, product) =
        app.admin("POST", "/v1/admin/products", Some(&product_body("KANTHA-1", &seller["id"]))).await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    assert_eq!(product["seller_id"], seller["id"]);

    let (_, listed) = app.admin("GET", "/v1/admin/sellers?status=approved", None).await;
    assert_eq!(
        listed["items"].as_array().map(|i| i.iter().map(|s| s["id"].clone()).collect::<Vec<_>>()),
        Some(vec![seller["id"].clone()])
    );
    let (_, pending) = app.admin("GET", "/v1/admin/sellers?status=pending", None).await;
    assert_eq!(pending["items"], json!([]));
    let (status, problem) = app.admin("GET", "/v1/admin/sellers?status=closed", None).await;
    assert_eq!((status, &problem["errors"][0]["field"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("status")));
}

#[tokio::test]
async fn a_suspended_sellers_products_cannot_be_ordered_until_it_is_approved_again() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let seller = approved_seller(&app, "Sylhet Tea Estates").await;
    let (_, tea) = app.admin("POST", "/v1/admin/products", Some(&product_body("ESTATE-TEA", &json!(seller)))).await;
    let buyer = &app.create_chain(1).await[0];
    let first = app.place_order(buyer, &tea, 1, "cod").await;
    assert_eq!(first["total"], "2400.00");

    let (status, suspended) = app.admin("POST", &format!("/v1/admin/sellers/{seller}/suspend"), None).await;
    assert_eq!((status, suspended["status"].as_str()), (StatusCode::OK, Some("suspended")));
    let body = order_body(buyer, &tea, 1, "cod");
    let (status, problem) = app
        .call_with("POST", "/v1/orders", &app.admin_token, Some(body.to_string()), &[("idempotency-key", "during")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "lines[0].product_id");
    assert_eq!(problem["errors"][0]["message"], "its seller is suspended: not for sale");
    let (_, product) =
        app.admin("GET", &format!("/v1/products/{}", tea["id"].as_str().unwrap_or_default()), None).await;
    assert_eq!(product["stock"], 19, "the refused order took no stock");

    app.admin("POST", &format!("/v1/admin/sellers/{seller}/approve"), None).await;
    let (status, _) = app
        .call_with("POST", "/v1/orders", &app.admin_token, Some(body.to_string()), &[("idempotency-key", "after")])
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_seller_needs_a_name_an_email_a_payout_account_and_at_most_five_days_to_prepare() {
    let app = TestApp::spawn().await;
    for (field, value) in [
        ("name", json!(" ")),
        ("email", json!("not-an-address")),
        ("payout_account", json!("")),
        ("preparation_days", json!(6)),
        ("payout_method", json!("cheque")),
    ] {
        let mut body = seller_body("ঢাকা লেদার");
        body[field] = value;
        let (status, problem) = app.admin("POST", "/v1/admin/sellers", Some(&body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field);
    }
    // Bounds count characters: 201 Bengali letters are too long a name.
    let mut long = seller_body("ক");
    long["name"] = json!("ক".repeat(201));
    let (status, problem) = app.admin("POST", "/v1/admin/sellers", Some(&long)).await;
    assert_eq!((status, &problem["errors"][0]["field"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("name")));
    let (_, listed) = app.admin("GET", "/v1/admin/sellers", None).await;
    assert_eq!(listed["items"], json!([]), "nothing was written");
    long["name"] = json!("ক".repeat(200));
    let (status, made) = app.admin("POST", "/v1/admin/sellers", Some(&long)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["name"].as_str().map(|n| n.chars().count()), Some(200));
    let storefront = app.admin("POST", "/v1/admin/api-keys", Some(&json!({"role": "storefront"}))).await.1;
    let token = storefront["token"].as_str().unwrap_or_default();
    assert_eq!(app.call("POST", "/v1/admin/sellers", token, Some(&seller_body("X"))).await.0, StatusCode::FORBIDDEN);
}
