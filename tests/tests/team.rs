//! A member's downline as members: the team paged by level then id (each
//! member once), the tree a few levels deep for a lazy view, names beyond
//! the first level masked for member keys where the deployment asks, and
//! nothing of another member's downline visible to a member key.

use std::collections::BTreeSet;

use haat_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn member(app: &TestApp, name: &str, sponsor: &Value) -> Value {
    let body = json!({"name": name, "email": format!("{}-{}@example.com", name.to_lowercase(), uuid::Uuid::new_v4().simple()),
                      "sponsor_code": sponsor["referral_code"]});
    let (status, m) = app.admin("POST", "/v1/members", Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    m
}

/// A root with three members under it and two under each of those.
async fn family(app: &TestApp) -> (Value, Vec<Value>, Vec<Value>) {
    let root = app.create_chain(1).await.remove(0);
    let mut first = Vec::new();
    let mut second = Vec::new();
    for i in 0..3 {
        let child = member(app, &format!("Karim{i}"), &root).await;
        for j in 0..2 {
            second.push(member(app, &format!("Rahima{i}{j}"), &child).await);
        }
        first.push(child);
    }
    (root, first, second)
}

fn id(m: &Value) -> String {
    m["id"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn the_team_pages_every_downline_member_once_by_level_with_its_volume() {
    let app = TestApp::spawn().await;
    app.create_plan(five_level_plan(7)).await;
    let kit = app.create_product("KIT-1", "1000.00", "100.00", 10).await;
    let (root, first, second) = family(&app).await;
    let order = app.place_order(&second[0], &kit, 2, "cod").await;
    app.send_event("couriers", &delivered_event(&order)).await;
    quiescent(&app.pool).await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let after = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let (status, page) =
            app.admin("GET", &format!("/v1/members/{}/team?depth=2&limit=4{after}", id(&root)), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(
            page["levels"],
            json!([{"level": 1, "members": 3, "pv": "0.00", "bv": "0.00"},
                                          {"level": 2, "members": 6, "pv": "40.00", "bv": "200.00"}])
        );
        seen.extend(page["items"].as_array().expect("items").iter().cloned());
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!((pages, seen.len()), (3, 9));
    let levels: Vec<i64> = seen.iter().filter_map(|m| m["level"].as_i64()).collect();
    assert_eq!(levels, [1, 1, 1, 2, 2, 2, 2, 2, 2]);
    let ids: BTreeSet<String> = seen.iter().map(|m| m["member_id"].as_str().unwrap_or_default().to_owned()).collect();
    let expected: BTreeSet<String> = first.iter().chain(&second).map(id).collect();
    assert_eq!(ids, expected);
    let buyer = seen.iter().find(|m| m["member_id"] == second[0]["id"]).expect("the buyer");
    assert_eq!(
        (&buyer["personal_pv"], &buyer["personal_bv"], &buyer["status"], &buyer["direct_members"], &buyer["group_pv"]),
        (&json!("40.00"), &json!("200.00"), &json!("active"), &json!(0), &Value::Null)
    );
    assert!(seen.iter().filter(|m| m["level"] == 1).all(|m| m["direct_members"] == 2));
    let (status, problem) = app.admin("GET", &format!("/v1/members/{}/team?cursor=oops", id(&root)), None).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("cursor")));
}

#[tokio::test]
async fn the_tree_nests_a_few_levels_and_masks_names_beyond_the_first_for_a_member() {
    let (database_url, pool) = fresh_database().await;
    let app = TestApp::spawn_on(database_url, pool, &[("HAAT_MASK_DOWNLINE_NAMES", "true")]).await;
    let (root, first, second) = family(&app).await;
    let key_of = |m: &Value| json!({"role": "member", "member_id": m["id"]});
    let (_, key) = app.admin("POST", "/v1/admin/api-keys", Some(&key_of(&root))).await;
    let token = key["token"].as_str().unwrap_or_default().to_owned();

    let (status, tree) = app.call("GET", &format!("/v1/members/{}/tree?depth=2", id(&root)), &token, None).await;
    assert_eq!(status, StatusCode::OK, "{tree}");
    let children = tree["children"].as_array().expect("children");
    let mut under: Vec<(String, Vec<String>)> = children
        .iter()
        .map(|c| {
            let names = c["children"]
                .as_array()
                .expect("grandchildren")
                .iter()
                .map(|g| g["name"].as_str().unwrap_or("?").to_owned());
            (c["name"].as_str().unwrap_or("?").to_owned(), names.collect())
        })
        .collect();
    under.sort();
    assert_eq!(
        under,
        [
            ("Karim0".into(), vec!["R***0".into(), "R***1".into()]),
            ("Karim1".into(), vec!["R***0".into(), "R***1".into()]),
            ("Karim2".into(), vec!["R***0".into(), "R***1".into()]),
        ]
        .into_iter()
        .map(|(n, mut g): (String, Vec<String>)| {
            g.sort();
            (n, g)
        })
        .collect::<Vec<_>>()
    );
    // The admin sees every name whole.
    let (_, whole) = app.admin("GET", &format!("/v1/members/{}/tree?depth=2", id(&root)), None).await;
    let mut names: Vec<String> = whole["children"]
        .as_array()
        .expect("children")
        .iter()
        .flat_map(|c| c["children"].as_array().cloned().unwrap_or_default())
        .map(|g| g["name"].as_str().unwrap_or("?").to_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = second.iter().map(|m| m["name"].as_str().unwrap_or("?").to_owned()).collect();
    expected.sort();
    assert_eq!(names, expected);

    // One level: the children, each saying how many it has to expand.
    let (_, shallow) = app.call("GET", &format!("/v1/members/{}/tree?depth=1", id(&root)), &token, None).await;
    let shallow = shallow["children"].as_array().expect("children");
    assert_eq!(shallow.len(), 3);
    assert!(shallow.iter().all(|c| c["children"] == json!([]) && c["direct_members"] == 2), "{shallow:?}");
    let (status, problem) = app.call("GET", &format!("/v1/members/{}/tree?depth=4", id(&root)), &token, None).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("depth")));

    // A member key sees its own downline only.
    let (_, child_key) = app.admin("POST", "/v1/admin/api-keys", Some(&key_of(&first[0]))).await;
    let child_token = child_key["token"].as_str().unwrap_or_default().to_owned();
    for path in [
        format!("/v1/members/{}/tree", id(&root)),
        format!("/v1/members/{}/team", id(&root)),
        format!("/v1/members/{}/tree", id(&first[1])),
    ] {
        assert_eq!(app.call("GET", &path, &child_token, None).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, own) = app.call("GET", &format!("/v1/members/{}/team", id(&first[0])), &child_token, None).await;
    assert_eq!((status, own["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(2)));
}
