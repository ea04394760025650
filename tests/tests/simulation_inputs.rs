//! Plan simulation reads a page of orders' cascade inputs in sets; each
//! order must get exactly what the real cascade reads for it alone.

use chrono::{Duration, TimeZone, Utc};
use haat_domain::catalog::products::{self, ProductInput};
use haat_domain::compensation::cascade_inputs::{self, OrderHead};
use haat_domain::compensation::plans::{self, PlanInput};
use haat_domain::network::members::Placements;
use haat_domain::seed::{self, SeedMember, SeedPurchase};
use haat_tests::*;
use uuid::Uuid;

#[tokio::test]
async fn a_page_of_orders_read_in_sets_gives_each_order_the_inputs_it_reads_alone() {
    let (_url, pool) = fresh_database().await;
    let mut tx = pool.begin().await.expect("begin");
    // A chain of 14 under a root, and two members hanging off its middle:
    // uplines shorter and longer than the plan's 10 levels, shared tops.
    let root = Uuid::now_v7();
    let mut rows = vec![SeedMember { id: root, parent_id: None }];
    for i in 0..14 {
        let parent = rows[i].id;
        rows.push(SeedMember { id: Uuid::now_v7(), parent_id: Some(parent) });
    }
    let side = [Uuid::now_v7(), Uuid::now_v7()];
    rows.push(SeedMember { id: side[0], parent_id: Some(rows[7].id) });
    rows.push(SeedMember { id: side[1], parent_id: Some(side[0]) });
    seed::members(&mut tx, &rows, "BDT").await.expect("members");
    sqlx::query("UPDATE members SET status = 'suspended' WHERE id = $1")
        .bind(rows[9].id)
        .execute(&mut *tx)
        .await
        .expect("suspend one");
    let product = products::create(
        &mut tx,
        &ProductInput::for_sale(("TEA-1", "Tea", "grocery", "450.00", "20.00", "300.00"), 1_000_000),
    )
    .await
    .expect("product");
    let plan = plans::create(
        &mut tx,
        &PlanInput {
            name: "Ten".into(),
            effective_from: Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).single().expect("date"),
            levels: ["0.10", "0.05", "0.04", "0.03", "0.03", "0.02", "0.02", "0.01", "0.01", "0.01"]
                .map(String::from)
                .to_vec(),
            active_window_days: Some(30),
            ..Default::default()
        },
    )
    .await
    .expect("plan");
    // Purchases 20 days apart over 80 days: a 30-day window takes some of a
    // member's earlier volume and leaves the rest out; quantities differ.
    let start = Utc::now() - Duration::days(100);
    let purchases: Vec<SeedPurchase> = rows
        .iter()
        .enumerate()
        .flat_map(|(i, m)| {
            (0..(i % 3) + 1).map(move |k| SeedPurchase {
                buyer_id: m.id,
                quantity: i32::try_from(k + 1).expect("small"),
                credited_at: start + Duration::days(i64::try_from((i + k * 7) % 5).expect("small") * 20),
            })
        })
        .collect();
    seed::credited_orders(&mut tx, product.id, plan.id, &purchases, chrono_tz::UTC, "BDT", true).await.expect("orders");
    let heads: Vec<OrderHead> = sqlx::query_as::<_, (Uuid, String, Option<Uuid>, chrono::DateTime<Utc>)>(
        "SELECT id, invoice_no, buyer_id, commissionable_at FROM orders ORDER BY commissionable_at, id",
    )
    .fetch_all(&mut *tx)
    .await
    .expect("orders")
    .into_iter()
    .map(|(order_id, invoice_no, buyer_id, credited_at)| OrderHead {
        order_id,
        invoice_no,
        buyer_id,
        referrer_id: None,
        pickup_point_id: None,
        credited_at,
    })
    .collect();
    assert_eq!(heads.len(), purchases.len());
    let plan = plans::get(&mut tx, plan.id).await.expect("plan back");

    // Two pages, the deep members' orders first: the second page starts
    // from members the first read only as the top of someone's upline.
    let (deep, shallow): (Vec<OrderHead>, Vec<OrderHead>) = heads.iter().cloned().partition(|h| {
        let at = rows.iter().position(|m| Some(m.id) == h.buyer_id).expect("a buyer");
        at >= 11
    });
    let mut tree = Placements::default();
    let mut read = cascade_inputs::load_page(&mut tx, &deep, &plan, &mut tree).await.expect("first page");
    read.extend(cascade_inputs::load_page(&mut tx, &shallow, &plan, &mut tree).await.expect("second page"));
    let mut compared = 0;
    let mut with_volume_left_out = 0;
    for (head, in_sets) in deep.iter().chain(&shallow).zip(&read) {
        let alone = cascade_inputs::load(&mut tx, head, &plan).await.expect("one order");
        assert_eq!(in_sets, &alone, "order {} of buyer {:?}", head.order_id, head.buyer_id);
        assert!(!alone.lines.is_empty());
        compared += 1;
        if alone.upline.iter().any(|u| u.earner.personal_pv.is_zero()) {
            with_volume_left_out += 1;
        }
    }
    assert_eq!(compared, heads.len());
    let longest = read.iter().map(|r| r.upline.len()).max();
    assert_eq!(longest, Some(10), "uplines are cut at the plan's depth");
    assert!(read.iter().any(|r| r.upline.iter().any(|u| u.earner.suspended)), "the suspended member is read as such");
    assert!(with_volume_left_out > 0, "some upline member has no volume in some order's window");
}
