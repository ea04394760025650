//! API keys and roles.

use haat_tests::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_member_key_reads_its_own_wallet_but_not_another_members() {
    let app = TestApp::spawn().await;
    let chain = app.create_chain(2).await;
    let (a, b) = (&chain[0], &chain[1]);
    let (status, key) =
        app.admin("POST", "/v1/admin/api-keys", Some(&json!({"role": "member", "member_id": a["id"]}))).await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let token = key["token"].as_str().unwrap_or_default();
    let wallet = |m: &serde_json::Value| format!("/v1/members/{}/wallet", m["id"].as_str().unwrap_or_default());

    let (status, own) = app.call("GET", &wallet(a), token, None).await;
    assert_eq!((status, own["available"].as_str()), (StatusCode::OK, Some("0.00")));
    assert_eq!(app.call("GET", &wallet(b), token, None).await.0, StatusCode::NOT_FOUND);
    let other = format!("/v1/members/{}", b["id"].as_str().unwrap_or_default());
    assert_eq!(app.call("GET", &other, token, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.call("GET", &wallet(a), "not-a-key", None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.call("GET", "/v1/admin/plans", token, None).await.0, StatusCode::FORBIDDEN);

    let (_, storefront) = app.admin("POST", "/v1/admin/api-keys", Some(&json!({"role": "storefront"}))).await;
    let sf = storefront["token"].as_str().unwrap_or_default();
    assert_eq!(app.call("GET", &wallet(b), sf, None).await.0, StatusCode::OK);
    assert_eq!(app.call("GET", "/v1/admin/plans", sf, None).await.0, StatusCode::FORBIDDEN);

    let revoke = format!("/v1/admin/api-keys/{}", key["id"].as_str().unwrap_or_default());
    assert_eq!(app.admin("DELETE", &revoke, None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.call("GET", &wallet(a), token, None).await.0, StatusCode::UNAUTHORIZED);
}
