//! Members and the tree.

use haat_tests::*;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

/// Inserts a chain of `depth` members (each the parent of the next) with
/// ids derived from `tag`, returning the deepest member's id.
async fn insert_chain(pool: &PgPool, tag: u16, depth: i32) -> uuid::Uuid {
    sqlx::query(
        "INSERT INTO members (id, name, email, referral_code, sponsor_id, parent_id)
         SELECT ('00000000-0000-' || lpad(to_hex($1), 4, '0') || '-0000-' || lpad(to_hex(i), 12, '0'))::uuid,
                'm' || i, 'm' || i || '-' || $1 || '@chain.test', 'C' || $1 || 'X' || i,
                prev, prev
           FROM (SELECT i, CASE WHEN i > 1 THEN ('00000000-0000-' || lpad(to_hex($1), 4, '0') || '-0000-'
                                                 || lpad(to_hex(i - 1), 12, '0'))::uuid END AS prev
                   FROM generate_series(1, $2) AS i) s",
    )
    .bind(i32::from(tag))
    .bind(depth)
    .execute(pool)
    .await
    .expect("insert chain");
    format!("00000000-0000-{tag:04x}-0000-{depth:012x}").parse().expect("uuid")
}

/// Index and sequential scans on `members` done by one upline query, read
/// from the transaction's own statistics.
async fn scans_of_upline(pool: &PgPool, member: uuid::Uuid, levels: i32) -> (i64, i64, usize) {
    let mut tx = pool.begin().await.expect("tx");
    let stats =
        "SELECT coalesce(idx_scan, 0), coalesce(seq_scan, 0) FROM pg_stat_xact_user_tables WHERE relname = 'members'";
    let before: (i64, i64) = sqlx::query_as(stats).fetch_one(&mut *tx).await.expect("stats");
    let upline = haat_domain::network::members::upline(&mut tx, member, levels).await.expect("upline");
    let after: (i64, i64) = sqlx::query_as(stats).fetch_one(&mut *tx).await.expect("stats");
    (after.0 - before.0, after.1 - before.1, upline.len())
}

#[tokio::test]
async fn the_upline_of_a_10000_deep_chain_costs_only_the_levels_asked_for() {
    let (_, pool) = fresh_database().await;
    let deep = insert_chain(&pool, 1, 10_000).await;
    let shallow = insert_chain(&pool, 2, 10).await;
    sqlx::query("ANALYZE members").execute(&pool).await.expect("analyze");

    let mut tx = pool.begin().await.expect("tx");
    let upline = haat_domain::network::members::upline(&mut tx, deep, 5).await.expect("upline");
    drop(tx);
    let levels: Vec<u32> = upline.iter().map(|u| u.level).collect();
    assert_eq!(levels, [1, 2, 3, 4, 5]);
    let expected: Vec<uuid::Uuid> =
        (1..=5u64).map(|l| format!("00000000-0000-0001-0000-{:012x}", 10_000 - l).parse().expect("uuid")).collect();
    assert_eq!(upline.iter().map(|u| u.member_id).collect::<Vec<_>>(), expected);

    let deep_cost = scans_of_upline(&pool, deep, 5).await;
    let shallow_cost = scans_of_upline(&pool, shallow, 5).await;
    assert_eq!(deep_cost, shallow_cost, "the same work whatever the depth");
    assert_eq!(deep_cost.1, 0, "no sequential scan of members");
    assert!(deep_cost.0 <= 6, "at most one index lookup per level plus the start: {deep_cost:?}");
    // Asking for more levels costs more, in proportion.
    let (scans_50, _, found_50) = scans_of_upline(&pool, deep, 50).await;
    assert_eq!(found_50, 50);
    assert!(scans_50 <= 51);
}

#[tokio::test]
async fn an_admin_cannot_place_a_member_under_its_own_downline() {
    let app = TestApp::spawn().await;
    let chain = app.create_chain(3).await;
    let (root, mid, leaf) = (&chain[0], &chain[1], &chain[2]);
    assert_eq!(mid["sponsor_id"], root["id"]);
    let place = |m: &serde_json::Value| format!("/v1/admin/members/{}/placement", m["id"].as_str().unwrap_or_default());

    let (status, problem) = app.admin("POST", &place(mid), Some(&json!({"parent_id": leaf["id"]}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "parent_id");
    let (status, _) = app.admin("POST", &place(mid), Some(&json!({"parent_id": mid["id"]}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, moved) = app.admin("POST", &place(leaf), Some(&json!({"parent_id": root["id"]}))).await;
    assert_eq!((status, &moved["parent_id"]), (StatusCode::OK, &root["id"]));
    assert_eq!(moved["sponsor_id"], mid["id"], "the sponsor never changes");
}

#[tokio::test]
async fn members_join_with_a_sponsor_code_and_bad_input_names_the_field() {
    let app = TestApp::spawn().await;
    let root = &app.create_chain(1).await[0];
    let (status, problem) = app
        .admin("POST", "/v1/members", Some(&json!({"name": "X", "email": "x@example.com", "sponsor_code": "NOPE99"})))
        .await;
    assert_eq!((status, &problem["errors"][0]["field"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("sponsor_code")));
    let (status, problem) =
        app.admin("POST", "/v1/members", Some(&json!({"name": "X", "email": "not-an-email"}))).await;
    assert_eq!((status, &problem["errors"][0]["field"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("email")));
    let body = json!({"name": "Y", "email": "y@example.com", "sponsor_code": root["referral_code"]});
    let (status, y) = app.admin("POST", "/v1/members", Some(&body)).await;
    assert_eq!((status, &y["parent_id"]), (StatusCode::CREATED, &root["id"]));
    let (status, _) = app.admin("POST", "/v1/members", Some(&json!({"name": "Z", "email": "Y@example.com"}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM members").fetch_one(&app.pool).await.expect("count");
    assert_eq!(count, 2);
}

#[tokio::test]
async fn a_stored_status_the_code_does_not_know_is_an_error_never_taken_for_active() {
    let app = TestApp::spawn().await;
    let chain = app.create_chain(1).await;
    let id = chain[0]["id"].as_str().expect("id").to_owned();
    let (status, member) = app.admin("GET", &format!("/v1/members/{id}"), None).await;
    assert_eq!((status, member["status"].as_str()), (StatusCode::OK, Some("active")));

    // The column's CHECK refuses the word; dropped first, as a careless
    // migration (or a newer version writing a new status) might.
    sqlx::query("ALTER TABLE members DROP CONSTRAINT members_status_check").execute(&app.pool).await.expect("drop");
    sqlx::query("UPDATE members SET status = 'frozen' WHERE id = $1::uuid")
        .bind(&id)
        .execute(&app.pool)
        .await
        .expect("an unknown word written behind the code's back");
    let reply = app.request("GET", &format!("/v1/members/{id}"), &app.admin_token, None, &[]).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.content_type, "application/problem+json");
    assert!(!reply.body.to_string().contains("frozen"), "a 5xx never leaks internals: {}", reply.body);
}
